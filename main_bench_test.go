package main

// BenchmarkUp runs the whole `labctl up` against the fake VBoxManage and
// simulated guests with realistic latencies scaled down, and compares the
// wall time with the critical-path lower bound the pipeline allows.
//
//	go test -run '^$' -bench BenchmarkUp -benchtime 1x .
//	LABCTL_BENCH_SCALE=20 go test -run '^$' -bench BenchmarkUp -benchtime 1x .
//
// Metrics: wall/critical (target <= 1.15), wall-s and critical-s (scaled
// back to real seconds), rerun-s (a second up of the complete lab, at real
// scale: every check costs one modelled SSH round trip, VBoxManage calls
// cost what the fake costs), vbox-calls (per first up) and vbox-call-ms
// (the fake's measured cost per call on this host, which does not scale).

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/steps"
	"labctl/steps/steptest"
)

// Real-scale latencies. A VM phase step's time is the fake's: a linked
// clone takes benchClone, a VM's Guest Additions answer benchBoot after
// startvm. A guest step's time is per node (serial steps add up).
const (
	benchClone = 2 * time.Second
	benchBoot  = 25 * time.Second
	benchCheck = 20 * time.Millisecond // one SSH round trip per check
)

var benchGuestLatency = map[string]time.Duration{
	"fresh-identity":    3 * time.Second,
	"guest-network":     3 * time.Second,
	"ssh-access":        2 * time.Second,
	"wait-ssh":          1 * time.Second,
	"hosts-file":        1 * time.Second,
	"firewall":          3 * time.Second,
	"packages":          60 * time.Second,
	"selinux":           3 * time.Second,
	"mysql-config":      3 * time.Second,
	"group-replication": 10 * time.Second, // per node, one node at a time
	"keepalived":        2 * time.Second,
	"wordpress-db":      1 * time.Second,
	"web":               3 * time.Second,
	"load-balancer":     2 * time.Second,
	"wordpress-install": 3 * time.Second,
	"verify":            2 * time.Second,
}

func benchScale(b *testing.B) float64 {
	s := 100.0
	if v := os.Getenv("LABCTL_BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 1 {
			b.Fatalf("LABCTL_BENCH_SCALE=%q: want a number >= 1", v)
		}
		s = f
	}
	return s
}

func BenchmarkUp(b *testing.B) {
	scale := benchScale(b)
	sc := func(d time.Duration) time.Duration { return time.Duration(float64(d) / scale) }
	var wall, crit, rerun time.Duration
	var calls, rerunCalls int
	var perCall, guestWall, guestCrit, rerunVM, rerunGuest time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		u := newUpLab(b, true, vboxtest.WithGuestAdditionsDelay(sc(benchBoot)))
		u.fake.SetLatency(map[string]time.Duration{"clonevm": sc(benchClone)})
		u.sim.Latency = benchGuestLatency
		u.sim.DefaultLatency = time.Second
		u.sim.CheckLatency = benchCheck
		u.sim.Scale = scale
		// Every time in the model is scaled, so is wait-guests' poll (1 s).
		pipeline = func() []steps.Step { return upFastPoll(steptest.SimPipeline(u.sim), sc(time.Second)) }
		pipe := pipeline()
		// The lower bound: one clone and one boot (all VMs at once), then the
		// simulated steps (concurrent: one node's time; serial: the sum).
		critical := sc(benchClone) + sc(benchBoot) + u.sim.CriticalPath(u.plan, pipe)
		perCall = benchCallCost(b, u.fake)
		n0 := len(u.fake.Argv())

		b.StartTimer()
		start := time.Now()
		code, out, errOut := u.labctl(context.Background(), "up")
		w := time.Since(start)
		b.StopTimer()
		if code != 0 {
			b.Fatalf("up: exit %d\n%s\n%s", code, out, errOut)
		}
		if m := u.sim.Missing(u.plan, pipe); len(m) != 0 {
			b.Fatalf("up left simulated steps undone: %v", m)
		}
		calls = len(u.fake.Argv()) - n0
		wall += w
		crit += critical
		benchExplain(b, u, pipe, w, critical, scale)
		_, g := benchPhases(pipe, benchStepTimes(b, u))
		guestWall += g
		guestCrit += u.sim.CriticalPath(u.plan, pipe)

		// The re-run of the complete lab, at real scale.
		u.sim.Scale = 1
		applies := u.sim.Applies()
		n1 := len(u.fake.Argv())
		// A new second for the log's name: the first run's log must not be overwritten or mistaken.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		start = time.Now()
		code, out, errOut = u.labctl(context.Background(), "up")
		rerun += time.Since(start)
		if code != 0 || u.sim.Applies() != applies {
			b.Fatalf("re-run: exit %d, %d applies\n%s\n%s", code, u.sim.Applies()-applies, out, errOut)
		}
		rerunCalls = len(u.fake.Argv()) - n1
		v, g := benchPhases(pipe, benchStepTimes(b, u))
		rerunVM += v
		rerunGuest += g
	}
	n := time.Duration(b.N)
	ratio := float64(wall) / float64(crit)
	b.ReportMetric(ratio, "wall/critical")
	b.ReportMetric((wall/n).Seconds()*scale, "wall-s")
	b.ReportMetric((crit/n).Seconds()*scale, "critical-s")
	b.ReportMetric((rerun / n).Seconds(), "rerun-s")
	b.ReportMetric(float64(guestWall)/float64(guestCrit), "guest-wall/critical")
	b.ReportMetric(float64(calls), "vbox-calls")
	b.ReportMetric(float64(perCall.Microseconds())/1000, "vbox-call-ms")
	b.Logf("scale 1/%g: wall %s, critical path %s: wall/critical = %.3f (target <= 1.15); re-run of the complete lab %s (target <= 3 s); %d VBoxManage calls in the first up, %s each on this host",
		scale, (wall / n).Round(time.Millisecond), (crit / n).Round(time.Millisecond), ratio, (rerun / n).Round(time.Millisecond), calls, perCall.Round(100*time.Microsecond))
	b.Logf("guest steps alone: %s against their critical path %s (ratio %.3f); re-run: VM phase %s (%d VBoxManage calls), guest steps %s",
		(guestWall / n).Round(time.Millisecond), (guestCrit / n).Round(time.Millisecond), float64(guestWall)/float64(guestCrit),
		(rerunVM / n).Round(time.Millisecond), rerunCalls, (rerunGuest / n).Round(time.Millisecond))
}

// benchCallCost measures what one fake VBoxManage call costs here (a read
// that changes nothing): the part of the wall time the scale cannot shrink.
func benchCallCost(b *testing.B, f *vboxtest.Fake) time.Duration {
	const n = 10
	start := time.Now()
	for range n {
		if r := f.Run("showvminfo", vboxtest.BaseVM, "--machinereadable"); r.Code != 0 {
			b.Fatalf("showvminfo: %s", r.Stderr)
		}
	}
	return time.Since(start) / n
}

// benchStepTimes reads each step's time from the newest run log.
func benchStepTimes(b *testing.B, u *upLab) map[string]time.Duration {
	logs, _ := filepath.Glob(filepath.Join(u.stateDir, lab.LogsDir, "up-*.log"))
	if len(logs) == 0 {
		b.Fatalf("no run log under %s", u.stateDir)
	}
	sort.Slice(logs, func(i, j int) bool {
		fi, _ := os.Stat(logs[i])
		fj, _ := os.Stat(logs[j])
		return fi.ModTime().Before(fj.ModTime())
	})
	f, err := os.Open(logs[len(logs)-1])
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	took := map[string]time.Duration{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if m := benchStepEnd.FindStringSubmatch(sc.Text()); m != nil {
			if d, err := time.ParseDuration(m[2]); err == nil {
				took[m[1]] = d
			}
		}
	}
	return took
}

// benchPhases splits step times into the VM phase (real steps against the
// fake) and the simulated guest steps.
func benchPhases(pipe []steps.Step, took map[string]time.Duration) (vm, guest time.Duration) {
	for _, s := range pipe {
		if _, ok := s.(*steptest.SimStep); ok {
			guest += took[s.Name()]
		} else {
			vm += took[s.Name()]
		}
	}
	return vm, guest
}

var benchStepEnd = regexp.MustCompile(`step (\S+): end: .* in (\S+)$`)

// benchExplain logs, from the run log, each step's time against its
// modelled lower bound, largest excess first: where the wall time went.
func benchExplain(b *testing.B, u *upLab, pipe []steps.Step, wall, critical time.Duration, scale float64) {
	took := benchStepTimes(b, u)
	type row struct {
		step           string
		took, modelled time.Duration
	}
	var rows []row
	for _, s := range pipe {
		var m time.Duration
		switch s.Name() {
		case "clone-vms":
			m = time.Duration(float64(benchClone) / scale)
		case "wait-guests":
			m = time.Duration(float64(benchBoot) / scale) // from startvm: an upper bound on this step's share
		default:
			if _, ok := s.(*steptest.SimStep); ok {
				m = u.sim.CriticalPath(u.plan, []steps.Step{s})
			}
		}
		rows = append(rows, row{s.Name(), took[s.Name()], m})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].took-rows[i].modelled > rows[j].took-rows[j].modelled })
	var lines []string
	for _, r := range rows {
		lines = append(lines, r.step+": "+r.took.Round(time.Millisecond).String()+" (model "+r.modelled.Round(time.Millisecond).String()+")")
	}
	b.Logf("wall %s vs critical %s; per step, largest excess first:\n  %s", wall.Round(time.Millisecond), critical.Round(time.Millisecond), strings.Join(lines, "\n  "))
}
