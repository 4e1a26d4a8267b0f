package fleet

import (
	"context"
	"errors"

	"labctl/lab"
	"labctl/vbox"
)

// Sighting is what one node's VM looks like to a read-only command.
type Sighting struct {
	Found   bool
	Verdict Verdict      // meaningful when Found
	State   vbox.VMState // meaningful when Found
	Info    *vbox.VMInfo // the VM as read; nil when not found
}

// Look reads the node's VM without changing anything: missing, the lab's
// (tagged or adoptable) with its state, or foreign. A read that fails is
// the error, naming the VM.
func (f *Fleet) Look(ctx context.Context, n *lab.Node) (Sighting, error) {
	info, err := f.VBox.Info(ctx, n.VM)
	if errors.Is(err, vbox.ErrNotFound) {
		return Sighting{}, nil
	}
	if err != nil {
		return Sighting{}, err
	}
	v := &liveVM{api: f.VBox, ref: info.UUID, info: info}
	verdict, err := Owner(ctx, f.Plan, n.VM, v)
	if err != nil {
		return Sighting{}, err
	}
	return Sighting{Found: true, Verdict: verdict, State: info.State, Info: info}, nil
}
