package lab

// Seats: one lab.toml shared by a classroom, each student on a seat of
// their own. Seat N is the lab as written with
//
//   - every node address and the VIP moved up by N × SeatBlock (8),
//   - the lab name suffixed "-seatN" (so its VirtualBox group, tag and
//     state folder are its own) and every VM name suffixed "-SN",
//   - the VRRP virtual_router_id moved by N (mod 255, within 1..255),
//
// host names unchanged. Seat 0 is the lab exactly as written.
//
// Why a fixed block and not a hash: the default lab's seven addresses
// (.100-.102, .160-.162, .167) fall in seven different residues modulo 8,
// so any two seats' addresses differ by construction; a hash of the seat
// would collide by the birthday paradox. Whatever the lab file says, the
// room is computed and checked address by address (Room), never assumed.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// SeatBlock is how far each seat moves every address of the lab.
const SeatBlock = 8

// MaxSeat is the highest seat: seats 0..254 give 255 distinct VRRP ids.
const MaxSeat = 254

// SeatLabName is the lab name of seat n ("wordpress-ha-seat3"); seat 0 keeps it.
func SeatLabName(name string, n int) string {
	if n == 0 {
		return name
	}
	return name + "-seat" + strconv.Itoa(n)
}

// SeatVMName is a VM name on seat n ("SQL-ONE-S3"); seat 0 keeps it.
func SeatVMName(vm string, n int) string {
	if n == 0 {
		return vm
	}
	return vm + "-S" + strconv.Itoa(n)
}

// SeatRouterID is the VRRP id of seat n: the lab's id moved by n within
// 1..255, so the seats of one room (at most 255) never share one.
func SeatRouterID(id, n int) int {
	return (id-1+n)%255 + 1
}

// SetSeat sets the seat (the --seat flag, which overrides lab.toml's seat).
func (c *Config) SetSeat(n int) error {
	if n < 0 || n > MaxSeat {
		return fmt.Errorf("--seat %d: a seat is a number from 1 to %d (0 = the lab as written); see `labctl seats --count N` for a room's seats", n, MaxSeat)
	}
	c.Seat = n
	return nil
}

// validateSeat checks lab.toml's seat key (its fit is checked by Plan).
func (c *Config) validateSeat(ps *problems) {
	if c.Seat < 0 || c.Seat > MaxSeat {
		ps.add("seat", "is %d; a seat is a number from 1 to %d, or 0 for the lab as written (see `labctl seats --count N`)", c.Seat, MaxSeat)
	}
}

// SeatNode is one node of a seat.
type SeatNode struct {
	VM       string     `json:"vm"`
	Hostname string     `json:"hostname"`
	Role     Role       `json:"role"`
	IP       netip.Addr `json:"ip"`
}

// Seat is one student's lab in a room.
type Seat struct {
	Seat     int        `json:"seat"`
	Lab      string     `json:"lab"`
	RouterID int        `json:"vrrp_router_id"`
	VIP      netip.Addr `json:"vip"`
	Nodes    []SeatNode `json:"nodes"`
}

// Addrs are the seat's addresses: the nodes' in lab order, then the VIP.
func (s Seat) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(s.Nodes)+1)
	for _, n := range s.Nodes {
		out = append(out, n.IP)
	}
	return append(out, s.VIP)
}

// Room is seats 1..Count of one lab on its network, every address checked.
type Room struct {
	Lab     string       `json:"lab"`
	File    string       `json:"file"`
	Network netip.Prefix `json:"network"`
	Gateway netip.Addr   `json:"gateway"`
	DNS     []netip.Addr `json:"dns"`
	Block   int          `json:"block"`
	Seats   []Seat       `json:"seats"`
}

// SeatError says which seat does not fit and why.
type SeatError struct {
	Seat    int          // the first seat that does not fit
	Addr    netip.Addr   // its address that does not fit
	Owner   string       // whose address it is: "the VIP", "SQL-ONE-S11"
	Why     string       // "is the broadcast address of 192.168.1.0/24"
	Fits    int          // seats 1..Fits do fit (0: none)
	Network netip.Prefix // the lab network
}

func (e *SeatError) Error() string {
	fits := "no seat of this lab fits it"
	if e.Fits > 0 {
		fits = fmt.Sprintf("seats 1-%d of this lab fit it", e.Fits)
	}
	var what string
	switch {
	case !e.Addr.IsValid():
		what = e.Owner // a name, or an address past the last one
	case e.Owner == "the VIP":
		what = fmt.Sprintf("its VIP would be %s", e.Addr)
	default:
		what = fmt.Sprintf("%s's address would be %s", e.Owner, e.Addr)
	}
	return fmt.Sprintf("seat %d does not fit the lab network %s: %s, which %s (each seat moves every address by %d; %s). "+
		"Use fewer seats, a wider network such as a /%d (network in [network] of lab.toml), lower addresses for the nodes and the VIP, "+
		"or a network mode that gives each student a network of their own (natnetwork)",
		e.Seat, e.Network, what, e.Why, SeatBlock, fits, max(e.Network.Bits()-1, 8))
}

// Room lays out seats 1..count of the lab (seat 0, the lab as written, is
// checked with them: a teacher may run it on the same LAN) and checks every
// address: inside the network, not its network or broadcast address, the
// gateway or a DNS server, and no address shared by two seats. The first
// seat that does not fit is a *SeatError.
func (c *Config) Room(h HostNet, count int) (*Room, error) {
	if count < 1 || count > MaxSeat {
		return nil, fmt.Errorf("--count %d: a room has 1 to %d seats", count, MaxSeat)
	}
	base := *c
	base.Seat = 0
	p, err := base.Plan(h)
	if err != nil {
		return nil, err
	}
	return roomOf(p, count)
}

// seatBlock is how far a seat moves the plan's addresses: SeatBlock on a
// shared LAN (bridged); 0 where every lab gets a private network of its own
// (natnetwork, hostonly), so the seats need no disjoint addresses there.
func seatBlock(p *Plan) int {
	if p.NetMode == ModeNATNetwork || p.NetMode == ModeHostOnly {
		return 0
	}
	return SeatBlock
}

// roomOf computes and checks seats 0..count of the seat-0 plan p.
func roomOf(p *Plan, count int) (*Room, error) {
	block := seatBlock(p)
	r := &Room{Lab: p.Name, File: p.File, Network: p.Network, Gateway: p.Gateway, DNS: p.DNS, Block: block}
	bcast := broadcast(p.Network)
	special := map[netip.Addr]string{
		p.Network.Masked().Addr(): "is the network address of " + p.Network.String(),
		bcast:                     "is the broadcast address of " + p.Network.String(),
	}
	for _, d := range p.DNS {
		special[d] = "is a DNS server of the lab"
	}
	special[p.Gateway] = "is the lab's gateway"
	taken := map[netip.Addr]string{} // address → "seat N (owner)"
	for n := 0; n <= count; n++ {
		if block == 0 {
			taken = map[netip.Addr]string{} // each seat on a network of its own
		}
		s, err := seatOf(p, n, block)
		if err == nil {
			err = checkSeat(p, s, special, taken)
		}
		if err != nil {
			if se, ok := err.(*SeatError); ok {
				se.Fits, se.Network = n-1, p.Network
			}
			return nil, err
		}
		if n > 0 {
			r.Seats = append(r.Seats, s)
		}
	}
	return r, nil
}

// seatOf is seat n of the seat-0 plan p, its addresses not yet checked.
func seatOf(p *Plan, n, block int) (Seat, error) {
	s := Seat{Seat: n, Lab: SeatLabName(p.Name, n), RouterID: SeatRouterID(p.VRRPRouterID, n)}
	var err error
	if s.VIP, err = shift(p.VIP, n*block); err != nil {
		return s, &SeatError{Seat: n, Owner: "the VIP", Why: err.Error()}
	}
	for _, nd := range p.Nodes {
		vm := SeatVMName(nd.VM, n)
		if !vmNameRE.MatchString(vm) {
			return s, &SeatError{Seat: n, Owner: fmt.Sprintf("VM name %q", vm), Why: "is longer than VirtualBox names labctl uses (63 characters); shorten the vm names in lab.toml"}
		}
		ip, err := shift(nd.IP, n*block)
		if err != nil {
			return s, &SeatError{Seat: n, Owner: vm, Why: err.Error()}
		}
		s.Nodes = append(s.Nodes, SeatNode{VM: vm, Hostname: nd.Hostname, Role: nd.Role, IP: ip})
	}
	return s, nil
}

// checkSeat checks one seat's addresses against the network and the seats before it.
func checkSeat(p *Plan, s Seat, special, taken map[netip.Addr]string) error {
	owners := make([]string, 0, len(s.Nodes)+1)
	for _, nd := range s.Nodes {
		owners = append(owners, nd.VM)
	}
	owners = append(owners, "the VIP")
	for i, a := range s.Addrs() {
		why := ""
		switch {
		case !p.Network.Contains(a):
			why = "is outside " + p.Network.String()
		case special[a] != "":
			why = special[a]
		case taken[a] != "":
			why = "is also the address of " + taken[a]
		}
		if why != "" {
			return &SeatError{Seat: s.Seat, Addr: a, Owner: owners[i], Why: why}
		}
		taken[a] = fmt.Sprintf("%s on seat %d", owners[i], s.Seat)
		if s.Seat == 0 {
			taken[a] += " (the lab as written)"
		}
	}
	return nil
}

// shift moves an IPv4 address up by by addresses.
func shift(a netip.Addr, by int) (netip.Addr, error) {
	b := a.As4()
	v := uint64(binary.BigEndian.Uint32(b[:])) + uint64(by)
	if v > 0xFFFFFFFF {
		return netip.Addr{}, fmt.Errorf("%s moved up by %d is past the last IPv4 address", a, by)
	}
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), nil
}

// applySeat turns the seat-0 plan p into seat n's (n > 0): the whole room
// up to n is checked first, so `up --seat N` refuses exactly what
// `labctl seats --count N` refuses.
func (c *Config) applySeat(p *Plan, n int) error {
	room, err := roomOf(p, n)
	if err != nil {
		return err
	}
	s := room.Seats[n-1]
	dir, err := c.stateDir()
	if err != nil {
		return err
	}
	p.StateDir = c.seatStateDir(dir, n)
	p.Seat = n
	p.Name = s.Lab
	if p.NATNetwork != "" {
		p.NATNetwork = NetworkName(s.Lab) // each seat's private network is its own
	}
	p.VIP = s.VIP
	p.VRRPRouterID = s.RouterID
	for i, nd := range p.Nodes {
		nd.VM = s.Nodes[i].VM
		nd.IP = s.Nodes[i].IP
	}
	return nil
}

// seatStateDir is seat n's state folder, given the lab's (seat 0's) dir.
func (c *Config) seatStateDir(dir string, n int) string {
	if c.StateDir != "" && os.Getenv(StateDirEnv) == "" {
		// A folder named in lab.toml is one lab's: each seat gets a sibling.
		return dir + "-seat" + strconv.Itoa(n)
	}
	return filepath.Join(filepath.Dir(dir), SeatLabName(c.Name, n))
}

// SeatLine says which seat the plan is, for plan, dry-run, status and info
// ("" for seat 0, the lab as written).
func (p *Plan) SeatLine() string {
	if p.Seat == 0 {
		return ""
	}
	moved := fmt.Sprintf("every address moved up by %d", p.Seat*seatBlock(p))
	if seatBlock(p) == 0 {
		moved = "addresses as written, on a " + p.NetMode + " network of its own"
	}
	return fmt.Sprintf("Seat %d: lab %q, VM names ending -S%d, %s, VRRP id %d",
		p.Seat, p.Name, p.Seat, moved, p.VRRPRouterID)
}
