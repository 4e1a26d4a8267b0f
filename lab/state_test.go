package lab

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newTestState(t *testing.T) (*State, *Plan) {
	t.Helper()
	p := &Plan{Name: "t-lab", StateDir: filepath.Join(t.TempDir(), "state", "t-lab")}
	s, err := OpenState(p)
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// noTempFiles fails if an atomic write left its temp file behind.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestOpenStateMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenState(&Plan{Name: "x", StateDir: dir}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("state folder mode %o, want 700 (tightened when it existed)", m)
	}
	if _, err := OpenState(&Plan{Name: "x"}); err == nil {
		t.Error("a plan without a state folder was accepted")
	}
}

var (
	upperRE = regexp.MustCompile(`[A-Z]`)
	lowerRE = regexp.MustCompile(`[a-z]`)
	digitRE = regexp.MustCompile(`[0-9]`)
	symRE   = regexp.MustCompile(`[-_]`)
	pwRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{23,}$`)
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func checkSecrets(t *testing.T, s *Secrets) {
	t.Helper()
	for name, pw := range map[string]string{"root": s.MySQLRoot, "repl": s.Replication, "verifier": s.Verifier, "wpdb": s.WordPressDB, "wpadmin": s.WordPressAdmin} {
		if !pwRE.MatchString(pw) || !upperRE.MatchString(pw) || !lowerRE.MatchString(pw) || !digitRE.MatchString(pw) || !symRE.MatchString(pw) {
			t.Errorf("%s password %q breaks the policy", name, pw)
		}
	}
	if !uuidRE.MatchString(s.GroupName) {
		t.Errorf("group name %q is not a v4 UUID", s.GroupName)
	}
	if len(s.WPSalts) != len(WPSaltNames) {
		t.Errorf("%d salts, want %d", len(s.WPSalts), len(WPSaltNames))
	}
	for _, k := range WPSaltNames {
		v := s.WPSalts[k]
		if len(v) != 64 || strings.ContainsAny(v, "'\"\\$`&|/ \n") {
			t.Errorf("salt %s = %q: want 64 chars without quotes, backslash, $, backtick, &, |, /", k, v)
		}
	}
	seen := map[string]bool{}
	for _, v := range s.Values() {
		if seen[v] {
			t.Errorf("secret value repeated: %q", v)
		}
		seen[v] = true
	}
}

func TestSecretsGeneratedOnceAndKept(t *testing.T) {
	st, p := newTestState(t)
	a, err := st.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	checkSecrets(t, a)
	file := filepath.Join(p.StateDir, SecretsFile)
	if m := mode(t, file); m != 0o600 {
		t.Errorf("secrets.json mode %o, want 600", m)
	}
	noTempFiles(t, p.StateDir)

	b, err := st.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	// A fresh State (another labctl run) reads the same file.
	st2, err := OpenState(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st2.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []*Secrets{b, c} {
		if other.MySQLRoot != a.MySQLRoot || other.Replication != a.Replication || other.Verifier != a.Verifier ||
			other.WordPressDB != a.WordPressDB || other.WordPressAdmin != a.WordPressAdmin || other.GroupName != a.GroupName {
			t.Fatal("secrets changed between calls")
		}
		for k, v := range a.WPSalts {
			if other.WPSalts[k] != v {
				t.Fatalf("salt %s changed", k)
			}
		}
	}
}

func TestSecretsFillsMissingFields(t *testing.T) {
	st, p := newTestState(t)
	file := filepath.Join(p.StateDir, SecretsFile)
	if err := os.WriteFile(file, []byte(`{"mysql_root":"Keep-Me-1234567890abcdefgh"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := st.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	if s.MySQLRoot != "Keep-Me-1234567890abcdefgh" {
		t.Errorf("existing secret replaced: %q", s.MySQLRoot)
	}
	checkSecrets(t, s)
	again, err := st.Secrets()
	if err != nil || again.Verifier != s.Verifier {
		t.Errorf("filled secrets not saved: %v", err)
	}
}

func TestSecretsCorruptFileIsNotOverwritten(t *testing.T) {
	st, p := newTestState(t)
	file := filepath.Join(p.StateDir, SecretsFile)
	body := []byte(`{"mysql_root":"Pw-Secret-Value-123", oops`)
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := st.Secrets()
	if err == nil {
		t.Fatal("corrupt secrets accepted")
	}
	if strings.Contains(err.Error(), "Pw-Secret-Value-123") {
		t.Errorf("error shows a secret: %v", err)
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("error does not name the file: %v", err)
	}
	got, _ := os.ReadFile(file)
	if !bytes.Equal(got, body) {
		t.Error("corrupt secrets file was overwritten")
	}
}

func TestSecretsConcurrentFirstUse(t *testing.T) {
	_, p := newTestState(t)
	const n = 8
	results := make([]*Secrets, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := OpenState(p) // separate States, like separate processes
			if err == nil {
				results[i], err = st.Secrets()
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].MySQLRoot != results[0].MySQLRoot || results[i].GroupName != results[0].GroupName {
			t.Fatal("concurrent first use produced different secrets")
		}
	}
	noTempFiles(t, p.StateDir)
}

func TestEphemeralSecrets(t *testing.T) {
	a, err := EphemeralSecrets()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EphemeralSecrets()
	checkSecrets(t, a)
	if a.MySQLRoot == b.MySQLRoot || a.GroupName == b.GroupName {
		t.Error("ephemeral secrets repeat")
	}
}

func TestRandomStringUniform(t *testing.T) {
	// Every character of the alphabet shows up, none outside it.
	s := randomString("abc", 3000)
	for _, c := range "abc" {
		if n := strings.Count(s, string(c)); n < 800 || n > 1200 {
			t.Errorf("%c appears %d times in 3000 draws from 3", c, n)
		}
	}
	if strings.Trim(s, "abc") != "" {
		t.Error("character outside the alphabet")
	}
}

func TestSSHKey(t *testing.T) {
	st, p := newTestState(t)
	signer, line, err := st.SSHKey()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(p.StateDir, SSHKeyFile)
	if m := mode(t, key); m != 0o600 {
		t.Errorf("private key mode %o, want 600", m)
	}
	pem, _ := os.ReadFile(key)
	if !bytes.HasPrefix(pem, []byte("-----BEGIN OPENSSH PRIVATE KEY-----")) {
		t.Errorf("private key not in OpenSSH format: %.40s", pem)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("key type %s", signer.PublicKey().Type())
	}
	if !strings.HasPrefix(line, "ssh-ed25519 ") || !strings.HasSuffix(line, " labctl@t-lab") {
		t.Errorf("authorized line %q", line)
	}
	pub, _ := os.ReadFile(key + ".pub")
	if strings.TrimSpace(string(pub)) != line {
		t.Errorf(".pub = %q, want %q", pub, line)
	}
	parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil || !bytes.Equal(parsed.Marshal(), signer.PublicKey().Marshal()) {
		t.Errorf("authorized line does not match the key: %v", err)
	}
	// A signature verifies with the published key.
	sig, err := signer.Sign(rand.Reader, []byte("data"))
	if err != nil || parsed.Verify([]byte("data"), sig) != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	// Second call and a new State: same key.
	st2, _ := OpenState(p)
	for _, s := range []*State{st, st2} {
		_, line2, err := s.SSHKey()
		if err != nil || line2 != line {
			t.Errorf("key changed: %q vs %q (%v)", line2, line, err)
		}
	}
	noTempFiles(t, p.StateDir)
}

func TestNewRunLog(t *testing.T) {
	st, p := newTestState(t)
	p1, f1, err := st.NewRunLog("up")
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	p2, f2, err := st.NewRunLog("up")
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	re := regexp.MustCompile(`^up-\d{8}-\d{6}(-\d+)?\.log$`)
	for _, lp := range []string{p1, p2} {
		if filepath.Dir(lp) != st.LogDir() || !re.MatchString(filepath.Base(lp)) {
			t.Errorf("log path %s", lp)
		}
		if m := mode(t, lp); m != 0o600 {
			t.Errorf("log mode %o", m)
		}
	}
	if p1 == p2 {
		t.Error("two runs share one log")
	}
	if _, err := f1.WriteString("hello\n"); err != nil {
		t.Error(err)
	}
	if m := mode(t, st.LogDir()); m != 0o700 {
		t.Errorf("log folder mode %o", m)
	}
	if filepath.Dir(st.LogDir()) != p.StateDir {
		t.Errorf("log folder %s is not in the state folder %s", st.LogDir(), p.StateDir)
	}
}
