package steps

// The VM steps: the lab's six VMs as VirtualBox objects, up to the point
// where guest control answers. They act through env.VBox only.
//
// clone-vms lists the VMs once, then reads each node's lab tag; writes a
// linked clone of the base snapshot into group /labctl/<lab>, then at once
// the tags labctl/lab and labctl/node, so a half-built lab is still
// recognisably ours.
// configure-vms reads every lab VM's nic1/CPUs/memory/group (and the base's
// MAC) at once, and each node tag; writes the node tag, then nic1 bridged
// with a fresh unique MAC, CPUs, memory and group, on a powered-off VM.
// start-vms reads the VM state; starts it headless.
// wait-guests reads GuestAdditionsRunLevel until it reaches 2.
//
// Every VBoxManage call is a process, so independent reads run at once, and
// a node's Apply uses what its Check read a moment before (vmView, in
// vmview.go) instead of reading it again. Every Check, including the
// Runner's re-check after Apply, reads the live VM. Which VMs are the lab's
// is package fleet's rule.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"labctl/fleet"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/vbox"
)

// ---- clone-vms

// CloneVMs makes each node a linked clone of the base snapshot.
type CloneVMs struct{}

var (
	_ Needs    = CloneVMs{}
	_ Preparer = CloneVMs{}
)

// NewCloneVMs returns the clone-vms step.
func NewCloneVMs() Step { return CloneVMs{} }

func (CloneVMs) Name() string                  { return "clone-vms" }
func (CloneVMs) Title() string                 { return "Cloning the lab VMs from the base snapshot" }
func (CloneVMs) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (CloneVMs) Needs() []string               { return []string{"preflight", "base-snapshot"} }

// Prepare lists the VMs once (one VBoxManage process instead of a
// showvminfo per node), so each node's first Check knows whether its VM
// exists without reading it.
func (c CloneVMs) Prepare(ctx context.Context, env *Env) error {
	vms, err := env.VBox.ListVMs(ctx)
	if err != nil {
		return fmt.Errorf("list VMs: %w", err)
	}
	views := map[string]*vmView{}
	for _, n := range env.Plan.Nodes {
		v := newVMView(env, n.VM)
		switch len(fleet.Named(vms, n.VM)) {
		case 0:
			v.absent()
		case 1:
			v.present = true
		default:
			continue // preflight's refusal; the Check reads it again
		}
		views[n.VM] = v
	}
	env.prepareViews(c.Name(), views)
	return nil
}

// Check: done when the VM exists and carries this lab's tag. A VM of that
// name that is not ours is an error, never a reason to clone over it.
func (c CloneVMs) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	v := env.checkView(c.Name(), n.VM)
	exists, tag, err := v.existsAndTag(ctx, TagLab, "lab tag")
	if err != nil {
		return Status{}, err
	}
	if !exists {
		return Status{Why: fmt.Sprintf("VM %s does not exist: clone it from %s snapshot %q", n.VM, env.Plan.Base.VM, env.Plan.Base.Snapshot)}, nil
	}
	if tag == env.Plan.Name {
		return Status{Done: true}, nil
	}
	owner, err := fleet.Owner(ctx, env.Plan, n.VM, v)
	if err != nil {
		return Status{}, err
	}
	if err := owner.Foreign(env.Plan, n.VM); err != nil {
		return Status{}, err
	}
	return Status{Why: fmt.Sprintf("VM %s was cloned but not tagged: tag it %s=%s", n.VM, TagLab, env.Plan.Name)}, nil
}

// Apply clones (unless an untagged clone of ours is already there) and tags
// at once: the tag is what `down` and every later run recognise.
func (c CloneVMs) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	p := env.Plan
	v := env.applyView(c.Name(), n.VM)
	exists := false
	if env.Mode != ModePlan {
		var err error
		if exists, err = v.exists(ctx); err != nil {
			return fmt.Errorf("read %s: %w", n.VM, err)
		}
	}
	if !exists {
		err := cloneLinked(ctx, env.VBox, p.Base.VM, p.Base.Snapshot, n.VM, fleet.Group(p))
		env.changedVM(n.VM)
		if err != nil {
			return fmt.Errorf("clone %s from %s snapshot %q: %w", n.VM, p.Base.VM, p.Base.Snapshot, err)
		}
	}
	defer env.changedVM(n.VM)
	if err := env.VBox.SetExtraData(ctx, n.VM, TagLab, p.Name); err != nil {
		return fmt.Errorf("tag %s as part of lab %q: %w", n.VM, p.Name, err)
	}
	if err := env.VBox.SetExtraData(ctx, n.VM, TagNode, n.Hostname); err != nil {
		return fmt.Errorf("tag %s as node %s: %w", n.VM, n.Hostname, err)
	}
	return nil
}

// cloneLinked makes the linked clone without reading its UUID back when
// the backend can (labctl names its VMs; the UUID is not used).
func cloneLinked(ctx context.Context, api vbox.API, base, snapshot, name, group string) error {
	if c, ok := api.(interface {
		CloneLinkedNamed(ctx context.Context, base, snapshot, name, group string) error
	}); ok {
		return c.CloneLinkedNamed(ctx, base, snapshot, name, group)
	}
	_, err := api.CloneLinked(ctx, base, snapshot, name, group)
	return err
}

// ---- configure-vms

// ConfigureVMs gives each clone its hardware and its own identity on the
// LAN: nic1 bridged on the lab's adapter with a MAC no other lab VM (nor the
// base) has, CPUs and memory from lab.toml, the lab's group.
//
// The MACs in use are read once per run (Prepare) and updated as this run
// assigns new ones, so a node's check does not re-read every VM.
type ConfigureVMs struct {
	mu   sync.Mutex
	base string            // the base VM's nic1 MAC
	byVM map[string]string // lab VM name → nic1 MAC
}

var (
	_ Needs    = (*ConfigureVMs)(nil)
	_ Preparer = (*ConfigureVMs)(nil)
)

// NewConfigureVMs returns the configure-vms step.
func NewConfigureVMs() Step { return &ConfigureVMs{} }

func (*ConfigureVMs) Name() string                  { return "configure-vms" }
func (*ConfigureVMs) Title() string                 { return "Configuring the VMs' network, CPUs and memory" }
func (*ConfigureVMs) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (*ConfigureVMs) Needs() []string               { return []string{"preflight", "clone-vms"} }

// Prepare reads the nic1 MAC of the base and of every existing lab VM, all
// at once (each read is a VBoxManage process). The nodes' reads are also
// what their first Check sees.
func (c *ConfigureVMs) Prepare(ctx context.Context, env *Env) error {
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
func (c *ConfigureVMs) macProblem(p *lab.Plan, vm, mac string) string {
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
func (c *ConfigureVMs) hwDiff(env *Env, n *lab.Node, info *vbox.VMInfo) (diffs []string, want vbox.HardwareSettings, newMAC bool) {
	p := env.Plan
	nic := nic1(info)
	if nic.Type != "bridged" || nic.BridgeAdapter != p.BridgeAdapter {
		what := "nic1 is " + nic.Type
		if nic.Type == "bridged" {
			what = fmt.Sprintf("nic1 is bridged on %q", nic.BridgeAdapter)
		}
		diffs = append(diffs, fmt.Sprintf("%s, want bridged on %q", what, p.BridgeAdapter))
		want.BridgeAdapter = p.BridgeAdapter
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

func (c *ConfigureVMs) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
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
func (c *ConfigureVMs) ensureBook(info *vbox.VMInfo, n *lab.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byVM == nil {
		c.byVM = map[string]string{}
	}
	c.byVM[n.VM] = strings.ToUpper(nic1(info).MAC)
}

func (c *ConfigureVMs) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	if env.Mode == ModePlan {
		// A MAC derived from the lab and VM names keeps the plan the same from
		// run to run; `up` draws a random one.
		h := sha256.Sum256([]byte("labctl-plan-mac:" + env.Plan.Name + "/" + n.VM))
		env.PlanNotef("the MAC shown stands for the random unused 080027xxxxxx up picks")
		return env.VBox.ModifyVM(ctx, n.VM, vbox.HardwareSettings{
			BridgeAdapter: env.Plan.BridgeAdapter, MAC: "080027" + strings.ToUpper(hex.EncodeToString(h[:3])),
			CPUs: n.CPUs, MemoryMB: n.MemoryMB, Groups: fleet.Group(env.Plan),
		})
	}
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
		if want.MAC, err = c.claimMAC(n.VM); err != nil {
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
func (c *ConfigureVMs) claimMAC(vm string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byVM == nil {
		c.byVM = map[string]string{}
	}
	for range 100 {
		b := make([]byte, 3)
		if _, err := rand.Read(b); err != nil {
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

// ---- start-vms

// StartVMs starts every lab VM headless.
type StartVMs struct{}

var _ Needs = StartVMs{}

// NewStartVMs returns the start-vms step.
func NewStartVMs() Step { return StartVMs{} }

func (StartVMs) Name() string                  { return "start-vms" }
func (StartVMs) Title() string                 { return "Starting the VMs (headless)" }
func (StartVMs) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (StartVMs) Needs() []string               { return []string{"preflight", "configure-vms"} }

func (s StartVMs) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	info, err := env.checkView(s.Name(), n.VM).Info(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read %s: %w", n.VM, err)
	}
	switch info.State {
	case vbox.StateRunning:
		return Status{Done: true}, nil
	case vbox.StatePaused:
		return Status{}, fmt.Errorf("%s is paused: resume it (`VBoxManage controlvm %s resume`) or power it off, then run labctl up again", n.VM, n.VM)
	}
	return Status{Why: fmt.Sprintf("VM is %s: start it headless", info.State)}, nil
}

func (s StartVMs) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	if env.Mode != ModePlan {
		info, err := env.applyView(s.Name(), n.VM).Info(ctx) // the Check's read
		if err != nil {
			return fmt.Errorf("read %s: %w", n.VM, err)
		}
		switch info.State {
		case vbox.StateRunning:
			return nil
		case vbox.StatePowerOff, vbox.StateAborted, vbox.StateSaved:
		default:
			return fmt.Errorf("%s is %s: wait until it is running or powered off, then run labctl up again", n.VM, info.State)
		}
	}
	err := env.VBox.Start(ctx, n.VM)
	env.changedVM(n.VM)
	if err != nil {
		return fmt.Errorf("start %s: %w", n.VM, err)
	}
	return nil
}

// ---- wait-guests

// WaitGuests waits until each VM's Guest Additions run (run level >= 2,
// from showvminfo: no guest property carries the run level).
type WaitGuests struct {
	// Every is the polling interval (default 1s).
	Every time.Duration
}

var _ Needs = WaitGuests{}

// NewWaitGuests returns the wait-guests step.
func NewWaitGuests() Step { return WaitGuests{} }

func (WaitGuests) Name() string                  { return "wait-guests" }
func (WaitGuests) Title() string                 { return "Waiting for the guests' Guest Additions" }
func (WaitGuests) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }
func (WaitGuests) Needs() []string               { return []string{"start-vms"} }

// guestReadyLevel: 2 = userland, where VBoxService (guest control) runs.
const guestReadyLevel = 2

func (w WaitGuests) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	info, err := env.checkView(w.Name(), n.VM).Info(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read %s: %w", n.VM, err)
	}
	if info.State == vbox.StateRunning && info.GuestAddRunLvl >= guestReadyLevel {
		return Status{Done: true}, nil
	}
	if info.State != vbox.StateRunning {
		return Status{Why: fmt.Sprintf("VM is %s, not running", info.State)}, nil
	}
	return Status{Why: fmt.Sprintf("Guest Additions not up yet (run level %d, want %d)", info.GuestAddRunLvl, guestReadyLevel)}, nil
}

func (w WaitGuests) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	limit := env.GuestWait
	if limit <= 0 {
		limit = DefaultGuestWait
	}
	if env.Mode == ModePlan {
		env.PlanNotef("wait until `showvminfo %s` reports GuestAdditionsRunLevel >= %d (at most %s)", n.VM, guestReadyLevel, shortDuration(limit))
		return nil
	}
	every := w.Every
	if every <= 0 {
		every = time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := -1
	// The first look is what the Check just read; then every poll is live.
	read := env.applyView(w.Name(), n.VM).Info
	for {
		info, err := read(wctx)
		read = func(ctx context.Context) (*vbox.VMInfo, error) { return env.VBox.Info(ctx, n.VM) }
		switch {
		case err == nil:
			if info.State == vbox.StateRunning && info.GuestAddRunLvl >= guestReadyLevel {
				return nil
			}
			if info.State != vbox.StateRunning && info.State != "starting" && info.State != "restoring" {
				return fmt.Errorf("%s stopped while booting (it is %s): look at its console in the VirtualBox window, then run labctl up again", n.VM, info.State)
			}
			if info.GuestAddRunLvl != last {
				last = info.GuestAddRunLvl
				fmt.Fprintf(logOf(env), "wait-guests: %s: Guest Additions run level %d\n", n.VM, last)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() == nil:
			return fmt.Errorf("read %s: %w", n.VM, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			//lint:ignore ST1005 "Guest Additions" is VirtualBox's proper name
			return fmt.Errorf("Guest Additions did not start in %s within %s: is the base VM's Guest Additions installed, and does the VM boot? (its console shows why)", n.VM, shortDuration(limit))
		case <-tick.C:
		}
	}
}

// shortDuration prints 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
