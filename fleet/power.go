package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"labctl/lab"
	"labctl/vbox"
)

// NeedsPowerOff says whether a VM in this state has a VM process that must
// stop before the VM can be restored, deleted or left halted.
func NeedsPowerOff(s vbox.VMState) bool {
	switch s {
	case vbox.StateRunning, vbox.StatePaused, "stuck", "starting":
		return true
	}
	return false
}

// DefaultGrace is how long Halt lets the guests shut themselves down.
const DefaultGrace = 90 * time.Second

// PowerOffOptions say how a running VM is stopped.
type PowerOffOptions struct {
	// Grace > 0 first presses the ACPI power button (when the vbox.API can)
	// and waits up to Grace for the guest to shut down; a VM still running
	// then, or at once with Grace 0, is powered off hard. vbox's PowerOff
	// then waits (bounded) until VirtualBox releases the VM's session.
	Grace time.Duration
	// Poll is how often the state is read during Grace (default 1s).
	Poll time.Duration
}

// powerButton is the optional part of a vbox.API that can ask a guest to
// shut down (vbox.Client has it; a recording API need not).
type powerButton interface {
	PowerButton(ctx context.Context, vm string) error
}

// powerOff stops one VM whose state was just read as state.
func (f *Fleet) powerOff(ctx context.Context, ref string, state vbox.VMState, o PowerOffOptions) error {
	if pb, ok := f.VBox.(powerButton); ok && o.Grace > 0 && state == vbox.StateRunning {
		f.awaitShutdown(ctx, pb, ref, o)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := f.VBox.PowerOff(ctx, ref); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	return nil
}

// awaitShutdown presses the power button and waits up to o.Grace for the
// guest to stop. Whatever happens, the hard power-off after it decides:
// a guest that ignored the button, or a read that failed, only costs the
// grace period.
func (f *Fleet) awaitShutdown(ctx context.Context, pb powerButton, ref string, o PowerOffOptions) {
	if err := pb.PowerButton(ctx, ref); err != nil {
		return
	}
	every := o.Poll
	if every <= 0 {
		every = time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, o.Grace)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-wctx.Done():
			return
		case <-t.C:
		}
		if info, err := f.VBox.Info(wctx, ref); err == nil && !NeedsPowerOff(info.State) {
			return
		}
	}
}

// Halt powers off every running VM of the lab and keeps the VMs: what a
// `labctl halt` does before the host sleeps or the class ends. It returns
// the VMs it stopped, in `list vms` order; VMs that are not the lab's are
// only read. Every failure is reported, each naming its VM.
func (f *Fleet) Halt(ctx context.Context, o PowerOffOptions) (halted []string, err error) {
	members, err := f.Members(ctx)
	if err != nil {
		return nil, err
	}
	stopped := make([]bool, len(members))
	idx := make(map[*Member]int, len(members))
	for i, m := range members {
		idx[m] = i
	}
	err = each(ctx, f.Concurrency, members, memberName, func(ctx context.Context, m *Member) error {
		info, err := f.VBox.Info(ctx, m.UUID)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if !NeedsPowerOff(info.State) {
			return nil
		}
		if err := f.powerOff(ctx, m.UUID, info.State, o); err != nil {
			return err
		}
		stopped[idx[m]] = true
		return nil
	})
	for i, m := range members {
		if stopped[i] {
			halted = append(halted, m.Name)
		}
	}
	return halted, err
}

// TeardownOptions say what Teardown keeps and reports.
type TeardownOptions struct {
	// KeepLogs keeps the run logs in the lab's state folder.
	KeepLogs bool
	// Deleted, when set, is told each VM's name once it is gone (from
	// several goroutines at once).
	Deleted func(name string)
}

// TeardownError: some VMs could not be deleted. The lab's state folder was
// kept, so a re-run (which finds the VMs left by their tag) finishes.
type TeardownError struct{ Err error }

func (e *TeardownError) Error() string { return e.Err.Error() }
func (e *TeardownError) Unwrap() error { return e.Err }

// Teardown powers off (hard) and deletes the members with their disks, all
// at once, then removes the lab's local state folder, only once every VM
// is gone: the secrets and keys stay usable while a VM that uses them
// remains. The base VM is never a member (it carries no lab tag and is not
// in the lab's group), so the clones' base snapshot stays.
func (f *Fleet) Teardown(ctx context.Context, members []*Member, o TeardownOptions) error {
	err := each(ctx, f.Concurrency, members, memberName, func(ctx context.Context, m *Member) error {
		info, err := f.VBox.Info(ctx, m.UUID)
		if err != nil {
			return err
		}
		if NeedsPowerOff(info.State) {
			if err := f.powerOff(ctx, m.UUID, info.State, PowerOffOptions{}); err != nil {
				return err
			}
		}
		if err := f.VBox.Delete(ctx, m.UUID); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if o.Deleted != nil {
			o.Deleted(m.Name)
		}
		return nil
	})
	if err != nil {
		return &TeardownError{Err: err}
	}
	return removeState(f.Plan.StateDir, o.KeepLogs)
}

// removeState deletes the lab's local folder (secrets, keys, known_hosts),
// optionally keeping its logs.
func removeState(dir string, keepLogs bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if keepLogs && e.Name() == lab.LogsDir {
			continue
		}
		err := os.RemoveAll(filepath.Join(dir, e.Name()))
		// The running labctl's lock: Windows cannot delete a file held
		// open, so there it goes with the lock's release.
		if err != nil && e.Name() != lab.LockFile {
			return err
		}
	}
	if !keepLogs {
		_ = os.Remove(dir) // fails only beside a lock Windows kept
	}
	return nil
}
