package reallab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// phaseOn says whether a phase of TestLabctlUp runs: all of them unless
// REALLAB_PHASES names some (comma-separated, e.g. "exercises"); the lab is
// always built first and taken down last.
func phaseOn(name string) bool {
	v := strings.TrimSpace(os.Getenv("REALLAB_PHASES"))
	if v == "" {
		return true
	}
	return slices.Contains(strings.Split(v, ","), name)
}

// exercisePhase runs every built-in exercise that supports the debian
// profile on the built lab, with the unmodified binary: start → check
// fails and prints a hint → solve → check passes → reset → verify passes;
// the reset must leave no result behind.
func exercisePhase(t *testing.T, l labctlRunner) {
	t.Helper()
	out, _, err := l.run(t, time.Minute, "exercise", "list", "--json")
	if err != nil {
		t.Fatalf("labctl exercise list: %v", err)
	}
	var list []struct {
		Name string `json:"name"`
		Runs bool   `json:"runs_on_this_lab"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &list); err != nil {
		t.Fatalf("exercise list --json: %v\n%s", err, out)
	}
	only := os.Getenv("REALLAB_EXERCISES") // to iterate on a few
	var names []string
	for _, e := range list {
		if e.Runs && (only == "" || slices.Contains(strings.Split(only, ","), e.Name)) {
			names = append(names, e.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no built-in exercise runs on the debian profile")
	}
	phase := time.Now()
	for _, name := range names {
		if !exerciseRound(t, l, name) {
			return // the lab may be broken; later exercises would only repeat the failure
		}
	}
	record(fmt.Sprintf("exercises: all %d debian exercises", len(names)), time.Since(phase))
}

// exerciseRound runs one exercise; false when the lab is left unusable.
func exerciseRound(t *testing.T, l labctlRunner, name string) bool {
	t.Helper()
	step := func(what string, limit time.Duration, wantOK bool, args ...string) (string, bool) {
		out, d, err := l.run(t, limit, args...)
		record(fmt.Sprintf("exercise %s: %s", name, what), d)
		if (err == nil) != wantOK {
			t.Errorf("exercise %s: %s: exit error %v, want success=%t\n%s", name, what, err, wantOK, lastLines(out, 30))
			return out, false
		}
		return out, true
	}
	round := time.Now()
	ok := true
	if _, ok = step("start", 5*time.Minute, true, "exercise", "start", name); ok {
		out, fine := step("check (broken)", 3*time.Minute, false, "exercise", "check")
		if fine && !strings.Contains(out, "hint: ") {
			t.Errorf("exercise %s: a failing check printed no hint:\n%s", name, out)
		}
		if _, ok = step("solve", 8*time.Minute, true, "exercise", "solve", "--yes"); ok {
			step("check (solved)", 3*time.Minute, true, "exercise", "check")
			report := filepath.Join(l.state, "report-"+name+".json")
			if out, ok := step("report", time.Minute, true, "exercise", "report", "--out", report); ok && !strings.Contains(out, "(signed)") {
				t.Errorf("exercise %s: the report is not signed:\n%s", name, out)
			}
			step("report --check", time.Minute, true, "exercise", "report", "--check", report)
		}
	}
	if _, rok := step("reset (restore + converge)", 20*time.Minute, true, "exercise", "reset", "--yes"); !rok {
		return false
	}
	out, _ := step("status after reset", time.Minute, true, "exercise", "status")
	if !strings.Contains(out, "No exercise in progress") {
		t.Errorf("exercise %s: a result survived the reset:\n%s", name, out)
	}
	_, vok := step("verify after reset", 5*time.Minute, true, "verify")
	record(fmt.Sprintf("exercise %s: whole round", name), time.Since(round))
	return vok
}
