package steps_test

import (
	"context"
	"testing"
	"time"

	"labctl/steps"
	"labctl/steps/steptest"
)

// BenchmarkRunnerGuestSteps runs the Runner over the simulated guest steps
// alone (no VirtualBox, no process per call) with realistic per-node
// latencies scaled down 100 times, and reports wall time over the critical
// path: the Runner's own cost (fan-out, progress, logging) per step.
// The whole tool's benchmark, VM phase included, is BenchmarkUp in the
// root package.
//
//	go test -run '^$' -bench BenchmarkRunnerGuestSteps ./steps/
func BenchmarkRunnerGuestSteps(b *testing.B) {
	b.Setenv("LABCTL_STATE_DIR", b.TempDir())
	p := simPlan(b)
	var wall, crit time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sim := steptest.NewSim()
		sim.Scale = 100
		sim.CheckLatency = 20 * time.Millisecond
		sim.DefaultLatency = 3 * time.Second
		sim.Latency = map[string]time.Duration{
			"packages": 60 * time.Second, "group-replication": 10 * time.Second,
			"wait-ssh": time.Second, "hosts-file": time.Second, "wordpress-db": time.Second,
		}
		pipe := simOnly(sim)
		crit += sim.CriticalPath(p, pipe)
		r := &steps.Runner{Steps: pipe, Mode: steps.ModeApply, Concurrency: 6}
		b.StartTimer()
		start := time.Now()
		if _, err := r.Run(context.Background(), &steps.Env{Plan: p}); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		b.StopTimer()
		if m := sim.Missing(p, pipe); len(m) != 0 {
			b.Fatalf("not applied: %v", m)
		}
	}
	ratio := float64(wall) / float64(crit)
	b.ReportMetric(ratio, "wall/critical")
	b.Logf("guest steps: wall %s, critical path %s, wall/critical = %.3f", (wall / time.Duration(b.N)).Round(time.Millisecond),
		(crit / time.Duration(b.N)).Round(time.Millisecond), ratio)
}
