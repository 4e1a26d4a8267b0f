package labenv

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
	"labctl/redact"
	"labctl/steps"
	"labctl/vbox"
)

// Plan is the environment `labctl plan` runs the pipeline in: the base VM as
// on a first `up` (powered off, no snapshot yet) in an emulated VirtualBox,
// secrets made up for the occasion, and a recorder for every node.
type Plan struct {
	Env       *steps.Env
	recorders map[string]*guest.Recorder
	order     []string
}

// OpenPlan builds the plan environment; nothing on this host is read or written.
func OpenPlan(p *lab.Plan) (*Plan, error) {
	secrets, err := lab.EphemeralSecrets()
	if err != nil {
		return nil, err
	}
	profile, err := guest.ProfileByName(p.Profile)
	if err != nil {
		return nil, err
	}
	hidden := secrets.Values()
	pl := &Plan{recorders: map[string]*guest.Recorder{}}
	for _, n := range p.Nodes {
		pl.recorders[n.VM] = guest.NewRecorder(n.VM, hidden...)
		pl.order = append(pl.order, n.VM)
	}
	recorder := func(n *lab.Node) guest.Executor { return pl.recorders[n.VM] }
	pl.Env = &steps.Env{
		Plan:         p,
		Secrets:      secrets,
		VBox:         vbox.New(vbox.NewEmulator(p.Base.VM, "")),
		Profile:      profile,
		SSHPublicKey: "ssh-ed25519 AAAA<generated-on-first-up> labctl@" + p.Name,
		HostKeys:     hostkeys.New(filepath.Join(p.StateDir, lab.KnownHostsFile)),
		Log:          redact.NewWriter(io.Discard, hidden),
		Control:      recorder,
		SSH:          recorder,
	}
	return pl, nil
}

// Written is what WriteFiles wrote for one node.
type Written struct {
	Node  string
	Files []string // paths in the guest, sorted
}

// WriteFiles writes every file each node would keep under dir/<node>/<path>
// (staged uploads under their final name; transient ones, such as the
// WordPress archive up downloads, left out) and says what it wrote.
func (pl *Plan) WriteFiles(dir string) ([]Written, error) {
	var out []Written
	for _, node := range pl.order {
		w := Written{Node: node}
		for _, f := range pl.recorders[node].Files() {
			if f.Transient {
				continue
			}
			guestPath := f.Kept()
			dst := filepath.Join(dir, node, filepath.FromSlash(strings.TrimPrefix(guestPath, "/")))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return out, err
			}
			mode := f.Mode.Perm()
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(dst, f.Content, mode); err != nil {
				return out, fmt.Errorf("write %s: %w", dst, err)
			}
			w.Files = append(w.Files, guestPath)
		}
		sort.Strings(w.Files)
		if len(w.Files) > 0 {
			out = append(out, w)
		}
	}
	return out, nil
}
