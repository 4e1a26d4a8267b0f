package vbox

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// scripted is a Runner answering from a table, for trace tests.
type scripted map[string]Result

func (s scripted) Run(_ context.Context, _ []byte, args ...string) (Result, error) {
	r, ok := s[strings.Join(args, " ")]
	if !ok {
		return Result{ExitCode: -1}, errors.New("not scripted")
	}
	return r, nil
}

func TestTraceToRecordsEveryCall(t *testing.T) {
	var log strings.Builder
	many := strings.Repeat("line\n", 40)
	c := New(scripted{
		"list vms":                          {Stdout: `"My VM" {11111111-2222-3333-4444-555555555555}` + "\n"},
		"showvminfo nope --machinereadable": {Stderr: "VBoxManage: error: Could not find a registered machine named 'nope'\n", ExitCode: 1},
		"list hostonlyifs":                  {Stdout: many},
	})
	c.Trace = TraceTo(&log)
	ctx := context.Background()
	if _, err := c.run(ctx, callOpts{}, "list", "vms"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.run(ctx, callOpts{}, "showvminfo", "nope", "--machinereadable"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("showvminfo of a missing VM: %v", err)
	}
	if _, err := c.run(ctx, callOpts{}, "list", "hostonlyifs"); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	for _, want := range []string{
		"vbox: VBoxManage list vms: exit 0 in ",
		`stdout: "My VM" {11111111-2222-3333-4444-555555555555}`,
		"vbox: VBoxManage showvminfo nope --machinereadable: exit 1 in ",
		"stderr: VBoxManage: error: Could not find a registered machine named 'nope'",
		"error: ",
		"stdout: … 28 more line(s)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "stdout: line"); n != traceOutputLines {
		t.Errorf("long output kept %d lines, want %d", n, traceOutputLines)
	}
}

func TestQuoteArgs(t *testing.T) {
	got := strings.Join(quoteArgs([]string{"modifyvm", "SQL ONE", "--description", "it's", ""}), " ")
	if want := `modifyvm 'SQL ONE' --description 'it'\''s' ''`; got != want {
		t.Fatalf("quoteArgs = %s, want %s", got, want)
	}
}
