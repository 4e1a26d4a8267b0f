package critpath

import (
	"strings"
	"testing"
	"time"
)

const s = time.Second

func TestLineParsesBack(t *testing.T) {
	in := []Span{
		{"preflight", "lab", Barrier, 1200 * time.Millisecond},
		{"packages", "SQL-ONE", PerNode, 20*s + 5*time.Millisecond},
		{"group-replication", "SQL-TWO", Serial, 3 * s},
	}
	var log strings.Builder
	log.WriteString("16:00:00.000 run: mode=apply steps=a,b\n")
	for _, sp := range in {
		log.WriteString("16:00:01.000 " + Line(sp) + "\n")
		log.WriteString("16:00:01.000 step x: SQL-ONE: changed\n")
	}
	got, err := Parse(strings.NewReader(log.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("parsed %v, want %v", got, in)
	}
	for i := range in {
		if got[i] != in[i] {
			t.Errorf("span %d: %+v, want %+v", i, got[i], in[i])
		}
	}
}

func TestParseRejectsBrokenLine(t *testing.T) {
	for _, bad := range []string{
		"10:00:00.000 timing step=a node=X kind=node took=fast",
		"10:00:00.000 timing step=a node=X kind=sideways took=1s",
		"10:00:00.000 timing step=a node=X took=1s",
	} {
		_, err := Parse(strings.NewReader("ok line\n" + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: err %v, want one naming line 2", bad, err)
		}
	}
}

// Two per-node steps where each node is slow in a different one: a runner
// that waits for every node between steps needs 10+10 s, but each node's
// own chain is only 11 s.
func TestPerNodeChainsAreIndependent(t *testing.T) {
	r := Compute([]Span{
		{"a", "N1", PerNode, 10 * s}, {"a", "N2", PerNode, 1 * s},
		{"b", "N1", PerNode, 1 * s}, {"b", "N2", PerNode, 10 * s},
	})
	if r.Path != 11*s || r.StepBound != 20*s || r.Total != 22*s {
		t.Errorf("path %s bound %s total %s, want 11s 20s 22s", r.Path, r.StepBound, r.Total)
	}
	if len(r.Chain) != 2 || r.Chain[0].Node != r.Chain[1].Node {
		t.Errorf("chain %v: want two spans of one node", r.Chain)
	}
}

// A barrier waits for the slowest node; a serial step chains its nodes.
func TestBarrierAndSerial(t *testing.T) {
	r := Compute([]Span{
		{"pre", "lab", Barrier, 2 * s},
		{"a", "N1", PerNode, 5 * s}, {"a", "N2", PerNode, 7 * s},
		{"gr", "N1", Serial, 3 * s}, {"gr", "N2", Serial, 4 * s},
		{"b", "N1", PerNode, 1 * s}, {"b", "N2", PerNode, 2 * s},
		{"v", "N1", Barrier, 1 * s},
	})
	// 2 + 7 (N2's a) + 3 + 4 (gr in series) + 2 (N2's b) + 1.
	if r.Path != 19*s {
		t.Errorf("path %s, want 19s", r.Path)
	}
	var names []string
	for _, sp := range r.Chain {
		names = append(names, sp.Step+"@"+sp.Node)
	}
	if got := strings.Join(names, " "); got != "pre@lab a@N2 gr@N1 gr@N2 b@N2 v@N1" {
		t.Errorf("chain %s", got)
	}
	// Every step's slowest node is on the path here, and the serial step counts whole.
	if r.StepBound != 19*s {
		t.Errorf("step bound %s, want 19s", r.StepBound)
	}
}

// A node that joins after a barrier starts at that barrier.
func TestNodeAfterBarrier(t *testing.T) {
	r := Compute([]Span{
		{"a", "N1", PerNode, 4 * s},
		{"pre", "lab", Barrier, 1 * s},
		{"b", "N2", PerNode, 3 * s},
	})
	if r.Path != 8*s || len(r.Chain) != 3 {
		t.Errorf("path %s chain %v, want 8s over three spans", r.Path, r.Chain)
	}
}

func TestTop(t *testing.T) {
	sp := []Span{{"a", "N1", PerNode, 1 * s}, {"b", "N1", PerNode, 5 * s}, {"c", "N2", PerNode, 5 * s}, {"d", "N1", PerNode, 3 * s}}
	top := Top(sp, 3)
	if len(top) != 3 || top[0].Step != "b" || top[1].Step != "c" || top[2].Step != "d" {
		t.Errorf("top %v", top)
	}
	if len(Top(sp, 10)) != 4 {
		t.Errorf("top of more than there are")
	}
}

// A serial step on some nodes waits for those nodes only: the web node's
// long install runs beside the group's formation.
func TestSerialWaitsForItsOwnNodesOnly(t *testing.T) {
	r := Compute([]Span{
		{"packages", "DB1", PerNode, 5 * s}, {"packages", "DB2", PerNode, 6 * s}, {"packages", "WEB", PerNode, 20 * s},
		{"gr", "DB1", Serial, 3 * s}, {"gr", "DB2", Serial, 3 * s},
		{"kad", "DB1", PerNode, 1 * s},
		{"install", "WEB", Barrier, 2 * s},
	})
	// DB: 6 + 3 + 3 + 1 = 13; the web node's 20 s is the longer chain.
	if r.Path != 22*s {
		t.Errorf("path %s, want 22s (the web node's packages, then the install)", r.Path)
	}
	if r.StepBound != 20*s+6*s+1*s+2*s {
		t.Errorf("step bound %s, want 29s", r.StepBound)
	}
	if len(r.Chain) != 2 || r.Chain[0].Node != "WEB" {
		t.Errorf("chain %v", r.Chain)
	}
}
