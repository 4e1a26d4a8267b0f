package steps

// base-snapshot reads the base VM's snapshots and state; writes (once) the
// snapshot the clones are linked to, only on a powered-off base VM.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"labctl/lab"
	"labctl/vbox"
)

// baseSnapshotStep makes sure the base VM has the snapshot the clones are
// linked to, taking it only when the base has none and is powered off.
type baseSnapshotStep struct{}

var (
	_ Step    = baseSnapshotStep{}
	_ LabWide = baseSnapshotStep{}
	_ Needs   = baseSnapshotStep{}
)

// BaseSnapshot returns the base-snapshot step.
func BaseSnapshot() Step { return baseSnapshotStep{} }

func (baseSnapshotStep) Name() string                  { return "base-snapshot" }
func (baseSnapshotStep) Title() string                 { return "Preparing the base VM's snapshot" }
func (baseSnapshotStep) Targets(p *lab.Plan) lab.Nodes { return nil }
func (baseSnapshotStep) LabWide() bool                 { return true }
func (baseSnapshotStep) Needs() []string               { return []string{"preflight"} }

// Check reads the base VM's snapshots. What Apply would refuse (other
// snapshots but not this one, or a running base) is an error here already,
// so a dry run shows it.
func (b baseSnapshotStep) Check(ctx context.Context, env *Env, _ *lab.Node) (Status, error) {
	p := env.Plan
	info, err := env.checkView(b.Name(), p.Base.VM).Info(ctx)
	if errors.Is(err, vbox.ErrNotFound) {
		return Status{}, fmt.Errorf("the base VM %q (base.vm in %s) is not registered: see `VBoxManage list vms`: %w", p.Base.VM, p.File, err)
	}
	if err != nil {
		return Status{}, fmt.Errorf("read the base VM %q: %w", p.Base.VM, err)
	}
	var names []string
	for _, s := range info.Snapshots {
		if s.Name == p.Base.Snapshot || strings.EqualFold(s.UUID, p.Base.Snapshot) {
			return Status{Done: true}, nil
		}
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	if len(names) > 0 {
		return Status{}, fmt.Errorf("the base VM %q has no snapshot %q (it has %s): set base.snapshot in %s to one of them",
			p.Base.VM, p.Base.Snapshot, strings.Join(names, ", "), p.File)
	}
	if info.State != vbox.StatePowerOff && info.State != vbox.StateAborted {
		return Status{}, fmt.Errorf("the base VM %q has no snapshot to clone from and is %s: shut it down (so its disk is consistent) and run labctl up again; labctl will then take snapshot %q",
			p.Base.VM, info.State, p.Base.Snapshot)
	}
	return Status{Why: fmt.Sprintf("take snapshot %q of the powered-off base VM %q", p.Base.Snapshot, p.Base.VM)}, nil
}

// Apply takes the snapshot (vbox.EnsureSnapshot re-checks the state first,
// on what the Check just read).
func (b baseSnapshotStep) Apply(ctx context.Context, env *Env, _ *lab.Node) error {
	p := env.Plan
	v := env.applyView(b.Name(), p.Base.VM)
	env.PlanNotef("only when the base VM has no snapshot %q (and is powered off):", p.Base.Snapshot)
	created, err := vbox.EnsureSnapshot(ctx, viewedAPI{env.VBox, v}, p.Base.VM, p.Base.Snapshot)
	env.changedVM(p.Base.VM)
	if err != nil {
		return fmt.Errorf("snapshot the base VM %q: %w", p.Base.VM, err)
	}
	if created {
		fmt.Fprintf(logOf(env), "base-snapshot: took snapshot %q of %s\n", p.Base.Snapshot, p.Base.VM)
	}
	return nil
}

//
