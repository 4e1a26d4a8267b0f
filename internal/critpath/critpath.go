// Package critpath says where a run's time went: the runner writes one
// timing line per step and node into the run log (Line), and Parse + Compute
// turn a log back into the critical path (the longest chain of dependent
// step×node times, i.e. the shortest wall time any scheduler could reach
// with those durations) and the most expensive step×node pairs.
package critpath

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Kind says what a step's node times wait for.
type Kind string

// The kinds of timing lines.
const (
	// PerNode: a node's work waits only for the same node's earlier steps
	// (and the last barrier).
	PerNode Kind = "node"
	// Serial: the step's nodes run one after another, after each of them
	// has done its earlier steps; their later steps wait for the last one.
	// Nodes the step does not target do not wait for it.
	Serial Kind = "serial"
	// Barrier: the work reads or needs every node (lab-wide steps, a step's
	// Prepare, a node's work that needs other nodes' results): it starts
	// after every earlier step everywhere and everything later waits for it.
	Barrier Kind = "barrier"
)

// Span is one step×node duration.
type Span struct {
	Step, Node string
	Kind       Kind
	Took       time.Duration
}

func (s Span) String() string {
	return fmt.Sprintf("%s@%s %s", s.Step, s.Node, s.Took.Round(time.Millisecond))
}

// marker starts the timing part of a run-log line.
const marker = "timing "

// Line is the run-log text of one span (the runner adds its time stamp).
func Line(s Span) string {
	return fmt.Sprintf("%sstep=%s node=%s kind=%s took=%s", marker, s.Step, s.Node, s.Kind, s.Took)
}

// Parse reads the spans of a run log, in the order they were written. Other
// lines are skipped; a malformed timing line is an error naming its line.
func Parse(r io.Reader) ([]Span, error) {
	var out []Span
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for no := 1; sc.Scan(); no++ {
		line := sc.Text()
		i := strings.Index(line, " "+marker+"step=")
		if i < 0 {
			continue
		}
		s, err := parseFields(line[i+1+len(marker):])
		if err != nil {
			return nil, fmt.Errorf("run log line %d: %w: %q", no, err, line)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseFields(text string) (Span, error) {
	var s Span
	seen := 0
	for _, f := range strings.Fields(text) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return s, fmt.Errorf("field %q is not key=value", f)
		}
		switch k {
		case "step":
			s.Step = v
		case "node":
			s.Node = v
		case "kind":
			s.Kind = Kind(v)
			if s.Kind != PerNode && s.Kind != Serial && s.Kind != Barrier {
				return s, fmt.Errorf("unknown kind %q", v)
			}
		case "took":
			d, err := time.ParseDuration(v)
			if err != nil {
				return s, fmt.Errorf("took: %w", err)
			}
			s.Took = d
		default:
			continue
		}
		seen++
	}
	if seen != 4 || s.Step == "" || s.Node == "" {
		return s, fmt.Errorf("want step=, node=, kind= and took=")
	}
	return s, nil
}

// Result is what Compute finds.
type Result struct {
	// Path is the critical path's length; Chain its spans, first to last.
	Path  time.Duration
	Chain []Span
	// StepBound is the sum over steps of their slowest node: the wall time
	// of a runner that finishes every step everywhere before the next.
	StepBound time.Duration
	// Total is the sum of every span: the work done.
	Total time.Duration
}

// Compute finds the critical path of spans given in run order. Consecutive
// spans of one step form that step (a step appears once per run); per-node
// spans chain per node, Serial spans chain among themselves (after their
// nodes' earlier steps), Barrier spans run in parallel with each other
// after everything before them, and everything after waits for them.
func Compute(spans []Span) Result {
	type done struct {
		at   time.Duration
		from *link
	}
	var res Result
	ready := map[string]done{} // per node: when its chain is free
	var wall done              // every node's work so far ends by this
	latest := func() done {
		out := wall
		for _, d := range ready {
			if d.at > out.at {
				out = d
			}
		}
		return out
	}
	for i := 0; i < len(spans); {
		j := i
		for j < len(spans) && spans[j].Step == spans[i].Step && spans[j].Kind == spans[i].Kind {
			j++
		}
		group := spans[i:j]
		var slowest, sum time.Duration
		for _, s := range group {
			sum += s.Took
			slowest = max(slowest, s.Took)
		}
		res.Total += sum
		if group[0].Kind == Serial {
			res.StepBound += sum // one node after another
		} else {
			res.StepBound += slowest
		}
		switch group[0].Kind {
		case PerNode:
			for _, s := range group {
				start := wall
				if d, ok := ready[s.Node]; ok && d.at > start.at {
					start = d
				}
				ready[s.Node] = done{start.at + s.Took, &link{s, start.from}}
			}
		case Serial:
			// The nodes need each other (one joins the group after
			// another), not the nodes the step does not target.
			t := wall
			for _, s := range group {
				if d, ok := ready[s.Node]; ok && d.at > t.at {
					t = d
				}
			}
			for _, s := range group {
				t = done{t.at + s.Took, &link{s, t.from}}
			}
			for _, s := range group {
				ready[s.Node] = t
			}
		default: // Barrier
			start := latest()
			end := start
			for _, s := range group {
				if start.at+s.Took >= end.at {
					end = done{start.at + s.Took, &link{s, start.from}}
				}
			}
			wall, ready = end, map[string]done{}
		}
		i = j
	}
	last := latest()
	res.Path = last.at
	for l := last.from; l != nil; l = l.prev {
		res.Chain = append([]Span{l.span}, res.Chain...)
	}
	return res
}

// link is one span of a chain, pointing back to the span it waited for.
type link struct {
	span Span
	prev *link
}

// Top returns the n longest spans, longest first (ties in run order).
func Top(spans []Span, n int) []Span {
	out := append([]Span(nil), spans...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Took > out[j].Took })
	if len(out) > n {
		out = out[:n]
	}
	return out
}
