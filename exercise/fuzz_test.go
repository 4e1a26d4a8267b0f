package exercise

import (
	"errors"
	"io/fs"
	"testing"

	"labctl/lab"
)

// FuzzParse: any bytes give an exercise or a *lab.ConfigError, never a panic.
func FuzzParse(f *testing.F) {
	files, _ := fs.Glob(builtinFS, "builtin/*.toml")
	for _, name := range files {
		b, _ := builtinFS.ReadFile(name)
		f.Add(b)
	}
	f.Add([]byte("name = 3\n[[check]]\ntype = \"command\"\noutput = \"(\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse("f.toml", data)
		var ce *lab.ConfigError
		switch {
		case err == nil && e == nil:
			t.Fatal("no exercise and no error")
		case err != nil && !errors.As(err, &ce):
			t.Fatalf("error of type %T: %v", err, err)
		case err != nil && len(ce.Problems) == 0:
			t.Fatal("a ConfigError without problems")
		}
	})
}
