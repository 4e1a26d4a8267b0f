package guest

import (
	"context"
	"strings"
	"testing"
)

func TestRecorderRecordsRedacted(t *testing.T) {
	r := NewRecorder("SQL-ONE", "rootpw")
	res, err := r.Run(context.Background(), Cmd{Script: "mysql -e 'x rootpw'", Stdin: []byte("pw=rootpw tok=abc"), Redact: []string{"abc"}})
	if err != nil || res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("%+v %v", res, err)
	}
	changed, err := r.Upload(context.Background(), File{Path: "/etc/x.cnf", Content: []byte("password=rootpw\n"), Mode: 0o600})
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	calls, files := r.Calls(), r.Files()
	if len(calls) != 1 || len(files) != 1 {
		t.Fatalf("calls %v files %v", calls, files)
	}
	all := calls[0].Script + string(calls[0].Stdin) + string(files[0].Content)
	if strings.Contains(all, "rootpw") || strings.Contains(all, "abc") {
		t.Fatalf("secret recorded: %q", all)
	}
	if calls[0].Script != "mysql -e 'x <redacted>'" || files[0].Path != "/etc/x.cnf" || files[0].Mode != 0o600 {
		t.Fatalf("recorded %+v %+v", calls[0], files[0])
	}
	if r.String() != "plan SQL-ONE" {
		t.Fatal(r.String())
	}
}

func TestRecorderAnswersFresh(t *testing.T) {
	r := NewRecorder("SQL-ONE", "pw")
	read := Cmd{Script: "probe", Fresh: func(sent []Cmd) string {
		for _, c := range sent {
			if strings.Contains(string(c.Stdin), "START") {
				return "started"
			}
		}
		return "fresh"
	}}
	if res, _ := r.Run(context.Background(), read); res.Stdout != "fresh" {
		t.Fatalf("before: %q", res.Stdout)
	}
	if res, _ := r.Run(context.Background(), Cmd{Script: "mysql", Stdin: []byte("START pw")}); res.Stdout != "" {
		t.Fatalf("a write printed %q", res.Stdout)
	}
	if res, _ := r.Run(context.Background(), read); res.Stdout != "started" {
		t.Fatalf("after: %q", res.Stdout)
	}
	if res, _ := r.Run(context.Background(), Cmd{Script: "x", Fresh: Prints("y\n")}); res.Stdout != "y\n" {
		t.Fatal(res.Stdout)
	}
}
