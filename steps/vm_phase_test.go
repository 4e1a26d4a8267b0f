package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/vbox"
)

// vmtPlan is a six-node lab on the fake's host interface.
func vmtPlan() *lab.Plan {
	p := &lab.Plan{
		Name: "vmt", File: "lab.toml",
		Base:          lab.Base{VM: vboxtest.BaseVM, Snapshot: "labctl-base", User: vboxtest.GuestUser},
		BridgeAdapter: vboxtest.BridgeIf,
		Network:       netip.MustParsePrefix("192.0.2.0/24"),
	}
	add := func(vm string, role lab.Role, idx int, ip string, cpus, mem int) {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: strings.ToLower(vm), Role: role, Index: idx,
			IP: netip.MustParseAddr(ip), CPUs: cpus, MemoryMB: mem})
	}
	add("SQL-ONE", lab.RoleDB, 1, "192.0.2.100", 2, 2048)
	add("SQL-TWO", lab.RoleDB, 2, "192.0.2.101", 2, 2048)
	add("SQL-THREE", lab.RoleDB, 3, "192.0.2.102", 2, 2048)
	add("SERVER-ONE", lab.RoleWeb, 1, "192.0.2.160", 1, 1024)
	add("SERVER-TWO", lab.RoleWeb, 2, "192.0.2.161", 1, 1024)
	add("LOAD-BALANCER", lab.RoleLB, 1, "192.0.2.162", 1, 512)
	return p
}

// vmtSetup returns a fresh fake VirtualBox and an Env driving it through
// the real vbox.Client (argv built by vbox, never by steps).
func vmtSetup(t *testing.T, opts ...vboxtest.Option) (*vboxtest.Fake, *Env) {
	t.Helper()
	f := vboxtest.New(t, append([]vboxtest.Option{vboxtest.WithGuestAdditionsDelay(150 * time.Millisecond)}, opts...)...)
	c := vbox.New(vbox.ExecRunner{Path: f.Bin})
	c.Retry = vbox.Retry{Tries: 5, Delay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}
	return f, &Env{Plan: vmtPlan(), VBox: c, GuestWait: 20 * time.Second}
}

// vmtPhase is VMPhase with a fast guest poll.
func vmtPhase() []Step {
	ph := VMPhase()
	ph[len(ph)-1] = waitGuestsStep{every: 50 * time.Millisecond}
	return ph
}

func vmtRun(t *testing.T, env *Env, mode Mode) (Summary, string, error) {
	t.Helper()
	var out, log bytes.Buffer
	r := &Runner{Steps: vmtPhase(), Mode: mode, Concurrency: 6, Out: &out, Log: &log, LogPath: "/state/up.log"}
	sum, err := r.Run(context.Background(), env)
	if testing.Verbose() {
		t.Logf("output:\n%s\nlog:\n%s", out.String(), log.String())
	}
	return sum, out.String(), err
}

// vmtAssertLab checks the six clones: tagged, linked to the base snapshot,
// bridged with six distinct fresh MACs, sized per node, running.
func vmtAssertLab(t *testing.T, f *vboxtest.Fake, p *lab.Plan) {
	t.Helper()
	st := f.State()
	base := st.VM(vboxtest.BaseVM)
	if base == nil || !strings.Contains(strings.Join(base.SnapshotNames(), ","), "labctl-base") {
		t.Fatalf("base VM has no labctl-base snapshot: %+v", base)
	}
	macs := map[string]string{base.NICs[0].MAC: vboxtest.BaseVM}
	for _, n := range p.Nodes {
		v := st.VM(n.VM)
		if v == nil {
			t.Errorf("%s was not created", n.VM)
			continue
		}
		if v.ExtraData[TagLab] != p.Name || v.ExtraData[TagNode] != n.Hostname {
			t.Errorf("%s tags = %v", n.VM, v.ExtraData)
		}
		if v.LinkedFrom == nil || v.LinkedFrom.Snapshot == "" {
			t.Errorf("%s is not a linked clone: %+v", n.VM, v.LinkedFrom)
		}
		if strings.Join(v.Groups, ",") != "/labctl/vmt" {
			t.Errorf("%s groups = %v", n.VM, v.Groups)
		}
		nic := v.NICs[0]
		if nic.Type != "bridged" || nic.BridgeAdapter != vboxtest.BridgeIf {
			t.Errorf("%s nic1 = %+v", n.VM, nic)
		}
		if other, dup := macs[nic.MAC]; dup {
			t.Errorf("%s has MAC %s, like %s", n.VM, nic.MAC, other)
		}
		macs[nic.MAC] = n.VM
		if !strings.HasPrefix(nic.MAC, "080027") || len(nic.MAC) != 12 {
			t.Errorf("%s MAC %q is not a VirtualBox MAC", n.VM, nic.MAC)
		}
		if v.CPUs != n.CPUs || v.MemoryMB != n.MemoryMB {
			t.Errorf("%s has %d CPUs/%d MB, want %d/%d", n.VM, v.CPUs, v.MemoryMB, n.CPUs, n.MemoryMB)
		}
		if v.State != "running" {
			t.Errorf("%s is %s", n.VM, v.State)
		}
	}
	if err := f.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
}

func TestVMPhaseBuildsLabAndSecondRunChangesNothing(t *testing.T) {
	// Guest Additions take a while: wait-guests really polls.
	f, env := vmtSetup(t, vboxtest.WithGuestAdditionsDelay(1500*time.Millisecond))
	sum, out, err := vmtRun(t, env, ModeApply)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	vmtAssertLab(t, f, env.Plan)
	changed := map[string]int{}
	for _, s := range sum.Steps {
		changed[s.Name] = s.Changed
		if s.Changed+s.Already != 6 && s.Name != "preflight" && s.Name != "lab-network" && s.Name != "base-snapshot" {
			t.Errorf("step %s handled %d nodes", s.Name, s.Changed+s.Already)
		}
	}
	// wait-guests may find a node already up on a slow machine: not compared.
	delete(changed, "wait-guests")
	// configure-vms changes only the nodes whose size differs from the base
	// (1 CPU, 1024 MB): the clone already has a fresh VirtualBox MAC.
	want := map[string]int{"preflight": 0, "lab-network": 0, "base-snapshot": 1, "clone-vms": 6, "configure-vms": 4, "start-vms": 6}
	if fmt.Sprint(changed) != fmt.Sprint(want) {
		t.Errorf("changed per step = %v, want %v:\n%s", changed, want, out)
	}
	first := len(f.MutatingCalls())
	if first == 0 {
		t.Fatal("the fake saw no mutating call")
	}

	sum, out, err = vmtRun(t, env, ModeApply)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if again := f.MutatingCalls(); len(again) != first {
		t.Errorf("second run issued mutating calls: %q", again[first:])
	}
	if c, al := sum.Totals(); c != 0 || al != 7 {
		t.Errorf("second run: %d changed, %d already (want 0, 7):\n%s", c, al, out)
	}
	vmtAssertLab(t, f, env.Plan)

	// A dry run of the finished lab finds nothing to do, and changes nothing.
	sum, _, err = vmtRun(t, env, ModeDryRun)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum.Print(&buf, env.Plan)
	if !strings.Contains(buf.String(), "No changes") {
		t.Errorf("dry-run on a built lab: %s", buf.String())
	}
	if again := f.MutatingCalls(); len(again) != first {
		t.Errorf("dry-run issued mutating calls: %q", again[first:])
	}
}

func TestVMPhaseDryRunOnFreshHostChangesNothing(t *testing.T) {
	f, env := vmtSetup(t)
	sum, _, err := vmtRun(t, env, ModeDryRun)
	if err != nil {
		t.Fatal(err)
	}
	if m := f.MutatingCalls(); len(m) != 0 {
		t.Fatalf("dry-run mutated: %q", m)
	}
	var buf bytes.Buffer
	sum.Print(&buf, env.Plan)
	got := buf.String()
	if testing.Verbose() {
		t.Log(got)
	}
	for _, want := range []string{
		`take snapshot "labctl-base" of the powered-off base VM "AlmaLinux-8.4"`,
		"SQL-ONE:\n  - Cloning the lab VMs from the base snapshot: VM SQL-ONE does not exist",
		"then: Configuring the VMs' network, CPUs and memory, Starting the VMs (headless), Waiting for the guests' Guest Additions",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry-run report lacks %q:\n%s", want, got)
		}
	}
}

func TestVMPhaseRefusesForeignVMWithLabNameAndTouchesNothing(t *testing.T) {
	f, env := vmtSetup(t)
	// Someone's own VM happens to be called SQL-TWO.
	if r := f.Run("clonevm", "ubuntu-22.04", "--snapshot", "clean-install", "--options", "link", "--name", "SQL-TWO", "--register"); r.Code != 0 {
		t.Fatalf("setup clonevm: %+v", r)
	}
	before := f.State().VM("SQL-TWO")
	mutBefore := len(f.MutatingCalls())

	_, _, err := vmtRun(t, env, ModeApply)
	if err == nil {
		t.Fatal("up went ahead with a foreign VM named SQL-TWO")
	}
	for _, want := range []string{`a VM named SQL-TWO exists but is not part of lab "vmt"`, "rename it", "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if m := f.MutatingCalls(); len(m) != mutBefore {
		t.Errorf("mutating calls after the refusal: %q", m[mutBefore:])
	}
	after := f.State().VM("SQL-TWO")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("SQL-TWO changed:\n%+v\n%+v", before, after)
	}
	if f.State().VM("SQL-ONE") != nil {
		t.Error("SQL-ONE was created despite the refusal")
	}
	if err := f.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
}

func TestVMPhaseRetriesTransientLockOnModifyVM(t *testing.T) {
	f, env := vmtSetup(t)
	f.AddFault(vboxtest.Fault{Match: "modifyvm SQL-ONE", Kind: "lock", Times: 2})
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("up with a transient lock: %v\n%s", err, out)
	}
	n := 0
	for _, a := range f.Argv() {
		if len(a) > 1 && a[0] == "modifyvm" && a[1] == "SQL-ONE" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("modifyvm SQL-ONE ran %d times, want 3 (2 locked + 1 success)", n)
	}
	if len(f.Faults()) != 0 {
		t.Errorf("faults left: %+v", f.Faults())
	}
	vmtAssertLab(t, f, env.Plan)
}

func TestVMPhaseOneCloneFailsOthersCompleteRerunConverges(t *testing.T) {
	f, env := vmtSetup(t)
	const msg = "Could not create the clone medium '/vms/SERVER-TWO/Snapshots/{x}.vdi' (VERR_DISK_FULL)"
	f.AddFault(vboxtest.Fault{Match: "--name SERVER-TWO", Kind: "fail", Times: 1, Message: msg})
	_, _, err := vmtRun(t, env, ModeApply)
	if err == nil {
		t.Fatal("no error for the failed clone")
	}
	if !strings.Contains(err.Error(), "clone-vms: SERVER-TWO: clone SERVER-TWO") || !strings.Contains(err.Error(), "VERR_DISK_FULL") {
		t.Errorf("error does not name the VM and VirtualBox's message: %v", err)
	}
	var re *RunError
	if !errors.As(err, &re) || re.Step != "clone-vms" {
		t.Errorf("failed step = %+v", re)
	}
	if got := vmtCount(f, "clonevm", "--name SERVER-TWO"); got != 1 {
		t.Errorf("the failed clonevm ran %d times, want once (not a transient error: no retry)", got)
	}
	st := f.State()
	for _, n := range env.Plan.Nodes {
		v := st.VM(n.VM)
		if n.VM == "SERVER-TWO" {
			if v != nil {
				t.Errorf("SERVER-TWO exists after its clone failed")
			}
			continue
		}
		if v == nil || v.ExtraData[TagLab] != "vmt" {
			t.Errorf("%s was not cloned and tagged although only SERVER-TWO failed", n.VM)
		} else if v.State != "poweroff" {
			t.Errorf("%s is %s: the run must stop after the failed step", n.VM, v.State)
		}
	}

	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	vmtAssertLab(t, f, env.Plan)
}

func TestVMPhaseResumesHalfTaggedClone(t *testing.T) {
	// A clone interrupted between clonevm and setextradata: untagged but in
	// the lab's group. It is ours; up tags it instead of refusing.
	f, env := vmtSetup(t)
	if r := f.Run("snapshot", vboxtest.BaseVM, "take", "labctl-base"); r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := f.Run("clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", "SQL-ONE", "--groups", "/labctl/vmt", "--register"); r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	vmtAssertLab(t, f, env.Plan)
}

func TestVMPhasePlanPrintsEveryVBoxManageCall(t *testing.T) {
	rec := vbox.NewEmulator(vboxtest.BaseVM, "")
	env := &Env{Plan: vmtPlan(), VBox: vbox.New(rec)}
	var out bytes.Buffer
	r := &Runner{Steps: VMPhase(), Mode: ModePlan, Out: &out}
	if _, err := r.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if testing.Verbose() {
		t.Log(got)
	}
	for _, want := range []string{
		"== 3. Preparing the base VM's snapshot (base-snapshot)\nlab:\n  # only when the base VM has no snapshot \"labctl-base\" (and is powered off):\n  VBoxManage snapshot AlmaLinux-8.4 take labctl-base",
		"SQL-ONE:\n  VBoxManage clonevm AlmaLinux-8.4 --snapshot labctl-base --options link --name SQL-ONE --groups /labctl/vmt --register\n  VBoxManage setextradata SQL-ONE labctl/lab vmt\n  VBoxManage setextradata SQL-ONE labctl/node sql-one\n",
		"LOAD-BALANCER:\n  VBoxManage startvm LOAD-BALANCER --type headless\n",
		"SERVER-TWO:\n  # wait up to 5m for `showvminfo SERVER-TWO` to report GuestAdditionsRunLevel >= 2\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q\n---\n%s", want, got)
		}
	}
	// configure-vms: one modifyvm per node, bridged; no new MAC, since
	// VirtualBox gives every linked clone a fresh one (the emulator too).
	mods := 0
	for _, line := range strings.Split(got, "\n") {
		if strings.Contains(line, "VBoxManage modifyvm") {
			mods++
			if strings.Contains(line, "--macaddress1") || !strings.Contains(line, "--nic1 bridged --bridgeadapter1 eth0") {
				t.Errorf("modifyvm line: %s", line)
			}
		}
	}
	if mods != 6 {
		t.Errorf("%d modifyvm lines in the plan, want 6:\n%s", mods, got)
	}
	// The same plan every time (golden files).
	out.Reset()
	if _, err := (&Runner{Steps: VMPhase(), Mode: ModePlan, Out: &out}).Run(context.Background(), &Env{Plan: vmtPlan(), VBox: vbox.New(vbox.NewEmulator(vboxtest.BaseVM, ""))}); err != nil {
		t.Fatal(err)
	}
	if out.String() != got {
		t.Errorf("a second plan differs:\n%s", out.String())
	}
	if strings.Contains(got, "showvminfo AlmaLinux") || strings.Contains(got, "getextradata") {
		t.Errorf("the plan lists read-only calls:\n%s", got)
	}
}

// vmtCount counts the logged calls of command cmd whose argv contains sub.
func vmtCount(f *vboxtest.Fake, cmd, sub string) int {
	n := 0
	for _, a := range f.Argv() {
		if len(a) > 0 && a[0] == cmd && strings.Contains(strings.Join(a, " "), sub) {
			n++
		}
	}
	return n
}

// A failure at each mutating VM-phase command in turn: the run stops with
// VirtualBox's message, and a plain re-run converges to the same lab.
func TestVMPhaseFailureAtEachCommandThenRerunConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the VM phase twice per case against the fake")
	}
	cases := []struct{ match, step string }{
		{"snapshot AlmaLinux-8.4 take", "base-snapshot"},
		{"setextradata SQL-THREE labctl/lab", "clone-vms"}, // cloned, not yet tagged
		{"modifyvm SQL-TWO", "configure-vms"},              // SQL-TWO is sized unlike the base
		{"startvm LOAD-BALANCER", "start-vms"},
	}
	for _, c := range cases {
		t.Run(c.step, func(t *testing.T) {
			f, env := vmtSetup(t)
			f.AddFault(vboxtest.Fault{Match: c.match, Kind: "fail", Times: 1, Message: "injected: " + c.match})
			_, _, err := vmtRun(t, env, ModeApply)
			var re *RunError
			if !errors.As(err, &re) || re.Step != c.step || !strings.Contains(err.Error(), "injected: "+c.match) {
				t.Fatalf("first run: %v", err)
			}
			if _, out, err := vmtRun(t, env, ModeApply); err != nil {
				t.Fatalf("re-run: %v\n%s", err, out)
			}
			vmtAssertLab(t, f, env.Plan)
		})
	}
}

// vmtTimed is the fake seen through an API that adds a fixed latency to
// every call and records when each ran, to measure the longest chain of
// VBoxManage calls that wait for one another.
type vmtTimed struct {
	vbox.API
	latency time.Duration
	mu      sync.Mutex
	spans   [][2]time.Time
}

func (v *vmtTimed) call(f func()) {
	start := time.Now()
	time.Sleep(v.latency)
	f()
	v.mu.Lock()
	v.spans = append(v.spans, [2]time.Time{start, time.Now()})
	v.mu.Unlock()
}

// chain is the number of calls and the longest chain of calls each
// starting after the previous one ended, since the spans were last taken.
func (v *vmtTimed) chain() (calls, seq int) {
	v.mu.Lock()
	spans := v.spans
	v.spans = nil
	v.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i][0].Before(spans[j][0]) })
	depth := make([]int, len(spans))
	for i, s := range spans {
		depth[i] = 1
		for j := range i {
			if !spans[j][1].After(s[0]) && depth[j]+1 > depth[i] {
				depth[i] = depth[j] + 1
			}
		}
		seq = max(seq, depth[i])
	}
	return len(spans), seq
}

func (v *vmtTimed) Version(ctx context.Context) (r vbox.Version, err error) {
	v.call(func() { r, err = v.API.Version(ctx) })
	return
}
func (v *vmtTimed) ListVMs(ctx context.Context) (r []vbox.VM, err error) {
	v.call(func() { r, err = v.API.ListVMs(ctx) })
	return
}
func (v *vmtTimed) Info(ctx context.Context, vm string) (r *vbox.VMInfo, err error) {
	v.call(func() { r, err = v.API.Info(ctx, vm) })
	return
}
func (v *vmtTimed) BridgedIfs(ctx context.Context) (r []vbox.HostIf, err error) {
	v.call(func() { r, err = v.API.BridgedIfs(ctx) })
	return
}
func (v *vmtTimed) TakeSnapshot(ctx context.Context, vm, name, d string, live bool) (err error) {
	v.call(func() { err = v.API.TakeSnapshot(ctx, vm, name, d, live) })
	return
}
func (v *vmtTimed) CloneLinked(ctx context.Context, base, snap, name, group string) (r string, err error) {
	// As the real client does: clonevm, then (no UUID printed) a read-back.
	v.call(func() { err = v.API.(*vbox.Client).CloneLinkedNamed(ctx, base, snap, name, group) })
	if err != nil {
		return "", err
	}
	info, err := v.Info(ctx, name)
	if err != nil {
		return "", err
	}
	return info.UUID, nil
}
func (v *vmtTimed) ModifyVM(ctx context.Context, vm string, s vbox.HardwareSettings) (err error) {
	v.call(func() { err = v.API.ModifyVM(ctx, vm, s) })
	return
}
func (v *vmtTimed) SetExtraData(ctx context.Context, vm, key, value string) (err error) {
	v.call(func() { err = v.API.SetExtraData(ctx, vm, key, value) })
	return
}
func (v *vmtTimed) GetExtraData(ctx context.Context, vm, key string) (r string, err error) {
	v.call(func() { r, err = v.API.GetExtraData(ctx, vm, key) })
	return
}
func (v *vmtTimed) Start(ctx context.Context, vm string) (err error) {
	v.call(func() { err = v.API.Start(ctx, vm) })
	return
}
func (v *vmtTimed) GuestProperty(ctx context.Context, vm, name string) (r string, ok bool, err error) {
	v.call(func() { r, ok, err = v.API.GuestProperty(ctx, vm, name) })
	return
}

func (v *vmtTimed) CloneLinkedNamed(ctx context.Context, base, snap, name, group string) (err error) {
	v.call(func() { err = v.API.(*vbox.Client).CloneLinkedNamed(ctx, base, snap, name, group) })
	return
}

// The VM phase's VBoxManage calls: how many, and how many wait for one
// another (each call made 100 ms slow, so calls that run at once overlap).
// Within a run, a node's Apply reuses what its Check just read, a step's
// Prepare feeds the first Check, and the clone is not read back; the
// re-check after each Apply and every run still read the live VMs.
func TestVMPhaseCallChain(t *testing.T) {
	if testing.Short() {
		t.Skip("times the VM phase against the fake")
	}
	f, env := vmtSetup(t, vboxtest.WithGuestAdditionsDelay(0))
	timed := &vmtTimed{API: env.VBox, latency: 100 * time.Millisecond}
	env.VBox = timed
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	calls, seq := timed.chain()
	t.Logf("first run: %d VBoxManage calls, %d in the longest chain", calls, seq)
	showBefore := len(f.ArgvContaining("showvminfo"))
	if _, out, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	recalls, reseq := timed.chain()
	t.Logf("re-run: %d VBoxManage calls, %d in the longest chain", recalls, reseq)
	vmtAssertLab(t, f, env.Plan)

	// The re-run still reads every lab VM live: configure-vms, start-vms and
	// wait-guests each read each VM once (plus the base, twice).
	for _, n := range env.Plan.Nodes {
		got := 0
		for _, a := range f.ArgvContaining("showvminfo")[showBefore:] {
			if a[1] == n.VM {
				got++
			}
		}
		if got != 3 {
			t.Errorf("re-run read %s %d times, want 3 (one per step that looks at its settings or state)", n.VM, got)
		}
	}
	// Budgets: what the steps need, not what a run happened to make. The
	// re-run: preflight 3 + the base's checks (showvminfo, its Guest
	// Additions and OS release properties; this API has no host
	// architectures read) + 6 lab tags; base-snapshot 1; clone-vms list vms
	// + 6 lab tags; configure-vms 7 showvminfo + 6 node tags; start-vms 6;
	// wait-guests 6 = 45, in 9 rounds.
	// The first run (this fake's base needs no resizing of the web nodes):
	// 83, + 6 lab descriptions for `labctl list` = 89.
	if calls > 89 {
		t.Errorf("first run made %d VBoxManage calls, want at most 89", calls)
	}
	if recalls > 45 {
		t.Errorf("re-run made %d VBoxManage calls, want at most 45", recalls)
	}
	// The chain is timed: generous, it only catches reads made one by one.
	if seq > 24 || reseq > 12 {
		t.Errorf("longest chains %d (first run) and %d (re-run), want at most 24 and 12", seq, reseq)
	}
}
