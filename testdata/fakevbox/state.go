package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Store is the whole fake VirtualBox installation, kept in
// $FAKEVBOX_HOME/state.json. Every invocation reads and rewrites it under an
// exclusive flock, because labctl runs several VBoxManage processes at once.
type Store struct {
	Config      Config            `json:"config"`
	VMs         []*VM             `json:"vms"` // registration order, as `list vms` prints it
	GlobalExtra map[string]string `json:"globalExtraData,omitempty"`
	// Networks (net.go): NAT networks, host-only interfaces and host-only networks.
	NATNets      []*NATNet     `json:"natNetworks,omitempty"`
	HostOnlyIfs  []HostIf      `json:"hostOnlyIfs,omitempty"`
	HostOnlyNets []HostOnlyNet `json:"hostOnlyNets,omitempty"`
}

// Config holds the knobs tests turn (through the ctl interface, see ctl.go).
type Config struct {
	Version        string            `json:"version"`                  // `--version` line, e.g. "7.0.14r161095"
	WrapperWarning bool              `json:"wrapperWarning,omitempty"` // Linux VBox.sh vboxdrv WARNING block on stdout
	Windows        bool              `json:"windows,omitempty"`        // "VBoxManage.exe:" prefix, CRLF, Windows code names
	GADelayMS      int64             `json:"gaDelayMs"`                // boot time until Guest Additions answer
	UnlockMS       int64             `json:"unlockWindowMs"`           // session release time after a power-off
	Latency        map[string]string `json:"latency,omitempty"`        // per command word, e.g. {"clonevm":"2s"}
	BridgedIfs     []HostIf          `json:"bridgedIfs"`
	MachineFolder  string            `json:"machineFolder"`
	// HostArch is what `list systemproperties` says 7.1 supports: "" = x86
	// host, "ARMv8" = Apple silicon / arm64 (§5.2, §6).
	HostArch string `json:"hostArch,omitempty"`
	// HostOS is the host system: "" = Linux, "darwin" = macOS (host-only
	// networks instead of host-only adapters on 7.x).
	HostOS string `json:"hostOs,omitempty"`
}

// HostIf is one host interface of `list bridgedifs`.
type HostIf struct {
	Name        string `json:"name"`
	GUID        string `json:"guid"`
	DHCP        bool   `json:"dhcp,omitempty"`
	IPAddress   string `json:"ipAddress"`
	NetworkMask string `json:"networkMask"`
	IPV6Address string `json:"ipv6Address,omitempty"`
	IPV6Prefix  int    `json:"ipv6Prefix,omitempty"`
	HWAddress   string `json:"hardwareAddress"` // lower case, colon separated
	Wireless    bool   `json:"wireless,omitempty"`
	Status      string `json:"status"` // Up, Down, Unknown
}

// Prop is one guest property.
type Prop struct {
	Value     string `json:"value"`
	Timestamp int64  `json:"timestamp"` // ns since the epoch
	Flags     string `json:"flags,omitempty"`
}

// NIC is one network adapter slot.
type NIC struct {
	Type          string `json:"type"` // none, nat, bridged, hostonly, intnet, null
	BridgeAdapter string `json:"bridgeAdapter,omitempty"`
	HostOnly      string `json:"hostOnlyAdapter,omitempty"`
	IntNet        string `json:"intnet,omitempty"`
	NATNetwork    string `json:"natNetwork,omitempty"`
	HostOnlyNet   string `json:"hostOnlyNet,omitempty"`
	MAC           string `json:"mac,omitempty"` // 12 upper-case hex digits
	Cable         bool   `json:"cable"`
	NICType       string `json:"nicType,omitempty"`
}

// Hardware is the part of a machine's settings a snapshot freezes and a
// clone copies (the guest-property list lives in the hardware section).
type Hardware struct {
	CPUs       int             `json:"cpus"`
	MemoryMB   int             `json:"memoryMb"`
	NICs       []NIC           `json:"nics"` // always 8 slots
	GuestProps map[string]Prop `json:"guestProps"`
}

// Snapshot is one node of a VM's snapshot tree.
type Snapshot struct {
	Name        string      `json:"name"`
	UUID        string      `json:"uuid"`
	Description string      `json:"description,omitempty"`
	Taken       time.Time   `json:"taken"`
	Online      bool        `json:"online,omitempty"` // taken while running: restoring gives "saved"
	Hardware    Hardware    `json:"hardware"`
	Children    []*Snapshot `json:"children,omitempty"`
}

// Link records where a linked clone's disk comes from.
type Link struct {
	VM       string `json:"vm"`       // source VM UUID
	Snapshot string `json:"snapshot"` // source snapshot UUID
}

// VM is one registered machine.
type VM struct {
	Name        string   `json:"name"`
	UUID        string   `json:"uuid"`
	Groups      []string `json:"groups"`
	OSType      string   `json:"ostype"`         // description, as showvminfo prints it
	Arch        string   `json:"arch,omitempty"` // platform architecture: "" = x86, "ARM"
	GuestOSType string   `json:"guestOsType"`    // id the Guest Additions report
	Description string   `json:"description,omitempty"`
	CfgFile     string   `json:"cfgFile"`
	Disk        string   `json:"disk"`
	DiskUUID    string   `json:"diskUuid"`
	Hardware
	ExtraData    map[string]string `json:"extraData"`
	State        string            `json:"state"` // showvminfo VMState value
	StateChanged time.Time         `json:"stateChanged"`
	SessionName  string            `json:"sessionName,omitempty"` // set while a session holds the VM
	StartedAt    time.Time         `json:"startedAt,omitempty"`
	UnlockUntil  time.Time         `json:"unlockUntil,omitempty"`
	GAVersion    string            `json:"gaVersion,omitempty"` // Guest Additions installed in the guest ("" = none)
	GARevision   string            `json:"gaRevision,omitempty"`
	GAUp         bool              `json:"gaUp,omitempty"`    // VBoxService is running in the guest
	GuestIP      string            `json:"guestIp,omitempty"` // the address the guest OS has configured on its first NIC
	Credentials  map[string]string `json:"credentials"`       // guest accounts: user -> password
	Snapshots    []*Snapshot       `json:"snapshots,omitempty"`
	Current      string            `json:"currentSnapshot,omitempty"`
	Linked       *Link             `json:"linkedFrom,omitempty"`
}

const (
	defaultVersion  = "7.0.14r161095"
	defaultPassword = "fakevbox-root-password"
	gaVersion       = "7.0.14"
	gaRevision      = "161095"
	baseGuestIP     = "192.0.2.50" // TEST-NET-1: never a real LAN
)

func statePath() string  { return filepath.Join(home, "state.json") }
func faultsPath() string { return filepath.Join(home, "faults.json") }
func guestRoot(uuid string) string {
	return filepath.Join(home, "guests", uuid)
}

// loadState reads the store, seeding a fresh installation when there is none.
// Callers hold the lock.
func loadState() (*Store, error) {
	b, err := os.ReadFile(statePath())
	if errors.Is(err, fs.ErrNotExist) {
		st, err := seed()
		if err != nil {
			return nil, err
		}
		return st, saveState(st)
	}
	if err != nil {
		return nil, err
	}
	var st Store
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("fakevbox: %s is corrupt: %w", statePath(), err)
	}
	return &st, nil
}

// saveState writes the store atomically (temp file + rename). Callers hold the lock.
func saveState(st *Store) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(statePath(), b)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newMAC is HostImpl::i_generateMACAddress: "080027%02X%02X%02X".
func newMAC() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("080027%02X%02X%02X", b[0], b[1], b[2])
}

func isUUID(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// find is IVirtualBox::FindMachine: a UUID (braces optional), a name (first
// registered match: names are not unique) or the settings file path.
func (st *Store) find(op string) *VM {
	if isUUID(op) {
		id := strings.ToLower(strings.Trim(op, "{}"))
		for _, v := range st.VMs {
			if v.UUID == id {
				return v
			}
		}
		return nil
	}
	for _, v := range st.VMs {
		if v.Name == op {
			return v
		}
	}
	for _, v := range st.VMs {
		if v.CfgFile == op {
			return v
		}
	}
	return nil
}

func (st *Store) remove(vm *VM) {
	out := st.VMs[:0]
	for _, v := range st.VMs {
		if v != vm {
			out = append(out, v)
		}
	}
	st.VMs = out
}

func (c Config) gaDelay() time.Duration { return time.Duration(c.GADelayMS) * time.Millisecond }
func (c Config) unlockWindow() time.Duration {
	return time.Duration(c.UnlockMS) * time.Millisecond
}

// isRunning: a VM process exists (controlvm works, write locks fail).
func (v *VM) isRunning() bool {
	switch v.State {
	case "running", "paused", "stuck", "gurumeditation", "livesnapshotting", "onlinesnapshotting":
		return true
	}
	return false
}

// sessionLocked: a write lock (modifyvm, startvm, unregistervm) would fail.
func (v *VM) sessionLocked(now time.Time) bool {
	return v.isRunning() || now.Before(v.UnlockUntil)
}

func (v *VM) setState(s string, now time.Time) {
	v.State = s
	v.StateChanged = now
}

// tick applies what happened inside running guests since the last call:
// Guest Additions come up GADelay after startvm and write their properties.
// Timestamps are the event's time, not the observer's.
func (st *Store) tick(now time.Time) {
	for _, v := range st.VMs {
		if !v.isRunning() || v.GAUp || v.GAVersion == "" {
			continue
		}
		at := v.StartedAt.Add(st.Config.gaDelay())
		if now.Before(at) {
			continue
		}
		v.GAUp = true
		ts := at.UnixNano()
		set := func(name, value string) {
			v.GuestProps[name] = Prop{Value: value, Timestamp: ts}
		}
		set("/VirtualBox/GuestAdd/Version", v.GAVersion)
		set("/VirtualBox/GuestAdd/VersionExt", v.GAVersion)
		set("/VirtualBox/GuestAdd/Revision", v.GARevision)
		set("/VirtualBox/GuestInfo/OS/Product", "Linux")
		set("/VirtualBox/GuestInfo/OS/Release", "4.18.0-305.3.1.el8_4.x86_64")
		set("/VirtualBox/GuestInfo/OS/LoggedInUsers", "0")
		set("/VirtualBox/GuestInfo/OS/NoLoggedInUsers", "true")
		// The guest reports the address its OS has configured; a fresh
		// clone still carries the template's network configuration.
		n := 0
		if v.GuestIP != "" && v.NICs[0].Type != "none" {
			set("/VirtualBox/GuestInfo/Net/0/V4/IP", v.GuestIP)
			set("/VirtualBox/GuestInfo/Net/0/V4/Netmask", "255.255.255.0")
			set("/VirtualBox/GuestInfo/Net/0/MAC", v.NICs[0].MAC)
			set("/VirtualBox/GuestInfo/Net/0/Status", "Up")
			set("/VirtualBox/GuestInfo/Net/0/Name", "enp0s3")
			n = 1
		}
		set("/VirtualBox/GuestInfo/Net/Count", fmt.Sprint(n))
	}
}

// setGuestIP is the guest reconfiguring its first interface.
func (v *VM) setGuestIP(ip string, now time.Time) {
	v.GuestIP = ip
	if v.isRunning() && v.GAUp {
		v.GuestProps["/VirtualBox/GuestInfo/Net/0/V4/IP"] = Prop{Value: ip, Timestamp: now.UnixNano()}
	}
}

// dropTransient removes TRANSIENT properties when the VM process ends.
func (v *VM) dropTransient() {
	for k, p := range v.GuestProps {
		if strings.Contains(p.Flags, "TRANSIENT") {
			delete(v.GuestProps, k)
		}
	}
}

func (v *VM) dir() string { return filepath.Dir(v.CfgFile) }

// findSnapshot by name (first in depth-first order) or UUID.
func (v *VM) findSnapshot(op string) *Snapshot {
	var found *Snapshot
	id := strings.ToLower(strings.Trim(op, "{}"))
	walkSnapshots(v.Snapshots, func(s *Snapshot, _ string, _ int) {
		if found == nil && (s.UUID == id || s.Name == op) {
			found = s
		}
	})
	return found
}

// walkSnapshots visits the tree depth-first with showvminfo's key suffix
// ("", "-1", "-1-2", ...) and the depth.
func walkSnapshots(roots []*Snapshot, fn func(s *Snapshot, sfx string, depth int)) {
	var walk func(list []*Snapshot, sfx string, depth int, top bool)
	walk = func(list []*Snapshot, sfx string, depth int, top bool) {
		for i, s := range list {
			my := sfx
			if !top {
				my = fmt.Sprintf("%s-%d", sfx, i+1)
			}
			fn(s, my, depth)
			walk(s.Children, my, depth+1, false)
		}
	}
	walk(roots, "", 0, true)
}

func (v *VM) snapshotParent(target *Snapshot) (parent *Snapshot, siblings *[]*Snapshot) {
	if containsSnap(v.Snapshots, target) {
		return nil, &v.Snapshots
	}
	var res *Snapshot
	walkSnapshots(v.Snapshots, func(s *Snapshot, _ string, _ int) {
		if containsSnap(s.Children, target) {
			res = s
		}
	})
	if res == nil {
		return nil, nil
	}
	return res, &res.Children
}

func containsSnap(list []*Snapshot, t *Snapshot) bool {
	for _, s := range list {
		if s == t {
			return true
		}
	}
	return false
}

func copyHardware(h Hardware) Hardware {
	out := h
	out.NICs = append([]NIC(nil), h.NICs...)
	out.GuestProps = make(map[string]Prop, len(h.GuestProps))
	for k, p := range h.GuestProps {
		out.GuestProps[k] = p
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sanitize is the file-system-safe form of a VM name used for its folder.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
}

// settingsFile is IVirtualBox::ComposeMachineFilename.
func settingsFile(baseFolder, group, name string) string {
	g := ""
	if group != "/" {
		g = filepath.FromSlash(group)
	}
	n := sanitize(name)
	return filepath.Join(baseFolder, g, n, n+".vbox")
}

// writeVMFiles creates the settings file and disk the VM folder holds.
func writeVMFiles(v *VM) error {
	if err := os.MkdirAll(filepath.Join(v.dir(), "Logs"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(v.Disk), 0o755); err != nil {
		return err
	}
	cfg := fmt.Sprintf("<?xml version=\"1.0\"?>\n<!-- fakevbox settings file; the truth is in %s -->\n<VirtualBox><Machine uuid=\"{%s}\" name=\"%s\"/></VirtualBox>\n",
		statePath(), v.UUID, v.Name)
	if err := os.WriteFile(v.CfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.WriteFile(v.Disk, []byte("fakevbox disk image\n"), 0o600)
}

func emptyNICs() []NIC {
	n := make([]NIC, 8)
	for i := range n {
		n[i] = NIC{Type: "none"}
	}
	return n
}

// seed builds the initial installation: the lab's base VM plus VMs labctl
// must never touch.
func seed() (*Store, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	st := &Store{Config: Config{
		Version:       defaultVersion,
		GADelayMS:     200,
		MachineFolder: filepath.Join(home, "VirtualBox VMs"),
		BridgedIfs: []HostIf{{
			Name: "eth0", GUID: "30687465-0000-4000-8000-00155dfb9a09",
			IPAddress: "192.0.2.10", NetworkMask: "255.255.255.0",
			HWAddress: "00:15:5d:fb:9a:09", Status: "Up",
		}},
	}}
	mk := func(name, group, ostype, guestOS string, cpus, mem int) *VM {
		v := &VM{
			Name: name, UUID: newUUID(), Groups: []string{group}, OSType: ostype, GuestOSType: guestOS,
			Hardware:  Hardware{CPUs: cpus, MemoryMB: mem, NICs: emptyNICs(), GuestProps: map[string]Prop{}},
			ExtraData: map[string]string{}, Credentials: map[string]string{},
			State: "poweroff", StateChanged: now.Add(-24 * time.Hour), DiskUUID: newUUID(),
		}
		v.CfgFile = settingsFile(st.Config.MachineFolder, group, name)
		v.Disk = filepath.Join(v.dir(), sanitize(name)+"-disk1.vdi")
		st.VMs = append(st.VMs, v)
		return v
	}
	old := now.Add(-30 * 24 * time.Hour).UnixNano()

	base := mk("AlmaLinux-8.4", "/", "Red Hat (64-bit)", "RedHat_64", 1, 1024)
	base.NICs[0] = NIC{Type: "bridged", BridgeAdapter: "eth0", MAC: newMAC(), Cable: true, NICType: "82540EM"}
	base.GAVersion, base.GARevision = gaVersion, gaRevision
	base.GuestIP = baseGuestIP
	base.Credentials["root"] = defaultPassword
	// Persisted from the template's last boot: what a fresh clone reports
	// until its own VBoxService overwrites it.
	for k, val := range map[string]string{
		"/VirtualBox/GuestAdd/Version":           gaVersion,
		"/VirtualBox/GuestAdd/Revision":          gaRevision,
		"/VirtualBox/GuestInfo/Net/Count":        "1",
		"/VirtualBox/GuestInfo/Net/0/V4/IP":      baseGuestIP,
		"/VirtualBox/GuestInfo/Net/0/MAC":        base.NICs[0].MAC,
		"/VirtualBox/GuestInfo/Net/0/Status":     "Up",
		"/VirtualBox/GuestInfo/OS/Product":       "Linux",
		"/VirtualBox/GuestInfo/OS/LoggedInUsers": "0",
	} {
		base.GuestProps[k] = Prop{Value: val, Timestamp: old}
	}

	win := mk("win10-dev", "/", "Windows 10 (64-bit)", "Windows10_64", 2, 4096)
	win.NICs[0] = NIC{Type: "nat", MAC: newMAC(), Cable: true, NICType: "82540EM"}
	win.setState("running", now.Add(-2*time.Hour))
	win.StartedAt = win.StateChanged
	win.SessionName = "GUI/Qt"
	win.GAVersion, win.GARevision, win.GuestIP = gaVersion, gaRevision, "10.0.2.15"
	win.Credentials["dev"] = "not-the-lab-password"
	win.ExtraData["GUI/LastCloseAction"] = "PowerOff"

	ub := mk("ubuntu-22.04", "/", "Ubuntu (64-bit)", "Ubuntu_64", 2, 2048)
	ub.NICs[0] = NIC{Type: "nat", MAC: newMAC(), Cable: true, NICType: "82540EM"}
	snap := &Snapshot{Name: "clean-install", UUID: newUUID(), Description: "fresh install", Taken: now.Add(-48 * time.Hour), Hardware: copyHardware(ub.Hardware)}
	ub.Snapshots = []*Snapshot{snap}
	ub.Current = snap.UUID

	other := mk("web-01", "/labctl/other-lab", "Red Hat (64-bit)", "RedHat_64", 1, 1024)
	other.NICs[0] = NIC{Type: "bridged", BridgeAdapter: "eth0", MAC: newMAC(), Cable: true, NICType: "82540EM"}
	other.ExtraData["labctl/lab"] = "other-lab"
	other.GAVersion, other.GARevision, other.GuestIP = gaVersion, gaRevision, "192.0.2.160"

	for _, v := range st.VMs {
		if err := writeVMFiles(v); err != nil {
			return nil, err
		}
		if err := seedGuest(v); err != nil {
			return nil, err
		}
	}
	st.tick(now) // win10-dev has been up for hours
	return st, nil
}

// seedGuest creates the guest's root file system: the folder guestcontrol
// commands run in (FAKEGUEST_ROOT).
func seedGuest(v *VM) error {
	root := guestRoot(v.UUID)
	for _, d := range []string{"etc", "root", "tmp", ".fakeguest/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/hostname":   "localhost.localdomain\n",
		"etc/os-release": "NAME=\"AlmaLinux\"\nVERSION=\"8.4 (Electric Cheetah)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.4\"\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies a guest file system (small trees: the fake's guests).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
		return nil // sockets, fifos: not part of a disk image copy
	})
}
