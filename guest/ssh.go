package guest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"labctl/hostkeys"
	"labctl/internal/tty"
	"labctl/redact"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// SSH runs scripts over one reused SSH connection, authenticated with the
// lab's key and checked against the lab's pinned known_hosts. A host that is
// unknown or presents another key is a hard stop: no trust on first use.
type SSH struct {
	Node       string     // VM name, for messages
	Addr       string     // host:port
	User       string     // login; scripts run through `sudo -n` unless root
	Signer     ssh.Signer // the lab's ed25519 key
	KnownHosts string     // the lab's pinned known_hosts file
	Redact     []string   // secrets to hide in logs and errors
	Log        io.Writer  // optional: every command and its output, redacted

	// Tunables; zero means the default in parentheses.
	DialTimeout  time.Duration // one TCP connect + handshake (10s)
	ConnectWait  time.Duration // reconnect window when ctx has no deadline (3m)
	KeepAlive    time.Duration // keepalive@openssh.com interval (15s)
	KeepAliveMax int           // missed keep-alives before the connection is dropped (3)
	RetryMin     time.Duration // first back-off between dials (250ms), doubling up to 5s

	mu     sync.Mutex
	client *ssh.Client
}

// NewSSH returns an SSH executor for node at addr ("ip:port").
func NewSSH(node, addr, user string, signer ssh.Signer, knownHosts string, secrets ...string) *SSH {
	return &SSH{Node: node, Addr: addr, User: user, Signer: signer, KnownHosts: knownHosts, Redact: secrets}
}

var _ Executor = (*SSH)(nil)

// String names the executor for logs.
func (s *SSH) String() string { return "ssh " + s.User + "@" + s.Addr }

// HostKeyError is an SSH server whose key is not the one pinned for the
// node. It is never retried.
type HostKeyError struct {
	Node, Addr, File string
	Unknown          bool // nothing pinned for the address (vs. a different key)
	Err              error
}

func (e *HostKeyError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("%s: no SSH host key pinned for %s in %s: labctl pins each VM's key through "+
			"guest control; run `labctl up` (step ssh-access) to pin it", e.Node, e.Addr, e.File)
	}
	return fmt.Sprintf("%s: SSH host key of %s does not match the key pinned in %s: either another machine "+
		"answers on this address or the VM was re-created; if you re-created it, run `labctl up` again "+
		"(step ssh-access re-pins the key it reads through guest control), otherwise find out who owns the address",
		e.Node, e.Addr, e.File)
}

func (e *HostKeyError) Unwrap() error { return e.Err }

func (s *SSH) dur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// hostKeyCheck loads the pinned keys afresh (a step may have pinned one
// since this executor was made) and returns the callback plus the
// algorithms of the pinned keys, so the server offers exactly those.
func (s *SSH) hostKeyCheck() (ssh.HostKeyCallback, []string, error) {
	pins, err := hostkeys.New(s.KnownHosts).Load()
	if errors.Is(err, hostkeys.ErrNoFile) {
		return nil, nil, &HostKeyError{Node: s.Node, Addr: s.Addr, File: s.KnownHosts, Unknown: true, Err: err}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.Node, err)
	}
	want, err := pins.Want(s.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.Node, err)
	}
	if len(want) == 0 {
		return nil, nil, &HostKeyError{Node: s.Node, Addr: s.Addr, File: s.KnownHosts, Unknown: true, Err: errors.New("no key pinned for this address")}
	}
	return pins.Callback, hostkeys.Algorithms(want), nil
}

// dialOnce makes one connection attempt, bounded by DialTimeout and ctx.
func (s *SSH) dialOnce(ctx context.Context) (*ssh.Client, error) {
	cb, algos, err := s.hostKeyCheck()
	if err != nil {
		return nil, err
	}
	timeout := s.dur(s.DialTimeout, 10*time.Second)
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	var keyErr error
	cfg := &ssh.ClientConfig{
		User: s.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(s.Signer)},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := cb(host, remote, key); err != nil {
				keyErr = &HostKeyError{Node: s.Node, Addr: s.Addr, File: s.KnownHosts, Err: err}
				return keyErr
			}
			return nil
		},
		HostKeyAlgorithms: algos,
		Timeout:           timeout,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, s.Addr, cfg)
	if !stop() || err != nil {
		conn.Close()
		if keyErr != nil {
			return nil, keyErr
		}
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	go s.keepAlive(client)
	return client, nil
}

// dial retries dialOnce with back-off while the VM boots (connection
// refused, auth rejected before the key is installed, ...), under ctx's
// deadline or ConnectWait. A host-key problem stops at once.
func (s *SSH) dial(ctx context.Context) (*ssh.Client, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.dur(s.ConnectWait, 3*time.Minute))
		defer cancel()
	}
	wait := s.dur(s.RetryMin, 250*time.Millisecond)
	for attempt := 1; ; attempt++ {
		c, err := s.dialOnce(ctx)
		if err == nil {
			return c, nil
		}
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: SSH to %s@%s not answering after %d attempts (%w); last error: %w",
				s.Node, s.User, s.Addr, attempt, ctx.Err(), err)
		case <-t.C:
		}
		if wait *= 2; wait > 5*time.Second {
			wait = 5 * time.Second
		}
	}
}

// keepAlive drops a connection whose peer stopped answering, so the next
// Run re-dials instead of hanging on a dead TCP session.
func (s *SSH) keepAlive(c *ssh.Client) {
	every := s.dur(s.KeepAlive, 15*time.Second)
	max := s.KeepAliveMax
	if max <= 0 {
		max = 3
	}
	closed := make(chan struct{})
	go func() { _ = c.Wait(); close(closed) }()
	t := time.NewTicker(every)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-closed:
			s.drop(c) // the peer went away: the next Run dials afresh
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() { _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); reply <- err }()
		select {
		case err := <-reply:
			if err != nil {
				missed = max
			} else {
				missed = 0
			}
		case <-time.After(every):
			missed++
		case <-closed:
			s.drop(c)
			return
		}
		if missed >= max {
			s.drop(c)
			return
		}
	}
}

// drop closes c and forgets it if it is the current client.
func (s *SSH) drop(c *ssh.Client) {
	s.mu.Lock()
	if s.client == c {
		s.client = nil
	}
	s.mu.Unlock()
	c.Close()
}

// session opens a session on the shared connection, re-dialing once when
// the connection turns out to be broken.
func (s *SSH) session(ctx context.Context) (*ssh.Client, *ssh.Session, error) {
	for try := 0; ; try++ {
		s.mu.Lock()
		c := s.client
		s.mu.Unlock()
		if c == nil {
			nc, err := s.dial(ctx)
			if err != nil {
				return nil, nil, err
			}
			s.mu.Lock()
			if s.client != nil { // another Run dialed meanwhile
				nc.Close()
			} else {
				s.client = nc
			}
			c = s.client
			s.mu.Unlock()
		}
		sess, err := c.NewSession()
		if err == nil {
			return c, sess, nil
		}
		s.drop(c)
		if try > 0 {
			return nil, nil, fmt.Errorf("%s: open SSH session: %w", s.Node, err)
		}
	}
}

// Close closes the connection; a later Run dials again.
func (s *SSH) Close() error {
	s.mu.Lock()
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c != nil {
		return c.Close()
	}
	return nil
}

// watch kills and closes sess when ctx ends before the command does.
func watch(ctx context.Context, sess *ssh.Session) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
	})
}

// exitCode maps a session's Wait/Run error to an exit status.
func exitCode(ctx context.Context, node string, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("%s: command cancelled: %w", node, ctx.Err())
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if ee.Signal() != "" && ee.ExitStatus() == 0 {
			return 128 + 9, nil
		}
		return ee.ExitStatus(), nil
	}
	var em *ssh.ExitMissingError
	if errors.As(err, &em) {
		return -1, fmt.Errorf("%s: connection lost before the command finished: %w", node, err)
	}
	return -1, fmt.Errorf("%s: %w", node, err)
}

// Run runs cmd.Script as root by /bin/sh, stdin = cmd.Stdin. When ctx
// ends first, the command and its children are killed in the guest.
func (s *SSH) Run(ctx context.Context, cmd Cmd) (Result, error) {
	secrets := append(append([]string{}, s.Redact...), cmd.Redact...)
	pidFile := "/tmp/.labctl-run-" + randHex(8)
	args, stdin := loaderArgs(cmd, pidFile)
	line := "sh"
	for _, a := range args {
		line += " " + Quote(a)
	}
	line = sudoWrap(s.User, line)
	logCmd(s.Log, s.Node, cmd.Script, secrets)

	c, sess, err := s.session(ctx)
	if err != nil {
		return Result{ExitCode: -1}, err
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdin = bytes.NewReader(stdin)
	sess.Stdout = &stdout
	sess.Stderr = &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	var runErr error
	select {
	case runErr = <-done:
	case <-ctx.Done():
		// Return now; stop the guest side in the background.
		go s.kill(c, sess, pidFile, done)
		return Result{ExitCode: -1}, fmt.Errorf("%s (%s): cancelled: %w",
			redact.String(firstLine(cmd.Script), secrets...), s, ctx.Err())
	}
	code, err := exitCode(ctx, s.Node, runErr)
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: code}
	logResult(s.Log, s.Node, res, secrets)
	if err != nil {
		return res, fmt.Errorf("%s (%s): %w", redact.String(firstLine(cmd.Script), secrets...), s, err)
	}
	if code != 0 {
		return res, &ExitError{
			Node:     s.Node,
			Script:   redact.String(firstLine(cmd.Script), secrets...),
			ExitCode: code,
			Stderr:   redact.String(trimOutput(errorOutput(res)), secrets...),
		}
	}
	return res, nil
}

// kill stops a cancelled command: the "signal" request (honoured by
// servers that allow it), then KILL to its process group from a second
// session (sshd refuses signals for root), then closing the session. If
// the command still has not ended, the connection is dropped.
func (s *SSH) kill(c *ssh.Client, sess *ssh.Session, pidFile string, done <-chan error) {
	_ = sess.Signal(ssh.SIGKILL)
	if k, err := c.NewSession(); err == nil {
		script := killScript(pidFile)
		killed := make(chan struct{})
		go func() { _ = k.Run(sudoWrap(s.User, "sh -c "+Quote(script))); close(killed) }()
		select {
		case <-killed:
		case <-time.After(10 * time.Second):
		}
		k.Close()
	}
	sess.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.drop(c)
		<-done
	}
}

// killScript kills the process group recorded by pidLoader in pidFile.
func killScript(pidFile string) string {
	return fmt.Sprintf(`g=$(cat %[1]s 2>/dev/null) && [ -n "$g" ] && kill -s KILL -- "-$g"; rm -f %[1]s`, Quote(pidFile))
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand failing is not recoverable
	}
	return hex.EncodeToString(b)
}

// Upload places f atomically; see UploadScript.
func (s *SSH) Upload(ctx context.Context, f File) (bool, error) {
	script, err := UploadScript(f)
	if err != nil {
		return false, fmt.Errorf("%s: %w", s.Node, err)
	}
	res, err := s.Run(ctx, Cmd{Script: script, Stdin: f.Content})
	if err != nil {
		return false, err
	}
	changed, err := uploadResult(res.Stdout)
	if err != nil {
		return false, fmt.Errorf("%s: %s: %w", s.Node, f.Path, err)
	}
	return changed, nil
}

// Stream runs a command line as the login user (no sudo), wiring the
// streams through; for `labctl ssh NODE -- CMD`.
func (s *SSH) Stream(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	_, sess, err := s.session(ctx)
	if err != nil {
		return -1, err
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	stop := watch(ctx, sess)
	defer stop()
	return exitCode(ctx, s.Node, sess.Run(cmd))
}

// Shell opens an interactive login shell with a terminal of the given
// type and size; for `labctl ssh NODE`. The caller puts its own terminal
// in raw mode.
func (s *SSH) Shell(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, term string, w, h int) error {
	_, sess, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	if term == "" {
		term = "xterm-256color"
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty(term, h, w, modes); err != nil {
		return fmt.Errorf("%s: request terminal: %w", s.Node, err)
	}
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	if err := sess.Shell(); err != nil {
		return fmt.Errorf("%s: start shell: %w", s.Node, err)
	}
	stop := watch(ctx, sess)
	defer stop()
	code, err := exitCode(ctx, s.Node, sess.Wait())
	if err == nil && code != 0 {
		return &ExitError{Node: s.Node, Script: "interactive shell", ExitCode: code}
	}
	return err
}

// Attach is `labctl ssh`: with cmd, it runs cmd (joined by spaces, as ssh
// does); without, an interactive shell on a pseudo-terminal when in is a
// terminal (put in raw mode for the session), else the script read from in,
// like `ssh host < script`. It returns the remote exit status; err means the
// connection itself failed.
func (s *SSH) Attach(ctx context.Context, in io.Reader, out, errOut io.Writer, cmd []string) (int, error) {
	if len(cmd) > 0 {
		return s.Stream(ctx, strings.Join(cmd, " "), in, out, errOut)
	}
	f, ok := in.(*os.File)
	if !ok || !tty.Is(f) {
		return s.Stream(ctx, `exec "${SHELL:-/bin/sh}" -s`, in, out, errOut)
	}
	w, h := 80, 24
	if cw, ch, ok := tty.Size(out); ok {
		w, h = cw, ch
	}
	old, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	err = s.Shell(ctx, f, out, errOut, os.Getenv("TERM"), w, h)
	_ = term.Restore(int(f.Fd()), old)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode, nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}
