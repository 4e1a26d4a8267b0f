package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := CheckSecretFile("password file", write("ok", "pw\n", 0o600)); err != nil {
		t.Errorf("a 0600 file with a password: %v", err)
	}
	for _, tc := range []struct {
		path, says string
	}{
		{filepath.Join(dir, "missing"), "no such file"},
		{write("empty", "", 0o600), "is empty"},
		{write("loose", "pw\n", 0o644), "chmod 600"},
		{write("group", "pw\n", 0o640), "mode 0640"},
		{dir, "not a regular file"},
	} {
		err := CheckSecretFile("password file", tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: %v, want it to say %q and name the file", tc.path, err, tc.says)
		}
	}
}
