package steps

// lab-network: the lab's own VirtualBox network in natnetwork mode (a NAT
// network with a forward to each node's sshd and to the load balancer's
// HTTP port); nothing to do in bridged mode.
//
// lab-network reads: list --long natnets. It writes: natnetwork add or
// natnetwork modify, and the lab's network record (labnet.Record).

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"labctl/lab"
	"labctl/labnet"
	"labctl/vbox"
)

// labNetworkStep creates (or fixes) the lab's NAT network before any VM is
// attached to it.
type labNetworkStep struct{}

var (
	_ Step    = labNetworkStep{}
	_ LabWide = labNetworkStep{}
	_ Needs   = labNetworkStep{}
)

// LabNetwork returns the lab-network step.
func LabNetwork() Step { return labNetworkStep{} }

func (labNetworkStep) Name() string                  { return "lab-network" }
func (labNetworkStep) Title() string                 { return "Preparing the lab's own network" }
func (labNetworkStep) Targets(p *lab.Plan) lab.Nodes { return nil }
func (labNetworkStep) LabWide() bool                 { return true }
func (labNetworkStep) Needs() []string               { return []string{"preflight"} }

func networksOf(env *Env) (vbox.Networks, error) {
	nets, ok := env.VBox.(vbox.Networks)
	if !ok {
		return nil, errors.New("this VirtualBox client cannot manage networks")
	}
	return nets, nil
}

// natState reads the lab's NAT network; nil when it does not exist.
func natState(ctx context.Context, env *Env) (*vbox.NATNetwork, error) {
	nets, err := networksOf(env)
	if err != nil {
		return nil, err
	}
	list, err := nets.NATNetworks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list NAT networks: %w", err)
	}
	for i := range list {
		if list[i].Name == env.Plan.NATNetwork {
			return &list[i], nil
		}
	}
	return nil, nil
}

func (s labNetworkStep) Check(ctx context.Context, env *Env, _ *lab.Node) (Status, error) {
	p := env.Plan
	switch p.NetMode {
	case lab.ModeNATNetwork:
	case lab.ModeHostOnly:
		return Status{}, fmt.Errorf("network mode %q is not available yet: set mode = \"natnetwork\" in [network] of %s (private addresses, works where bridging is blocked)", p.NetMode, p.File)
	default:
		return Status{Done: true}, nil
	}
	have, err := natState(ctx, env)
	if err != nil {
		return Status{}, err
	}
	want := labnet.WantNAT(p)
	if have == nil {
		var fw []string
		for _, f := range want.Forwards {
			fw = append(fw, fmt.Sprintf("%s:%d → %s:%d", f.HostIP, f.HostPort, f.GuestIP, f.GuestPort))
		}
		return Status{Why: fmt.Sprintf("create NAT network %s (%s, DHCP off) with forwards %s", want.Name, want.Network, strings.Join(fw, ", "))}, nil
	}
	if diffs, _ := labnet.DiffNAT(want, *have); len(diffs) > 0 {
		return Status{Why: fmt.Sprintf("NAT network %s: %s", want.Name, strings.Join(diffs, "; "))}, nil
	}
	if rec, err := labnet.ReadRecord(p.StateDir); err != nil || rec == nil || !sameForwards(rec.Forwards, labnet.Ports(p)) {
		// The network is right but this host's record of it is missing:
		// write it, so later commands reuse these ports.
		return Status{Why: "record the NAT network's forwards in the lab's state folder"}, nil
	}
	return Status{Done: true}, nil
}

func sameForwards(a, b lab.ForwardPorts) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (s labNetworkStep) Apply(ctx context.Context, env *Env, _ *lab.Node) error {
	p := env.Plan
	if p.NetMode != lab.ModeNATNetwork {
		return nil
	}
	nets, err := networksOf(env)
	if err != nil {
		return err
	}
	rec, err := labnet.ReadRecord(p.StateDir)
	if err != nil {
		return err
	}
	if rec == nil || rec.Name != p.NATNetwork || rec.Mode != p.NetMode {
		rec = &labnet.Record{Mode: p.NetMode, Name: p.NATNetwork}
	}
	have, err := natState(ctx, env)
	if err != nil {
		return err
	}
	want := labnet.WantNAT(p)
	switch {
	case have == nil:
		if err := nets.AddNATNetwork(ctx, want); err != nil {
			return fmt.Errorf("create NAT network %s: %w", want.Name, err)
		}
		rec.Created = true
	default:
		diffs, ch := labnet.DiffNAT(want, *have)
		if len(diffs) > 0 {
			if err := nets.ModifyNATNetwork(ctx, want.Name, ch); err != nil {
				return fmt.Errorf("fix NAT network %s (%s): %w", want.Name, strings.Join(diffs, "; "), err)
			}
		}
	}
	rec.Network, rec.Forwards = want.Network, labnet.Ports(p)
	if env.Transcript != nil {
		return nil // a plan records nothing on this host
	}
	return labnet.WriteRecord(p.StateDir, rec)
}
