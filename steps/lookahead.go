package steps

// Look-ahead: on a lab that was built before, `up` usually finds every
// step done, and checking the steps one after another (each waiting for the
// one before everywhere) makes a converged run as long as the sum of its
// checks. Checks only read, so the Runner starts the checks of the later
// steps at the start of the run, all at once, and a step whose turn comes
// uses its look-ahead verdict instead of checking again, but only while
// nothing has changed in this run: the first Apply anywhere discards
// every look-ahead verdict not yet used (each step then checks live, in its
// turn, as always). Only "done" verdicts are used; a node that was not done
// or whose check failed is checked again in its turn.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"labctl/lab"
)

// Lookahead is implemented by steps whose Check may run at the start of a
// run on a built lab: it reads only the guests (over SSH) and the plan and
// secrets, nothing an earlier step of the same run prepares.
type Lookahead interface{ Lookahead() bool }

func isLookahead(s Step) bool {
	l, ok := s.(Lookahead)
	if !ok || !l.Lookahead() {
		return false
	}
	_, prep := s.(Preparer)
	return !prep
}

// lookaheadPerNode bounds the look-ahead checks in flight on one node: each
// is an SSH session on the node's one connection, and sshd refuses more
// than MaxSessions (10 by default) at once, the Runner's own included.
const lookaheadPerNode = 2

// lookaheadLimit bounds a look-ahead check: one that has not answered by
// then is the node's live check's business.
const lookaheadLimit = 20 * time.Second

type laResult struct {
	done    chan struct{}
	ok      bool // the check said done
	started time.Time
}

// lookahead holds one run's look-ahead checks. res is filled before any
// check starts and only read afterwards.
type lookahead struct {
	res     map[string]map[*lab.Node]*laResult // step name → node
	stale   atomic.Bool                        // something was applied: no verdict may be used
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started time.Time
}

// startLookahead starts the checks of every selected Lookahead step on each
// of its targets, a node's checks in pipeline order.
func (x *run) startLookahead(ctx context.Context) {
	la := &lookahead{res: map[string]map[*lab.Node]*laResult{}, started: time.Now()}
	ctx, la.cancel = context.WithTimeout(ctx, lookaheadLimit)
	type job struct {
		s Step
		r *laResult
	}
	perNode := map[*lab.Node][]job{}
	var nodes lab.Nodes
	for i, s := range x.r.Steps {
		if !x.sel[i] || !isLookahead(s) || isLabWide(s) {
			continue
		}
		la.res[s.Name()] = map[*lab.Node]*laResult{}
		for _, n := range s.Targets(x.env.Plan) {
			r := &laResult{done: make(chan struct{})}
			la.res[s.Name()][n] = r
			if perNode[n] == nil {
				nodes = append(nodes, n)
			}
			perNode[n] = append(perNode[n], job{s, r})
		}
	}
	if len(nodes) == 0 {
		la.cancel()
		return
	}
	x.la = la
	x.logf("run: look-ahead: checking %d later step×node pairs at once (the lab was built before)", countJobs(perNode))
	for _, n := range nodes {
		queue := make(chan job, len(perNode[n]))
		for _, j := range perNode[n] {
			queue <- j
		}
		close(queue)
		for w := 0; w < lookaheadPerNode; w++ {
			la.wg.Add(1)
			go func() {
				defer la.wg.Done()
				for j := range queue {
					if la.stale.Load() || ctx.Err() != nil {
						close(j.r.done)
						continue
					}
					j.r.started = time.Now()
					st, err := j.s.Check(ctx, x.env, n)
					j.r.ok = err == nil && st.Done
					close(j.r.done)
				}
			}()
		}
	}
}

func countJobs[T any](m map[*lab.Node][]T) int {
	c := 0
	for _, v := range m {
		c += len(v)
	}
	return c
}

// lookaheadDone reports whether the look-ahead found s done on n and nothing
// has been applied since the run began. It waits for that check to end.
func (x *run) lookaheadDone(ctx context.Context, s Step, n *lab.Node) bool {
	la := x.la
	if la == nil || n == nil || la.stale.Load() {
		return false
	}
	r := la.res[s.Name()][n]
	if r == nil {
		return false
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return false
	}
	// Stale is read after the wait: an Apply that began while this check
	// ran may have changed what it read.
	if !r.ok || la.stale.Load() {
		return false
	}
	x.logf("step %s: %s: done (look-ahead check, %s after the run began)", s.Name(), nodeLabel(n), r.started.Sub(la.started).Round(time.Millisecond))
	return true
}

// lookaheadStale discards every look-ahead verdict: something is about to
// change. Checks in flight finish (they only read); none starts.
func (x *run) lookaheadStale() {
	if x.la == nil || x.la.stale.Swap(true) {
		return
	}
	x.la.cancel() // a check cut short only read
	x.logf("run: look-ahead dropped: a step changes something, later steps check live")
}

// builtBefore reports whether every node has a pinned host key: `up` got
// as far as SSH on each before, so the look-ahead's checks can reach them.
func builtBefore(env *Env) bool {
	if env.HostKeys == nil || env.SSH == nil {
		return false
	}
	pins, err := env.HostKeys.Load()
	if err != nil {
		return false
	}
	for _, n := range env.Plan.Nodes {
		if keys, err := pins.Want(n.SSHAddr()); err != nil || len(keys) == 0 {
			return false
		}
	}
	return true
}

// stopLookahead ends the look-ahead checks and waits for them.
func (x *run) stopLookahead() {
	if x.la == nil {
		return
	}
	x.la.stale.Store(true)
	x.la.cancel()
	x.la.wg.Wait()
}

// The steps whose checks read only the guests over SSH and the lab's plan
// and secrets. Not here: the VM and guest-control steps (their checks
// share reads handed over within the run, or need the VM running first),
// the address probe (its answer depends on which VMs are up), and any
// step with a Prepare.
func (hostsFile) Lookahead() bool       { return true }
func (firewallStep) Lookahead() bool    { return true }
func (packagesStep) Lookahead() bool    { return true }
func (selinuxStep) Lookahead() bool     { return true }
func (mysqlConfigStep) Lookahead() bool { return true }
func (*grStep) Lookahead() bool         { return true }
func (keepalivedStep) Lookahead() bool  { return true }
func (wordpressDBStep) Lookahead() bool { return true }
func (webStep) Lookahead() bool         { return true }
func (lbStep) Lookahead() bool          { return true }
func (wpInstallStep) Lookahead() bool   { return true }
func (verifyStep) Lookahead() bool      { return true }
