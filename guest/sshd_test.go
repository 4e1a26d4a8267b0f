package guest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// realSSHD is an OpenSSH server the test starts on 127.0.0.1 with its own
// config, host key and authorized_keys.
type realSSHD struct {
	t          *testing.T
	conf, port string
	cmd        *exec.Cmd
	log        bytes.Buffer
}

const sshdPath = "/usr/sbin/sshd"

func startRealSSHD(t *testing.T, client ssh.PublicKey) (*realSSHD, ssh.Signer) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skip("OpenSSH server not installed (apt-get install -y openssh-server): skipping real-sshd tests")
	}
	if os.Geteuid() != 0 {
		t.Skip("real-sshd tests need root (sshd's privilege separation)")
	}
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(nil)
	must(t, err)
	hostSigner, err := ssh.NewSignerFromKey(priv)
	must(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "test host key")
	if err != nil {
		t.Fatal(err)
	}
	hk := filepath.Join(dir, "host_ed25519")
	must(t, os.WriteFile(hk, pem.EncodeToMemory(block), 0o600))
	ak := filepath.Join(dir, "authorized_keys")
	must(t, os.WriteFile(ak, ssh.MarshalAuthorizedKey(client), 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	conf := filepath.Join(dir, "sshd_config")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
LogLevel INFO
`, hk, ak, filepath.Join(dir, "sshd.pid"))), 0o600))
	must(t, os.MkdirAll("/run/sshd", 0o755)) // privilege separation directory
	if out, err := exec.Command(sshdPath, "-t", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("sshd rejects the test config: %v\n%s", err, out)
	}
	d := &realSSHD{t: t, conf: conf, port: port}
	d.start()
	t.Cleanup(d.stop)
	return d, hostSigner
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (d *realSSHD) addr() string { return net.JoinHostPort("127.0.0.1", d.port) }

func (d *realSSHD) start() {
	d.cmd = exec.Command(sshdPath, "-D", "-e", "-f", d.conf, "-p", d.port)
	d.cmd.Stderr = &d.log
	must(d.t, d.cmd.Start())
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", d.addr()); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("sshd did not listen on %s:\n%s", d.addr(), d.log.String())
}

// stop kills sshd and every per-connection process it forked, so open
// client connections really break (as in a guest reboot).
func (d *realSSHD) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	for _, pid := range descendants(d.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	d.cmd = nil
}

// descendants lists the process tree under pid from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

func TestSSHRealServer(t *testing.T) {
	client := newSigner(t)
	d, host := startRealSSHD(t, client.PublicKey())
	kh := writeKnownHosts(t, d.addr(), host.PublicKey())
	s := NewSSH("SQL-ONE", d.addr(), "root", client, kh)
	s.RetryMin = 50 * time.Millisecond
	defer s.Close()
	bg := context.Background()
	ctx := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(bg, d)
		t.Cleanup(cancel)
		return c
	}

	t.Run("run", func(t *testing.T) {
		res, err := s.Run(ctx(10*time.Second), Cmd{Script: "id -u; echo to-stderr >&2"})
		if err != nil || res.Stdout != "0\n" || res.Stderr != "to-stderr\n" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("exit status", func(t *testing.T) {
		res, err := s.Run(ctx(10*time.Second), Cmd{Script: "echo bad >&2; exit 42"})
		var ee *ExitError
		if !errors.As(err, &ee) || ee.ExitCode != 42 || res.ExitCode != 42 || !strings.Contains(ee.Stderr, "bad") {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		payload := []byte("secret line\nsecond\n")
		res, err := s.Run(ctx(10*time.Second), Cmd{Script: "read -r first; echo \"[$first]\"; cat", Stdin: payload})
		if err != nil || res.Stdout != "[secret line]\nsecond\n" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("5MB upload, mode, atomic replace", func(t *testing.T) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "data.bin")
		must(t, os.WriteFile(dst, []byte("old content"), 0o644))
		old, err := os.Open(dst) // keeps the old inode
		must(t, err)
		defer old.Close()
		big := make([]byte, 5<<20)
		rand.Read(big)
		changed, err := s.Upload(ctx(60*time.Second), File{Path: dst, Content: big, Mode: 0o640})
		if err != nil || !changed {
			t.Fatalf("changed=%v err=%v", changed, err)
		}
		got, _ := os.ReadFile(dst)
		if sha256.Sum256(got) != sha256.Sum256(big) {
			t.Fatal("uploaded content differs")
		}
		st, _ := os.Stat(dst)
		if st.Mode().Perm() != 0o640 {
			t.Fatalf("mode %v", st.Mode())
		}
		// Replaced by rename: the old inode still holds the old bytes.
		oldBytes := make([]byte, 64)
		n, _ := old.ReadAt(oldBytes, 0)
		if string(oldBytes[:n]) != "old content" {
			t.Fatalf("target was rewritten in place: old inode holds %q", oldBytes[:n])
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("temp files left: %v", ents)
		}
		changed, err = s.Upload(ctx(60*time.Second), File{Path: dst, Content: big, Mode: 0o640})
		if err != nil || changed {
			t.Fatalf("identical upload: changed=%v err=%v", changed, err)
		}
	})
	t.Run("cancel mid-command", func(t *testing.T) {
		started := filepath.Join(t.TempDir(), "started")
		c, cancel := context.WithCancel(bg)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := s.Run(c, Cmd{Script: "touch " + Quote(started) + "; sleep 30.4242; echo not reached"})
			errc <- err
		}()
		for i := 0; ; i++ { // cancel once the command really runs
			if _, err := os.Stat(started); err == nil {
				break
			}
			if i > 600 {
				t.Fatal("command did not start")
			}
			time.Sleep(50 * time.Millisecond)
		}
		start := time.Now()
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v\nsshd log:\n%s", err, d.log.String())
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("cancellation took %v", el)
		}
		// The guest side is killed too, not left running.
		deadline := time.Now().Add(15 * time.Second)
		for procRunning("sleep\x0030.4242") {
			if time.Now().After(deadline) {
				t.Fatalf("the cancelled command still runs in the guest\nsshd log:\n%s", d.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("server restart survived by reconnect", func(t *testing.T) {
		d.stop()
		restarted := make(chan struct{})
		go func() {
			time.Sleep(700 * time.Millisecond)
			d.start()
			close(restarted)
		}()
		res, err := s.Run(ctx(20*time.Second), Cmd{Script: "echo back"})
		<-restarted
		if err != nil || res.Stdout != "back\n" {
			t.Fatalf("%+v %v\nsshd log:\n%s", res, err, d.log.String())
		}
	})
	t.Run("host key mismatch refused", func(t *testing.T) {
		bad := NewSSH("SQL-ONE", d.addr(), "root", client, writeKnownHosts(t, d.addr(), newSigner(t).PublicKey()))
		start := time.Now()
		_, err := bad.Run(ctx(20*time.Second), Cmd{Script: "touch /tmp/should-not-exist"})
		var hk *HostKeyError
		if !errors.As(err, &hk) || hk.Unknown || time.Since(start) > 3*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
	})
}

// procRunning reports whether a process with this exact NUL-joined cmdline exists.
func procRunning(cmdline string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.TrimRight(string(b), "\x00") == cmdline {
			return true
		}
	}
	return false
}
