package steps

// address-probe: before any node takes its static address, ask the lab's
// network whether another machine already answers for one of the planned
// addresses (every node's and the VIP). In a classroom where 30 students
// share one lab.toml, this is where the second student learns to take a
// seat, instead of fighting over ARP with the first.
//
// Reads: nic1's MAC of every lab VM from VirtualBox (the lab's own
// machines), then one probe script on the first node (package addrprobe:
// duplicate-address detection for all the addresses at once, bounded).
// The script goes over SSH once the node's host key is pinned, else guest
// control. Writes nothing.
//
// On a built lab the probe is its own live check: every address answers at
// once from the lab's own VMs (arping stops at the first reply), so a
// re-run costs one guest command and no probe timeout.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"

	"labctl/addrprobe"
	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/vbox"
)

// AddressProbe is the "address-probe" step.
func AddressProbe() Step { return addressProbe{} }

// AddressProbeVia is the step with the probe script run by guestOf instead
// of the node's own executors: the whole-tool tests' simulated LAN.
func AddressProbeVia(guestOf func(env *Env, n *lab.Node) guest.Executor) Step {
	return addressProbe{via: guestOf}
}

type addressProbe struct {
	via func(env *Env, n *lab.Node) guest.Executor
}

var (
	_ Step    = addressProbe{}
	_ LabWide = addressProbe{}
)

func (addressProbe) Name() string                  { return "address-probe" }
func (addressProbe) Title() string                 { return "Checking no other machine uses the lab's addresses" }
func (addressProbe) Targets(p *lab.Plan) lab.Nodes { return nil }
func (addressProbe) LabWide() bool                 { return true }

// Needs: the probe runs inside a guest, through guest control.
func (addressProbe) Needs() []string { return []string{"wait-guests"} }

// probeAddrs are the lab's planned addresses (nodes in lab order, then the
// VIP) and what each is planned for.
func probeAddrs(p *lab.Plan) ([]netip.Addr, map[netip.Addr]string) {
	owners := map[netip.Addr]string{}
	var out []netip.Addr
	for _, n := range p.Nodes {
		if _, dup := owners[n.IP]; !dup {
			out = append(out, n.IP)
		}
		owners[n.IP] = n.VM
	}
	if _, dup := owners[p.VIP]; !dup {
		out = append(out, p.VIP)
		owners[p.VIP] = "the VIP"
	}
	return out, owners
}

// Check probes (it is read-only): Done when no machine outside the lab
// answers; an error naming every clash otherwise. Not done only while the
// VMs do not run yet (a dry run of a fresh lab).
func (s addressProbe) Check(ctx context.Context, env *Env, _ *lab.Node) (Status, error) {
	prober := env.Plan.Nodes.First()
	info, err := env.VBox.Info(ctx, prober.VM)
	switch {
	case errors.Is(err, vbox.ErrNotFound):
		return Status{Why: fmt.Sprintf("probe the lab's %d addresses once the VMs run", len(env.Plan.Nodes)+1)}, nil
	case err != nil:
		return Status{}, fmt.Errorf("read VM %s: %w", prober.VM, err)
	case info.State != vbox.StateRunning:
		return Status{Why: fmt.Sprintf("probe the lab's addresses once %s runs (it is %s)", prober.VM, info.State)}, nil
	}
	return Status{Done: true}, s.probe(ctx, env, prober)
}

// Apply probes as Check does (reached when the VMs were not running at
// Check time); in a plan it shows the probe script.
func (s addressProbe) Apply(ctx context.Context, env *Env, _ *lab.Node) error {
	return s.probe(ctx, env, env.Plan.Nodes.First())
}

// probe runs the probe on prober and turns foreign answers into errors.
func (s addressProbe) probe(ctx context.Context, env *Env, prober *lab.Node) error {
	p := env.Plan
	addrs, owners := probeAddrs(p)
	nw, err := gaNetFor(ctx, env, prober)
	if err != nil {
		return err
	}
	script := addrprobe.Script(nw.MAC, addrs)
	var res guest.Result
	switch {
	case env.Transcript != nil: // a plan: the recorder shows the script
		res, err = env.Control(prober).Run(ctx, guest.Cmd{Script: script, Fresh: guest.Prints("method=plan\n")})
	case s.via != nil:
		res, err = s.via(env, prober).Run(ctx, guest.Cmd{Script: script})
	default:
		res, err = gaRead(ctx, env, prober, script)
	}
	if err != nil {
		return fmt.Errorf("%s: probe the lab's addresses: %w", prober.VM, err)
	}
	r, err := addrprobe.Parse(res.Stdout)
	if err != nil {
		return fmt.Errorf("%s: %w", prober.VM, err)
	}
	if env.Transcript != nil {
		env.PlanNotef("any answer from a MAC that is not one of the lab's VMs stops up here, before any node takes an address")
		return nil
	}
	if r.Method == "" {
		env.Warnf("could not check that the lab's addresses are free (%s on %s): each node still checks its own address before taking it", r.Why, prober.VM)
		return nil
	}
	fmt.Fprintf(logOf(env), "address-probe: %s probed %d addresses with %s: %s\n", prober.VM, len(addrs), r.Method, answersText(r))
	clashes := addrprobe.Clashes(r, nil, owners)
	if len(clashes) == 0 {
		return nil
	}
	own, err := labMACs(ctx, env)
	if err != nil {
		return err
	}
	clashes = addrprobe.Clashes(r, own, owners)
	if len(clashes) == 0 {
		return nil
	}
	// Before guest-network, no node holds its address: say so, since that
	// is what the student wants to know (nothing to undo).
	held := false
	for _, a := range r.Answers {
		if a.Self || own[a.MAC] {
			held = true
		}
	}
	var merr *multierror.Error
	for _, c := range clashes {
		if held {
			merr = multierror.Append(merr, c)
		} else {
			merr = multierror.Append(merr, fmt.Errorf("%w (no node of this lab has taken an address yet)", c))
		}
	}
	return merr
}

// labMACs are the MACs of every NIC of every lab VM, read from VirtualBox:
// an answer from one of them is the lab's own (a re-run). The reads are the
// run's settled ones (vmSettled): the guest-access steps after this one
// need the same VMs' UUIDs and MACs.
func labMACs(ctx context.Context, env *Env) (map[string]bool, error) {
	var mu sync.Mutex
	own := map[string]bool{}
	err := fanout.Each(ctx, env.Plan.Nodes, 0, (*lab.Node).Name, func(ctx context.Context, n *lab.Node) error {
		info, err := env.vmSettled(ctx, n.VM)
		if errors.Is(err, vbox.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the MACs of %s: %w", n.VM, err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, nic := range info.NICs {
			if nic.MAC != "" {
				own[addrprobe.NormMAC(nic.MAC)] = true
			}
		}
		return nil
	})
	return own, err
}

func answersText(r addrprobe.Result) string {
	var parts []string
	for _, a := range r.Answers {
		switch {
		case a.Self:
			parts = append(parts, a.Addr.String()+" (the prober's own)")
		case a.MAC == "":
			parts = append(parts, a.Addr.String()+" free")
		default:
			parts = append(parts, a.Addr.String()+" answered by "+a.MAC)
		}
	}
	return strings.Join(parts, ", ")
}
