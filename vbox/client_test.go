package vbox

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRunner answers each run with handler and records argv and stdin.
type fakeRunner struct {
	mu      sync.Mutex
	calls   [][]string
	stdins  [][]byte
	handler func(ctx context.Context, n int, args []string, stdin []byte) (Result, error)
}

func (f *fakeRunner) Run(ctx context.Context, stdin []byte, args ...string) (Result, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, append([]string(nil), args...))
	f.stdins = append(f.stdins, stdin)
	f.mu.Unlock()
	return f.handler(ctx, n, args, stdin)
}

func (f *fakeRunner) argvs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, strings.Join(c, " "))
	}
	return out
}

// testClient shrinks every wait so tests never sleep for long.
func testClient(h func(ctx context.Context, n int, args []string, stdin []byte) (Result, error)) (*Client, *fakeRunner) {
	f := &fakeRunner{handler: h}
	return &Client{Runner: f, Retry: Retry{Tries: 6, Delay: time.Millisecond, MaxDelay: 4 * time.Millisecond},
		PollInterval: time.Millisecond, StopTimeout: 200 * time.Millisecond, TempDir: os.TempDir()}, f
}

func stderrOf(t *testing.T, file string, exit int) Result {
	return Result{Stderr: transcript(t, file), ExitCode: exit}
}

func TestRetryTransientThenSuccess(t *testing.T) {
	locked := stderrOf(t, "error-modifyvm-locked.stderr.txt", 1)
	c, f := testClient(func(_ context.Context, n int, _ []string, _ []byte) (Result, error) {
		if n < 2 {
			return locked, nil
		}
		return Result{}, nil
	})
	if err := c.ModifyVM(context.Background(), "SQL-ONE", HardwareSettings{MemoryMB: 2048}); err != nil {
		t.Fatalf("want success after retries, got %v", err)
	}
	if got := len(f.calls); got != 3 {
		t.Fatalf("want 3 runs (2 transient + 1 ok), got %d", got)
	}
}

func TestRetryIsBounded(t *testing.T) {
	locked := stderrOf(t, "error-modifyvm-locked.stderr.txt", 1)
	c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return locked, nil })
	c.Retry.Tries = 4
	err := c.ModifyVM(context.Background(), "SQL-ONE", HardwareSettings{CPUs: 2})
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("want ErrTransient after the last try, got %v", err)
	}
	if len(f.calls) != 4 {
		t.Fatalf("want exactly 4 tries, got %d", len(f.calls))
	}
	if !strings.Contains(err.Error(), "VBoxManage modifyvm SQL-ONE: The machine 'SQL-ONE' is already locked") {
		t.Errorf("error should carry VBoxManage's own text: %v", err)
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	for _, file := range []string{"error-showvminfo-notfound.stderr.txt", "error-modifyvm-saved.stderr.txt", "error-clonevm-progress.stderr.txt"} {
		r := stderrOf(t, file, 1)
		c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return r, nil })
		if err := c.ModifyVM(context.Background(), "x", HardwareSettings{CPUs: 1}); err == nil {
			t.Fatalf("%s: want an error", file)
		}
		if len(f.calls) != 1 {
			t.Errorf("%s: permanent error run %d times", file, len(f.calls))
		}
	}
}

func TestEveryCallHasADeadline(t *testing.T) {
	var deadlines []time.Duration
	c, _ := testClient(func(ctx context.Context, _ int, args []string, _ []byte) (Result, error) {
		d, ok := ctx.Deadline()
		if !ok {
			t.Errorf("%v run without a deadline", args)
		}
		deadlines = append(deadlines, time.Until(d))
		if args[0] == "clonevm" {
			return Result{Stdout: `Machine has been successfully cloned as "n"` + "\n"}, nil
		}
		return Result{Stdout: "Value: x\n"}, nil
	})
	c.Timeout, c.SlowTimeout = 10*time.Second, 50*time.Second
	ctx := context.Background()
	_, _ = c.GetExtraData(ctx, "vm", "k")
	_ = c.TakeSnapshot(ctx, "vm", "s", "", false)
	if deadlines[0] > 10*time.Second || deadlines[0] < 9*time.Second {
		t.Errorf("plain call deadline %v, want ~10s", deadlines[0])
	}
	if deadlines[1] > 50*time.Second || deadlines[1] < 49*time.Second {
		t.Errorf("snapshot deadline %v, want ~50s", deadlines[1])
	}
}

func TestTimeoutIsReported(t *testing.T) {
	c, _ := testClient(func(ctx context.Context, _ int, _ []string, _ []byte) (Result, error) {
		<-ctx.Done()
		return Result{ExitCode: -1}, ctx.Err()
	})
	c.Timeout = 20 * time.Millisecond
	_, err := c.ListVMs(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "VBoxManage list vms: no answer within 20ms") {
		t.Fatalf("got %v", err)
	}
}

func TestInfoNotFound(t *testing.T) {
	nf := stderrOf(t, "error-showvminfo-notfound.stderr.txt", 1)
	c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return nf, nil })
	_, err := c.Info(context.Background(), "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if got := f.argvs(); !reflect.DeepEqual(got, []string{"showvminfo nope --machinereadable"}) {
		t.Errorf("argv %q", got)
	}
}

func TestDeleteMissingVMIsNil(t *testing.T) {
	nf := stderrOf(t, "error-showvminfo-notfound.stderr.txt", 1)
	c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return nf, nil })
	if err := c.Delete(context.Background(), "gone"); err != nil {
		t.Fatalf("deleting a missing VM: %v", err)
	}
	if got := f.argvs(); !reflect.DeepEqual(got, []string{"unregistervm gone --delete"}) {
		t.Errorf("argv %q", got)
	}
	locked := stderrOf(t, "error-unregistervm-locked.stderr.txt", 1)
	c, _ = testClient(func(context.Context, int, []string, []byte) (Result, error) { return locked, nil })
	if err := c.Delete(context.Background(), "web-01"); !errors.Is(err, ErrTransient) {
		t.Fatalf("locked delete: %v", err)
	}
}

func TestCloneLinkedArgvAndUUID(t *testing.T) {
	info := transcript(t, "showvminfo-6.1-poweroff.txt")
	c, f := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		switch args[0] {
		case "clonevm":
			return Result{Stdout: "Machine has been successfully cloned as \"SQL-ONE\"\n", Stderr: progressBar}, nil
		case "showvminfo":
			return Result{Stdout: info}, nil
		}
		return Result{ExitCode: 2}, nil
	})
	uuid, err := c.CloneLinked(context.Background(), "AlmaLinux 8.4", "labctl-base", "SQL-ONE", "/labctl/wp")
	if err != nil {
		t.Fatal(err)
	}
	if uuid != "5d1c0c52-8e4b-4a7b-9d0e-1c2d3e4f5a6b" {
		t.Errorf("uuid %q", uuid)
	}
	want := []string{
		"clonevm AlmaLinux 8.4 --snapshot labctl-base --options link --name SQL-ONE --groups /labctl/wp --register",
		"showvminfo SQL-ONE --machinereadable",
	}
	if got := f.argvs(); !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}
	if f.calls[0][1] != "AlmaLinux 8.4" {
		t.Errorf("the base name must be one argv element: %q", f.calls[0])
	}
}

func TestModifyVMArgv(t *testing.T) {
	c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return Result{}, nil })
	ctx := context.Background()
	if err := c.ModifyVM(ctx, "SQL-ONE", HardwareSettings{CPUs: 2, MemoryMB: 2048, BridgeAdapter: "en0: Wi-Fi", MAC: "08:00:27:ab:12:cd", Groups: "/labctl/wp"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyVM(ctx, "SQL-TWO", HardwareSettings{MAC: "auto"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyVM(ctx, "SQL-THREE", HardwareSettings{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyVM(ctx, "SQL-THREE", HardwareSettings{MAC: "zz"}); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Fatalf("bad MAC: %v", err)
	}
	want := [][]string{
		{"modifyvm", "SQL-ONE", "--nic1", "bridged", "--bridgeadapter1", "en0: Wi-Fi", "--macaddress1", "080027AB12CD", "--cpus", "2", "--memory", "2048", "--groups", "/labctl/wp"},
		{"modifyvm", "SQL-TWO", "--macaddress1", "auto"},
	}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("argv\n got %q\nwant %q", f.calls, want)
	}
}

func TestExtraDataAndProperties(t *testing.T) {
	c, f := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		switch args[0] {
		case "getextradata":
			return Result{Stdout: "No value set!\n"}, nil
		case "guestproperty":
			return Result{Stdout: "Value: 192.168.1.50\n"}, nil
		}
		return Result{}, nil
	})
	ctx := context.Background()
	if v, err := c.GetExtraData(ctx, "vm", "labctl/lab"); err != nil || v != "" {
		t.Fatalf("unset extradata: %q %v", v, err)
	}
	if err := c.SetExtraData(ctx, "vm", "labctl/lab", "wp"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetExtraData(ctx, "vm", "labctl/lab", ""); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.GuestProperty(ctx, "vm", "/VirtualBox/GuestInfo/Net/0/V4/IP"); err != nil || !ok || v != "192.168.1.50" {
		t.Fatalf("guest property: %q %v %v", v, ok, err)
	}
	want := []string{"getextradata vm labctl/lab", "setextradata vm labctl/lab wp", "setextradata vm labctl/lab",
		"guestproperty get vm /VirtualBox/GuestInfo/Net/0/V4/IP"}
	if got := f.argvs(); !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}
}

func TestWaitGuestProperty(t *testing.T) {
	c, f := testClient(func(_ context.Context, n int, _ []string, _ []byte) (Result, error) {
		switch {
		case n < 2:
			return Result{Stdout: "No value set!\n"}, nil
		case n < 4:
			return Result{Stdout: "Value: 10.0.2.15\n"}, nil // NAT address: not accepted
		}
		return Result{Stdout: "Value: 192.168.1.100\n"}, nil
	})
	v, err := c.WaitGuestProperty(context.Background(), "vm", "/VirtualBox/GuestInfo/Net/0/V4/IP", time.Millisecond,
		func(s string) bool { return strings.HasPrefix(s, "192.168.1.") })
	if err != nil || v != "192.168.1.100" || len(f.calls) != 5 {
		t.Fatalf("got %q %v after %d polls", v, err, len(f.calls))
	}

	c, _ = testClient(func(context.Context, int, []string, []byte) (Result, error) {
		return Result{Stdout: "Value: 10.0.2.15\n"}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = c.WaitGuestProperty(ctx, "vm", "/VirtualBox/GuestInfo/Net/0/V4/IP", time.Millisecond, func(s string) bool { return false })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `last value "10.0.2.15"`) {
		t.Fatalf("want a deadline error naming the last value, got %v", err)
	}
}

func machineReadable(name, state string, session bool) string {
	s := "name=\"" + name + "\"\nUUID=\"3f1c0c52-8e4b-4a7b-9d0e-1c2d3e4f5a6b\"\nVMState=\"" + state + "\"\n"
	if session {
		s += "SessionName=\"headless\"\n"
	}
	return s
}

func TestPowerOffWaitsForSessionRelease(t *testing.T) {
	infos := []string{
		machineReadable("vm", "stopping", true),
		machineReadable("vm", "poweroff", true), // state already off, lock not yet released
		machineReadable("vm", "poweroff", false),
	}
	i := 0
	c, f := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		if args[0] == "controlvm" {
			return Result{Stderr: progressBar}, nil
		}
		out := infos[i]
		if i < len(infos)-1 {
			i++
		}
		return Result{Stdout: out}, nil
	})
	if err := c.PowerOff(context.Background(), "vm"); err != nil {
		t.Fatal(err)
	}
	want := []string{"controlvm vm poweroff", "showvminfo vm --machinereadable", "showvminfo vm --machinereadable", "showvminfo vm --machinereadable"}
	if got := f.argvs(); !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}
}

func TestPowerOffAlreadyOffAndStuck(t *testing.T) {
	notRunning := stderrOf(t, "error-controlvm-notrunning.stderr.txt", 1)
	c, f := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		if args[0] == "controlvm" {
			return notRunning, nil
		}
		return Result{Stdout: machineReadable("vm", "aborted", false)}, nil
	})
	if err := c.PowerOff(context.Background(), "vm"); err != nil {
		t.Fatalf("already off: %v", err)
	}
	if len(f.calls) != 2 {
		t.Errorf("calls %q", f.argvs())
	}

	c, _ = testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		if args[0] == "controlvm" {
			return Result{}, nil
		}
		return Result{Stdout: machineReadable("vm", "poweroff", true)}, nil
	})
	c.StopTimeout = 30 * time.Millisecond
	start := time.Now()
	err := c.PowerOff(context.Background(), "vm")
	if err == nil || !strings.Contains(err.Error(), "session held: true") {
		t.Fatalf("want a bounded wait error, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("wait not bounded: %v", time.Since(start))
	}
}

func TestStartAlreadyRunning(t *testing.T) {
	locked := stderrOf(t, "error-startvm-locked-windows-crlf.stderr.txt", 1)
	c, _ := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		if args[0] == "startvm" {
			return locked, nil
		}
		return Result{Stdout: machineReadable("web-01", "running", true)}, nil
	})
	if err := c.Start(context.Background(), "web-01"); err != nil {
		t.Fatalf("a running VM counts as started: %v", err)
	}
	c, f := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		return Result{Stdout: "Waiting for VM \"web-01\" to power on...\nVM \"web-01\" has been successfully started.\n"}, nil
	})
	if err := c.Start(context.Background(), "web-01"); err != nil {
		t.Fatal(err)
	}
	if got := f.argvs(); !reflect.DeepEqual(got, []string{"startvm web-01 --type headless"}) {
		t.Errorf("argv %q", got)
	}
}

func TestVersionChecks(t *testing.T) {
	for _, tt := range []struct {
		file string
		want error
	}{
		{"version-7.0.txt", nil},
		{"version-6.1-ubuntu.txt", nil},
		{"version-5.0-ubuntu.txt", ErrUnsupported},
		{"version-7.0-vboxdrv-warning.txt", ErrUnusable},
	} {
		out := transcript(t, tt.file)
		c, f := testClient(func(context.Context, int, []string, []byte) (Result, error) { return Result{Stdout: out}, nil })
		_, err := c.Version(context.Background())
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tt.file, err, tt.want)
		}
		if got := f.argvs(); !reflect.DeepEqual(got, []string{"--version"}) {
			t.Errorf("argv %q", got)
		}
	}
}

func TestSnapshotsCommands(t *testing.T) {
	c, f := testClient(func(_ context.Context, _ int, args []string, _ []byte) (Result, error) {
		if args[2] == "list" {
			return Result{ExitCode: 1, Stdout: "This machine does not have any snapshots\n"}, nil
		}
		return Result{Stdout: "Snapshot taken. UUID: 5fc461ec-da7a-40a8-a168-03134d7cdf5c\n", Stderr: progressBar}, nil
	})
	ctx := context.Background()
	if s, err := c.Snapshots(ctx, "vm"); err != nil || len(s) != 0 {
		t.Fatalf("no snapshots: %v %v", s, err)
	}
	_ = c.TakeSnapshot(ctx, "vm", "pre upgrade", "before the upgrade", true)
	_ = c.RestoreSnapshot(ctx, "vm", "pre upgrade")
	_ = c.DeleteSnapshot(ctx, "vm", "pre upgrade")
	want := [][]string{
		{"snapshot", "vm", "list", "--machinereadable"},
		{"snapshot", "vm", "take", "pre upgrade", "--description", "before the upgrade", "--live"},
		{"snapshot", "vm", "restore", "pre upgrade"},
		{"snapshot", "vm", "delete", "pre upgrade"},
	}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("argv\n got %q\nwant %q", f.calls, want)
	}
}

// apiStub serves EnsureSnapshot from a fixed VMInfo.
type apiStub struct {
	API
	info  *VMInfo
	taken []string
}

func (a *apiStub) Info(context.Context, string) (*VMInfo, error) { return a.info, nil }
func (a *apiStub) TakeSnapshot(_ context.Context, vm, name, _ string, live bool) error {
	a.taken = append(a.taken, vm+"/"+name)
	return nil
}

func TestEnsureSnapshot(t *testing.T) {
	ctx := context.Background()
	has := &apiStub{info: &VMInfo{State: StateRunning, Snapshots: []Snapshot{{Name: "labctl-base", UUID: "u1"}}}}
	if created, err := EnsureSnapshot(ctx, has, "base", "labctl-base"); err != nil || created || len(has.taken) != 0 {
		t.Errorf("existing snapshot: %v %v %v", created, err, has.taken)
	}
	none := &apiStub{info: &VMInfo{State: StatePowerOff}}
	if created, err := EnsureSnapshot(ctx, none, "base", "labctl-base"); err != nil || !created || !reflect.DeepEqual(none.taken, []string{"base/labctl-base"}) {
		t.Errorf("no snapshot, powered off: %v %v %v", created, err, none.taken)
	}
	running := &apiStub{info: &VMInfo{State: StateRunning}}
	if _, err := EnsureSnapshot(ctx, running, "base", "labctl-base"); err == nil || !strings.Contains(err.Error(), "shut it down") || len(running.taken) != 0 {
		t.Errorf("running base: %v %v", err, running.taken)
	}
	other := &apiStub{info: &VMInfo{State: StatePowerOff, Snapshots: []Snapshot{{Name: "golden"}}}}
	if _, err := EnsureSnapshot(ctx, other, "base", "labctl-base"); err == nil || !strings.Contains(err.Error(), `"golden"`) || len(other.taken) != 0 {
		t.Errorf("other snapshots: %v %v", err, other.taken)
	}
}
