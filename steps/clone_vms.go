package steps

// clone-vms: each node a linked clone of the base snapshot, tagged as the
// lab's at once.

import (
	"context"
	"fmt"

	"labctl/fleet"
	"labctl/lab"
	"labctl/vbox"
)

// cloneVMsStep makes each node a linked clone of the base snapshot.
type cloneVMsStep struct{}

var (
	_ Needs    = cloneVMsStep{}
	_ Preparer = cloneVMsStep{}
)

// CloneVMs returns the clone-vms step.
func CloneVMs() Step { return cloneVMsStep{} }

func (cloneVMsStep) Name() string                  { return "clone-vms" }
func (cloneVMsStep) Title() string                 { return "Cloning the lab VMs from the base snapshot" }
func (cloneVMsStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (cloneVMsStep) Needs() []string               { return []string{"preflight", "base-snapshot"} }

// Prepare lists the VMs once (one VBoxManage process instead of a
// showvminfo per node), so each node's first Check knows whether its VM
// exists without reading it.
func (c cloneVMsStep) Prepare(ctx context.Context, env *Env) error {
	vms, err := env.VBox.ListVMs(ctx)
	if err != nil {
		return fmt.Errorf("list VMs: %w", err)
	}
	views := map[string]*vmView{}
	for _, n := range env.Plan.Nodes {
		v := newVMView(env, n.VM)
		switch len(fleet.Named(vms, n.VM)) {
		case 0:
			v.absent()
		case 1:
			v.present = true
		default:
			continue // preflight's refusal; the Check reads it again
		}
		views[n.VM] = v
	}
	env.prepareViews(c.Name(), views)
	return nil
}

// Check: done when the VM exists and carries this lab's tag. A VM of that
// name that is not ours is an error, never a reason to clone over it.
func (c cloneVMsStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	v := env.checkView(c.Name(), n.VM)
	exists, tag, err := v.existsAndTag(ctx, TagLab, "lab tag")
	if err != nil {
		return Status{}, err
	}
	if !exists {
		return Status{Why: fmt.Sprintf("VM %s does not exist: clone it from %s snapshot %q", n.VM, env.Plan.Base.VM, env.Plan.Base.Snapshot)}, nil
	}
	if tag == env.Plan.Name {
		return Status{Done: true}, nil
	}
	owner, err := fleet.Owner(ctx, env.Plan, n.VM, v)
	if err != nil {
		return Status{}, err
	}
	if err := owner.Foreign(env.Plan, n.VM); err != nil {
		return Status{}, err
	}
	return Status{Why: fmt.Sprintf("VM %s was cloned but not tagged: tag it %s=%s", n.VM, TagLab, env.Plan.Name)}, nil
}

// Apply clones (unless an untagged clone of ours is already there) and tags
// at once: the tag is what `down` and every later run recognise.
func (c cloneVMsStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	p := env.Plan
	v := env.applyView(c.Name(), n.VM)
	exists, err := v.exists(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", n.VM, err)
	}
	if !exists {
		err := cloneLinked(ctx, env.VBox, p.Base.VM, p.Base.Snapshot, n.VM, fleet.Group(p))
		env.changedVM(n.VM)
		if err != nil {
			return fmt.Errorf("clone %s from %s snapshot %q: %w", n.VM, p.Base.VM, p.Base.Snapshot, err)
		}
	}
	defer env.changedVM(n.VM)
	if err := env.VBox.SetExtraData(ctx, n.VM, TagLab, p.Name); err != nil {
		return fmt.Errorf("tag %s as part of lab %q: %w", n.VM, p.Name, err)
	}
	if err := env.VBox.SetExtraData(ctx, n.VM, TagNode, n.Hostname); err != nil {
		return fmt.Errorf("tag %s as node %s: %w", n.VM, n.Hostname, err)
	}
	// What `labctl list` shows of the lab (it reads no lab.toml).
	if err := env.VBox.SetExtraData(ctx, n.VM, fleet.TagInfo, fleet.LabInfo{StateDir: p.StateDir, Seat: p.Seat, Mode: p.NetMode}.Tag()); err != nil {
		return fmt.Errorf("tag %s with the lab's description: %w", n.VM, err)
	}
	return nil
}

// cloneLinked makes the linked clone without reading its UUID back when
// the backend can (labctl names its VMs; the UUID is not used).
func cloneLinked(ctx context.Context, api vbox.API, base, snapshot, name, group string) error {
	if c, ok := api.(interface {
		CloneLinkedNamed(ctx context.Context, base, snapshot, name, group string) error
	}); ok {
		return c.CloneLinkedNamed(ctx, base, snapshot, name, group)
	}
	_, err := api.CloneLinked(ctx, base, snapshot, name, group)
	return err
}
