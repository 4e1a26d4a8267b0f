package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"labctl/hostkeys"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// State is the lab's local folder: generated secrets, the SSH key, pinned
// host keys and run logs. It only holds what cannot be read back from the
// VMs; everything else is checked live on every run.
type State struct {
	Dir string
	lab string
	mu  sync.Mutex // one generator per process; files are created atomically across processes

	hostKeys *hostkeys.Store
}

// File names inside the state folder.
const (
	SecretsFile    = "secrets.json"
	SSHKeyFile     = "id_ed25519"
	KnownHostsFile = "known_hosts"
	LogsDir        = "logs"
)

// OpenState creates (0700) or opens the plan's state folder.
func OpenState(p *Plan) (*State, error) {
	if p.StateDir == "" {
		return nil, errors.New("open lab state: the plan has no state folder")
	}
	if err := os.MkdirAll(p.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("open lab state: %w", err)
	}
	// MkdirAll leaves an existing folder's mode alone; secrets live here.
	if err := os.Chmod(p.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("open lab state: %w", err)
	}
	return &State{Dir: p.StateDir, lab: p.Name}, nil
}

func (s *State) path(name string) string { return filepath.Join(s.Dir, name) }

// HasState says whether dir holds a lab's state: the secrets `up` writes
// first. A folder holding only a lock or logs (a lab taken down with
// --keep-logs) does not count.
func HasState(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SecretsFile))
	return err == nil
}

// secretsJSON is the on-disk form; field names are stable on purpose.
type secretsJSON struct {
	MySQLRoot      string            `json:"mysql_root"`
	Replication    string            `json:"replication"`
	Verifier       string            `json:"verifier"`
	WordPressDB    string            `json:"wordpress_db"`
	WordPressAdmin string            `json:"wordpress_admin"`
	GroupName      string            `json:"group_name"`
	WPSalts        map[string]string `json:"wp_salts"`
}

// WPSaltNames are the eight keys and salts wp-config.php defines, in its order.
var WPSaltNames = []string{
	"AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
	"AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT",
}

// Secrets returns the lab's secrets, generating and saving them (0600) on
// first use. Later calls, in this or another process, return the same values.
func (s *State) Secrets() (*Secrets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	file := s.path(SecretsFile)
	// Two passes: if another process creates the file between our read and
	// our create, the second pass reads its secrets.
	for pass := 0; pass < 2; pass++ {
		data, err := os.ReadFile(file)
		if err == nil {
			var sj secretsJSON
			if err := json.Unmarshal(data, &sj); err != nil {
				// Never regenerate over it: the lab's MySQL already uses these.
				return nil, fmt.Errorf("lab secrets %s are unreadable (%s); restore the file, or run `labctl down` and delete it to start a new lab", file, jsonErrNoValue(err))
			}
			sec := fromJSON(sj)
			if fillSecrets(sec) { // a field added by a newer labctl
				if err := writeAtomic(file, toJSON(sec), 0o600); err != nil {
					return nil, fmt.Errorf("save lab secrets: %w", err)
				}
			}
			return sec, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read lab secrets: %w", err)
		}
		sec := &Secrets{}
		fillSecrets(sec)
		created, err := createAtomic(file, toJSON(sec), 0o600)
		if err != nil {
			return nil, fmt.Errorf("save lab secrets: %w", err)
		}
		if created {
			return sec, nil
		}
	}
	return nil, fmt.Errorf("save lab secrets: %s keeps changing; is another labctl running?", file)
}

// jsonErrNoValue keeps JSON errors from quoting file content (a secret).
func jsonErrNoValue(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "invalid JSON"
}

// EphemeralSecrets generates secrets that are never saved, for `plan` and
// dry runs that must not create a state folder.
func EphemeralSecrets() (*Secrets, error) {
	sec := &Secrets{}
	fillSecrets(sec)
	return sec, nil
}

func toJSON(s *Secrets) []byte {
	b, _ := json.MarshalIndent(secretsJSON{s.MySQLRoot, s.Replication, s.Verifier, s.WordPressDB, s.WordPressAdmin, s.GroupName, s.WPSalts}, "", "  ")
	return append(b, '\n')
}

func fromJSON(j secretsJSON) *Secrets {
	return &Secrets{j.MySQLRoot, j.Replication, j.Verifier, j.WordPressDB, j.WordPressAdmin, j.GroupName, j.WPSalts}
}

// fillSecrets generates every empty field and reports whether it did.
func fillSecrets(s *Secrets) bool {
	changed := false
	for _, p := range []*string{&s.MySQLRoot, &s.Replication, &s.Verifier, &s.WordPressDB, &s.WordPressAdmin} {
		if *p == "" {
			*p = NewPassword()
			changed = true
		}
	}
	if s.GroupName == "" {
		s.GroupName = NewUUID()
		changed = true
	}
	if s.WPSalts == nil {
		s.WPSalts = map[string]string{}
	}
	for _, k := range WPSaltNames {
		if s.WPSalts[k] == "" {
			s.WPSalts[k] = randomString(saltAlphabet, 64)
			changed = true
		}
	}
	return changed
}

// Alphabets. Passwords use only letters, digits, '-' and '_' so they need no
// quoting in shell, SQL, PHP or INI files; salts add punctuation but never a
// quote, backslash, '$', '`', '&', '|' or '/' for the same reason.
const (
	pwLetters    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	pwAlphabet   = pwLetters + "0123456789-_"
	saltAlphabet = pwLetters + "0123456789!#%()*+,-.:;<=>?@[]^_{}~"
	// PasswordLength is long enough to be unguessable and to pass MySQL's
	// validate_password MEDIUM/STRONG policies (8+ chars, mixed case, digit, special).
	PasswordLength = 24
)

// NewPassword returns a random password that starts with a letter and has
// an upper-case letter, a lower-case letter, a digit and a '-' or '_'.
func NewPassword() string {
	for {
		p := randomString(pwLetters, 1) + randomString(pwAlphabet, PasswordLength-1)
		if strings.ContainsAny(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(p, "abcdefghijklmnopqrstuvwxyz") &&
			strings.ContainsAny(p, "0123456789") &&
			strings.ContainsAny(p, "-_") {
			return p
		}
	}
}

// NewUUID returns a random (version 4) UUID in lower case.
func NewUUID() string {
	var b [16]byte
	mustRandom(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomString draws n characters uniformly from alphabet (rejection
// sampling, so no character is more likely than another).
func randomString(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+16)
	for len(out) < n {
		mustRandom(buf)
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func mustRandom(b []byte) {
	// crypto/rand.Read never fails on supported platforms (Go 1.24+ crashes
	// the program instead), so there is no error to hand back.
	_, _ = rand.Read(b)
}

// SSHKey returns the lab's ed25519 key, creating it on first use
// (id_ed25519 0600 in OpenSSH format, id_ed25519.pub), and its
// authorized_keys line.
func (s *State) SSHKey() (ssh.Signer, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	file := s.path(SSHKeyFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, "", fmt.Errorf("generate lab SSH key: %w", gerr)
		}
		block, merr := ssh.MarshalPrivateKey(priv, s.keyComment())
		if merr != nil {
			return nil, "", fmt.Errorf("encode lab SSH key: %w", merr)
		}
		data = pem.EncodeToMemory(block)
		created, werr := createAtomic(file, data, 0o600)
		if werr != nil {
			return nil, "", fmt.Errorf("save lab SSH key: %w", werr)
		}
		if !created {
			data, err = os.ReadFile(file)
		} else {
			err = nil
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("read lab SSH key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("lab SSH key %s is unreadable: %w; delete it (and its .pub) to make a new one", file, err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + s.keyComment()
	pub := s.path(SSHKeyFile + ".pub")
	if cur, err := os.ReadFile(pub); err != nil || strings.TrimSpace(string(cur)) != line {
		if err := writeAtomic(pub, []byte(line+"\n"), 0o644); err != nil {
			return nil, "", fmt.Errorf("save lab SSH public key: %w", err)
		}
	}
	return signer, line, nil
}

func (s *State) keyComment() string { return "labctl@" + s.lab }

// KnownHostsPath is the lab's own known_hosts file (host keys pinned by labctl).
func (s *State) KnownHostsPath() string { return s.path(KnownHostsFile) }

// HostKeys is the lab's store of pinned SSH host keys.
func (s *State) HostKeys() *hostkeys.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hostKeys == nil {
		s.hostKeys = hostkeys.New(s.KnownHostsPath())
	}
	return s.hostKeys
}

// LogDir is where run logs go.
func (s *State) LogDir() string { return s.path(LogsDir) }

// NewRunLog creates a 0600 log file for one run of command, e.g.
// logs/up-20261126-010203.log, and returns its path and the open file.
func (s *State) NewRunLog(command string) (string, *os.File, error) {
	dir := s.LogDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("create log folder: %w", err)
	}
	base := command + "-" + time.Now().Format("20060102-150405")
	for i := 1; i < 100; i++ {
		name := base + ".log"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.log", base, i)
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("create run log: %w", err)
		}
		return p, f, nil
	}
	return "", nil, fmt.Errorf("create run log: too many logs named %s-*.log in %s", base, dir)
}

// writeAtomic replaces file with data: a temp file in the same folder,
// synced, then renamed over, so readers never see half a file.
func writeAtomic(file string, data []byte, mode fs.FileMode) error {
	tmp, err := writeTemp(file, data, mode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// createAtomic writes file only if it does not exist yet; created is false
// when another writer got there first. A hard link publishes the complete
// temp file under the final name or fails if the name is taken.
func createAtomic(file string, data []byte, mode fs.FileMode) (created bool, err error) {
	tmp, err := writeTemp(file, data, mode)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, file)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	// No hard links here (some file systems): fall back to an exclusive create check + rename.
	if _, serr := os.Stat(file); serr == nil {
		return false, nil
	}
	if err := os.Rename(tmp, file); err != nil {
		return false, err
	}
	return true, nil
}

func writeTemp(file string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}
