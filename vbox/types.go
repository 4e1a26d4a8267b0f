// Package vbox drives VirtualBox through VBoxManage: locating it, running it
// with a deadline and a fixed locale, parsing its output, and typed VM
// operations. It knows nothing of what runs inside the VMs.
package vbox

import "time"

// VMState is showvminfo's VMState value ("poweroff", "running", "saved", ...).
type VMState string

// States labctl acts on.
const (
	StatePowerOff VMState = "poweroff"
	StateRunning  VMState = "running"
	StatePaused   VMState = "paused"
	StateSaved    VMState = "saved"
	StateAborted  VMState = "aborted"
)

// VM is one line of `list vms`.
type VM struct {
	Name string
	UUID string
	// Inaccessible: VirtualBox cannot read the VM's settings; Name is then "<inaccessible>".
	Inaccessible bool
}

// NIC is one network adapter from showvminfo.
type NIC struct {
	Slot          int    // 1-based adapter number
	Type          string // "none", "nat", "bridged", "hostonly", ...
	BridgeAdapter string
	MAC           string // 12 hex digits, uppercase, as VirtualBox prints it
	// NATNetwork, HostOnlyAdapter and HostOnlyNet name what a "natnetwork",
	// "hostonly" or "hostonlynetwork" NIC is attached to.
	NATNetwork      string
	HostOnlyAdapter string
	HostOnlyNet     string
}

// Snapshot is one node of a VM's snapshot tree.
type Snapshot struct {
	Name        string
	UUID        string
	Description string
	Current     bool
	Parent      string // UUID of the parent snapshot; "" for the root
	// Taken is when it was taken, when known (from the snapshot's settings); zero otherwise.
	Taken time.Time
}

// VMInfo is the typed result of `showvminfo --machinereadable`.
type VMInfo struct {
	Name           string
	UUID           string
	Groups         []string
	CfgFile        string
	State          VMState
	StateChanged   time.Time
	CPUs           int
	MemoryMB       int
	NICs           []NIC // by slot, only configured ones
	Snapshots      []Snapshot
	SessionLocked  bool // a SessionName key was printed: a session still holds the VM
	GuestAddRunLvl int  // GuestAdditionsRunLevel (running VMs only)
	GuestAddVer    string
	Raw            map[string]string // every key=value as parsed, unquoted
	// Inaccessible: the settings file cannot be read; only Name ("<inaccessible>") and UUID are set.
	Inaccessible bool
}

// Version is a parsed `VBoxManage --version`.
type Version struct {
	Major, Minor, Build int
	Raw                 string // the whole line, e.g. "7.0.14r161095"
}

// GuestRunResult is the outcome of `guestcontrol run`.
type GuestRunResult struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int // the guest process's own exit code, mapped back from VBoxManage's
}

// Credentials for guest control. The password is written to a 0600 temp
// file passed with --passwordfile and removed afterwards; never on argv.
type Credentials struct {
	User     string
	Password string
}
