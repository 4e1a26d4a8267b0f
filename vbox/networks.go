package vbox

// VirtualBox's private networks: NAT networks (every release), host-only
// adapters (Linux, Windows, macOS before 7.0) and host-only networks (macOS
// with 7.x). Argv, outputs and errors follow the networks reference: NAT
// networks are read with `list --long natnets`, the one listing that shows
// the port-forward rules on 6.1 and 7.x alike.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Sentinels of the network operations.
var (
	// ErrNetworkExists: a NAT network of that name already exists.
	ErrNetworkExists = errors.New("network already exists")
	// ErrNetworkNotFound: no NAT network, host-only interface or host-only network by that name.
	ErrNetworkNotFound = errors.New("network not found")
	// ErrNetworkInUse: a running VM uses the NAT network.
	ErrNetworkInUse = errors.New("network in use")
	// ErrHostOnlyRange: the host refuses a host-only address outside its allowed ranges (/etc/vbox/networks.conf).
	ErrHostOnlyRange = errors.New("host-only address outside the allowed ranges")
)

// Networks is the network part of VirtualBox labctl drives. *Client implements it.
type Networks interface {
	// NATNetworks runs `list --long natnets`.
	NATNetworks(ctx context.Context) ([]NATNetwork, error)
	// AddNATNetwork runs `natnetwork add --netname NAME --network CIDR --enable --dhcp on|off [--port-forward-4 RULE]...`.
	AddNATNetwork(ctx context.Context, n NATNetwork) error
	// ModifyNATNetwork runs `natnetwork modify --netname NAME` with the changes.
	ModifyNATNetwork(ctx context.Context, name string, m NATNetworkChange) error
	// RemoveNATNetwork runs `natnetwork remove --netname NAME`.
	RemoveNATNetwork(ctx context.Context, name string) error
	// HostOnlyIfs runs `list hostonlyifs`.
	HostOnlyIfs(ctx context.Context) ([]HostIf, error)
	// CreateHostOnlyIf runs `hostonlyif create` and returns the new interface's name.
	CreateHostOnlyIf(ctx context.Context) (string, error)
	// ConfigureHostOnlyIf runs `hostonlyif ipconfig IF --ip A --netmask M`.
	ConfigureHostOnlyIf(ctx context.Context, name string, ip netip.Prefix) error
	// RemoveHostOnlyIf runs `hostonlyif remove IF`.
	RemoveHostOnlyIf(ctx context.Context, name string) error
	// HostOnlyNets runs `list hostonlynets` (macOS hosts with 7.x only).
	HostOnlyNets(ctx context.Context) ([]HostOnlyNet, error)
	// AddHostOnlyNet runs `hostonlynet add --name N --netmask M --lower-ip L --upper-ip U --enable`.
	AddHostOnlyNet(ctx context.Context, n HostOnlyNet) error
	// RemoveHostOnlyNet runs `hostonlynet remove --name N`.
	RemoveHostOnlyNet(ctx context.Context, name string) error
}

var _ Networks = (*Client)(nil)

// NATNetwork is one NAT network as VirtualBox lists it.
type NATNetwork struct {
	Name    string
	Network string // CIDR as listed (normalised on 6.1.34+)
	Gateway string
	Enabled bool
	DHCP    bool
	// Forwards are the IPv4 port-forward rules, sorted by name.
	Forwards []PortForward
}

// PortForward is one rule `name:proto:[hostip]:hostport:[guestip]:guestport`.
type PortForward struct {
	Name      string
	Proto     string // tcp or udp
	HostIP    string // "" = every host interface
	HostPort  int
	GuestIP   string
	GuestPort int
}

// String is the rule in VBoxManage's --port-forward-4 grammar.
func (f PortForward) String() string {
	return fmt.Sprintf("%s:%s:[%s]:%d:[%s]:%d", f.Name, f.Proto, f.HostIP, f.HostPort, f.GuestIP, f.GuestPort)
}

var ruleRE = regexp.MustCompile(`^([^:]*):(tcp|udp|TCP|UDP):\[([^\]]*)\]:(\d+):\[([^\]]*)\]:(\d+)$`)

// ParsePortForward reads one listed rule.
func ParsePortForward(s string) (PortForward, bool) {
	m := ruleRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return PortForward{}, false
	}
	hp, _ := strconv.Atoi(m[4])
	gp, _ := strconv.Atoi(m[6])
	return PortForward{Name: m[1], Proto: strings.ToLower(m[2]), HostIP: m[3], HostPort: hp, GuestIP: m[5], GuestPort: gp}, true
}

// NATNetworkChange is what ModifyNATNetwork changes; zero fields are left alone.
type NATNetworkChange struct {
	Network       string        // --network CIDR
	DHCP          *bool         // --dhcp on|off
	DeleteForward []string      // --port-forward-4 delete NAME (applied before the adds, as VirtualBox does)
	AddForward    []PortForward // --port-forward-4 RULE
}

// HostOnlyNet is one block of `list hostonlynets`.
type HostOnlyNet struct {
	Name    string
	Enabled bool
	Netmask string
	LowerIP string
	UpperIP string
}

// ParseNATNetworks reads `list --long natnets` in every release's layout:
// 7.x (`Name:`, `Gateway:`, `DHCP Server:`), 6.1 (`NetworkName:`, `IP:`,
// `DHCP Enabled:`), and the `natnetwork list` form with its header and
// count line. Blocks start at their name line, so blank lines do not matter.
func ParseNATNetworks(out string) []NATNetwork {
	var nets []NATNetwork
	var cur *NATNetwork
	section := ""
	for _, line := range splitLines(out) {
		if strings.HasPrefix(line, "        ") && cur != nil {
			if section == "pf4" {
				if f, ok := ParsePortForward(line); ok {
					cur.Forwards = append(cur.Forwards, f)
				}
			}
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case strings.EqualFold(t, "Port-forwarding (ipv4)"):
			section = "pf4"
			continue
		case strings.HasPrefix(t, "Port-forwarding") || strings.HasPrefix(strings.ToLower(t), "loopback mappings"):
			section = "other"
			continue
		}
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name", "NetworkName":
			nets = append(nets, NATNetwork{Name: v})
			cur, section = &nets[len(nets)-1], ""
		case "Network":
			if cur != nil {
				cur.Network = v
			}
		case "Gateway", "IP":
			if cur != nil {
				cur.Gateway = v
			}
		case "Enabled":
			if cur != nil {
				cur.Enabled = v == "Yes"
			}
		case "DHCP Server", "DHCP Enabled":
			if cur != nil {
				cur.DHCP = v == "Yes"
			}
		}
	}
	for i := range nets {
		sort.Slice(nets[i].Forwards, func(a, b int) bool { return nets[i].Forwards[a].Name < nets[i].Forwards[b].Name })
	}
	return nets
}

// ParseHostOnlyNets reads `list hostonlynets`; a new block starts at each
// `Name:` line (the listing has a stray blank line after GUID:).
func ParseHostOnlyNets(out string) []HostOnlyNet {
	var nets []HostOnlyNet
	for _, line := range splitLines(out) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if k == "Name" {
			nets = append(nets, HostOnlyNet{Name: v})
			continue
		}
		if len(nets) == 0 {
			continue
		}
		n := &nets[len(nets)-1]
		switch k {
		case "State":
			n.Enabled = v == "Enabled"
		case "NetworkMask":
			n.Netmask = v
		case "LowerIP":
			n.LowerIP = v
		case "UpperIP":
			n.UpperIP = v
		}
	}
	return nets
}

// netCheck classifies the network commands' own error texts, which come
// without a distinct status code.
func netCheck(args []string, r Result) error {
	if !failed(r) {
		return nil
	}
	e := &Error{Args: args, Result: r, Err: classify(r)}
	msg := strings.ToLower(strings.Join(diagnose(r).messages, "\n"))
	switch {
	case strings.Contains(msg, "natnetwork server already exists") || strings.Contains(msg, "nat network") && strings.Contains(msg, "already exists"):
		e.Err = ErrNetworkExists
	case strings.Contains(msg, "natnetwork server does not exist") || strings.Contains(msg, "nat network") && strings.Contains(msg, "not found"),
		strings.Contains(msg, "could not be found") && strings.Contains(msg, "host network interface"),
		strings.Contains(msg, "findhostonlynetworkbyname"), strings.Contains(diagnose(r).context, "FindHostOnlyNetworkByName"):
		e.Err = ErrNetworkNotFound
	case strings.Contains(diagnose(r).context, "RemoveNATNetwork"):
		e.Err = ErrNetworkInUse
	case diagnose(r).code == "E_ACCESSDENIED" || strings.Contains(diagnose(r).context, "EnableStaticIPConfig") && strings.Contains(msg, "access denied"):
		e.Err = ErrHostOnlyRange
	}
	return e
}

// NATNetworks runs `list --long natnets`.
func (c *Client) NATNetworks(ctx context.Context) ([]NATNetwork, error) {
	res, err := c.run(ctx, callOpts{}, "list", "--long", "natnets")
	if err != nil {
		return nil, err
	}
	return ParseNATNetworks(res.Stdout), nil
}

// AddNATNetwork creates n, enabled, with its rules. VirtualBox registers the
// network before applying the options, so a failed add leaves it behind:
// it is removed again here.
func (c *Client) AddNATNetwork(ctx context.Context, n NATNetwork) error {
	if n.Name == "" || n.Network == "" {
		return fmt.Errorf("natnetwork add: a name and a network are needed")
	}
	args := []string{"natnetwork", "add", "--netname", n.Name, "--network", n.Network, "--enable", "--dhcp", onOff(n.DHCP)}
	for _, f := range n.Forwards {
		args = append(args, "--port-forward-4", f.String())
	}
	_, err := c.run(ctx, callOpts{check: netCheck}, args...)
	if err != nil && !errors.Is(err, ErrNetworkExists) {
		if rerr := c.RemoveNATNetwork(ctx, n.Name); rerr != nil && !errors.Is(rerr, ErrNetworkNotFound) {
			return fmt.Errorf("%w (and removing the half-made network failed: %v)", err, rerr)
		}
	}
	return err
}

// ModifyNATNetwork runs `natnetwork modify --netname NAME` with m.
func (c *Client) ModifyNATNetwork(ctx context.Context, name string, m NATNetworkChange) error {
	args := []string{"natnetwork", "modify", "--netname", name}
	if m.Network != "" {
		args = append(args, "--network", m.Network)
	}
	if m.DHCP != nil {
		args = append(args, "--dhcp", onOff(*m.DHCP))
	}
	for _, d := range m.DeleteForward {
		args = append(args, "--port-forward-4", "delete", d)
	}
	for _, f := range m.AddForward {
		args = append(args, "--port-forward-4", f.String())
	}
	if len(args) == 4 {
		return nil
	}
	_, err := c.run(ctx, callOpts{check: netCheck}, args...)
	return err
}

// RemoveNATNetwork runs `natnetwork remove --netname NAME`.
func (c *Client) RemoveNATNetwork(ctx context.Context, name string) error {
	_, err := c.run(ctx, callOpts{check: netCheck}, "natnetwork", "remove", "--netname", name)
	return err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// HostOnlyIfs runs `list hostonlyifs` (the bridgedifs block format).
func (c *Client) HostOnlyIfs(ctx context.Context) ([]HostIf, error) {
	res, err := c.run(ctx, callOpts{}, "list", "hostonlyifs")
	if err != nil {
		return nil, err
	}
	return ParseBridgedIfs(res.Stdout), nil
}

var createdIfRE = regexp.MustCompile(`(?m)^Interface '(.+)' was successfully created`)

// CreateHostOnlyIf runs `hostonlyif create`.
func (c *Client) CreateHostOnlyIf(ctx context.Context) (string, error) {
	res, err := c.run(ctx, callOpts{slow: true, check: netCheck}, "hostonlyif", "create")
	if err != nil {
		return "", err
	}
	m := createdIfRE.FindStringSubmatch(strings.ReplaceAll(res.Stdout, "\r", ""))
	if m == nil {
		return "", &Error{Args: []string{"hostonlyif", "create"}, Result: res, Err: errors.New("no interface name in the output")}
	}
	return m[1], nil
}

// ConfigureHostOnlyIf runs `hostonlyif ipconfig IF --ip A --netmask M`
// (the host's own address on the interface).
func (c *Client) ConfigureHostOnlyIf(ctx context.Context, name string, ip netip.Prefix) error {
	_, err := c.run(ctx, callOpts{check: netCheck}, "hostonlyif", "ipconfig", name, "--ip", ip.Addr().String(), "--netmask", Netmask(ip.Bits()))
	return err
}

// RemoveHostOnlyIf runs `hostonlyif remove IF`.
func (c *Client) RemoveHostOnlyIf(ctx context.Context, name string) error {
	_, err := c.run(ctx, callOpts{slow: true, check: netCheck}, "hostonlyif", "remove", name)
	return err
}

// HostOnlyNets runs `list hostonlynets`.
func (c *Client) HostOnlyNets(ctx context.Context) ([]HostOnlyNet, error) {
	res, err := c.run(ctx, callOpts{}, "list", "hostonlynets")
	if err != nil {
		return nil, err
	}
	return ParseHostOnlyNets(res.Stdout), nil
}

// AddHostOnlyNet runs `hostonlynet add`. VirtualBox checks nothing (not even
// the name's uniqueness), so callers list first.
func (c *Client) AddHostOnlyNet(ctx context.Context, n HostOnlyNet) error {
	_, err := c.run(ctx, callOpts{check: netCheck}, "hostonlynet", "add", "--name", n.Name, "--netmask", n.Netmask,
		"--lower-ip", n.LowerIP, "--upper-ip", n.UpperIP, "--enable")
	return err
}

// RemoveHostOnlyNet runs `hostonlynet remove --name N`.
func (c *Client) RemoveHostOnlyNet(ctx context.Context, name string) error {
	_, err := c.run(ctx, callOpts{check: netCheck}, "hostonlynet", "remove", "--name", name)
	return err
}

// Netmask is the dotted mask of a prefix length (24 → 255.255.255.0).
func Netmask(bits int) string {
	if bits < 0 || bits > 32 {
		return ""
	}
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}
