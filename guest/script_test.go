package guest

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runLoader runs cmd exactly as both executors do, with the local /bin/sh.
func runLoader(t *testing.T, cmd Cmd) (stdout, stderr string, code int) {
	t.Helper()
	args, stdin := loaderArgs(cmd, "")
	c := exec.Command("/bin/sh", args...)
	c.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func TestLoaderSeparatesScriptFromStdin(t *testing.T) {
	// The script reads stdin: it must get the payload, not its own text.
	out, _, code := runLoader(t, Cmd{Script: "set -eu\nread -r a\necho \"got:$a\"\ncat\n", Stdin: []byte("first\nrest\n")})
	if code != 0 || out != "got:first\nrest\n" {
		t.Fatalf("code %d out %q", code, out)
	}
	// No payload: a command reading stdin sees EOF, and the script goes on.
	out, _, code = runLoader(t, Cmd{Script: "cat\necho after\n"})
	if code != 0 || out != "after\n" {
		t.Fatalf("code %d out %q", code, out)
	}
}

func TestLoaderExitCodesAndStderr(t *testing.T) {
	out, errOut, code := runLoader(t, Cmd{Script: "echo out\necho oops >&2\nexit 7\n"})
	if code != 7 || out != "out\n" || errOut != "oops\n" {
		t.Fatalf("code %d out %q err %q", code, out, errOut)
	}
	// set -e inside the script still stops it at the first failure.
	out, _, code = runLoader(t, Cmd{Script: "set -e\nfalse\necho not reached\n"})
	if code != 1 || out != "" {
		t.Fatalf("set -e: code %d out %q", code, out)
	}
	// Quotes, $vars and a here-document survive the trip.
	out, _, _ = runLoader(t, Cmd{Script: "x='a b'\ncat <<EOF\n$x \"q\" 'r'\nEOF\n"})
	if out != "a b \"q\" 'r'\n" {
		t.Fatalf("quoting: %q", out)
	}
}

func TestUploadScriptRunsAtomically(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (the upload chowns to root:root)")
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "sub", "f.conf")
	upload := func(content []byte, mode os.FileMode) string {
		s, err := UploadScript(File{Path: dst, Content: content, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runLoader(t, Cmd{Script: s, Stdin: content})
		if code != 0 {
			t.Fatalf("upload exit %d: %s", code, errOut)
		}
		return out
	}
	big := make([]byte, 1<<20)
	rand.Read(big)
	if changed, err := uploadResult(upload(big, 0o640)); err != nil || !changed {
		t.Fatalf("first upload: changed=%v err=%v", changed, err)
	}
	st, err := os.Stat(dst)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("stat: %v %v", st, err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, big) {
		t.Fatal("content differs")
	}
	if changed, _ := uploadResult(upload(big, 0o640)); changed {
		t.Fatal("same content and mode reported as changed")
	}
	if changed, _ := uploadResult(upload(big, 0o600)); !changed {
		t.Fatal("mode change not reported")
	}
	if changed, _ := uploadResult(upload(nil, 0o600)); !changed {
		t.Fatal("emptying the file not reported")
	}
	if st, _ := os.Stat(dst); st.Size() != 0 {
		t.Fatalf("size %d after empty upload", st.Size())
	}
	ents, _ := os.ReadDir(filepath.Dir(dst))
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

func TestUploadScriptRejectsBadInput(t *testing.T) {
	for _, f := range []File{
		{Path: "relative/path"},
		{Path: "/etc/../etc/x"},
		{Path: "/"},
		{Path: "/etc/x", Owner: "root"},
		{Path: "/etc/x", Mode: os.ModeDir | 0o755},
	} {
		if _, err := UploadScript(f); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

func TestUploadScriptDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	s, err := UploadScript(File{Path: filepath.Join(dir, "f"), Content: []byte("right"), Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runLoader(t, Cmd{Script: s, Stdin: []byte("wrong")})
	if code == 0 || !strings.Contains(errOut, "corrupted in transit") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); !os.IsNotExist(err) {
		t.Fatal("corrupted upload reached the target")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("temp file left: %v", ents)
	}
}

func TestQuote(t *testing.T) {
	out, _, _ := runLoader(t, Cmd{Script: "printf '%s' " + Quote(`it's "$HOME" \n`)})
	if out != `it's "$HOME" \n` {
		t.Fatalf("Quote round trip: %q", out)
	}
}
