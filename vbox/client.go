package vbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Client implements API over a Runner (normally ExecRunner on VBoxManage).
// The zero value of every tuning field means its default.
type Client struct {
	Runner Runner

	// Timeout bounds one VBoxManage call (default 30s); SlowTimeout bounds
	// the calls that copy disks or wait for the VM process: clonevm,
	// snapshot, startvm, controlvm poweroff, unregistervm (default 2m).
	Timeout     time.Duration
	SlowTimeout time.Duration
	// GuestTimeout is the guest process timeout GuestRun uses when given
	// none (default 10m). The host-side deadline adds GuestMargin (default 30s).
	GuestTimeout time.Duration
	GuestMargin  time.Duration
	// ApplianceTimeout bounds import and export, which copy whole disks (default 1h).
	ApplianceTimeout time.Duration
	// Retry is the policy for transient errors (session locks); zero = DefaultRetry.
	Retry Retry
	// PollInterval and StopTimeout bound PowerOff's wait for the session to
	// be released (defaults 500ms and 60s).
	PollInterval time.Duration
	StopTimeout  time.Duration
	// TempDir holds the short-lived 0600 password files of GuestRun ("" = os.TempDir()).
	TempDir string
	// Trace, when set, sees every VBoxManage run (for --verbose logs). Args
	// hold no secrets; Result may hold guest output.
	Trace func(Call)
}

// Call is one VBoxManage run, as reported to Client.Trace.
type Call struct {
	Args     []string
	Result   Result
	Err      error
	Attempt  int
	Duration time.Duration
}

// Retry is a bounded exponential backoff for ErrTransient only.
type Retry struct {
	Tries    int           // total attempts, including the first
	Delay    time.Duration // first wait, doubled after each attempt
	MaxDelay time.Duration // cap on one wait
}

// DefaultRetry rides out a session being released after a power-off
// (VirtualBox waits only 1s for it) without hiding real failures for long.
var DefaultRetry = Retry{Tries: 6, Delay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}

var _ API = (*Client)(nil)

// New returns a Client running VBoxManage through r with default settings.
func New(r Runner) *Client { return &Client{Runner: r} }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// callOpts tune one run.
type callOpts struct {
	slow    bool
	timeout time.Duration // overrides slow/Timeout when > 0
	stdin   []byte
	// check decides whether a Result is a failure; nil = failed()+classify().
	check func(args []string, r Result) error
}

func defaultCheck(args []string, r Result) error {
	if failed(r) {
		return &Error{Args: args, Result: r, Err: classify(r)}
	}
	return nil
}

// run executes args with a deadline, retrying transient failures.
func (c *Client) run(ctx context.Context, o callOpts, args ...string) (Result, error) {
	if c.Runner == nil {
		return Result{ExitCode: -1}, &Error{Args: args, Err: fmt.Errorf("%w: no VBoxManage runner configured", ErrNotInstalled)}
	}
	pol := c.Retry
	if pol.Tries <= 0 {
		pol = DefaultRetry
	}
	delay := pol.Delay
	for attempt := 1; ; attempt++ {
		res, err := c.once(ctx, o, attempt, args)
		if err == nil || !errors.Is(err, ErrTransient) || attempt >= pol.Tries {
			return res, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
		delay *= 2
		if pol.MaxDelay > 0 && delay > pol.MaxDelay {
			delay = pol.MaxDelay
		}
	}
}

func (c *Client) once(ctx context.Context, o callOpts, attempt int, args []string) (Result, error) {
	timeout := o.timeout
	if timeout <= 0 {
		timeout = orDefault(c.Timeout, 30*time.Second)
		if o.slow {
			timeout = orDefault(c.SlowTimeout, 2*time.Minute)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	res, err := c.Runner.Run(cctx, o.stdin, args...)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s (VirtualBox may be hung; check VBoxSVC): %w", timeout, err)
		}
		err = &Error{Args: args, Result: res, Err: err}
	} else {
		check := o.check
		if check == nil {
			check = defaultCheck
		}
		err = check(args, res)
	}
	if c.Trace != nil {
		c.Trace(Call{Args: args, Result: res, Err: err, Attempt: attempt, Duration: time.Since(start)})
	}
	return res, err
}

// Version runs `VBoxManage --version`; it fails with ErrUnusable when the
// kernel driver is missing and ErrUnsupported before 6.1.
func (c *Client) Version(ctx context.Context) (Version, error) {
	res, err := c.run(ctx, callOpts{}, "--version")
	if err != nil {
		return Version{}, err
	}
	v, err := ParseVersion(res.Stdout)
	if err != nil {
		return v, err
	}
	return v, v.Supported()
}

// ListVMs runs `list vms`.
func (c *Client) ListVMs(ctx context.Context) ([]VM, error) {
	res, err := c.run(ctx, callOpts{}, "list", "vms")
	if err != nil {
		return nil, err
	}
	return ParseListVMs(res.Stdout), nil
}

// Info runs `showvminfo VM --machinereadable`.
func (c *Client) Info(ctx context.Context, vm string) (*VMInfo, error) {
	res, err := c.run(ctx, callOpts{}, "showvminfo", vm, "--machinereadable")
	if err != nil {
		return nil, err
	}
	info, err := ParseVMInfo(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("showvminfo %s: %w", vm, err)
	}
	return info, nil
}

// BridgedIfs runs `list bridgedifs`.
func (c *Client) BridgedIfs(ctx context.Context) ([]HostIf, error) {
	res, err := c.run(ctx, callOpts{}, "list", "bridgedifs")
	if err != nil {
		return nil, err
	}
	return ParseBridgedIfs(res.Stdout), nil
}

// TakeSnapshot runs `snapshot VM take NAME [--description D] [--live]`.
func (c *Client) TakeSnapshot(ctx context.Context, vm, name, description string, live bool) error {
	args := []string{"snapshot", vm, "take", name}
	if description != "" {
		args = append(args, "--description", description)
	}
	if live {
		args = append(args, "--live")
	}
	_, err := c.run(ctx, callOpts{slow: true}, args...)
	return err
}

// RestoreSnapshot runs `snapshot VM restore NAME`.
func (c *Client) RestoreSnapshot(ctx context.Context, vm, name string) error {
	_, err := c.run(ctx, callOpts{slow: true}, "snapshot", vm, "restore", name)
	return err
}

// DeleteSnapshot runs `snapshot VM delete NAME`.
func (c *Client) DeleteSnapshot(ctx context.Context, vm, name string) error {
	_, err := c.run(ctx, callOpts{slow: true}, "snapshot", vm, "delete", name)
	return err
}

// Snapshots runs `snapshot VM list --machinereadable`; a VM without
// snapshots (stdout notice, exit 1) gives an empty list. Not part of API:
// Info carries the same tree.
func (c *Client) Snapshots(ctx context.Context, vm string) ([]Snapshot, error) {
	noSnaps := false
	res, err := c.run(ctx, callOpts{check: func(args []string, r Result) error {
		if r.ExitCode == 1 && strings.Contains(r.Stdout, "does not have any snapshots") {
			noSnaps = true
			return nil
		}
		return defaultCheck(args, r)
	}}, "snapshot", vm, "list", "--machinereadable")
	if err != nil || noSnaps {
		return nil, err
	}
	return ParseSnapshotList(res.Stdout), nil
}

var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// CloneLinked runs `clonevm BASE --snapshot SNAP --options link --name NAME
// [--groups GROUP] --register` and returns the clone's UUID. VirtualBox
// prints only `Machine has been successfully cloned as "NAME"`, so the UUID
// is read back with showvminfo unless the output carries one.
func (c *Client) CloneLinked(ctx context.Context, base, snapshot, name, group string) (string, error) {
	res, err := c.cloneLinked(ctx, base, snapshot, name, group)
	if err != nil {
		return "", err
	}
	if u := uuidRE.FindString(res.Stdout); u != "" {
		return strings.ToLower(u), nil
	}
	info, err := c.Info(ctx, name)
	if err != nil {
		return "", fmt.Errorf("clone %s created, but reading it back failed: %w", name, err)
	}
	return info.UUID, nil
}

// CloneLinkedNamed is CloneLinked for a caller that refers to the clone by
// its name: the same clonevm, without the showvminfo read-back (one
// VBoxManage process less per clone).
func (c *Client) CloneLinkedNamed(ctx context.Context, base, snapshot, name, group string) error {
	_, err := c.cloneLinked(ctx, base, snapshot, name, group)
	return err
}

func (c *Client) cloneLinked(ctx context.Context, base, snapshot, name, group string) (Result, error) {
	args := []string{"clonevm", base, "--snapshot", snapshot, "--options", "link", "--name", name}
	if group != "" {
		args = append(args, "--groups", group)
	}
	args = append(args, "--register")
	return c.run(ctx, callOpts{slow: true}, args...)
}

var macRE = regexp.MustCompile(`^[0-9A-Fa-f]{12}$`)

// ModifyVM runs `modifyvm VM` with the non-zero settings. The pre-7.0
// option spellings (--bridgeadapter1, --macaddress1) work on 6.1 and 7.x.
func (c *Client) ModifyVM(ctx context.Context, vm string, s HardwareSettings) error {
	args := []string{"modifyvm", vm}
	if s.BridgeAdapter != "" {
		args = append(args, "--nic1", "bridged", "--bridgeadapter1", s.BridgeAdapter)
	}
	switch {
	case s.NATNetwork != "":
		args = append(args, "--nic1", "natnetwork", "--nat-network1", s.NATNetwork)
	case s.HostOnlyAdapter != "":
		args = append(args, "--nic1", "hostonly", "--hostonlyadapter1", s.HostOnlyAdapter)
	case s.HostOnlyNet != "":
		args = append(args, "--nic1", "hostonlynet", "--host-only-net1", s.HostOnlyNet)
	}
	if s.MAC != "" {
		mac := strings.ToUpper(strings.NewReplacer(":", "", "-", "").Replace(s.MAC))
		if s.MAC == "auto" {
			mac = "auto"
		} else if !macRE.MatchString(mac) {
			return fmt.Errorf("modifyvm %s: MAC address %q is not 12 hex digits or \"auto\"", vm, s.MAC)
		}
		args = append(args, "--macaddress1", mac)
	}
	if s.CPUs > 0 {
		args = append(args, "--cpus", strconv.Itoa(s.CPUs))
	}
	if s.MemoryMB > 0 {
		args = append(args, "--memory", strconv.Itoa(s.MemoryMB))
	}
	if s.Groups != "" {
		args = append(args, "--groups", s.Groups)
	}
	if len(args) == 2 {
		return nil // nothing to change; modifyvm without options is a syntax error
	}
	_, err := c.run(ctx, callOpts{}, args...)
	return err
}

// SetExtraData runs `setextradata VM KEY VALUE`; an empty value deletes the key.
func (c *Client) SetExtraData(ctx context.Context, vm, key, value string) error {
	args := []string{"setextradata", vm, key}
	if value != "" {
		args = append(args, value)
	}
	_, err := c.run(ctx, callOpts{}, args...)
	return err
}

// GetExtraData runs `getextradata VM KEY`; "" when unset.
func (c *Client) GetExtraData(ctx context.Context, vm, key string) (string, error) {
	res, err := c.run(ctx, callOpts{}, "getextradata", vm, key)
	if err != nil {
		return "", err
	}
	v, _, err := ParseValue(res.Stdout)
	if err != nil {
		return "", fmt.Errorf("getextradata %s %s: %w", vm, key, err)
	}
	return v, nil
}

// ExtraDataAll runs `getextradata VM enumerate`: every key the VM holds,
// in one call (listing many labs reads each VM once).
func (c *Client) ExtraDataAll(ctx context.Context, vm string) (map[string]string, error) {
	res, err := c.run(ctx, callOpts{}, "getextradata", vm, "enumerate")
	if err != nil {
		return nil, err
	}
	m, err := ParseExtraDataList(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("getextradata %s enumerate: %w", vm, err)
	}
	return m, nil
}

// Start runs `startvm VM --type headless` (never the GUI: hosts may have no
// display). A VM already running counts as started.
func (c *Client) Start(ctx context.Context, vm string) error {
	_, err := c.run(ctx, callOpts{slow: true}, "startvm", vm, "--type", "headless")
	if err != nil && errors.Is(err, ErrTransient) {
		// "already locked by a session" is also what a running VM answers.
		if info, ierr := c.Info(ctx, vm); ierr == nil && info.State == StateRunning {
			return nil
		}
	}
	return err
}

// PowerOff runs `controlvm VM poweroff` and waits until VMState is poweroff
// or aborted and no session holds the VM any more: right after a power-off
// the state already reads poweroff while the VM process still releases its
// lock, and an immediate modifyvm/unregistervm would fail. A saved VM has
// its state discarded; a VM already off is fine.
func (c *Client) PowerOff(ctx context.Context, vm string) error {
	_, err := c.run(ctx, callOpts{slow: true}, "controlvm", vm, "poweroff")
	if err != nil && !errors.Is(err, ErrNotRunning) && !errors.Is(err, ErrInvalidState) {
		return err
	}
	wait := orDefault(c.StopTimeout, 60*time.Second)
	every := orDefault(c.PollInterval, 500*time.Millisecond)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	discarded := false
	for {
		info, err := c.Info(wctx, vm)
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				return fmt.Errorf("power off %s: still not stopped after %s: %w", vm, wait, err)
			}
			return err
		}
		switch {
		case (info.State == StatePowerOff || info.State == StateAborted) && !info.SessionLocked:
			return nil
		case info.State == StateSaved && !info.SessionLocked && !discarded:
			if _, err := c.run(wctx, callOpts{}, "discardstate", vm); err != nil {
				return err
			}
			discarded = true
			continue
		}
		t := time.NewTimer(every)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("power off %s: VM is still %q (session held: %v) after %s", vm, info.State, info.SessionLocked, wait)
		case <-t.C:
		}
	}
}

// PowerButton runs `controlvm VM acpipowerbutton`: it asks the guest to
// shut down and returns at once; whether and when it stops is the guest's
// business (poll Info). Not part of API: only a graceful halt needs it.
func (c *Client) PowerButton(ctx context.Context, vm string) error {
	_, err := c.run(ctx, callOpts{}, "controlvm", vm, "acpipowerbutton")
	return err
}

// Delete runs `unregistervm VM --delete` (settings, logs and the clone's
// differencing disks). A VM that does not exist is already deleted.
func (c *Client) Delete(ctx context.Context, vm string) error {
	_, err := c.run(ctx, callOpts{slow: true}, "unregistervm", vm, "--delete")
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// GuestProperty runs `guestproperty get VM NAME`.
func (c *Client) GuestProperty(ctx context.Context, vm, name string) (string, bool, error) {
	res, err := c.run(ctx, callOpts{}, "guestproperty", "get", vm, name)
	if err != nil {
		return "", false, err
	}
	v, ok, err := ParseValue(res.Stdout)
	if err != nil {
		return "", false, fmt.Errorf("guestproperty get %s %s: %w", vm, name, err)
	}
	return v, ok, nil
}

// WaitGuestProperty polls GuestProperty every `every` until the property is
// set and accept (nil = any value) returns true. `guestproperty wait` is
// not used: it only reports the next change, never a value already there,
// and blocks without a timeout.
func (c *Client) WaitGuestProperty(ctx context.Context, vm, name string, every time.Duration, accept func(string) bool) (string, error) {
	every = orDefault(every, time.Second)
	last, seen := "", false
	for {
		v, ok, err := c.GuestProperty(ctx, vm, name)
		if err != nil && ctx.Err() == nil {
			return "", err
		}
		if err == nil && ok {
			last, seen = v, true
			if accept == nil || accept(v) {
				return v, nil
			}
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			if seen {
				return last, fmt.Errorf("waiting for guest property %s on %s (last value %q): %w", name, vm, last, ctx.Err())
			}
			return "", fmt.Errorf("waiting for guest property %s on %s (never set): %w", name, vm, ctx.Err())
		case <-t.C:
		}
	}
}

// errInterrupted: VBoxManage itself got SIGINT/SIGTERM during guestcontrol run.
var errInterrupted = errors.New("guest control was interrupted")

// GuestExitCode maps `guestcontrol run`'s exit code back to the guest
// process's: 0 → 0, 33..125 → code−32, 126 → 126 (meaning "94 or more";
// VirtualBox cannot tell which). Codes that describe VBoxManage's own
// outcome give ok=false: 18/19 (killed or abnormal), 20 (timeout), 22
// (interrupted), 1 (API error, e.g. guest not ready), 2 (syntax).
func GuestExitCode(code int) (guest int, ok bool) {
	switch {
	case code == 0:
		return 0, true
	case code >= 33 && code <= 125:
		return code - 32, true
	case code == 126:
		return 126, true
	}
	return -1, false
}

// guestCheck: guest stderr is copied raw to VBoxManage's stderr, so error
// lines are only VBoxManage's when the exit code is not a guest's.
func guestCheck(args []string, r Result) error {
	if _, ok := GuestExitCode(r.ExitCode); ok {
		return nil
	}
	e := &Error{Args: args, Result: r}
	switch r.ExitCode {
	case 18, 19:
		e.Err = ErrGuestKilled
	case 20:
		e.Err = ErrGuestTimeout
	case 22:
		e.Err = errInterrupted
	default:
		e.Err = classify(r)
	}
	return e
}

// GuestRun runs `guestcontrol VM run --username U --passwordfile F --timeout
// MS --wait-stdout --wait-stderr -- EXE ARGS...`. The password lives only
// in a 0600 temporary file removed on return. The exe is the first operand
// and no --exe is passed: that form means the same argv on 6.1 and 7.x
// (with --exe, 6.1 and 7.x disagree about argv[0]). A guest process that
// ran returns err == nil and its own exit code; VBoxManage failures return
// a *Error (ErrGuestNotReady, ErrAuth, ErrNotRunning, ErrGuestTimeout, ...).
func (c *Client) GuestRun(ctx context.Context, vm string, cred Credentials, timeout time.Duration, stdin []byte, exe string, args ...string) (GuestRunResult, error) {
	switch {
	case cred.User == "":
		return GuestRunResult{ExitCode: -1}, fmt.Errorf("guestcontrol %s: no guest user given", vm)
	case cred.Password == "":
		return GuestRunResult{ExitCode: -1}, fmt.Errorf("guestcontrol %s: user %s has no password; VirtualBox guest control cannot log on accounts without one: %w", vm, cred.User, ErrAuth)
	case strings.IndexFunc(cred.Password, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		// --passwordfile stops at the first control character.
		return GuestRunResult{ExitCode: -1}, fmt.Errorf("guestcontrol %s: the password of %s contains a control character, which VBoxManage --passwordfile cannot pass", vm, cred.User)
	case exe == "":
		return GuestRunResult{ExitCode: -1}, fmt.Errorf("guestcontrol %s: no program to run", vm)
	}
	timeout = orDefault(timeout, orDefault(c.GuestTimeout, 10*time.Minute))
	pwFile, err := writeSecretFile(c.TempDir, cred.Password)
	if err != nil {
		return GuestRunResult{ExitCode: -1}, fmt.Errorf("guestcontrol %s: %w", vm, err)
	}
	defer os.Remove(pwFile)

	argv := []string{"guestcontrol", vm, "run",
		"--username", cred.User,
		"--passwordfile", pwFile,
		"--timeout", strconv.FormatInt(timeout.Milliseconds(), 10), // guest-side kill; 0 would mean never
		"--wait-stdout", "--wait-stderr",
		"--", exe}
	argv = append(argv, args...)
	res, err := c.run(ctx, callOpts{
		stdin:   stdin,
		timeout: timeout + orDefault(c.GuestMargin, 30*time.Second),
		check:   guestCheck,
	}, argv...)
	out := GuestRunResult{Stdout: []byte(res.Stdout), Stderr: []byte(res.Stderr), ExitCode: -1}
	if err != nil {
		return out, err
	}
	out.ExitCode, _ = GuestExitCode(res.ExitCode)
	return out, nil
}

// writeSecretFile writes s to a new 0600 file and returns its path.
func writeSecretFile(dir, s string) (string, error) {
	f, err := os.CreateTemp(dir, "labctl-guestpw-*")
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	name := f.Name()
	if err := f.Chmod(0o600); err != nil && !isWindows() {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("password file: %w", err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("password file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("password file: %w", err)
	}
	return name, nil
}

// EnsureSnapshot makes sure vm (the base VM) has the snapshot `name` to
// clone from. When the VM has no snapshot at all and is powered off, it
// takes one (created = true). A VM with other snapshots, or a running one,
// is an error saying what to do: labctl never changes a prepared base
// behind the user's back.
func EnsureSnapshot(ctx context.Context, api API, vm, name string) (created bool, err error) {
	info, err := api.Info(ctx, vm)
	if errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("base VM %q is not registered in VirtualBox (`VBoxManage list vms` shows the names; fix base.vm in lab.toml): %w", vm, err)
	}
	if err != nil {
		return false, err
	}
	var names []string
	for _, s := range info.Snapshots {
		if s.Name == name || strings.EqualFold(s.UUID, name) {
			return false, nil
		}
		names = append(names, strconv.Quote(s.Name))
	}
	if len(names) > 0 {
		return false, fmt.Errorf("base VM %q has no snapshot %q (it has %s): set base.snapshot in lab.toml to one of them", vm, name, strings.Join(names, ", "))
	}
	if info.State != StatePowerOff && info.State != StateAborted {
		return false, fmt.Errorf("base VM %q has no snapshot and is %s: shut it down so labctl can take snapshot %q to clone from", vm, info.State, name)
	}
	if err := api.TakeSnapshot(ctx, vm, name, "Taken by labctl: the lab's linked clones are based on it.", false); err != nil {
		return false, err
	}
	return true, nil
}
