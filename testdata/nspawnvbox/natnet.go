package main

// NAT networks, the way VirtualBox's NAT service behaves for a lab:
//   - each NAT network is a private Linux bridge of its own ("nvn" + a hash
//     of the name, created by this backend in the harness's host only), with
//     the network's gateway (.1) on the host side: machines on it reach the
//     host's addresses (the harness's package repository: their "internet")
//     through their default route, and each other through the bridge;
//   - the port-forward rules are a userspace TCP forwarder (this binary,
//     `__natfwd`) listening on the rules' host addresses, as VirtualBox's own
//     NAT engine does; it runs in the backend's cgroup tree, so clean.sh
//     stops it with the machines;
//   - argv, listings (7.0 `list --long natnets` and `natnetwork list`) and
//     error texts follow the networks reference.

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NATNet is one registered NAT network.
type NATNet struct {
	Name     string   `json:"name"`
	Network  string   `json:"network"`
	Enabled  bool     `json:"enabled"`
	DHCP     bool     `json:"dhcp"`
	Forwards []string `json:"forwards,omitempty"` // rule strings, sorted by name
}

func (s *store) natPath() string { return filepath.Join(s.home, "natnets.json") }

// natNets reads the registry (callers hold the lock).
func (s *store) natNets() ([]*NATNet, error) {
	b, err := os.ReadFile(s.natPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*NATNet
	return out, json.Unmarshal(b, &out)
}

func (s *store) saveNATNets(nets []*NATNet) error {
	b, err := json.MarshalIndent(nets, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.natPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.natPath())
}

// natBridge is the Linux bridge of a NAT network (at most 15 characters).
func natBridge(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("nvn%08x", h.Sum32())
}

func natGateway(cidr string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits()), true
}

// ensureNATBridge creates the network's bridge with the gateway address.
func ensureNATBridge(n *NATNet) error {
	br := natBridge(n.Name)
	if _, err := net.InterfaceByName(br); err != nil {
		if err := sh("ip", "link", "add", br, "type", "bridge"); err != nil {
			return err
		}
	}
	if gw, ok := natGateway(n.Network); ok {
		out, _ := exec.Command("ip", "-o", "-4", "addr", "show", "dev", br).Output()
		if !strings.Contains(string(out), " "+gw.String()+" ") {
			_ = sh("ip", "addr", "flush", "dev", br)
			if err := sh("ip", "addr", "add", gw.String(), "dev", br); err != nil {
				return err
			}
		}
	}
	return sh("ip", "link", "set", br, "up")
}

func removeNATBridge(name string) {
	if _, err := net.InterfaceByName(natBridge(name)); err == nil {
		_ = sh("ip", "link", "del", natBridge(name))
	}
}

// --- forwarder process ---

func (s *store) fwdPidFile(name string) string {
	return filepath.Join(s.home, natBridge(name)+".fwd.pid")
}

func (s *store) fwdCgroup(name string) string {
	return filepath.Join(cgroupRoot(), "natfwd-"+natBridge(name))
}

func (s *store) stopForwarder(name string) {
	if b, err := os.ReadFile(s.fwdPidFile(name)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		os.Remove(s.fwdPidFile(name))
	}
	_ = os.Remove(s.fwdCgroup(name))
}

// startForwarder (re)starts the network's forwarder with its current rules.
func (s *store) startForwarder(n *NATNet) error {
	s.stopForwarder(n.Name)
	if len(n.Forwards) == 0 || !n.Enabled {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.home, natBridge(n.Name)+".fwd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cg := s.fwdCgroup(n.Name)
	if err := os.MkdirAll(cg, 0o755); err != nil {
		return err
	}
	cgf, err := os.Open(cg)
	if err != nil {
		return err
	}
	defer cgf.Close()
	cmd := exec.Command(self, append([]string{"__natfwd"}, n.Forwards...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, UseCgroupFD: true, CgroupFD: int(cgf.Fd())}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the NAT forwarder of %s: %w", n.Name, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return os.WriteFile(s.fwdPidFile(n.Name), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

func (s *store) forwarderAlive(name string) bool {
	b, err := os.ReadFile(s.fwdPidFile(name))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && pid > 0 && syscall.Kill(pid, 0) == nil
}

// cmdNATForward: __natfwd RULE... — listens on each rule's host address and
// copies every connection to the guest address. An empty host IP means
// every host address, as in VirtualBox.
func cmdNATForward(_ *store, rules []string) error {
	var wg sync.WaitGroup
	for _, r := range rules {
		f, ok := parseRule(r)
		if !ok || f.proto != "tcp" {
			fmt.Fprintf(os.Stderr, "natfwd: skipping rule %q\n", r)
			continue
		}
		host := f.hostIP
		if host == "" {
			host = "0.0.0.0"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(f.hostPort)))
		if err != nil {
			// VirtualBox logs a bind failure and goes on (§1.7).
			fmt.Fprintf(os.Stderr, "natfwd: rule %s: %v\n", f.name, err)
			continue
		}
		to := net.JoinHostPort(f.guestIP, strconv.Itoa(f.guestPort))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go forward(c, to)
			}
		}()
	}
	wg.Wait()
	return nil
}

func forward(c net.Conn, to string) {
	defer c.Close()
	g, err := net.DialTimeout("tcp", to, 10*time.Second)
	if err != nil {
		return
	}
	defer g.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(g, c)
	go pipe(c, g)
	<-done
	<-done
}

// --- rules ---

type rule struct {
	name, proto, hostIP, guestIP string
	hostPort, guestPort          int
}

func parseRule(s string) (rule, bool) {
	var r rule
	name, rest, ok := strings.Cut(s, ":")
	if !ok || len(name) >= 64 || len(s) <= 14 {
		return r, false
	}
	r.name = name
	f := strings.Split(rest, ":")
	if len(f) != 5 {
		return r, false
	}
	r.proto = strings.ToLower(f[0])
	unb := func(x string) (string, bool) {
		if !strings.HasPrefix(x, "[") || !strings.HasSuffix(x, "]") {
			return "", false
		}
		return x[1 : len(x)-1], true
	}
	var ok1, ok2 bool
	r.hostIP, ok1 = unb(f[1])
	r.guestIP, ok2 = unb(f[3])
	hp, e1 := strconv.Atoi(f[2])
	gp, e2 := strconv.Atoi(f[4])
	if (r.proto != "tcp" && r.proto != "udp") || !ok1 || !ok2 || r.guestIP == "" || e1 != nil || e2 != nil || hp < 1 || hp > 65535 || gp < 1 || gp > 65535 {
		return r, false
	}
	r.hostPort, r.guestPort = hp, gp
	if r.name == "" {
		r.name = fmt.Sprintf("%s_[%s]%%%d_[%s]%%%d", r.proto, r.hostIP, hp, r.guestIP, gp)
	}
	return r, true
}

func (r rule) String() string {
	return fmt.Sprintf("%s:%s:[%s]:%d:[%s]:%d", r.name, r.proto, r.hostIP, r.hostPort, r.guestIP, r.guestPort)
}

// --- commands ---

// natInUse: a running machine is attached to the network.
func (s *store) natInUse(name string) bool {
	for _, vm := range s.all() {
		if vm.NIC.Type == "natnetwork" && vm.NIC.NATNet == name && s.vmState(vm) == "running" {
			return true
		}
	}
	return false
}

// cmdNATNetwork: natnetwork add|modify|remove|start|stop|list.
func cmdNATNetwork(s *store, args []string) error {
	if len(args) == 0 {
		return syntaxError("Not enough parameters")
	}
	sub := args[0]
	if sub == "list" {
		s.lock()
		defer s.unlock()
		nets, err := s.natNets()
		if err != nil {
			return err
		}
		fmt.Print("NAT Networks:\n\n")
		for _, n := range nets {
			printNAT(n, true)
		}
		word := "networks"
		if len(nets) == 1 {
			word = "network"
		}
		fmt.Printf("%d %s found\n", len(nets), word)
		return nil
	}
	switch sub {
	case "add", "modify", "remove", "start", "stop":
	default:
		return syntaxError("Invalid parameter '%s'", sub)
	}
	if len(args)-1 <= 1 {
		return syntaxError("Not enough parameters")
	}
	var name, network, dhcp string
	enable, disable := false, false
	var adds []rule
	var dels []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		val := func() (string, error) {
			if i+1 >= len(args) {
				return "", syntaxError("Option %s requires an argument", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "--netname", "-t":
			name, err = val()
		case "--network", "-n", "--ipv4-prefix":
			network, err = val()
		case "--dhcp", "-h":
			dhcp, err = val()
		case "--enable", "-e":
			enable = true
		case "--disable", "-d":
			disable = true
		case "--port-forward-4", "-p":
			var v string
			if v, err = val(); err == nil {
				if v == "delete" {
					if sub == "add" {
						return syntaxError("Port-forward could be deleted on modify\n")
					}
					var d string
					if d, err = val(); err == nil {
						dels = append(dels, d)
					}
					break
				}
				r, ok := parseRule(v)
				if !ok {
					return syntaxError("Invalid port-forward rule %s\n", v)
				}
				adds = append(adds, r)
			}
		default:
			return syntaxError("Unknown option: %s", a)
		}
		if err != nil {
			return err
		}
	}
	if name == "" {
		return syntaxError("You need to specify the --netname option")
	}
	if sub == "add" && network == "" {
		return syntaxError("You need to specify the --network option")
	}
	s.lock()
	defer s.unlock()
	nets, err := s.natNets()
	if err != nil {
		return err
	}
	var n *NATNet
	for _, x := range nets {
		if x.Name == name {
			n = x
		}
	}
	argErr := func(msg string) error { errorf("%s", msg); return exitErr{2} }
	switch sub {
	case "add":
		if n != nil {
			return argErr("NATNetwork server already exists")
		}
		n = &NATNet{Name: name, Network: "10.0.2.0/24", Enabled: true, DHCP: true}
		nets = append(nets, n)
	case "remove":
		if n == nil {
			return argErr("NATNetwork server does not exist")
		}
		if s.natInUse(name) {
			errorf("Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)")
			errorf("Context: \"RemoveNATNetwork(net)\" at line 400 of file VBoxManageNATNetwork.cpp")
			return argErr("Failed to remove nat network")
		}
		kept := nets[:0]
		for _, x := range nets {
			if x != n {
				kept = append(kept, x)
			}
		}
		s.stopForwarder(name)
		removeNATBridge(name)
		return s.saveNATNets(kept)
	case "start", "stop", "modify":
		if n == nil {
			return argErr("NATNetwork server does not exist")
		}
		if sub == "stop" {
			s.stopForwarder(name)
			return nil
		}
		if sub == "start" {
			if err := ensureNATBridge(n); err != nil {
				return err
			}
			return s.startForwarder(n)
		}
	}
	// Options in VirtualBox's order; the first failure returns (§1.2).
	if network != "" {
		p, err := netip.ParsePrefix(network)
		if err != nil || p.Bits() > 30 || p.Bits() == 0 || p.Masked() != p {
			_ = s.saveNATNets(nets)
			errorf("%s is not a valid IPv4 CIDR notation", network)
			errorf("Details: code %s, component NATNetworkWrap, interface INATNetwork", codeFailure)
			return argErr("Failed to set configuration")
		}
		if sub == "modify" && s.natInUse(name) {
			errorf("Unable to change settings while NATNetwork instance is running")
			errorf("Details: code %s, component NATNetworkWrap, interface INATNetwork", codeFailure)
			return argErr("Failed to set configuration")
		}
		n.Network = p.String()
	}
	if dhcp != "" {
		n.DHCP = dhcp == "on" || dhcp == "yes" || dhcp == "true" || dhcp == "1"
	}
	for _, d := range dels {
		idx := -1
		for i, f := range n.Forwards {
			if r, _ := parseRule(f); r.name == d {
				idx = i
			}
		}
		if idx < 0 {
			_ = s.saveNATNets(nets)
			errorf("Code NS_ERROR_INVALID_ARG (0x80070057) - Invalid argument value (extended info not available)")
			return argErr("Failed to delete pf")
		}
		n.Forwards = append(n.Forwards[:idx], n.Forwards[idx+1:]...)
	}
	for _, r := range adds {
		for _, f := range n.Forwards {
			x, _ := parseRule(f)
			if x.name == r.name || x.proto == r.proto && x.hostIP == r.hostIP && x.hostPort == r.hostPort {
				_ = s.saveNATNets(nets)
				if x.name == r.name {
					errorf("A NAT rule of this name already exists")
				} else {
					errorf("A NAT rule for this host port and this host IP already exists")
				}
				errorf("Details: code %s, component NATNetworkWrap, interface INATNetwork", codeInvalidArg)
				return argErr("Failed to add pf")
			}
		}
		n.Forwards = append(n.Forwards, r.String())
	}
	sort.Slice(n.Forwards, func(i, j int) bool {
		a, _ := parseRule(n.Forwards[i])
		b, _ := parseRule(n.Forwards[j])
		return a.name < b.name
	})
	if enable {
		n.Enabled = true
	}
	if disable {
		n.Enabled = false
	}
	if err := s.saveNATNets(nets); err != nil {
		return err
	}
	// The NAT service's port forwards follow rule changes at once (§1.7).
	if err := ensureNATBridge(n); err != nil {
		return err
	}
	return s.startForwarder(n)
}

// printNAT is 7.x printNATNetwork (long: Enabled and the rule lines).
func printNAT(n *NATNet, long bool) {
	yn := map[bool]string{true: "Yes", false: "No"}
	gw := ""
	if p, ok := natGateway(n.Network); ok {
		gw = p.Addr().String()
	}
	fmt.Printf("Name:         %s\n", n.Name)
	if long {
		fmt.Printf("Enabled:      %s\n", yn[n.Enabled])
	}
	fmt.Printf("Network:      %s\nGateway:      %s\nDHCP Server:  %s\nIPv6:         No\nIPv6 Prefix:  fd17:625c:f037:2::/64\nIPv6 Default: No\n",
		n.Network, gw, yn[n.DHCP])
	if long {
		if len(n.Forwards) > 0 {
			fmt.Println("Port-forwarding (ipv4)")
			for _, f := range n.Forwards {
				fmt.Printf("        %s\n", f)
			}
		}
		fmt.Print("loopback mappings (ipv4)\n        127.0.0.1=2\n")
	}
	fmt.Println()
}

// listNATNets is `list [--long] natnets` (7.0).
func listNATNets(s *store, long bool) error {
	s.lock()
	defer s.unlock()
	nets, err := s.natNets()
	if err != nil {
		return err
	}
	for _, n := range nets {
		printNAT(n, long)
	}
	return nil
}

// prepareNATNIC makes sure the machine's NAT network exists on the host
// side before it boots: its bridge and forwarder. The bridge is returned.
func prepareNATNIC(s *store, vm *VM) (string, error) {
	// Under the registry lock: the lab's machines start at once, and only
	// one of them may create the bridge or start the forwarder.
	s.lock()
	defer s.unlock()
	nets, err := s.natNets()
	if err != nil {
		return "", err
	}
	for _, n := range nets {
		if n.Name == vm.NIC.NATNet {
			if err := ensureNATBridge(n); err != nil {
				return "", err
			}
			if !s.forwarderAlive(n.Name) {
				if err := s.startForwarder(n); err != nil {
					return "", err
				}
			}
			return natBridge(n.Name), nil
		}
	}
	// An unknown name: an isolated internal network (§2), a bare bridge.
	n := &NATNet{Name: vm.NIC.NATNet}
	return natBridge(n.Name), ensureNATBridge(n)
}
