// Package hostkeys owns the lab's pinned SSH host keys: one known_hosts file
// per lab, written only by labctl (a key read back through guest control,
// never trusted on first use) and read by every SSH connection and check.
package hostkeys

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Addr is the "host:port" form every pin and connection uses.
func Addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Store is a known_hosts file. Pin serialises writers within the process;
// readers load a fresh view each time, so a key pinned a moment ago counts.
type Store struct {
	Path string
	mu   sync.Mutex
}

// String names the file for messages; nil-safe.
func (s *Store) String() string {
	if s == nil {
		return "the lab's known_hosts"
	}
	return s.Path
}

// New returns the store at path (the file need not exist yet).
func New(path string) *Store { return &Store{Path: path} }

// Pin records pubkey (authorized_keys format, "ssh-ed25519 AAAA...") as the
// only key of addr ("ip:port", or a bare host for port 22), replacing any
// earlier line for that host, e.g. after a clone is rebuilt.
func (s *Store) Pin(addr, pubkey string) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pubkey))
	if err != nil {
		return fmt.Errorf("pin host key for %s: not an SSH public key: %w", addr, err)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = Addr(strings.Trim(addr, "[]"), 22)
	}
	host := knownhosts.Normalize(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := os.ReadFile(s.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pin host key for %s: %w", addr, err)
	}
	var out bytes.Buffer
	for _, l := range strings.SplitAfter(string(old), "\n") {
		if l == "" || lineHas(l, host) {
			continue
		}
		out.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			out.WriteByte('\n')
		}
	}
	out.WriteString(knownhosts.Line([]string{addr}, key) + "\n")
	if err := writeAtomic(s.Path, out.Bytes()); err != nil {
		return fmt.Errorf("pin host key for %s: %w", addr, err)
	}
	return nil
}

// lineHas reports whether a known_hosts line names host.
func lineHas(line, host string) bool {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return false
	}
	hosts := f[0]
	if strings.HasPrefix(hosts, "@") && len(f) > 1 { // @cert-authority / @revoked
		hosts = f[1]
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == host {
			return true
		}
	}
	return false
}

// Pins is one read of the store.
type Pins struct {
	// Callback accepts exactly the pinned keys.
	Callback ssh.HostKeyCallback
}

// ErrNoFile is returned by Load when nothing was ever pinned.
var ErrNoFile = errors.New("no pinned host keys yet")

// Load reads the store afresh. A missing file is ErrNoFile (wrapping fs.ErrNotExist).
func (s *Store) Load() (*Pins, error) {
	cb, err := knownhosts.New(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing: %w", ErrNoFile, s.Path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read pinned host keys %s: %w", s.Path, err)
	}
	return &Pins{Callback: cb}, nil
}

// Want lists the keys pinned for addr ("host:port"); none = not pinned.
func (p *Pins) Want(addr string) ([]ssh.PublicKey, error) {
	remote, err := remoteOf(addr)
	if err != nil {
		return nil, err
	}
	var ke *knownhosts.KeyError
	if err := p.Callback(addr, remote, probeKey()); !errors.As(err, &ke) {
		return nil, fmt.Errorf("probe pinned host keys for %s: %v", addr, err)
	}
	keys := make([]ssh.PublicKey, len(ke.Want))
	for i, k := range ke.Want {
		keys[i] = k.Key
	}
	return keys, nil
}

// Matches reports whether key is pinned for addr.
func (p *Pins) Matches(addr string, key ssh.PublicKey) (bool, error) {
	remote, err := remoteOf(addr)
	if err != nil {
		return false, err
	}
	return p.Callback(addr, remote, key) == nil, nil
}

func remoteOf(addr string) (net.Addr, error) {
	remote, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bad SSH address %q: %w", addr, err)
	}
	return remote, nil
}

// Algorithms lists the host-key algorithms that can present keys, so a
// client asks the server for exactly those (RSA keys sign with SHA-2 first).
func Algorithms(keys []ssh.PublicKey) []string {
	var algos []string
	seen := map[string]bool{}
	for _, k := range keys {
		t := k.Type()
		names := []string{t}
		if t == ssh.KeyAlgoRSA {
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algos = append(algos, n)
			}
		}
	}
	return algos
}

var (
	probeOnce sync.Once
	probe     ssh.PublicKey
)

// probeKey is a throw-away key matching no pinned entry, used to list the
// pinned keys of an address through knownhosts' KeyError.
func probeKey() ssh.PublicKey {
	probeOnce.Do(func() {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			panic(err) // crypto/rand failing is not recoverable
		}
		probe, _ = ssh.NewPublicKey(pub)
	})
	return probe
}

// writeAtomic replaces file with data, 0600, through a synced temp file.
func writeAtomic(file string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
