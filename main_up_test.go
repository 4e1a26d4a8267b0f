package main

// Whole-tool tests of `labctl up`: the real CLI, in-process, against the
// stateful fake VBoxManage for the VM phase and simulated guests
// (steps/steptest) for every guest step. No guest script runs anywhere:
// the fake refuses guest execution unless FAKEVBOX_GUEST_EXEC=1, which
// these tests never set, and the simulated steps never call a guest.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/steps"
	"labctl/steps/steptest"
	"labctl/vbox"
)

const upLabName = "uplab"

// upLab is one test lab: lab.toml and the guest password file in a temp
// folder, an isolated state folder, a fresh fake VirtualBox (nil when the
// test runs without VirtualBox) and the simulated guests.
type upLab struct {
	t        testing.TB
	fake     *vboxtest.Fake
	sim      *steptest.Sim
	file     string
	stateDir string
	plan     *lab.Plan
}

// newUpLab swaps the pipeline for the simulated one for the test's duration.
func newUpLab(t testing.TB, withFake bool, opts ...vboxtest.Option) *upLab {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "guest-password")
	if err := os.WriteFile(pw, []byte(vboxtest.DefaultGuestPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "lab.toml")
	if err := os.WriteFile(file, []byte(steptest.LabTOML(upLabName, vboxtest.BaseVM, vboxtest.BridgeIf, pw)), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	t.Setenv(lab.StateDirEnv, root)
	t.Setenv("LABCTL_VBOXMANAGE", "")
	t.Setenv("LABCTL_LAB", "")
	cfg, err := lab.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := cfg.Plan(lab.HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	u := &upLab{t: t, sim: steptest.NewSim(), file: file, stateDir: filepath.Join(root, upLabName), plan: plan}
	u.sim.DefaultLatency = 2 * time.Millisecond
	if withFake {
		u.fake = vboxtest.New(t, append([]vboxtest.Option{vboxtest.WithGuestAdditionsDelay(100 * time.Millisecond)}, opts...)...)
	}
	old := pipeline
	pipeline = func() []steps.Step { return upFastPoll(steptest.SimPipeline(u.sim), 20*time.Millisecond) }
	t.Cleanup(func() { pipeline = old })
	return u
}

// upFastPoll polls the Guest Additions every d instead of every second:
// the fake's boot is scaled down, so is the poll.
func upFastPoll(p []steps.Step, d time.Duration) []steps.Step {
	for i, s := range p {
		if s.Name() == "wait-guests" {
			p[i] = steps.WaitGuestsEvery(d)
		}
	}
	return p
}

// labctl runs the CLI in-process like run() does, with a context the test owns.
func (u *upLab) labctl(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	u.t.Helper()
	argv := []string{"labctl", "--lab", u.file}
	if u.fake != nil {
		argv = append(argv, "--vboxmanage", u.fake.Bin)
	}
	argv = append(argv, args...)
	var out, errb bytes.Buffer
	err := newApp(strings.NewReader(""), &out, &errb).RunContext(ctx, argv)
	code = upExitCode(err, &errb)
	if testing.Verbose() {
		u.t.Logf("labctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

// upExitCode is run()'s mapping of an error to the exit status and message.
func upExitCode(err error, stderr *bytes.Buffer) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, "labctl:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "labctl:", err)
	return 1
}

func (u *upLab) up(args ...string) (int, string, string) {
	u.t.Helper()
	return u.labctl(context.Background(), append([]string{"up"}, args...)...)
}

func (u *upLab) mustUp(what string) string {
	u.t.Helper()
	code, out, errOut := u.up()
	if code != 0 {
		u.t.Fatalf("%s: up exited %d\n%s\n%s", what, code, out, errOut)
	}
	return out
}

// uuids maps each lab VM that exists to its UUID.
func (u *upLab) uuids() map[string]string {
	out := map[string]string{}
	st := u.fake.State()
	for _, n := range u.plan.Nodes {
		if v := st.VM(n.VM); v != nil {
			out[n.VM] = v.UUID
		}
	}
	return out
}

// assertComplete checks the end state of a built lab: six running linked
// clones of the base snapshot, tagged, bridged with distinct fresh MACs,
// sized per node, every simulated step applied, nothing else touched.
func (u *upLab) assertComplete() {
	u.t.Helper()
	t := u.t
	st := u.fake.State()
	base := st.VM(vboxtest.BaseVM)
	if base == nil || !slices.Contains(base.SnapshotNames(), u.plan.Base.Snapshot) {
		t.Fatalf("the base VM lacks snapshot %s: %+v", u.plan.Base.Snapshot, base)
	}
	macs := map[string]string{strings.ToUpper(base.NICs[0].MAC): vboxtest.BaseVM}
	for _, n := range u.plan.Nodes {
		v := st.VM(n.VM)
		if v == nil {
			t.Errorf("%s does not exist", n.VM)
			continue
		}
		if v.State != "running" {
			t.Errorf("%s is %s, want running", n.VM, v.State)
		}
		if v.ExtraData[steps.TagLab] != upLabName || v.ExtraData[steps.TagNode] != n.Hostname {
			t.Errorf("%s tags %s=%q %s=%q", n.VM, steps.TagLab, v.ExtraData[steps.TagLab], steps.TagNode, v.ExtraData[steps.TagNode])
		}
		if v.LinkedFrom == nil || v.LinkedFrom.VM != base.UUID && v.LinkedFrom.VM != vboxtest.BaseVM || v.LinkedFrom.Snapshot == "" {
			t.Errorf("%s is not a linked clone of the base snapshot: %+v", n.VM, v.LinkedFrom)
		}
		if !slices.Contains(v.Groups, "/labctl/"+upLabName) {
			t.Errorf("%s groups %v", n.VM, v.Groups)
		}
		if v.CPUs != n.CPUs || v.MemoryMB != n.MemoryMB {
			t.Errorf("%s has %d CPUs %d MB, want %d and %d", n.VM, v.CPUs, v.MemoryMB, n.CPUs, n.MemoryMB)
		}
		if len(v.NICs) == 0 || v.NICs[0].Type != "bridged" || v.NICs[0].BridgeAdapter != vboxtest.BridgeIf {
			t.Errorf("%s nic1 %+v, want bridged on %s", n.VM, v.NICs, vboxtest.BridgeIf)
			continue
		}
		mac := strings.ToUpper(v.NICs[0].MAC)
		if other, dup := macs[mac]; dup || mac == "" {
			t.Errorf("%s has MAC %q, also %s's", n.VM, mac, other)
		}
		macs[mac] = n.VM
	}
	if m := u.sim.Missing(u.plan, pipeline()); len(m) != 0 {
		t.Errorf("simulated steps not applied: %v", m)
	}
	if err := u.fake.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
	if v := u.fake.Violations(); len(v) != 0 {
		t.Errorf("the fake caught rule violations: %v", v)
	}
}

// assertNoSecretLeak: the guest password is on no VBoxManage command line,
// and no run log holds it or any generated secret.
func (u *upLab) assertNoSecretLeak() {
	u.t.Helper()
	t := u.t
	if u.fake != nil {
		if a := u.fake.ArgvContaining(vboxtest.DefaultGuestPassword); len(a) != 0 {
			t.Errorf("the guest password is on a VBoxManage command line: %v", a)
		}
	}
	secrets := u.secrets()
	secrets = append(secrets, vboxtest.DefaultGuestPassword)
	logs, _ := filepath.Glob(filepath.Join(u.stateDir, lab.LogsDir, "*.log"))
	if len(logs) == 0 {
		t.Fatalf("no run log under %s", filepath.Join(u.stateDir, lab.LogsDir))
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(l); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("run log %s is mode %v, want 0600", l, fi.Mode().Perm())
		}
		if len(b) == 0 {
			t.Errorf("run log %s is empty", l)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("run log %s contains a secret (%d chars)", l, len(s))
			}
		}
	}
}

// secrets reads every string value of the lab's secrets.json.
func (u *upLab) secrets() []string {
	u.t.Helper()
	b, err := os.ReadFile(filepath.Join(u.stateDir, lab.SecretsFile))
	if err != nil {
		u.t.Fatalf("read the lab's secrets: %v", err)
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		u.t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if len(x) >= 8 { // the group name and salts are long; nothing short is secret
				out = append(out, x)
			}
		case map[string]any:
			for k, y := range x {
				if k != "group_name" { // a lab-unique UUID, not a secret (see lab.Secrets)
					walk(y)
				}
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(raw)
	if len(out) < 5 {
		u.t.Fatalf("secrets.json holds only %d values", len(out))
	}
	return out
}

func upMutating(calls [][]string) [][]string {
	var out [][]string
	for _, a := range calls {
		if vboxtest.IsMutating(a) {
			out = append(out, a)
		}
	}
	return out
}

func TestUpBuildsTheLabThenChangesNothing(t *testing.T) {
	u := newUpLab(t, true)

	// A dry run on a fresh host lists every VM's changes and changes nothing.
	code, out, errOut := u.up("--dry-run")
	if code != 0 {
		t.Fatalf("dry run on a fresh host: exit %d\n%s\n%s", code, out, errOut)
	}
	if m := upMutating(u.fake.Argv()); len(m) != 0 {
		t.Errorf("the dry run changed VirtualBox: %v", m)
	}
	if !strings.Contains(out, "would make these changes") {
		t.Errorf("dry run output:\n%s", out)
	}
	for _, n := range u.plan.Nodes {
		if !strings.Contains(out, n.VM+":") {
			t.Errorf("the dry run does not list %s's changes:\n%s", n.VM, out)
		}
	}
	if u.sim.Applies() != 0 {
		t.Errorf("the dry run applied %d simulated steps", u.sim.Applies())
	}

	out = u.mustUp("first up")
	u.assertComplete()
	if !strings.Contains(out, "How to reach WordPress: http://"+u.plan.LB().IP.String()+"/") {
		t.Errorf("the summary should say how to reach WordPress:\n%s", out)
	}
	if n := len(upMutating(u.fake.Argv())); n < 6*4 {
		t.Fatalf("only %d mutating VBoxManage calls for a whole lab", n)
	}
	ids := u.uuids()
	n0, applies := len(u.fake.Argv()), u.sim.Applies()

	out = u.mustUp("second up")
	if m := upMutating(u.fake.Argv()[n0:]); len(m) != 0 {
		t.Errorf("the second up changed VirtualBox: %v", m)
	}
	if got := u.sim.Applies(); got != applies {
		t.Errorf("the second up applied %d simulated steps", got-applies)
	}
	want := fmt.Sprintf("0 step(s) changed something, %d already done", len(steps.Pipeline()))
	if !strings.Contains(out, want) {
		t.Errorf("the second up's summary should say %q:\n%s", want, out)
	}
	if got := u.uuids(); !upEqualMaps(got, ids) {
		t.Errorf("VMs changed identity: %v, were %v", got, ids)
	}
	u.assertComplete()

	n0 = len(u.fake.Argv())
	code, out, errOut = u.up("--dry-run")
	if code != 0 || !strings.Contains(out, "No changes") {
		t.Fatalf("dry run on a complete lab: exit %d\n%s\n%s", code, out, errOut)
	}
	if m := upMutating(u.fake.Argv()[n0:]); len(m) != 0 {
		t.Errorf("the dry run changed VirtualBox: %v", m)
	}
	u.assertNoSecretLeak()
}

func upEqualMaps(a, b map[string]string) bool {
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

// upVMPhaseFault makes one VM-phase step fail once, the way VirtualBox
// does, and returns a func that says whether it fired (it may wait).
func upVMPhaseFault(t *testing.T, u *upLab, step string) (fired func() bool) {
	t.Helper()
	rule := func(match string) func() bool {
		u.fake.AddFault(vboxtest.Fault{Match: match, Kind: "fail", Times: 1,
			Message: "VBoxManage: error: injected failure in " + step})
		return func() bool { return len(u.fake.Faults()) == 0 }
	}
	switch step {
	case "preflight":
		return rule("list bridgedifs")
	case "base-snapshot":
		return rule("take " + u.plan.Base.Snapshot)
	case "clone-vms":
		return rule("--name SQL-TWO")
	case "configure-vms":
		return rule("modifyvm SQL-THREE")
	case "start-vms":
		// SQL-THREE: its configure-vms failed in the run before, so it has
		// not started yet (the others may have run ahead and started).
		return rule("startvm SQL-THREE")
	case "wait-guests":
		// The guest dies while booting: wait-guests must notice and fail.
		// SQL-THREE is the VM this run starts (its start failed in the
		// run before); it boots in 1.5 s here and is powered off once
		// wait-guests polls it: its third read after startvm (start-vms'
		// re-check, wait-guests' check, then wait-guests' first poll).
		u.fake.SetGuestAdditionsDelay(1500 * time.Millisecond)
		n0 := len(u.fake.Argv())
		done := make(chan bool, 1)
		go func() {
			defer u.fake.SetGuestAdditionsDelay(100 * time.Millisecond)
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				started, reads := false, 0
				for _, a := range u.fake.Argv()[n0:] {
					if len(a) > 1 && a[0] == "startvm" && a[1] == "SQL-THREE" {
						started = true
					}
					if started && len(a) > 1 && a[0] == "showvminfo" && a[1] == "SQL-THREE" {
						reads++
					}
				}
				if reads >= 3 {
					r := u.fake.Run("controlvm", "SQL-THREE", "poweroff")
					done <- r.Code == 0
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			done <- false
		}()
		return func() bool { return <-done }
	}
	t.Fatalf("no VM-phase fault for step %s", step)
	return nil
}

// TestUpFailureAtEachStepThenRerunConverges injects a failure at every
// step in turn, in pipeline order, into one lab: the up that fails at
// step k is also the re-run after the failure at step k-1, so it must get
// past k-1 without redoing what was done; a last clean up must then
// converge to the complete lab with the VMs first cloned (no re-clone).
// (Chaining keeps the number of fake VBoxManage calls, each a process,
// modest; steps/sim_test.go also does each step on a fresh simulated lab.)
func TestUpFailureAtEachStepThenRerunConverges(t *testing.T) {
	u := newUpLab(t, true)
	pipe := pipeline()
	firstIDs := map[string]string{}
	for i, s := range pipe {
		name := s.Name()
		if name == "lab-network" {
			continue // bridged: the step reads nothing and cannot fail (natnetwork: main_netmode_test.go)
		}
		var fired func() bool
		node := ""
		if ss, ok := s.(*steptest.SimStep); ok {
			targets := ss.Targets(u.plan)
			node = targets[len(targets)-1].VM
			if u.sim.Applied(name, node) {
				// The node ran ahead to this step in an earlier run (early
				// start): undo it here so the injected failure is met.
				u.sim.Unapply(name, node)
			}
			u.sim.FailOnce(name, node)
			fired = func() bool { return u.sim.PendingFaults() == 0 }
		} else if name == steptest.ProbeStep {
			// The probe's failure: a machine outside the lab answers.
			planted := u.plan.LB().IP
			u.sim.Plant(planted, "52:54:00:00:00:99")
			probes := len(u.sim.Probes())
			fired = func() bool { u.sim.Unplant(planted); return len(u.sim.Probes()) > probes }
		} else {
			fired = upVMPhaseFault(t, u, name)
		}
		before := u.sim.ApplyCounts()
		doneBefore := map[string]bool{}
		for _, st := range pipe {
			for _, n := range u.plan.Nodes {
				doneBefore[st.Name()+"/"+n.VM] = u.sim.Applied(st.Name(), n.VM)
			}
		}
		idsBefore := u.uuids()
		n0 := len(u.fake.Argv())

		code, out, errOut := u.up()
		if code == 0 {
			t.Fatalf("up succeeded despite a failure in %s:\n%s", name, out)
		}
		if !fired() {
			t.Fatalf("the failure injected in %s did not happen:\n%s\n%s", name, out, errOut)
		}
		if !strings.Contains(errOut, "("+name+") failed") || !strings.Contains(errOut, "/logs/up-") {
			t.Fatalf("the error should name step %s and the log:\n%s", name, errOut)
		}
		if node != "" && (!strings.Contains(errOut, node) || !strings.Contains(errOut, "simulated failure")) {
			t.Errorf("the error should name node %s and the cause:\n%s", node, errOut)
		}
		// Nothing after the failed step ran, except where another node ran
		// ahead through steps it may start early; nothing done before was redone.
		failNode := node
		if failNode == "" {
			failNode = map[string]string{"clone-vms": "SQL-TWO", "configure-vms": "SQL-THREE", "start-vms": "SQL-THREE", "wait-guests": "SQL-THREE"}[name]
		}
		for j := i + 1; j < len(pipe); j++ {
			for _, n := range u.plan.Nodes {
				if u.sim.Applied(pipe[j].Name(), n.VM) && !doneBefore[pipe[j].Name()+"/"+n.VM] && !upRanAheadAllowed(u.plan, pipe, i, j, failNode, n) {
					t.Errorf("%s ran on %s after %s failed on %q", pipe[j].Name(), n.VM, name, failNode)
				}
			}
		}
		for k, c := range u.sim.ApplyCounts() {
			if redo := c - before[k]; redo > 1 || redo > 0 && doneBefore[k] {
				t.Errorf("%s applied %d more time(s) in the run failing at %s though it was done", k, redo, name)
			}
		}
		for _, a := range u.fake.Argv()[n0:] {
			if a[0] == "unregistervm" || a[0] == "clonevm" && slices.ContainsFunc(a, func(x string) bool { _, had := idsBefore[x]; return had }) {
				t.Errorf("after a failure in %s, the re-run re-created a VM: %v", pipe[max(i-1, 0)].Name(), a)
			}
		}
		for vm, id := range u.uuids() {
			if first, ok := firstIDs[vm]; ok && first != id {
				t.Errorf("%s has a new UUID %s (was %s)", vm, id, first)
			} else if !ok {
				firstIDs[vm] = id
			}
		}
	}

	n0 := len(u.fake.Argv())
	u.mustUp("the re-run after the last failure")
	u.assertComplete()
	if got := u.uuids(); !upEqualMaps(got, firstIDs) {
		t.Errorf("VMs changed identity: %v, first %v", got, firstIDs)
	}
	for _, a := range u.fake.Argv()[n0:] {
		if a[0] == "clonevm" || a[0] == "unregistervm" || a[0] == "modifyvm" {
			t.Errorf("the last re-run touched the VMs' definitions: %v", a)
		}
	}
	u.assertNoSecretLeak()
}

// upCancelWhen runs up and cancels it once cond holds; it returns up's result.
func (u *upLab) upCancelWhen(cond func() bool) (int, string, string) {
	u.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil && !cond() {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	return u.labctl(ctx, "up")
}

func TestUpInterruptedThenRerunConverges(t *testing.T) {
	u := newUpLab(t, true)
	cases := []struct {
		name  string
		setup func()
		when  func() bool
	}{
		{"during clone-vms", func() {
			u.fake.SetLatency(map[string]time.Duration{"clonevm": 300 * time.Millisecond})
		}, func() bool {
			return slices.ContainsFunc(u.fake.Argv(), func(a []string) bool { return a[0] == "clonevm" })
		}},
		// The re-run after the first Ctrl-C, interrupted in turn.
		{"during packages", func() {
			u.sim.Latency = map[string]time.Duration{"packages": 30 * time.Second}
		}, func() bool {
			return slices.ContainsFunc(u.sim.Events(), func(e steptest.Event) bool { return e.Step == "firewall" })
		}},
	}
	var ids map[string]string
	for _, c := range cases {
		c.setup()
		start := time.Now()
		code, out, errOut := u.upCancelWhen(c.when)
		if el := time.Since(start); el > 60*time.Second {
			t.Errorf("%s: the interrupted up took %s", c.name, el)
		}
		if code != 130 || !strings.Contains(errOut, "interrupted") || !strings.Contains(errOut, "labctl up") {
			t.Fatalf("%s: want exit 130 saying how to resume, got %d:\n%s\n%s", c.name, code, out, errOut)
		}
		u.fake.SetLatency(map[string]time.Duration{})
		u.sim.Latency = nil
		for vm, id := range ids {
			if got := u.uuids()[vm]; got != id {
				t.Errorf("%s was re-created (UUID %s, was %s)", vm, got, id)
			}
		}
		ids = u.uuids()
	}
	if u.sim.Applied("packages", "SQL-ONE") {
		t.Error("packages marked applied though interrupted")
	}
	u.mustUp("re-run after Ctrl-C")
	u.assertComplete()
	if got := u.uuids(); !upEqualMaps(got, ids) {
		t.Errorf("VMs changed identity: %v, were %v", got, ids)
	}
	u.assertNoSecretLeak()
}

func TestWithoutVirtualBoxPlanAndDryRunShowEverythingAndUpRefuses(t *testing.T) {
	u := newUpLab(t, false)
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("VBOX_INSTALL_PATH", "")
	t.Setenv("VBOX_MSI_INSTALL_PATH", "")
	if p, err := vbox.Locate(""); err == nil {
		t.Skipf("a VBoxManage is installed here (%s): this test needs a host without VirtualBox", p)
	}
	wantCalls := func(what, out string) {
		t.Helper()
		for _, n := range u.plan.Nodes {
			for _, call := range []string{
				"VBoxManage clonevm " + vboxtest.BaseVM,
				"--name " + n.VM,
				"VBoxManage modifyvm " + n.VM,
				"VBoxManage startvm " + n.VM,
			} {
				if !strings.Contains(out, call) {
					t.Errorf("%s lacks %q:\n%s", what, call, out)
				}
			}
		}
	}
	code, out, errOut := u.labctl(context.Background(), "plan")
	if code != 0 {
		t.Fatalf("plan without VirtualBox: exit %d\n%s", code, errOut)
	}
	wantCalls("plan", out)

	code, out, errOut = u.up("--dry-run")
	if code != 0 {
		t.Fatalf("up --dry-run without VirtualBox: exit %d\n%s", code, errOut)
	}
	wantCalls("up --dry-run", out)
	if !strings.Contains(out, "VirtualBox is not available") {
		t.Errorf("the dry run should say VirtualBox is missing:\n%s", out)
	}

	code, out, errOut = u.up()
	if code == 0 {
		t.Fatalf("up without VirtualBox succeeded:\n%s", out)
	}
	if !strings.Contains(errOut, "install VirtualBox") || !strings.Contains(errOut, "--dry-run") {
		t.Errorf("up should say how to install VirtualBox or see the plan:\n%s", errOut)
	}
	if u.sim.Applies() != 0 {
		t.Errorf("up without VirtualBox applied %d simulated steps", u.sim.Applies())
	}
	if _, err := os.Stat(u.stateDir); !os.IsNotExist(err) {
		t.Errorf("up without VirtualBox created the state folder %s (%v)", u.stateDir, err)
	}
}

// Every VBoxManage call reaches the run log, and the screen with --verbose,
// with its status and duration; no secret reaches either.
func TestUpTracesEveryVBoxManageCall(t *testing.T) {
	u := newUpLab(t, true)
	code, out, errOut := u.labctl(context.Background(), "--verbose", "up")
	if code != 0 {
		t.Fatalf("up exited %d\n%s", code, errOut)
	}
	calls := u.fake.Calls()
	if len(calls) == 0 {
		t.Fatal("the fake saw no call")
	}
	logs, _ := filepath.Glob(filepath.Join(u.stateDir, lab.LogsDir, "up-*.log"))
	if len(logs) != 1 {
		t.Fatalf("run logs: %v", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	traced := strings.Count(log, " vbox: VBoxManage ")
	// Guest-control calls go through the same client; the fake's log also
	// counts the CLI's own version probe, made before the run log exists.
	if traced < len(calls)-2 || traced > len(calls) {
		t.Errorf("run log traces %d VBoxManage calls, the fake saw %d", traced, len(calls))
	}
	for _, want := range []string{"vbox: VBoxManage clonevm ", ": exit 0 in "} {
		if !strings.Contains(log, want) {
			t.Errorf("run log lacks %q", want)
		}
		if !strings.Contains(out, want) {
			t.Errorf("--verbose output lacks %q", want)
		}
	}
	for _, s := range append(u.secrets(), vboxtest.DefaultGuestPassword) {
		if strings.Contains(out+errOut, s) {
			t.Errorf("--verbose output shows a secret (%d chars)", len(s))
		}
	}
	u.assertNoSecretLeak()
}

// halt powers the lab off and keeps it; up brings it back; VMs outside the
// lab are never touched.
func TestHaltKeepsTheLabAndUpBringsItBack(t *testing.T) {
	u := newUpLab(t, true)
	u.mustUp("first up")
	ids := u.uuids()
	n0 := len(u.fake.Argv())
	code, out, errOut := u.labctl(context.Background(), "halt", "--timeout", "2s")
	if code != 0 {
		t.Fatalf("halt: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, n := range u.plan.Nodes {
		if st := u.fake.State().VM(n.VM).State; st != "poweroff" {
			t.Errorf("%s is %s after halt", n.VM, st)
		}
	}
	if !strings.Contains(out, "Powered off") || !strings.Contains(out, "labctl up") {
		t.Errorf("halt output:\n%s", out)
	}
	for _, argv := range upMutating(u.fake.Argv()[n0:]) {
		if !slices.Contains([]string{"controlvm"}, argv[0]) {
			t.Errorf("halt made a call other than a power-off: %v", argv)
		}
	}
	if err := u.fake.UnrelatedUntouched(); err != nil {
		t.Error(err)
	}
	// A second halt finds nothing to do.
	if code, out, _ := u.labctl(context.Background(), "halt"); code != 0 || !strings.Contains(out, "No VM of lab") {
		t.Errorf("second halt: exit %d\n%s", code, out)
	}
	u.mustUp("up after halt")
	if !upEqualMaps(ids, u.uuids()) {
		t.Errorf("up after halt re-created VMs: %v -> %v", ids, u.uuids())
	}
	for _, n := range u.plan.Nodes {
		if st := u.fake.State().VM(n.VM).State; st != "running" {
			t.Errorf("%s is %s after up", n.VM, st)
		}
	}
}

// info prints the hand-over later: the admin password only when asked, and
// JSON with the documented keys.
func TestInfoAfterUp(t *testing.T) {
	u := newUpLab(t, true)
	if code, _, errOut := u.labctl(context.Background(), "info"); code != 1 || !strings.Contains(errOut, "not built yet") || !strings.Contains(errOut, "labctl up") {
		t.Errorf("info before up: exit %d %s", code, errOut)
	}
	u.mustUp("up")
	code, out, errOut := u.labctl(context.Background(), "info")
	if code != 0 {
		t.Fatalf("info: exit %d %s", code, errOut)
	}
	for _, want := range []string{"How to reach WordPress: http://" + u.plan.LB().IP.String() + "/", "/wp-admin/", "secrets.json", "--show-secrets", u.plan.VIP.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	for _, s := range u.secrets() {
		if strings.Contains(out, s) {
			t.Errorf("info shows a secret without --show-secrets")
		}
	}
	code, out, _ = u.labctl(context.Background(), "info", "--json", "--show-secrets")
	var got map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("info --json: exit %d\n%s", code, out)
	}
	for _, k := range []string{"lab", "wordpress_url", "admin_url", "admin_user", "admin_password_file", "admin_password", "vip", "primary", "nodes", "next"} {
		if _, ok := got[k]; !ok {
			t.Errorf("info --json lacks %q", k)
		}
	}
	pw, _ := got["admin_password"].(string)
	if pw == "" || !slices.Contains(u.secrets(), pw) {
		t.Errorf("--show-secrets did not give the admin password from the state folder")
	}
}

// upRanAheadAllowed says whether step later may have run on n in a run
// whose step failed failed on node failNode ("" = lab-wide): n may have run
// ahead through the following steps it may start early (its own earlier
// steps done), up to the first that targets it and may not, or that needs
// every node; the failing node runs nothing after its failure.
func upRanAheadAllowed(p *lab.Plan, pipe []steps.Step, failed, later int, failNode string, n *lab.Node) bool {
	if failNode == "" || n.VM == failNode {
		return false
	}
	for j := failed + 1; j <= later; j++ {
		s := pipe[j]
		if lw, ok := s.(steps.LabWide); ok && lw.LabWide() {
			return false
		}
		if c, ok := s.(steps.CrossNode); ok && c.CrossNode() {
			return false
		}
		if !slices.Contains(s.Targets(p), n) {
			continue
		}
		e, early := s.(steps.EarlyStart)
		se, serial := s.(steps.Serial)
		_, prep := s.(steps.Preparer)
		if !early || !e.EarlyStart() || serial && se.Serial() || prep {
			return false
		}
	}
	return true
}
