package steps

// lab-network: the lab's own VirtualBox network: in natnetwork mode a NAT
// network with a forward to each node's sshd and to the load balancer's
// HTTP port; in hostonly mode a host-only adapter with the host at .1 (a
// host-only network on macOS with 7.x); nothing to do in bridged mode.
//
// lab-network reads: list --long natnets, list hostonlyifs / hostonlynets.
// It writes: natnetwork add or modify, hostonlyif create and ipconfig,
// hostonlynet add, and the lab's network record (labnet.Record).

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
		return checkHostOnly(ctx, env)
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
	if p.NetMode == lab.ModeHostOnly {
		return applyHostOnly(ctx, env)
	}
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

// --- hostonly mode ---

// hostOnlyState reads the lab's host-only adapter (or, on macOS with 7.x,
// host-only network); found=false when it does not exist (yet).
func hostOnlyState(ctx context.Context, env *Env) (adapter vbox.HostIf, net vbox.HostOnlyNet, found bool, err error) {
	p := env.Plan
	nets, err := networksOf(env)
	if err != nil || p.NATNetwork == "" {
		return adapter, net, false, err
	}
	if p.HostOnlyNet {
		list, err := nets.HostOnlyNets(ctx)
		if err != nil {
			return adapter, net, false, fmt.Errorf("list host-only networks: %w", err)
		}
		for _, n := range list {
			if n.Name == p.NATNetwork {
				return adapter, n, true, nil
			}
		}
		return adapter, net, false, nil
	}
	ifs, err := nets.HostOnlyIfs(ctx)
	if err != nil {
		return adapter, net, false, fmt.Errorf("list host-only adapters: %w", err)
	}
	for _, h := range ifs {
		if h.Name == p.NATNetwork {
			return h, net, true, nil
		}
	}
	return adapter, net, false, nil
}

func checkHostOnly(ctx context.Context, env *Env) (Status, error) {
	p := env.Plan
	adapter, net, found, err := hostOnlyState(ctx, env)
	if err != nil {
		return Status{}, err
	}
	host := fmt.Sprintf("%s/%d", p.Gateway, p.Network.Bits())
	switch {
	case !found && p.HostOnlyNet:
		return Status{Why: fmt.Sprintf("create host-only network %s (%s, the host at %s)", p.NATNetwork, p.Network, p.Gateway)}, nil
	case !found:
		return Status{Why: fmt.Sprintf("create a host-only adapter with the host's address %s", host)}, nil
	case p.HostOnlyNet:
		if want := labnet.WantHostOnlyNet(p); net.Netmask != want.Netmask || net.LowerIP != want.LowerIP || net.UpperIP != want.UpperIP {
			return Status{}, fmt.Errorf("host-only network %s has mask %s and range %s-%s, not the lab's %s: remove it (`VBoxManage hostonlynet remove --name %s`) or set network in [network] of %s to its range",
				p.NATNetwork, net.Netmask, net.LowerIP, net.UpperIP, p.Network, p.NATNetwork, p.File)
		}
	case adapter.IPAddress != p.Gateway.String() || adapter.NetworkMask != vbox.Netmask(p.Network.Bits()):
		return Status{Why: fmt.Sprintf("host-only adapter %s has %s/%s, want %s", adapter.Name, adapter.IPAddress, adapter.NetworkMask, host)}, nil
	}
	if rec, err := labnet.ReadRecord(p.StateDir); err != nil || rec == nil || rec.Name != p.NATNetwork {
		return Status{Why: "record the host-only network in the lab's state folder"}, nil
	}
	return Status{Done: true}, nil
}

func applyHostOnly(ctx context.Context, env *Env) error {
	p := env.Plan
	nets, err := networksOf(env)
	if err != nil {
		return err
	}
	rec, err := labnet.ReadRecord(p.StateDir)
	if err != nil {
		return err
	}
	if rec == nil || rec.Mode != p.NetMode || rec.Name != p.NATNetwork {
		rec = &labnet.Record{Mode: p.NetMode, Name: p.NATNetwork, HostOnlyNet: p.HostOnlyNet}
	}
	rec.Network = p.Network.String()
	save := func() error {
		if env.Transcript != nil {
			return nil // a plan records nothing on this host
		}
		return labnet.WriteRecord(p.StateDir, rec)
	}
	adapter, _, found, err := hostOnlyState(ctx, env)
	if err != nil {
		return err
	}
	if p.HostOnlyNet {
		if !found {
			if err := nets.AddHostOnlyNet(ctx, labnet.WantHostOnlyNet(p)); err != nil {
				return fmt.Errorf("create host-only network %s: %w", p.NATNetwork, err)
			}
			rec.Created = true
		}
		return save()
	}
	if !found {
		name, err := nets.CreateHostOnlyIf(ctx)
		if err != nil {
			return fmt.Errorf("create a host-only adapter: %w", err)
		}
		// From here on the adapter is the lab's: record it at once, so down
		// removes it even if configuring it fails.
		p.NATNetwork, rec.Name, rec.Created = name, name, true
		adapter = vbox.HostIf{Name: name}
		env.PlanNotef("the host-only adapter VirtualBox creates is named %s from here on", name)
		if err := save(); err != nil {
			return err
		}
	}
	if adapter.IPAddress != p.Gateway.String() || adapter.NetworkMask != vbox.Netmask(p.Network.Bits()) {
		err := nets.ConfigureHostOnlyIf(ctx, p.NATNetwork, netip.PrefixFrom(p.Gateway, p.Network.Bits()))
		if errors.Is(err, vbox.ErrHostOnlyRange) {
			return fmt.Errorf("VirtualBox refuses the host-only address %s/%d on this host: host-only addresses must lie in the ranges of /etc/vbox/networks.conf (without that file: %s). Set network in [network] of %s inside that range (or leave it empty), or allow the range by adding a line \"* %s\" to /etc/vbox/networks.conf: %w",
				p.Gateway, p.Network.Bits(), lab.HostOnlyDefaultRange, p.File, p.Network, err)
		}
		if err != nil {
			return fmt.Errorf("configure host-only adapter %s: %w", p.NATNetwork, err)
		}
	}
	return save()
}
