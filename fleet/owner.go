package fleet

import (
	"context"
	"fmt"
	"sync"

	"labctl/lab"
	"labctl/vbox"
)

// Reader is what the ownership rule reads of one VM. Fleet reads the live
// VM; the VM steps pass their per-run views, so a read the step already
// made is not made again.
type Reader interface {
	// Tag is one extradata value ("" when unset).
	Tag(ctx context.Context, key string) (string, error)
	// Info is the VM's showvminfo.
	Info(ctx context.Context) (*vbox.VMInfo, error)
}

// Ownership is how a VM relates to a lab.
type Ownership int

const (
	// Foreign: another lab's VM, or nobody's; labctl never touches it.
	Foreign Ownership = iota
	// Tagged: tagged labctl/lab = this lab.
	Tagged
	// Adoptable: untagged but in the lab's group, a clone interrupted before
	// it was tagged; up tags it, down deletes it.
	Adoptable
)

// Verdict is the ownership of one VM and the tag it was judged by.
type Verdict struct {
	Ownership
	Tag string // the VM's labctl/lab tag, "" when unset
}

// Ours says whether the VM is the lab's (tagged, or adoptable).
func (v Verdict) Ours() bool { return v.Ownership != Foreign }

// Why says why a foreign VM is not the lab's.
func (v Verdict) Why() string {
	if v.Tag == "" {
		return fmt.Sprintf("it has no %s tag", TagLab)
	}
	return fmt.Sprintf("it belongs to lab %q", v.Tag)
}

// Owner judges the VM named name: the lab tag first, and the VM's groups
// only when it has none (one VBoxManage call for a tagged VM, two else).
// Errors name the VM and the read that failed.
func Owner(ctx context.Context, p *lab.Plan, name string, r Reader) (Verdict, error) {
	tag, err := r.Tag(ctx, TagLab)
	if err != nil {
		return Verdict{}, fmt.Errorf("read the lab tag of %s: %w", name, err)
	}
	switch tag {
	case p.Name:
		return Verdict{Ownership: Tagged, Tag: tag}, nil
	case "":
		info, err := r.Info(ctx)
		if err != nil {
			return Verdict{}, fmt.Errorf("read %s: %w", name, err)
		}
		if InGroup(info, Group(p)) {
			return Verdict{Ownership: Adoptable}, nil
		}
	}
	return Verdict{Ownership: Foreign, Tag: tag}, nil
}

// ForeignError: a VM carries a lab VM's name but is not the lab's. labctl
// never clones over it, configures, snapshots or deletes it.
type ForeignError struct {
	VM      string
	Lab     string
	File    string // the lab.toml naming the node
	Verdict Verdict
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("a VM named %s exists but is not part of lab %q (%s): rename it, or change that node's vm name in %s",
		e.VM, e.Lab, e.Verdict.Why(), e.File)
}

// Foreign returns the ForeignError for the VM named vm, or nil when the
// verdict says it is the lab's.
func (v Verdict) Foreign(p *lab.Plan, vm string) error {
	if v.Ours() {
		return nil
	}
	return &ForeignError{VM: vm, Lab: p.Name, File: p.File, Verdict: v}
}

// liveVM reads one VM by reference (a name or UUID), keeping its
// showvminfo once read.
type liveVM struct {
	api vbox.API
	ref string

	mu   sync.Mutex
	info *vbox.VMInfo
}

func (v *liveVM) Tag(ctx context.Context, key string) (string, error) {
	return v.api.GetExtraData(ctx, v.ref, key)
}

func (v *liveVM) Info(ctx context.Context) (*vbox.VMInfo, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.info != nil {
		return v.info, nil
	}
	info, err := v.api.Info(ctx, v.ref)
	if err == nil {
		v.info = info
	}
	return info, err
}

// Member is one VM of the lab.
type Member struct {
	Name    string
	UUID    string
	Node    *lab.Node // the plan's node of that VM name; nil for a VM the plan no longer names
	Verdict Verdict
	// Info is the VM as read when the member was found; nil when it was not
	// read (a tagged VM found by Members). State changes: act on a fresh read.
	Info *vbox.VMInfo
}

func memberName(m *Member) string { return m.Name }

// Members returns every registered VM that is the lab's, in `list vms`
// order: found by tag rather than by name, so a VM the plan renamed is
// still found and a stranger sharing a node's name is never included.
func (f *Fleet) Members(ctx context.Context) ([]*Member, error) {
	all, err := f.VBox.ListVMs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	var vms []vbox.VM
	for _, vm := range all {
		if !vm.Inaccessible {
			vms = append(vms, vm)
		}
	}
	found := make([]*Member, len(vms))
	errs := make([]error, len(vms))
	idx := make([]int, len(vms))
	for i := range idx {
		idx[i] = i
	}
	_ = each(ctx, f.Concurrency, idx, nil, func(ctx context.Context, i int) error {
		vm := vms[i]
		r := &liveVM{api: f.VBox, ref: vm.UUID}
		v, err := Owner(ctx, f.Plan, vm.Name, r)
		if err != nil {
			errs[i] = err
			return nil
		}
		if v.Ours() {
			found[i] = &Member{Name: vm.Name, UUID: vm.UUID, Node: f.Plan.Nodes.Find(vm.Name), Verdict: v, Info: r.info}
		}
		return nil
	})
	var mine []*Member
	for i := range vms {
		if errs[i] != nil {
			return nil, errs[i] // the first in list order, as a one-by-one read would report
		}
		if found[i] != nil {
			mine = append(mine, found[i])
		}
	}
	return mine, nil
}
