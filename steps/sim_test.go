package steps_test

// Tests of the simulated guests (steps/steptest) against the real Runner:
// the simulation must keep every real step's identity and ordering, or the
// whole-tool tests built on it would prove nothing about the pipeline.

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"labctl/lab"
	"labctl/steps"
	"labctl/steps/steptest"
)

func simPlan(t testing.TB) *lab.Plan {
	t.Helper()
	t.Setenv(lab.StateDirEnv, t.TempDir())
	cfg, err := lab.Parse("lab.toml", []byte(steptest.LabTOML("simlab", "AlmaLinux-8.4", "eth0", "")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Plan(lab.HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// simOnly is the simulated part of the pipeline (the guest steps).
func simOnly(sim *steptest.Sim) []steps.Step {
	var out []steps.Step
	for _, s := range steptest.SimPipeline(sim) {
		if _, ok := s.(*steptest.SimStep); ok {
			out = append(out, s)
		}
	}
	return out
}

func simRun(ctx context.Context, t *testing.T, p *lab.Plan, pipeline []steps.Step, mode steps.Mode) (steps.Summary, string, error) {
	t.Helper()
	var out, log bytes.Buffer
	r := &steps.Runner{Steps: pipeline, Mode: mode, Concurrency: 6, Out: &out, Log: &log}
	sum, err := r.Run(ctx, &steps.Env{Plan: p})
	return sum, out.String() + log.String(), err
}

func TestSimPipelineWrapsExactlyTheGuestSteps(t *testing.T) {
	p := simPlan(t)
	real := steps.Pipeline()
	wrapped := steptest.SimPipeline(steptest.NewSim())
	if got, want := steps.Names(wrapped), steps.Names(real); !slices.Equal(got, want) {
		t.Fatalf("SimPipeline order %v, want the pipeline's %v", got, want)
	}
	vm := steps.Names(steps.VMPhase())
	if len(vm) == 0 {
		t.Fatal("no VM phase")
	}
	for i, s := range wrapped {
		r := real[i]
		ss, simulated := s.(*steptest.SimStep)
		// The address probe stays real: only its script is answered by
		// the simulated LAN (steptest/lan.go).
		if isVM := slices.Contains(vm, s.Name()) || s.Name() == steptest.ProbeStep; isVM == simulated {
			t.Errorf("%s: simulated=%v, but VM phase=%v (only the guest steps are simulated)", s.Name(), simulated, isVM)
			continue
		}
		if !simulated {
			continue
		}
		if s.Title() != r.Title() {
			t.Errorf("%s: title %q, want %q", s.Name(), s.Title(), r.Title())
		}
		if got, want := s.Targets(p).Names(), r.Targets(p).Names(); !slices.Equal(got, want) {
			t.Errorf("%s: targets %v, want %v", s.Name(), got, want)
		}
		rs, _ := r.(steps.Serial)
		if want := rs != nil && rs.Serial(); ss.Serial() != want {
			t.Errorf("%s: serial %v, want %v", s.Name(), ss.Serial(), want)
		}
		var want []string
		if rn, ok := r.(steps.Needs); ok {
			want = rn.Needs()
		}
		if !reflect.DeepEqual(ss.Needs(), want) {
			t.Errorf("%s: needs %v, want %v", s.Name(), ss.Needs(), want)
		}
		rl, _ := r.(steps.LabWide)
		if want := rl != nil && rl.LabWide(); ss.LabWide() != want {
			t.Errorf("%s: lab-wide %v, want %v", s.Name(), ss.LabWide(), want)
		}
		if _, ok := s.(steps.Preparer); ok {
			t.Errorf("%s: a simulated step must not prepare against live guests", s.Name())
		}
	}
	// The pipeline must have both serial steps and group-replication among
	// them, or the serial/concurrent assertions below would be vacuous.
	var serial []string
	for _, s := range wrapped {
		if ss, ok := s.(*steptest.SimStep); ok && ss.Serial() {
			serial = append(serial, s.Name())
		}
	}
	if !slices.Contains(serial, "group-replication") {
		t.Errorf("serial simulated steps %v lack group-replication", serial)
	}
}

func TestSimRunConvergesAndRerunChangesNothing(t *testing.T) {
	p := simPlan(t)
	sim := steptest.NewSim()
	pipe := simOnly(sim)
	sum, out, err := simRun(context.Background(), t, p, pipe, steps.ModeApply)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if m := sim.Missing(p, pipe); len(m) != 0 {
		t.Fatalf("not applied after a complete run: %v", m)
	}
	for i, res := range sum.Steps {
		ss := pipe[i].(*steptest.SimStep)
		want := len(ss.Targets(p))
		if ss.LabWide() {
			want = 1
		}
		if ss.ReadOnly() {
			// verify waits for its checks and changes nothing: never "changed".
			if res.Changed != 0 || res.Already != want {
				t.Errorf("%s (read-only): changed %d already %d, want already %d", res.Name, res.Changed, res.Already, want)
			}
			continue
		}
		if res.Changed != want || res.Already != 0 {
			t.Errorf("%s: changed %d already %d, want changed %d", res.Name, res.Changed, res.Already, want)
		}
	}
	// Each node: check, apply, re-check; a serial step also reads all its
	// nodes at once first (the converged lab's one round of reads).
	serialReads := 0
	for _, s := range pipe {
		if ss := s.(*steptest.SimStep); ss.Serial() && len(ss.Targets(p)) > 1 {
			serialReads += len(ss.Targets(p))
		}
	}
	applies, checks := sim.Applies(), sim.Checks()
	if applies == 0 || checks != 2*applies+serialReads {
		t.Fatalf("a fresh run should check, apply, re-check each node once (and read a serial step's nodes at once first, %d): %d applies, %d checks", serialReads, applies, checks)
	}

	sum, out, err = simRun(context.Background(), t, p, pipe, steps.ModeApply)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if sim.Applies() != applies {
		t.Fatalf("second run applied %d more", sim.Applies()-applies)
	}
	if changed, already := sum.Totals(); changed != 0 || already != len(pipe) {
		t.Fatalf("second run: %d changed, %d already done, want 0 and %d", changed, already, len(pipe))
	}
}

func TestSimFaultAtEachStepThenRerunConverges(t *testing.T) {
	p := simPlan(t)
	for _, name := range steptest.SimulatedNames(steptest.SimPipeline(steptest.NewSim())) {
		t.Run(name, func(t *testing.T) {
			sim := steptest.NewSim()
			pipe := simOnly(sim)
			idx := slices.Index(steps.Names(pipe), name)
			target := pipe[idx].Targets(p)
			node := steptest.LabKey
			if len(target) > 0 && !pipe[idx].(*steptest.SimStep).LabWide() {
				node = target[len(target)-1].VM // the last: earlier nodes of a serial step are done
			}
			sim.FailOnce(name, node)

			_, out, err := simRun(context.Background(), t, p, pipe, steps.ModeApply)
			var re *steps.RunError
			if !errors.As(err, &re) || re.Step != name || re.Interrupted {
				t.Fatalf("want a RunError at %s, got %v\n%s", name, err, out)
			}
			if !errors.Is(err, steptest.ErrInjected) || !strings.Contains(err.Error(), node) {
				t.Fatalf("the error should wrap the injected failure and name %s: %v", node, err)
			}
			// Nothing after the failing step ran on the failing node. Another
			// node may have run ahead through the steps it may start early,
			// up to the first that targets it and may not, or that needs
			// every node.
			for _, other := range p.Nodes {
				barrier := other.VM == node
				for _, later := range pipe[idx+1:] {
					ls := later.(*steptest.SimStep)
					targets := slices.Contains(later.Targets(p), other)
					barrier = barrier || ls.LabWide() || ls.CrossNode() || targets && (!ls.EarlyStart() || ls.Serial())
					if targets && barrier && sim.Applied(later.Name(), other.VM) {
						t.Fatalf("%s ran on %s after %s failed on %s", later.Name(), other.VM, name, node)
					}
				}
			}
			before := sim.ApplyCounts()

			if _, out, err := simRun(context.Background(), t, p, pipe, steps.ModeApply); err != nil {
				t.Fatalf("re-run: %v\n%s", err, out)
			}
			if m := sim.Missing(p, pipe); len(m) != 0 {
				t.Fatalf("re-run left %v", m)
			}
			// The re-run applied nothing twice that had succeeded.
			for k, n := range sim.ApplyCounts() {
				want := 1
				if k == name+"/"+node {
					want = 2
				}
				if n != want {
					t.Errorf("%s applied %d times in all (before the re-run: %d), want %d", k, n, before[k], want)
				}
			}
		})
	}
}

func TestSimSerialAndConcurrentSteps(t *testing.T) {
	p := simPlan(t)
	sim := steptest.NewSim()
	sim.DefaultLatency = 30 * time.Millisecond
	pipe := simOnly(sim)
	if _, out, err := simRun(context.Background(), t, p, pipe, steps.ModeApply); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byStep := map[string][]steptest.Event{}
	for _, e := range sim.Events() {
		byStep[e.Step] = append(byStep[e.Step], e)
	}
	for i, s := range pipe {
		evs := byStep[s.Name()]
		ss := s.(*steptest.SimStep)
		if len(evs) < 2 {
			continue
		}
		if ss.Serial() {
			slices.SortFunc(evs, func(a, b steptest.Event) int { return a.Start.Compare(b.Start) })
			var order []string
			for j, e := range evs {
				order = append(order, e.Node)
				if j > 0 && e.Start.Before(evs[j-1].End) {
					t.Errorf("serial step %s: %s started before %s ended", s.Name(), e.Node, evs[j-1].Node)
				}
			}
			if want := s.Targets(p).Names(); !slices.Equal(nodeNames(p, order), want) {
				t.Errorf("serial step %s ran %v, want targets order %v", s.Name(), order, want)
			}
		} else {
			// All nodes at once: the last start precedes the first end.
			first, last := evs[0].End, evs[0].Start
			for _, e := range evs {
				first = minTime(first, e.End)
				if e.Start.After(last) {
					last = e.Start
				}
			}
			if !last.Before(first) {
				t.Errorf("concurrent step %s ran its nodes one after another", s.Name())
			}
		}
		// A node's steps never overlap; a step that may not start early
		// waits for every node of the step before it.
		if i+1 < len(pipe) {
			ns := pipe[i+1].(*steptest.SimStep)
			early := ns.EarlyStart() && !ns.Serial() && !ns.LabWide() && !ns.CrossNode()
			for _, next := range byStep[pipe[i+1].Name()] {
				for _, e := range evs {
					if next.Start.Before(e.End) && (!early || next.Node == e.Node) {
						t.Errorf("%s started on %s before %s ended on %s", next.Step, next.Node, e.Step, e.Node)
					}
				}
			}
		}
	}
	// Every node runs its steps in pipeline order, one at a time.
	byNode := map[string][]steptest.Event{}
	for _, e := range sim.Events() {
		byNode[e.Node] = append(byNode[e.Node], e)
	}
	order := map[string]int{}
	for i, s := range pipe {
		order[s.Name()] = i
	}
	for node, evs := range byNode {
		slices.SortFunc(evs, func(a, b steptest.Event) int { return order[a.Step] - order[b.Step] })
		for j := 1; j < len(evs); j++ {
			if evs[j].Start.Before(evs[j-1].End) {
				t.Errorf("%s: %s started before %s ended", node, evs[j].Step, evs[j-1].Step)
			}
		}
	}
}

func nodeNames(p *lab.Plan, vms []string) []string {
	var out []string
	for _, vm := range vms {
		out = append(out, p.Nodes.Find(vm).Name())
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func TestSimCancelThenRerunConverges(t *testing.T) {
	p := simPlan(t)
	sim := steptest.NewSim()
	sim.DefaultLatency = 5 * time.Millisecond
	sim.Latency = map[string]time.Duration{"packages": 10 * time.Second}
	pipe := simOnly(sim)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !slices.ContainsFunc(sim.Events(), func(e steptest.Event) bool { return e.Step == "firewall" }) {
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // inside packages' long Apply
		cancel()
	}()
	start := time.Now()
	_, out, err := simRun(ctx, t, p, pipe, steps.ModeApply)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("cancel took %s to stop the run", el)
	}
	var re *steps.RunError
	if !errors.As(err, &re) || !re.Interrupted || !errors.Is(err, context.Canceled) || re.Step != "packages" {
		t.Fatalf("want an interrupted RunError in packages, got %v\n%s", err, out)
	}
	for _, n := range p.Nodes {
		if sim.Applied("packages", n.VM) {
			t.Errorf("packages marked applied on %s though cancelled", n.VM)
		}
	}
	sim.Latency = nil
	if _, out, err := simRun(context.Background(), t, p, pipe, steps.ModeApply); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	if m := sim.Missing(p, pipe); len(m) != 0 {
		t.Fatalf("re-run left %v", m)
	}
}

func TestSimDryRunAndPlanApplyNothing(t *testing.T) {
	p := simPlan(t)
	sim := steptest.NewSim()
	pipe := simOnly(sim)
	sum, out, err := simRun(context.Background(), t, p, pipe, steps.ModeDryRun)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sim.Applies() != 0 || len(sum.Changes) == 0 {
		t.Fatalf("dry run: %d applies, %d changes reported", sim.Applies(), len(sum.Changes))
	}
	if !strings.Contains(sum.Changes[0].Why, "simulated: not applied") {
		t.Errorf("dry run change: %+v", sum.Changes[0])
	}
	_, out, err = simRun(context.Background(), t, p, pipe, steps.ModePlan)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sim.Applies() != 0 || len(sim.Missing(p, pipe)) == 0 {
		t.Fatalf("plan mode applied %d", sim.Applies())
	}
	if !strings.Contains(out, "simulated step group-replication") {
		t.Errorf("the plan should say the steps are simulated:\n%s", out)
	}
}

func TestSimFailAlwaysAndCriticalPath(t *testing.T) {
	p := simPlan(t)
	sim := steptest.NewSim()
	sim.Scale = 10
	sim.DefaultLatency = 100 * time.Millisecond
	sim.CheckLatency = 10 * time.Millisecond
	sim.Latency = map[string]time.Duration{"group-replication": time.Second}
	pipe := simOnly(sim)
	if got := sim.LatencyOf("group-replication"); got != 100*time.Millisecond {
		t.Fatalf("scaled latency %s", got)
	}
	// Hand count: every simulated step concurrent costs 10+1+1 ms, except
	// the serial ones (n nodes × (latency + 2 checks)).
	var want time.Duration
	for _, s := range pipe {
		ss := s.(*steptest.SimStep)
		n := len(s.Targets(p))
		if ss.LabWide() {
			n = 1
		}
		lat := 10 * time.Millisecond
		if s.Name() == "group-replication" {
			lat = 100 * time.Millisecond
		}
		if ss.Serial() {
			want += time.Duration(n) * (lat + 2*time.Millisecond)
		} else {
			want += lat + 2*time.Millisecond
		}
	}
	if got := sim.CriticalPath(p, pipe); got != want || got < 300*time.Millisecond {
		t.Fatalf("critical path %s, want %s", got, want)
	}

	sim = steptest.NewSim()
	sim.FailAlways("web", "")
	pipe = simOnly(sim)
	for try := 0; try < 2; try++ {
		_, _, err := simRun(context.Background(), t, p, pipe, steps.ModeApply)
		if !errors.Is(err, steptest.ErrInjected) {
			t.Fatalf("try %d: %v", try, err)
		}
		for _, n := range p.Web() {
			if !strings.Contains(err.Error(), n.Name()) {
				t.Errorf("try %d: the error should name every failed web node (%s): %v", try, n.Name(), err)
			}
		}
	}
	if got := len(sim.Fired()); got != 4 {
		t.Errorf("fired %d times, want 2 nodes × 2 runs", got)
	}
}
