package steps

// Early start: the Runner shows and reports one step at a time, but a node
// that has finished a step need not wait for the slowest node before its
// next steps when those only need the node's own earlier steps (the
// packages of a DB node while a web node still installs PHP; a web node's
// nginx while the group forms). After a node finishes a per-node step, the
// Runner runs the following EarlyStart steps that target it, in order, at
// once, and keeps each result until that step's turn comes; the step then
// reports it as if it had run just then. The run log's timing lines hold
// each piece of work's own duration, so the critical path reads the same.

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"labctl/lab"
)

// EarlyStart is implemented by per-node steps a node may run as soon as it
// has done its own earlier steps, while other nodes still run an earlier
// step: nothing in them reads or needs another node's state.
type EarlyStart interface{ EarlyStart() bool }

func isEarly(s Step) bool {
	e, ok := s.(EarlyStart)
	if !ok || !e.EarlyStart() || isSerial(s) || isLabWide(s) {
		return false
	}
	if _, prep := s.(Preparer); prep {
		return false // its Prepare reads every node, after the step before
	}
	return true
}

// earlyResult is one step×node run ahead of its turn.
type earlyResult struct {
	done      chan struct{}
	skipped   bool // not run (an earlier failure, the run stopping): run it in turn
	didChange bool
	verdict   string
	err       error
	took      time.Duration
}

// early holds the work run ahead of its turn in one Run.
type early struct {
	mu    sync.Mutex
	res   map[string]map[*lab.Node]*earlyResult // by step name, node
	wg    sync.WaitGroup
	abort atomic.Bool
}

func newEarly() *early { return &early{res: map[string]map[*lab.Node]*earlyResult{}} }

// take returns the early result of s on n, nil when none was started.
func (e *early) take(s Step, n *lab.Node) *earlyResult {
	if e == nil || n == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.res[s.Name()][n]
}

// stop lets no more early work start and waits for what runs.
func (e *early) stop() {
	if e == nil {
		return
	}
	e.abort.Store(true)
	e.wg.Wait()
}

// chainAfter starts, for node n which has just finished step i, the
// following selected EarlyStart steps that target n, in order, up to the
// first step that targets n and may not start early, or that needs every
// node (lab-wide, cross-node). Steps that do not target n are passed over.
func (x *run) chainAfter(ctx context.Context, i int, n *lab.Node) {
	e := x.early
	if e == nil || n == nil || e.abort.Load() {
		return
	}
	var chain []Step
	for j := i + 1; j < len(x.r.Steps); j++ {
		s := x.r.Steps[j]
		if !x.sel[j] || isLabWide(s) {
			break
		}
		if c, ok := s.(CrossNode); ok && c.CrossNode() {
			break
		}
		if !slices.Contains(s.Targets(x.env.Plan), n) {
			continue
		}
		if !isEarly(s) {
			break
		}
		chain = append(chain, s)
	}
	if len(chain) == 0 {
		return
	}
	slots := make([]*earlyResult, len(chain))
	e.mu.Lock()
	if e.res[chain[0].Name()][n] != nil {
		e.mu.Unlock()
		return // already started after an earlier step
	}
	for k, s := range chain {
		if e.res[s.Name()] == nil {
			e.res[s.Name()] = map[*lab.Node]*earlyResult{}
		}
		slots[k] = &earlyResult{done: make(chan struct{})}
		e.res[s.Name()][n] = slots[k]
	}
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		failed := false
		for k, s := range chain {
			r := slots[k]
			if failed || e.abort.Load() || ctx.Err() != nil {
				r.skipped = true
				close(r.done)
				continue
			}
			x.logf("step %s: %s: started early (done with the steps before it)", s.Name(), nodeLabel(n))
			began := time.Now()
			r.didChange, r.verdict, r.err = x.runNode(ctx, s, n)
			r.took = time.Since(began)
			failed = r.err != nil
			close(r.done)
		}
	}()
}

// The per-node steps a node may start as soon as it has done its own
// earlier steps. Each only reads and changes its own node (and VM); what
// it needs of other nodes is in the plan (addresses, names), not their
// state. Not here: the VM steps with a lab-wide Prepare (clone-vms,
// configure-vms), the group's formation and what needs the group
// (keepalived, the WordPress database), and the cross-node WordPress
// install and verify.
func (startVMsStep) EarlyStart() bool    { return true }
func (waitGuestsStep) EarlyStart() bool  { return true }
func (freshIdentity) EarlyStart() bool   { return true }
func (guestNetwork) EarlyStart() bool    { return true }
func (sshAccess) EarlyStart() bool       { return true }
func (waitSSH) EarlyStart() bool         { return true }
func (hostsFile) EarlyStart() bool       { return true }
func (firewallStep) EarlyStart() bool    { return true }
func (packagesStep) EarlyStart() bool    { return true }
func (selinuxStep) EarlyStart() bool     { return true }
func (mysqlConfigStep) EarlyStart() bool { return true }
func (webStep) EarlyStart() bool         { return true }
func (lbStep) EarlyStart() bool          { return true }
