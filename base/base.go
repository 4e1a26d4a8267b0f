// Package base owns the lab's base VM as a thing of its own: importing it
// from an appliance (an instructor's OVA, a Vagrant box), exporting it for a
// classroom, and checking that it fits this host before anything is cloned
// from it. It speaks to VirtualBox through a few typed calls and knows
// nothing of what the lab builds on top.
package base

import (
	"context"

	"labctl/vbox"
)

// Group is the VirtualBox group imported bases go into: away from the
// labs' own groups (/labctl/<lab>), which `down` empties.
const Group = "/labctl-bases"

// SnapshotDescription marks the snapshot labctl takes of a base.
const SnapshotDescription = "Taken by labctl: the lab's linked clones are based on it."

// Reader is what the checks read.
type Reader interface {
	Version(ctx context.Context) (vbox.Version, error)
	Info(ctx context.Context, vm string) (*vbox.VMInfo, error)
	GuestProperty(ctx context.Context, vm, name string) (string, bool, error)
}

// hostArchReader is the optional host-architecture read (VBoxManage 7.1's
// `list systemproperties`); a Reader without it means an x86 host.
type hostArchReader interface {
	HostArchitectures(ctx context.Context) ([]string, error)
}

// VBox is every call import and export make (*vbox.Client has them all).
type VBox interface {
	Reader
	ListVMs(ctx context.Context) ([]vbox.VM, error)
	TakeSnapshot(ctx context.Context, vm, name, description string, live bool) error
	Delete(ctx context.Context, vm string) error
	ImportDryRun(ctx context.Context, file string) (*vbox.Appliance, error)
	Import(ctx context.Context, file string, o vbox.ImportOptions) (*vbox.Appliance, error)
	Export(ctx context.Context, vm, file, vmName string) error
	HostArchitectures(ctx context.Context) ([]string, error)
}

var _ VBox = (*vbox.Client)(nil)
