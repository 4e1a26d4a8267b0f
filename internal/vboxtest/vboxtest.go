// Package vboxtest gives tests a stateful fake VBoxManage: the program in
// testdata/fakevbox, built once per test process, with a fresh
// FAKEVBOX_HOME per test. The fake keeps its VMs in FAKEVBOX_HOME/state.json,
// logs every argv to FAKEVBOX_HOME/argv.log and reads injected faults from
// FAKEVBOX_HOME/faults.json; this package reads and steers all three.
//
// Guests: `guestcontrol VM run` executes the guest argv as a host process
// whose working directory is the VM's guest root (GuestRoot, also in
// $FAKEGUEST_ROOT), with PATH = $FAKEGUEST_ROOT/.fakeguest/bin,
// $FAKEVBOX_HOME/guestbin, then the host's PATH (drop stub tools there), and
// stdin passed through. A guest command that writes an address to
// $FAKEGUEST_ROOT/.fakeguest/net0-ipv4 changes what the Guest Additions
// report as /VirtualBox/GuestInfo/Net/0/V4/IP. Clones copy the guest root
// and the credentials of the snapshot/VM they come from.
//
// Project rules the fake enforces by failing (exit 99, "VIOLATION" on
// stderr, recorded for Violations): a guest password anywhere on argv,
// guestcontrol --password, and a --passwordfile readable by group/others.
package vboxtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The seeded installation.
const (
	BaseVM               = "AlmaLinux-8.4"          // poweroff, Guest Additions 7.0.14, no snapshots
	GuestUser            = "root"                   // the base VM's guest account
	DefaultGuestPassword = "fakevbox-root-password" // until SetGuestPassword
	OtherLab             = "other-lab"              // labctl/lab tag of the VM in another lab
	DefaultVersion       = "7.0.14r161095"
	BridgeIf             = "eth0"       // the one default host interface, Up
	BridgeIfIP           = "192.0.2.10" // in TEST-NET-1 (192.0.2.0/24)
	BaseGuestIP          = "192.0.2.50" // the base guest's configured (and stale, persisted) address
)

// UnrelatedVMs must survive every labctl operation untouched: win10-dev
// (running), ubuntu-22.04 (poweroff, one snapshot) and web-01 (group
// /labctl/other-lab, tagged labctl/lab=other-lab).
var UnrelatedVMs = []string{"win10-dev", "ubuntu-22.04", "web-01"}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// Build compiles labctl/testdata/fakevbox once per test process and returns
// the binary's path (named VBoxManage, as labctl would find it).
func Build(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "labctl-fakevbox-")
		if err != nil {
			build.err = err
			return
		}
		name := "VBoxManage"
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, "labctl/testdata/fakevbox")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("building the fake VBoxManage: %v\n%s", err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// Fake is one fake VirtualBox installation.
type Fake struct {
	Bin  string // pass as --vboxmanage
	Home string // FAKEVBOX_HOME
	t    testing.TB
	seed map[string]json.RawMessage // unrelated VMs as seeded, by name
}

// Option configures New.
type Option func(f *Fake)

// WithVersion sets the `--version` line, e.g. "6.1.38_Ubuntur153438".
func WithVersion(v string) Option { return func(f *Fake) { f.SetVersion(v) } }

// WithGuestPassword sets the base VM's root password.
func WithGuestPassword(pw string) Option { return func(f *Fake) { f.SetGuestPassword(pw) } }

// WithGuestAdditionsDelay sets how long after startvm the Guest Additions answer.
func WithGuestAdditionsDelay(d time.Duration) Option {
	return func(f *Fake) { f.SetGuestAdditionsDelay(d) }
}

// WithUnlockWindow keeps a powered-off VM's session "being unlocked" for d.
func WithUnlockWindow(d time.Duration) Option { return func(f *Fake) { f.SetUnlockWindow(d) } }

// WithWrapperWarning makes every call print the Linux wrapper's vboxdrv WARNING block on stdout.
func WithWrapperWarning() Option { return func(f *Fake) { f.SetWrapperWarning(true) } }

// WithGuestExec lets `guestcontrol run` execute guest programs, which the
// fake runs as host processes: only for tests whose guest commands are
// harmless (never a labctl pipeline). Off by default.
func WithGuestExec() Option {
	return func(f *Fake) { f.t.Setenv("FAKEVBOX_GUEST_EXEC", "1") }
}

// WithWindows makes the fake talk like VBoxManage.exe (prefix, CRLF, Win32 code names).
func WithWindows() Option { return func(f *Fake) { f.ctl("", "set-windows", "true") } }

// WithBridgedIfs replaces the host interfaces `list bridgedifs` reports.
func WithBridgedIfs(ifs ...HostIf) Option { return func(f *Fake) { f.SetBridgedIfs(ifs) } }

// New creates a fresh installation in t.TempDir(), seeded with the base VM
// and the unrelated VMs, and sets FAKEVBOX_HOME with t.Setenv (so tests
// using it cannot be parallel).
func New(t testing.TB, opts ...Option) *Fake {
	t.Helper()
	f := &Fake{Bin: Build(t), Home: t.TempDir(), t: t}
	t.Setenv("FAKEVBOX_HOME", f.Home)
	f.ctl("", "seed")
	for _, o := range opts {
		o(f)
	}
	f.seed = map[string]json.RawMessage{}
	for name, raw := range f.rawVMs() {
		for _, u := range UnrelatedVMs {
			if name == u {
				f.seed[name] = raw
			}
		}
	}
	return f
}

// Env is the environment to run the fake (or labctl using it) with.
func (f *Fake) Env() []string { return append(os.Environ(), "FAKEVBOX_HOME="+f.Home) }

func (f *Fake) ctl(stdin string, args ...string) {
	f.t.Helper()
	cmd := exec.Command(f.Bin, args...)
	cmd.Env = append(f.Env(), "FAKEVBOX_CTL=1")
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("fake VBoxManage control %s: %v\n%s", args[0], err, out)
	}
}

// Result is one finished fake invocation.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run invokes the fake like labctl would (it is logged like any call).
func (f *Fake) Run(args ...string) Result { return f.RunStdin("", args...) }

// RunStdin is Run with standard input.
func (f *Fake) RunStdin(stdin string, args ...string) Result {
	f.t.Helper()
	cmd := exec.Command(f.Bin, args...)
	cmd.Env = f.Env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		f.t.Fatalf("running the fake: %v", err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// Call is one logged invocation.
type Call struct {
	Time time.Time `json:"time"`
	PID  int       `json:"pid"`
	Argv []string  `json:"argv"`
}

// Calls parses argv.log.
func (f *Fake) Calls() []Call {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.Home, "argv.log"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var calls []Call
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var c Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			f.t.Fatalf("argv.log line %q: %v", sc.Text(), err)
		}
		calls = append(calls, c)
	}
	return calls
}

// Argv is every logged argv, in order.
func (f *Fake) Argv() [][]string {
	var out [][]string
	for _, c := range f.Calls() {
		out = append(out, c.Argv)
	}
	return out
}

// MutatingCalls is Argv without the read-only commands (see IsMutating).
func (f *Fake) MutatingCalls() [][]string {
	var out [][]string
	for _, a := range f.Argv() {
		if IsMutating(a) {
			out = append(out, a)
		}
	}
	return out
}

// IsMutating reports whether a VBoxManage argv may change anything: all but
// --version, list, showvminfo, getextradata, guestproperty
// get|enumerate|wait, snapshot list|showvminfo and import -n.
func IsMutating(argv []string) bool {
	for len(argv) > 0 && (argv[0] == "--nologo" || argv[0] == "-q") {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return false
	}
	switch argv[0] {
	case "--version", "-V", "-v", "-version", "-Version", "list", "showvminfo", "getextradata":
		return false
	case "guestproperty":
		return len(argv) > 1 && argv[1] != "get" && argv[1] != "enumerate" && argv[1] != "wait"
	case "snapshot":
		return len(argv) > 2 && argv[2] != "list" && argv[2] != "showvminfo"
	case "import":
		for _, a := range argv[1:] {
			if a == "-n" || a == "--dry-run" || a == "--dryrun" {
				return false
			}
		}
	}
	return true
}

// ArgvContaining returns every logged argv with an element containing s
// (e.g. a password that must never be on a command line).
func (f *Fake) ArgvContaining(s string) [][]string {
	var out [][]string
	for _, a := range f.Argv() {
		for _, x := range a {
			if strings.Contains(x, s) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// Violations lists the project-rule breaches the fake caught (a password on
// argv, a password file readable by others). Each also failed its call.
func (f *Fake) Violations() []string {
	b, err := os.ReadFile(filepath.Join(f.Home, "violations.log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// Fault is one injected failure rule; see testdata/fakevbox.
type Fault struct {
	Match    string `json:"match,omitempty"` // substring of the space-joined argv (after global options); "/re/" = regex
	Regex    string `json:"regex,omitempty"` // or a regular expression over it
	Kind     string `json:"kind"`            // "fail" | "lock" | "slow" | "exit"
	Times    int    `json:"times"`           // uses left; 0 = always
	Delay    string `json:"delay,omitempty"` // e.g. "2s"; required for slow
	Message  string `json:"message,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"` // for exit (default 1)
}

// AddFault appends a rule to faults.json.
func (f *Fake) AddFault(r Fault) {
	f.t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ctl("", "add-fault", string(b))
}

// Faults returns the rules still pending.
func (f *Fake) Faults() []Fault {
	b, err := os.ReadFile(filepath.Join(f.Home, "faults.json"))
	if err != nil {
		return nil
	}
	var rules []Fault
	if err := json.Unmarshal(b, &rules); err != nil {
		f.t.Fatal(err)
	}
	return rules
}

// SetLatency makes each named command (first argv word, e.g. "clonevm")
// take at least d.
func (f *Fake) SetLatency(m map[string]time.Duration) {
	s := map[string]string{}
	for k, d := range m {
		s[k] = d.String()
	}
	b, _ := json.Marshal(s)
	f.ctl("", "set-latency", string(b))
}

// SetGuestAdditionsDelay sets the boot time before a started VM's Guest
// Additions answer (GuestAdditionsRunLevel=2, guest properties, guestcontrol).
func (f *Fake) SetGuestAdditionsDelay(d time.Duration) {
	f.ctl("", "set-ga-delay", strconv.FormatInt(d.Milliseconds(), 10))
}

// SetUnlockWindow keeps the session "being unlocked" for d after a power-off.
func (f *Fake) SetUnlockWindow(d time.Duration) {
	f.ctl("", "set-unlock-window", strconv.FormatInt(d.Milliseconds(), 10))
}

// SetVersion sets the `--version` line; a 6.x version also switches the
// 6.1 behaviours (enumerate format, option spellings, --exe argv).
func (f *Fake) SetVersion(v string) { f.ctl("", "set-version", v) }

// SetWrapperWarning toggles the Linux wrapper's WARNING block.
func (f *Fake) SetWrapperWarning(on bool) { f.ctl("", "set-wrapper-warning", strconv.FormatBool(on)) }

// SetGuestPassword sets the base VM's root password (clones copy it).
func (f *Fake) SetGuestPassword(pw string) { f.SetGuestCredentials(BaseVM, GuestUser, pw) }

// SetGuestCredentials sets one guest account's password on vm.
func (f *Fake) SetGuestCredentials(vm, user, pw string) { f.ctl(pw, "set-password", vm, user) }

// SetGuestIP makes vm's guest OS use ip on its first interface (reported
// once its Guest Additions run). Guest commands can do the same by writing
// the address to $FAKEGUEST_ROOT/.fakeguest/net0-ipv4.
func (f *Fake) SetGuestIP(vm, ip string) { f.ctl("", "set-guest-ip", vm, ip) }

// HostIf is one `list bridgedifs` interface.
type HostIf struct {
	Name        string `json:"name"`
	GUID        string `json:"guid"`
	DHCP        bool   `json:"dhcp,omitempty"`
	IPAddress   string `json:"ipAddress"`
	NetworkMask string `json:"networkMask"`
	IPV6Address string `json:"ipv6Address,omitempty"`
	IPV6Prefix  int    `json:"ipv6Prefix,omitempty"`
	HWAddress   string `json:"hardwareAddress"`
	Wireless    bool   `json:"wireless,omitempty"`
	Status      string `json:"status"`
}

// SetBridgedIfs replaces the host's interfaces.
func (f *Fake) SetBridgedIfs(ifs []HostIf) {
	b, _ := json.Marshal(ifs)
	f.ctl("", "set-bridgedifs", string(b))
}

// GuestRoot is the folder a VM's guest commands run in (FAKEGUEST_ROOT).
func (f *Fake) GuestRoot(vm string) string {
	f.t.Helper()
	v := f.State().VM(vm)
	if v == nil {
		f.t.Fatalf("no VM %q in the fake", vm)
	}
	return filepath.Join(f.Home, "guests", v.UUID)
}

// State is a typed read of the fake's state.json.
type State struct {
	VMs []VM `json:"vms"`
	// The fake's networks (testdata/fakevbox/net.go).
	NATNets     []NATNet `json:"natNetworks"`
	HostOnlyIfs []struct {
		Name        string `json:"name"`
		IPAddress   string `json:"ipAddress"`
		NetworkMask string `json:"networkMask"`
	} `json:"hostOnlyIfs"`
}

// NATNet is one NAT network of the fake.
type NATNet struct {
	Name      string   `json:"name"`
	Network   string   `json:"network"`
	Enabled   bool     `json:"enabled"`
	DHCP      bool     `json:"dhcp"`
	Forwards4 []string `json:"forwards4"`
}

// NATNet returns the NAT network named name, or nil.
func (s State) NATNet(name string) *NATNet {
	for i := range s.NATNets {
		if s.NATNets[i].Name == name {
			return &s.NATNets[i]
		}
	}
	return nil
}

// VM is one registered machine.
type VM struct {
	Name            string            `json:"name"`
	UUID            string            `json:"uuid"`
	State           string            `json:"state"` // VMState: poweroff, running, saved, ...
	Groups          []string          `json:"groups"`
	CfgFile         string            `json:"cfgFile"`
	Disk            string            `json:"disk"`
	CPUs            int               `json:"cpus"`
	MemoryMB        int               `json:"memoryMb"`
	NICs            []NIC             `json:"nics"`
	ExtraData       map[string]string `json:"extraData"`
	GuestProps      map[string]Prop   `json:"guestProps"`
	Snapshots       []Snapshot        `json:"snapshots"`
	CurrentSnapshot string            `json:"currentSnapshot"`
	SessionName     string            `json:"sessionName"`
	GuestIP         string            `json:"guestIp"`
	LinkedFrom      *struct {
		VM       string `json:"vm"`
		Snapshot string `json:"snapshot"`
	} `json:"linkedFrom"`
	// DiskPathExists: the VM's folder (settings file and disks) is on disk.
	DiskPathExists bool `json:"-"`
}

// NIC is one adapter slot (index 0 = nic1).
type NIC struct {
	Type          string `json:"type"` // none, nat, bridged, ...
	BridgeAdapter string `json:"bridgeAdapter"`
	MAC           string `json:"mac"`
	NATNetwork    string `json:"natNetwork"`
	HostOnly      string `json:"hostOnlyAdapter"`
}

// Prop is one guest property.
type Prop struct {
	Value     string `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Flags     string `json:"flags"`
}

// Snapshot is one node of a snapshot tree.
type Snapshot struct {
	Name        string     `json:"name"`
	UUID        string     `json:"uuid"`
	Description string     `json:"description"`
	Children    []Snapshot `json:"children"`
}

// VM finds a VM by name (first registered) or UUID; nil when absent.
func (s State) VM(nameOrUUID string) *VM {
	for i := range s.VMs {
		if s.VMs[i].Name == nameOrUUID || s.VMs[i].UUID == nameOrUUID {
			return &s.VMs[i]
		}
	}
	return nil
}

// Names lists the registered VMs in registration order.
func (s State) Names() []string {
	var out []string
	for _, v := range s.VMs {
		out = append(out, v.Name)
	}
	return out
}

// SnapshotNames lists a VM's snapshots depth-first.
func (v VM) SnapshotNames() []string {
	var out []string
	var walk func([]Snapshot)
	walk = func(l []Snapshot) {
		for _, s := range l {
			out = append(out, s.Name)
			walk(s.Children)
		}
	}
	walk(v.Snapshots)
	return out
}

func (f *Fake) readState() []byte {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.Home, "state.json"))
	if err != nil {
		f.t.Fatalf("reading the fake's state: %v", err)
	}
	return b
}

// State reads the fake's current state.
func (f *Fake) State() State {
	f.t.Helper()
	var s State
	if err := json.Unmarshal(f.readState(), &s); err != nil {
		f.t.Fatalf("parsing the fake's state: %v", err)
	}
	for i := range s.VMs {
		if s.VMs[i].CfgFile != "" {
			_, err := os.Stat(filepath.Dir(s.VMs[i].CfgFile))
			s.VMs[i].DiskPathExists = err == nil
		}
	}
	return s
}

func (f *Fake) rawVMs() map[string]json.RawMessage {
	var s struct {
		VMs []json.RawMessage `json:"vms"`
	}
	if err := json.Unmarshal(f.readState(), &s); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, raw := range s.VMs {
		var v struct {
			Name string `json:"name"`
		}
		json.Unmarshal(raw, &v)
		if _, dup := out[v.Name]; !dup {
			out[v.Name] = raw
		}
	}
	return out
}

// UnrelatedUntouched returns an error naming any unrelated VM that was
// removed or changed in any way since New (settings, state, extradata,
// guest properties, snapshots), or whose files are gone.
func (f *Fake) UnrelatedUntouched() error {
	now := f.rawVMs()
	var problems []string
	for _, name := range UnrelatedVMs {
		was, is := f.seed[name], now[name]
		switch {
		case is == nil:
			problems = append(problems, name+" was unregistered")
		case !bytes.Equal(was, is):
			problems = append(problems, name+" was modified")
		}
	}
	st := f.State()
	for _, name := range UnrelatedVMs {
		if v := st.VM(name); v != nil && !v.DiskPathExists {
			problems = append(problems, name+"'s files were deleted")
		}
	}
	if len(problems) > 0 {
		return errors.New("unrelated VMs touched: " + strings.Join(problems, "; "))
	}
	return nil
}
