package guest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"labctl/guest"
	"labctl/internal/vboxtest"
	"labctl/vbox"
)

const testPassword = "c0rrect-horse battery"

// startControl boots the fake's base VM and returns a Control on it plus
// the folder where GuestRun keeps its password files.
func startControl(t *testing.T) (*vboxtest.Fake, *guest.Control, string) {
	t.Helper()
	fake := vboxtest.New(t, vboxtest.WithGuestExec(), vboxtest.WithGuestAdditionsDelay(0), vboxtest.WithGuestPassword(testPassword))
	c := vbox.New(vbox.ExecRunner{Path: fake.Bin})
	c.TempDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Start(ctx, vboxtest.BaseVM); err != nil {
		t.Fatal(err)
	}
	ctl := guest.NewControl(c, vboxtest.BaseVM, vbox.Credentials{User: vboxtest.GuestUser, Password: testPassword}, "db-secret")
	return fake, ctl, c.TempDir
}

func TestControlRunAgainstFakeVBoxManage(t *testing.T) {
	fake, ctl, pwDir := startControl(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	res, err := ctl.Run(ctx, guest.Cmd{Script: "echo out\necho err >&2\n"})
	if err != nil || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Fatalf("run: %+v %v", res, err)
	}
	// Guest exit codes come back through VBoxManage's n+32 mapping.
	for _, code := range []int{1, 7, 93} {
		res, err = ctl.Run(ctx, guest.Cmd{Script: "echo failing >&2\nexit " + strconv.Itoa(code)})
		var ee *guest.ExitError
		if !errors.As(err, &ee) || ee.ExitCode != code || res.ExitCode != code || !strings.Contains(ee.Stderr, "failing") {
			t.Fatalf("exit %d: %+v %v", code, res, err)
		}
		if ee.Node != vboxtest.BaseVM {
			t.Fatalf("error names %q", ee.Node)
		}
	}
	// stdin reaches the script, and the script text does not leak into it.
	res, err = ctl.Run(ctx, guest.Cmd{Script: "read -r a\necho \"[$a]\"\ncat", Stdin: []byte("db-secret\nmore\n")})
	if err != nil || res.Stdout != "[db-secret]\nmore\n" {
		t.Fatalf("stdin: %+v %v", res, err)
	}
	// A secret in the output never reaches an error message.
	_, err = ctl.Run(ctx, guest.Cmd{Script: "echo \"pw db-secret $(printf %s 'c0rrect-horse battery')\" >&2\nexit 2"})
	if err == nil || strings.Contains(err.Error(), "db-secret") || strings.Contains(err.Error(), testPassword) {
		t.Fatalf("not redacted: %v", err)
	}

	// Upload: atomic, mode, changed flag (guest paths are host paths in the fake).
	dst := filepath.Join(t.TempDir(), "etc", "app.conf")
	f := guest.File{Path: dst, Content: bytes.Repeat([]byte("x"), 100000), Mode: 0o600}
	if changed, err := ctl.Upload(ctx, f); err != nil || !changed {
		t.Fatalf("upload: %v %v", changed, err)
	}
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm() != 0o600 || st.Size() != 100000 {
		t.Fatalf("uploaded file: %v %v", st, err)
	}
	if changed, err := ctl.Upload(ctx, f); err != nil || changed {
		t.Fatalf("identical upload: %v %v", changed, err)
	}

	if calls := fake.ArgvContaining(testPassword); len(calls) != 0 {
		t.Fatalf("password on argv: %q", calls)
	}
	if v := fake.Violations(); len(v) != 0 {
		t.Fatalf("fake VBoxManage caught violations: %q", v)
	}
	if left, _ := os.ReadDir(pwDir); len(left) != 0 {
		t.Fatalf("password files left behind: %v", left)
	}
	// Every guest run used --passwordfile and carried no script text on argv.
	n := 0
	for _, a := range fake.Argv() {
		if len(a) > 2 && a[0] == "guestcontrol" {
			n++
			j := strings.Join(a, " ")
			if !strings.Contains(j, "--passwordfile") || strings.Contains(j, "echo out") {
				t.Fatalf("guestcontrol argv %q", a)
			}
		}
	}
	if n == 0 {
		t.Fatal("no guestcontrol call recorded")
	}
}

func TestControlWrongPasswordIsNotAnExitCode(t *testing.T) {
	fake, _, _ := startControl(t)
	c := vbox.New(vbox.ExecRunner{Path: fake.Bin})
	bad := guest.NewControl(c, vboxtest.BaseVM, vbox.Credentials{User: "root", Password: "wrong-pass"})
	_, err := bad.Run(context.Background(), guest.Cmd{Script: "true"})
	var ee *guest.ExitError
	if err == nil || errors.As(err, &ee) || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), vboxtest.BaseVM) {
		t.Fatalf("error does not name the VM: %v", err)
	}
	// It says what to fix: the account, the base VM, where the password came from.
	bad.Base, bad.PasswordFrom = "AlmaLinux-8.4", "the password in /home/t/pw"
	_, err = bad.Run(context.Background(), guest.Cmd{Script: "true"})
	var le *guest.LogonError
	if !errors.As(err, &le) || !errors.Is(err, vbox.ErrAuth) {
		t.Fatalf("a refused logon is not a LogonError wrapping vbox.ErrAuth: %#v", err)
	}
	for _, want := range []string{`as "root"`, "the password in /home/t/pw", `base VM "AlmaLinux-8.4"`, "base.password_file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("logon error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "wrong-pass") {
		t.Error("the logon error shows the password")
	}
}
