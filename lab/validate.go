package lab

import (
	"encoding/binary"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Defaults and bounds. Memory bounds: below 512 MB AlmaLinux 8 with dnf
// runs out of memory while installing packages; MySQL 8 with group
// replication needs at least 1 GB to start reliably (2 GB recommended);
// 64 GB / 16 CPUs is more than any lab host should give one VM.
const (
	DefaultSnapshot    = "labctl-base"
	DefaultProfile     = "el8"
	DefaultVIP         = ".167"
	DefaultVIPHostname = "sql-vip"
	// DefaultExpel is labctl's group_replication_member_expel_timeout: 0 (MySQL's
	// own default is 5) because the lab exists to show failover, and any
	// non-zero value adds a further ~15 s: the group reviews suspicions on a
	// 15 s cycle. A member expelled by a passing stall rejoins by itself.
	DefaultExpel = 0

	MinCPUs       = 1
	MaxCPUs       = 16
	MinMemoryMB   = 512
	MinDBMemoryMB = 1024
	MaxMemoryMB   = 65536
	MaxExpel      = 3600 // MySQL's upper limit for member_expel_timeout
)

// Profiles are the guest OS profiles labctl knows (see guest.Profile).
var Profiles = []string{"el8", "el9", "debian"}

// defaultRoles are the resources per role when lab.toml does not say.
var defaultRoles = map[Role]RoleConfig{
	RoleDB:  {CPUs: 2, MemoryMB: 2048},
	RoleWeb: {CPUs: 1, MemoryMB: 1024},
	RoleLB:  {CPUs: 1, MemoryMB: 512},
}

var (
	labNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)
	vmNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	dnsLabelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	unixUserRE  = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	wpUserRE    = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,60}$`)
	sha256HexRE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// applyDefaults fills what lab.toml left out. Empty strings count as "not
// set" for keys whose comment says "empty = default".
func (c *Config) applyDefaults(defined map[string]bool) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Base.Snapshot, DefaultSnapshot)
	def(&c.Base.User, "root")
	def(&c.Base.Profile, DefaultProfile)
	def(&c.Base.SSHUser, "root")
	def(&c.Network.VIP, DefaultVIP)
	def(&c.Network.VIPHostname, DefaultVIPHostname)
	def(&c.WordPress.Title, "WordPress HA Lab")
	def(&c.WordPress.AdminUser, "admin")
	def(&c.WordPress.AdminEmail, "admin@example.com")
	if !defined["mysql.member_expel_timeout"] {
		c.MySQL.MemberExpelTimeout = DefaultExpel
	}
	for r, d := range defaultRoles {
		rc := c.Roles[r]
		if !defined["roles."+string(r)+".cpus"] {
			rc.CPUs = d.CPUs
		}
		if !defined["roles."+string(r)+".memory_mb"] {
			rc.MemoryMB = d.MemoryMB
		}
		c.Roles[r] = rc
	}
	for i := range c.Nodes {
		if c.Nodes[i].Hostname == "" {
			c.Nodes[i].Hostname = strings.ToLower(c.Nodes[i].VM)
		}
	}
}

// validate checks everything that does not need the host's network; when
// lab.toml names the network it checks the addresses too.
func (c *Config) validate(ps *problems, defined map[string]bool) {
	switch {
	case !defined["name"]:
		ps.addAt(1, "name", "is missing; add a line such as name = \"wordpress-ha\" at the top (it names the VirtualBox group /labctl/<name> and the lab's state folder)")
	case !labNameRE.MatchString(c.Name):
		ps.add("name", "%q is not a valid lab name; use up to 40 letters, digits, '-' or '_', starting with a letter or digit, e.g. \"wordpress-ha\"", c.Name)
	}

	if strings.TrimSpace(c.Base.VM) == "" {
		if defined["base.vm"] {
			ps.add("base.vm", "is empty; set it to the name of your AlmaLinux 8.4 VM with Guest Additions as VirtualBox shows it, e.g. vm = \"AlmaLinux-8.4\"")
		} else {
			ps.addAt(ps.pos.line("base"), "base.vm", "is missing; add vm = \"AlmaLinux-8.4\" under [base], naming your AlmaLinux 8.4 VM with Guest Additions as VirtualBox shows it")
		}
	} else if hasControl(c.Base.VM) || len(c.Base.VM) > 128 {
		ps.add("base.vm", "%q is not a usable VM name; use the name VirtualBox shows for the base VM (printable characters, at most 128)", c.Base.VM)
	}
	if hasControl(c.Base.Snapshot) || len(c.Base.Snapshot) > 128 {
		ps.add("base.snapshot", "%q is not a usable snapshot name; use printable characters, e.g. \"%s\"", c.Base.Snapshot, DefaultSnapshot)
	}
	if !unixUserRE.MatchString(c.Base.User) {
		ps.add("base.user", "%q is not a valid Linux account name; use the base VM's administrator account, usually \"root\"", c.Base.User)
	}
	if !unixUserRE.MatchString(c.Base.SSHUser) {
		ps.add("base.ssh_user", "%q is not a valid Linux account name; use \"root\" or an account with passwordless sudo", c.Base.SSHUser)
	}
	if hasControl(c.Base.PasswordFile) {
		ps.add("base.password_file", "contains control characters; write a plain path such as \"~/.config/labctl/guest-password\", or leave it empty to be asked")
	}
	if !contains(Profiles, c.Base.Profile) {
		ps.add("base.profile", "%q is not a known guest OS profile; use one of %s (el8 = AlmaLinux/Rocky 8, the default)", c.Base.Profile, quoteList(Profiles))
	}
	if hasControl(c.Exercises.Dir) {
		ps.add("exercises.dir", "contains control characters; write a plain folder path, or leave it empty for the built-in exercises only")
	}
	if hasControl(c.Exercises.ReportKeyFile) {
		ps.add("exercises.report_key_file", "contains control characters; write a plain path such as \"~/.config/labctl/report-key\", or leave it empty")
	}
	c.validateSeat(ps)
	if hasControl(c.StateDir) {
		ps.add("state_dir", "contains control characters; write a plain folder path, or leave it empty for the default")
	}

	// Network syntax.
	c.validateNetMode(ps)
	if c.Network.Network != "" {
		if _, msg := parseNetwork(c.Network.Network); msg != "" {
			ps.add("network.network", "%s", msg)
		}
	}
	if hasControl(c.Network.BridgeAdapter) {
		ps.add("network.bridge_adapter", "contains control characters; copy the adapter name from `VBoxManage list bridgedifs` (Name: line), or leave it empty")
	}
	c.checkAddrSyntax(ps, "network.gateway", c.Network.Gateway, true)
	c.checkAddrSyntax(ps, "network.vip", c.Network.VIP, false)
	for i, d := range c.Network.DNS {
		c.checkAddrSyntax(ps, fmt.Sprintf("network.dns[%d]", i), d, false)
	}
	if !dnsLabelRE.MatchString(c.Network.VIPHostname) {
		ps.add("network.vip_hostname", "%q is not a valid host name; use lower-case letters, digits and '-' (not first or last), e.g. %q", c.Network.VIPHostname, DefaultVIPHostname)
	}

	// Roles.
	for _, r := range []Role{RoleDB, RoleWeb, RoleLB} {
		rc := c.Roles[r]
		c.checkCPUs(ps, "roles."+string(r)+".cpus", rc.CPUs)
		c.checkMemory(ps, "roles."+string(r)+".memory_mb", rc.MemoryMB, r)
	}

	c.validateNodes(ps, defined)

	// Extras.
	if c.Packages.Mirror != "" {
		if msg := checkURL(c.Packages.Mirror); msg != "" {
			ps.add("packages.mirror", "%q %s; write the mirror's base URL such as \"http://mirror.classroom.lan/almalinux\", or leave it empty to use the distribution's repositories", c.Packages.Mirror, msg)
		}
	}
	c.checkRelease(ps)
	if a := c.WordPress.Archive; a != "" {
		if strings.Contains(a, "://") {
			if msg := checkURL(a); msg != "" {
				ps.add("wordpress.archive", "%q %s; write an http(s) URL of a WordPress .tar.gz or a path on this computer, or leave it empty for the official release", a, msg)
			}
		} else if hasControl(a) {
			ps.add("wordpress.archive", "contains control characters; write a path to a WordPress .tar.gz on this computer or an http(s) URL")
		}
	}
	if s := c.WordPress.SHA256; s != "" && !sha256HexRE.MatchString(s) {
		ps.add("wordpress.sha256", "%q is not a SHA-256 checksum; write the 64 hexadecimal digits printed by `sha256sum wordpress.tar.gz`, or leave it empty", s)
	}
	if c.WordPress.SHA256 != "" && c.WordPress.Archive == "" {
		ps.add("wordpress.sha256", "is set but archive is empty; the checksum only applies to an archive you name in [wordpress] archive")
	}
	if t := c.WordPress.Title; hasControl(t) || len(t) > 200 || strings.TrimSpace(t) == "" {
		ps.add("wordpress.title", "%q is not a usable site title; write one line of text, at most 200 characters", t)
	}
	if !wpUserRE.MatchString(c.WordPress.AdminUser) {
		ps.add("wordpress.admin_user", "%q is not a valid WordPress user name; use up to 60 letters, digits, '_', '.', '@' or '-', e.g. \"admin\"", c.WordPress.AdminUser)
	}
	if msg := checkEmail(c.WordPress.AdminEmail); msg != "" {
		ps.add("wordpress.admin_email", "%q %s; write a plain address such as \"admin@example.com\"", c.WordPress.AdminEmail, msg)
	}
	if e := c.MySQL.MemberExpelTimeout; e < 0 || e > MaxExpel {
		ps.add("mysql.member_expel_timeout", "is %d; it must be between 0 and %d seconds (MySQL's range); labctl's default is %d", e, MaxExpel, DefaultExpel)
	}
	if id := c.Keepalived.RouterID; id < 0 || id > 255 {
		ps.add("keepalived.router_id", "is %d; a VRRP router id must be between 1 and 255, or 0 to derive one from the lab name", id)
	}

	// With the network written down, addresses can be checked now.
	if c.Network.Network != "" {
		if prefix, msg := parseNetwork(c.Network.Network); msg == "" {
			c.resolveAddrs(ps, prefix, netip.Addr{}, netip.Addr{}, "")
		}
	}
}

func (c *Config) validateNodes(ps *problems, defined map[string]bool) {
	if len(c.Nodes) == 0 {
		ps.addAt(0, "nodes", "list is missing; add one [[nodes]] table per VM: 3 with role = \"db\", at least 1 with role = \"web\" and 1 with role = \"lb\" (see the default lab.toml)")
		return
	}
	vmSeen := map[string]int{}
	hostSeen := map[string]int{}
	count := map[Role]int{}
	for i, n := range c.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		switch {
		case n.VM == "":
			ps.add(p+".vm", "is missing; every node needs vm = \"NAME\", the VirtualBox name of its clone, e.g. \"SQL-ONE\"")
		case !vmNameRE.MatchString(n.VM):
			ps.add(p+".vm", "%q is not a usable VM name; use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. \"SQL-ONE\"", n.VM)
		default:
			k := strings.ToLower(n.VM)
			if j, dup := vmSeen[k]; dup {
				ps.add(p+".vm", "%q is already the name of nodes[%d] (line %d); every node needs its own VM name", n.VM, j, ps.pos.line(fmt.Sprintf("nodes[%d].vm", j)))
			} else {
				vmSeen[k] = i
			}
			if strings.EqualFold(n.VM, c.Base.VM) {
				ps.add(p+".vm", "%q is the base VM's name; the clones need names of their own", n.VM)
			}
		}
		hp := p + ".hostname"
		lower := strings.ToLower(n.Hostname)
		switch {
		case n.Hostname == "":
			// already reported through vm
		case !dnsLabelRE.MatchString(lower):
			what := "is not a valid host name"
			if !defined[hp] {
				what = "(the VM name in lower case) is not a valid host name; set hostname"
			}
			ps.add(hp, "%q %s; use 1-63 lower-case letters, digits and '-' (not first or last), e.g. \"sql-one\"", n.Hostname, what)
		default:
			// Host names are compared as DNS uses them: without case. A
			// duplicate is reported as such, never "write it in lower case"
			// when that would make the duplicate.
			if j, dup := hostSeen[lower]; dup {
				ps.add(hp, "%q is already the host name of nodes[%d] (line %d; host names ignore case); every node needs its own host name", n.Hostname, j, ps.pos.line(fmt.Sprintf("nodes[%d]", j)))
			} else {
				hostSeen[lower] = i
				if lower != n.Hostname {
					ps.add(hp, "%q must be lower case; write %q", n.Hostname, lower)
				}
			}
			if strings.EqualFold(n.Hostname, c.Network.VIPHostname) {
				ps.add(hp, "%q is also the name of the database virtual IP (network.vip_hostname); pick another", n.Hostname)
			}
		}
		switch n.Role {
		case RoleDB, RoleWeb, RoleLB:
			count[n.Role]++
		case "":
			ps.add(p+".role", "is missing; set role = \"db\", \"web\" or \"lb\"")
		default:
			ps.add(p+".role", "%q is not a role; use \"db\" (MySQL), \"web\" (nginx + WordPress) or \"lb\" (load balancer)", string(n.Role))
		}
		if n.IP == "" {
			ps.add(p+".ip", "is missing; set ip = \".100\" (joined to the network) or a full address such as \"192.168.1.100\"")
		} else {
			c.checkAddrSyntax(ps, p+".ip", n.IP, false)
		}
		if defined[p+".cpus"] {
			c.checkCPUs(ps, p+".cpus", n.CPUs)
		}
		if defined[p+".memory_mb"] {
			c.checkMemory(ps, p+".memory_mb", n.MemoryMB, n.Role)
		}
	}
	if n := count[RoleDB]; n != 3 {
		ps.add("nodes", "list has %d node(s) with role = \"db\"; the lab needs exactly 3: MySQL group replication keeps a majority, and so keeps working, when any one of 3 members fails", n)
	}
	if count[RoleWeb] < 1 {
		ps.add("nodes", "list has no node with role = \"web\"; add at least one (two, like SERVER-ONE and SERVER-TWO, show load balancing)")
	}
	if n := count[RoleLB]; n != 1 {
		ps.add("nodes", "list has %d node(s) with role = \"lb\"; the lab needs exactly 1 load balancer", n)
	}
}

func (c *Config) checkCPUs(ps *problems, key string, n int) {
	if n < MinCPUs || n > MaxCPUs {
		ps.add(key, "is %d; give each VM between %d and %d CPUs (2 for db nodes, 1 otherwise is plenty)", n, MinCPUs, MaxCPUs)
	}
}

func (c *Config) checkMemory(ps *problems, key string, mb int, r Role) {
	lo := MinMemoryMB
	why := "AlmaLinux needs 512 MB to install packages"
	if r == RoleDB {
		lo = MinDBMemoryMB
		why = "MySQL with group replication needs at least 1024 MB; 2048 is recommended"
	}
	if mb < lo || mb > MaxMemoryMB {
		ps.add(key, "is %d; use between %d and %d MB (%s)", mb, lo, MaxMemoryMB, why)
	}
}

func (c *Config) checkAddrSyntax(ps *problems, key, s string, emptyOK bool) {
	if s == "" {
		if !emptyOK {
			ps.add(key, "is empty; write a host part such as \".100\" or a full IPv4 address")
		}
		return
	}
	if _, msg := parseAddrSpec(s); msg != "" {
		ps.add(key, "%s", msg)
	}
}

// addrSpec is an address as written: a full IPv4 address or a host part
// (".100", ".1.100") that replaces the last octets of the network address.
type addrSpec struct {
	full netip.Addr
	host []byte
}

func parseAddrSpec(s string) (addrSpec, string) {
	hint := "write a host part such as \".100\" (joined to the network) or a full address such as \"192.168.1.100\""
	if strings.HasPrefix(s, ".") {
		parts := strings.Split(s[1:], ".")
		if len(parts) > 3 {
			return addrSpec{}, fmt.Sprintf("%q has too many parts for a host part; %s", s, hint)
		}
		var host []byte
		for _, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 || p == "" || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
				return addrSpec{}, fmt.Sprintf("%q is not a valid host part (each number 0-255); %s", s, hint)
			}
			host = append(host, byte(n))
		}
		return addrSpec{host: host}, ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return addrSpec{}, fmt.Sprintf("%q is not an IPv4 address; %s", s, hint)
	}
	if !a.Is4() {
		return addrSpec{}, fmt.Sprintf("%q is not an IPv4 address (the lab network is IPv4); %s", s, hint)
	}
	return addrSpec{full: a}, ""
}

// in returns the address within prefix's network.
func (a addrSpec) in(prefix netip.Prefix) netip.Addr {
	if a.full.IsValid() {
		return a.full
	}
	b := prefix.Masked().Addr().As4()
	copy(b[4-len(a.host):], a.host)
	return netip.AddrFrom4(b)
}

// parseNetwork reads "192.168.1.0/24"; host bits are allowed so the
// address `ip a` prints for the host ("192.168.1.37/24") works as is.
func parseNetwork(s string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not a network; write it as address/bits, e.g. \"192.168.1.0/24\", or leave it empty to use the bridged adapter's own network", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Sprintf("%q is not an IPv4 network; the lab needs IPv4, e.g. \"192.168.1.0/24\"", s)
	}
	if p.Bits() < 8 || p.Bits() > 29 {
		return netip.Prefix{}, fmt.Sprintf("%q has a /%d mask; use a mask between /8 and /29 (a home or classroom LAN is usually /24)", s, p.Bits())
	}
	return p.Masked(), ""
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) | (^uint32(0) >> p.Bits())
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func firstHost(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

func nodeIPs(c *Config) []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.IP
	}
	return out
}

// lanAddrs are the lab's addresses within one network.
type lanAddrs struct {
	gateway netip.Addr
	dns     []netip.Addr
	vip     netip.Addr
	nodes   []netip.Addr
}

// resolveAddrs joins host parts with the network and checks each address:
// inside the network, not its network/broadcast address, not the gateway or
// this host, and unique. netNote explains where a detected network came from.
func (c *Config) resolveAddrs(ps *problems, prefix netip.Prefix, hostGW, hostIP netip.Addr, netNote string) lanAddrs {
	var out lanAddrs
	netName := prefix.String() + netNote
	bcast := broadcast(prefix)
	rangeHint := fmt.Sprintf("pick one between %s and %s", firstHost(prefix), bcast.Prev())
	resolve := func(key, s string) (netip.Addr, bool) {
		a, msg := parseAddrSpec(s)
		if msg != "" {
			return netip.Addr{}, false // reported by validate
		}
		return a.in(prefix), true
	}
	show := func(s string, ip netip.Addr) string {
		if s == ip.String() {
			return strconv.Quote(s)
		}
		return fmt.Sprintf("%q (%s)", s, ip)
	}
	inside := func(key, s string, ip netip.Addr) bool {
		switch {
		case !prefix.Contains(ip):
			ps.add(key, "%s is outside the lab network %s; %s, or change network in [network]", show(s, ip), netName, rangeHint)
		case ip == prefix.Addr():
			ps.add(key, "%s is the network address of %s, which no machine can use; %s", show(s, ip), netName, rangeHint)
		case ip == bcast:
			ps.add(key, "%s is the broadcast address of %s, which no machine can use; %s", show(s, ip), netName, rangeHint)
		default:
			return true
		}
		return false
	}

	// Gateway: as written, else the host's default gateway when it is on
	// this network, else the network's first address (what most routers use).
	switch {
	case c.Network.Gateway != "":
		if ip, ok := resolve("network.gateway", c.Network.Gateway); ok && inside("network.gateway", c.Network.Gateway, ip) {
			out.gateway = ip
		}
	case hostGW.IsValid() && hostGW.Is4() && prefix.Contains(hostGW) && hostGW != prefix.Addr() && hostGW != bcast:
		out.gateway = hostGW
	default:
		out.gateway = firstHost(prefix)
	}

	// DNS: as written (may be outside the lab network), else the gateway,
	// since home and classroom routers forward DNS.
	for i, d := range c.Network.DNS {
		if ip, ok := resolve(fmt.Sprintf("network.dns[%d]", i), d); ok {
			out.dns = append(out.dns, ip)
		}
	}
	if len(c.Network.DNS) == 0 && out.gateway.IsValid() {
		out.dns = []netip.Addr{out.gateway}
	}

	// Every address the lab file asks for, so a suggested fix is one that
	// is itself free (never the clashing value, never one already suggested).
	taken := map[netip.Addr]bool{out.gateway: true, hostIP: true}
	for _, spec := range append([]string{c.Network.VIP}, nodeIPs(c)...) {
		if a, msg := parseAddrSpec(spec); msg == "" && spec != "" {
			taken[a.in(prefix)] = true
		}
	}
	suggest := func(near netip.Addr) string {
		start := near
		if !prefix.Contains(start) {
			start = firstHost(prefix)
		}
		for _, from := range []netip.Addr{start, firstHost(prefix)} {
			for a := from.Next(); prefix.Contains(a) && a != bcast; a = a.Next() {
				if !taken[a] {
					taken[a] = true
					return fmt.Sprintf("e.g. %q", a.String())
				}
			}
		}
		return rangeHint
	}

	type owner struct {
		key string
		idx int
	}
	used := map[netip.Addr]owner{}
	claim := func(key, s string, ip netip.Addr, idx int) {
		if ip == out.gateway {
			ps.add(key, "%s is the network's gateway; pick a free address, %s", show(s, ip), suggest(ip))
			return
		}
		if hostIP.IsValid() && ip == hostIP {
			ps.add(key, "%s is this computer's own address; pick a free address, %s", show(s, ip), suggest(ip))
			return
		}
		if o, dup := used[ip]; dup {
			ps.add(key, "%s is already used by %s (line %d); every node and the VIP need their own address, %s", show(s, ip), o.key, ps.pos.line(o.key), suggest(ip))
			return
		}
		used[ip] = owner{key, idx}
	}

	out.nodes = make([]netip.Addr, len(c.Nodes))
	for i, n := range c.Nodes {
		key := fmt.Sprintf("nodes[%d].ip", i)
		if n.IP == "" {
			continue
		}
		if ip, ok := resolve(key, n.IP); ok && inside(key, n.IP, ip) {
			claim(key, n.IP, ip, i)
			out.nodes[i] = ip
		}
	}
	if ip, ok := resolve("network.vip", c.Network.VIP); ok && inside("network.vip", c.Network.VIP, ip) {
		if o, dup := used[ip]; dup {
			ps.add("network.vip", "%s is the address of %s (line %d); the VIP must be a free address of its own, %s", show(c.Network.VIP, ip), parentPath(o.key), ps.pos.line(o.key), suggest(ip))
		} else {
			claim("network.vip", c.Network.VIP, ip, -1)
			out.vip = ip
		}
	}
	return out
}

func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || hasControl(s) || strings.ContainsAny(s, " \t") {
		return "is not a valid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "is not an http:// or https:// URL"
	}
	if u.Host == "" || u.Hostname() == "" {
		return "has no host name"
	}
	return ""
}

func checkEmail(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "is not an e-mail address"
	}
	at := strings.LastIndex(s, "@")
	if !strings.Contains(s[at+1:], ".") {
		return "needs a domain with a dot (WordPress rejects addresses like admin@localhost)"
	}
	return ""
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

var (
	elReleaseRE     = regexp.MustCompile(`^([0-9]+)(\.[0-9]+)?$`)
	debianReleaseRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`)
)

// checkRelease checks [packages] release against the profile; every fix
// it suggests is a value this check accepts.
func (c *Config) checkRelease(ps *problems) {
	r := c.Packages.Release
	if r == "" {
		return
	}
	if c.Packages.Mirror == "" {
		ps.add("packages.release", "%q is set but mirror is empty; release names what a classroom mirror serves, so set mirror too, or write release = \"\"", r)
		return
	}
	switch p := c.Base.Profile; p {
	case "el8", "el9":
		major := strings.TrimPrefix(p, "el")
		m := elReleaseRE.FindStringSubmatch(r)
		switch {
		case m == nil:
			ps.add("packages.release", "%q is not an %s release; write the folder the mirror serves for it, e.g. release = \"%s.4\" for a copy laid out under %s.4/, or release = \"\" for the guest's own ($releasever)", r, p, major, major)
		case m[1] != major:
			ps.add("packages.release", "%q is not a release of profile %s; write release = \"%s.4\" (or the %s.x folder your mirror serves), or change base.profile", r, p, major, major)
		}
	case "debian":
		if !debianReleaseRE.MatchString(r) {
			ps.add("packages.release", "%q is not a Debian or Ubuntu codename; write the suite the mirror serves, e.g. release = \"bookworm\", or release = \"\" for the guest's own", r)
		}
	}
}
