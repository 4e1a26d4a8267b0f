package lab

// Network modes: how the lab's VMs are wired on this host (README
// "Classroom networks"). bridged puts them on the LAN; natnetwork on a
// VirtualBox NAT network of the lab's own (private addresses, the host
// reaches the nodes through port forwards); hostonly on a host-only adapter
// (private addresses the host reaches directly, no internet).

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

// The values of [network] mode.
const (
	ModeBridged    = "bridged"
	ModeNATNetwork = "natnetwork"
	ModeHostOnly   = "hostonly"
)

// NetModes lists the modes in the order the README explains them.
var NetModes = []string{ModeBridged, ModeNATNetwork, ModeHostOnly}

// HostOnlyDefaultRange is what VirtualBox (6.1.28+ on Linux and macOS)
// allows for host-only addresses when /etc/vbox/networks.conf does not say.
var HostOnlyDefaultRange = netip.MustParsePrefix("192.168.56.0/21")

// NATPool is where labctl picks a NAT network's /24 when lab.toml leaves
// network empty: 10.213.0.0/16, one /24 per lab.
var NATPool = netip.MustParsePrefix("10.213.0.0/16")

// NetMode is the lab's network mode (bridged when lab.toml does not say).
func (c *Config) NetMode() string {
	if c.Network.Mode == "" {
		return ModeBridged
	}
	return c.Network.Mode
}

// NetworkName is the name of the NAT network, host-only network or host-only
// interface labctl makes for a lab: the prefix is the lab's own, so a
// network labctl made is told from a user's by its name and the state
// record, never by a guess.
func NetworkName(lab string) string { return "labctl-" + lab }

// StateDirPath is the lab's state folder (see stateDir), for the code that
// must read the lab's records before there is a Plan.
func (c *Config) StateDirPath() (string, error) {
	dir, err := c.stateDir()
	if err != nil || c.Seat == 0 {
		return dir, err
	}
	return c.seatStateDir(dir, c.Seat), nil
}

// LabName is the lab's name as the plan has it: seat N's "-seatN" included.
func (c *Config) LabName() string { return SeatLabName(c.Name, c.Seat) }

// validateNetMode checks [network] mode and the keys that depend on it.
func (c *Config) validateNetMode(ps *problems) {
	switch c.NetMode() {
	case ModeBridged:
		return
	case ModeNATNetwork, ModeHostOnly:
	default:
		ps.add("network.mode", "%q is not a network mode; use \"bridged\" (the LAN, the default), \"natnetwork\" (a private VirtualBox NAT network: works on Wi-Fi and where bridging is blocked) or \"hostonly\" (a private host-only network without internet)", c.Network.Mode)
		return
	}
	if c.Network.BridgeAdapter != "" {
		ps.add("network.bridge_adapter", "is only used when mode = \"bridged\"; remove it, or set mode = \"bridged\" in [network]")
	}
}

// CheckHostOnlyRange says why a hostonly lab's network is outside the
// ranges VirtualBox allows for host-only addresses on this host (allowed;
// see labnet.AllowedHostOnly), as a lab.toml problem on network.network.
func (c *Config) CheckHostOnlyRange(p netip.Prefix, allowed []netip.Prefix, source string) error {
	for _, r := range allowed {
		if Within(p, r) {
			return nil
		}
	}
	ps := &problems{file: c.File, pos: c.pos}
	ps.add("network.network", "%s is outside the ranges VirtualBox allows for host-only networks on this computer (%s, from %s); pick a /24 inside them such as \"192.168.57.0/24\", leave network empty for labctl to pick one, or allow yours with a line \"* %s\" in /etc/vbox/networks.conf", p, prefixList(allowed), source, p)
	return ps.err()
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none"
	}
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// Within says whether all of p lies inside r.
func Within(p, r netip.Prefix) bool { return within(p, r) }

func within(p, r netip.Prefix) bool {
	return p.Bits() >= r.Bits() && r.Contains(p.Masked().Addr())
}

// checkPrivateAddrs applies a private network's rules to the derived
// addresses: the NAT network's gateway is its .1 (VirtualBox's NAT service,
// also the DNS proxy), and .2 and .3 are VirtualBox's (the host's loopback,
// the DHCP server).
func (c *Config) checkPrivateAddrs(ps *problems, prefix netip.Prefix, addrs lanAddrs) {
	if c.NetMode() != ModeNATNetwork {
		return
	}
	gw := firstHost(prefix)
	if c.Network.Gateway != "" && addrs.gateway.IsValid() && addrs.gateway != gw {
		ps.add("network.gateway", "is %s, but a NAT network's gateway is always its first address %s (VirtualBox's NAT service); remove gateway from [network]", addrs.gateway, gw)
	}
	reserved := map[netip.Addr]string{gw.Next(): "the host's 127.0.0.1 as the guests see it", gw.Next().Next(): "VirtualBox's DHCP server"}
	check := func(key string, ip netip.Addr) {
		if why, ok := reserved[ip]; ok {
			ps.add(key, "%s is reserved on a VirtualBox NAT network (%s); pick an address from %s up", ip, why, gw.Next().Next().Next())
		}
	}
	for i, ip := range addrs.nodes {
		check(fmt.Sprintf("nodes[%d].ip", i), ip)
	}
	check("network.vip", addrs.vip)
}

// PickPrivateNetwork is the /24 labctl proposes for a lab in natnetwork or
// hostonly mode whose lab.toml leaves network empty: a spot derived from
// the lab's name, moved on past the networks in use (taken), so two labs on
// one host get different ones. ok=false when every candidate is taken.
func PickPrivateNetwork(mode, lab string, taken func(netip.Prefix) bool) (netip.Prefix, bool) {
	pool := NATPool
	if mode == ModeHostOnly {
		pool = HostOnlyDefaultRange
	}
	n := 1 << (24 - pool.Bits()) // /24s in the pool
	h := fnv.New32a()
	h.Write([]byte(lab))
	start := int(h.Sum32() % uint32(n))
	base := pool.Masked().Addr().As4()
	for i := 0; i < n; i++ {
		k := (start + i) % n
		a := base
		a[2] += byte(k)
		p := netip.PrefixFrom(netip.AddrFrom4(a), 24)
		if !taken(p) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// Forwarded says whether the host reaches the nodes through port forwards
// (natnetwork mode) rather than at their addresses.
func (p *Plan) Forwarded() bool { return p.NetMode == ModeNATNetwork }

// VisitorURL is where a browser on this host reaches WordPress (no
// trailing slash): the load balancer's address, or in natnetwork mode the
// forward to it on 127.0.0.1. WordPress's own URL (WP_HOME) is this one: the
// host's browser is the lab's visitor.
func (p *Plan) VisitorURL() string {
	if p.HTTPForward.IsValid() {
		return "http://" + p.HTTPForward.String()
	}
	if lb := p.LB(); lb != nil {
		return "http://" + lb.IP.String()
	}
	return ""
}

// LabURL is WordPress through the load balancer as the lab's own nodes
// reach it (no trailing slash).
func (p *Plan) LabURL() string {
	if lb := p.LB(); lb != nil {
		return "http://" + lb.IP.String()
	}
	return ""
}

// ForwardRuleName names a node's SSH forward in the NAT network: a name of
// the lab's own (VirtualBox allows under 64 bytes).
func ForwardRuleName(n *Node) string {
	name := "ssh-" + n.Hostname
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// HTTPRuleName names the load balancer's HTTP forward.
const HTTPRuleName = "http-lb"

// Loopback is where the forwards listen: never on the LAN.
var Loopback = netip.MustParseAddr("127.0.0.1")

// ForwardPorts are the host ports of a lab's forwards: one per node (by VM
// name) and HTTPRuleName for the load balancer's port 80.
type ForwardPorts map[string]uint16

// ApplyForwards gives each node its SSH forward and the plan its HTTP one.
func (p *Plan) ApplyForwards(ports ForwardPorts) {
	for _, n := range p.Nodes {
		if port := ports[n.VM]; port != 0 {
			n.Forward = netip.AddrPortFrom(Loopback, port)
		}
	}
	if port := ports[HTTPRuleName]; port != 0 {
		p.HTTPForward = netip.AddrPortFrom(Loopback, port)
	}
}

// ForwardText is a forward as the README and messages show it.
func ForwardText(hostPort uint16, to netip.Addr, port int) string {
	return Loopback.String() + ":" + strconv.Itoa(int(hostPort)) + " → " + to.String() + ":" + strconv.Itoa(port)
}

// NetworkSummary says in one line how the host reaches a lab on a private
// network ("" in bridged mode), for the plan's header.
func (p *Plan) NetworkSummary() string {
	switch p.NetMode {
	case ModeNATNetwork:
		var fw []string
		for _, n := range p.Nodes {
			if n.Forward.IsValid() {
				fw = append(fw, fmt.Sprintf("%s %d", n.VM, n.Forward.Port()))
			}
		}
		return fmt.Sprintf("NAT network %s; SSH through 127.0.0.1 ports %s; WordPress at %s/", p.NATNetwork, strings.Join(fw, ", "), p.VisitorURL())
	case ModeHostOnly:
		name := p.NATNetwork
		if name == "" {
			name = "a new one"
		}
		return fmt.Sprintf("host-only network (%s), the host at %s; no internet from the VMs", name, p.Gateway)
	}
	return ""
}
