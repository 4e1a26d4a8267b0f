package guesttest

import (
	"context"
	"errors"
	"testing"

	"labctl/guest"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	f := New("SQL-ONE").
		On(Contains("hostnamectl --static"), Output("sql-one\n")).
		On(HasPrefix("exit"), Exit(3, "boom")).
		On(Any(), Output("fallback"))
	if r, err := f.Run(ctx, guest.Cmd{Script: "hostnamectl --static"}); err != nil || r.Stdout != "sql-one\n" {
		t.Fatal(r, err)
	}
	_, err := f.Run(ctx, guest.Cmd{Script: "exit 3"})
	var ee *guest.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || ee.Node != "SQL-ONE" {
		t.Fatal(err)
	}
	if r, _ := f.Run(ctx, guest.Cmd{Script: "other"}); r.Stdout != "fallback" {
		t.Fatal(r)
	}
	if f.Received(Contains("hostnamectl")) != 1 || len(f.Calls()) != 3 {
		t.Fatal(f.Calls())
	}

	strict := New("WEB")
	if _, err := strict.Run(ctx, guest.Cmd{Script: "unexpected"}); !errors.As(err, &ee) || ee.ExitCode != 127 {
		t.Fatalf("unmatched script: %v", err)
	}
	strict.Lenient = true
	if _, err := strict.Run(ctx, guest.Cmd{Script: "unexpected"}); err != nil {
		t.Fatal(err)
	}

	file := guest.File{Path: "/etc/x", Content: []byte("a"), Mode: 0o644}
	if ch, _ := f.Upload(ctx, file); !ch {
		t.Fatal("first upload not a change")
	}
	if ch, _ := f.Upload(ctx, file); ch {
		t.Fatal("identical upload reported as change")
	}
	file.Mode = 0o600
	if ch, _ := f.Upload(ctx, file); !ch {
		t.Fatal("mode change not reported")
	}
	if got, ok := f.File("/etc/x"); !ok || got.Mode != 0o600 || len(f.Uploads()) != 3 {
		t.Fatal(got, ok)
	}
}
