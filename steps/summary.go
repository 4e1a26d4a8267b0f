package steps

// What a run did: per step, and in a dry run the pending changes per node.

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"labctl/lab"
)

// StepResult is what one step did.
type StepResult struct {
	Name, Title string
	Changed     int // nodes applied (or, in dry-run, that would change)
	Already     int // nodes already done
	Skipped     bool
	Duration    time.Duration
}

// Change is one dry-run finding: a step not done on a node.
type Change struct {
	Node, Step, Why string
	// After: the node already has an earlier pending change, so this step was
	// not checked (its check would read a state the earlier change alters).
	After bool
}

// Summary is the outcome of a run.
type Summary struct {
	Mode     Mode
	Steps    []StepResult
	Changes  []Change // ModeDryRun only
	Duration time.Duration
}

// Totals counts the steps that changed something and those already done.
func (s Summary) Totals() (changed, already int) {
	for _, st := range s.Steps {
		switch {
		case st.Skipped:
		case st.Changed > 0:
			changed++
		default:
			already++
		}
	}
	return changed, already
}

// Print writes the end-of-run report: in dry-run the changes grouped per
// node (or "no changes"); after a real run the totals, the time taken and
// how to reach WordPress.
func (s Summary) Print(w io.Writer, plan *lab.Plan) {
	switch s.Mode {
	case ModePlan:
		return // the plan was printed while running
	case ModeDryRun:
		s.printChanges(w, plan)
		return
	}
	changed, already := s.Totals()
	fmt.Fprintf(w, "Done in %s: %d step(s) changed something, %d already done.\n",
		s.Duration.Round(time.Second), changed, already)
	if plan == nil || plan.LB() == nil {
		return
	}
	for _, st := range s.Steps {
		if !st.Skipped && (st.Name == "verify" || st.Name == "wordpress-install") {
			fmt.Fprintf(w, "How to reach WordPress: %s/\n", plan.VisitorURL())
			return
		}
	}
}

func (s Summary) printChanges(w io.Writer, plan *lab.Plan) {
	if len(s.Changes) == 0 {
		fmt.Fprintln(w, "No changes: the lab already matches lab.toml.")
		return
	}
	if plan != nil && plan.SeatLine() != "" {
		fmt.Fprintln(w, plan.SeatLine())
	}
	fmt.Fprintln(w, "labctl up would make these changes:")
	var order []string
	byNode := map[string][]Change{}
	for _, c := range s.Changes {
		if _, ok := byNode[c.Node]; !ok {
			order = append(order, c.Node)
		}
		byNode[c.Node] = append(byNode[c.Node], c)
	}
	// The lab-wide changes first, then the nodes in lab order.
	rank := func(node string) int {
		if node == "lab" {
			return -1
		}
		if plan != nil {
			for i, n := range plan.Nodes {
				if n.Name() == node {
					return i
				}
			}
		}
		return len(order)
	}
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	for _, node := range order {
		fmt.Fprintf(w, "%s:\n", node)
		var then []string
		for _, c := range byNode[node] {
			if c.After {
				then = append(then, c.Step)
				continue
			}
			fmt.Fprintf(w, "  - %s: %s\n", c.Step, c.Why)
		}
		if len(then) > 0 {
			fmt.Fprintf(w, "  - then: %s\n", strings.Join(then, ", "))
		}
	}
}
