package vbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"labctl/internal/vboxtest"
	"labctl/vbox"
)

// TestClientAgainstFake drives every API operation through ExecRunner
// against the stateful fake VBoxManage, for 7.x and 6.1.
func TestClientAgainstFake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fake VBoxManage")
	}
	for _, version := range []string{vboxtest.DefaultVersion, "6.1.38_Ubuntur153438"} {
		t.Run(version, func(t *testing.T) {
			fake := vboxtest.New(t, vboxtest.WithGuestExec(), vboxtest.WithVersion(version), vboxtest.WithGuestAdditionsDelay(0),
				vboxtest.WithUnlockWindow(400*time.Millisecond))
			c := vbox.New(vbox.ExecRunner{Path: fake.Bin})
			c.Retry = vbox.Retry{Tries: 6, Delay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
			c.PollInterval = 20 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			base, vm := vboxtest.BaseVM, "SQL-ONE"
			cred := vbox.Credentials{User: vboxtest.GuestUser, Password: vboxtest.DefaultGuestPassword}

			v, err := c.Version(ctx)
			if err != nil || v.Raw != version {
				t.Fatalf("version %+v %v", v, err)
			}
			vms, err := c.ListVMs(ctx)
			if err != nil || len(vms) < 1+len(vboxtest.UnrelatedVMs) {
				t.Fatalf("list vms %+v %v", vms, err)
			}
			if _, err := c.Info(ctx, vm); !errors.Is(err, vbox.ErrNotFound) {
				t.Fatalf("missing VM: %v", err)
			}
			if created, err := vbox.EnsureSnapshot(ctx, c, base, "labctl-base"); err != nil || !created {
				t.Fatalf("base snapshot: %v %v", created, err)
			}
			if created, err := vbox.EnsureSnapshot(ctx, c, base, "labctl-base"); err != nil || created {
				t.Fatalf("second EnsureSnapshot must not take another: %v %v", created, err)
			}
			uuid, err := c.CloneLinked(ctx, base, "labctl-base", vm, "/labctl/wp")
			if err != nil {
				t.Fatal(err)
			}
			// A transient lock on modifyvm is retried and succeeds.
			fake.AddFault(vboxtest.Fault{Match: "modifyvm " + vm, Kind: "lock", Times: 2})
			ifs, err := c.BridgedIfs(ctx)
			if err != nil || len(ifs) == 0 {
				t.Fatalf("bridgedifs %+v %v", ifs, err)
			}
			if err := c.ModifyVM(ctx, vm, vbox.HardwareSettings{CPUs: 2, MemoryMB: 1536, BridgeAdapter: ifs[0].Name, MAC: "auto", Groups: "/labctl/wp"}); err != nil {
				t.Fatalf("modifyvm with 2 injected locks: %v", err)
			}
			if left := fake.Faults(); len(left) != 0 {
				t.Fatalf("injected locks not consumed: %+v", left)
			}
			if err := c.SetExtraData(ctx, vm, "labctl/lab", "wp"); err != nil {
				t.Fatal(err)
			}
			if tag, err := c.GetExtraData(ctx, vm, "labctl/lab"); err != nil || tag != "wp" {
				t.Fatalf("tag %q %v", tag, err)
			}
			info, err := c.Info(ctx, vm)
			if err != nil || info.UUID != uuid || info.CPUs != 2 || info.MemoryMB != 1536 || len(info.NICs) == 0 ||
				info.NICs[0].Type != "bridged" || info.NICs[0].BridgeAdapter != ifs[0].Name || !strings.HasPrefix(info.NICs[0].MAC, "080027") {
				t.Fatalf("clone info %+v %v (uuid %s)", info, err, uuid)
			}
			if err := c.Start(ctx, vm); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(ctx, vm); err != nil {
				t.Fatalf("starting a running VM: %v", err)
			}
			waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := c.WaitGuestProperty(waitCtx, vm, "/VirtualBox/GuestAdd/Version", 50*time.Millisecond, nil); err != nil {
				t.Fatalf("guest additions: %v", err)
			}
			waitCancel()

			res, err := c.GuestRun(ctx, vm, cred, time.Minute, []byte("ping\n"), "/bin/sh", "-c", "cat; echo oops >&2; exit 3")
			if err != nil || res.ExitCode != 3 || string(res.Stdout) != "ping\n" || !strings.Contains(string(res.Stderr), "oops") {
				t.Fatalf("guest run: %+v %v", res, err)
			}
			res, err = c.GuestRun(ctx, vm, cred, time.Minute, nil, "/bin/sh", "-c", "exit 100")
			if err != nil || res.ExitCode != 126 {
				t.Fatalf("guest exit 100 → 126: %+v %v", res, err)
			}
			_, err = c.GuestRun(ctx, vm, vbox.Credentials{User: cred.User, Password: "wrong-password"}, time.Minute, nil, "/bin/true")
			if !errors.Is(err, vbox.ErrAuth) {
				t.Fatalf("wrong password: %v", err)
			}

			c.Retry = vbox.Retry{Tries: 1} // prove PowerOff waited, rather than the retry hiding the lock
			if err := c.PowerOff(ctx, vm); err != nil {
				t.Fatal(err)
			}
			// PowerOff waited for the session, so a write lock works at once.
			if err := c.ModifyVM(ctx, vm, vbox.HardwareSettings{CPUs: 1}); err != nil {
				t.Fatalf("modifyvm right after PowerOff: %v", err)
			}
			if err := c.Delete(ctx, vm); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(ctx, vm); err != nil {
				t.Fatalf("deleting twice: %v", err)
			}
			if bad := fake.ArgvContaining(cred.Password); len(bad) != 0 {
				t.Errorf("password on argv: %q", bad)
			}
			if bad := fake.ArgvContaining("wrong-password"); len(bad) != 0 {
				t.Errorf("password on argv: %q", bad)
			}
			if v := fake.Violations(); len(v) != 0 {
				t.Errorf("fake caught rule violations: %q", v)
			}
		})
	}
}
