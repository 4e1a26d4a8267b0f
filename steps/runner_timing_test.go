package steps

import (
	"context"
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
		nodes[s.Step]++
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
