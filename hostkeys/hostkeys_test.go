package hostkeys

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func hostKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(ssh.MarshalAuthorizedKey(k))
}

func TestPinReplacesAndReads(t *testing.T) {
	dir := t.TempDir()
	st := New(filepath.Join(dir, "known_hosts"))
	k1, a1 := hostKey(t)
	k2, a2 := hostKey(t)
	k3, a3 := hostKey(t)
	k4, a4 := hostKey(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Pin("127.0.0.1:22", a1))
	must(st.Pin("127.0.0.2", a2))           // bare host = port 22
	must(st.Pin("127.0.0.1:22", a3))        // replaces k1
	must(st.Pin("127.0.0.1:2222", a4))      // another port is another host
	must(st.Pin("127.0.0.1:2222", a4+"\n")) // idempotent
	if err := st.Pin("127.0.0.3:22", "not a key"); err == nil {
		t.Error("garbage key accepted")
	}
	fi, err := os.Stat(st.Path)
	must(err)
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("known_hosts mode %o, want 600", m)
	}
	data, _ := os.ReadFile(st.Path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("known_hosts has %d lines, want 3:\n%s", len(lines), data)
	}
	if !strings.HasPrefix(lines[2], "[127.0.0.1]:2222 ssh-ed25519 ") {
		t.Errorf("non-22 port line: %q", lines[2])
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}

	pins, err := st.Load()
	must(err)
	for _, tc := range []struct {
		addr string
		key  ssh.PublicKey
		ok   bool
	}{
		{"127.0.0.1:22", k3, true},
		{"127.0.0.1:22", k1, false}, // replaced
		{"127.0.0.2:22", k2, true},
		{"127.0.0.1:2222", k4, true},
		{"127.0.0.1:2222", k3, false},
	} {
		ok, err := pins.Matches(tc.addr, tc.key)
		if err != nil || ok != tc.ok {
			t.Errorf("Matches(%s) = %v, %v; want %v", tc.addr, ok, err, tc.ok)
		}
	}
	want, err := pins.Want("127.0.0.1:22")
	must(err)
	if len(want) != 1 || string(want[0].Marshal()) != string(k3.Marshal()) {
		t.Errorf("Want(127.0.0.1:22) = %d keys, want only the re-pinned one", len(want))
	}
	if want, _ := pins.Want("127.0.0.9:22"); len(want) != 0 {
		t.Errorf("an address never pinned has %d keys", len(want))
	}
	if got := Algorithms(want); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Errorf("Algorithms = %v", got)
	}

	// Lines it does not own (comments) stay intact; a re-pin leaves one key.
	must(os.WriteFile(st.Path, append([]byte("# mine\n"), data...), 0o600))
	must(st.Pin("127.0.0.2:22", a1))
	data2, _ := os.ReadFile(st.Path)
	if !strings.HasPrefix(string(data2), "# mine\n") || strings.Count(string(data2), "\n") != 4 {
		t.Errorf("unexpected known_hosts after re-pin:\n%s", data2)
	}
	pins, _ = st.Load()
	if ok, _ := pins.Matches("127.0.0.2:22", k2); ok {
		t.Error("old key for 127.0.0.2 still accepted")
	}
}

func TestLoadWithoutFileTrustsNothing(t *testing.T) {
	st := New(filepath.Join(t.TempDir(), "known_hosts"))
	_, err := st.Load()
	if !errors.Is(err, ErrNoFile) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v", err)
	}
}
