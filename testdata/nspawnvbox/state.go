package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// VM is one registered machine, persisted as vms/<uuid>/vm.json (the
// backend's ".vbox" file).
type VM struct {
	UUID        string            `json:"uuid"`
	Name        string            `json:"name"`
	Groups      []string          `json:"groups"`
	OSType      string            `json:"ostype"`
	Description string            `json:"description,omitempty"`
	CPUs        int               `json:"cpus"`
	MemoryMB    int               `json:"memory"`
	NIC         NIC               `json:"nic1"`
	ExtraData   map[string]string `json:"extradata"`
	GuestProps  map[string]Prop   `json:"guestprops"`
	Snapshots   []*Snap           `json:"snapshots"` // in creation order; tree via Parent
	Current     string            `json:"current,omitempty"`
	// Lowers are the read-only layers under this VM's upper dir, topmost first:
	// the source snapshot's copies down to the base rootfs.
	Lowers      []string  `json:"lowers"`
	Base        bool      `json:"base,omitempty"` // the registered base rootfs VM
	State       string    `json:"state"`          // persisted state when no machine runs
	StateChange time.Time `json:"stateChange"`
	Registered  int64     `json:"registered"`
}

// NIC is adapter 1, the only one labctl configures.
type NIC struct {
	Type    string `json:"type"` // "none", "nat", "bridged", ...
	Bridge  string `json:"bridge,omitempty"`
	NATNet  string `json:"natnet,omitempty"` // --nat-network1: the NAT network (natnet.go)
	MAC     string `json:"mac"`              // 12 upper-case hex digits
	Cable   bool   `json:"cable"`
	NICType string `json:"nictype"`
}

// Prop is a guest property set through `guestproperty set`.
type Prop struct {
	Value string `json:"value"`
	TS    int64  `json:"ts"`
	Flags string `json:"flags,omitempty"`
}

// Snap is one snapshot: a copy of the VM's upper dir at the time it was taken.
type Snap struct {
	UUID        string    `json:"uuid"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Parent      string    `json:"parent,omitempty"`
	Taken       time.Time `json:"taken"`
	Online      bool      `json:"online"` // taken while the machine ran
}

// Runtime describes a running machine (vms/<uuid>/run.json), written by the monitor.
type Runtime struct {
	MonitorPID int       `json:"monitorPid"`
	NspawnPID  int       `json:"nspawnPid"`
	InitPID    int       `json:"initPid"`
	Netns      string    `json:"netns"`
	HostVeth   string    `json:"hostVeth"`
	Cgroup     string    `json:"cgroup"`
	Root       string    `json:"root"`
	Machine    string    `json:"machine"`
	Started    time.Time `json:"started"`
}

type store struct {
	home string
	lk   *os.File
}

func openStore(home string) (*store, error) {
	if err := os.MkdirAll(filepath.Join(home, "vms"), 0o755); err != nil {
		return nil, err
	}
	s := &store{home: home}
	if err := s.ensureBase(); err != nil {
		return nil, err
	}
	return s, nil
}

// lock takes the registry lock: held only for short reads-modify-writes of
// vm.json, never while a machine boots or a guest command runs.
func (s *store) lock() {
	f, err := os.OpenFile(filepath.Join(s.home, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		panic(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		panic(err)
	}
	s.lk = f
}

func (s *store) unlock() {
	if s.lk != nil {
		_ = syscall.Flock(int(s.lk.Fd()), syscall.LOCK_UN)
		_ = s.lk.Close()
		s.lk = nil
	}
}

func (s *store) vmDir(uuid string) string { return filepath.Join(s.home, "vms", uuid) }

func (s *store) all() []*VM {
	ents, _ := os.ReadDir(filepath.Join(s.home, "vms"))
	var out []*VM
	for _, e := range ents {
		vm, err := s.load(e.Name())
		if err == nil {
			out = append(out, vm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Registered < out[j].Registered })
	return out
}

func (s *store) load(uuid string) (*VM, error) {
	b, err := os.ReadFile(filepath.Join(s.vmDir(uuid), "vm.json"))
	if err != nil {
		return nil, err
	}
	vm := &VM{}
	if err := json.Unmarshal(b, vm); err != nil {
		return nil, err
	}
	if vm.ExtraData == nil {
		vm.ExtraData = map[string]string{}
	}
	if vm.GuestProps == nil {
		vm.GuestProps = map[string]Prop{}
	}
	return vm, nil
}

// save writes vm.json atomically.
func (s *store) save(vm *VM) error {
	dir := s.vmDir(vm.UUID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(vm, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".vm.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "vm.json"))
}

// find resolves a VM operand like IVirtualBox::FindMachine: UUID (with or
// without braces), name, or settings-file path.
func (s *store) find(ref string) (*VM, bool) {
	u := strings.ToLower(strings.Trim(ref, "{}"))
	vms := s.all()
	for _, vm := range vms {
		if vm.UUID == u {
			return vm, true
		}
	}
	for _, vm := range vms {
		if vm.Name == ref || s.cfgFile(vm) == ref {
			return vm, true
		}
	}
	return nil, false
}

// notFound prints VirtualBox's not-found triplet.
func notFound(ref, context string) error {
	msg := fmt.Sprintf("Could not find a registered machine named '%s'", ref)
	if isUUID(strings.Trim(ref, "{}")) {
		msg = fmt.Sprintf("Could not find a registered machine with UUID {%s}", strings.ToLower(strings.Trim(ref, "{}")))
	}
	return apiError(msg, codeNotFound, "VirtualBoxWrap", "IVirtualBox", context)
}

func (s *store) mustFind(ref, context string) (*VM, error) {
	vm, ok := s.find(ref)
	if !ok {
		return nil, notFound(ref, context)
	}
	return vm, nil
}

func (s *store) cfgFile(vm *VM) string {
	return filepath.Join(s.vmDir(vm.UUID), vm.Name+".vbox")
}

func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
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

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newMAC() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("080027%02X%02X%02X", b[0], b[1], b[2])
}

// ensureBase registers the base rootfs as a VM the first time it is seen.
func (s *store) ensureBase() error {
	root := os.Getenv("NSPAWNVBOX_BASE_ROOTFS")
	if root == "" {
		return nil
	}
	name := os.Getenv("NSPAWNVBOX_BASE_NAME")
	if name == "" {
		name = "reallab-base"
	}
	s.lock()
	defer s.unlock()
	for _, vm := range s.all() {
		if vm.Base && vm.Name == name {
			return nil
		}
	}
	if st, err := os.Stat(filepath.Join(root, "sbin", "init")); err != nil || st.IsDir() {
		return fmt.Errorf("NSPAWNVBOX_BASE_ROOTFS=%s has no sbin/init: build it with hack/reallab/base.sh", root)
	}
	vm := &VM{
		UUID: newUUID(), Name: name, Groups: []string{"/"}, OSType: "Debian (64-bit)",
		CPUs: 1, MemoryMB: 1024, NIC: NIC{Type: "nat", MAC: newMAC(), Cable: true, NICType: "82540EM"},
		ExtraData: map[string]string{},
		// What VirtualBox keeps from the base's last boot with its Guest
		// Additions (the base rootfs "has them": this backend provides them).
		GuestProps: map[string]Prop{
			"/VirtualBox/GuestAdd/Version":    {"7.0.14", time.Now().UnixNano(), ""},
			"/VirtualBox/GuestAdd/VersionExt": {"7.0.14", time.Now().UnixNano(), ""},
			"/VirtualBox/GuestAdd/Revision":   {"161095", time.Now().UnixNano(), ""},
		},
		Lowers: []string{root}, Base: true, State: "poweroff",
		StateChange: time.Now().UTC(), Registered: time.Now().UnixNano(),
	}
	if err := s.initLayers(vm); err != nil {
		return err
	}
	return s.save(vm)
}

func (s *store) initLayers(vm *VM) error {
	for _, d := range []string{"upper", "work", "root", "snap"} {
		if err := os.MkdirAll(filepath.Join(s.vmDir(vm.UUID), d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// runtime reads run.json and reports whether the machine's monitor lives.
func (s *store) runtime(vm *VM) (*Runtime, bool) {
	b, err := os.ReadFile(filepath.Join(s.vmDir(vm.UUID), "run.json"))
	if err != nil {
		return nil, false
	}
	rt := &Runtime{}
	if json.Unmarshal(b, rt) != nil {
		return nil, false
	}
	return rt, monitorAlive(rt.MonitorPID, vm.UUID)
}

func (s *store) writeRuntime(vm *VM, rt *Runtime) error {
	b, _ := json.Marshal(rt)
	tmp := filepath.Join(s.vmDir(vm.UUID), ".run.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.vmDir(vm.UUID), "run.json"))
}

// monitorAlive checks the pid still is this VM's monitor (pids get reused).
func monitorAlive(pid int, uuid string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return strings.Contains(string(b), "__monitor\x00"+uuid)
}

// vmState is VMState as showvminfo prints it, derived from the live machine.
func (s *store) vmState(vm *VM) string {
	rt, alive := s.runtime(vm)
	switch {
	case rt == nil:
		return vm.State
	case !alive:
		return "aborted"
	case fileExists(filepath.Join(s.vmDir(vm.UUID), "stop")):
		return "stopping"
	case rt.InitPID == 0:
		return "starting"
	case fileExists(filepath.Join(s.vmDir(vm.UUID), "paused")):
		return "paused"
	}
	return "running"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
