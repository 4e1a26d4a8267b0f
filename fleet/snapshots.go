package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"labctl/vbox"
)

// Set is the lab's VMs, one per plan node in lab order, each read live and
// tagged for the lab: what a snapshot set is taken of, listed, restored to
// and deleted from. Each operation checks the whole set before it changes
// anything, so a set is never left half-changed by a refusal.
type Set struct {
	f   *Fleet
	VMs []*Member // Node and Info set
}

// IncompleteError: some plan nodes have no VM of the lab (yet); a partial
// set cannot be restored, so none is taken.
type IncompleteError struct {
	Lab     string
	Missing []string // VM names, lab order; an untagged clone says so
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("lab %q is incomplete: %s missing", e.Lab, strings.Join(e.Missing, ", "))
}

// SnapshotError: a snapshot name is already on some VMs (take) or missing
// on some (restore, delete). Nothing was changed.
type SnapshotError struct {
	Name   string
	VMs    []string // lab order
	Exists bool
}

func (e *SnapshotError) Error() string {
	if e.Exists {
		return fmt.Sprintf("snapshot %q already exists on %s", e.Name, strings.Join(e.VMs, ", "))
	}
	return fmt.Sprintf("snapshot %q is missing on %s: nothing was changed", e.Name, strings.Join(e.VMs, ", "))
}

// ReadSet reads every plan node's VM (showvminfo and the lab tag, all at
// once). A node's VM that is not the lab's is a *ForeignError; nodes with
// no VM, or only an untagged clone, are an *IncompleteError.
func (f *Fleet) ReadSet(ctx context.Context) (*Set, error) {
	nodes := f.Plan.Nodes
	type read struct {
		m       *Member
		missing string
		err     error
	}
	reads := make([]read, len(nodes))
	idx := make([]int, len(nodes))
	for i := range idx {
		idx[i] = i
	}
	_ = each(ctx, f.Concurrency, idx, nil, func(ctx context.Context, i int) error {
		n := nodes[i]
		info, err := f.VBox.Info(ctx, n.VM)
		if errors.Is(err, vbox.ErrNotFound) {
			reads[i].missing = n.VM
			return nil
		}
		if err != nil {
			reads[i].err = fmt.Errorf("%s: %w", n.VM, err)
			return nil
		}
		tag, err := f.VBox.GetExtraData(ctx, info.UUID, TagLab)
		if err != nil {
			reads[i].err = fmt.Errorf("%s: %w", n.VM, err)
			return nil
		}
		v, err := Owner(ctx, f.Plan, n.VM, known{tag: tag, info: info})
		switch {
		case err != nil:
			reads[i].err = err
		case v.Ownership == Foreign:
			reads[i].err = v.Foreign(f.Plan, n.VM)
		case v.Ownership == Adoptable:
			reads[i].missing = n.VM + " (cloned, not yet tagged)"
		default:
			reads[i].m = &Member{Name: n.VM, UUID: info.UUID, Node: n, Verdict: v, Info: info}
		}
		return nil
	})
	s := &Set{f: f}
	var missing []string
	for _, r := range reads {
		switch {
		case r.err != nil:
			return nil, r.err // the first in lab order
		case r.missing != "":
			missing = append(missing, r.missing)
		default:
			s.VMs = append(s.VMs, r.m)
		}
	}
	if len(missing) > 0 {
		return nil, &IncompleteError{Lab: f.Plan.Name, Missing: missing}
	}
	return s, nil
}

// known is a Reader over values already read.
type known struct {
	tag  string
	info *vbox.VMInfo
}

func (k known) Tag(context.Context, string) (string, error) { return k.tag, nil }
func (k known) Info(context.Context) (*vbox.VMInfo, error)  { return k.info, nil }

// HasSnapshot says whether the member had the snapshot when it was read.
func (m *Member) HasSnapshot(name string) bool {
	for _, sn := range m.Info.Snapshots {
		if sn.Name == name {
			return true
		}
	}
	return false
}

// RequirePresent refuses unless every VM has snapshot name.
func (s *Set) RequirePresent(name string) error {
	var lacking []string
	for _, m := range s.VMs {
		if !m.HasSnapshot(name) {
			lacking = append(lacking, m.Name)
		}
	}
	if len(lacking) > 0 {
		return &SnapshotError{Name: name, VMs: lacking}
	}
	return nil
}

// RequireAbsent refuses when any VM has snapshot name already.
func (s *Set) RequireAbsent(name string) error {
	var already []string
	for _, m := range s.VMs {
		if m.HasSnapshot(name) {
			already = append(already, m.Name)
		}
	}
	if len(already) > 0 {
		return &SnapshotError{Name: name, VMs: already, Exists: true}
	}
	return nil
}

// TakeOptions say how a snapshot set is taken.
type TakeOptions struct {
	// Description of every snapshot ("" = the lab's name and the time).
	Description string
	// Offline powers the running VMs off first for a crash-consistent set;
	// they stay off (the caller brings the lab back). Else running VMs are
	// snapshotted live.
	Offline bool
}

// Take snapshots every VM as name, refusing first if any VM has it.
func (s *Set) Take(ctx context.Context, name string, o TakeOptions) error {
	if err := s.RequireAbsent(name); err != nil {
		return err
	}
	if o.Offline {
		if err := s.PowerOffRunning(ctx, PowerOffOptions{}); err != nil {
			return err
		}
	}
	desc := o.Description
	if desc == "" {
		desc = fmt.Sprintf("labctl %s, %s", s.f.Plan.Name, time.Now().Format(time.RFC3339))
	}
	return each(ctx, s.f.Concurrency, s.VMs, memberName, func(ctx context.Context, m *Member) error {
		live := !o.Offline && m.Info.State == vbox.StateRunning
		if err := s.f.VBox.TakeSnapshot(ctx, m.UUID, name, desc, live); err != nil {
			return fmt.Errorf("take snapshot: %w", err)
		}
		return nil
	})
}

// Restore restores every VM to name, refusing first if any VM lacks it.
// VirtualBox restores only powered-off VMs: the running ones are powered
// off first, all together, so group replication comes back as one full
// outage (which `up` recovers). The VMs are left powered off.
func (s *Set) Restore(ctx context.Context, name string) error {
	if err := s.RequirePresent(name); err != nil {
		return err
	}
	if err := s.PowerOffRunning(ctx, PowerOffOptions{}); err != nil {
		return err
	}
	return each(ctx, s.f.Concurrency, s.VMs, memberName, func(ctx context.Context, m *Member) error {
		if err := s.f.VBox.RestoreSnapshot(ctx, m.UUID, name); err != nil {
			return fmt.Errorf("restore snapshot: %w", err)
		}
		return nil
	})
}

// Delete deletes snapshot name from every VM, refusing first if any VM
// lacks it.
func (s *Set) Delete(ctx context.Context, name string) error {
	if err := s.RequirePresent(name); err != nil {
		return err
	}
	return each(ctx, s.f.Concurrency, s.VMs, memberName, func(ctx context.Context, m *Member) error {
		if err := s.f.VBox.DeleteSnapshot(ctx, m.UUID, name); err != nil {
			return fmt.Errorf("delete snapshot: %w", err)
		}
		return nil
	})
}

// PowerOffRunning powers off, all at once, every VM the set's read found
// running (or paused, stuck, starting).
func (s *Set) PowerOffRunning(ctx context.Context, o PowerOffOptions) error {
	var on []*Member
	for _, m := range s.VMs {
		if NeedsPowerOff(m.Info.State) {
			on = append(on, m)
		}
	}
	return each(ctx, s.f.Concurrency, on, memberName, func(ctx context.Context, m *Member) error {
		return s.f.powerOff(ctx, m.UUID, m.Info.State, o)
	})
}

// SnapshotRow is one snapshot name across the lab's VMs.
type SnapshotRow struct {
	Name    string            `json:"name"`
	VMs     map[string]string `json:"vms"` // VM name -> time taken (RFC 3339) or "yes"; absent = missing
	Current []string          `json:"current,omitempty"`
}

// List returns every snapshot name found on any VM, sorted by name.
func (s *Set) List() []*SnapshotRow {
	rows := map[string]*SnapshotRow{}
	for _, m := range s.VMs {
		for _, sn := range m.Info.Snapshots {
			r := rows[sn.Name]
			if r == nil {
				r = &SnapshotRow{Name: sn.Name, VMs: map[string]string{}}
				rows[sn.Name] = r
			}
			when := "yes"
			if !sn.Taken.IsZero() {
				when = sn.Taken.Format(time.RFC3339)
			}
			r.VMs[m.Name] = when
			if sn.Current {
				r.Current = append(r.Current, m.Name)
			}
		}
	}
	out := make([]*SnapshotRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
