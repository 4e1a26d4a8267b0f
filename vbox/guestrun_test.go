package vbox

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const secret = "s3cret-Pa55"

// passwordFileArg returns the --passwordfile operand of a guestcontrol argv.
func passwordFileArg(t *testing.T, args []string) string {
	t.Helper()
	for i, a := range args {
		if a == "--passwordfile" && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("no --passwordfile in %q", args)
	return ""
}

func TestGuestRunPasswordFile(t *testing.T) {
	var pwPath string
	c, f := testClient(func(_ context.Context, _ int, args []string, stdin []byte) (Result, error) {
		pwPath = passwordFileArg(t, args)
		fi, err := os.Stat(pwPath)
		if err != nil {
			t.Fatalf("password file missing during the run: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("password file mode %v, want 0600", fi.Mode().Perm())
		}
		b, _ := os.ReadFile(pwPath)
		if string(b) != secret {
			t.Errorf("password file holds %q", b)
		}
		return Result{Stdout: "out:" + string(stdin), Stderr: "warn\n", ExitCode: 0}, nil
	})
	c.TempDir = t.TempDir()
	res, err := c.GuestRun(context.Background(), "SQL-ONE", Credentials{User: "root", Password: secret}, 90*time.Second,
		[]byte("hello"), "/bin/sh", "-c", "cat")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || string(res.Stdout) != "out:hello" || string(res.Stderr) != "warn\n" {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(pwPath); !os.IsNotExist(err) {
		t.Errorf("password file not removed: %v", err)
	}
	want := []string{"guestcontrol", "SQL-ONE", "run", "--username", "root", "--passwordfile", pwPath,
		"--timeout", "90000", "--wait-stdout", "--wait-stderr", "--", "/bin/sh", "-c", "cat"}
	if strings.Join(f.calls[0], "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv\n got %q\nwant %q", f.calls[0], want)
	}
	for _, a := range f.calls[0] {
		if strings.Contains(a, secret) || a == "--password" {
			t.Errorf("password on argv: %q", f.calls[0])
		}
	}
}

func TestGuestRunRemovesFileOnErrorAndCancel(t *testing.T) {
	dir := t.TempDir()
	notReady := stderrOf(t, "error-guestcontrol-notready.stderr.txt", 1)
	c, _ := testClient(func(_ context.Context, _ int, _ []string, _ []byte) (Result, error) { return notReady, nil })
	c.TempDir = dir
	_, err := c.GuestRun(context.Background(), "vm", Credentials{User: "root", Password: secret}, time.Second, nil, "/bin/true")
	if !errors.Is(err, ErrGuestNotReady) {
		t.Fatalf("want ErrGuestNotReady, got %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("password in error: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c, _ = testClient(func(rctx context.Context, _ int, _ []string, _ []byte) (Result, error) {
		cancel()
		<-rctx.Done()
		return Result{ExitCode: -1}, rctx.Err()
	})
	c.TempDir = dir
	_, err = c.GuestRun(ctx, "vm", Credentials{User: "root", Password: secret}, time.Second, nil, "/bin/true")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("password files left behind: %v", left)
	}
}

func TestGuestRunRejectsBadCredentials(t *testing.T) {
	c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return Result{}, nil })
	for _, cred := range []Credentials{{User: "", Password: "x"}, {User: "root"}, {User: "root", Password: "a\nb"}} {
		if _, err := c.GuestRun(context.Background(), "vm", cred, time.Second, nil, "/bin/true"); err == nil {
			t.Errorf("%q: want an error", cred.User)
		} else if cred.Password != "" && strings.Contains(err.Error(), cred.Password) {
			t.Errorf("password in error %v", err)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("VBoxManage ran for bad credentials: %q", f.argvs())
	}
}

func TestGuestExitCodeMapping(t *testing.T) {
	tests := []struct {
		vbox     int
		stderr   string
		guest    int
		sentinel error
		isErr    bool
	}{
		{0, "", 0, nil, false},
		{33, "", 1, nil, false},
		{34, "", 2, nil, false},
		{32 + 93, "", 93, nil, false},
		{126, "", 126, nil, false}, // guest exited 94 or more
		// Guest stderr is passed through raw: an "error:" line there is the guest's.
		{33, "VBoxManage: error: printed by the guest script\n", 1, nil, false},
		{18, "", -1, ErrGuestKilled, true},
		{19, "", -1, ErrGuestKilled, true},
		{20, "", -1, ErrGuestTimeout, true},
		{22, "", -1, nil, true},
		{1, "error-guestcontrol-notready.stderr.txt", -1, ErrGuestNotReady, true},
		{1, "error-guestcontrol-logon.stderr.txt", -1, ErrAuth, true},
		{1, "error-guestcontrol-notrunning.stderr.txt", -1, ErrNotRunning, true},
		{1, "error-guestcontrol-noexe.stderr.txt", -1, nil, true},
		{2, "VBoxManage: error: Unknown option: -c\n", -1, nil, true},
	}
	for _, tt := range tests {
		stderr := tt.stderr
		if strings.HasSuffix(stderr, ".txt") {
			stderr = transcript(t, stderr)
		}
		c, _ := testClient(func(context.Context, int, []string, []byte) (Result, error) {
			return Result{ExitCode: tt.vbox, Stderr: stderr, Stdout: "partial"}, nil
		})
		res, err := c.GuestRun(context.Background(), "vm", Credentials{User: "root", Password: secret}, time.Second, nil, "/bin/x")
		if (err != nil) != tt.isErr {
			t.Errorf("exit %d: err = %v, want error %v", tt.vbox, err, tt.isErr)
			continue
		}
		if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
			t.Errorf("exit %d: err = %v, want %v", tt.vbox, err, tt.sentinel)
		}
		if res.ExitCode != tt.guest {
			t.Errorf("exit %d: guest code %d, want %d", tt.vbox, res.ExitCode, tt.guest)
		}
		if err != nil && strings.Contains(err.Error(), "partial") {
			t.Errorf("exit %d: guest output taken as VBoxManage's message: %v", tt.vbox, err)
		}
		if string(res.Stdout) != "partial" {
			t.Errorf("exit %d: output lost: %q", tt.vbox, res.Stdout)
		}
	}
}
