package guest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSSHRunInProcess(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	s := NewSSH("SQL-ONE", srv.Addr(), "root", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()), "hunter2")
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := s.Run(ctx, Cmd{Script: "echo out; echo err >&2"})
	if err != nil || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Fatalf("run: %+v %v", res, err)
	}
	res, err = s.Run(ctx, Cmd{Script: "cat; exit 3", Stdin: []byte("payload")})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || res.Stdout != "payload" || ee.Node != "SQL-ONE" {
		t.Fatalf("exit: %+v %v", res, err)
	}
	// Secrets never reach an error, whether from the executor's list or the command's.
	_, err = s.Run(ctx, Cmd{Script: "echo 'pw hunter2 tok abc' >&2; exit 1", Redact: []string{"abc"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abc") {
		t.Fatalf("not redacted: %v", err)
	}
	conns, _, cmds, _ := srv.stats()
	if conns != 1 {
		t.Fatalf("%d connections for 3 runs, want 1 reused", conns)
	}
	for _, c := range cmds {
		if !strings.HasPrefix(c, "sh '-c' ") {
			t.Fatalf("root command not run by sh directly: %q", c)
		}
		if strings.Contains(c, "echo out") {
			t.Fatalf("script text on the command line: %q", c)
		}
	}
}

func TestSSHSudoForNonRoot(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	s := NewSSH("WEB", srv.Addr(), "admin", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()))
	defer s.Close()
	if _, err := s.Run(context.Background(), Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	_, _, cmds, _ := srv.stats()
	if len(cmds) != 1 || !strings.HasPrefix(cmds[0], "sudo -n -- sh '-c' ") {
		t.Fatalf("commands %q", cmds)
	}
}

func TestSSHUnknownHostIsHardStop(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	kh := writeKnownHosts(t, srv.Addr(), nil)
	s := NewSSH("SQL-TWO", srv.Addr(), "root", client, kh)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, Cmd{Script: "true"})
	var hk *HostKeyError
	if !errors.As(err, &hk) || !hk.Unknown {
		t.Fatalf("want unknown-host error, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("an unknown host was retried")
	}
	for _, want := range []string{"SQL-TWO", kh, "labctl up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if conns, _, _, _ := srv.stats(); conns != 0 {
		t.Fatal("connected to a host with no pinned key")
	}
}

func TestSSHHostKeyMismatchIsHardStop(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	kh := writeKnownHosts(t, srv.Addr(), newSigner(t).PublicKey())
	s := NewSSH("SQL-TWO", srv.Addr(), "root", client, kh)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, Cmd{Script: "true"})
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Unknown {
		t.Fatalf("want mismatch error, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("a host-key mismatch was retried")
	}
	if !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), kh) {
		t.Fatalf("unclear message: %v", err)
	}
	if _, tries, cmds, _ := srv.stats(); tries != 0 || len(cmds) != 0 {
		t.Fatal("authenticated or ran a command on a mismatched host")
	}
}

func TestSSHAuthRejectedRetriesUntilDeadline(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	srv.rejectAuth.Store(true)
	s := NewSSH("WEB-TWO", srv.Addr(), "root", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()))
	s.RetryMin = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, Cmd{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "not answering after") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("ignored the deadline: %v", el)
	}
	if _, tries, _, _ := srv.stats(); tries < 3 {
		t.Fatalf("only %d auth attempts: auth rejection must be retried while the key is being installed", tries)
	}
}

func TestSSHWaitsForBootingServer(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused until the "VM" boots
	s := NewSSH("LB", addr, "root", client, writeKnownHosts(t, addr, host.PublicKey()))
	s.RetryMin = 20 * time.Millisecond
	defer s.Close()
	go func() {
		time.Sleep(400 * time.Millisecond)
		startTestServer(t, addr, host, client.PublicKey())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := s.Run(ctx, Cmd{Script: "echo up"}); err != nil || res.Stdout != "up\n" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestSSHCancelKillsCommand(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	s := NewSSH("SQL-ONE", srv.Addr(), "root", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := filepath.Join(t.TempDir(), "started")
	errc := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, Cmd{Script: "touch " + Quote(started) + "; sleep 30.5151"})
		errc <- err
	}()
	for i := 0; ; i++ { // cancel once the command really runs
		if _, err := os.Stat(started); err == nil {
			break
		}
		if i > 400 {
			t.Fatal("command did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("cancel took %v", el)
	}
	// The guest side dies too: by the "signal" request where the server
	// honours it, else by KILL to the process group from a second session.
	for i := 0; procRunning("sleep\x0030.5151"); i++ {
		if i > 100 {
			t.Fatal("cancelled command still running")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The connection is still usable afterwards.
	if _, err := s.Run(context.Background(), Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
}

func TestSSHKeepAliveDropsDeadPeer(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	s := NewSSH("SQL-ONE", srv.Addr(), "root", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()))
	s.KeepAlive = 30 * time.Millisecond
	defer s.Close()
	if _, err := s.Run(context.Background(), Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	srv.ignoreKeep.Store(true)
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.mu.Lock()
		c := s.client
		s.mu.Unlock()
		if c == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection with an unanswering peer was kept")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.ignoreKeep.Store(false)
	if _, err := s.Run(context.Background(), Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	if conns, _, _, _ := srv.stats(); conns != 2 {
		t.Fatalf("%d connections, want a re-dial after the drop", conns)
	}
}

func TestSSHLostExitStatus(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	srv.noExitStatus.Store(true)
	s := NewSSH("SQL-ONE", srv.Addr(), "root", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()))
	defer s.Close()
	_, err := s.Run(context.Background(), Cmd{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v", err)
	}
}

func TestSSHStream(t *testing.T) {
	host, client := newSigner(t), newSigner(t)
	srv := startTestServer(t, "127.0.0.1:0", host, client.PublicKey())
	s := NewSSH("LB", srv.Addr(), "admin", client, writeKnownHosts(t, srv.Addr(), host.PublicKey()))
	defer s.Close()
	var out, errb strings.Builder
	code, err := s.Stream(context.Background(), "cat; echo e >&2; exit 4", strings.NewReader("in"), &out, &errb)
	if err != nil || code != 4 || out.String() != "in" || errb.String() != "e\n" {
		t.Fatalf("code %d err %v out %q stderr %q", code, err, out.String(), errb.String())
	}
	// Stream runs the user's own command line: no sudo, no loader.
	if _, _, cmds, _ := srv.stats(); len(cmds) != 1 || cmds[0] != "cat; echo e >&2; exit 4" {
		t.Fatalf("commands %q", cmds)
	}
}
