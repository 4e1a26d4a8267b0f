package main

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"labctl/internal/vboxtest"
	"labctl/lab"
)

// TestCommandsThatChangeALabRefuseWhileAnotherHoldsItsLock: with another
// labctl holding the lab (here: this process, as `labctl up`), every
// command that changes the lab refuses at once with exit 4, naming the
// holder, and calls nothing that changes a VM; read-only commands run.
func TestCommandsThatChangeALabRefuseWhileAnotherHoldsItsLock(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE")
	held, err := lab.AcquireLock(l.stateDir, testLabName, "up")
	if err != nil {
		t.Fatal(err)
	}
	before := len(l.fake.Argv())
	for _, args := range [][]string{
		{"up"},
		{"down", "--yes"},
		{"halt"},
		{"snapshot", "take", "s1"},
		{"snapshot", "restore", "s1"},
		{"snapshot", "delete", "s1"},
		{"drill", "--kind", "stop"},
		{"exercise", "start", "lb-wrong-port"},
		{"exercise", "reset", "--yes"},
	} {
		code, out, errOut := l.labctl(nil, args...)
		if code != exitBusy {
			t.Errorf("%v while the lab is locked: exit %d, want %d\n%s%s", args, code, exitBusy, out, errOut)
			continue
		}
		for _, want := range []string{`lab "` + testLabName + `" is busy`, "`labctl up` (pid " + strconv.Itoa(os.Getpid()), "started "} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: refusal %q lacks %q", args, strings.TrimSpace(errOut), want)
			}
		}
		if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
			t.Errorf("%v: refusal is %d lines, want one:\n%s", args, n+1, errOut)
		}
	}
	for _, a := range l.since(before) {
		if vboxtest.IsMutating(a) {
			t.Errorf("a refused command changed VirtualBox: %v", a)
		}
	}

	// Read-only commands never wait for the lock.
	for _, args := range [][]string{{"status"}, {"info"}, {"plan"}, {"up", "--dry-run"}, {"down", "--dry-run"}, {"snapshot", "list"}, {"exercise", "list"}} {
		if code, out, errOut := l.labctl(nil, args...); code == exitBusy || strings.Contains(errOut, "is busy") {
			t.Errorf("read-only %v waited for the lock: exit %d\n%s%s", args, code, out, errOut)
		}
	}

	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := l.labctl(nil, "halt"); code != 0 {
		t.Fatalf("halt after the lock was released: exit %d\n%s%s", code, out, errOut)
	}
	if h, isHeld, err := lab.ReadHolder(l.stateDir); err != nil || isHeld || h.PID != 0 {
		t.Errorf("after halt the lock is %+v held=%v (%v), want free and empty", h, isHeld, err)
	}
}

// TestLockHolderProcess is the child of TestALockLeftByAKilledLabctlIsTakenOver:
// a labctl that took the lab's lock and is then killed.
func TestLockHolderProcess(t *testing.T) {
	dir := os.Getenv("LABCTL_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("child process only")
	}
	if _, err := lab.AcquireLock(dir, testLabName, "up"); err != nil {
		os.Stdout.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	select {}
}

func TestALockLeftByAKilledLabctlIsTakenOver(t *testing.T) {
	l := newTestLab(t)
	l.createVMs()
	child := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$")
	child.Env = append(os.Environ(), "LABCTL_TEST_LOCK_DIR="+l.stateDir)
	pipe, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	if line, err := bufio.NewReader(pipe).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	pid := strconv.Itoa(child.Process.Pid)
	if code, _, errOut := l.labctl(nil, "down", "--yes"); code != exitBusy || !strings.Contains(errOut, "(pid "+pid) {
		t.Fatalf("down while pid %s holds the lab: exit %d %s", pid, code, errOut)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	code, out, errOut := l.labctl(nil, "down", "--yes")
	if code != 0 {
		t.Fatalf("down after the holder was killed: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "`labctl up` (pid "+pid) || !strings.Contains(errOut, "taking over the lab's lock") {
		t.Errorf("down did not say it took over the killed run's lock:\n%s", errOut)
	}
	if left := l.labVMsLeft(); len(left) != 0 {
		t.Errorf("down left %v", left)
	}
	if _, err := os.Stat(l.stateDir); !os.IsNotExist(err) {
		t.Errorf("down left the state folder (lock included): %v", err)
	}
}
