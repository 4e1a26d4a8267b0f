package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// defaultLab is the repository's lab.toml, parsed.
func defaultLab(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile("../lab.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(EmbeddedName, data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// onNet is a host on network cidr with its gateway at .1.
func onNet(cidr string) HostNet {
	p := netip.MustParsePrefix(cidr)
	return HostNet{Adapter: "eth0", Prefix: p, Gateway: p.Masked().Addr().Next()}
}

// addrPlus is a + k, computed independently of the code under test.
func addrPlus(a netip.Addr, k int) netip.Addr {
	for ; k > 0; k-- {
		a = a.Next()
	}
	return a
}

func TestRoomOfTheDefaultLabIsDisjoint(t *testing.T) {
	t.Setenv(StateDirEnv, t.TempDir())
	c := defaultLab(t)
	h := onNet("192.168.1.0/24")
	p0, err := c.Plan(h)
	if err != nil {
		t.Fatal(err)
	}
	room, err := c.Room(h, 10)
	if err != nil {
		t.Fatalf("10 seats of the default lab must fit a /24: %v", err)
	}
	if len(room.Seats) != 10 || room.Block != 8 {
		t.Fatalf("room has %d seats, block %d; want 10 seats of block 8", len(room.Seats), room.Block)
	}
	seen := map[netip.Addr]string{}
	for _, a := range append(p0.Nodes.addrs(), p0.VIP) {
		seen[a] = "seat 0"
	}
	ids := map[int]int{p0.VRRPRouterID: 0}
	for i, s := range room.Seats {
		n := i + 1
		if s.Seat != n || s.Lab != fmt.Sprintf("wordpress-ha-seat%d", n) {
			t.Errorf("seat %d: number %d, lab %q", n, s.Seat, s.Lab)
		}
		if want := addrPlus(p0.VIP, 8*n); s.VIP != want {
			t.Errorf("seat %d: VIP %s, want %s", n, s.VIP, want)
		}
		for j, nd := range s.Nodes {
			base := p0.Nodes[j]
			if want := addrPlus(base.IP, 8*n); nd.IP != want {
				t.Errorf("seat %d: %s at %s, want %s", n, nd.VM, nd.IP, want)
			}
			if nd.VM != fmt.Sprintf("%s-S%d", base.VM, n) || nd.Hostname != base.Hostname {
				t.Errorf("seat %d: node %q host %q, want %s-S%d host %s", n, nd.VM, nd.Hostname, base.VM, n, base.Hostname)
			}
		}
		for _, a := range s.Addrs() {
			if !room.Network.Contains(a) || a == room.Gateway || a == broadcast(room.Network) {
				t.Errorf("seat %d: address %s does not fit %s", n, a, room.Network)
			}
			if other, dup := seen[a]; dup {
				t.Errorf("seat %d: address %s is also %s's", n, a, other)
			}
			seen[a] = fmt.Sprintf("seat %d", n)
		}
		if other, dup := ids[s.RouterID]; dup || s.RouterID < 1 || s.RouterID > 255 {
			t.Errorf("seat %d: VRRP id %d (also seat %d's: %v)", n, s.RouterID, other, dup)
		}
		ids[s.RouterID] = n
	}
	if len(seen) != 7*11 {
		t.Errorf("%d distinct addresses over seats 0-10, want %d", len(seen), 7*11)
	}
}

func (ns Nodes) addrs() []netip.Addr {
	var out []netip.Addr
	for _, n := range ns {
		out = append(out, n.IP)
	}
	return out
}

func TestRoomRefusesTheFirstSeatThatDoesNotFit(t *testing.T) {
	t.Setenv(StateDirEnv, t.TempDir())
	c := defaultLab(t)
	_, err := c.Room(onNet("192.168.1.0/24"), 30)
	var se *SeatError
	if !errors.As(err, &se) {
		t.Fatalf("30 seats on a /24: got %v, want a *SeatError", err)
	}
	// Seat 11 moves the VIP .167 by 88 to .255, the broadcast address.
	if se.Seat != 11 || se.Addr != netip.MustParseAddr("192.168.1.255") || se.Fits != 10 {
		t.Errorf("got seat %d address %s fits %d; want seat 11, 192.168.1.255, 10", se.Seat, se.Addr, se.Fits)
	}
	msg := err.Error()
	for _, want := range []string{"seat 11", "192.168.1.255", "broadcast", "seats 1-10", "/23", "fewer seats", "natnetwork"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// A /23 holds the 30 seats.
	room, err := c.Room(onNet("192.168.0.0/23"), 30)
	if err != nil {
		t.Fatalf("30 seats on a /23: %v", err)
	}
	if last := room.Seats[29]; last.VIP != netip.MustParseAddr("192.168.1.151") {
		t.Errorf("seat 30's VIP is %s, want 192.168.0.167 + 240 = 192.168.1.151", last.VIP)
	}
}

func TestRoomRefusesGatewayDNSAndSharedAddresses(t *testing.T) {
	t.Setenv(StateDirEnv, t.TempDir())
	lab := func(extra, sqlTwo string) string {
		src := strings.Replace(mustRead(t, "../lab.toml"), `dns = []`, extra, 1)
		if extra == `dns = []` && sqlTwo == ".101" {
			src = strings.Replace(src, `gateway = ""`, `gateway = ".183"`, 1)
		}
		return strings.Replace(src, `ip = ".101"`, `ip = "`+sqlTwo+`"`, 1)
	}
	cases := []struct {
		name, dns, sqlTwo string
		seat              int
		addr, why         string
	}{
		{"dns server", `dns = [".175"]`, ".101", 1, "192.168.1.175", "DNS server"},
		{"gateway", `dns = []`, ".101", 2, "192.168.1.183", "gateway"},
		{"another seat", `dns = []`, ".108", 1, "192.168.1.108", "SQL-TWO on seat 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("lab.toml", []byte(lab(tc.dns, tc.sqlTwo)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Room(onNet("192.168.1.0/24"), 5)
			var se *SeatError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SeatError", err)
			}
			if se.Seat != tc.seat || se.Addr.String() != tc.addr || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("got %v; want seat %d at %s (%s)", err, tc.seat, tc.addr, tc.why)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlanOfASeat(t *testing.T) {
	root := t.TempDir()
	t.Setenv(StateDirEnv, root)
	c := defaultLab(t)
	h := onNet("192.168.1.0/24")
	p0, err := c.Plan(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSeat(3); err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(h)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "seat", p.Seat, 3)
	eq(t, "name", p.Name, "wordpress-ha-seat3")
	eq(t, "state dir", p.StateDir, filepath.Join(root, "wordpress-ha-seat3"))
	eq(t, "vip", p.VIP, addrPlus(p0.VIP, 24))
	eq(t, "router id", p.VRRPRouterID, p0.VRRPRouterID%255+3)
	for i, n := range p.Nodes {
		eq(t, "vm", n.VM, p0.Nodes[i].VM+"-S3")
		eq(t, "hostname", n.Hostname, p0.Nodes[i].Hostname)
		eq(t, "ip", n.IP, addrPlus(p0.Nodes[i].IP, 24))
	}
	checkPlanInvariants(t, p)

	// A state_dir written in lab.toml is one lab's: each seat gets a sibling.
	t.Setenv(StateDirEnv, "")
	c.StateDir = filepath.Join(root, "mine")
	if p, err = c.Plan(h); err != nil {
		t.Fatal(err)
	}
	eq(t, "state dir from lab.toml", p.StateDir, filepath.Join(root, "mine-seat3"))

	// A seat that does not fit stops Plan with the room's error.
	if err := c.SetSeat(11); err != nil {
		t.Fatal(err)
	}
	_, err = c.Plan(h)
	var se *SeatError
	if !errors.As(err, &se) || se.Seat != 11 {
		t.Fatalf("seat 11 on a /24: got %v, want seat 11's *SeatError", err)
	}
	if err := c.SetSeat(255); err == nil || !strings.Contains(err.Error(), "1 to 254") {
		t.Errorf("SetSeat(255): %v", err)
	}
}

func TestSeatKeyInLabToml(t *testing.T) {
	src := strings.Replace(mustRead(t, "../lab.toml"), "seat = 0", "seat = 300", 1)
	_, err := Parse("lab.toml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "seat is 300") || !strings.Contains(err.Error(), "lab.toml:") {
		t.Fatalf("seat = 300: got %v", err)
	}
	src = strings.Replace(src, "seat = 300", "seat = 2", 1)
	c, err := Parse("lab.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "seat", c.Seat, 2)
}

func TestSeatRouterIDsOfARoomAreDistinct(t *testing.T) {
	for _, base := range []int{1, 50, 200, 254, 255} {
		seen := map[int]bool{}
		for n := 0; n <= MaxSeat; n++ {
			id := SeatRouterID(base, n)
			if id < 1 || id > 255 || seen[id] {
				t.Fatalf("base %d seat %d: id %d (seen %v)", base, n, id, seen[id])
			}
			seen[id] = true
		}
	}
}
