package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
	"labctl/redact"
	"labctl/ui"

	"github.com/hashicorp/go-multierror"
)

// rtPlan is a six-node lab built by hand (no lab.toml parsing involved).
func rtPlan() *lab.Plan {
	p := &lab.Plan{Name: "rt", File: "lab.toml", BridgeAdapter: "eth0"}
	add := func(vm string, role lab.Role, idx int, ip string) {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: strings.ToLower(vm), Role: role, Index: idx,
			IP: netip.MustParseAddr(ip), CPUs: 1, MemoryMB: 1024})
	}
	add("SQL-ONE", lab.RoleDB, 1, "192.0.2.100")
	add("SQL-TWO", lab.RoleDB, 2, "192.0.2.101")
	add("SQL-THREE", lab.RoleDB, 3, "192.0.2.102")
	add("SERVER-ONE", lab.RoleWeb, 1, "192.0.2.160")
	add("SERVER-TWO", lab.RoleWeb, 2, "192.0.2.161")
	add("LOAD-BALANCER", lab.RoleLB, 1, "192.0.2.162")
	return p
}

// rtCalls records every Check/Apply of the fake steps, in order.
type rtCalls struct {
	mu    sync.Mutex
	calls []string
}

func (c *rtCalls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *rtCalls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

func (c *rtCalls) count(prefix string) int {
	n := 0
	for _, s := range c.list() {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// rtStep is a tiny step whose "live system" is a map of done nodes.
type rtStep struct {
	name     string
	rec      *rtCalls
	serial   bool
	labWide  bool
	needs    []string
	roles    []lab.Role // nil = every node
	mu       sync.Mutex
	done     map[string]bool
	applyErr map[string]error
	noop     bool                                      // Apply changes nothing: the re-check must fail
	onApply  func(ctx context.Context, n string) error // runs inside Apply before marking done
}

func newRTStep(name string, rec *rtCalls) *rtStep {
	return &rtStep{name: name, rec: rec, done: map[string]bool{}, applyErr: map[string]error{}}
}

func (s *rtStep) Name() string  { return s.name }
func (s *rtStep) Title() string { return "Doing " + s.name }
func (s *rtStep) Targets(p *lab.Plan) lab.Nodes {
	if s.roles == nil {
		return p.Nodes
	}
	var out lab.Nodes
	for _, r := range s.roles {
		out = append(out, p.Nodes.WithRole(r)...)
	}
	return out
}
func (s *rtStep) Serial() bool    { return s.serial }
func (s *rtStep) LabWide() bool   { return s.labWide }
func (s *rtStep) Needs() []string { return s.needs }

func (s *rtStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	s.rec.add(s.name + ":check:" + nodeLabel(n))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[nodeLabel(n)] {
		return Status{Done: true}, nil
	}
	return Status{Why: s.name + " not done on " + nodeLabel(n)}, nil
}

func (s *rtStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	s.rec.add(s.name + ":apply:" + nodeLabel(n))
	if env.Transcript != nil {
		fmt.Fprintf(env.Transcript, "run %s on %s with password %s\n", s.name, nodeLabel(n), env.Secrets.MySQLRoot)
	}
	if s.onApply != nil {
		if err := s.onApply(ctx, nodeLabel(n)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.applyErr[nodeLabel(n)]; err != nil {
		return err
	}
	if !s.noop {
		s.done[nodeLabel(n)] = true
	}
	return nil
}

func (s *rtStep) setDone(nodes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		s.done[n] = true
	}
}

func rtEnv() *Env {
	return &Env{Plan: rtPlan(), Secrets: &lab.Secrets{MySQLRoot: "s3cret-root-pw"}}
}

func rtRun(t *testing.T, r *Runner) (Summary, string, string, error) {
	t.Helper()
	var out, log bytes.Buffer
	r.Out, r.Log = &out, &log
	if r.LogPath == "" {
		r.LogPath = "/state/logs/up-1.log"
	}
	sum, err := r.Run(context.Background(), rtEnv())
	return sum, out.String(), log.String(), err
}

func TestRunnerOrderCheckApplyCheckAndSecondRunChangesNothing(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("a", rec), newRTStep("b", rec)
	b.roles = []lab.Role{lab.RoleWeb}
	steps := []Step{a, b}

	sum, out, log, err := rtRun(t, &Runner{Steps: steps, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	calls := rec.list()
	// Every call of step a comes before every call of step b.
	lastA, firstB := -1, len(calls)
	for i, c := range calls {
		if strings.HasPrefix(c, "a:") {
			lastA = i
		}
		if strings.HasPrefix(c, "b:") && i < firstB {
			firstB = i
		}
	}
	if lastA > firstB {
		t.Fatalf("steps interleaved: %v", calls)
	}
	// Per node: check, apply, check again.
	for _, n := range rtPlan().Nodes {
		var seq []string
		for _, c := range calls {
			if strings.HasPrefix(c, "a:") && strings.HasSuffix(c, ":"+n.VM) {
				seq = append(seq, strings.Split(c, ":")[1])
			}
		}
		if strings.Join(seq, ",") != "check,apply,check" {
			t.Errorf("%s: calls %v, want check,apply,check", n.VM, seq)
		}
	}
	if got := rec.count("b:apply:"); got != 2 {
		t.Errorf("b applied on %d nodes, want the 2 web nodes", got)
	}
	if c, al := sum.Totals(); c != 2 || al != 0 {
		t.Errorf("totals = %d changed, %d already; want 2, 0", c, al)
	}
	if !strings.Contains(out, "✓ Doing a (changed 6)") || !strings.Contains(out, "✓ Doing b (changed 2)") ||
		!strings.Contains(out, "• Doing a ...\n") || !strings.Contains(out, "  SQL-ONE: changed\n") {
		t.Errorf("progress output lacks the step lines:\n%s", out)
	}
	for _, want := range []string{"step a (Doing a): start on SQL-ONE", "step a: SQL-TWO: not done: a not done on SQL-TWO", "step a: SQL-TWO: changed", "step b: end: changed 2"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}

	// Second run: checks only.
	before := len(rec.list())
	sum, out, _, err = rtRun(t, &Runner{Steps: steps})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.list()[before:] {
		if strings.Contains(c, ":apply:") {
			t.Errorf("second run applied: %s", c)
		}
	}
	if c, al := sum.Totals(); c != 0 || al != 2 {
		t.Errorf("second run totals = %d changed, %d already; want 0, 2", c, al)
	}
	if !strings.Contains(out, "✓ Doing a (already done)") {
		t.Errorf("second run output:\n%s", out)
	}
	var buf bytes.Buffer
	sum.Print(&buf, rtPlan())
	if !strings.Contains(buf.String(), "0 step(s) changed something, 2 already done") {
		t.Errorf("summary: %s", buf.String())
	}
}

func TestRunnerFanOutRespectsConcurrencyLimit(t *testing.T) {
	for _, limit := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			rec := &rtCalls{}
			s := newRTStep("a", rec)
			var inflight, peak atomic.Int32
			s.onApply = func(ctx context.Context, n string) error {
				now := inflight.Add(1)
				defer inflight.Add(-1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				// Hold the slot until the limit has been reached once, so the
				// peak shows the fan-out really runs `limit` nodes at once.
				deadline := time.Now().Add(5 * time.Second)
				for peak.Load() < int32(limit) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				return nil
			}
			if _, _, _, err := rtRun(t, &Runner{Steps: []Step{s}, Concurrency: limit}); err != nil {
				t.Fatal(err)
			}
			if got := peak.Load(); got != int32(limit) {
				t.Errorf("peak concurrency %d, want exactly %d", got, limit)
			}
			if got := rec.count("a:apply:"); got != 6 {
				t.Errorf("%d applies, want 6", got)
			}
		})
	}
}

func TestRunnerSerialStepKeepsOrderAndStopsAtFirstFailure(t *testing.T) {
	rec := &rtCalls{}
	s := newRTStep("join", rec)
	s.serial = true
	s.roles = []lab.Role{lab.RoleDB}
	var inflight, peak atomic.Int32
	s.onApply = func(ctx context.Context, n string) error {
		if v := inflight.Add(1); v > peak.Load() {
			peak.Store(v)
		}
		inflight.Add(-1)
		return nil
	}
	boom := errors.New("join refused")
	s.applyErr["SQL-TWO"] = boom
	_, _, _, err := rtRun(t, &Runner{Steps: []Step{s}, Concurrency: 6})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the node's error", err)
	}
	// First every node's check at once (read-only), then one node at a time.
	got := rec.list()
	if len(got) < 3 {
		t.Fatalf("calls %v", got)
	}
	reads := append([]string(nil), got[:3]...)
	slices.Sort(reads)
	if strings.Join(reads, " ") != "join:check:SQL-ONE join:check:SQL-THREE join:check:SQL-TWO" {
		t.Errorf("first calls %v, want a check of each node", got[:3])
	}
	want := []string{"join:check:SQL-ONE", "join:apply:SQL-ONE", "join:check:SQL-ONE", "join:check:SQL-TWO", "join:apply:SQL-TWO"}
	if strings.Join(got[3:], " ") != strings.Join(want, " ") {
		t.Errorf("calls %v, want %v (SQL-THREE must not be touched after SQL-TWO failed)", got[3:], want)
	}
	if peak.Load() != 1 {
		t.Errorf("serial step ran %d nodes at once", peak.Load())
	}
	if !strings.Contains(err.Error(), "join: SQL-TWO: join refused") {
		t.Errorf("error lacks the prefixed node error: %v", err)
	}
}

func TestRunnerAggregatesNodeErrorsAndStopsBeforeNextStep(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("a", rec), newRTStep("b", rec)
	errOne, errTwo := errors.New("disk full"), errors.New("lock held")
	a.applyErr["SQL-ONE"] = fmt.Errorf("clone: %w", errOne)
	a.applyErr["SERVER-TWO"] = errTwo
	sum, out, log, err := rtRun(t, &Runner{Steps: []Step{a, b}, Concurrency: 6})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, errOne) || !errors.Is(err, errTwo) {
		t.Errorf("errors.Is does not reach both node errors: %v", err)
	}
	var re *RunError
	if !errors.As(err, &re) || re.Step != "a" || re.Interrupted {
		t.Fatalf("err is not a RunError for step a: %#v", err)
	}
	msg := err.Error()
	for _, want := range []string{"a: SQL-ONE: clone: disk full", "a: SERVER-TWO: lock held", "/state/logs/up-1.log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// The other nodes still completed; step b never started.
	if got := rec.count("a:apply:"); got != 6 {
		t.Errorf("%d applies in step a, want 6", got)
	}
	if got := rec.count("b:"); got != 0 {
		t.Errorf("step b ran after a failed step: %v", rec.list())
	}
	if !strings.Contains(out, "✗ Doing a (2 failed)") {
		t.Errorf("progress:\n%s", out)
	}
	if !strings.Contains(log, "SQL-ONE: failed: clone: disk full") {
		t.Errorf("log lacks the node error:\n%s", log)
	}
	if len(sum.Steps) != 1 || sum.Steps[0].Changed != 4 {
		t.Errorf("summary steps = %+v", sum.Steps)
	}
}

func TestRunnerCancellationStopsCleanly(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("a", rec), newRTStep("b", rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.onApply = func(ctx context.Context, n string) error {
		if n == "SQL-TWO" {
			cancel() // Ctrl-C while SQL-TWO is being applied
			<-ctx.Done()
			return fmt.Errorf("clonevm killed: %w", ctx.Err())
		}
		return nil
	}
	var out bytes.Buffer
	r := &Runner{Steps: []Step{a, b}, Concurrency: 1, Out: &out, LogPath: "/l/up.log"}
	_, err := r.Run(ctx, rtEnv())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled inside", err)
	}
	var re *RunError
	if !errors.As(err, &re) || !re.Interrupted {
		t.Fatalf("not an interrupted RunError: %#v", err)
	}
	if !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "labctl up") {
		t.Errorf("message does not say it was interrupted and how to resume: %v", err)
	}
	if n := rec.count("a:apply:"); n != 2 {
		t.Errorf("%d nodes applied, want 2 (SQL-ONE, SQL-TWO): %v", n, rec.list())
	}
	if rec.count("a:check:SQL-THREE") != 0 || rec.count("b:") != 0 {
		t.Errorf("work continued after the interrupt: %v", rec.list())
	}
}

func TestRunnerFromResumesAndChecksSkippedNeeds(t *testing.T) {
	rec := &rtCalls{}
	a, b, c := newRTStep("a", rec), newRTStep("b", rec), newRTStep("c", rec)
	b.needs, c.needs = []string{"a"}, []string{"b"}
	for _, n := range rtPlan().Nodes {
		a.setDone(n.VM)
	}
	_, _, _, err := rtRun(t, &Runner{Steps: []Step{a, b, c}, From: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.count("a:apply:") != 0 || rec.count("a:check:") != 6 {
		t.Errorf("step a should only be checked (as b's need): %v", rec.list())
	}
	if rec.count("b:apply:") != 6 || rec.count("c:apply:") != 6 {
		t.Errorf("b and c did not run: %v", rec.list())
	}

	_, _, _, err = rtRun(t, &Runner{Steps: []Step{a, b, c}, From: "bogus"})
	if err == nil || !strings.Contains(err.Error(), `unknown step "bogus"`) || !strings.Contains(err.Error(), "a, b, c") {
		t.Errorf("unknown step error = %v", err)
	}
	_, _, _, err = rtRun(t, &Runner{Steps: []Step{a, b, c}, From: "b", Only: "c"})
	if err == nil {
		t.Error("--from with --only accepted")
	}
}

func TestRunnerOnlyRefusesUnmetNeeds(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("packages", rec), newRTStep("web", rec)
	b.needs = []string{"packages"}
	a.setDone("SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "LOAD-BALANCER") // not SERVER-TWO
	_, _, _, err := rtRun(t, &Runner{Steps: []Step{a, b}, Only: "web"})
	if err == nil {
		t.Fatal("--only web ran although packages is not done on SERVER-TWO")
	}
	for _, want := range []string{"--only web", `"packages"`, "SERVER-TWO", "labctl up --from packages"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if rec.count("web:") != 0 || rec.count("packages:apply") != 0 {
		t.Errorf("something ran: %v", rec.list())
	}
	// Once the need is met, --only runs just that step.
	a.setDone("SERVER-TWO")
	if _, _, _, err = rtRun(t, &Runner{Steps: []Step{a, b}, Only: "web"}); err != nil {
		t.Fatal(err)
	}
	if rec.count("web:apply:") != 6 || rec.count("packages:apply") != 0 {
		t.Errorf("calls: %v", rec.list())
	}
}

func TestRunnerFailsWhenRecheckStillFails(t *testing.T) {
	rec := &rtCalls{}
	a := newRTStep("a", rec)
	a.noop = true
	a.roles = []lab.Role{lab.RoleLB}
	_, _, _, err := rtRun(t, &Runner{Steps: []Step{a}})
	if err == nil || !strings.Contains(err.Error(), "LOAD-BALANCER: applied but check still fails: a not done on LOAD-BALANCER") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunnerDryRunNeverApplies(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("a", rec), newRTStep("b", rec)
	a.setDone("SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO") // LB still to do
	b.setDone("SQL-ONE")                                                     // the rest to do
	sum, _, _, err := rtRun(t, &Runner{Steps: []Step{a, b}, Mode: ModeDryRun})
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.count("a:apply") + rec.count("b:apply"); n != 0 {
		t.Fatalf("dry-run applied %d times: %v", n, rec.list())
	}
	// b on LOAD-BALANCER is not checked: it would see the state a changes.
	if rec.count("b:check:LOAD-BALANCER") != 0 {
		t.Errorf("dry-run checked a node with an earlier pending change")
	}
	var buf bytes.Buffer
	sum.Print(&buf, rtPlan())
	got := buf.String()
	for _, want := range []string{
		"LOAD-BALANCER:\n  - Doing a: a not done on LOAD-BALANCER\n  - then: Doing b",
		"SQL-TWO:\n  - Doing b: b not done on SQL-TWO",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry-run report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "SQL-ONE:") {
		t.Errorf("SQL-ONE has nothing to change but is listed:\n%s", got)
	}

	// Everything done: "no changes".
	for _, n := range rtPlan().Nodes {
		a.setDone(n.VM)
		b.setDone(n.VM)
	}
	sum, _, _, err = rtRun(t, &Runner{Steps: []Step{a, b}, Mode: ModeDryRun})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	sum.Print(&buf, rtPlan())
	if !strings.Contains(buf.String(), "No changes") {
		t.Errorf("report: %s", buf.String())
	}
}

func TestRunnerPlanModeAppliesAgainstRecordersWithoutChecks(t *testing.T) {
	rec := &rtCalls{}
	pre := newRTStep("preflight", rec)
	pre.labWide = true
	a := newRTStep("a", rec)
	a.roles = []lab.Role{lab.RoleWeb}
	_, out, _, err := rtRun(t, &Runner{Steps: []Step{pre, a}, Mode: ModePlan, Concurrency: 6})
	if err != nil {
		t.Fatal(err)
	}
	if rec.count("a:check") != 0 || rec.count("preflight:check") != 0 {
		t.Errorf("plan mode ran checks: %v", rec.list())
	}
	want := "== 2. Doing a (a)\nSERVER-ONE:\n  run a on SERVER-ONE with password <redacted>\nSERVER-TWO:\n  run a on SERVER-TWO with password <redacted>\n"
	if !strings.Contains(out, want) {
		t.Errorf("plan output lacks\n%s\ngot:\n%s", want, out)
	}
	if !strings.Contains(out, "== 1. Doing preflight (preflight)\nlab:\n  run preflight on lab") {
		t.Errorf("lab-wide step not shown once under 'lab':\n%s", out)
	}
	if strings.Contains(out, "s3cret-root-pw") {
		t.Error("plan output shows a secret")
	}
}

func TestRunnerLabWideStepRunsOnce(t *testing.T) {
	rec := &rtCalls{}
	pre := newRTStep("preflight", rec)
	pre.labWide = true
	if _, _, _, err := rtRun(t, &Runner{Steps: []Step{pre}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.list(), " "); got != "preflight:check:lab preflight:apply:lab preflight:check:lab" {
		t.Errorf("calls: %s", got)
	}
}

func TestRunnerBarStyleAndWarnings(t *testing.T) {
	rec := &rtCalls{}
	a := newRTStep("a", rec)
	a.onApply = func(context.Context, string) error { return nil }
	warner := &rtWarnStep{rtStep: newRTStep("w", rec)}
	var out, log bytes.Buffer
	r := &Runner{Steps: []Step{a, warner}, Out: &out, Log: &log, Progress: ui.TTY}
	if _, err := r.Run(context.Background(), rtEnv()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "✓ Doing a (changed 6)") || !strings.Contains(out.String(), "! careful") {
		t.Errorf("bar-style output:\n%q", out.String())
	}
	if !strings.Contains(log.String(), "WARNING: careful") {
		t.Errorf("warning not logged:\n%s", log.String())
	}
}

type rtWarnStep struct{ *rtStep }

func (w *rtWarnStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	if n.VM == "SQL-ONE" {
		env.Warnf("careful")
	}
	return w.rtStep.Check(ctx, env, n)
}

func TestRunnerVerboseIsRedacted(t *testing.T) {
	rec := &rtCalls{}
	a := newRTStep("a", rec)
	a.onApply = nil
	leaky := &rtLeakStep{rtStep: a}
	var verbose bytes.Buffer
	r := &Runner{Steps: []Step{leaky}, Verbose: &verbose}
	if _, _, _, err := rtRun(t, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(verbose.String(), "s3cret-root-pw") || !strings.Contains(verbose.String(), "<redacted>") {
		t.Errorf("verbose stream:\n%s", verbose.String())
	}
}

type rtLeakStep struct{ *rtStep }

func (l *rtLeakStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	fmt.Fprintf(env.Log, "mysql -p%s\n", env.Secrets.MySQLRoot)
	return l.rtStep.Apply(ctx, env, n)
}

// rtGuestStep runs a script and uploads a file through guest control.
type rtGuestStep struct{ *rtStep }

func (g *rtGuestStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	ex := env.Control(n)
	if _, err := ex.Run(ctx, guest.Cmd{Script: "set -eu\nhostnamectl set-hostname " + n.Hostname, Stdin: []byte(env.Secrets.MySQLRoot)}); err != nil {
		return err
	}
	_, err := ex.Upload(ctx, guest.File{Path: "/etc/labctl/pw", Content: []byte("pw=" + env.Secrets.MySQLRoot + "\n"), Mode: 0o600})
	return err
}

func TestRunnerPlanModeShowsGuestRecordings(t *testing.T) {
	env := rtEnv()
	recs := map[string]*guest.Recorder{}
	env.Control = func(n *lab.Node) guest.Executor {
		if recs[n.VM] == nil {
			recs[n.VM] = guest.NewRecorder(n.VM, env.Secrets.Values()...)
		}
		return recs[n.VM]
	}
	env.SSH = env.Control // the same recorder must not be listed twice
	s := &rtGuestStep{newRTStep("hostname", &rtCalls{})}
	s.roles = []lab.Role{lab.RoleLB}
	var out bytes.Buffer
	if _, err := (&Runner{Steps: []Step{s}, Mode: ModePlan, Out: &out}).Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	want := "Steps:\n   1. hostname          Doing hostname\n\n== 1. Doing hostname (hostname)\nLOAD-BALANCER:\n  $ set -eu\n    hostnamectl set-hostname load-balancer\n    < <redacted>\n  upload /etc/labctl/pw (mode 0600, root:root)\n\n"
	if out.String() != want {
		t.Errorf("plan:\n%q\nwant\n%q", out.String(), want)
	}
}

// rtSecretStep logs a command with a secret and fails quoting it, the way a
// careless step could; neither the log nor the error may show it.
type rtSecretStep struct{ *rtStep }

func (l *rtSecretStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	fmt.Fprintf(env.Log, "%s: mysql -uroot -p%s -e 'select 1'\n", n.VM, env.Secrets.MySQLRoot)
	if n.Role == lab.RoleWeb {
		return fmt.Errorf("mysql: access denied for password %s (guest password %s)", env.Secrets.WordPressDB, env.GuestPassword)
	}
	return nil
}

func TestRunnerLogAndErrorHoldNoSecret(t *testing.T) {
	env := rtEnv()
	env.Secrets = &lab.Secrets{MySQLRoot: "root-Zq81", Replication: "repl-Kx02", Verifier: "ver-Ab77",
		WordPressDB: "wpdb-Lm55", WordPressAdmin: "wpadm-Qe19", WPSalts: map[string]string{"AUTH_KEY": "salt-Rt44"}}
	env.GuestPassword = "guest-Po31"
	all := append(env.Secrets.Values(), env.GuestPassword)
	var logFile, out bytes.Buffer
	red := redact.NewWriter(&logFile, all)
	s := &rtSecretStep{newRTStep("leaky", &rtCalls{})}
	r := &Runner{Steps: []Step{s}, Out: &out, Log: red, LogPath: "/state/up.log"}
	_, err := r.Run(context.Background(), env)
	red.Flush()
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(logFile.String(), "mysql -uroot -p") || !strings.Contains(logFile.String(), "access denied") {
		t.Fatalf("the log lacks the step's lines:\n%s", logFile.String())
	}
	for _, v := range all {
		for where, text := range map[string]string{"log": logFile.String(), "error": err.Error(), "output": out.String()} {
			if strings.Contains(text, v) {
				t.Errorf("the %s shows secret %q:\n%s", where, v, text)
			}
		}
	}
}

func TestSummaryPrintTellsHowToReachWordPress(t *testing.T) {
	rec := &rtCalls{}
	v := newRTStep("verify", rec)
	v.roles = []lab.Role{lab.RoleLB}
	sum, _, _, err := rtRun(t, &Runner{Steps: []Step{newRTStep("web", rec), v}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum.Print(&buf, rtPlan())
	got := buf.String()
	if !strings.HasPrefix(got, "Done in ") || !strings.Contains(got, "2 step(s) changed something, 0 already done") ||
		!strings.Contains(got, "How to reach WordPress: http://192.0.2.162/\n") {
		t.Errorf("summary:\n%s", got)
	}
	// Without the service steps (the VM phase alone) there is no WordPress yet.
	sum, _, _, err = rtRun(t, &Runner{Steps: []Step{newRTStep("clone-vms", rec)}})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	sum.Print(&buf, rtPlan())
	if strings.Contains(buf.String(), "WordPress") {
		t.Errorf("summary of the VM phase mentions WordPress:\n%s", buf.String())
	}
}

// One failure on every node is said once; different failures stay apart.
func TestRunErrorMergesIdenticalNodeFailures(t *testing.T) {
	logon := errors.New("guest control refused the logon as \"root\"")
	errs := []error{
		fmt.Errorf("fresh-identity: SQL-ONE: SQL-ONE: %w", logon),
		fmt.Errorf("fresh-identity: SQL-TWO: SQL-TWO: %w", logon),
		fmt.Errorf("fresh-identity: SQL-THREE: SQL-THREE: %w", logon),
	}
	e := &RunError{Step: "fresh-identity", Title: "Giving each clone a fresh identity", Err: &multierror.Error{Errors: errs}, Targets: 3}
	got := e.Error()
	if strings.Count(got, "refused the logon") != 1 || !strings.Contains(got, "fresh-identity: all 3 nodes: guest control refused") {
		t.Errorf("identical failures not merged:\n%s", got)
	}
	if !errors.Is(e, logon) {
		t.Error("merging hid the cause from errors.Is")
	}
	e.Targets = 6
	e.Err = &multierror.Error{Errors: append(errs[:2:2], errors.New("fresh-identity: LOAD-BALANCER: disk full"))}
	got = e.Error()
	if !strings.Contains(got, "fresh-identity: SQL-ONE, SQL-TWO: guest control refused") || !strings.Contains(got, "fresh-identity: LOAD-BALANCER: disk full") || strings.Contains(got, "all ") {
		t.Errorf("partial merge:\n%s", got)
	}
}

// Ctrl-C: one line saying what was interrupted and how to resume, no
// "context canceled" per node.
func TestInterruptedRunSaysItOnce(t *testing.T) {
	e := &RunError{Step: "packages", Title: "Installing packages", Interrupted: true, Cause: context.Canceled, LogPath: "/l/up.log",
		Err: &multierror.Error{Errors: []error{fmt.Errorf("packages: SQL-ONE: %w", context.Canceled), fmt.Errorf("packages: SQL-TWO: %w", context.Canceled)}}}
	got := e.Error()
	if strings.Contains(got, "\n") || strings.Contains(got, "context canceled") || !strings.Contains(got, "labctl up") {
		t.Errorf("interrupted: %q", got)
	}
}

func TestUnknownStepSuggestsTheClosest(t *testing.T) {
	r := &Runner{Steps: []Step{newRTStep("packages", &rtCalls{})}, Only: "pakages"}
	if _, err := r.selection(); err == nil || !strings.Contains(err.Error(), `did you mean "packages"?`) {
		t.Errorf("--only pakages: %v", err)
	}
}
