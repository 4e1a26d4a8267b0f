package steps

// preflight: the lab-wide checks that run before any VM is touched.
//
// preflight reads: VBoxManage --version, list vms, list bridgedifs (at
// once), then the base checks of package base (its settings, Guest
// Additions and OS properties, the host's architectures) and the lab tag of
// every existing VM named like a lab node (at once). It writes nothing.

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"

	"labctl/addrprobe"
	labbase "labctl/base"
	"labctl/fleet"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/vbox"
)

// Ownership marks, owned by package fleet (which VMs are the lab's).
const (
	TagLab  = fleet.TagLab
	TagNode = fleet.TagNode
)

// MinVersion is the oldest VirtualBox labctl drives.
var MinVersion = vbox.Version{Major: 6, Minor: 1}

// preflightStep checks, before anything changes, that VirtualBox is recent
// enough, the base VM exists, no foreign VM carries a lab VM's name and the
// bridge adapter is up. A lab-wide step: it never applies anything.
type preflightStep struct{}

var (
	_ Step    = preflightStep{}
	_ LabWide = preflightStep{}
)

// Preflight returns the preflight step.
func Preflight() Step { return preflightStep{} }

func (preflightStep) Name() string                  { return "preflight" }
func (preflightStep) Title() string                 { return "Checking VirtualBox, the base VM and the host network" }
func (preflightStep) Targets(p *lab.Plan) lab.Nodes { return nil }
func (preflightStep) LabWide() bool                 { return true }

// Check returns Done or an error listing every problem found. The reads
// that do not depend on each other run at once (each is a VBoxManage
// process): the version, the VM list and the host interfaces; then the
// base's Guest Additions and the lab tag of each lab-named VM.
func (preflightStep) Check(ctx context.Context, env *Env, _ *lab.Node) (Status, error) {
	p := env.Plan
	var (
		v                vbox.Version
		vms              []vbox.VM
		ifs              []vbox.HostIf
		vErr, lErr, bErr error
	)
	fanout.All(
		func() { v, vErr = env.VBox.Version(ctx) },
		func() { vms, lErr = env.VBox.ListVMs(ctx) },
		func() { ifs, bErr = env.VBox.BridgedIfs(ctx) },
	)
	if vErr != nil {
		return Status{}, fmt.Errorf("check the VirtualBox version: %w", vErr)
	}
	if v.Major < MinVersion.Major || (v.Major == MinVersion.Major && v.Minor < MinVersion.Minor) {
		return Status{}, fmt.Errorf("VirtualBox %s is too old: labctl needs %d.%d or newer (7.x recommended); upgrade VirtualBox",
			versionText(v), MinVersion.Major, MinVersion.Minor)
	}
	if lErr != nil {
		return Status{}, fmt.Errorf("list VMs: %w", lErr)
	}

	var problems *multierror.Error
	bases := fleet.Named(vms, p.Base.VM)
	switch {
	case len(bases) == 0:
		return Status{}, fmt.Errorf("the base VM %q (base.vm in %s) is not registered in VirtualBox: list the VMs with `VBoxManage list vms` and set base.vm to one of them",
			p.Base.VM, p.File)
	case len(bases) > 1:
		return Status{}, fmt.Errorf("%d VMs are named %q (base.vm in %s): set base.vm to the UUID of the one to clone (see `VBoxManage list vms`)",
			len(bases), p.Base.VM, p.File)
	}
	base := bases[0]
	if p.Nodes.Find(base.Name) != nil {
		return Status{}, fmt.Errorf("the base VM %q is also a node of the lab in %s: give the nodes other VM names", base.Name, p.File)
	}
	var baseErr error
	gaDone := make(chan struct{})
	go func() {
		defer close(gaDone)
		baseErr = checkBase(ctx, env, base, v)
	}()
	// The host's own probe of the lab's addresses runs meanwhile; its
	// answer counts only when nothing else stops the run.
	var hc *HostCheck
	hcDone := make(chan struct{})
	go func() {
		defer close(hcDone)
		hc = hostProbe(ctx, env)
	}()

	// Only the lab's VM names that exist are read, all at once.
	var mu sync.Mutex
	err := fanout.Each(ctx, p.Nodes, 0, (*lab.Node).Name, func(ctx context.Context, n *lab.Node) error {
		same := fleet.Named(vms, n.VM)
		var problem error
		switch {
		case len(same) == 0:
			return nil
		case len(same) > 1:
			problem = fmt.Errorf("%d VMs are named %s: rename all but the lab's one", len(same), n.VM)
		default:
			v, err := fleet.Owner(ctx, p, n.VM, newVMView(env, n.VM))
			if err != nil {
				return err
			}
			problem = v.Foreign(p, n.VM)
		}
		if problem != nil {
			mu.Lock()
			problems = multierror.Append(problems, problem)
			mu.Unlock()
		}
		return nil
	})
	<-gaDone
	<-hcDone
	if err != nil {
		return Status{}, err
	}
	if baseErr != nil {
		problems = multierror.Append(problems, baseErr)
	}
	if problems != nil {
		// Lab order, whatever order the reads finished in.
		sort.SliceStable(problems.Errors, func(i, j int) bool {
			return nodeIndex(p, problems.Errors[i].Error()) < nodeIndex(p, problems.Errors[j].Error())
		})
	}

	if bErr != nil {
		return Status{}, fmt.Errorf("list host interfaces: %w", bErr)
	}
	if err := checkBridge(p, ifs); err != nil {
		problems = multierror.Append(problems, err)
	}
	if problems == nil && hc != nil {
		fmt.Fprintf(logOf(env), "preflight: %s\n", hc.Summary)
		for _, w := range hc.Recent {
			env.Warnf("%s", w)
		}
		for _, c := range hc.Clashes {
			problems = multierror.Append(problems, c)
		}
	}
	if err := problems.ErrorOrNil(); err != nil {
		return Status{}, fmt.Errorf("nothing was changed: %w", err)
	}
	return Status{Done: true}, nil
}

// Apply has nothing to do: Check either passes or stops the run. In a plan
// it says what is checked.
func (preflightStep) Apply(ctx context.Context, env *Env, _ *lab.Node) error {
	env.PlanNotef("check: VirtualBox >= %d.%d; base VM %q exists; lab VM names are free or tagged %s=%s; bridge adapter %q is up",
		MinVersion.Major, MinVersion.Minor, env.Plan.Base.VM, TagLab, env.Plan.Name, env.Plan.BridgeAdapter)
	return nil
}

// hostProbe asks the lab network from this computer (HostAddressCheck).
// Where the host cannot tell it says so in the log (--verbose shows it) and
// the guest probe (address-probe) decides.
func hostProbe(ctx context.Context, env *Env) *HostCheck {
	if env.HostProbe == nil {
		return nil
	}
	hc := HostAddressCheck(ctx, env.Plan, env.VBox, env.HostProbe)
	return &hc
}

// HostCheck is what this computer can tell about the lab's addresses.
type HostCheck struct {
	Probed  bool              // false: the host cannot tell (Summary says why)
	Summary string            // one line for logs and `base check`
	Clashes []addrprobe.Clash // answered now by a machine outside the lab
	Recent  []string          // warnings: foreign MACs the host's neighbour cache held already
}

// HostAddressCheck probes the lab's planned addresses from this computer,
// where it has an address on the lab network (probe is addrprobe.Host),
// and tells the lab's own VMs (their MACs read from vb) from others.
// Preflight and `labctl base check` share it.
func HostAddressCheck(ctx context.Context, p *lab.Plan, vb vbox.API,
	probe func(context.Context, netip.Prefix, []netip.Addr) (addrprobe.Result, []addrprobe.Answer)) HostCheck {
	addrs, owners := probeAddrs(p)
	r, recent := probe(ctx, p.Network, addrs)
	if r.Method == "" {
		return HostCheck{Summary: fmt.Sprintf("the lab's addresses were not probed from this computer: %s (up probes them from the first node)", r.Why)}
	}
	hc := HostCheck{Probed: true, Summary: fmt.Sprintf("this computer probed the lab's %d addresses: %s", len(addrs), answersText(r))}
	if len(addrprobe.Clashes(r, nil, owners)) == 0 && len(recent) == 0 {
		return hc
	}
	own, err := labMACs(ctx, &Env{Plan: p, VBox: vb})
	if err != nil {
		hc.Summary += fmt.Sprintf(" (the lab's MACs could not be read: %v)", err)
		return hc
	}
	for _, c := range addrprobe.Clashes(addrprobe.Result{Answers: recent}, own, owners) {
		hc.Recent = append(hc.Recent, fmt.Sprintf("this computer recently saw %s (planned for %s) at MAC %s, not one of this lab's VMs; the probe from the first node decides", c.Addr, c.Owner, c.MAC))
	}
	hc.Clashes = addrprobe.Clashes(r, own, owners)
	return hc
}

func versionText(v vbox.Version) string {
	if v.Raw != "" {
		return v.Raw
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Build)
}

// nodeIndex is the position of the first lab node whose VM name msg mentions.
func nodeIndex(p *lab.Plan, msg string) int {
	for i, n := range p.Nodes {
		if strings.Contains(msg, " "+n.VM+" ") {
			return i
		}
	}
	return len(p.Nodes)
}

// checkBase runs `labctl base check`'s checks (package base): warnings
// are shown, problems (a base that cannot run on this host, a profile that
// does not fit its OS, ...) stop the run before anything is cloned.
func checkBase(ctx context.Context, env *Env, base vbox.VM, v vbox.Version) error {
	p := env.Plan
	rep, err := labbase.Inspect(ctx, env.VBox, labbase.Want{VM: base.UUID, Snapshot: p.Base.Snapshot, Profile: p.Profile, File: p.File, VirtualBox: v})
	if err != nil {
		fmt.Fprintf(logOf(env), "preflight: cannot check the base VM: %v\n", err)
		return nil
	}
	for _, w := range rep.Warnings() {
		env.Warnf("%s", w)
	}
	fmt.Fprintf(logOf(env), "preflight: %s\n", rep.Summary())
	return rep.Err()
}

func checkBridge(p *lab.Plan, ifs []vbox.HostIf) error {
	if p.NetMode != "" && p.NetMode != lab.ModeBridged {
		return nil // a private network: no LAN adapter involved
	}
	var names []string
	for _, hi := range ifs {
		if hi.Name == p.BridgeAdapter {
			if hi.Status != "Up" {
				return fmt.Errorf("the bridge adapter %q is %s: connect it, or set bridge_adapter in %s to an interface that is up (see `VBoxManage list bridgedifs`)",
					hi.Name, strings.ToLower(hi.Status), p.File)
			}
			return nil
		}
		names = append(names, fmt.Sprintf("%q (%s)", hi.Name, hi.Status))
	}
	if p.BridgeAdapter == "" {
		return fmt.Errorf("no bridge adapter is set: set bridge_adapter in %s to one of: %s", p.File, strings.Join(names, ", "))
	}
	return fmt.Errorf("the bridge adapter %q is not a host interface VirtualBox can bridge to: set bridge_adapter in %s to one of: %s",
		p.BridgeAdapter, p.File, strings.Join(names, ", "))
}
