package steps

import (
	"strings"
	"testing"
)

// The Runner tolerates Needs it cannot resolve (so partial step lists
// work); the real pipeline must have none, and every need must come earlier.
func TestPipelineNamesAndNeedsAreConsistent(t *testing.T) {
	steps := Pipeline()
	pos := map[string]int{}
	for i, s := range steps {
		if _, dup := pos[s.Name()]; dup {
			t.Errorf("two steps named %q", s.Name())
		}
		pos[s.Name()] = i
		if s.Title() == "" || strings.ContainsAny(s.Name(), " ,") {
			t.Errorf("step %q: bad name or empty title", s.Name())
		}
	}
	for i, s := range steps {
		for _, need := range needsOf(s) {
			j, ok := pos[need]
			switch {
			case !ok:
				t.Errorf("%s needs %q, which is not in the pipeline", s.Name(), need)
			case j >= i:
				t.Errorf("%s needs %q, which comes after it", s.Name(), need)
			}
		}
	}
	want := "preflight,lab-network,base-snapshot,clone-vms,configure-vms,start-vms,wait-guests"
	if got := strings.Join(Names(VMPhase()), ","); got != want {
		t.Errorf("VM phase = %s", got)
	}
	if got := strings.Join(Names(steps[:7]), ","); got != want {
		t.Errorf("pipeline starts with %s", got)
	}
	if steps[len(steps)-1].Name() != "verify" {
		t.Errorf("pipeline ends with %s, want verify", steps[len(steps)-1].Name())
	}
	// Steps with per-run state are fresh values on each call.
	if Pipeline()[4] == Pipeline()[4] {
		t.Error("Pipeline shares a configure-vms value between calls")
	}
}
