package labnet

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"labctl/lab"
	"labctl/vbox"
)

func TestParseNetworksConf(t *testing.T) {
	got := ParseNetworksConf("# comment\n* 10.0.0.0/8 192.168.0.0/16\n* 2001::/64\n10.1.0.0/16\n*\t172.16.5.9/12\n")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("172.16.0.0/12")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := ParseNetworksConf("10.0.0.0/8\n"); got == nil || len(got) != 0 {
		t.Errorf("a file without * lines allows nothing, got %v", got)
	}
}

// fakeNets answers NATNetworks only.
type fakeNets struct {
	vbox.Networks
	nets []vbox.NATNetwork
}

func (f fakeNets) NATNetworks(context.Context) ([]vbox.NATNetwork, error) { return f.nets, nil }

func natPlan(t *testing.T) *lab.Plan {
	t.Helper()
	t.Setenv(lab.StateDirEnv, t.TempDir())
	c, err := lab.Parse("lab.toml", []byte(`name = "pl"
[base]
vm = "b"
[network]
mode = "natnetwork"
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
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(lab.HostNet{Prefix: netip.MustParsePrefix("10.213.9.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestForwardsSkipPortsInUse: the search starts at FirstPort, skips every
// host port another NAT network's rule uses and every port that cannot be
// bound, and keeps the lab's own network's ports.
func TestForwardsSkipPortsInUse(t *testing.T) {
	p := natPlan(t)
	first := FirstPort(p.Name)
	busy := first + 2
	old := PortFree
	PortFree = func(port uint16) bool { return port != busy }
	t.Cleanup(func() { PortFree = old })
	other := vbox.NATNetwork{Name: "someone-else", Forwards: []vbox.PortForward{{Name: "x", Proto: "tcp", HostPort: int(first)}}}
	if err := Forwards(context.Background(), p, fakeNets{nets: []vbox.NATNetwork{other}}); err != nil {
		t.Fatal(err)
	}
	seen := map[uint16]bool{}
	for _, n := range p.Nodes {
		port := n.Forward.Port()
		if !n.Forward.IsValid() || n.Forward.Addr() != lab.Loopback || port == first || port == busy || seen[port] {
			t.Errorf("%s forward %s", n.VM, n.Forward)
		}
		seen[port] = true
	}
	if p.HTTPForward.Port() == first || p.HTTPForward.Port() == busy || seen[p.HTTPForward.Port()] {
		t.Errorf("http forward %s", p.HTTPForward)
	}
	if got := p.Nodes[0].Forward.Port(); got != first+1 {
		t.Errorf("first node on %d, want %d (the first free one)", got, first+1)
	}

	// The lab's own network's rules win over a fresh search.
	q := natPlan(t)
	own := WantNAT(p)
	if err := Forwards(context.Background(), q, fakeNets{nets: []vbox.NATNetwork{own}}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(Ports(q), Ports(p)) {
		t.Errorf("ports from the live network %v, want %v", Ports(q), Ports(p))
	}
}

func TestDiffNATOnlyTouchesTheLabsRules(t *testing.T) {
	p := natPlan(t)
	p.ApplyForwards(lab.ForwardPorts{"SQL-ONE": 42001, lab.HTTPRuleName: 42002})
	want := WantNAT(p)
	have := want
	have.DHCP = true
	have.Forwards = []vbox.PortForward{{Name: "ssh-sql-one", Proto: "tcp", HostIP: "127.0.0.1", HostPort: 42999, GuestIP: "10.213.9.100", GuestPort: 22},
		{Name: "users-rule", Proto: "tcp", HostPort: 8080, GuestIP: "10.213.9.50", GuestPort: 80}}
	diffs, ch := DiffNAT(want, have)
	if len(diffs) != 3 || ch.DHCP == nil || *ch.DHCP || !reflect.DeepEqual(ch.DeleteForward, []string{"ssh-sql-one"}) || len(ch.AddForward) != 2 {
		t.Fatalf("diffs %v change %+v", diffs, ch)
	}
	if d, _ := DiffNAT(want, want); len(d) != 0 {
		t.Errorf("no difference expected: %v", d)
	}
}
