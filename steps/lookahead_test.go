package steps

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
)

// laStep is an rtStep whose Check may run ahead (Lookahead).
type laStep struct{ *rtStep }

func (laStep) Lookahead() bool { return true }

// gateStep is an rtStep whose Check on any node first waits for open:
// it shows that later steps' checks ran while it had not finished.
type gateStep struct {
	*rtStep
	open chan struct{}
}

func (g gateStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	select {
	case <-g.open:
	case <-time.After(5 * time.Second):
	}
	return g.rtStep.Check(ctx, env, n)
}

// laEnv is rtEnv with a host key pinned for every node (the lab was built
// before) when built is set.
func laEnv(t *testing.T, built bool) *Env {
	t.Helper()
	env := rtEnv()
	store := hostkeys.New(filepath.Join(t.TempDir(), "known_hosts"))
	env.HostKeys = store
	env.SSH = func(*lab.Node) guest.Executor { return nil } // the fake steps never use it
	if built {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
		for _, n := range env.Plan.Nodes {
			if err := store.Pin(n.SSHAddr(), line); err != nil {
				t.Fatal(err)
			}
		}
	}
	return env
}

func laRun(t *testing.T, r *Runner, env *Env) (Summary, string, error) {
	t.Helper()
	var out, log bytes.Buffer
	r.Out, r.Log, r.LogPath = &out, &log, "/state/logs/up-1.log"
	sum, err := r.Run(context.Background(), env)
	return sum, log.String(), err
}

func allNodes() []string {
	return []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "LOAD-BALANCER"}
}

// On a built lab where everything is done, the later steps' checks run
// while an earlier step is still checking, each exactly once per node, and
// nothing is applied.
func TestLookaheadChecksLaterStepsAtOnceOnABuiltLab(t *testing.T) {
	rec := &rtCalls{}
	gate := gateStep{newRTStep("a", rec), make(chan struct{})}
	b, c := laStep{newRTStep("b", rec)}, laStep{newRTStep("c", rec)}
	c.serial = true
	c.roles = []lab.Role{lab.RoleDB}
	for _, s := range []*rtStep{gate.rtStep, b.rtStep, c.rtStep} {
		s.setDone(allNodes()...)
	}
	// a's checks wait until every look-ahead check of b and c has run.
	go func() {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if rec.count("b:check:") == 6 && rec.count("c:check:") == 3 {
				close(gate.open)
				return
			}
		}
	}()
	sum, log, err := laRun(t, &Runner{Steps: []Step{gate, b, c}, Mode: ModeApply, Lookahead: true}, laEnv(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.count("a:check:"); n != 6 {
		t.Errorf("a checked %d times, want 6", n)
	}
	if n := rec.count("b:check:"); n != 6 {
		t.Errorf("b checked %d times, want 6 (once per node, ahead)", n)
	}
	if n := rec.count("c:check:"); n != 3 {
		t.Errorf("c checked %d times, want 3 (once per DB node, ahead)", n)
	}
	for _, call := range rec.list() {
		if strings.Contains(call, ":apply:") {
			t.Errorf("a converged lab applied something: %s", call)
		}
	}
	if !strings.Contains(log, "run: look-ahead: checking 9 later step×node pairs") {
		t.Errorf("the log does not say the look-ahead started:\n%s", log)
	}
	if !strings.Contains(log, "step b: SERVER-TWO: done (look-ahead check") {
		t.Errorf("the log does not say which verdicts came from the look-ahead:\n%s", log)
	}
	for _, st := range sum.Steps {
		if st.Changed != 0 {
			t.Errorf("step %s reports %d changed", st.Name, st.Changed)
		}
	}
}

// Once anything is applied, no look-ahead verdict is used: a later step
// whose look-ahead check said done is checked again, live, and applied.
func TestLookaheadDroppedAfterAChange(t *testing.T) {
	rec := &rtCalls{}
	a, b := newRTStep("a", rec), laStep{newRTStep("b", rec)}
	a.setDone("SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "LOAD-BALANCER")
	b.setDone(allNodes()...)
	// a's change on SQL-ONE undoes what b had found done there (e.g. a
	// rewritten file b's service must reload).
	a.onApply = func(_ context.Context, n string) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.done, n)
		return nil
	}
	_, log, err := laRun(t, &Runner{Steps: []Step{a, b}, Mode: ModeApply, Lookahead: true}, laEnv(t, true))
	if err != nil {
		t.Fatal(err)
	}
	calls := rec.list()
	applyA, applyB := -1, -1
	for i, c := range calls {
		switch c {
		case "a:apply:SQL-ONE":
			applyA = i
		case "b:apply:SQL-ONE":
			applyB = i
		}
	}
	if applyA < 0 || applyB < applyA {
		t.Fatalf("b was not applied on SQL-ONE after a changed it (calls %v)", calls)
	}
	// Whatever the look-ahead read before a's change, b checks every node
	// again, live, after it.
	live := map[string]bool{}
	for _, c := range calls[applyA:] {
		if node, ok := strings.CutPrefix(c, "b:check:"); ok {
			live[node] = true
		}
	}
	if len(live) != 6 {
		t.Errorf("after a's change b checked only %v live, want all 6 nodes", live)
	}
	if !strings.Contains(log, "look-ahead dropped") {
		t.Errorf("the log does not say the look-ahead was dropped:\n%s", log)
	}
	if strings.Contains(log, "done (look-ahead check") {
		t.Errorf("a look-ahead verdict was used after a change:\n%s", log)
	}
}

// A lab not built before (no pinned host keys) and a dry run check in turn only.
func TestLookaheadOnlyOnABuiltLabAndInApplyMode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		built bool
		mode  Mode
	}{{"fresh lab", false, ModeApply}, {"dry run", true, ModeDryRun}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &rtCalls{}
			b := laStep{newRTStep("b", rec)}
			b.setDone(allNodes()...)
			_, log, err := laRun(t, &Runner{Steps: []Step{b}, Mode: tc.mode, Lookahead: true}, laEnv(t, tc.built))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log, "look-ahead") {
				t.Errorf("look-ahead ran:\n%s", log)
			}
			if n := rec.count("b:check:"); n != 6 {
				t.Errorf("b checked %d times, want 6", n)
			}
		})
	}
}
