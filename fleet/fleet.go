// Package fleet knows which VirtualBox VMs are one lab's and acts on them
// as a set: snapshot sets taken, restored and deleted all or nothing,
// power-off (halt) and teardown. It works over vbox.API only and never
// touches a VM that is not the lab's.
//
// A VM is the lab's when it carries the tag labctl/lab = the lab's name, or
// when it has no such tag but sits in the lab's VirtualBox group: a clone
// interrupted before it was tagged, which `up` adopts (only labctl's clonevm
// puts a VM there). Any other VM, whatever its name, belongs to someone
// else: a VM named like a lab node that is not ours is an error naming it.
package fleet

import (
	"context"
	"strings"

	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/vbox"
)

// Ownership marks. clonevm copies a VM's extradata, so the clones are
// tagged explicitly, right after cloning and before any other change.
const (
	TagLab  = "labctl/lab"  // = plan.Name on every VM of the lab
	TagNode = "labctl/node" // = the node's hostname
)

// DefaultConcurrency is how many VMs are worked on at once: a whole lab.
const DefaultConcurrency = 6

// Group is the VirtualBox group of the lab's VMs.
func Group(p *lab.Plan) string { return groupPrefix + p.Name }

// InGroup says whether the VM is in the VirtualBox group.
func InGroup(info *vbox.VMInfo, group string) bool {
	for _, g := range info.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// Named returns the registered VMs named (or with the UUID) ref.
func Named(vms []vbox.VM, ref string) []vbox.VM {
	uuid := strings.Trim(strings.ToLower(ref), "{}")
	var out []vbox.VM
	for _, vm := range vms {
		if vm.Name == ref || (uuid != "" && strings.ToLower(vm.UUID) == uuid) {
			out = append(out, vm)
		}
	}
	return out
}

// Fleet is one lab's VMs as VirtualBox holds them. Nothing is cached
// between calls: each entry point reads the live VMs.
type Fleet struct {
	VBox vbox.API
	Plan *lab.Plan
	// Concurrency bounds the VMs read or changed at once (0 = DefaultConcurrency).
	Concurrency int
}

// New returns the fleet of the plan's lab.
func New(api vbox.API, p *lab.Plan) *Fleet { return &Fleet{VBox: api, Plan: p} }

// each runs fn on every item, at most limit at a time (default
// DefaultConcurrency), aggregating every failure prefixed with its VM's
// name (name may be nil when fn's errors already name it).
func each[T any](ctx context.Context, limit int, items []T, name func(T) string, fn func(context.Context, T) error) error {
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	return fanout.Each(ctx, items, limit, name, fn)
}
