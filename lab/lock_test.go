package lab

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLockRefusesASecondHolderAndFreesOnRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := AcquireLock(dir, "lab1", "up")
	if err != nil {
		t.Fatal(err)
	}
	if l.TookOver != nil {
		t.Errorf("fresh lock took over %+v", l.TookOver)
	}
	st, err := os.Stat(filepath.Join(dir, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", st.Mode().Perm())
	}

	_, err = AcquireLock(dir, "lab1", "down")
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
		t.Fatalf("second acquire: %v, want a BusyError", err)
	}
	if busy.Holder.PID != os.Getpid() || busy.Holder.Command != "up" || busy.Holder.Started.IsZero() {
		t.Errorf("busy holder %+v, want this process running up", busy.Holder)
	}
	for _, want := range []string{`lab "lab1" is busy`, "`labctl up`", "pid " + itoa(os.Getpid()), "started", "status, info, plan and list work meanwhile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("busy error %q lacks %q", err, want)
		}
	}
	h, held, err := ReadHolder(dir)
	if err != nil || !held || h.Command != "up" {
		t.Errorf("ReadHolder while held = %+v, %v, %v", h, held, err)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a state folder holding only the released lock stays: %v", err)
	}
	l2, err := AcquireLock(dir, "lab1", "down")
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if l2.TookOver != nil {
		t.Errorf("a cleanly released lock is reported as taken over: %+v", l2.TookOver)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "secrets.json")); err != nil {
		t.Errorf("release removed the lab's state: %v", err)
	}
	if _, held, _ := ReadHolder(dir); held {
		t.Errorf("ReadHolder says held after release")
	}
}

// TestLockHelperProcess is the child of TestLockOfAKilledProcessIsTakenOver.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("LABCTL_LOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	if _, err := AcquireLock(dir, "lab1", "up"); err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
	os.Exit(0)
}

func TestLockOfAKilledProcessIsTakenOver(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	dir := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "LABCTL_LOCK_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q %v", line, err)
	}

	_, err = AcquireLock(dir, "lab1", "down")
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Holder.PID != cmd.Process.Pid {
		t.Fatalf("acquire while another process holds it: %v, want busy naming pid %d", err, cmd.Process.Pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := AcquireLock(dir, "lab1", "up")
	if err != nil {
		t.Fatalf("acquire after the holder was killed: %v", err)
	}
	defer l.Release()
	if l.TookOver == nil || l.TookOver.PID != cmd.Process.Pid || l.TookOver.Command != "up" {
		t.Errorf("TookOver = %+v, want the killed pid %d", l.TookOver, cmd.Process.Pid)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
