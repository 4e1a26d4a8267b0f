package reallab

import (
	"regexp"
	"testing"
	"time"
)

// speedPhase is the core phase's speed figures alone, for a quick
// measurement (REALLAB_PHASES=speed): a converged re-up (target ≤ 2 s),
// status under load, and `up` after a crash drill (the rejoin, target
// ≤ 5 s), each with where its time went. A full run measures the same in
// the core phase and skips this one.
func speedPhase(t *testing.T, e *Env, l labctlRunner) {
	t.Helper()
	out, d, err := l.run(t, 10*time.Minute, "up")
	record("labctl up again (converged lab)", d)
	if err != nil {
		t.Fatalf("second labctl up: %v", err)
	}
	reportTimes(t, l, "re-up", d)
	if !regexp.MustCompile(`: 0 step\(s\) changed something`).MatchString(out) {
		t.Errorf("second up changed something; summary:\n%s", lastLines(out, 5))
	}
	checkStatusJSON(t, l)
	statusUnderLoad(t, l)
	drill(t, e)
	_, d, err = l.run(t, 10*time.Minute, "up")
	record("labctl up after the drill (rejoin)", d)
	if err != nil {
		t.Fatalf("labctl up after the drill: %v", err)
	}
	reportTimes(t, l, "up after rejoin", d)
	checkLab(t, e)
}
