package main

// NAT networks, host-only interfaces and host-only networks, per the
// networks reference (vboxmanage-networks.md): argv, the three listing
// layouts (≤6.1.32, 6.1.34+, 7.x), error texts and exit codes, the
// non-atomic `natnetwork add`, and "in use" = a running VM attached.

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NATNet is one NAT network (§8 state model).
type NATNet struct {
	Name        string   `json:"name"`
	Network     string   `json:"network"`
	Enabled     bool     `json:"enabled"`
	DHCP        bool     `json:"dhcp"`
	IPv6        bool     `json:"ipv6,omitempty"`
	IPv6Prefix  string   `json:"ipv6Prefix"`
	IPv6Default bool     `json:"ipv6Default,omitempty"`
	Forwards4   []string `json:"forwards4,omitempty"` // rule strings, sorted by name
	Loopbacks   []string `json:"loopbacks"`
	Running     bool     `json:"running,omitempty"` // service started by hand
}

// HostOnlyNet is one host-only network (macOS hosts with 7.x).
type HostOnlyNet struct {
	Name    string `json:"name"`
	GUID    string `json:"guid"`
	Enabled bool   `json:"enabled"`
	Netmask string `json:"netmask"`
	LowerIP string `json:"lowerIp"`
	UpperIP string `json:"upperIp"`
}

func (st *Store) natNet(name string) *NATNet {
	for _, n := range st.NATNets {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// natInUse: a powered-up VM has a NIC on the network (Main's refcount).
func (st *Store) natInUse(name string) bool {
	for _, v := range st.VMs {
		if !v.isRunning() {
			continue
		}
		for _, nic := range v.NICs {
			if nic.Type == "natnetwork" && nic.NATNetwork == name {
				return true
			}
		}
	}
	return false
}

// isMacHost: host-only networks exist only on macOS hosts with 7.x.
func hostOnlyNetsAvailable() bool { return cfg.HostOS == "darwin" && !isV61() }

// v6134 reports a 6.1 release with the 6.1.34+ NAT network code (§1.1, §1.4).
func v6134() bool {
	if !isV61() {
		return false
	}
	parts := strings.SplitN(versionNumber(), ".", 3)
	if len(parts) < 3 {
		return false
	}
	b, _ := strconv.Atoi(parts[2])
	return parts[1] == "1" && b >= 34
}

// natUsage is the synopsis printed after a natnetwork syntax error.
const natUsage = "VBoxManage natnetwork add --netname=name --network=network [--enable| --disable] [--dhcp=on|off] [--port-forward-4=rule] [--loopback-4=rule] [--ipv6=on|off] [--port-forward-6=rule] [--loopback-6=rule]\n" +
	"VBoxManage natnetwork list [filter-pattern]\nVBoxManage natnetwork modify --netname=name ...\nVBoxManage natnetwork remove --netname=name\nVBoxManage natnetwork start --netname=name\nVBoxManage natnetwork stop --netname=name"

// natSyntax is errorSyntax for natnetwork: 7.x the usual form, 6.1 the old
// style (usage first, then "Syntax error:").
func natSyntax(msg string) int {
	if isV61() {
		fmt.Fprint(stderr, logo())
		fmt.Fprintf(stderr, "Usage:\n\n%s\n\nSyntax error: %s\n", natUsage, msg)
		return 2
	}
	fmt.Fprint(stderr, logo())
	errLines(msg)
	fmt.Fprintf(stderr, "\nUsage:\n%s\n", natUsage)
	return 2
}

// natArgErr is errorArgument: one error line, exit 2.
func natArgErr(msg string) int {
	errLines(msg)
	return 2
}

type natOpts struct {
	name, network, dhcp  string
	enable, disable      bool
	seen                 map[string]bool
	pfAdd, pfDel, loAdds []string
}

// parseNATOpts is handleOp's RTGetOpt loop (§1.1); it returns an exit code
// (and has printed the error) when the arguments are refused.
func parseNATOpts(sub string, a []string) (natOpts, int) {
	o := natOpts{seen: map[string]bool{}}
	known := map[string]bool{"--netname": true, "-t": true, "--network": true, "-n": true, "--dhcp": true, "-h": true}
	if sub != "remove" {
		for _, k := range []string{"--ipv6", "-6", "--enable", "-e", "--disable", "-d", "--port-forward-4", "-p", "--port-forward-6", "-P", "--loopback-4", "-l", "--loopback-6", "-L"} {
			known[k] = true
		}
		if !isV61() || v6134() {
			for _, k := range []string{"--ipv4-prefix", "--ipv6-enable", "--ipv6-prefix", "--ipv6-default"} {
				known[k] = true
			}
		}
	}
	noValue := map[string]bool{"--enable": true, "-e": true, "--disable": true, "-d": true}
	for i := 0; i < len(a); i++ {
		name, val, inline := a[i], "", false
		if !known[name] {
			if j := strings.IndexAny(name, "=:"); j > 0 && known[name[:j]] {
				name, val, inline = name[:j], name[j+1:], true
			}
		}
		if !known[name] {
			return o, natSyntax("Unknown option: " + a[i])
		}
		if !noValue[name] && !inline {
			if i+1 >= len(a) {
				return o, natSyntax(fmt.Sprintf("Option %s requires an argument", name))
			}
			i++
			val = a[i]
		}
		once := func(key, msg string) bool {
			if o.seen[key] {
				natSyntax(msg)
				return false
			}
			o.seen[key] = true
			return true
		}
		switch name {
		case "--netname", "-t":
			if !once("netname", "You can only specify --netname only once.") {
				return o, 2
			}
			o.name = val
		case "--network", "-n", "--ipv4-prefix":
			if !once("network", "You can only specify --network only once.") {
				return o, 2
			}
			o.network = val
		case "--dhcp", "-h":
			if !once("dhcp", "You can specify --dhcp only once.") {
				return o, 2
			}
			b, ok := iprtBool(val)
			if !ok {
				return o, natSyntax(fmt.Sprintf("Invalid boolean value '%s' for option --dhcp", val))
			}
			o.dhcp = b
		case "--enable", "-e", "--disable", "-d":
			if !once("enable", "You can specify either --enable or --disable once.") {
				return o, 2
			}
			o.enable, o.disable = name == "--enable" || name == "-e", name == "--disable" || name == "-d"
		case "--port-forward-4", "-p":
			if val == "delete" {
				if sub == "add" {
					if isV61() {
						return o, natSyntax("Port-forward could be deleted on modify \n")
					}
					return o, natSyntax("Port-forward could be deleted on modify\n")
				}
				if i+1 >= len(a) {
					if isV61() {
						return o, natSyntax("Not enough parmaters\n")
					}
					return o, natSyntax("Not enough par\u0430meters\n")
				}
				i++
				if len(a[i]) >= 64 {
					return o, natSyntax("Port-forward rule name is too long\n")
				}
				o.pfDel = append(o.pfDel, a[i])
				continue
			}
			if _, ok := parseRule(val); !ok {
				return o, natSyntax("Invalid port-forward rule " + val + "\n")
			}
			o.pfAdd = append(o.pfAdd, val)
		case "--loopback-4", "-l":
			o.loAdds = append(o.loAdds, val)
		}
	}
	if o.name == "" {
		return o, natSyntax("You need to specify the --netname option")
	}
	return o, 0
}

func iprtBool(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "on", "yes", "true", "1", "enabled":
		return "on", true
	case "off", "no", "false", "0", "disabled":
		return "off", true
	}
	return "", false
}

type rule struct {
	name, proto, hostIP, guestIP string
	hostPort, guestPort          int
}

// parseRule is netPfStrToPf (§1.7): brackets mandatory, name before the
// first ':', proto tcp|udp, ports 1-65535, the whole string > 14 chars.
func parseRule(s string) (rule, bool) {
	var r rule
	if len(s) <= 14 {
		return r, false
	}
	f := strings.SplitN(s, ":", 2)
	if len(f) != 2 || len(f[0]) >= 64 {
		return r, false
	}
	r.name = f[0]
	rest := f[1]
	if len(rest) < 4 || rest[3] != ':' {
		return r, false
	}
	r.proto = strings.ToLower(rest[:3])
	if r.proto != "tcp" && r.proto != "udp" {
		return r, false
	}
	rest = rest[4:]
	take := func() (string, bool) {
		if !strings.HasPrefix(rest, "[") {
			return "", false
		}
		end := strings.Index(rest, "]:")
		if end < 0 {
			return "", false
		}
		v := rest[1:end]
		rest = rest[end+2:]
		return v, true
	}
	port := func(last bool) (int, bool) {
		s := rest
		if !last {
			j := strings.Index(rest, ":")
			if j < 0 {
				return 0, false
			}
			s, rest = rest[:j], rest[j+1:]
		}
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && n <= 65535
	}
	var ok bool
	if r.hostIP, ok = take(); !ok {
		return r, false
	}
	if r.hostPort, ok = port(false); !ok {
		return r, false
	}
	if r.guestIP, ok = take(); !ok || r.guestIP == "" {
		return r, false
	}
	if r.guestPort, ok = port(true); !ok {
		return r, false
	}
	if r.name == "" {
		r.name = fmt.Sprintf("%s_[%s]%%%d_[%s]%%%d", r.proto, r.hostIP, r.hostPort, r.guestIP, r.guestPort)
	}
	return r, true
}

func (r rule) String() string {
	return fmt.Sprintf("%s:%s:[%s]:%d:[%s]:%d", r.name, r.proto, r.hostIP, r.hostPort, r.guestIP, r.guestPort)
}

// comFail prints a COM block then the errorArgument line (§1.6).
func comFail(msg, code, context, last string) int {
	if msg != "" {
		apiErr{msg: msg, code: code, component: "NATNetworkWrap", iface: "INATNetwork", context: context, line: 400, file: "VBoxManageNATNetwork.cpp"}.print()
	} else {
		name := code
		if windows && windowsNames[name] != "" {
			name = windowsNames[name]
		}
		text := map[string]string{"NS_ERROR_INVALID_ARG": "Invalid argument value", "NS_ERROR_FAILURE": "Operation failed"}[code]
		if windows {
			text = map[string]string{"NS_ERROR_INVALID_ARG": "One or more arguments are invalid", "NS_ERROR_FAILURE": "Unspecified error"}[code]
		}
		errLines(fmt.Sprintf("Code %s (0x%08x) - %s (extended info not available)", name, codeValues[code], text))
		errLines(fmt.Sprintf("Context: \"%s\" at line 400 of file VBoxManageNATNetwork.cpp", context))
	}
	errLines(last)
	return 2
}

// normCIDR is 6.1.34+/7.x's RTNetStrToIPv4Cidr plus the checks of §1.2.
func normCIDR(s string) (string, string) {
	addr, bits := s, 32
	if i := strings.Index(s, "/"); i >= 0 {
		addr = s[:i]
		m := s[i+1:]
		if n, err := strconv.Atoi(m); err == nil {
			bits = n
		} else if ip, err := netip.ParseAddr(m); err == nil && ip.Is4() {
			bits = maskBits(ip.As4())
		} else if strings.HasPrefix(m, "0x") {
			v, err := strconv.ParseUint(m[2:], 16, 32)
			if err != nil {
				return "", s + " is not a valid IPv4 CIDR notation"
			}
			bits = maskBits([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		} else {
			return "", s + " is not a valid IPv4 CIDR notation"
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is4() || bits < 0 || bits > 32 {
		return "", s + " is not a valid IPv4 CIDR notation"
	}
	switch {
	case bits > 30:
		return "", s + " network is too small"
	case bits == 0:
		return "", s + " specifies zero prefix"
	}
	p := netip.PrefixFrom(ip, bits)
	if p.Masked().Addr() != ip {
		return "", s + ": the specified address is longer than the specified prefix"
	}
	return p.String(), ""
}

func maskBits(m [4]byte) int {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return n
}

func natGateway(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return ""
	}
	return p.Masked().Addr().Next().String()
}

func cmdNATNetwork(a []string) int {
	if len(a) == 0 {
		return natSyntax("Not enough parameters")
	}
	sub := a[0]
	switch sub {
	case "list":
		pattern := "*"
		if len(a) > 1 {
			pattern = a[1]
		}
		return update(func(st *Store, now time.Time) int { printNATList(st, pattern); return 0 })
	case "add", "modify", "remove", "start", "stop":
	default:
		return natSyntax(fmt.Sprintf("Invalid parameter '%s'", sub))
	}
	if len(a)-1 <= 1 {
		return natSyntax("Not enough parameters")
	}
	o, code := parseNATOpts(sub, a[1:])
	if code != 0 {
		return code
	}
	if sub == "add" && o.network == "" {
		return natSyntax("You need to specify the --network option")
	}
	return update(func(st *Store, now time.Time) int {
		n := st.natNet(o.name)
		switch sub {
		case "add":
			if n != nil {
				return natArgErr("NATNetwork server already exists")
			}
			// Registered and saved at once with the defaults (§1.2 step 3).
			n = &NATNet{Name: o.name, Network: "10.0.2.0/24", Enabled: true, DHCP: true, IPv6Prefix: "fd17:625c:f037:2::/64", Loopbacks: []string{"127.0.0.1=2"}}
			st.NATNets = append(st.NATNets, n)
		case "remove":
			if n == nil {
				return natArgErr("NATNetwork server does not exist")
			}
			if st.natInUse(n.Name) {
				return comFail("", "NS_ERROR_INVALID_ARG", "RemoveNATNetwork(net)", "Failed to remove nat network")
			}
			kept := st.NATNets[:0]
			for _, x := range st.NATNets {
				if x != n {
					kept = append(kept, x)
				}
			}
			st.NATNets = kept
			return 0
		case "start", "stop":
			if n == nil {
				return natArgErr("NATNetwork server does not exist")
			}
			if n.Enabled {
				n.Running = sub == "start"
			}
			return 0
		case "modify":
			if n == nil {
				return natArgErr("NATNetwork server does not exist")
			}
		}
		return applyNATOpts(st, n, o)
	})
}

// applyNATOpts is step 4 of §1.2: in order, the first failure returns and
// what came before stays.
func applyNATOpts(st *Store, n *NATNet, o natOpts) int {
	if o.network != "" {
		if !isV61() && st.natInUse(n.Name) {
			return comFail("Unable to change settings while NATNetwork instance is running", "NS_ERROR_FAILURE", "COMSETTER(Network)(Bstr(pPrefixIPv4).raw())", "Failed to set configuration")
		}
		if isV61() && !v6134() {
			n.Network = o.network
		} else {
			norm, msg := normCIDR(o.network)
			if msg != "" {
				return comFail(msg, "NS_ERROR_FAILURE", "COMSETTER(Network)(Bstr(pPrefixIPv4).raw())", "Failed to set configuration")
			}
			n.Network = norm
		}
	}
	if o.dhcp != "" {
		n.DHCP = o.dhcp == "on"
	}
	for _, d := range o.pfDel {
		idx := -1
		for i, f := range n.Forwards4 {
			if r, _ := parseRule(f); r.name == d {
				idx = i
			}
		}
		if idx < 0 {
			return comFail("", "NS_ERROR_INVALID_ARG", "RemovePortForwardRule((BOOL)(*it).fIPv6, Bstr((*it).szName).raw())", "Failed to delete pf")
		}
		n.Forwards4 = append(n.Forwards4[:idx], n.Forwards4[idx+1:]...)
	}
	for _, add := range o.pfAdd {
		r, _ := parseRule(add)
		for _, f := range n.Forwards4 {
			x, _ := parseRule(f)
			if x.name == r.name {
				return comFail("A NAT rule of this name already exists", "NS_ERROR_INVALID_ARG", "AddPortForwardRule((BOOL)(*it).fPfrIPv6, Bstr((*it).szPfrName).raw(), proto, Bstr((*it).szPfrHostAddr).raw(), (*it).u16PfrHostPort, Bstr((*it).szPfrGuestAddr).raw(), (*it).u16PfrGuestPort)", "Failed to add pf")
			}
			if x.proto == r.proto && x.hostIP == r.hostIP && x.hostPort == r.hostPort {
				return comFail("A NAT rule for this host port and this host IP already exists", "NS_ERROR_INVALID_ARG", "AddPortForwardRule((BOOL)(*it).fPfrIPv6, Bstr((*it).szPfrName).raw(), proto, Bstr((*it).szPfrHostAddr).raw(), (*it).u16PfrHostPort, Bstr((*it).szPfrGuestAddr).raw(), (*it).u16PfrGuestPort)", "Failed to add pf")
			}
		}
		n.Forwards4 = append(n.Forwards4, r.String())
		sort.Slice(n.Forwards4, func(i, j int) bool {
			a, _ := parseRule(n.Forwards4[i])
			b, _ := parseRule(n.Forwards4[j])
			return a.name < b.name
		})
	}
	if o.enable {
		n.Enabled = true
	}
	if o.disable {
		n.Enabled = false
	}
	return 0
}

// simplePattern is RTStrSimplePatternMatch: * any run, ? one char.
func simplePattern(pat, s string) bool {
	if pat == "" {
		return s == ""
	}
	switch pat[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if simplePattern(pat[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && simplePattern(pat[1:], s[1:])
	}
	return s != "" && s[0] == pat[0] && simplePattern(pat[1:], s[1:])
}

func yn(b bool) string { return yesNo(b, "Yes", "No") }

// printNATList is `natnetwork list [PATTERN]` per release (§1.4).
func printNATList(st *Store, pattern string) {
	outf("NAT Networks:\n\n")
	found := 0
	for i, n := range st.NATNets {
		if !simplePattern(pattern, n.Name) {
			continue
		}
		found++
		switch {
		case !isV61():
			printNAT7(n, true)
		case v6134():
			if i > 0 {
				outf("\n")
			}
			outf("Name:         %s\nNetwork:      %s\nGateway:      %s\nDHCP Server:  %s\nIPv6:         %s\nIPv6 Prefix:  %s\nIPv6 Default: %s\nEnabled:      %s\n\n",
				n.Name, n.Network, natGateway(n.Network), yn(n.DHCP), yn(n.IPv6), n.IPv6Prefix, yn(n.IPv6Default), yn(n.Enabled))
		default:
			if i > 0 {
				outf("\n")
			}
			outf("Name:        %s\nNetwork:     %s\nGateway:     %s\nIPv6:        %s\n", n.Name, n.Network, natGateway(n.Network), yn(n.IPv6))
			if n.IPv6 {
				outf("IPv6 Prefix: %s\n", n.IPv6Prefix)
			}
			outf("Enabled:     %s\n\n", yn(n.Enabled))
		}
	}
	word := "networks"
	if found == 1 {
		word = "network"
	}
	outf("%d %s found\n", found, word)
}

// printNAT7 is 7.x printNATNetwork: long = with Enabled and the rule lines.
func printNAT7(n *NATNet, long bool) {
	outf("Name:         %s\n", n.Name)
	if long {
		outf("Enabled:      %s\n", yn(n.Enabled))
	}
	outf("Network:      %s\nGateway:      %s\nDHCP Server:  %s\nIPv6:         %s\nIPv6 Prefix:  %s\nIPv6 Default: %s\n",
		n.Network, natGateway(n.Network), yn(n.DHCP), yn(n.IPv6), n.IPv6Prefix, yn(n.IPv6Default))
	if long {
		if len(n.Forwards4) > 0 {
			outf("Port-forwarding (ipv4)\n")
			for _, f := range n.Forwards4 {
				outf("        %s\n", f)
			}
		}
		if len(n.Loopbacks) > 0 {
			outf("loopback mappings (ipv4)\n")
			for _, l := range n.Loopbacks {
				outf("        %s\n", l)
			}
		}
	}
	outf("\n")
}

// printNatnets is `list [--long] [--sorted] natnets` (§1.5).
func printNatnets(st *Store, long, sorted bool) {
	nets := append([]*NATNet(nil), st.NATNets...)
	if sorted {
		sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	}
	for _, n := range nets {
		if !isV61() {
			printNAT7(n, long)
			continue
		}
		outf("NetworkName:    %s\nIP:             %s\nNetwork:        %s\nIPv6 Enabled:   %s\nIPv6 Prefix:    %s\nDHCP Enabled:   %s\nEnabled:        %s\n",
			n.Name, natGateway(n.Network), n.Network, yn(n.IPv6), n.IPv6Prefix, yn(n.DHCP), yn(n.Enabled))
		if len(n.Forwards4) > 0 {
			outf("Port-forwarding (ipv4)\n")
			for _, f := range n.Forwards4 {
				outf("        %s\n", f)
			}
		}
		if len(n.Loopbacks) > 0 {
			outf("loopback mappings (ipv4)\n")
			for _, l := range n.Loopbacks {
				outf("        %s\n", l)
			}
		}
		outf("\n")
	}
}

// --- host-only interfaces (§3) ---

func (st *Store) hostOnlyIf(name string) *HostIf {
	for i := range st.HostOnlyIfs {
		if st.HostOnlyIfs[i].Name == name {
			return &st.HostOnlyIfs[i]
		}
	}
	return nil
}

// allowedHostOnly is VBoxNetAdpCtl's range check with no networks.conf:
// 192.168.56.0/21, the mask at least /21 (§3.2).
func allowedHostOnly(ip, mask string) bool {
	if cfg.Windows {
		return true
	}
	a, err := netip.ParseAddr(ip)
	m, err2 := netip.ParseAddr(mask)
	if err != nil || err2 != nil || !a.Is4() || !m.Is4() {
		return false
	}
	bits := maskBits(m.As4())
	return bits >= 21 && netip.MustParsePrefix("192.168.56.0/21").Contains(a)
}

func hostOnlyNotFound(name string, line int) int {
	errLines(fmt.Sprintf("The host network interface named '%s' could not be found", name))
	errLines("Details: code NS_ERROR_INVALID_ARG (0x80070057), component HostWrap, interface IHost")
	errLines(fmt.Sprintf("Context: \"FindHostNetworkInterfaceByName(Bstr(pszName).raw(), hif.asOutParam())\" at line %d of file VBoxManageHostonly.cpp", line))
	return 1
}

func cmdHostOnlyIf(a []string) int {
	if len(a) == 0 {
		fmt.Fprint(stderr, logo())
		errLines("Not enough parameters")
		return 2
	}
	switch a[0] {
	case "create":
		if cfg.HostOS == "darwin" && !isV61() {
			fmt.Fprint(stderr, "0%...NS_ERROR_FAILURE\n")
			errLines("Failed to create the host-only adapter")
			errLines("VBoxNetAdpCtl: Error while adding new interface: failed to open /dev/vboxnetctl: No such file or directory")
			errLines("Details: code NS_ERROR_FAILURE (0x80004005), component HostNetworkInterfaceWrap, interface IHostNetworkInterface")
			errLines("Context: \"RTEXITCODE handleCreate(HandlerArg *)\" at line 105 of file VBoxManageHostonly.cpp")
			return 1
		}
		return update(func(st *Store, now time.Time) int {
			used := map[string]bool{}
			for _, h := range st.HostOnlyIfs {
				used[h.Name] = true
			}
			i := 0
			for used[fmt.Sprintf("vboxnet%d", i)] {
				i++
			}
			name := fmt.Sprintf("vboxnet%d", i)
			st.HostOnlyIfs = append(st.HostOnlyIfs, HostIf{Name: name, GUID: fmt.Sprintf("786f6276-656e-4%d74-8000-0a00270000%02x", i%10, i),
				IPAddress: fmt.Sprintf("192.168.%d.1", 56+i), NetworkMask: "255.255.255.0", HWAddress: fmt.Sprintf("0a:00:27:00:00:%02x", i), Status: "Down"})
			progress()
			outf("Interface '%s' was successfully created\n", name)
			return 0
		})
	case "remove":
		if len(a) < 2 {
			return syntaxError("list", "No interface name was specified", 2)
		}
		return update(func(st *Store, now time.Time) int {
			if st.hostOnlyIf(a[1]) == nil {
				return hostOnlyNotFound(a[1], 150)
			}
			kept := st.HostOnlyIfs[:0]
			for _, h := range st.HostOnlyIfs {
				if h.Name != a[1] {
					kept = append(kept, h)
				}
			}
			st.HostOnlyIfs = kept
			progress()
			return 0
		})
	case "ipconfig":
		var name, ip, mask string
		mask = "255.255.255.0"
		for i := 1; i < len(a); i++ {
			switch a[i] {
			case "--ip", "-ip":
				if i+1 < len(a) {
					i++
					ip = a[i]
				}
			case "--netmask", "-netmask":
				if i+1 < len(a) {
					i++
					mask = a[i]
				}
			default:
				if strings.HasPrefix(a[i], "-") {
					fmt.Fprintln(os.Stderr, "fakevbox: hostonlyif ipconfig option "+a[i]+" is not implemented")
					return 1
				}
				if name != "" {
					return syntaxError("list", "Only one interface name can be specified", 2)
				}
				name = a[i]
			}
		}
		if ip == "" {
			return syntaxError("list", "Neither -dhcp nor -ip nor -ipv6 was specfified", 2)
		}
		return update(func(st *Store, now time.Time) int {
			h := st.hostOnlyIf(name)
			if h == nil {
				return hostOnlyNotFound(name, 242)
			}
			if h.IPAddress == ip && h.NetworkMask == mask {
				return 0 // the equal-address shortcut
			}
			if !allowedHostOnly(ip, mask) {
				line := 252
				if isV61() {
					line = 242
				}
				errLines("Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)")
				errLines(fmt.Sprintf("Context: \"EnableStaticIPConfig(Bstr(pszIp).raw(), Bstr(pszNetmask).raw())\" at line %d of file VBoxManageHostonly.cpp", line))
				return 1
			}
			h.IPAddress, h.NetworkMask = ip, mask
			return 0
		})
	}
	fmt.Fprint(stderr, logo())
	errLines(fmt.Sprintf("Invalid parameter '%s'", a[0]))
	return 2
}

// --- host-only networks (§4, macOS 7.x) ---

func cmdHostOnlyNet(a []string) int {
	if !hostOnlyNetsAvailable() {
		errLines(fmt.Sprintf("Invalid command '%s'", "hostonlynet"))
		return 2
	}
	if len(a) == 0 {
		fmt.Fprint(stderr, logo())
		errLines("Not enough parameters")
		return 2
	}
	n := HostOnlyNet{Enabled: true}
	id := ""
	for i := 1; i < len(a); i++ {
		next := func() string {
			if i+1 < len(a) {
				i++
				return a[i]
			}
			return ""
		}
		switch a[i] {
		case "--name":
			n.Name = next()
		case "--id":
			id = next()
		case "--netmask":
			n.Netmask = next()
		case "--lower-ip", "--lowerip":
			n.LowerIP = next()
		case "--upper-ip", "--upperip":
			n.UpperIP = next()
		case "--enable":
			n.Enabled = true
		case "--disable":
			n.Enabled = false
		default:
			fmt.Fprint(stderr, logo())
			errLines("Unknown option: " + a[i])
		}
	}
	notFound := func() int {
		errLines("Code VBOX_E_OBJECT_NOT_FOUND (0x80BB0001) - Object corresponding to the supplied arguments does not exist (extended info not available)")
		errLines("Context: \"FindHostOnlyNetworkByName(strNetworkName.raw(), hostOnlyNetwork.asOutParam())\" at line 300 of file VBoxManageHostonly.cpp")
		return 1
	}
	switch a[0] {
	case "add":
		for _, req := range []struct{ v, opt string }{{n.Name, "--name"}, {n.Netmask, "--netmask"}, {n.LowerIP, "--lower-ip"}, {n.UpperIP, "--upper-ip"}} {
			if req.v == "" {
				errLines(fmt.Sprintf("The %s parameter must be specified", req.opt))
				return 2
			}
		}
		return update(func(st *Store, now time.Time) int {
			n.GUID = id
			if n.GUID == "" {
				n.GUID = newUUID()
			}
			st.HostOnlyNets = append(st.HostOnlyNets, n) // no duplicate check (§4)
			return 0
		})
	case "remove", "modify":
		if n.Name == "" && id == "" {
			errLines("Either --name or --id parameter must be specified")
			return 2
		}
		return update(func(st *Store, now time.Time) int {
			for i, x := range st.HostOnlyNets {
				if (n.Name != "" && x.Name == n.Name) || (n.Name == "" && x.GUID == id) {
					if a[0] == "remove" {
						st.HostOnlyNets = append(st.HostOnlyNets[:i], st.HostOnlyNets[i+1:]...)
						return 0
					}
					if n.Netmask != "" {
						st.HostOnlyNets[i].Netmask = n.Netmask
					}
					if n.LowerIP != "" {
						st.HostOnlyNets[i].LowerIP = n.LowerIP
					}
					if n.UpperIP != "" {
						st.HostOnlyNets[i].UpperIP = n.UpperIP
					}
					return 0
				}
			}
			return notFound()
		})
	}
	fmt.Fprint(stderr, logo())
	errLines(fmt.Sprintf("Invalid parameter '%s'", a[0]))
	return 2
}

func printHostOnlyNets(st *Store) {
	for _, n := range st.HostOnlyNets {
		outf("Name:            %s\nGUID:            %s\n\nState:           %s\nNetworkMask:     %s\nLowerIP:         %s\nUpperIP:         %s\nVBoxNetworkName: hostonly-%s\n\n",
			n.Name, n.GUID, yesNo(n.Enabled, "Enabled", "Disabled"), n.Netmask, n.LowerIP, n.UpperIP, n.Name)
	}
}
