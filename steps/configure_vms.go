package steps

// configure-vms: each clone's nic1 (bridged, a MAC of its own), CPUs,
// memory and group, on a powered-off VM.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"labctl/fleet"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/vbox"
)

// configureVMsStep gives each clone its hardware and its own identity on the
// LAN: nic1 bridged on the lab's adapter with a MAC no other lab VM (nor the
// base) has, CPUs and memory from lab.toml, the lab's group.
//
// The MACs in use are read once per run (Prepare) and updated as this run
// assigns new ones, so a node's check does not re-read every VM.
type configureVMsStep struct {
	mu   sync.Mutex
	base string            // the base VM's nic1 MAC
	byVM map[string]string // lab VM name → nic1 MAC
}

var (
	_ Needs    = (*configureVMsStep)(nil)
	_ Preparer = (*configureVMsStep)(nil)
)

// ConfigureVMs returns the configure-vms step.
func ConfigureVMs() Step { return &configureVMsStep{} }

func (*configureVMsStep) Name() string                  { return "configure-vms" }
func (*configureVMsStep) Title() string                 { return "Configuring the VMs' network, CPUs and memory" }
func (*configureVMsStep) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (*configureVMsStep) Needs() []string {
	return []string{"preflight", "lab-network", "clone-vms"}
}

// Prepare reads the nic1 MAC of the base and of every existing lab VM, all
// at once (each read is a VBoxManage process). The nodes' reads are also
// what their first Check sees.
func (c *configureVMsStep) Prepare(ctx context.Context, env *Env) error {
	var (
		base    string
		baseErr error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		info, err := env.VBox.Info(ctx, env.Plan.Base.VM)
		switch {
		case err == nil:
			base = nic1(info).MAC
		case !errors.Is(err, vbox.ErrNotFound):
			baseErr = fmt.Errorf("read the base VM %q: %w", env.Plan.Base.VM, err)
		}
	}()
	var mu sync.Mutex
	book := map[string]string{}
	views := map[string]*vmView{}
	err := fanout.Each(ctx, env.Plan.Nodes, 0, (*lab.Node).Name, func(ctx context.Context, n *lab.Node) error {
		v := newVMView(env, n.VM)
		info, err := v.Info(ctx)
		if errors.Is(err, vbox.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", n.VM, err)
		}
		mu.Lock()
		book[n.VM] = strings.ToUpper(nic1(info).MAC)
		views[n.VM] = v
		mu.Unlock()
		return nil
	})
	<-done
	if err := errors.Join(baseErr, err); err != nil {
		return err
	}
	env.prepareViews(c.Name(), views)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.byVM = strings.ToUpper(base), book
	return nil
}

// nic1 returns adapter 1 (a zero NIC when it is not configured).
func nic1(info *vbox.VMInfo) vbox.NIC {
	for _, nic := range info.NICs {
		if nic.Slot == 1 {
			return nic
		}
	}
	return vbox.NIC{Slot: 1, Type: "none"}
}

// macProblem says why mac is not a MAC this VM may keep ("" when it may).
// Of two lab VMs sharing a MAC, the one earlier in lab order keeps it, so
// only one of them changes (and a running one is not disturbed needlessly).
func (c *configureVMsStep) macProblem(p *lab.Plan, vm, mac string) string {
	mac = strings.ToUpper(mac)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case mac == "":
		return "nic1 has no MAC address"
	case mac == c.base:
		return fmt.Sprintf("nic1 has the base VM's MAC %s", mac)
	}
	for _, other := range p.Nodes {
		if other.VM == vm {
			break
		}
		if c.byVM[other.VM] == mac {
			return fmt.Sprintf("nic1 MAC %s is also %s's", mac, other.VM)
		}
	}
	return ""
}

// hwDiff lists how the VM differs from the node's settings; want holds the
// modifyvm settings that would fix it (MAC left empty: chosen in Apply).
func (c *configureVMsStep) hwDiff(env *Env, n *lab.Node, info *vbox.VMInfo) (diffs []string, want vbox.HardwareSettings, newMAC bool) {
	p := env.Plan
	nic := nic1(info)
	if d := nicDiff(p, nic, &want); d != "" {
		diffs = append(diffs, d)
	}
	if why := c.macProblem(env.Plan, n.VM, nic.MAC); why != "" {
		diffs = append(diffs, why+", want a fresh one")
		newMAC = true
	}
	if info.CPUs != n.CPUs {
		diffs = append(diffs, fmt.Sprintf("%d CPUs, want %d", info.CPUs, n.CPUs))
		want.CPUs = n.CPUs
	}
	if info.MemoryMB != n.MemoryMB {
		diffs = append(diffs, fmt.Sprintf("%d MB memory, want %d", info.MemoryMB, n.MemoryMB))
		want.MemoryMB = n.MemoryMB
	}
	if g := fleet.Group(p); !fleet.InGroup(info, g) {
		diffs = append(diffs, fmt.Sprintf("group %s, want %s", strings.Join(info.Groups, ","), g))
		want.Groups = g
	}
	return diffs, want, newMAC
}

func (c *configureVMsStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	v := env.checkView(c.Name(), n.VM)
	info, tag, err := v.infoAndTag(ctx, TagNode, "node tag")
	if err != nil {
		return Status{}, err
	}
	c.ensureBook(info, n)
	diffs, _, _ := c.hwDiff(env, n, info)
	if tag != n.Hostname {
		diffs = append(diffs, fmt.Sprintf("%s is %q, want %q", TagNode, tag, n.Hostname))
	}
	if len(diffs) == 0 {
		return Status{Done: true}, nil
	}
	return Status{Why: strings.Join(diffs, "; ")}, nil
}

// ensureBook keeps the MAC book current for this VM (and usable when the
// Runner did not call Prepare, e.g. a step used on its own).
func (c *configureVMsStep) ensureBook(info *vbox.VMInfo, n *lab.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byVM == nil {
		c.byVM = map[string]string{}
	}
	c.byVM[n.VM] = strings.ToUpper(nic1(info).MAC)
}

func (c *configureVMsStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	// What this node's Check read just before (or a fresh read).
	v := env.applyView(c.Name(), n.VM)
	info, err := v.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", n.VM, err)
	}
	// The node tag first: setextradata works in any state, and the lab tag is
	// already there from clone-vms.
	if tag, err := v.Tag(ctx, TagNode); err != nil {
		return fmt.Errorf("read the node tag of %s: %w", n.VM, err)
	} else if tag != n.Hostname {
		err := env.VBox.SetExtraData(ctx, n.VM, TagNode, n.Hostname)
		env.changedVM(n.VM)
		if err != nil {
			return fmt.Errorf("tag %s as node %s: %w", n.VM, n.Hostname, err)
		}
	}
	diffs, want, newMAC := c.hwDiff(env, n, info)
	if len(diffs) == 0 {
		return nil
	}
	if info.State != vbox.StatePowerOff && info.State != vbox.StateAborted {
		return fmt.Errorf("%s is %s but its settings differ from %s (%s): VirtualBox changes them only on a powered-off VM; shut it down (`VBoxManage controlvm %s acpipowerbutton`) and run labctl up again",
			n.VM, info.State, env.Plan.File, strings.Join(diffs, "; "), n.VM)
	}
	if newMAC {
		if want.MAC, err = c.claimMAC(env, n.VM); err != nil {
			return err
		}
	}
	err = env.VBox.ModifyVM(ctx, n.VM, want)
	env.changedVM(n.VM)
	if err != nil {
		return fmt.Errorf("configure %s (%s): %w", n.VM, strings.Join(diffs, "; "), err)
	}
	return nil
}

// claimMAC picks a random MAC in VirtualBox's own range (080027, what
// `--macaddress1 auto` uses) that no lab VM nor the base has, and books it
// for vm so concurrent nodes cannot pick the same one.
func (c *configureVMsStep) claimMAC(env *Env, vm string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byVM == nil {
		c.byVM = map[string]string{}
	}
	for range 100 {
		b := make([]byte, 3)
		if _, err := io.ReadFull(env.random(), b); err != nil {
			return "", fmt.Errorf("generate a MAC address: %w", err)
		}
		mac := "080027" + strings.ToUpper(hex.EncodeToString(b))
		taken := mac == c.base
		for _, m := range c.byVM {
			taken = taken || m == mac
		}
		if !taken {
			c.byVM[vm] = mac
			return mac, nil
		}
	}
	return "", errors.New("could not find a free MAC address")
}

// nicDiff says how nic1 differs from the lab's network mode ("" when it
// does not) and sets want's attachment to fix it.
func nicDiff(p *lab.Plan, nic vbox.NIC, want *vbox.HardwareSettings) string {
	what := "nic1 is " + nic.Type
	switch nic.Type {
	case "bridged":
		what = fmt.Sprintf("nic1 is bridged on %q", nic.BridgeAdapter)
	case "natnetwork":
		what = fmt.Sprintf("nic1 is on NAT network %q", nic.NATNetwork)
	case "hostonly":
		what = fmt.Sprintf("nic1 is on host-only adapter %q", nic.HostOnlyAdapter)
	case "hostonlynetwork":
		what = fmt.Sprintf("nic1 is on host-only network %q", nic.HostOnlyNet)
	}
	switch p.NetMode {
	case lab.ModeNATNetwork:
		if nic.Type == "natnetwork" && nic.NATNetwork == p.NATNetwork {
			return ""
		}
		want.NATNetwork = p.NATNetwork
		return fmt.Sprintf("%s, want NAT network %q", what, p.NATNetwork)
	case lab.ModeHostOnly:
		if p.HostOnlyNet {
			if nic.Type == "hostonlynetwork" && nic.HostOnlyNet == p.NATNetwork {
				return ""
			}
			want.HostOnlyNet = p.NATNetwork
			return fmt.Sprintf("%s, want host-only network %q", what, p.NATNetwork)
		}
		if nic.Type == "hostonly" && nic.HostOnlyAdapter == p.NATNetwork && p.NATNetwork != "" {
			return ""
		}
		want.HostOnlyAdapter = p.NATNetwork
		if p.NATNetwork == "" {
			return what + ", want the host-only adapter lab-network creates"
		}
		return fmt.Sprintf("%s, want host-only adapter %q", what, p.NATNetwork)
	}
	if nic.Type == "bridged" && nic.BridgeAdapter == p.BridgeAdapter {
		return ""
	}
	want.BridgeAdapter = p.BridgeAdapter
	return fmt.Sprintf("%s, want bridged on %q", what, p.BridgeAdapter)
}
