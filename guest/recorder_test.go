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
