package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"labctl/lab"
)

const sshdPath = "/usr/sbin/sshd"

// startSSHD runs a real OpenSSH server on 127.0.0.1 with its own config,
// host key and authorized_keys (the way guest's tests do), and returns its
// address and host public key.
func startSSHD(t *testing.T, authorized []byte) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skip("OpenSSH server not installed (apt-get install -y openssh-server): skipping labctl ssh tests")
	}
	if os.Geteuid() != 0 {
		t.Skip("labctl ssh tests need root (sshd's privilege separation)")
	}
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test host key")
	if err != nil {
		t.Fatal(err)
	}
	hk, ak := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys")
	writeFile(t, hk, pem.EncodeToMemory(block))
	writeFile(t, ak, authorized)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	conf := filepath.Join(dir, "sshd_config")
	writeFile(t, conf, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
`, hk, ak, filepath.Join(dir, "sshd.pid"))))
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf, "-p", port)
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr = net.JoinHostPort("127.0.0.1", port)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s:\n%s", addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, signer.PublicKey()
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSSHAgainstRealSSHD(t *testing.T) {
	if _, err := os.Stat(sshdPath); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and OpenSSH's sshd (apt-get install -y openssh-server)")
	}
	l := newTestLab(t)
	l.createVMs("SQL-ONE")
	cfg, err := lab.Load(l.file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := cfg.Plan(lab.HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := lab.OpenState(plan)
	if err != nil {
		t.Fatal(err)
	}
	_, authorized, err := st.SSHKey()
	if err != nil {
		t.Fatal(err)
	}
	if plan.StateDir != l.stateDir {
		t.Fatalf("state dir %s, want %s", plan.StateDir, l.stateDir)
	}
	addr, hostKey := startSSHD(t, []byte(authorized+"\n"))
	if err := st.HostKeys().Pin(addr, string(ssh.MarshalAuthorizedKey(hostKey))); err != nil {
		t.Fatal(err)
	}
	old := sshAddr
	sshAddr = func(*lab.Node) string { return addr }
	t.Cleanup(func() { sshAddr = old })

	t.Run("one-off command: output and exit status", func(t *testing.T) {
		code, out, errOut := l.labctl(nil, "ssh", "sql-one", "--", "echo", "hello-from-uid-$(id -u)", ";", "echo", "oops", ">&2", ";", "exit", "7")
		if code != 7 {
			t.Fatalf("exit %d, want the command's 7\nstdout %q\nstderr %q", code, out, errOut)
		}
		if out != "hello-from-uid-0\n" || !strings.Contains(errOut, "oops") {
			t.Fatalf("stdout %q stderr %q", out, errOut)
		}
		if strings.Contains(errOut, "labctl:") {
			t.Errorf("a failing remote command is not labctl's error: %q", errOut)
		}
	})
	t.Run("success by VM name", func(t *testing.T) {
		code, out, errOut := l.labctl(nil, "ssh", "SQL-ONE", "--", "true")
		if code != 0 || out != "" {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
	})
	t.Run("script on stdin", func(t *testing.T) {
		code, out, errOut := l.labctl(strings.NewReader("echo piped-$((6 * 7))\nexit 3\n"), "ssh", "sql-one")
		if code != 3 || out != "piped-42\n" {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		code, _, errOut := l.labctl(nil, "ssh", "sql-four", "--", "true")
		if code != 2 || !strings.Contains(errOut, "SQL-ONE, SQL-TWO") {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("stopped VM", func(t *testing.T) {
		code, _, errOut := l.labctl(nil, "ssh", "sql-two", "--", "true")
		if code != 1 || !strings.Contains(errOut, "SQL-TWO is poweroff") {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("interactive shell on a terminal", func(t *testing.T) {
		master, slave := openPTY(t)
		before, err := term.GetState(int(slave.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		gotMu := make(chan struct{}, 1)
		gotMu <- struct{}{}
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := master.Read(buf)
				<-gotMu
				got.Write(buf[:n])
				gotMu <- struct{}{}
				if err != nil {
					return
				}
			}
		}()
		// Typed ahead: the remote shell reads it once it starts.
		if _, err := master.Write([]byte("echo tty=$(tty | cut -c1-8) size=$(stty size | tr ' ' x) sum=$((6 * 7)); exit 5\n")); err != nil {
			t.Fatal(err)
		}
		// The local window is 101x33: the remote terminal must get that size.
		ws := struct{ rows, cols, x, y uint16 }{33, 101, 0, 0}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, slave.Fd(), syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws))); e != 0 {
			t.Fatalf("set window size: %v", e)
		}
		var errb bytes.Buffer
		argv := []string{"labctl", "--lab", l.file, "--vboxmanage", l.fake.Bin, "ssh", "sql-one"}
		done := make(chan int, 1)
		go func() { done <- run(argv, slave, slave, &errb) }()
		var code int
		select {
		case code = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the interactive shell did not end")
		}
		// The shell's last output may still sit in the pty when run returns:
		// let the reader drain it (bounded) before judging.
		var text string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			<-gotMu
			text = got.String()
			gotMu <- struct{}{}
			if strings.Contains(text, "sum=42") || time.Now().After(deadline) {
				break
			}
		}
		if code != 5 {
			t.Fatalf("exit %d, want the shell's 5\nterminal: %q\nstderr: %q", code, text, errb.String())
		}
		if !strings.Contains(text, "tty=/dev/pts") || !strings.Contains(text, "size=33x101") || !strings.Contains(text, "sum=42") {
			t.Fatalf("the remote shell did not run on a terminal: %q", text)
		}
		after, err := term.GetState(int(slave.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("the local terminal was not restored after the shell")
		}
	})
	t.Run("host key mismatch is refused", func(t *testing.T) {
		_, other, _ := ed25519.GenerateKey(nil)
		otherSigner, _ := ssh.NewSignerFromKey(other)
		if err := st.HostKeys().Pin(addr, string(ssh.MarshalAuthorizedKey(otherSigner.PublicKey()))); err != nil {
			t.Fatal(err)
		}
		defer st.HostKeys().Pin(addr, string(ssh.MarshalAuthorizedKey(hostKey)))
		start := time.Now()
		code, out, errOut := l.labctl(nil, "ssh", "sql-one", "--", "echo", "must-not-run")
		if code != 255 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "does not match the key pinned") {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("a host-key mismatch must fail at once, took %s", time.Since(start))
		}
	})
}

// openPTY opens a pseudo-terminal pair, so the interactive path sees a real terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	sl, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	return m, sl
}
