package exercise

// Start, check, hint, solve, status and the clearing half of reset.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"labctl/fleet"
	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/steps"
)

// Baseline is the all-VM snapshot an exercise starts from and a reset
// returns to.
const Baseline = "labctl-exercise-base"

// Env is what the exercise commands need from their caller.
type Env struct {
	Plan    *lab.Plan
	Profile *guest.Profile
	Secrets *lab.Secrets
	SSH     func(*lab.Node) guest.Executor
	// Verify runs `labctl verify`'s checks (steps.RunVerify over the same executors).
	Verify func(context.Context) (steps.VerifyReport, error)
	// Fleet takes and restores the baseline snapshot.
	Fleet *fleet.Fleet
	Store *Store
	Out   io.Writer

	Now       func() time.Time
	Poll      time.Duration // between polls of a convergence wait (default 2 s)
	SolveWait time.Duration // how long solve waits for the checks to pass (default 4 min)
	Sleep     func(context.Context, time.Duration) error
}

func (env *Env) now() time.Time {
	if env.Now != nil {
		return env.Now()
	}
	return time.Now()
}

func (env *Env) poll() time.Duration {
	if env.Poll > 0 {
		return env.Poll
	}
	return 2 * time.Second
}

func (env *Env) sleep(ctx context.Context, d time.Duration) error {
	if env.Sleep != nil {
		return env.Sleep(ctx, d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (env *Env) redact() []string {
	if env.Secrets == nil {
		return nil
	}
	return env.Secrets.Values()
}

func (env *Env) root(n *lab.Node) mysqlgr.Server { return mysqlgr.Root(n.VM, env.SSH(n), env.redact()) }

// ActiveError refuses a start while another exercise is in progress.
type ActiveError struct{ Active *Active }

func (e *ActiveError) Error() string {
	return fmt.Sprintf("exercise %s is in progress (started %s): `labctl exercise reset` ends it and restores the lab first",
		e.Active.Exercise, e.Active.Started.Local().Format("2006-01-02 15:04"))
}

// ErrNoExercise is a command that needs an exercise in progress.
var ErrNoExercise = errors.New("no exercise in progress: `labctl exercise list` shows them, `labctl exercise start NAME` starts one")

// NotReadyError is a lab that does not pass verify, so no exercise starts on it.
type NotReadyError struct {
	Report steps.VerifyReport
	Err    error
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("the lab must pass `labctl verify` before an exercise starts (%v): run `labctl up`, or `labctl exercise reset` after an earlier exercise", e.Err)
}

// ProfileError is an exercise the lab's guest OS cannot run.
type ProfileError struct {
	Exercise *Exercise
	Profile  string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("exercise %s runs on %s labs, and this lab's profile is %s", e.Exercise.Name, profilesText(e.Exercise.Profiles), e.Profile)
}

// Start checks that the lab passes verify, takes the baseline snapshot when
// it is missing, binds the group's roles, writes the row checks look for,
// records the start and breaks the lab.
func Start(ctx context.Context, env *Env, ex *Exercise) error {
	if a, err := env.Store.Active(); err != nil {
		return err
	} else if a != nil {
		return &ActiveError{a}
	}
	if !ex.Supports(env.Plan.Profile) {
		return &ProfileError{ex, env.Plan.Profile}
	}
	fmt.Fprintf(env.Out, "Exercise %s: %s\n", ex.Name, ex.Title)
	if rep, err := env.Verify(ctx); err != nil {
		return &NotReadyError{rep, err}
	}
	fmt.Fprintln(env.Out, "✓ the lab passes verify")
	taken, err := EnsureBaseline(ctx, env.Fleet)
	if err != nil {
		return err
	}
	if taken {
		fmt.Fprintf(env.Out, "✓ took the baseline snapshot %q of every lab VM (`labctl exercise reset` returns to it)\n", Baseline)
	} else {
		fmt.Fprintf(env.Out, "✓ the baseline snapshot %q is there\n", Baseline)
	}
	b, err := bind(ctx, env)
	if err != nil {
		return fmt.Errorf("exercise %s: %w", ex.Name, err)
	}
	if err := writeBeforeRow(ctx, env, b); err != nil {
		return fmt.Errorf("exercise %s: %w", ex.Name, err)
	}
	a := &Active{Exercise: ex.Name, Source: ex.Source, Profile: env.Plan.Profile, Started: env.now().UTC(), Bindings: b}
	if err := env.Store.Begin(a); err != nil {
		return err
	}
	began := env.now()
	if err := runActions(ctx, env, ex, b, "break", ex.Break); err != nil {
		return fmt.Errorf("%w\nThe lab may be half broken: `labctl exercise reset` restores it", err)
	}
	fmt.Fprintf(env.Out, "✓ the lab is broken (%d step(s), %s)\n\n", len(ex.Break), env.now().Sub(began).Round(time.Second))
	PrintScenario(env.Out, ex)
	fmt.Fprintln(env.Out, "\nWhen you think it is repaired: labctl exercise check. Stuck: labctl exercise hint.")
	return nil
}

// PrintScenario writes what the student reads: title, symptoms, goal.
func PrintScenario(w io.Writer, ex *Exercise) {
	fmt.Fprintf(w, "%s (%s; %s)\n\n%s\n\nGoal:\n%s\n", ex.Title, ex.Level, profilesText(ex.Profiles),
		strings.TrimSpace(ex.Scenario), strings.TrimSpace(ex.Goal))
}

// EnsureBaseline takes the baseline snapshot of every lab VM (live) unless
// all of them have it; taken says whether it did.
func EnsureBaseline(ctx context.Context, f *fleet.Fleet) (taken bool, err error) {
	set, err := f.ReadSet(ctx)
	if err != nil {
		return false, err
	}
	if set.RequirePresent(Baseline) == nil {
		return false, nil
	}
	if err := set.RequireAbsent(Baseline); err != nil {
		return false, fmt.Errorf("%w: the baseline is incomplete; `labctl snapshot delete %s` and start again", err, Baseline)
	}
	o := fleet.TakeOptions{Description: "labctl exercise baseline: the lab as it passed verify before the first exercise"}
	if err := set.Take(ctx, Baseline, o); err != nil {
		return false, err
	}
	return true, nil
}

// RestoreBaseline clears the exercise's records first (no stale result
// may survive a reset, even a failed one), then restores every lab VM to
// the baseline snapshot. The caller converges the lab afterwards.
func RestoreBaseline(ctx context.Context, env *Env) error {
	if err := env.Store.Clear(); err != nil {
		return err
	}
	set, err := env.Fleet.ReadSet(ctx)
	if err != nil {
		return err
	}
	if err := set.RequirePresent(Baseline); err != nil {
		return fmt.Errorf("no exercise baseline to return to (%v); the first `labctl exercise start` takes it", err)
	}
	return set.Restore(ctx, Baseline)
}

// bind names the group's primary and secondaries as they are now.
func bind(ctx context.Context, env *Env) (Bindings, error) {
	views := readViews(ctx, env)
	primary, err := mysqlgr.HealthyPrimary(env.Plan, views)
	if err != nil {
		return nil, fmt.Errorf("find the group's primary: %w", err)
	}
	b := Bindings{"primary": primary.VM}
	i := 0
	for _, n := range env.Plan.DB() {
		if n != primary {
			i++
			b[fmt.Sprintf("secondary%d", i)] = n.VM
		}
	}
	return b, nil
}

func readViews(ctx context.Context, env *Env) []mysqlgr.NodeView {
	return fanout.Map(env.Plan.DB(), func(n *lab.Node) mysqlgr.NodeView {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := env.root(n).ReadView(cctx)
		if err != nil {
			err = fmt.Errorf("%s: %s", n.VM, why(err))
		}
		return mysqlgr.NodeView{Node: n, View: v, Err: err}
	})
}

// rowsTable holds the rows exercises write; it lives only after the
// baseline, so a reset removes it.
const rowsTable = "labctl_exercise.rows"

// writeBeforeRow writes BeforeNote on the primary and waits until every
// member has it, so a row check proves no committed write was lost.
func writeBeforeRow(ctx context.Context, env *Env, b Bindings) error {
	p := env.Plan.Nodes.Find(b["primary"])
	stmts := "CREATE DATABASE IF NOT EXISTS labctl_exercise;\n" +
		"CREATE TABLE IF NOT EXISTS " + rowsTable + " (note VARCHAR(64) NOT NULL PRIMARY KEY, at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n" +
		"REPLACE INTO " + rowsTable + " (note) VALUES (" + mysqlgr.Quote(BeforeNote) + ");"
	if _, err := env.root(p).SQL.SQL(ctx, stmts); err != nil {
		return fmt.Errorf("write the row %q on the primary %s: %w", BeforeNote, p.VM, err)
	}
	deadline := env.now().Add(30 * time.Second)
	for _, n := range env.Plan.DB() {
		for {
			ok, err := hasRow(ctx, env, n, BeforeNote)
			if ok {
				break
			}
			if env.now().After(deadline) {
				return fmt.Errorf("the row %q did not reach %s within 30 s: %v", BeforeNote, n.VM, err)
			}
			if err := env.sleep(ctx, env.poll()/4); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(env.Out, "✓ wrote the row %q on the primary %s; every member has it\n", BeforeNote, p.VM)
	return nil
}

func hasRow(ctx context.Context, env *Env, n *lab.Node, note string) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := env.root(n).SQL.SQL(cctx, "SELECT COUNT(*) FROM "+rowsTable+" WHERE note = "+mysqlgr.Quote(note))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) == "1", nil
}

// runActions runs a breakage or a solution, in order.
func runActions(ctx context.Context, env *Env, ex *Exercise, b Bindings, phase string, actions []Action) error {
	for i, a := range actions {
		what := fmt.Sprintf("%s %s[%d]", ex.Name, phase, i)
		if a.Do != "" {
			if err := doTyped(ctx, env, a.Do); err != nil {
				return fmt.Errorf("exercise %s (%s): %w", what, a.Do, err)
			}
		} else {
			nodes, err := resolve(env.Plan, b, a.Node)
			if err != nil {
				return fmt.Errorf("exercise %s: %w", what, err)
			}
			var stdin []byte
			if a.Stdin != "" {
				stdin = []byte(secret(env.Secrets, a.Stdin) + "\n")
			}
			for _, n := range nodes {
				script := render(env.Plan, env.Profile, b, n, what, a.Script)
				if _, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script, Stdin: stdin}); err != nil {
					return fmt.Errorf("exercise %s on %s: %w", what, n.VM, err)
				}
			}
		}
		if a.Pause > 0 {
			if err := env.sleep(ctx, time.Duration(a.Pause)*time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// secret is the named secret an action receives on stdin.
func secret(s *lab.Secrets, name string) string {
	if s == nil {
		return ""
	}
	switch name {
	case "mysql_root":
		return s.MySQLRoot
	case "replication":
		return s.Replication
	case "wordpress_db":
		return s.WordPressDB
	}
	return ""
}

// current returns the exercise in progress and its definition.
func current(env *Env, cat *Catalog) (*Active, *Exercise, error) {
	a, err := env.Store.Active()
	if err != nil {
		return nil, nil, err
	}
	if a == nil {
		return nil, nil, ErrNoExercise
	}
	ex, err := cat.Get(a.Exercise)
	if err != nil {
		return nil, nil, fmt.Errorf("the exercise in progress, %s, is no longer in the catalog (%v): `labctl exercise reset`", a.Exercise, err)
	}
	return a, ex, nil
}

// Result is one run of an exercise's checks.
type Result struct {
	Exercise string        `json:"exercise"`
	At       time.Time     `json:"at"`
	Solved   bool          `json:"solved"`
	Attempt  int           `json:"attempt"`
	Checks   []CheckResult `json:"checks"`
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
	Hint   string `json:"hint,omitempty"` // on failure
}

// Failed names the checks that failed.
func (r *Result) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.Passed {
			out = append(out, c.Name)
		}
	}
	return out
}

// Print writes each check with ✓ or ✗ and, on failure, its hint.
func (r *Result) Print(w io.Writer) {
	for _, c := range r.Checks {
		mark := "✓"
		if !c.Passed {
			mark = "✗"
		}
		fmt.Fprintf(w, "%s %s", mark, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(w, ": %s", c.Detail)
		}
		fmt.Fprintln(w)
		if !c.Passed && c.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", c.Hint)
		}
	}
	attempt := ""
	if r.Attempt > 0 {
		attempt = fmt.Sprintf(" (attempt %d)", r.Attempt)
	}
	if r.Solved {
		fmt.Fprintf(w, "Solved: every check passes%s.\n", attempt)
		return
	}
	fmt.Fprintf(w, "Not solved yet: %d of %d checks failed%s. `labctl exercise hint` gives a hint.\n",
		len(r.Failed()), len(r.Checks), attempt)
}

// RunChecks runs the checks of the exercise in progress and records the attempt.
func RunChecks(ctx context.Context, env *Env, cat *Catalog) (*Result, error) {
	a, ex, err := current(env, cat)
	if err != nil {
		return nil, err
	}
	r := evaluate(ctx, env, ex, a.Bindings)
	events, err := env.Store.Events()
	if err != nil {
		return nil, err
	}
	r.Attempt = 1 + count(events, EventCheck)
	if err := env.Store.Append(Event{At: r.At, Kind: EventCheck, Exercise: ex.Name, Passed: r.Solved, Failed: r.Failed()}); err != nil {
		return nil, err
	}
	return r, nil
}

func count(events []Event, kind string) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func evaluate(ctx context.Context, env *Env, ex *Exercise, b Bindings) *Result {
	r := &Result{Exercise: ex.Name, At: env.now().UTC(), Solved: true}
	for i := range ex.Checks {
		c := &ex.Checks[i]
		ok, detail := runCheck(ctx, env, b, ex, i, c)
		cr := CheckResult{Name: c.Name, Passed: ok, Detail: detail}
		if !ok {
			cr.Hint = c.Hint
			r.Solved = false
		}
		r.Checks = append(r.Checks, cr)
	}
	return r
}

// Hint returns the next hint of the exercise in progress (the last one
// again once all are given), 1-based, and records it.
func Hint(env *Env, cat *Catalog) (n, total int, text string, err error) {
	_, ex, err := current(env, cat)
	if err != nil {
		return 0, 0, "", err
	}
	events, err := env.Store.Events()
	if err != nil {
		return 0, 0, "", err
	}
	n = min(count(events, EventHint)+1, len(ex.Hints))
	if err := env.Store.Append(Event{At: env.now().UTC(), Kind: EventHint, Exercise: ex.Name, Hint: n}); err != nil {
		return 0, 0, "", err
	}
	return n, len(ex.Hints), ex.Hints[n-1], nil
}

// Solve runs the reference solution of the exercise in progress, records
// that it was used, then waits (bounded) until every check passes.
func Solve(ctx context.Context, env *Env, cat *Catalog) (*Result, error) {
	a, ex, err := current(env, cat)
	if err != nil {
		return nil, err
	}
	if err := env.Store.Append(Event{At: env.now().UTC(), Kind: EventSolve, Exercise: ex.Name}); err != nil {
		return nil, err
	}
	if err := runActions(ctx, env, ex, a.Bindings, "solution", ex.Solution); err != nil {
		return nil, err
	}
	wait := env.SolveWait
	if wait <= 0 {
		wait = 4 * time.Minute
	}
	deadline := env.now().Add(wait)
	for {
		r := evaluate(ctx, env, ex, a.Bindings)
		if r.Solved || env.now().After(deadline) {
			return r, nil
		}
		if err := env.sleep(ctx, env.poll()); err != nil {
			return r, err
		}
	}
}

// Status is the exercise in progress and what was recorded of it.
type Status struct {
	Active   *Active   `json:"active"`
	Exercise *Exercise `json:"-"`
	Attempts int       `json:"attempts"`
	Hints    int       `json:"hints"`
	Solved   bool      `json:"solved"` // the last check passed
	SolveRan bool      `json:"solve_used"`
	Last     *Event    `json:"last_check,omitempty"`
}

// ReadStatus reads the exercise in progress; Active is nil when there is none.
func ReadStatus(env *Env, cat *Catalog) (*Status, error) {
	a, ex, err := current(env, cat)
	if errors.Is(err, ErrNoExercise) {
		return &Status{}, nil
	}
	if err != nil {
		return nil, err
	}
	events, err := env.Store.Events()
	if err != nil {
		return nil, err
	}
	st := &Status{Active: a, Exercise: ex, Attempts: count(events, EventCheck), SolveRan: count(events, EventSolve) > 0}
	for i := range events {
		switch events[i].Kind {
		case EventHint:
			st.Hints = max(st.Hints, events[i].Hint)
		case EventCheck:
			st.Last = &events[i]
			st.Solved = events[i].Passed
		}
	}
	return st, nil
}

// Print writes the status for a person.
func (st *Status) Print(w io.Writer) {
	if st.Active == nil {
		fmt.Fprintln(w, "No exercise in progress. `labctl exercise list` shows them.")
		return
	}
	a := st.Active
	fmt.Fprintf(w, "Exercise %s: %s\n", a.Exercise, st.Exercise.Title)
	fmt.Fprintf(w, "Started %s; primary then: %s\n", a.Started.Local().Format("2006-01-02 15:04:05"), a.Bindings["primary"])
	fmt.Fprintf(w, "Checks run: %d; hints used: %d of %d", st.Attempts, st.Hints, len(st.Exercise.Hints))
	if st.SolveRan {
		fmt.Fprint(w, "; the reference solution was run")
	}
	fmt.Fprintln(w)
	switch {
	case st.Last == nil:
		fmt.Fprintln(w, "Not checked yet: `labctl exercise check`.")
	case st.Solved:
		fmt.Fprintf(w, "Solved (last check %s).\n", st.Last.At.Local().Format("15:04:05"))
	default:
		fmt.Fprintf(w, "Not solved (last check %s failed: %s).\n", st.Last.At.Local().Format("15:04:05"), strings.Join(st.Last.Failed, "; "))
	}
}

// why is an error as a check's detail: a guest command's own message (the
// MySQL client's "ERROR 2002 ...") rather than the whole command line.
func why(err error) string {
	var ee *guest.ExitError
	if errors.As(err, &ee) && strings.TrimSpace(ee.Stderr) != "" {
		return firstLine(ee.Stderr)
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
