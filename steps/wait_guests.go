package steps

// wait-guests: wait until each VM's Guest Additions run, so guest control
// answers.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"labctl/lab"
	"labctl/vbox"
)

// waitGuestsStep waits until each VM's Guest Additions run (run level >= 2,
// from showvminfo: no guest property carries the run level).
type waitGuestsStep struct {
	// every is the polling interval (0 = 1s).
	every time.Duration
}

var _ Needs = waitGuestsStep{}

// WaitGuests returns the wait-guests step.
func WaitGuests() Step { return waitGuestsStep{} }

// WaitGuestsEvery is wait-guests polling every d: tests that scale a
// simulated boot down scale the poll with it.
func WaitGuestsEvery(d time.Duration) Step { return waitGuestsStep{every: d} }

func (waitGuestsStep) Name() string                  { return "wait-guests" }
func (waitGuestsStep) Title() string                 { return "Waiting for the guests' Guest Additions" }
func (waitGuestsStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (waitGuestsStep) Needs() []string               { return []string{"start-vms"} }

// guestReadyLevel: 2 = userland, where VBoxService (guest control) runs.
const guestReadyLevel = 2

func (w waitGuestsStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	info, err := env.checkView(w.Name(), n.VM).Info(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read %s: %w", n.VM, err)
	}
	if info.State == vbox.StateRunning && info.GuestAddRunLvl >= guestReadyLevel {
		return Status{Done: true}, nil
	}
	if info.State != vbox.StateRunning {
		return Status{Why: fmt.Sprintf("VM is %s, not running", info.State)}, nil
	}
	return Status{Why: fmt.Sprintf("Guest Additions not up yet (run level %d, want %d)", info.GuestAddRunLvl, guestReadyLevel)}, nil
}

func (w waitGuestsStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	limit := env.GuestWait
	if limit <= 0 {
		limit = DefaultGuestWait
	}
	last := -1
	// The first look is what the Check just read; then every poll is live.
	read := env.applyView(w.Name(), n.VM).Info
	what := fmt.Sprintf("`showvminfo %s` to report GuestAdditionsRunLevel >= %d", n.VM, guestReadyLevel)
	err := env.Wait(ctx, what, limit, w.every, func(ctx context.Context) (bool, error) {
		info, err := read(ctx)
		read = func(ctx context.Context) (*vbox.VMInfo, error) { return env.VBox.Info(ctx, n.VM) }
		if err != nil {
			return false, fmt.Errorf("read %s: %w", n.VM, err)
		}
		if info.State == vbox.StateRunning && info.GuestAddRunLvl >= guestReadyLevel {
			return true, nil
		}
		if info.State != vbox.StateRunning && info.State != "starting" && info.State != "restoring" {
			return false, fmt.Errorf("%s stopped while booting (it is %s): look at its console in the VirtualBox window, then run labctl up again", n.VM, info.State)
		}
		if info.GuestAddRunLvl != last {
			last = info.GuestAddRunLvl
			fmt.Fprintf(logOf(env), "wait-guests: %s: Guest Additions run level %d\n", n.VM, last)
		}
		return false, nil
	})
	if errors.Is(err, ErrTimeout) {
		//lint:ignore ST1005 "Guest Additions" is VirtualBox's proper name
		return fmt.Errorf("Guest Additions did not start in %s within %s: is the base VM's Guest Additions installed, and does the VM boot? (its console shows why)", n.VM, shortDuration(limit))
	}
	return err
}
