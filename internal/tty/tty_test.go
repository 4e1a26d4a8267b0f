package tty

import (
	"bytes"
	"os"
	"testing"
)

func TestNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, v := range map[string]any{"file": f, "buffer": &bytes.Buffer{}, "nil": nil} {
		if Is(v) {
			t.Errorf("%s counted as a terminal", name)
		}
		if _, _, ok := Size(v); ok {
			t.Errorf("%s has a terminal size", name)
		}
	}
}
