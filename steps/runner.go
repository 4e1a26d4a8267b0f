package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"labctl/internal/critpath"
	"labctl/internal/fanout"
	"labctl/internal/textdist"
	"labctl/lab"
	"labctl/redact"
	"labctl/ui"
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
	// Lookahead lets an apply run on a lab whose every node has a pinned
	// host key (it was built before) check its later steps at the start,
	// all at once (lookahead.go).
	Lookahead bool
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
	Targets     int      // how many nodes the step acted on ("all 6 nodes")
	secrets     []string // hidden from Error(): a step's error may quote a command's output
}

func (e *RunError) Error() string {
	return redact.String(e.text(), e.secrets...)
}

func (e *RunError) text() string {
	var b strings.Builder
	if e.Interrupted {
		// One line: the node errors are all "context canceled".
		fmt.Fprintf(&b, "interrupted during %q (%s): nothing is lost, run `labctl up` again to resume", e.Title, e.Step)
		if e.LogPath != "" {
			b.WriteString(" (log: " + e.LogPath + ")")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "step %q (%s) failed", e.Title, e.Step)
	merr, isList := e.Err.(*multierror.Error)
	switch {
	case isList && len(merr.Errors) > 0:
		b.WriteString(":")
		for _, line := range mergeNodeErrors(e.Step, merr.Errors, e.Targets) {
			b.WriteString("\n  " + line)
		}
	case e.Err != nil:
		b.WriteString(": " + e.Err.Error())
	}
	if e.LogPath != "" {
		b.WriteString("\nsee the log for every command and its output: " + e.LogPath)
	}
	return b.String()
}

// mergeNodeErrors says an identical failure once for every node it hit
// ("all 6 nodes: …", "SQL-ONE, SQL-TWO: …"). Errors read "step: NODE:
// text" (the node's name may be repeated at the start of text); they are
// compared on text, in the order first seen.
func mergeNodeErrors(step string, errs []error, targets int) []string {
	type group struct {
		nodes []string
		text  string
	}
	var groups []*group
	byText := map[string]*group{}
	for _, err := range errs {
		msg := strings.TrimPrefix(err.Error(), step+": ")
		node, text, ok := strings.Cut(msg, ": ")
		if !ok || strings.ContainsAny(node, " \n") {
			node, text = "", msg
		}
		for node != "" && strings.HasPrefix(text, node+": ") {
			text = strings.TrimPrefix(text, node+": ")
		}
		g := byText[text]
		if g == nil || node == "" {
			g = &group{text: text}
			groups = append(groups, g)
			if node != "" {
				byText[text] = g
			}
		}
		if node != "" {
			g.nodes = append(g.nodes, node)
		}
	}
	var out []string
	for _, g := range groups {
		switch {
		case len(g.nodes) == 0:
			out = append(out, step+": "+g.text)
		case len(g.nodes) > 1 && len(g.nodes) == targets:
			out = append(out, fmt.Sprintf("%s: all %d nodes: %s", step, len(g.nodes), g.text))
		default:
			out = append(out, fmt.Sprintf("%s: %s: %s", step, strings.Join(g.nodes, ", "), g.text))
		}
	}
	return out
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
	r      *Runner
	env    *Env
	prog   *ui.Display
	log    io.Writer
	sum    *Summary
	plan   io.Writer
	mu     sync.Mutex
	after  map[string]bool // dry-run: nodes (by name; "" = the lab) with a pending change
	number map[string]int  // the selected steps, numbered from 1 in order
	sel    []bool          // the selected steps
	early  *early          // work run ahead of its step's turn (early.go); nil = none
	la     *lookahead      // checks run at the start of the run (lookahead.go); nil = none
	// checked: a serial step's nodes its checks, read at once, found done
	// (step name → node), each used once by runNode.
	checked map[string]map[*lab.Node]bool
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

func isReadOnly(s Step) bool {
	r, ok := s.(ReadOnly)
	return ok && r.ReadOnly()
}

func isSerial(s Step) bool {
	se, ok := s.(Serial)
	return ok && se.Serial()
}

// timingKind says what a step's node times wait for, for the critical path
// computed from the run log (internal/critpath).
func timingKind(s Step) critpath.Kind {
	switch {
	case isLabWide(s):
		return critpath.Barrier
	case isSerial(s):
		return critpath.Serial
	}
	if c, ok := s.(CrossNode); ok && c.CrossNode() {
		return critpath.Barrier
	}
	return critpath.PerNode
}

// logTiming writes one step×node duration line (internal/critpath reads it back).
func (x *run) logTiming(s Step, node string, kind critpath.Kind, took time.Duration) {
	x.logf("%s", critpath.Line(critpath.Span{Step: s.Name(), Node: node, Kind: kind, Took: took}))
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
	if e.Fetch == nil {
		e.Fetch = serialFetch() // this run's downloads, one at a time
	}
	if r.Mode == ModePlan {
		planSeams(&e)
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
	x.sel = sel
	// Early start only where every node may run at once and things change.
	if r.Mode == ModeApply && (r.Concurrency <= 0 || r.Concurrency >= len(env.Plan.Nodes)) {
		x.early = newEarly()
		defer x.early.stop()
	}
	if r.Mode == ModeApply && r.Lookahead && builtBefore(&e) {
		x.startLookahead(ctx)
		defer x.stopLookahead()
	}
	x.number = map[string]int{}
	for i, s := range r.Steps {
		if sel[i] {
			x.number[s.Name()] = len(x.number) + 1
		}
	}
	x.logf("run: mode=%s steps=%s", modeName(r.Mode), strings.Join(selectedNames(r.Steps, sel), ","))
	if r.Mode == ModePlan {
		x.planIndex(sel)
	}
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
		res, err := x.runStep(ctx, i, s)
		sum.Steps = append(sum.Steps, res)
		if err != nil {
			x.early.stop() // what ran ahead finishes (and is logged); nothing more starts
			sum.Duration = time.Since(start)
			re := &RunError{Step: s.Name(), Title: s.Title(), Err: err, LogPath: r.LogPath, secrets: secrets}
			if !isLabWide(s) {
				re.Targets = len(s.Targets(x.env.Plan))
			}
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
		hint := ""
		if c := textdist.Closest(strings.TrimSpace(name), Names(r.Steps)); c != "" {
			hint = fmt.Sprintf("; did you mean %q?", c)
		}
		return -1, fmt.Errorf("unknown step %q%s (the steps are, in order: %s)", name, hint, strings.Join(Names(r.Steps), ", "))
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

// runStep runs step i over its targets and reports progress.
func (x *run) runStep(ctx context.Context, i int, s Step) (StepResult, error) {
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
		var didChange bool
		var verdict string
		var err error
		if r := x.early.take(s, n); r != nil && !func() bool { <-r.done; return r.skipped }() {
			// Run ahead of its turn: its own duration, reported now.
			didChange, verdict, err = r.didChange, r.verdict, r.err
			x.logTiming(s, nodeLabel(n), timingKind(s), r.took)
		} else {
			began := time.Now()
			didChange, verdict, err = x.runNode(ctx, s, n)
			x.logTiming(s, nodeLabel(n), timingKind(s), time.Since(began))
		}
		if err == nil && !isSerial(s) && !isLabWide(s) {
			x.chainAfter(ctx, i, n)
		}
		if err != nil {
			x.logf("step %s: %s: failed: %v", s.Name(), nodeLabel(n), err)
			if ctx.Err() == nil { // an interrupt is said once, by the run
				x.prog.NodeDone(nodeLabel(n), "failed")
			}
			return err
		}
		x.logf("step %s: %s: %s", s.Name(), nodeLabel(n), verdict)
		x.prog.NodeDone(nodeLabel(n), verdict)
		count(didChange)
		return nil
	}

	var err error
	if p, ok := s.(Preparer); ok {
		began := time.Now()
		perr := p.Prepare(ctx, x.env)
		x.logTiming(s, "prepare", critpath.Barrier, time.Since(began))
		if perr != nil {
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
			x.preCheck(ctx, s, targets)
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

	if ctx.Err() != nil {
		// Interrupted: the final error says so in one line, with how to resume.
		x.prog.StepCancel()
		x.logf("step %s: interrupted after %s", s.Name(), res.Duration.Round(time.Millisecond))
		return res, err
	}
	var detail string
	switch {
	case err != nil:
		if merr, ok := err.(*multierror.Error); ok {
			detail = fmt.Sprintf("%d failed", len(merr.Errors))
		} else {
			detail = "failed"
		}
	case isReadOnly(s) && x.r.Mode == ModeDryRun && changed > 0:
		detail = fmt.Sprintf("not passing yet on %d", changed)
	case isReadOnly(s):
		detail = "passed"
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
	if x.preDone(s, n) || x.lookaheadDone(ctx, s, n) {
		return false, "already done", nil
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
	x.lookaheadStale()
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
	if isReadOnly(s) {
		return false, "passed after settling", nil
	}
	return true, "changed", nil
}

func (x *run) addChange(c Change) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sum.Changes = append(x.sum.Changes, c)
}

// Mode says how a run treats the live system.
type Mode int

// Run modes.
const (
	ModeApply  Mode = iota // check, apply, re-check
	ModeDryRun             // check only; report what would change
	ModePlan               // no live system: apply against recorders, print every call
)

// preCheck runs a serial step's Checks on all its targets at once (they
// only read) and remembers which nodes are done, so a lab where nothing is
// to change pays one round of reads for the step, not one per node in
// turn. A node not done (or whose check failed) is checked again in its
// turn, after the nodes before it changed. Apply mode only: a dry run
// does not check a node with an earlier pending change.
func (x *run) preCheck(ctx context.Context, s Step, targets lab.Nodes) {
	if x.r.Mode != ModeApply || len(targets) < 2 {
		return
	}
	began := time.Now()
	var mu sync.Mutex
	done := map[*lab.Node]bool{}
	_ = fanout.Each(ctx, targets, x.r.Concurrency, (*lab.Node).Name, func(ctx context.Context, n *lab.Node) error {
		if x.lookaheadDone(ctx, s, n) {
			mu.Lock()
			done[n] = true
			mu.Unlock()
			return nil
		}
		st, err := s.Check(ctx, x.env, n)
		if err == nil && st.Done {
			mu.Lock()
			done[n] = true
			mu.Unlock()
		}
		return nil
	})
	// A serial span: the step's own nodes wait for it, then go one by one.
	x.logTiming(s, "checks", critpath.Serial, time.Since(began))
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.checked == nil {
		x.checked = map[string]map[*lab.Node]bool{}
	}
	x.checked[s.Name()] = done
}

// preDone reports (once) that preCheck found s done on n.
func (x *run) preDone(s Step, n *lab.Node) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.checked[s.Name()][n] {
		return false
	}
	delete(x.checked[s.Name()], n)
	return true
}
