package vbox

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsers feeds arbitrary output to every parser: VBoxManage output is
// untrusted text (VM names, descriptions, guest-set values), and a parser
// must never panic on it.
func FuzzParsers(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "vbox", "*.txt"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("a=\"\\\nb\\\"\"\n\"k")
	f.Fuzz(func(t *testing.T, out string) {
		_, _ = ParseVersion(out)
		_ = ParseListVMs(out)
		_ = ParseBridgedIfs(out)
		if info, err := ParseVMInfo(out); err == nil && info.UUID == "" {
			t.Fatal("ParseVMInfo succeeded without a UUID")
		}
		_ = ParseSnapshotList(out)
		_, _, _ = ParseValue(out)
		r := Result{Stdout: out, Stderr: out, ExitCode: 1}
		_ = classify(r)
		_ = (&Error{Args: []string{"x"}, Result: r}).Error()
	})
}
