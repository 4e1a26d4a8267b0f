package steptest

// The simulated LAN the real address-probe step probes: the lab's own VMs
// answer for the addresses the simulated guest-network (and keepalived,
// for the VIP) has given them, with their MACs as VirtualBox (the fake)
// reports them; a planted machine answers for its address with its own
// MAC. No script runs: the probe script's address list is read and
// answered in its output format (addrprobe.Parse).

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"labctl/addrprobe"
	"labctl/guest"
	"labctl/lab"
	"labctl/steps"
)

// ProbeStep is the one guest step SimPipeline keeps real.
const ProbeStep = "address-probe"

// Plant makes a machine outside the lab answer for addr with mac.
func (s *Sim) Plant(addr netip.Addr, mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.planted == nil {
		s.planted = map[netip.Addr]string{}
	}
	s.planted[addr] = mac
}

// Unplant removes the machine answering for addr.
func (s *Sim) Unplant(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.planted, addr)
}

// Probes lists, per address probe run so far, the addresses it probed.
func (s *Sim) Probes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.probes...)
}

func (s *Sim) lanGuest(env *steps.Env, n *lab.Node) guest.Executor {
	return &lanGuest{sim: s, env: env, node: n}
}

type lanGuest struct {
	sim  *Sim
	env  *steps.Env
	node *lab.Node
}

func (g *lanGuest) String() string { return "simulated LAN probe on " + g.node.VM }

func (g *lanGuest) Upload(context.Context, guest.File) (bool, error) {
	return false, errors.New("the simulated LAN only answers the address probe")
}

// Run answers the probe script: it must carry addrs='...'.
func (g *lanGuest) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	var list string
	for _, l := range strings.Split(cmd.Script, "\n") {
		if v, ok := strings.CutPrefix(l, "addrs='"); ok {
			list = strings.TrimSuffix(v, "'")
		}
	}
	if list == "" {
		return guest.Result{}, errors.New("the simulated LAN got a script that is not the address probe")
	}
	p := g.env.Plan
	g.sim.mu.Lock()
	g.sim.probes = append(g.sim.probes, list)
	g.sim.mu.Unlock()
	var b strings.Builder
	b.WriteString("method=arping\n")
	for _, f := range strings.Fields(list) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return guest.Result{}, err
		}
		holder := g.holder(p, a)
		g.sim.mu.Lock()
		planted := g.sim.planted[a]
		g.sim.mu.Unlock()
		switch {
		case holder == g.node:
			fmt.Fprintf(&b, "probe %s self\n", a)
		case planted != "":
			// A real LAN would show both; arping reports the first reply.
			fmt.Fprintf(&b, "probe %s %s\n", a, planted)
		case holder != nil:
			info, err := g.env.VBox.Info(ctx, holder.VM)
			if err != nil {
				return guest.Result{}, err
			}
			mac := "-"
			for _, nic := range info.NICs {
				if nic.Slot == 1 {
					mac = addrprobe.NormMAC(nic.MAC)
				}
			}
			fmt.Fprintf(&b, "probe %s %s\n", a, mac)
		default:
			fmt.Fprintf(&b, "probe %s -\n", a)
		}
	}
	return guest.Result{Stdout: b.String()}, nil
}

// holder is the lab node that holds a in the simulation, or nil: a node
// its address once guest-network is applied on it, the first db node the
// VIP once keepalived is.
func (g *lanGuest) holder(p *lab.Plan, a netip.Addr) *lab.Node {
	for _, n := range p.Nodes {
		if n.IP == a && g.sim.Applied("guest-network", n.VM) {
			return n
		}
	}
	if db := p.DB().First(); a == p.VIP && db != nil && g.sim.Applied("keepalived", db.VM) {
		return db
	}
	return nil
}
