package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/redact"
	"labctl/ui"
	"labctl/vbox"
)

// Runner runs an ordered list of steps against the lab. Per step it checks
// every target node and applies only where the check says so, then checks
// again; it stops between steps at the first failure. Truth lives in the
// VMs: resuming after a failure or Ctrl-C is simply running it again.
type Runner struct {
	Steps []Step
	// Concurrency bounds how many nodes of a step are handled at once (0 = all).
	Concurrency int
	Mode        Mode
	// From starts at the named step; Only runs just the named steps (comma
	// separated). Skipped steps a selected step Needs must already be done.
	From, Only string
	// Display shows progress; nil = one made on Out in Progress mode and
	// closed at the end of Run.
	Display *ui.Display
	// Out receives progress (a live line on a terminal, plain lines otherwise)
	// and, in ModePlan, the plan.
	Out      io.Writer
	Progress ui.Mode
	// Log receives every step/node start, verdict and error (and, through
	// Env.Log, every command). It must already redact secrets.
	Log io.Writer
	// LogPath is the log's file name, named by the final error.
	LogPath string
	// Verbose, when set, also receives the log (secrets redacted again here).
	Verbose io.Writer
}

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

// RunError is a failed or interrupted run. Err holds the node-prefixed
// errors of the failing step (errors.Is/As reach each of them).
type RunError struct {
	Step, Title string
	Err         error
	// Interrupted: ctx ended (Ctrl-C); Cause is ctx's error.
	Interrupted bool
	Cause       error
	LogPath     string
	secrets     []string // hidden from Error(): a step's error may quote a command's output
}

func (e *RunError) Error() string {
	return redact.String(e.text(), e.secrets...)
}

func (e *RunError) text() string {
	var b strings.Builder
	if e.Interrupted {
		fmt.Fprintf(&b, "interrupted during %q (%s): nothing is lost, run `labctl up` again to resume", e.Title, e.Step)
	} else {
		fmt.Fprintf(&b, "step %q (%s) failed", e.Title, e.Step)
	}
	merr, isList := e.Err.(*multierror.Error)
	switch {
	case isList && len(merr.Errors) > 0:
		b.WriteString(":")
		for _, x := range merr.Errors {
			b.WriteString("\n  " + x.Error())
		}
	case e.Err != nil && !(e.Interrupted && errors.Is(e.Err, e.Cause)):
		b.WriteString(": " + e.Err.Error())
	}
	if e.LogPath != "" {
		b.WriteString("\nsee the log for every command and its output: " + e.LogPath)
	}
	return b.String()
}

// Unwrap exposes the step's errors and, when interrupted, ctx's error.
func (e *RunError) Unwrap() []error {
	out := []error{}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// Warnf shows a warning to the user and logs it. Nil-safe.
func (e *Env) Warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if e.Warn != nil {
		e.Warn(msg)
	} else if e.Log != nil {
		fmt.Fprintln(e.Log, "WARNING:", msg)
	}
}

// PlanNotef adds a comment line to the plan (ModePlan) for what a step does
// that no recorder sees, such as a wait. No-op outside ModePlan.
func (e *Env) PlanNotef(format string, args ...any) {
	if e.Mode == ModePlan && e.Transcript != nil {
		fmt.Fprintf(e.Transcript, "# "+format+"\n", args...)
	}
}

// Transcript collects plan lines, one per write; the Runner attributes
// them to the step and node whose Apply is running (plan mode handles one
// node at a time).
type Transcript struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *Transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Write(p)
}

// take returns and forgets the lines written so far.
func (t *Transcript) take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimRight(t.buf.String(), "\n")
	t.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// syncWriter serialises writes from node goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// run is the state of one Run.
type run struct {
	r     *Runner
	env   *Env
	prog  *ui.Display
	log   io.Writer
	sum   *Summary
	plan  io.Writer
	mu    sync.Mutex
	after map[string]bool // dry-run: nodes (by name; "" = the lab) with a pending change
}

func nodeLabel(n *lab.Node) string {
	if n == nil {
		return "lab"
	}
	return n.Name()
}

func isLabWide(s Step) bool {
	lw, ok := s.(LabWide)
	return ok && lw.LabWide()
}

func isSerial(s Step) bool {
	se, ok := s.(Serial)
	return ok && se.Serial()
}

func needsOf(s Step) []string {
	if n, ok := s.(Needs); ok {
		return n.Needs()
	}
	return nil
}

// Names returns the step names in order, for help texts and errors.
func Names(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name()
	}
	return out
}

// Run runs the selected steps. In ModePlan it prints, per step and node,
// what Apply recorded; in the other modes the caller prints the Summary.
func (r *Runner) Run(ctx context.Context, env *Env) (Summary, error) {
	start := time.Now()
	sum := Summary{Mode: r.Mode}
	if env == nil || env.Plan == nil {
		return sum, errors.New("steps: Run needs an Env with a Plan")
	}

	logw := r.Log
	if logw == nil {
		logw = env.Log
	}
	if logw == nil {
		logw = io.Discard
	}
	secrets := env.Secrets.Values()
	if env.GuestPassword != "" {
		secrets = append(secrets, env.GuestPassword)
	}
	if r.Verbose != nil {
		// The verbose stream is not redacted by its owner (the log is).
		vw := redact.NewWriter(r.Verbose, secrets)
		defer vw.Flush()
		logw = io.MultiWriter(logw, vw)
	}
	logw = &syncWriter{w: logw}

	// A copy: the Runner's log, mode and warning sink must not leak into the caller's Env.
	e := *env
	e.Mode = r.Mode
	e.Log = logw
	e.vmViews = newVMViews() // this run's VM reads, handed from Check to Apply
	prog := r.Display
	if prog == nil {
		prog = ui.New(r.Out, r.Progress, ui.Options{})
		defer prog.Close()
	}
	e.Warn = func(msg string) {
		prog.Warn(msg)
		fmt.Fprintf(logw, "%s WARNING: %s\n", stamp(), msg)
	}
	if r.Mode == ModePlan && e.Transcript == nil {
		e.Transcript = &Transcript{}
	}
	x := &run{r: r, env: &e, prog: prog, log: logw, sum: &sum, after: map[string]bool{}}
	if r.Mode == ModePlan {
		x.tapGuests()
	}
	if r.Out != nil {
		x.plan = r.Out
	} else {
		x.plan = io.Discard
	}

	sel, err := r.selection()
	if err != nil {
		return sum, err
	}
	x.logf("run: mode=%s steps=%s", modeName(r.Mode), strings.Join(selectedNames(r.Steps, sel), ","))
	if r.Mode != ModePlan {
		if err := x.checkSkippedNeeds(ctx, sel); err != nil {
			x.logf("run: refused: %v", err)
			return sum, err
		}
	}

	for i, s := range r.Steps {
		if !sel[i] {
			sum.Steps = append(sum.Steps, StepResult{Name: s.Name(), Title: s.Title(), Skipped: true})
			continue
		}
		if ctx.Err() != nil {
			x.logf("run: interrupted before %s", s.Name())
			sum.Duration = time.Since(start)
			return sum, &RunError{Step: s.Name(), Title: s.Title(), Err: ctx.Err(), Interrupted: true, Cause: ctx.Err(), LogPath: r.LogPath, secrets: secrets}
		}
		res, err := x.runStep(ctx, s)
		sum.Steps = append(sum.Steps, res)
		if err != nil {
			sum.Duration = time.Since(start)
			re := &RunError{Step: s.Name(), Title: s.Title(), Err: err, LogPath: r.LogPath, secrets: secrets}
			if ctx.Err() != nil {
				re.Interrupted, re.Cause = true, ctx.Err()
			}
			x.logf("run: stopped at %s: %v", s.Name(), err)
			return sum, re
		}
	}
	sum.Duration = time.Since(start)
	x.logf("run: finished in %s", sum.Duration.Round(time.Millisecond))
	return sum, nil
}

func stamp() string { return time.Now().Format("15:04:05.000") }

func (x *run) logf(format string, args ...any) {
	fmt.Fprintf(x.log, "%s %s\n", stamp(), fmt.Sprintf(format, args...))
}

func modeName(m Mode) string {
	switch m {
	case ModeApply:
		return "apply"
	case ModeDryRun:
		return "dry-run"
	case ModePlan:
		return "plan"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

func selectedNames(steps []Step, sel []bool) []string {
	var out []string
	for i, s := range steps {
		if sel[i] {
			out = append(out, s.Name())
		}
	}
	return out
}

// selection resolves From/Only into a per-step flag.
func (r *Runner) selection() ([]bool, error) {
	sel := make([]bool, len(r.Steps))
	seen := map[string]bool{}
	for _, s := range r.Steps {
		if seen[s.Name()] {
			return nil, fmt.Errorf("steps: two steps are named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	find := func(name string) (int, error) {
		for i, s := range r.Steps {
			if strings.EqualFold(s.Name(), strings.TrimSpace(name)) {
				return i, nil
			}
		}
		return -1, fmt.Errorf("unknown step %q: the steps are, in order: %s", name, strings.Join(Names(r.Steps), ", "))
	}
	switch {
	case r.From != "" && r.Only != "":
		return nil, errors.New("use --from or --only, not both")
	case r.From != "":
		i, err := find(r.From)
		if err != nil {
			return nil, err
		}
		for j := i; j < len(sel); j++ {
			sel[j] = true
		}
	case r.Only != "":
		for _, name := range strings.Split(r.Only, ",") {
			i, err := find(name)
			if err != nil {
				return nil, err
			}
			sel[i] = true
		}
	default:
		for i := range sel {
			sel[i] = true
		}
	}
	return sel, nil
}

// checkSkippedNeeds refuses a selection that skips a step a selected step
// needs, unless that step is already done everywhere (its Check, read-only).
func (x *run) checkSkippedNeeds(ctx context.Context, sel []bool) error {
	r := x.r
	if r.From == "" && r.Only == "" {
		return nil
	}
	flag := "--from " + r.From
	if r.Only != "" {
		flag = "--only " + r.Only
	}
	checked := map[string]bool{}
	for i, s := range r.Steps {
		if !sel[i] {
			continue
		}
		for _, need := range needsOf(s) {
			j := -1
			for k, t := range r.Steps {
				if t.Name() == need {
					j = k
				}
			}
			// A need outside this pipeline cannot be checked here; the
			// pipeline test makes sure the real pipeline has none.
			if j < 0 || sel[j] || checked[need] {
				continue
			}
			checked[need] = true
			dep := r.Steps[j]
			x.logf("run: %s needs skipped step %s: checking it", s.Name(), need)
			notDone, err := x.checkOnly(ctx, dep)
			if err != nil {
				return fmt.Errorf("%s skips %q, which %q needs, and checking it failed: %w", flag, need, s.Name(), err)
			}
			if len(notDone) > 0 {
				return fmt.Errorf("%s skips %q (%s), which %q needs, but it is not done: %s\nRun `labctl up --from %s` (or plain `labctl up`) instead",
					flag, need, dep.Title(), s.Name(), strings.Join(notDone, "; "), need)
			}
		}
	}
	return nil
}

// checkOnly runs a step's Check on all its targets and lists the not-done ones.
func (x *run) checkOnly(ctx context.Context, s Step) ([]string, error) {
	var mu sync.Mutex
	var notDone []string
	one := func(ctx context.Context, n *lab.Node) error {
		st, err := s.Check(ctx, x.env, n)
		if err != nil {
			return err
		}
		if !st.Done {
			mu.Lock()
			notDone = append(notDone, nodeLabel(n)+": "+st.Why)
			mu.Unlock()
		}
		return nil
	}
	if p, ok := s.(Preparer); ok {
		if err := p.Prepare(ctx, x.env); err != nil {
			return nil, err
		}
	}
	var err error
	if isLabWide(s) {
		err = one(ctx, nil)
	} else {
		err = fanout.Each(ctx, s.Targets(x.env.Plan), x.r.Concurrency, (*lab.Node).Name, one)
	}
	sort.Strings(notDone)
	return notDone, err
}

// runStep runs one step over its targets and reports progress.
func (x *run) runStep(ctx context.Context, s Step) (StepResult, error) {
	start := time.Now()
	res := StepResult{Name: s.Name(), Title: s.Title()}
	var targets lab.Nodes
	if !isLabWide(s) {
		targets = s.Targets(x.env.Plan)
		if len(targets) == 0 {
			res.Skipped = true
			x.logf("step %s: no targets, skipped", s.Name())
			return res, nil
		}
	}
	x.logf("step %s (%s): start on %s", s.Name(), s.Title(), strings.Join(targetLabels(s, targets), ","))

	if x.r.Mode == ModePlan {
		err := x.planStep(ctx, s, targets)
		res.Duration = time.Since(start)
		return res, err
	}

	units := len(targets)
	if units == 0 {
		units = 1
	}
	x.prog.StepStart(s.Title(), units)
	var changed, already int
	var cmu sync.Mutex
	count := func(didChange bool) {
		cmu.Lock()
		defer cmu.Unlock()
		if didChange {
			changed++
		} else {
			already++
		}
	}
	unit := func(ctx context.Context, n *lab.Node) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		x.prog.NodeStart(nodeLabel(n))
		didChange, verdict, err := x.runNode(ctx, s, n)
		if err != nil {
			x.logf("step %s: %s: failed: %v", s.Name(), nodeLabel(n), err)
			x.prog.NodeDone(nodeLabel(n), "failed")
			return err
		}
		x.logf("step %s: %s: %s", s.Name(), nodeLabel(n), verdict)
		x.prog.NodeDone(nodeLabel(n), verdict)
		count(didChange)
		return nil
	}

	var err error
	if p, ok := s.(Preparer); ok {
		if perr := p.Prepare(ctx, x.env); perr != nil {
			err = fmt.Errorf("%s: prepare: %w", s.Name(), perr)
		}
	}
	if err == nil {
		switch {
		case isLabWide(s):
			err = unit(ctx, nil)
			if err != nil {
				err = prefixEach(s.Name(), err)
			}
		case isSerial(s):
			// One at a time in Targets order; the first failure stops the
			// rest (e.g. a group-replication join must not follow a failed one).
			var merr *multierror.Error
			for _, n := range targets {
				if uerr := unit(ctx, n); uerr != nil {
					merr = multierror.Append(merr, fmt.Errorf("%s: %w", n.Name(), uerr))
					break
				}
			}
			err = prefixEach(s.Name(), merr.ErrorOrNil())
		default:
			err = prefixEach(s.Name(), fanout.Each(ctx, targets, x.r.Concurrency, (*lab.Node).Name, unit))
		}
	}
	res.Changed, res.Already = changed, already
	res.Duration = time.Since(start)

	var detail string
	switch {
	case err != nil:
		if merr, ok := err.(*multierror.Error); ok {
			detail = fmt.Sprintf("%d failed", len(merr.Errors))
		} else {
			detail = "failed"
		}
	case x.r.Mode == ModeDryRun && changed > 0:
		detail = fmt.Sprintf("would change %d", changed)
	case changed > 0:
		detail = fmt.Sprintf("changed %d", changed)
	default:
		detail = "already done"
	}
	x.prog.StepEnd(err == nil, detail)
	x.logf("step %s: end: %s in %s", s.Name(), detail, res.Duration.Round(time.Millisecond))
	return res, err
}

// prefixEach prefixes every error of a multierror with the step name and
// keeps each one wrapped. (multierror.Prefix would wrap with errwrap, which
// hides the cause from errors.Is.)
func prefixEach(step string, err error) error {
	if err == nil {
		return nil
	}
	// Only a top-level multierror is split: one found deeper (errors.As) is a
	// node's own list of problems, whose context must stay with it.
	merr, ok := err.(*multierror.Error)
	if !ok {
		merr = &multierror.Error{Errors: []error{err}}
	}
	out := &multierror.Error{}
	for _, e := range merr.Errors {
		out.Errors = append(out.Errors, fmt.Errorf("%s: %w", step, e))
	}
	return out
}

func targetLabels(s Step, targets lab.Nodes) []string {
	if isLabWide(s) {
		return []string{"lab"}
	}
	return targets.Names()
}

// runNode is Check → (Apply → Check) for one node, or Check alone in dry-run.
// It reports whether the node changed (or would) and a verdict for the user.
func (x *run) runNode(ctx context.Context, s Step, n *lab.Node) (bool, string, error) {
	key := ""
	if n != nil {
		key = n.VM
	}
	if x.r.Mode == ModeDryRun {
		x.mu.Lock()
		pending := x.after[key]
		x.mu.Unlock()
		if pending {
			x.addChange(Change{Node: nodeLabel(n), Step: s.Title(), After: true})
			return true, "after earlier changes", nil
		}
	}
	st, err := s.Check(ctx, x.env, n)
	if err != nil {
		return false, "", err
	}
	if st.Done {
		return false, "already done", nil
	}
	x.logf("step %s: %s: not done: %s", s.Name(), nodeLabel(n), st.Why)
	if x.r.Mode == ModeDryRun {
		x.mu.Lock()
		x.after[key] = true
		x.mu.Unlock()
		x.addChange(Change{Node: nodeLabel(n), Step: s.Title(), Why: st.Why})
		return true, "would change: " + st.Why, nil
	}
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	if err := s.Apply(ctx, x.env, n); err != nil {
		return false, "", err
	}
	st, err = s.Check(ctx, x.env, n)
	if err != nil {
		return false, "", fmt.Errorf("check after apply: %w", err)
	}
	if !st.Done {
		return false, "", fmt.Errorf("applied but check still fails: %s", st.Why)
	}
	return true, "changed", nil
}

func (x *run) addChange(c Change) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sum.Changes = append(x.sum.Changes, c)
}

// planStep applies a step against the recording backends, one node at a
// time so every recorded line belongs to the node being applied, and prints
// what each node recorded.
func (x *run) planStep(ctx context.Context, s Step, targets lab.Nodes) error {
	w := x.plan
	fmt.Fprintf(w, "== %s (%s)\n", s.Title(), s.Name())
	nodes := targets
	if isLabWide(s) {
		nodes = lab.Nodes{nil}
	}
	x.env.Transcript.take() // anything written outside an Apply belongs to no node
	vboxCalls := recordedVBoxCalls(x.env.VBox)
	for _, n := range nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		before := len(vboxCalls())
		err := s.Apply(ctx, x.env, n)
		// Notes first: a note qualifies the calls after it.
		lines := x.env.Transcript.take()
		for _, argv := range vboxCalls()[before:] {
			if vboxMutating(argv) {
				lines = append(lines, "VBoxManage "+shellWords(argv))
			}
		}
		if err != nil {
			return prefixEach(s.Name(), fmt.Errorf("%s: %w", nodeLabel(n), err))
		}
		fmt.Fprintf(w, "%s:\n", nodeLabel(n))
		if len(lines) == 0 {
			fmt.Fprintln(w, "  (nothing to run)")
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", x.redact(l))
		}
	}
	fmt.Fprintln(w)
	return nil
}

// redact hides any secret (and the extra strings given) that reached a plan line.
func (x *run) redact(s string, extra ...string) string {
	vals := append(x.env.Secrets.Values(), extra...)
	if x.env.GuestPassword != "" && x.env.GuestPassword != "<redacted>" {
		vals = append(vals, x.env.GuestPassword)
	}
	return redact.String(s, vals...)
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
			fmt.Fprintf(w, "How to reach WordPress: http://%s/\n", plan.LB().IP)
			return
		}
	}
}

func (s Summary) printChanges(w io.Writer, plan *lab.Plan) {
	if len(s.Changes) == 0 {
		fmt.Fprintln(w, "No changes: the lab already matches lab.toml.")
		return
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

// recordedVBoxCalls finds the plan-mode VBoxManage recorder behind env.VBox
// (a vbox.Client over a vbox.PlanRunner, or any API with Calls).
func recordedVBoxCalls(api vbox.API) func() [][]string {
	type recorder interface{ Calls() [][]string }
	if r, ok := api.(recorder); ok {
		return r.Calls
	}
	if c, ok := api.(*vbox.Client); ok {
		if r, ok := c.Runner.(recorder); ok {
			return r.Calls
		}
	}
	return func() [][]string { return nil }
}

// vboxMutating reports whether an argv may change anything: the plan lists
// what up would do, not the reads it makes to decide.
func vboxMutating(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	switch argv[0] {
	case "--version", "-V", "-v", "list", "showvminfo", "getextradata":
		return false
	case "guestproperty":
		return len(argv) > 1 && argv[1] != "get" && argv[1] != "enumerate" && argv[1] != "wait"
	case "snapshot":
		return len(argv) > 2 && argv[2] != "list" && argv[2] != "showvminfo"
	}
	return true
}

// shellWords joins argv so it can be pasted into a POSIX shell.
func shellWords(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// planTap records, in plan mode, every script and upload a step sends to a
// guest executor, in order and redacted, then passes it on (to the plan's
// guest.Recorder, which keeps the files for plan --out).
type planTap struct {
	inner guest.Executor
	x     *run
}

func (p planTap) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimRight(cmd.Script, "\n"), "\n") {
		if i == 0 {
			b.WriteString("$ " + l + "\n")
		} else {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(cmd.Stdin) > 0 {
		b.WriteString("  (with input on stdin)\n") // often a secret: never shown
	}
	io.WriteString(p.x.env.Transcript, p.x.redact(b.String(), cmd.Redact...))
	return p.inner.Run(ctx, cmd)
}

func (p planTap) Upload(ctx context.Context, f guest.File) (bool, error) {
	owner := f.Owner
	if owner == "" {
		owner = "root:root"
	}
	fmt.Fprintf(p.x.env.Transcript, "upload %s (mode %04o, %s)\n", f.Path, f.Mode.Perm(), owner)
	return p.inner.Upload(ctx, f)
}

func (p planTap) String() string { return p.inner.String() }

// tapGuests routes the env's guest executors through planTap.
func (x *run) tapGuests() {
	wrap := func(get func(*lab.Node) guest.Executor) func(*lab.Node) guest.Executor {
		if get == nil {
			return nil
		}
		return func(n *lab.Node) guest.Executor {
			inner := get(n)
			if inner == nil {
				return nil
			}
			return planTap{inner: inner, x: x}
		}
	}
	x.env.Control = wrap(x.env.Control)
	x.env.SSH = wrap(x.env.SSH)
}
