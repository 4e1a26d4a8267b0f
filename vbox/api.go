package vbox

import (
	"context"
	"time"
)

// API is the set of typed VirtualBox operations labctl uses. *Client
// implements it over VBoxManage; steps depend on this interface only, so
// they never see an argv.
type API interface {
	// Version runs `VBoxManage --version`.
	Version(ctx context.Context) (Version, error)
	// ListVMs runs `list vms`.
	ListVMs(ctx context.Context) ([]VM, error)
	// Info runs `showvminfo VM --machinereadable`; ErrNotFound when no such VM.
	Info(ctx context.Context, vm string) (*VMInfo, error)
	// BridgedIfs runs `list bridgedifs`.
	BridgedIfs(ctx context.Context) ([]HostIf, error)
	// TakeSnapshot runs `snapshot VM take NAME [--description D] [--live]`.
	TakeSnapshot(ctx context.Context, vm, name, description string, live bool) error
	// RestoreSnapshot runs `snapshot VM restore NAME` (the VM must be powered off).
	RestoreSnapshot(ctx context.Context, vm, name string) error
	// DeleteSnapshot runs `snapshot VM delete NAME`.
	DeleteSnapshot(ctx context.Context, vm, name string) error
	// CloneLinked runs `clonevm BASE --snapshot SNAP --options link --name NAME --groups GROUP --register`
	// and returns the new VM's UUID.
	CloneLinked(ctx context.Context, base, snapshot, name, group string) (string, error)
	// ModifyVM applies hardware settings to a powered-off VM.
	ModifyVM(ctx context.Context, vm string, s HardwareSettings) error
	// SetExtraData / GetExtraData read and write a VM's extradata ("" when unset).
	SetExtraData(ctx context.Context, vm, key, value string) error
	GetExtraData(ctx context.Context, vm, key string) (string, error)
	// Start runs `startvm VM --type headless`.
	Start(ctx context.Context, vm string) error
	// PowerOff runs `controlvm VM poweroff` and waits until the session is released.
	PowerOff(ctx context.Context, vm string) error
	// Delete runs `unregistervm VM --delete`; nil when the VM does not exist.
	Delete(ctx context.Context, vm string) error
	// GuestProperty reads one guest property; ok=false when unset ("No value set!").
	GuestProperty(ctx context.Context, vm, name string) (value string, ok bool, err error)
	// WaitGuestProperty polls GuestProperty until it is set and accept(value) is
	// true, or ctx ends. Polling (not `guestproperty wait`) avoids its traps.
	WaitGuestProperty(ctx context.Context, vm, name string, every time.Duration, accept func(string) bool) (string, error)
	// GuestRun runs `guestcontrol VM run --username U --passwordfile F --timeout MS --wait-stdout
	// --wait-stderr -- EXE ARGS...` with stdin (no --exe: 6.1 and 7.x disagree on argv[0] with it),
	// mapping VBoxManage's exit codes back to the guest's.
	GuestRun(ctx context.Context, vm string, cred Credentials, timeout time.Duration, stdin []byte, exe string, args ...string) (GuestRunResult, error)
}

// HostIf is one block of `list bridgedifs`.
type HostIf struct {
	Name        string // pass verbatim to --bridgeadapter1
	IPAddress   string
	NetworkMask string
	MAC         string
	Status      string // "Up", "Down", "Unknown"
	Wireless    bool
}

// HardwareSettings is what labctl sets with modifyvm; zero values are left alone.
type HardwareSettings struct {
	CPUs          int
	MemoryMB      int
	BridgeAdapter string // nic1 bridged on this host interface
	// Or nic1 on a NAT network, a host-only adapter or a host-only network (macOS 7.x).
	NATNetwork      string
	HostOnlyAdapter string
	HostOnlyNet     string
	MAC             string // 12 hex digits for nic1; "auto" lets VirtualBox pick
	Groups          string // e.g. "/labctl/<lab>"
}
