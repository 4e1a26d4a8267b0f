package vbox

import (
	"fmt"
	"sort"
	"strings"
)

// emuNets is the Emulator's networks: what a plan creates, it reads back.
// The host starts with none (a first `up`).
type emuNets struct {
	nat      []NATNetwork
	hostOnly []HostIf
}

func (p *Emulator) findNAT(name string) *NATNetwork {
	for i := range p.nets.nat {
		if p.nets.nat[i].Name == name {
			return &p.nets.nat[i]
		}
	}
	return nil
}

// listNets answers `list --long natnets` as 7.0 does.
func (p *Emulator) listNets(what string) Result {
	if what != "natnets" && what != "natnetworks" {
		return syntaxError("Unknown subcommand: " + what)
	}
	var b strings.Builder
	yn := map[bool]string{true: "Yes", false: "No"}
	for _, n := range p.nets.nat {
		fmt.Fprintf(&b, "Name:         %s\nEnabled:      %s\nNetwork:      %s\nGateway:      %s\nDHCP Server:  %s\nIPv6:         No\nIPv6 Prefix:  fd17:625c:f037:2::/64\nIPv6 Default: No\n",
			n.Name, yn[n.Enabled], n.Network, n.Gateway, yn[n.DHCP])
		if len(n.Forwards) > 0 {
			b.WriteString("Port-forwarding (ipv4)\n")
			for _, f := range n.Forwards {
				fmt.Fprintf(&b, "        %s\n", f)
			}
		}
		b.WriteString("loopback mappings (ipv4)\n        127.0.0.1=2\n\n")
	}
	return Result{Stdout: b.String()}
}

func (p *Emulator) listHostNets(what string) (Result, bool) {
	switch what {
	case "hostonlyifs":
		var b strings.Builder
		for _, h := range p.nets.hostOnly {
			fmt.Fprintf(&b, "Name:            %s\nGUID:            %s\nDHCP:            Disabled\nIPAddress:       %s\nNetworkMask:     %s\n"+
				"IPV6Address:     \nIPV6NetworkMaskPrefixLength: 0\nHardwareAddress: %s\nMediumType:      Ethernet\nWireless:        No\n"+
				"Status:          %s\nVBoxNetworkName: HostInterfaceNetworking-%s\n\n",
				h.Name, emuUUID("if:"+h.Name), h.IPAddress, h.NetworkMask, h.MAC, h.Status, h.Name)
		}
		return Result{Stdout: b.String()}, true
	case "hostonlynets":
		// A Linux or Windows host: host-only networks are macOS's.
		return syntaxError(`Unknown subcommand "hostonlynets".`), true
	}
	return Result{}, false
}

// network answers natnetwork and hostonlyif (success paths and the
// not-found and exists errors labctl reacts to).
func (p *Emulator) network(args []string) Result {
	errArg := func(msg string) Result {
		return Result{ExitCode: 2, Stderr: "VBoxManage: error: " + msg + "\n"}
	}
	if args[0] == "hostonlynet" {
		return syntaxError("Invalid command 'hostonlynet'")
	}
	if args[0] == "hostonlyif" {
		sub := ""
		if len(args) > 1 {
			sub = args[1]
		}
		switch sub {
		case "create":
			name := fmt.Sprintf("vboxnet%d", len(p.nets.hostOnly))
			p.nets.hostOnly = append(p.nets.hostOnly, HostIf{Name: name, IPAddress: fmt.Sprintf("192.168.%d.1", 56+len(p.nets.hostOnly)),
				NetworkMask: "255.255.255.0", MAC: fmt.Sprintf("0a:00:27:00:00:%02x", len(p.nets.hostOnly)), Status: "Down"})
			return Result{Stdout: "Interface '" + name + "' was successfully created\n", Stderr: "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n"}
		case "ipconfig", "remove":
			if len(args) < 3 {
				return syntaxError("No interface name was specified")
			}
			for i := range p.nets.hostOnly {
				h := &p.nets.hostOnly[i]
				if h.Name != args[2] {
					continue
				}
				if sub == "remove" {
					p.nets.hostOnly = append(p.nets.hostOnly[:i], p.nets.hostOnly[i+1:]...)
					return Result{}
				}
				for j := 3; j+1 < len(args); j += 2 {
					switch args[j] {
					case "--ip":
						h.IPAddress = args[j+1]
					case "--netmask":
						h.NetworkMask = args[j+1]
					}
				}
				return Result{}
			}
			return Result{ExitCode: 1, Stderr: "VBoxManage: error: The host network interface named '" + args[2] + "' could not be found\n" +
				"VBoxManage: error: Details: code NS_ERROR_INVALID_ARG (0x80070057), component HostWrap, interface IHost\n"}
		}
		return syntaxError("Invalid parameter '" + sub + "'")
	}
	if len(args) < 4 {
		return syntaxError("Not enough parameters")
	}
	sub := args[1]
	var name, network, dhcp string
	enabled := true
	var adds []PortForward
	var dels []string
	for i := 2; i < len(args); i++ {
		next := func() string {
			i++
			if i < len(args) {
				return args[i]
			}
			return ""
		}
		switch args[i] {
		case "--netname":
			name = next()
		case "--network", "--ipv4-prefix":
			network = next()
		case "--dhcp":
			dhcp = next()
		case "--enable":
		case "--disable":
			enabled = false
		case "--port-forward-4":
			v := next()
			if v == "delete" {
				dels = append(dels, next())
				continue
			}
			f, ok := ParsePortForward(v)
			if !ok {
				return syntaxError("Invalid port-forward rule " + v)
			}
			adds = append(adds, f)
		default:
			return syntaxError("Unknown option: " + args[i])
		}
	}
	if name == "" {
		return syntaxError("You need to specify the --netname option")
	}
	n := p.findNAT(name)
	switch sub {
	case "add":
		if network == "" {
			return syntaxError("You need to specify the --network option")
		}
		if n != nil {
			return errArg("NATNetwork server already exists")
		}
		p.nets.nat = append(p.nets.nat, NATNetwork{Name: name, Network: "10.0.2.0/24", Gateway: "10.0.2.1", Enabled: true, DHCP: true})
		n = &p.nets.nat[len(p.nets.nat)-1]
	case "modify", "start", "stop":
		if n == nil {
			return errArg("NATNetwork server does not exist")
		}
		if sub != "modify" {
			return Result{}
		}
	case "remove":
		if n == nil {
			return errArg("NATNetwork server does not exist")
		}
		for i := range p.nets.nat {
			if p.nets.nat[i].Name == name {
				p.nets.nat = append(p.nets.nat[:i], p.nets.nat[i+1:]...)
				break
			}
		}
		return Result{}
	default:
		return syntaxError("Invalid parameter '" + sub + "'")
	}
	if network != "" {
		n.Network = network
		if gw, ok := firstAddr(network); ok {
			n.Gateway = gw
		}
	}
	if dhcp != "" {
		n.DHCP = dhcp == "on" || dhcp == "yes" || dhcp == "true" || dhcp == "1"
	}
	for _, d := range dels {
		kept := n.Forwards[:0]
		for _, f := range n.Forwards {
			if f.Name != d {
				kept = append(kept, f)
			}
		}
		n.Forwards = kept
	}
	for _, f := range adds {
		for _, o := range n.Forwards {
			if o.Name == f.Name {
				return errArg("A NAT rule of this name already exists")
			}
		}
		n.Forwards = append(n.Forwards, f)
	}
	sort.Slice(n.Forwards, func(a, b int) bool { return n.Forwards[a].Name < n.Forwards[b].Name })
	n.Enabled = enabled
	return Result{}
}

// firstAddr is a CIDR's .1 (the NAT network's gateway).
func firstAddr(cidr string) (string, bool) {
	ip, _, ok := strings.Cut(cidr, "/")
	parts := strings.Split(ip, ".")
	if !ok || len(parts) != 4 {
		return "", false
	}
	parts[3] = "1"
	return strings.Join(parts, "."), true
}
