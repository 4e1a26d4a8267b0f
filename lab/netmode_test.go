package lab

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// netLab is a small lab.toml with the given [network] lines.
func netLab(network string) string {
	return "name = \"n\"\n\n[base]\nvm = \"AlmaLinux-8.4\"\n\n[network]\n" + network + `
[[nodes]]
vm = "SQL-ONE"
ip = ".100"
role = "db"

[[nodes]]
vm = "SQL-TWO"
ip = ".101"
role = "db"

[[nodes]]
vm = "SQL-THREE"
ip = ".102"
role = "db"

[[nodes]]
vm = "SERVER-ONE"
ip = ".160"
role = "web"

[[nodes]]
vm = "LOAD-BALANCER"
ip = ".162"
role = "lb"
`
}

// problemsOf parses (and, when ok, plans on host) and returns the problems.
func problemsOf(t *testing.T, src string, host HostNet) []Problem {
	t.Helper()
	c, err := Parse("lab.toml", []byte(src))
	if err == nil {
		_, err = c.Plan(host)
	}
	if err == nil {
		return nil
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("not a ConfigError: %v", err)
	}
	return ce.Problems
}

func TestNetworkModeProblemsNameTheirLine(t *testing.T) {
	nat := HostNet{Prefix: netip.MustParsePrefix("10.213.7.0/24")}
	for _, tc := range []struct {
		name, network string
		host          HostNet
		key           string
		line          int
		says          string
	}{
		{"unknown mode", "mode = \"nat\"\n", testHost, "network.mode", 7, `"nat" is not a network mode`},
		{"adapter in NAT mode", "mode = \"natnetwork\"\nbridge_adapter = \"eth0\"\n", nat, "network.bridge_adapter", 8, `only used when mode = "bridged"`},
		{"NAT gateway not .1", "mode = \"natnetwork\"\nnetwork = \"10.9.9.0/24\"\ngateway = \".5\"\n", HostNet{}, "network.gateway", 9, "always its first address 10.9.9.1"},
		{"reserved .2", "mode = \"natnetwork\"\nvip = \".2\"\n", nat, "network.vip", 8, "reserved on a VirtualBox NAT network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, netLab(tc.network), tc.host)
			if len(ps) != 1 || ps[0].Key != tc.key || ps[0].Line != tc.line || !strings.Contains(ps[0].Msg, tc.says) {
				t.Fatalf("problems %+v, want one on %s line %d saying %q", ps, tc.key, tc.line, tc.says)
			}
		})
	}
}

func TestNATNetworkPlan(t *testing.T) {
	c, err := Parse("lab.toml", []byte(netLab("mode = \"natnetwork\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	if c.NeedsHostNet() {
		t.Error("a NAT-network lab needs no LAN")
	}
	p, err := c.Plan(HostNet{Prefix: netip.MustParsePrefix("10.213.7.0/24"), Adapter: "eth0", Gateway: netip.MustParseAddr("192.168.1.1")})
	if err != nil {
		t.Fatal(err)
	}
	if p.NetMode != ModeNATNetwork || p.NATNetwork != "labctl-n" || p.BridgeAdapter != "" || p.Network.String() != "10.213.7.0/24" ||
		p.Gateway.String() != "10.213.7.1" || !slices.Equal(p.DNS, []netip.Addr{netip.MustParseAddr("10.213.7.1")}) || p.VIP.String() != "10.213.7.167" {
		t.Fatalf("plan %+v", p)
	}
	n := p.Nodes[0]
	if n.SSHAddr() != "10.213.7.100:22" {
		t.Errorf("before forwards: %s", n.SSHAddr())
	}
	p.ApplyForwards(ForwardPorts{"SQL-ONE": 42001, HTTPRuleName: 42009})
	if n.SSHAddr() != "127.0.0.1:42001" || p.Nodes[1].SSHAddr() != "10.213.7.101:22" {
		t.Errorf("SSH addresses %s %s", n.SSHAddr(), p.Nodes[1].SSHAddr())
	}
	if p.VisitorURL() != "http://127.0.0.1:42009" || p.LabURL() != "http://10.213.7.162" {
		t.Errorf("URLs %s %s", p.VisitorURL(), p.LabURL())
	}
}

func TestPickPrivateNetworkSkipsTakenOnes(t *testing.T) {
	first, ok := PickPrivateNetwork(ModeNATNetwork, "lab-a", func(netip.Prefix) bool { return false })
	if !ok || !NATPool.Contains(first.Addr()) || first.Bits() != 24 {
		t.Fatalf("first pick %s %v", first, ok)
	}
	next, ok := PickPrivateNetwork(ModeNATNetwork, "lab-a", func(p netip.Prefix) bool { return p == first })
	if !ok || next == first || !NATPool.Contains(next.Addr()) {
		t.Fatalf("with %s taken: %s %v", first, next, ok)
	}
	ho, ok := PickPrivateNetwork(ModeHostOnly, "lab-a", func(netip.Prefix) bool { return false })
	if !ok || !within(ho, HostOnlyDefaultRange) {
		t.Fatalf("host-only pick %s outside %s", ho, HostOnlyDefaultRange)
	}
	if _, ok := PickPrivateNetwork(ModeHostOnly, "lab-a", func(netip.Prefix) bool { return true }); ok {
		t.Error("picked a network with every one taken")
	}
}

func TestHostOnlyRangeProblemNamesTheLine(t *testing.T) {
	c, err := Parse("lab.toml", []byte(netLab("mode = \"hostonly\"\nnetwork = \"10.1.2.0/24\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	allowed := []netip.Prefix{HostOnlyDefaultRange}
	if err := c.CheckHostOnlyRange(netip.MustParsePrefix("192.168.57.0/24"), allowed, "VirtualBox's default"); err != nil {
		t.Errorf("inside the range: %v", err)
	}
	for _, p := range []string{"10.1.2.0/24", "192.168.56.0/20"} {
		err := c.CheckHostOnlyRange(netip.MustParsePrefix(p), allowed, "VirtualBox's default")
		var ce *ConfigError
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Line != 8 || !strings.Contains(ce.Problems[0].Msg, "outside the ranges VirtualBox allows for host-only networks on this computer (192.168.56.0/21") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestSeatsOnAPrivateNetworkKeepTheirAddresses: in natnetwork mode every
// seat is a lab on a network of its own, so a seat changes names, state and
// VRRP id but not addresses, and a room of any size fits.
func TestSeatsOnAPrivateNetworkKeepTheirAddresses(t *testing.T) {
	c, err := Parse("lab.toml", []byte("seat = 7\n"+netLab("mode = \"natnetwork\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	h := HostNet{Prefix: netip.MustParsePrefix("10.213.7.0/24")}
	p, err := c.Plan(h)
	if err != nil {
		t.Fatal(err)
	}
	base := *c
	base.Seat = 0
	p0, err := base.Plan(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "n-seat7" || p.Nodes[0].VM != "SQL-ONE-S7" || p.VIP != p0.VIP || p.VRRPRouterID == p0.VRRPRouterID || p.StateDir == p0.StateDir {
		t.Fatalf("seat 7 in NAT mode: %s %s VIP %s (seat 0 %s) VRRP %d (seat 0 %d)", p.Name, p.Nodes[0].VM, p.VIP, p0.VIP, p.VRRPRouterID, p0.VRRPRouterID)
	}
	for i, n := range p.Nodes {
		if n.IP != p0.Nodes[i].IP {
			t.Errorf("%s moved to %s (seat 0: %s)", n.VM, n.IP, p0.Nodes[i].IP)
		}
	}
	// labnet finds the seat's record and network by these, before the plan exists.
	if d, err := c.StateDirPath(); err != nil || d != p.StateDir || c.LabName() != p.Name {
		t.Errorf("StateDirPath %q (%v), LabName %q; the plan has %q, %q", d, err, c.LabName(), p.StateDir, p.Name)
	}
	if p.NATNetwork != "labctl-n-seat7" || p0.NATNetwork != "labctl-n" {
		t.Errorf("NAT networks %q (seat 7) and %q (seat 0), want one per seat", p.NATNetwork, p0.NATNetwork)
	}
	if !strings.Contains(p.SeatLine(), "addresses as written") {
		t.Errorf("seat line %q", p.SeatLine())
	}
	room, err := c.Room(h, 30)
	if err != nil || len(room.Seats) != 30 || room.Block != 0 {
		t.Fatalf("a room of 30 in NAT mode: %+v %v", room, err)
	}
}
