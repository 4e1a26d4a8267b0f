package guest

import (
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process SSH server for the executor's error paths:
// it runs exec requests with the local /bin/sh and can misbehave on demand.
type testServer struct {
	t       *testing.T
	ln      net.Listener
	hostKey ssh.Signer

	rejectAuth   atomic.Bool // refuse every key (a VM whose key is not installed yet)
	ignoreKeep   atomic.Bool // never answer keep-alives (a dead peer)
	noExitStatus atomic.Bool // close channels without an exit status

	mu       sync.Mutex
	commands []string
	signals  []string
	conns    int
	authTry  int
	open     []net.Conn
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startTestServer listens on addr ("127.0.0.1:0" for any port).
func startTestServer(t *testing.T, addr string, hostKey ssh.Signer, client ssh.PublicKey) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, hostKey: hostKey}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			s.authTry++
			s.mu.Unlock()
			if s.rejectAuth.Load() || string(k.Marshal()) != string(client.Marshal()) {
				return nil, io.EOF
			}
			return &ssh.Permissions{}, nil
		},
	}
	cfg.AddHostKey(hostKey)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			go s.serve(c, cfg)
		}
	}()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) Addr() string { return s.ln.Addr().String() }

// Close stops listening and cuts every connection.
func (s *testServer) Close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
}

func (s *testServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" && s.ignoreKeep.Load() {
				continue
			}
			if r.WantReply {
				_ = r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ch, creqs)
	}
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var proc *exec.Cmd
	done := make(chan struct{})
	for r := range reqs {
		switch r.Type {
		case "exec":
			var p struct{ Command string }
			_ = ssh.Unmarshal(r.Payload, &p)
			s.mu.Lock()
			s.commands = append(s.commands, p.Command)
			s.mu.Unlock()
			_ = r.Reply(true, nil)
			line := strings.TrimPrefix(p.Command, "sudo -n -- ") // we are root already
			proc = exec.Command("/bin/sh", "-c", line)
			proc.Stdin, proc.Stdout, proc.Stderr = ch, ch, ch.Stderr()
			proc.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // as sshd does
			if err := proc.Start(); err != nil {
				return
			}
			go func() {
				err := proc.Wait()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if !s.noExitStatus.Load() {
					b := make([]byte, 4)
					binary.BigEndian.PutUint32(b, uint32(code))
					_, _ = ch.SendRequest("exit-status", false, b)
				}
				ch.Close()
				close(done)
			}()
		case "signal":
			var p struct{ Signal string }
			_ = ssh.Unmarshal(r.Payload, &p)
			s.mu.Lock()
			s.signals = append(s.signals, p.Signal)
			s.mu.Unlock()
			if proc != nil && proc.Process != nil && p.Signal == "KILL" {
				_ = proc.Process.Signal(syscall.SIGKILL)
			}
		default:
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
	if proc != nil {
		<-done
	}
}

func (s *testServer) stats() (conns, authTries int, cmds, sigs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.authTry, append([]string(nil), s.commands...), append([]string(nil), s.signals...)
}

// writeKnownHosts pins key for addr in a new known_hosts file.
func writeKnownHosts(t *testing.T, addr string, key ssh.PublicKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	line := ""
	if key != nil {
		line = knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	}
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
