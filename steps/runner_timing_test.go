package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"labctl/internal/critpath"
	"labctl/lab"
)

// Every step×node gets one timing line in the run log, with the step's
// kind, and the critical path read back from the log follows the slow node.
func TestRunnerLogsStepNodeDurations(t *testing.T) {
	rec := &rtCalls{}
	pre, a, gr := newRTStep("pre", rec), newRTStep("a", rec), newRTStep("gr", rec)
	pre.labWide = true
	gr.serial = true
	gr.roles = []lab.Role{lab.RoleDB}
	const slow = 60 * time.Millisecond
	a.onApply = func(ctx context.Context, n string) error {
		if n == "SQL-TWO" {
			time.Sleep(slow)
		}
		return nil
	}
	_, _, log, err := rtRun(t, &Runner{Steps: []Step{pre, a, gr}})
	if err != nil {
		t.Fatal(err)
	}
	spans, err := critpath.Parse(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]critpath.Kind{}
	nodes := map[string]int{}
	for _, s := range spans {
		kinds[s.Step] = s.Kind
		if s.Node != "checks" { // a serial step's reads of all its nodes at once
			nodes[s.Step]++
		}
	}
	if nodes["pre"] != 1 || nodes["a"] != 6 || nodes["gr"] != 3 {
		t.Errorf("timing lines per step %v, want pre 1, a 6, gr 3:\n%s", nodes, log)
	}
	if kinds["pre"] != critpath.Barrier || kinds["a"] != critpath.PerNode || kinds["gr"] != critpath.Serial {
		t.Errorf("kinds %v", kinds)
	}
	r := critpath.Compute(spans)
	if r.Path < slow {
		t.Errorf("critical path %s shorter than SQL-TWO's apply (%s)", r.Path, slow)
	}
	onPath := false
	for _, s := range r.Chain {
		if s.Step == "a" && s.Node == "SQL-TWO" {
			onPath = true
		}
	}
	if !onPath {
		t.Errorf("the slow node is not on the critical path %v", r.Chain)
	}
	if top := critpath.Top(spans, 1); top[0].Step != "a" || top[0].Node != "SQL-TWO" {
		t.Errorf("most expensive pair %v, want a@SQL-TWO", top)
	}
}

// rtEarly is an rtStep a node may start as soon as it has done its own earlier steps.
type rtEarly struct{ *rtStep }

func (rtEarly) EarlyStart() bool { return true }

// A node done with step a starts b at once, while a still runs on a slow
// node; the display still reports a, then b; a failure of a on one node
// keeps b off that node and stops the run at a.
func TestRunnerStartsEarlyStepsPerNode(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("a", rec), rtEarly{newRTStep("b", rec)}
	release := make(chan struct{})
	bStarted := make(chan string, 6)
	a.onApply = func(ctx context.Context, n string) error {
		if n == "SQL-TWO" {
			select { // SQL-TWO's a finishes only once another node has started b
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
		return nil
	}
	b.onApply = func(ctx context.Context, n string) error {
		bStarted <- n
		if n != "SQL-TWO" {
			select {
			case <-release:
			default:
				close(release)
			}
		}
		return nil
	}
	start := time.Now()
	sum, out, log, err := rtRun(t, &Runner{Steps: []Step{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Fatalf("b did not start on any node before SQL-TWO finished a (run took %s)\n%s", el, log)
	}
	if strings.Index(out, "✓ Doing a (changed 6)") > strings.Index(out, "• Doing b ...") || !strings.Contains(out, "✓ Doing b (changed 6)") {
		t.Errorf("display out of order:\n%s", out)
	}
	if c, _ := sum.Totals(); c != 2 {
		t.Errorf("totals: %d steps changed", c)
	}
	if !strings.Contains(log, "step b: SQL-ONE: started early") {
		t.Errorf("log does not say b started early:\n%s", log)
	}

	// A failure: b never runs on the failing node; the run stops at a.
	rec2 := &rtCalls{}
	a2, b2 := newRTStep("a", rec2), rtEarly{newRTStep("b", rec2)}
	a2.applyErr["SQL-TWO"] = errors.New("broken")
	_, _, _, err = rtRun(t, &Runner{Steps: []Step{a2, b2}})
	var re *RunError
	if !errors.As(err, &re) || re.Step != "a" {
		t.Fatalf("err %v, want a RunError at a", err)
	}
	for _, c := range rec2.list() {
		if c == "b:apply:SQL-TWO" || c == "b:check:SQL-TWO" {
			t.Errorf("b ran on the node whose a failed: %v", rec2.list())
		}
	}
}

// A serial step already done everywhere costs one check per node, read at
// once, and reports every node already done.
func TestRunnerSerialStepDoneEverywhereChecksOnce(t *testing.T) {
	rec := &rtCalls{}
	s := newRTStep("join", rec)
	s.serial = true
	s.roles = []lab.Role{lab.RoleDB}
	s.setDone("SQL-ONE", "SQL-TWO", "SQL-THREE")
	sum, out, _, err := rtRun(t, &Runner{Steps: []Step{s}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.list(); len(got) != 3 || rec.count("join:check:") != 3 {
		t.Errorf("calls %v, want one check per node", got)
	}
	if c, a := sum.Totals(); c != 0 || a != 1 || !strings.Contains(out, "✓ Doing join (already done)") {
		t.Errorf("totals %d changed %d already\n%s", c, a, out)
	}
}
