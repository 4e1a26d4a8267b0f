package main

// Whole-tool tests of the network modes (README "Classroom networks"): the
// real CLI against the fake VBoxManage's NAT networks and simulated guests.

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"labctl/fleet"
	"labctl/hostkeys"
	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/labnet"
	"labctl/steps"
	"labctl/steps/steptest"
)

// natLabTOML is the test lab in natnetwork mode: no bridge adapter, no
// network (labctl picks it), host parts only.
func natLabTOML(pw string) string {
	s := steptest.LabTOML(upLabName, vboxtest.BaseVM, vboxtest.BridgeIf, pw)
	s = strings.Replace(s, "[network]\nbridge_adapter = \""+vboxtest.BridgeIf+"\"\nnetwork = \"192.0.2.0/24\"\ngateway = \".1\"\n",
		"[network]\nmode = \"natnetwork\"\n", 1)
	if !strings.Contains(s, "mode = \"natnetwork\"") {
		panic("steptest.LabTOML changed its [network] table")
	}
	return s
}

// newNATLab is newUpLab with the lab in natnetwork mode.
func newNATLab(t *testing.T) *upLab {
	t.Helper()
	u := newUpLab(t, true)
	pw := strings.TrimSuffix(u.file, "lab.toml") + "guest-password"
	if err := os.WriteFile(u.file, []byte(natLabTOML(pw)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := lab.Load(u.file)
	if err != nil {
		t.Fatal(err)
	}
	hn, err := labnet.HostNet(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.plan, err = cfg.Plan(hn); err != nil {
		t.Fatal(err)
	}
	return u
}

var upForwardRE = regexp.MustCompile(`^(ssh-[a-z0-9-]+|http-lb):tcp:\[127\.0\.0\.1\]:(\d+):\[([0-9.]+)\]:(22|80)$`)

// TestUpNATNetworkModeForwardsAndDownRemovesOnlyItsNetwork: in natnetwork
// mode `up` creates one NAT network of the lab's own, on a /24 and host
// ports no other NAT network uses, with a forward on 127.0.0.1 to each
// node's sshd and to the load balancer; a second up changes nothing;
// status, verify and ssh connect through the forwards; down removes the
// network it made and leaves a user's network of a similar name.
func TestUpNATNetworkModeForwardsAndDownRemovesOnlyItsNetwork(t *testing.T) {
	u := newNATLab(t)
	netName := lab.NetworkName(upLabName)

	// A user's NAT network, named like the lab's, on the /24 the lab would
	// pick first and with a rule on the lab's first host port: labctl must
	// go around both, and never touch it.
	first, _ := lab.PickPrivateNetwork(lab.ModeNATNetwork, upLabName, func(netip.Prefix) bool { return false })
	firstPort := labnet.FirstPort(upLabName)
	userNet := netName + "-mine"
	userRule := fmt.Sprintf("web:tcp:[]:%d:[%s]:80", firstPort, first.Addr().Next().Next().Next().Next())
	if r := u.fake.Run("natnetwork", "add", "--netname", userNet, "--network", first.String(), "--enable", "--port-forward-4", userRule); r.Code != 0 {
		t.Fatalf("add the user's network: %+v", r)
	}
	before := u.fake.State().NATNet(userNet)

	code, out, errOut := u.up("--dry-run")
	if code != 0 || !strings.Contains(out, "create NAT network "+netName) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if m := upMutating(u.fake.Argv()); len(m) != 1 { // only the test's own natnetwork add
		t.Errorf("the dry run changed VirtualBox: %v", m[1:])
	}

	out = u.mustUp("first up")
	st := u.fake.State()
	nat := st.NATNet(netName)
	if nat == nil {
		t.Fatalf("no NAT network %s after up; networks: %+v", netName, st.NATNets)
	}
	cidr := netip.MustParsePrefix(nat.Network)
	if cidr == first || !lab.NATPool.Contains(cidr.Addr()) || cidr.Bits() != 24 || !nat.Enabled || nat.DHCP {
		t.Errorf("NAT network %+v: want an enabled /24 of %s other than the user's %s, DHCP off", nat, lab.NATPool, first)
	}
	rec, err := labnet.ReadRecord(u.stateDir)
	if err != nil || rec == nil || !rec.Created || rec.Name != netName || rec.Network != nat.Network {
		t.Fatalf("network record %+v %v", rec, err)
	}
	ports := map[string]uint16{} // VM name (or http-lb) → host port
	seen := map[int]bool{}
	byHost := map[string]*lab.Node{}
	for _, n := range u.plan.Nodes {
		byHost[n.Hostname] = n
	}
	for _, f := range nat.Forwards4 {
		m := upForwardRE.FindStringSubmatch(f)
		if m == nil {
			t.Errorf("forward %q is not a labctl rule on 127.0.0.1", f)
			continue
		}
		port, _ := strconv.Atoi(m[2])
		if seen[port] || port == int(firstPort) {
			t.Errorf("forward %q: host port %d is taken (another rule, or the user's network)", f, port)
		}
		seen[port] = true
		ip := netip.MustParseAddr(m[3])
		if !cidr.Contains(ip) {
			t.Errorf("forward %q goes outside %s", f, cidr)
		}
		key := m[1]
		if key != lab.HTTPRuleName {
			n := byHost[strings.TrimPrefix(key, "ssh-")]
			if n == nil || m[4] != "22" {
				t.Errorf("forward %q names no node's sshd", f)
				continue
			}
			key = n.VM
		}
		ports[key] = uint16(port)
	}
	if len(ports) != len(u.plan.Nodes)+1 || !upEqualPorts(ports, rec.Forwards) {
		t.Errorf("forwards %v, recorded %v: want one per node and the load balancer", ports, rec.Forwards)
	}
	for _, n := range u.plan.Nodes {
		v := st.VM(n.VM)
		if v == nil || v.NICs[0].Type != "natnetwork" || v.NICs[0].NATNetwork != netName || v.State != "running" {
			t.Errorf("%s: %+v, want running on NAT network %s", n.VM, v, netName)
		}
	}
	if want := fmt.Sprintf("How to reach WordPress: http://127.0.0.1:%d/", ports[lab.HTTPRuleName]); !strings.Contains(out, want) {
		t.Errorf("the summary should say %q:\n%s", want, out)
	}
	if u.fake.State().NATNet(userNet) == nil || !slices.Equal(u.fake.State().NATNet(userNet).Forwards4, before.Forwards4) {
		t.Errorf("the user's network changed: %+v", u.fake.State().NATNet(userNet))
	}
	if m := u.sim.Missing(u.plan, pipeline()); len(m) != 0 {
		t.Errorf("simulated steps not applied: %v", m)
	}

	n0 := len(u.fake.Argv())
	out = u.mustUp("second up")
	if m := upMutating(u.fake.Argv()[n0:]); len(m) != 0 {
		t.Errorf("the second up changed VirtualBox: %v", m)
	}
	if want := fmt.Sprintf("0 step(s) changed something, %d already done", len(steps.Pipeline())); !strings.Contains(out, want) {
		t.Errorf("second up: want %q:\n%s", want, out)
	}

	// info hands over the forwards.
	code, out, errOut = u.labctl(context.Background(), "info", "--json")
	var info struct {
		WordPressURL string `json:"wordpress_url"`
		Network      string `json:"network"`
		Nodes        []struct {
			VM  string `json:"vm"`
			SSH string `json:"ssh"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &info); code != 0 || err != nil {
		t.Fatalf("info --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if info.WordPressURL != fmt.Sprintf("http://127.0.0.1:%d/", ports[lab.HTTPRuleName]) || !strings.Contains(info.Network, "NAT network "+netName) || len(info.Nodes) != len(ports)-1 {
		t.Errorf("info %+v", info)
	}
	for _, n := range info.Nodes {
		if n.SSH != fmt.Sprintf("127.0.0.1:%d", ports[n.VM]) {
			t.Errorf("info: %s's SSH at %s, want its forward %d", n.VM, n.SSH, ports[n.VM])
		}
	}

	// labctl list names the lab's mode.
	code, out, errOut = u.labctl(context.Background(), "list", "--json")
	var listed []fleet.LabSummary
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil {
		t.Fatalf("list --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if i := slices.IndexFunc(listed, func(l fleet.LabSummary) bool { return l.Name == u.plan.Name }); i < 0 || listed[i].Mode != lab.ModeNATNetwork || listed[i].Total != len(u.plan.Nodes) {
		t.Errorf("list --json does not show lab %s in mode natnetwork with its VMs:\n%s", u.plan.Name, out)
	}

	// Every command that reaches a node goes through the forwards: listen
	// on them (nothing else does; the fake's NAT engine binds no port) and
	// see which ones each command connects to.
	hits := listenForwards(t, ports)
	pinForwards(t, u, ports)
	for _, cmd := range [][]string{{"status"}, {"verify"}, {"ssh", "SQL-TWO", "--", "true"}} {
		hits.reset()
		// The SSH client keeps re-dialling a forward that hangs up; the
		// first dial is all this test needs to see.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code, out, errOut := u.labctl(ctx, cmd...)
		cancel()
		got := hits.names()
		want := u.plan.Nodes.Names()
		if cmd[0] == "ssh" {
			want = []string{"SQL-TWO"}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("labctl %s (exit %d) connected to the forwards of %v, want %v\n%s%s", strings.Join(cmd, " "), code, got, want, out, errOut)
		}
	}

	code, out, errOut = u.labctl(context.Background(), "down", "--yes")
	if code != 0 || !strings.Contains(out, "removed the lab's natnetwork "+netName) {
		t.Fatalf("down: exit %d\n%s\n%s", code, out, errOut)
	}
	st = u.fake.State()
	if st.NATNet(netName) != nil {
		t.Errorf("down left the lab's network %s", netName)
	}
	if got := st.NATNet(userNet); got == nil || !slices.Equal(got.Forwards4, before.Forwards4) || got.Network != before.Network {
		t.Errorf("down touched the user's network %s: %+v", userNet, got)
	}
	for _, n := range u.plan.Nodes {
		if st.VM(n.VM) != nil {
			t.Errorf("down left %s", n.VM)
		}
	}
	if err := u.fake.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
}

// TestDownKeepsANATNetworkLabctlDidNotMake: a NAT network of the lab's
// name that was there before up is reused, and down leaves it.
func TestDownKeepsANATNetworkLabctlDidNotMake(t *testing.T) {
	u := newNATLab(t)
	netName := lab.NetworkName(upLabName)
	if r := u.fake.Run("natnetwork", "add", "--netname", netName, "--network", "10.213.250.0/24", "--enable", "--dhcp", "on"); r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	u.mustUp("up on a network the user made")
	nat := u.fake.State().NATNet(netName)
	if nat == nil || nat.Network != "10.213.250.0/24" || nat.DHCP || len(nat.Forwards4) != len(u.plan.Nodes)+1 {
		t.Fatalf("the lab should adopt the existing network (its /24, DHCP off, its forwards): %+v", nat)
	}
	if rec, _ := labnet.ReadRecord(u.stateDir); rec == nil || rec.Created {
		t.Fatalf("record %+v: the network was not made by labctl", rec)
	}
	code, out, errOut := u.labctl(context.Background(), "down", "--yes")
	if code != 0 || u.fake.State().NATNet(netName) == nil || !strings.Contains(out, "not made by labctl") {
		t.Fatalf("down: exit %d, network %+v\n%s\n%s", code, u.fake.State().NATNet(netName), out, errOut)
	}
}

// pinForwards pins a made-up host key for every forward (the simulated
// ssh-access step pins none), so the SSH client gets as far as connecting.
func pinForwards(t *testing.T, u *upLab, ports map[string]uint16) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	store := hostkeys.New(filepath.Join(u.stateDir, lab.KnownHostsFile))
	for vm, port := range ports {
		if vm == lab.HTTPRuleName {
			continue
		}
		if err := store.Pin(hostkeys.Addr("127.0.0.1", int(port)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))); err != nil {
			t.Fatal(err)
		}
	}
}

func upEqualPorts(a map[string]uint16, b lab.ForwardPorts) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// forwardHits records which forwards were connected to.
type forwardHits struct {
	mu  sync.Mutex
	hit map[string]bool
}

func (h *forwardHits) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hit = map[string]bool{}
}

func (h *forwardHits) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.hit {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// listenForwards accepts (and at once closes) connections on every node's
// forward, so an SSH client fails fast but is seen.
func listenForwards(t *testing.T, ports map[string]uint16) *forwardHits {
	t.Helper()
	h := &forwardHits{hit: map[string]bool{}}
	for vm, port := range ports {
		if vm == lab.HTTPRuleName {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		if err != nil {
			t.Fatalf("listen on %s's forward: %v", vm, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func(vm string) {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				h.mu.Lock()
				h.hit[vm] = true
				h.mu.Unlock()
				c.Close()
			}
		}(vm)
	}
	return h
}

// TestNATNetworkPlanAndFailureRerun: the plan shows every natnetwork call
// and attachment; a failing `natnetwork add` stops up at lab-network, and
// the re-run creates the network and converges.
func TestNATNetworkPlanAndFailureRerun(t *testing.T) {
	u := newNATLab(t)
	netName := lab.NetworkName(upLabName)
	code, out, errOut := u.labctl(context.Background(), "plan")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"VBoxManage natnetwork add --netname " + netName + " --network " + u.plan.Network.String() + " --enable --dhcp off --port-forward-4 'ssh-sql-one:tcp:[127.0.0.1]:",
		":[" + u.plan.LB().IP.String() + "]:80",
		"VBoxManage modifyvm SQL-ONE --nic1 natnetwork --nat-network1 " + netName,
		"Network mode natnetwork: NAT network " + netName + "; SSH through 127.0.0.1 ports SQL-ONE ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if m := upMutating(u.fake.Argv()); len(m) != 0 {
		t.Errorf("plan changed VirtualBox: %v", m)
	}

	u.fake.AddFault(vboxtest.Fault{Match: "natnetwork add", Kind: "fail", Times: 1, Message: "VBoxManage: error: injected failure in lab-network"})
	code, _, errOut = u.up()
	if code == 0 || !strings.Contains(errOut, "(lab-network) failed") || len(u.fake.Faults()) != 0 {
		t.Fatalf("up with a failing natnetwork add: exit %d\n%s", code, errOut)
	}
	if st := u.fake.State(); st.NATNet(netName) != nil || len(st.VMs) != 1+len(vboxtest.UnrelatedVMs) {
		t.Fatalf("after the failure: network %+v, %d VMs (nothing may be cloned)", st.NATNet(netName), len(st.VMs))
	}
	u.mustUp("re-run")
	if nat := u.fake.State().NATNet(netName); nat == nil || len(nat.Forwards4) != len(u.plan.Nodes)+1 {
		t.Fatalf("re-run: network %+v", nat)
	}
}

// TestUpHostOnlyModeCreatesItsAdapterAndDownRemovesOnlyIt: in hostonly
// mode `up` picks a /24 inside VirtualBox's host-only range that no other
// host-only adapter uses, creates an adapter with the host at its .1 and
// attaches every node to it; a second up changes nothing; down removes the
// adapter it made and leaves the user's.
func TestUpHostOnlyModeCreatesItsAdapterAndDownRemovesOnlyIt(t *testing.T) {
	old := labnet.NetworksConf
	labnet.NetworksConf = filepath.Join(t.TempDir(), "no-networks.conf") // VirtualBox's default range
	t.Cleanup(func() { labnet.NetworksConf = old })
	u := newNATLab(t)
	src, err := os.ReadFile(u.file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(u.file, []byte(strings.Replace(string(src), `mode = "natnetwork"`, `mode = "hostonly"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The user's adapter: vboxnet0 on 192.168.56.1/24, VirtualBox's default.
	if r := u.fake.Run("hostonlyif", "create"); r.Code != 0 || !strings.Contains(r.Stdout, "Interface 'vboxnet0' was successfully created") {
		t.Fatalf("%+v", r)
	}

	out := u.mustUp("first up")
	st := u.fake.State()
	if len(st.HostOnlyIfs) != 2 || st.HostOnlyIfs[0].Name != "vboxnet0" || st.HostOnlyIfs[0].IPAddress != "192.168.56.1" {
		t.Fatalf("host-only adapters %+v: want the user's vboxnet0 untouched and one more", st.HostOnlyIfs)
	}
	mine := st.HostOnlyIfs[1]
	hostIP := netip.MustParseAddr(mine.IPAddress)
	if !lab.HostOnlyDefaultRange.Contains(hostIP) || mine.NetworkMask != "255.255.255.0" || hostIP.As4()[3] != 1 || hostIP.As4()[2] == 56 {
		t.Errorf("the lab's adapter %+v: want .1 of a /24 in %s other than 192.168.56.0/24", mine, lab.HostOnlyDefaultRange)
	}
	rec, err := labnet.ReadRecord(u.stateDir)
	if err != nil || rec == nil || !rec.Created || rec.Name != mine.Name || rec.Mode != lab.ModeHostOnly {
		t.Fatalf("record %+v %v", rec, err)
	}
	for _, n := range u.plan.Nodes {
		v := st.VM(n.VM)
		if v == nil || v.NICs[0].Type != "hostonly" || v.NICs[0].HostOnly != mine.Name || v.State != "running" {
			t.Errorf("%s: %+v, want running on host-only adapter %s", n.VM, v, mine.Name)
		}
	}
	prefix := netip.PrefixFrom(hostIP, 24).Masked()
	if want := "How to reach WordPress: http://" + prefix.Addr().String(); !strings.Contains(out, want[:len(want)-1]) {
		t.Errorf("the summary should name the load balancer on %s:\n%s", prefix, out)
	}

	n0 := len(u.fake.Argv())
	u.mustUp("second up")
	if m := upMutating(u.fake.Argv()[n0:]); len(m) != 0 {
		t.Errorf("the second up changed VirtualBox: %v", m)
	}

	code, out, errOut := u.labctl(context.Background(), "down", "--yes")
	if code != 0 || !strings.Contains(out, "removed the lab's hostonly "+mine.Name) {
		t.Fatalf("down: exit %d\n%s\n%s", code, out, errOut)
	}
	if st := u.fake.State(); len(st.HostOnlyIfs) != 1 || st.HostOnlyIfs[0].Name != "vboxnet0" || st.HostOnlyIfs[0].IPAddress != "192.168.56.1" {
		t.Errorf("after down: %+v, want only the user's vboxnet0", st.HostOnlyIfs)
	}
}
