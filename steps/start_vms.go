package steps

// start-vms: every lab VM running, headless.

import (
	"context"
	"fmt"

	"labctl/lab"
	"labctl/vbox"
)

// startVMsStep starts every lab VM headless.
type startVMsStep struct{}

var _ Needs = startVMsStep{}

// StartVMs returns the start-vms step.
func StartVMs() Step { return startVMsStep{} }

func (startVMsStep) Name() string                  { return "start-vms" }
func (startVMsStep) Title() string                 { return "Starting the VMs (headless)" }
func (startVMsStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (startVMsStep) Needs() []string               { return []string{"preflight", "configure-vms"} }

func (s startVMsStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	info, err := env.checkView(s.Name(), n.VM).Info(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read %s: %w", n.VM, err)
	}
	switch info.State {
	case vbox.StateRunning:
		return Status{Done: true}, nil
	case vbox.StatePaused:
		return Status{}, fmt.Errorf("%s is paused: resume it (`VBoxManage controlvm %s resume`) or power it off, then run labctl up again", n.VM, n.VM)
	}
	return Status{Why: fmt.Sprintf("VM is %s: start it headless", info.State)}, nil
}

func (s startVMsStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	info, err := env.applyView(s.Name(), n.VM).Info(ctx) // the Check's read
	if err != nil {
		return fmt.Errorf("read %s: %w", n.VM, err)
	}
	switch info.State {
	case vbox.StateRunning:
		return nil
	case vbox.StatePowerOff, vbox.StateAborted, vbox.StateSaved:
	default:
		return fmt.Errorf("%s is %s: wait until it is running or powered off, then run labctl up again", n.VM, info.State)
	}
	err = env.VBox.Start(ctx, n.VM)
	env.changedVM(n.VM)
	if err != nil {
		return fmt.Errorf("start %s: %w", n.VM, err)
	}
	return nil
}
