// Package labnet is the lab's private network on this host, for the
// natnetwork and hostonly modes: which VirtualBox network the lab uses and
// its addresses, the host ports of the NAT network's forwards, and the
// record (network.json in the lab's state folder) of what labctl made, so
// `down` removes only that. It knows VirtualBox's networks, not the guests.
package labnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"labctl/lab"
	"labctl/vbox"
)

// RecordFile is the record's name in the lab's state folder.
const RecordFile = "network.json"

// Record is what labctl chose and made for a lab's private network.
type Record struct {
	Mode    string `json:"mode"`
	Name    string `json:"name"`    // the NAT network, host-only interface or host-only network
	Network string `json:"network"` // its CIDR
	// Created: labctl created it (down may remove it); false for a network
	// that was there before (a user's, reused).
	Created bool `json:"created"`
	// HostOnlyNet: hostonly mode used a host-only network (macOS, VirtualBox 7), not an adapter.
	HostOnlyNet bool             `json:"hostonlynet,omitempty"`
	Forwards    lab.ForwardPorts `json:"forwards,omitempty"` // natnetwork: host port per node VM and lab.HTTPRuleName
}

// ReadRecord reads the lab's record; nil when there is none.
func ReadRecord(stateDir string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, RecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the lab's network record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("the lab's network record %s is damaged (%v): delete it and run labctl up again", filepath.Join(stateDir, RecordFile), err)
	}
	return &r, nil
}

// WriteRecord writes the record atomically, 0600, into an existing state folder.
func WriteRecord(stateDir string, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(stateDir, RecordFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("record the lab's network: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record the lab's network: %w", err)
	}
	return nil
}

// HostNet picks the private network of a lab in natnetwork or hostonly mode
// whose lab.toml leaves network empty: the recorded one, else the one its
// existing VirtualBox network has, else a free /24 (lab.PickPrivateNetwork)
// that no other NAT network (or host-only interface) on this host uses.
// nets is nil without VirtualBox (a plan): then nothing is taken.
func HostNet(ctx context.Context, cfg *lab.Config, nets vbox.Networks) (lab.HostNet, error) {
	mode := cfg.NetMode()
	if mode == lab.ModeBridged {
		return lab.HostNet{}, nil
	}
	allowed, source := AllowedHostOnly()
	if cfg.Network.Network != "" {
		if p, err := netip.ParsePrefix(cfg.Network.Network); err == nil && mode == lab.ModeHostOnly && allowed != nil {
			if err := cfg.CheckHostOnlyRange(p.Masked(), allowed, source); err != nil {
				return lab.HostNet{}, err
			}
		}
		return lab.HostNet{}, nil
	}
	// The seat's own name and folder: each seat has its network and record.
	name := lab.NetworkName(cfg.LabName())
	if dir, err := cfg.StateDirPath(); err == nil {
		if rec, err := ReadRecord(dir); err == nil && rec != nil && rec.Mode == mode {
			if p, err := netip.ParsePrefix(rec.Network); err == nil {
				return lab.HostNet{Prefix: p}, nil
			}
		}
	}
	taken := map[netip.Prefix]bool{}
	if nets != nil {
		switch mode {
		case lab.ModeNATNetwork:
			list, err := nets.NATNetworks(ctx)
			if err != nil {
				return lab.HostNet{}, fmt.Errorf("list VirtualBox's NAT networks: %w", err)
			}
			for _, n := range list {
				p, err := netip.ParsePrefix(n.Network)
				if err != nil {
					continue
				}
				if n.Name == name {
					return lab.HostNet{Prefix: p}, nil
				}
				taken[p.Masked()] = true
			}
		case lab.ModeHostOnly:
			ifs, err := nets.HostOnlyIfs(ctx)
			if err != nil {
				return lab.HostNet{}, fmt.Errorf("list VirtualBox's host-only interfaces: %w", err)
			}
			for _, h := range ifs {
				if p, ok := ifPrefix(h); ok {
					taken[p.Masked()] = true
				}
			}
		}
	}
	p, ok := lab.PickPrivateNetwork(mode, cfg.LabName(), func(p netip.Prefix) bool {
		return taken[p] || mode == lab.ModeHostOnly && allowed != nil && cfg.CheckHostOnlyRange(p, allowed, source) != nil
	})
	if !ok {
		return lab.HostNet{}, fmt.Errorf("every private /24 labctl picks from is in use on this host: set network in [network] of %s", cfg.File)
	}
	return lab.HostNet{Prefix: p}, nil
}

// ifPrefix is a host interface's subnet.
func ifPrefix(h vbox.HostIf) (netip.Prefix, bool) {
	ip, err := netip.ParseAddr(h.IPAddress)
	mask := net.ParseIP(h.NetworkMask).To4()
	if err != nil || mask == nil {
		return netip.Prefix{}, false
	}
	bits, _ := net.IPMask(mask).Size()
	return netip.PrefixFrom(ip, bits).Masked(), true
}

// PortRange is where labctl looks for free host ports for the forwards: a
// bounded search from a spot derived from the lab's name.
const (
	PortBase  = 42000
	PortSpan  = 2000
	portSlots = 100 // start spots, PortSpan/portSlots apart
)

// PortFree says whether a TCP port on 127.0.0.1 can be bound now; tests replace it.
var PortFree = func(port uint16) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(lab.Loopback.String(), strconv.Itoa(int(port))))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// FirstPort is where the search for a lab's free ports starts: spread by
// the lab's name, so two labs rarely contend for the same ports.
func FirstPort(labName string) uint16 {
	h := fnv.New32a()
	h.Write([]byte(labName))
	return uint16(PortBase + int(h.Sum32()%portSlots)*(PortSpan/portSlots))
}

// Forwards gives the plan's nodes and load balancer their forwards in
// natnetwork mode: the recorded ports, else the ones the lab's NAT network
// already has, else free ones (not used by any NAT network's rule on this
// host, bindable on 127.0.0.1). It changes nothing; the lab-network step
// creates the rules and records them.
func Forwards(ctx context.Context, p *lab.Plan, nets vbox.Networks) error {
	if !p.Forwarded() {
		return nil
	}
	ports := lab.ForwardPorts{}
	if rec, err := ReadRecord(p.StateDir); err != nil {
		return err
	} else if rec != nil && rec.Mode == p.NetMode {
		for k, v := range rec.Forwards {
			ports[k] = v
		}
	}
	used := map[uint16]bool{}
	if nets != nil {
		list, err := nets.NATNetworks(ctx)
		if err != nil {
			return fmt.Errorf("list VirtualBox's NAT networks: %w", err)
		}
		for _, n := range list {
			for _, f := range n.Forwards {
				if n.Name == p.NATNetwork {
					if key := ruleKey(p, f.Name); key != "" && ports[key] == 0 {
						ports[key] = uint16(f.HostPort)
					}
					continue
				}
				used[uint16(f.HostPort)] = true
			}
		}
	}
	for _, v := range ports {
		used[v] = true
	}
	keys := append(p.Nodes.Names(), lab.HTTPRuleName)
	next := int(FirstPort(p.Name)) - PortBase
	tries := 0
	for _, k := range keys {
		if ports[k] != 0 {
			continue
		}
		for ; ; next, tries = (next+1)%PortSpan, tries+1 {
			if tries >= PortSpan {
				return fmt.Errorf("no free port on 127.0.0.1 between %d and %d for the lab's forwards", PortBase, PortBase+PortSpan-1)
			}
			port := uint16(PortBase + next)
			if !used[port] && PortFree(port) {
				ports[k], used[port] = port, true
				break
			}
		}
	}
	p.ApplyForwards(ports)
	return nil
}

// ruleKey maps a rule name of the lab's NAT network back to a ports key.
func ruleKey(p *lab.Plan, rule string) string {
	if rule == lab.HTTPRuleName {
		return rule
	}
	for _, n := range p.Nodes {
		if lab.ForwardRuleName(n) == rule {
			return n.VM
		}
	}
	return ""
}

// Ports are the plan's forwards as a record holds them.
func Ports(p *lab.Plan) lab.ForwardPorts {
	out := lab.ForwardPorts{}
	for _, n := range p.Nodes {
		if n.Forward.IsValid() {
			out[n.VM] = n.Forward.Port()
		}
	}
	if p.HTTPForward.IsValid() {
		out[lab.HTTPRuleName] = p.HTTPForward.Port()
	}
	return out
}

// WantNAT is the NAT network the plan needs: its /24, DHCP off (every node
// has a static address; a DHCP server would also hand out the nodes' ones),
// and a forward to each node's sshd and to the load balancer's port 80, on
// 127.0.0.1 only.
func WantNAT(p *lab.Plan) vbox.NATNetwork {
	n := vbox.NATNetwork{Name: p.NATNetwork, Network: p.Network.Masked().String(), Gateway: p.Gateway.String(), Enabled: true}
	for _, node := range p.Nodes {
		if node.Forward.IsValid() {
			n.Forwards = append(n.Forwards, vbox.PortForward{Name: lab.ForwardRuleName(node), Proto: "tcp", HostIP: lab.Loopback.String(),
				HostPort: int(node.Forward.Port()), GuestIP: node.IP.String(), GuestPort: 22})
		}
	}
	if lb := p.LB(); lb != nil && p.HTTPForward.IsValid() {
		n.Forwards = append(n.Forwards, vbox.PortForward{Name: lab.HTTPRuleName, Proto: "tcp", HostIP: lab.Loopback.String(),
			HostPort: int(p.HTTPForward.Port()), GuestIP: lb.IP.String(), GuestPort: 80})
	}
	return n
}

// DiffNAT says how have differs from want, and the change that fixes it.
// Rules of other names (a user's) are left alone.
func DiffNAT(want, have vbox.NATNetwork) (diffs []string, ch vbox.NATNetworkChange) {
	if have.Network != want.Network {
		diffs = append(diffs, fmt.Sprintf("network is %s, want %s", have.Network, want.Network))
		ch.Network = want.Network
	}
	if have.DHCP {
		diffs = append(diffs, "DHCP is on, want off")
		off := false
		ch.DHCP = &off
	}
	haveBy := map[string]vbox.PortForward{}
	for _, f := range have.Forwards {
		haveBy[f.Name] = f
	}
	for _, f := range want.Forwards {
		h, ok := haveBy[f.Name]
		switch {
		case !ok:
			diffs = append(diffs, "no forward "+f.String())
		case h != f:
			diffs = append(diffs, fmt.Sprintf("forward %s, want %s", h, f))
			ch.DeleteForward = append(ch.DeleteForward, f.Name)
		default:
			continue
		}
		ch.AddForward = append(ch.AddForward, f)
	}
	return diffs, ch
}

// Users lists the VMs other than skip whose nic1..8 use the network name
// (a NAT network, host-only interface or host-only network).
func Users(ctx context.Context, api vbox.API, name string, skip map[string]bool) ([]string, error) {
	vms, err := api.ListVMs(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, vm := range vms {
		if vm.Inaccessible || skip[vm.Name] {
			continue
		}
		info, err := api.Info(ctx, vm.UUID)
		if errors.Is(err, vbox.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, nic := range info.NICs {
			if nic.NATNetwork == name || nic.HostOnlyAdapter == name || nic.HostOnlyNet == name {
				out = append(out, vm.Name)
				break
			}
		}
	}
	return out, nil
}

// Remove deletes the network rec says labctl created, when no VM uses it
// any more. removed=false with a nil error means it was kept, and why says
// why (a user's network, or one still in use).
func Remove(ctx context.Context, api vbox.API, rec *Record) (removed bool, why string, err error) {
	if rec == nil || rec.Name == "" || rec.Mode == lab.ModeBridged {
		return false, "", nil
	}
	if !rec.Created {
		return false, fmt.Sprintf("the network %s was not made by labctl", rec.Name), nil
	}
	nets, ok := api.(vbox.Networks)
	if !ok {
		return false, "", errors.New("this VirtualBox client cannot manage networks")
	}
	users, err := Users(ctx, api, rec.Name, nil)
	if err != nil {
		return false, "", fmt.Errorf("check which VMs use %s: %w", rec.Name, err)
	}
	if len(users) > 0 {
		return false, fmt.Sprintf("the network %s is still used by %v", rec.Name, users), nil
	}
	switch rec.Mode {
	case lab.ModeNATNetwork:
		err = nets.RemoveNATNetwork(ctx, rec.Name)
	case lab.ModeHostOnly:
		if onlyNets, lerr := nets.HostOnlyNets(ctx); lerr == nil && hasHostOnlyNet(onlyNets, rec.Name) {
			err = nets.RemoveHostOnlyNet(ctx, rec.Name)
		} else {
			err = nets.RemoveHostOnlyIf(ctx, rec.Name)
		}
	}
	if errors.Is(err, vbox.ErrNetworkNotFound) {
		return true, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("remove the lab's network %s: %w", rec.Name, err)
	}
	return true, "", nil
}

func hasHostOnlyNet(list []vbox.HostOnlyNet, name string) bool {
	for _, n := range list {
		if n.Name == name {
			return true
		}
	}
	return false
}

// Attach names what a hostonly lab's NICs attach to (Plan.NATNetwork): the
// recorded adapter or network; else, on a host with host-only networks
// (macOS, VirtualBox 7), the lab's own network labctl-<lab>; else a
// host-only adapter already carrying the lab's gateway address (.1 of its
// /24, the host's address on it); else nothing yet: lab-network creates
// one. It changes nothing.
func Attach(ctx context.Context, p *lab.Plan, nets vbox.Networks) error {
	if p.NetMode != lab.ModeHostOnly {
		return nil
	}
	rec, err := ReadRecord(p.StateDir)
	if err != nil {
		return err
	}
	if rec != nil && rec.Mode == p.NetMode && rec.Name != "" {
		p.NATNetwork, p.HostOnlyNet = rec.Name, rec.HostOnlyNet
		return nil
	}
	p.NATNetwork = ""
	if nets == nil {
		return nil
	}
	if _, err := nets.HostOnlyNets(ctx); err == nil {
		p.NATNetwork, p.HostOnlyNet = lab.NetworkName(p.Name), true
		return nil
	}
	ifs, err := nets.HostOnlyIfs(ctx)
	if err != nil {
		return fmt.Errorf("list VirtualBox's host-only adapters: %w", err)
	}
	if h, ok := HostOnlyIfFor(p, ifs); ok {
		p.NATNetwork = h.Name
	}
	return nil
}

// HostOnlyIfFor finds the host-only adapter carrying the lab's gateway
// address with the lab's mask.
func HostOnlyIfFor(p *lab.Plan, ifs []vbox.HostIf) (vbox.HostIf, bool) {
	for _, h := range ifs {
		if h.IPAddress == p.Gateway.String() && h.NetworkMask == vbox.Netmask(p.Network.Bits()) {
			return h, true
		}
	}
	return vbox.HostIf{}, false
}

// WantHostOnlyNet is the host-only network a hostonly lab needs on macOS
// with VirtualBox 7: the lab's /24; lower = upper = the network address, as
// Vagrant does for static addresses (the host takes .1, no DHCP range).
func WantHostOnlyNet(p *lab.Plan) vbox.HostOnlyNet {
	a := p.Network.Masked().Addr().String()
	return vbox.HostOnlyNet{Name: p.NATNetwork, Enabled: true, Netmask: vbox.Netmask(p.Network.Bits()), LowerIP: a, UpperIP: a}
}

// NetworksConf is VirtualBox's list of allowed host-only ranges (Linux,
// macOS and Solaris hosts, VirtualBox 6.1.28+).
var NetworksConf = "/etc/vbox/networks.conf"

// AllowedHostOnly is what VirtualBox allows for host-only addresses here:
// the ranges on NetworksConf's lines starting with "*", else (no file) its
// default 192.168.56.0/21; nil means no restriction (Windows).
func AllowedHostOnly() (allowed []netip.Prefix, source string) {
	if runtime.GOOS == "windows" {
		return nil, ""
	}
	b, err := os.ReadFile(NetworksConf)
	if err != nil {
		return []netip.Prefix{lab.HostOnlyDefaultRange}, "VirtualBox's default without " + NetworksConf
	}
	return ParseNetworksConf(string(b)), NetworksConf
}

// ParseNetworksConf reads the IPv4 ranges of networks.conf: every token
// after a first token that is exactly "*"; an existing file without such
// lines allows nothing.
func ParseNetworksConf(s string) []netip.Prefix {
	out := []netip.Prefix{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "*" {
			continue
		}
		for _, tok := range f[1:] {
			if p, err := netip.ParsePrefix(tok); err == nil && p.Addr().Is4() {
				out = append(out, p.Masked())
			}
		}
	}
	return out
}
