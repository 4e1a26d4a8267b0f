// Package lab holds the lab model: lab.toml parsing and validation, the
// derived Plan every command works from, and the local State (secrets, keys).
package lab

import (
	"net/netip"
)

// Role is what a node does in the lab.
type Role string

// The three roles of the lab.
const (
	RoleDB  Role = "db"
	RoleWeb Role = "web"
	RoleLB  Role = "lb"
)

// Node is one VM of the lab, fully derived from lab.toml.
type Node struct {
	VM       string     // VirtualBox VM name, e.g. "SQL-ONE"
	Hostname string     // guest hostname, a DNS label, e.g. "sql-one"
	IP       netip.Addr // static IPv4 on the lab's NIC
	Role     Role
	Index    int // 1-based position among the nodes of its role (server_id, priorities)
	CPUs     int
	MemoryMB int
	// Forward is where the host reaches the node's sshd in natnetwork mode
	// (127.0.0.1:<port>, a NAT-network port forward); invalid otherwise.
	Forward netip.AddrPort
}

// Name is how logs and errors name the node.
func (n *Node) Name() string { return n.VM }

// SSHAddr is where labctl reaches the node's sshd ("ip:22", or the port
// forward in natnetwork mode); every SSH connection, pin and probe uses it.
func (n *Node) SSHAddr() string {
	if n.Forward.IsValid() {
		return n.Forward.String()
	}
	return netip.AddrPortFrom(n.IP, 22).String()
}

// Nodes is an ordered selection of nodes.
type Nodes []*Node

// WithRole returns the nodes of role r, in lab order.
func (ns Nodes) WithRole(r Role) Nodes {
	var out Nodes
	for _, n := range ns {
		if n.Role == r {
			out = append(out, n)
		}
	}
	return out
}

// Filter returns the nodes for which keep is true.
func (ns Nodes) Filter(keep func(*Node) bool) Nodes {
	var out Nodes
	for _, n := range ns {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// First returns the first node or nil.
func (ns Nodes) First() *Node {
	if len(ns) == 0 {
		return nil
	}
	return ns[0]
}

// Names returns the VM names.
func (ns Nodes) Names() []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.VM
	}
	return out
}

// Find returns the node whose VM name or hostname is name (case-insensitive), or nil.
func (ns Nodes) Find(name string) *Node {
	for _, n := range ns {
		if equalFold(n.VM, name) || equalFold(n.Hostname, name) {
			return n
		}
	}
	return nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Base is the VM every node is cloned from.
type Base struct {
	VM       string // VirtualBox name or UUID of the base VM
	Snapshot string // snapshot to clone from; "labctl-base" is taken when the base has none
	User     string // guest account used through guest control (usually root)
	// PasswordFile is the host file holding the guest account's password; empty
	// means prompt on the terminal. The password itself never lives in lab.toml.
	PasswordFile string
}

// Plan is the fully derived lab: everything a command needs, computed from
// lab.toml before any VBoxManage call.
type Plan struct {
	Name     string // lab name: VM group /labctl/<Name>, extradata tag labctl/lab=<Name>
	File     string // the lab.toml it came from ("<embedded>" for the default)
	StateDir string // per-lab local folder: secrets, SSH key, known_hosts, logs
	// Seat is the classroom seat (0 = the lab as written); Name, the VM
	// names, the addresses and the VRRP id are already the seat's (seat.go).
	Seat int

	Base          Base
	NetMode       string // network.mode: bridged, natnetwork or hostonly (netmode.go)
	BridgeAdapter string // host interface for --bridgeadapter1; resolved when empty in lab.toml (bridged only)
	// NATNetwork is the VirtualBox NAT network (natnetwork mode) or host-only
	// network/interface name (hostonly mode) the lab's NICs attach to.
	NATNetwork string
	// HostOnlyNet: hostonly mode on a host with host-only networks (macOS,
	// VirtualBox 7): NATNetwork names a hostonlynet, not an adapter.
	HostOnlyNet bool
	// HTTPForward is where the host reaches the load balancer's port 80 in
	// natnetwork mode (127.0.0.1:<port>); invalid otherwise.
	HTTPForward netip.AddrPort
	Network     netip.Prefix // lab subnet, e.g. 192.168.1.0/24
	Gateway     netip.Addr
	DNS         []netip.Addr
	VIP         netip.Addr // MySQL virtual IP, always on the GR primary
	VIPHostname string     // name of the VIP in /etc/hosts, e.g. "sql-vip"
	Profile     string     // guest OS profile: el8 (default), el9, debian
	SSHUser     string     // account labctl uses over SSH (root, or a sudoer)

	Nodes Nodes

	// Packages: an optional package mirror for classrooms (and the real-lab tests).
	PackageMirror string
	// PackageRelease is the release path (el: replaces $releasever) or suite
	// (debian) the mirror serves; empty = the guest's own.
	PackageRelease string
	// WordPress: archive is a host path or URL of a WordPress tarball; empty = fetch the release.
	WordPressArchive string
	WordPressSHA256  string
	SiteTitle        string
	AdminUser        string
	AdminEmail       string

	// MySQL tuning chosen from failover measurements.
	GRMemberExpelTimeout int // seconds
	// Keepalived
	VRRPRouterID int // lab-unique virtual_router_id (1-255)

	// Classroom exercises: the instructor's folder of exercise files (empty =
	// the built-in ones only) and the file holding the report-signing key
	// (empty = reports are not signed).
	ExercisesDir  string
	ReportKeyFile string
}

// DB, Web and LB return the nodes of each role.
func (p *Plan) DB() Nodes  { return p.Nodes.WithRole(RoleDB) }
func (p *Plan) Web() Nodes { return p.Nodes.WithRole(RoleWeb) }
func (p *Plan) LB() *Node  { return p.Nodes.WithRole(RoleLB).First() }
