package reallab

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"labctl/internal/critpath"
)

// latestLog is the newest run log of command in the lab's state folder.
func latestLog(t *testing.T, l labctlRunner, command string) string {
	t.Helper()
	var logs []string
	for _, pat := range []string{"logs/" + command + "-*.log", "*/logs/" + command + "-*.log"} {
		m, _ := filepath.Glob(filepath.Join(l.state, pat))
		logs = append(logs, m...)
	}
	if len(logs) == 0 {
		t.Errorf("no %s run log under %s", command, l.state)
		return ""
	}
	mod := func(p string) time.Time {
		st, err := os.Stat(p)
		if err != nil {
			return time.Time{}
		}
		return st.ModTime()
	}
	sort.Slice(logs, func(i, j int) bool { return mod(logs[i]).Before(mod(logs[j])) })
	return logs[len(logs)-1]
}

// reportTimes prints, for the latest `up`, its wall time beside the critical
// path computed from the run log's step×node durations, the bound of a
// runner that finishes every step everywhere before the next, the chain
// itself and the five most expensive step×node pairs. Figures only: a busy
// machine may miss any target, so nothing here is asserted but the log.
func reportTimes(t *testing.T, l labctlRunner, label string, wall time.Duration) {
	t.Helper()
	path := latestLog(t, l, "up")
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("run log: %v", err)
		return
	}
	defer f.Close()
	spans, err := critpath.Parse(f)
	if err != nil {
		t.Errorf("run log %s: %v", path, err)
		return
	}
	if len(spans) == 0 {
		t.Errorf("run log %s has no step×node durations", path)
		return
	}
	if dir := os.Getenv("REALLAB_SAVE_LOGS"); dir != "" {
		// The whole log, for a closer look than the figures below.
		if b, err := os.ReadFile(path); err == nil {
			_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(label, " ", "-")+".log"), b, 0o600)
		}
	}
	r := critpath.Compute(spans)
	record(label+": critical path", r.Path)
	record(label+": step-by-step bound", r.StepBound)
	fmt.Printf("REALLAB %-44s %8.2f\n", label+": wall / critical path", wall.Seconds()/r.Path.Seconds())
	fmt.Printf("REALLAB %s: critical path:", label)
	for _, s := range r.Chain {
		if s.Took >= 100*time.Millisecond {
			fmt.Printf(" %s", s)
		}
	}
	fmt.Println()
	for i, s := range critpath.Top(spans, 5) {
		fmt.Printf("REALLAB %s: top %d: %-36s %8.1fs\n", label, i+1, s.Step+"@"+s.Node, s.Took.Seconds())
	}
}
