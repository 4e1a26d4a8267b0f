package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/vbox"
)

const labName = "flt"

var nodeVMs = []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "LOAD-BALANCER"}

// scene is a fake VirtualBox (base VM and unrelated VMs seeded, web-01 in
// lab other-lab), the six-node plan of lab flt, and the fleet over both.
type scene struct {
	t    *testing.T
	fake *vboxtest.Fake
	plan *lab.Plan
	f    *Fleet
}

func newScene(t *testing.T, opts ...vboxtest.Option) *scene {
	t.Helper()
	fake := vboxtest.New(t, append([]vboxtest.Option{vboxtest.WithGuestAdditionsDelay(0)}, opts...)...)
	c := vbox.New(vbox.ExecRunner{Path: fake.Bin})
	c.PollInterval, c.StopTimeout = 20*time.Millisecond, 10*time.Second
	p := &lab.Plan{Name: labName, File: "lab.toml", StateDir: filepath.Join(t.TempDir(), labName),
		Base: lab.Base{VM: vboxtest.BaseVM, Snapshot: "labctl-base"}}
	for i, vm := range nodeVMs {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: strings.ToLower(vm), Index: i + 1,
			IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)})})
	}
	s := &scene{t: t, fake: fake, plan: p, f: New(c, p)}
	s.must("snapshot", vboxtest.BaseVM, "take", "labctl-base")
	return s
}

func (s *scene) must(args ...string) {
	s.t.Helper()
	if r := s.fake.Run(args...); r.Code != 0 {
		s.t.Fatalf("fake %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
}

// clone registers a linked clone of the base, in group (none when ""), with
// the lab tag tag (none when "").
func (s *scene) clone(name, group, tag string) {
	s.t.Helper()
	args := []string{"clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", name, "--register"}
	if group != "" {
		args = append(args, "--groups", group)
	}
	s.must(args...)
	if tag != "" {
		s.must("setextradata", name, TagLab, tag)
	}
}

// lab clones every node tagged for the lab and starts those in running.
func (s *scene) lab(running ...string) {
	s.t.Helper()
	for _, vm := range nodeVMs {
		s.clone(vm, "/labctl/"+labName, labName)
	}
	for _, vm := range running {
		s.must("startvm", vm, "--type", "headless")
	}
}

func (s *scene) calls() int { return len(s.fake.Argv()) }

// mutatingSince returns the calls since n that may change something.
func (s *scene) mutatingSince(n int) [][]string {
	var out [][]string
	for _, a := range s.fake.Argv()[n:] {
		if vboxtest.IsMutating(a) {
			out = append(out, a)
		}
	}
	return out
}

func (s *scene) untouched() {
	s.t.Helper()
	if err := s.fake.UnrelatedUntouched(); err != nil {
		s.t.Error(err)
	}
}

func names(ms []*Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// The lab's VMs: tagged for it (a VM the plan no longer names included),
// and the untagged clone in its group; never another lab's VM, a stranger
// named like a node, the base or the unrelated VMs.
func TestMembersTaggedAndAdoptableOnly(t *testing.T) {
	s := newScene(t)
	group := "/labctl/" + labName
	for _, vm := range nodeVMs[:4] {
		s.clone(vm, group, labName)
	}
	s.clone("SERVER-TWO", group, "")                  // interrupted before its tag: adoptable
	s.clone("LOAD-BALANCER", "", "")                  // a stranger with a node's name
	s.clone("OLD-NODE", group, labName)               // a node the plan renamed since
	s.clone("db-9", "/labctl/"+vboxtest.OtherLab, "") // untagged, another lab's group
	s.clone("SQL-ZERO", group, vboxtest.OtherLab)     // tagged for another lab, in our group
	n0 := s.calls()

	ms, err := s.f.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "OLD-NODE"}
	if got := names(ms); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	for _, m := range ms {
		wantOwn := Tagged
		if m.Name == "SERVER-TWO" {
			wantOwn = Adoptable
		}
		if m.Verdict.Ownership != wantOwn {
			t.Errorf("%s: ownership %v, want %v", m.Name, m.Verdict.Ownership, wantOwn)
		}
		if (m.Node == nil) != (m.Name == "OLD-NODE") {
			t.Errorf("%s: node %+v", m.Name, m.Node)
		}
	}
	if m := s.mutatingSince(n0); len(m) != 0 {
		t.Errorf("reading the members changed things: %v", m)
	}
	// One tag read per VM; showvminfo only for the untagged ones.
	for _, a := range s.fake.Argv()[n0:] {
		if a[0] == "showvminfo" {
			v := s.fake.State().VM(a[1])
			if v == nil || v.ExtraData[TagLab] != "" {
				t.Errorf("a tagged VM was read in full: %v", a)
			}
		}
	}
}

// The ownership rule on its own: the lab tag decides; without one, the group.
func TestOwnerRule(t *testing.T) {
	p := &lab.Plan{Name: labName, File: "lab.toml"}
	cases := []struct {
		tag    string
		groups []string
		want   Ownership
		why    string
	}{
		{labName, nil, Tagged, ""},
		{"", []string{"/labctl/" + labName}, Adoptable, ""},
		{"", []string{"/"}, Foreign, "it has no labctl/lab tag"},
		{"other", []string{"/labctl/" + labName}, Foreign, `it belongs to lab "other"`},
	}
	for _, c := range cases {
		v, err := Owner(context.Background(), p, "SQL-ONE", known{tag: c.tag, info: &vbox.VMInfo{Groups: c.groups}})
		if err != nil || v.Ownership != c.want {
			t.Errorf("tag %q groups %v: %+v, %v; want %v", c.tag, c.groups, v, err, c.want)
			continue
		}
		err = v.Foreign(p, "SQL-ONE")
		var fe *ForeignError
		if (c.why == "") != (err == nil) || (err != nil && (!errors.As(err, &fe) || !strings.Contains(err.Error(), c.why) ||
			!strings.Contains(err.Error(), "a VM named SQL-ONE exists but is not part of lab"))) {
			t.Errorf("tag %q: foreign error %v", c.tag, err)
		}
	}
}

// A stranger named like a node makes the set an error naming it, before
// any change; another lab's VM never is part of the set.
func TestReadSetRefusesForeignAndIncomplete(t *testing.T) {
	ctx := context.Background()
	s := newScene(t)
	group := "/labctl/" + labName
	for _, vm := range nodeVMs[:3] {
		s.clone(vm, group, labName)
	}
	s.clone("SERVER-ONE", group, "") // adoptable: the set is incomplete, not foreign
	s.clone("SERVER-TWO", "", "")    // a stranger
	n0 := s.calls()
	_, err := s.f.ReadSet(ctx)
	var fe *ForeignError
	if !errors.As(err, &fe) || fe.VM != "SERVER-TWO" || fe.Verdict.Tag != "" {
		t.Fatalf("read with a stranger named SERVER-TWO: %v", err)
	}

	s.must("unregistervm", "SERVER-TWO", "--delete")
	_, err = s.f.ReadSet(ctx)
	var ie *IncompleteError
	if !errors.As(err, &ie) || !slices.Equal(ie.Missing, []string{"SERVER-ONE (cloned, not yet tagged)", "SERVER-TWO", "LOAD-BALANCER"}) {
		t.Fatalf("read of a half-built lab: %v", err)
	}
	for _, a := range s.mutatingSince(n0) {
		if a[0] != "unregistervm" || a[1] != "SERVER-TWO" {
			t.Errorf("a refused read changed things: %v", a)
		}
	}
	s.untouched()
}

// Each refusal (name already present for take, missing for restore and
// delete) names the VMs and makes no mutating call at all.
func TestSnapshotSetAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := newScene(t)
	s.lab("SQL-ONE", "SERVER-ONE")
	for _, vm := range nodeVMs {
		if vm != "SERVER-TWO" {
			s.must("snapshot", vm, "take", "half")
		}
	}
	s.must("snapshot", "SQL-THREE", "take", "one")
	set, err := s.f.ReadSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n0 := s.calls()
	refusals := []struct {
		op     string
		err    error
		vms    []string
		exists bool
	}{
		{"take one", set.Take(ctx, "one", TakeOptions{Offline: true}), []string{"SQL-THREE"}, true},
		{"take half", set.Take(ctx, "half", TakeOptions{}), []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "LOAD-BALANCER"}, true},
		{"restore half", set.Restore(ctx, "half"), []string{"SERVER-TWO"}, false},
		{"delete half", set.Delete(ctx, "half"), []string{"SERVER-TWO"}, false},
		{"restore nope", set.Restore(ctx, "nope"), nodeVMs, false},
	}
	for _, r := range refusals {
		var se *SnapshotError
		if !errors.As(r.err, &se) || se.Exists != r.exists || !slices.Equal(se.VMs, r.vms) {
			t.Errorf("%s: %v, want a refusal naming %v", r.op, r.err, r.vms)
		}
	}
	if r := refusals[2]; !strings.Contains(r.err.Error(), "nothing was changed") || !strings.Contains(r.err.Error(), "SERVER-TWO") {
		t.Errorf("restore refusal: %q", r.err)
	}
	if m := s.mutatingSince(n0); len(m) != 0 {
		t.Fatalf("refused operations made mutating calls: %v", m)
	}
	if n := s.calls(); n != n0 {
		t.Errorf("refusals made %d calls: they are decided on the set's read", n-n0)
	}
	s.untouched()
}

// Take (live for the running VMs only), list, restore (running VMs powered
// off first, all left off), delete.
func TestSnapshotSetTakeListRestoreDelete(t *testing.T) {
	ctx := context.Background()
	s := newScene(t)
	running := []string{"SQL-ONE", "SERVER-ONE"}
	s.lab(running...)
	set, err := s.f.ReadSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n0 := s.calls()
	if err := set.Take(ctx, "clean", TakeOptions{Description: "d"}); err != nil {
		t.Fatal(err)
	}
	uuid := func(vm string) string { return s.fake.State().VM(vm).UUID }
	argv := s.fake.Argv()[n0:]
	for _, vm := range nodeVMs {
		i := slices.IndexFunc(argv, func(a []string) bool {
			return len(a) > 3 && a[0] == "snapshot" && a[1] == uuid(vm) && a[2] == "take" && a[3] == "clean"
		})
		if i < 0 {
			t.Fatalf("no take of %s: %v", vm, argv)
		}
		if live := slices.Contains(argv[i], "--live"); live != slices.Contains(running, vm) {
			t.Errorf("%s: --live=%v", vm, live)
		}
	}
	if len(argv) != len(nodeVMs) {
		t.Errorf("take made %d calls, want one per VM: %v", len(argv), argv)
	}

	if set, err = s.f.ReadSet(ctx); err != nil {
		t.Fatal(err)
	}
	rows := set.List()
	if len(rows) != 1 || rows[0].Name != "clean" || len(rows[0].VMs) != len(nodeVMs) {
		t.Fatalf("list: %+v", rows)
	}

	n1 := s.calls()
	if err := set.Restore(ctx, "clean"); err != nil {
		t.Fatal(err)
	}
	argv = s.fake.Argv()[n1:]
	for _, vm := range nodeVMs {
		restore := slices.IndexFunc(argv, func(a []string) bool { return a[0] == "snapshot" && a[1] == uuid(vm) && a[2] == "restore" })
		off := slices.IndexFunc(argv, func(a []string) bool { return a[0] == "controlvm" && a[1] == uuid(vm) && a[2] == "poweroff" })
		if restore < 0 {
			t.Errorf("%s not restored", vm)
		}
		if want := slices.Contains(running, vm); (off >= 0) != want || (want && off > restore) {
			t.Errorf("%s: poweroff at %d, restore at %d (running: %v)", vm, off, restore, want)
		}
		// A live snapshot restores to "saved"; up starts every VM again.
		if st := s.fake.State().VM(vm).State; st != map[bool]string{true: "saved", false: "poweroff"}[slices.Contains(running, vm)] {
			t.Errorf("%s is %s after restore", vm, st)
		}
	}

	if err := set.Delete(ctx, "clean"); err != nil {
		t.Fatal(err)
	}
	for _, vm := range nodeVMs {
		if slices.Contains(s.fake.State().VM(vm).SnapshotNames(), "clean") {
			t.Errorf("%s still has clean", vm)
		}
	}
	s.untouched()
}

// A failure deleting one VM: the others are gone, the error names it, the
// state folder stays; a re-run finds what is left by its tag and finishes.
func TestTeardownHalfDeletedThenRerunFinishes(t *testing.T) {
	ctx := context.Background()
	s := newScene(t)
	s.lab("SQL-ONE", "LOAD-BALANCER")
	s.clone("SQL-FOUR", "", "") // a stranger: never touched
	if err := os.MkdirAll(filepath.Join(s.plan.StateDir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	stuck := s.fake.State().VM("SQL-TWO").UUID
	s.fake.AddFault(vboxtest.Fault{Match: "unregistervm " + stuck, Kind: "fail", Times: 1, Message: "VBoxManage: error: injected: disk busy"})

	ms, err := s.f.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var deleted []string
	err = s.f.Teardown(ctx, ms, TeardownOptions{Deleted: func(n string) { mu.Lock(); deleted = append(deleted, n); mu.Unlock() }})
	var te *TeardownError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "SQL-TWO: delete: ") || !strings.Contains(err.Error(), "disk busy") {
		t.Fatalf("teardown with a failing VM: %v", err)
	}
	if len(deleted) != 5 || slices.Contains(deleted, "SQL-TWO") {
		t.Errorf("reported deleted: %v", deleted)
	}
	if _, err := os.Stat(s.plan.StateDir); err != nil {
		t.Fatalf("the state folder must stay while a VM remains: %v", err)
	}
	if got := s.fake.State().Names(); !slices.Contains(got, "SQL-TWO") || slices.Contains(got, "SQL-ONE") {
		t.Fatalf("VMs after a half teardown: %v", got)
	}

	ms, err = s.f.Members(ctx)
	if err != nil || !slices.Equal(names(ms), []string{"SQL-TWO"}) {
		t.Fatalf("re-read: %v, %v", names(ms), err)
	}
	if err := s.f.Teardown(ctx, ms, TeardownOptions{KeepLogs: true}); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(s.plan.StateDir)
	if len(left) != 1 || left[0].Name() != "logs" {
		t.Errorf("state folder after teardown with KeepLogs: %v", left)
	}
	st := s.fake.State()
	for _, vm := range nodeVMs {
		if st.VM(vm) != nil {
			t.Errorf("%s survived", vm)
		}
	}
	if st.VM("SQL-FOUR") == nil || st.VM(vboxtest.BaseVM) == nil || !slices.Contains(st.VM(vboxtest.BaseVM).SnapshotNames(), "labctl-base") {
		t.Errorf("teardown removed what is not the lab's: %v", st.Names())
	}
	s.untouched()
}

// Halt stops the running VMs and keeps them all; another lab's running VM
// and the unrelated ones stay as they are.
func TestHaltHardAndGraceful(t *testing.T) {
	ctx := context.Background()
	s := newScene(t)
	s.lab("SQL-ONE", "SERVER-TWO")
	n0 := s.calls()
	halted, err := s.f.Halt(ctx, PowerOffOptions{})
	if err != nil || !slices.Equal(halted, []string{"SQL-ONE", "SERVER-TWO"}) {
		t.Fatalf("halt: %v, %v", halted, err)
	}
	for _, vm := range nodeVMs {
		if v := s.fake.State().VM(vm); v == nil || v.State != "poweroff" {
			t.Errorf("%s after halt: %+v", vm, v)
		}
	}
	if slices.ContainsFunc(s.fake.Argv()[n0:], func(a []string) bool { return slices.Contains(a, "acpipowerbutton") }) {
		t.Errorf("a halt without grace pressed the power button")
	}

	// With a grace period the guests are asked first; these shut down.
	s.must("startvm", "SQL-TWO", "--type", "headless")
	time.Sleep(50 * time.Millisecond)
	n1 := s.calls()
	halted, err = s.f.Halt(ctx, PowerOffOptions{Grace: 5 * time.Second, Poll: 20 * time.Millisecond})
	if err != nil || !slices.Equal(halted, []string{"SQL-TWO"}) {
		t.Fatalf("graceful halt: %v, %v", halted, err)
	}
	u := s.fake.State().VM("SQL-TWO").UUID
	button := slices.IndexFunc(s.fake.Argv()[n1:], func(a []string) bool { return slices.Equal(a, []string{"controlvm", u, "acpipowerbutton"}) })
	if button < 0 {
		t.Errorf("graceful halt did not press the power button: %v", s.fake.Argv()[n1:])
	}
	if st := s.fake.State().VM("SQL-TWO").State; st != "poweroff" {
		t.Errorf("SQL-TWO is %s", st)
	}
	s.untouched()
}

// A guest that ignores the button is powered off hard once the grace ends.
func TestHaltGraceThenHard(t *testing.T) {
	s := newScene(t, vboxtest.WithGuestAdditionsDelay(time.Hour)) // still "booting": ignores the button
	s.lab("SQL-THREE")
	start := time.Now()
	halted, err := s.f.Halt(context.Background(), PowerOffOptions{Grace: 300 * time.Millisecond, Poll: 50 * time.Millisecond})
	if err != nil || !slices.Equal(halted, []string{"SQL-THREE"}) {
		t.Fatalf("halt: %v, %v", halted, err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("hard power-off after %s, before the grace ended", el)
	}
	if st := s.fake.State().VM("SQL-THREE").State; st != "poweroff" {
		t.Errorf("SQL-THREE is %s", st)
	}
}

// each: at most limit at once, every failure aggregated and named.
func TestEachLimitAndAggregation(t *testing.T) {
	var cur, peak atomic.Int32
	items := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	err := each(context.Background(), 3, items, func(s string) string { return s }, func(ctx context.Context, s string) error {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		if s == "b" || s == "g" {
			return fmt.Errorf("boom")
		}
		return nil
	})
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d, want at most 3 (and some)", p)
	}
	msg := fmt.Sprint(err)
	if !strings.Contains(msg, "b: boom") || !strings.Contains(msg, "g: boom") || !strings.Contains(msg, "2 errors") {
		t.Errorf("aggregated error: %q", msg)
	}
}
