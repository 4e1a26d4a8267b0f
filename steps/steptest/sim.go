// Package steptest simulates the lab's guests at the step level, so the
// whole pipeline (and the whole CLI) can run in tests where no guest
// exists: the VM-phase steps stay real (they drive VirtualBox, or the fake
// VBoxManage), every guest step is replaced by a stand-in that keeps the
// real step's name, title, targets, ordering and dependencies but whose
// Check and Apply only read and write the Sim's per-node "applied" state.
//
// A simulated Apply never touches a guest, so no real guest script can
// run on the test host through it.
package steptest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"labctl/lab"
	"labctl/steps"
)

// ErrInjected is wrapped by every failure a Sim fault produces.
var ErrInjected = errors.New("simulated failure")

// LabKey names the lab as a whole in the Sim's state, for lab-wide steps (n == nil).
const LabKey = "lab"

// Sim is the simulated guests' state, shared by every wrapped step of one
// or more runs (a re-run sees what the earlier run applied). Set the
// latency fields before a run; the methods are safe for concurrent use.
type Sim struct {
	// Latency is how long one node's Apply of a step takes, by step name
	// (before Scale). Steps not listed take DefaultLatency.
	Latency        map[string]time.Duration
	DefaultLatency time.Duration
	// CheckLatency is how long every Check takes (e.g. one SSH round trip).
	CheckLatency time.Duration
	// Scale divides every latency (0 or 1 = as given): a benchmark keeps
	// realistic numbers in Latency and runs them 100 times faster.
	Scale float64

	mu      sync.Mutex
	planted map[netip.Addr]string      // address → MAC of a machine outside the lab (lan.go)
	probes  []string                   // the addresses of every address probe, one entry per probe
	applied map[string]map[string]bool // step → node key → applied
	applies map[string]int             // "step/node" → Apply calls
	checks  int
	faults  []*fault
	fired   []string // "step/node" of every fault that fired, in order
	events  []Event
}

// Event is one simulated Apply: which step on which node, when it started
// and ended, and whether it failed.
type Event struct {
	Step, Node string
	Start, End time.Time
	Err        error
}

type fault struct {
	step, node string // node "" = any node
	left       int    // fires left; -1 = always
}

// NewSim returns a Sim where nothing is applied yet.
func NewSim() *Sim { return &Sim{} }

// SimStep is a real step with simulated Check and Apply.
type SimStep struct {
	Real steps.Step
	sim  *Sim
}

var (
	_ steps.Step    = (*SimStep)(nil)
	_ steps.Serial  = (*SimStep)(nil)
	_ steps.Needs   = (*SimStep)(nil)
	_ steps.LabWide = (*SimStep)(nil)
)

// Wrap keeps real's identity, targets, ordering and dependencies and
// replaces its Check and Apply by the Sim's. (The real step's Prepare, if
// any, is dropped on purpose: it would read the live guests.)
func Wrap(real steps.Step, sim *Sim) steps.Step { return &SimStep{Real: real, sim: sim} }

func (s *SimStep) Name() string                  { return s.Real.Name() }
func (s *SimStep) Title() string                 { return s.Real.Title() }
func (s *SimStep) Targets(p *lab.Plan) lab.Nodes { return s.Real.Targets(p) }

// Serial, Needs and LabWide answer what the real step answers (false/nil
// when it does not implement them).
func (s *SimStep) Serial() bool {
	se, ok := s.Real.(steps.Serial)
	return ok && se.Serial()
}

func (s *SimStep) Needs() []string {
	if n, ok := s.Real.(steps.Needs); ok {
		return n.Needs()
	}
	return nil
}

// ReadOnly forwards the real step's: a simulated verify still never "changes".
func (s *SimStep) ReadOnly() bool {
	r, ok := s.Real.(steps.ReadOnly)
	return ok && r.ReadOnly()
}

// EarlyStart and CrossNode forward the real step's, so the Runner
// schedules the simulated pipeline as it does the real one.
func (s *SimStep) EarlyStart() bool {
	e, ok := s.Real.(steps.EarlyStart)
	return ok && e.EarlyStart()
}

func (s *SimStep) CrossNode() bool {
	c, ok := s.Real.(steps.CrossNode)
	return ok && c.CrossNode()
}

func (s *SimStep) LabWide() bool {
	lw, ok := s.Real.(steps.LabWide)
	return ok && lw.LabWide()
}

// Check is Done iff the Sim has the step applied on the node.
func (s *SimStep) Check(ctx context.Context, _ *steps.Env, n *lab.Node) (steps.Status, error) {
	if err := sleep(ctx, s.sim.scaled(s.sim.CheckLatency)); err != nil {
		return steps.Status{}, err
	}
	s.sim.mu.Lock()
	s.sim.checks++
	s.sim.mu.Unlock()
	if s.sim.Applied(s.Name(), nodeKey(n)) {
		return steps.Status{Done: true}, nil
	}
	return steps.Status{Why: "simulated: not applied"}, nil
}

// Apply takes the step's latency, then fails if a fault fires, else marks
// the step applied on the node. In a plan (the Env records a Transcript)
// it only notes that it is simulated: the Sim is the guests, and a plan
// changes none.
func (s *SimStep) Apply(ctx context.Context, env *steps.Env, n *lab.Node) error {
	if env != nil && env.Transcript != nil {
		env.PlanNotef("simulated step %s", s.Name())
		return nil
	}
	key := nodeKey(n)
	s.sim.mu.Lock()
	if s.sim.applies == nil {
		s.sim.applies = map[string]int{}
	}
	s.sim.applies[s.Name()+"/"+key]++
	s.sim.mu.Unlock()
	ev := Event{Step: s.Name(), Node: key, Start: time.Now()}
	err := sleep(ctx, s.sim.LatencyOf(s.Name()))
	if err == nil && s.sim.fire(s.Name(), key) {
		err = fmt.Errorf("%s on %s: %w", s.Name(), key, ErrInjected)
	}
	ev.End, ev.Err = time.Now(), err
	s.sim.mu.Lock()
	defer s.sim.mu.Unlock()
	s.sim.events = append(s.sim.events, ev)
	if err != nil {
		return err
	}
	if s.sim.applied == nil {
		s.sim.applied = map[string]map[string]bool{}
	}
	if s.sim.applied[s.Name()] == nil {
		s.sim.applied[s.Name()] = map[string]bool{}
	}
	s.sim.applied[s.Name()][key] = true
	return nil
}

func nodeKey(n *lab.Node) string {
	if n == nil {
		return LabKey
	}
	return n.VM
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Sim) scaled(d time.Duration) time.Duration {
	if s.Scale > 1 {
		return time.Duration(float64(d) / s.Scale)
	}
	return d
}

// LatencyOf is one node's Apply time for a step, after Scale.
func (s *Sim) LatencyOf(step string) time.Duration {
	d, ok := s.Latency[step]
	if !ok {
		d = s.DefaultLatency
	}
	return s.scaled(d)
}

// CheckTime is one Check's time, after Scale.
func (s *Sim) CheckTime() time.Duration { return s.scaled(s.CheckLatency) }

// FailOnce makes the next Apply of step on node (by VM name; "" = any node) fail.
func (s *Sim) FailOnce(step, node string) { s.addFault(step, node, 1) }

// FailAlways makes every Apply of step on node (by VM name; "" = any node) fail.
func (s *Sim) FailAlways(step, node string) { s.addFault(step, node, -1) }

// ClearFaults drops every pending fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Sim) addFault(step, node string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{step: step, node: node, left: times})
}

// fire consumes the first matching fault.
func (s *Sim) fire(step, node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.step != step || (f.node != "" && f.node != node) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		s.fired = append(s.fired, step+"/"+node)
		return true
	}
	return false
}

// Events returns every simulated Apply so far, in the order they ended.
func (s *Sim) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Fired lists "step/node" for every fault that fired, in order.
func (s *Sim) Fired() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.fired...)
}

// PendingFaults counts the faults that have not fired out yet.
func (s *Sim) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

// Applied reports whether step is applied on node (a VM name, or LabKey).
func (s *Sim) Applied(step, node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied[step][node]
}

// Unapply forgets that step is applied on node, as if the guest drifted.
func (s *Sim) Unapply(step, node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.applied[step], node)
}

// Applies is the number of Apply calls so far (all steps and nodes).
func (s *Sim) Applies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.applies {
		n += c
	}
	return n
}

// ApplyCounts is a copy of the Apply calls by "step/node".
func (s *Sim) ApplyCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.applies))
	for k, v := range s.applies {
		out[k] = v
	}
	return out
}

// Checks is the number of Check calls so far.
func (s *Sim) Checks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checks
}

// Missing lists "step/node" for every target of every simulated step of
// pipeline that is not applied (nil when the simulated lab is complete).
func (s *Sim) Missing(p *lab.Plan, pipeline []steps.Step) []string {
	var out []string
	for _, st := range pipeline {
		ss, ok := st.(*SimStep)
		if !ok {
			continue
		}
		for _, key := range targetKeys(ss, p) {
			if !s.Applied(ss.Name(), key) {
				out = append(out, ss.Name()+"/"+key)
			}
		}
	}
	sort.Strings(out)
	return out
}

func targetKeys(s *SimStep, p *lab.Plan) []string {
	if s.LabWide() {
		return []string{LabKey}
	}
	var keys []string
	for _, n := range s.Targets(p) {
		keys = append(keys, n.VM)
	}
	return keys
}

// SimulatedNames lists the names of the steps Wrap replaced in pipeline.
func SimulatedNames(pipeline []steps.Step) []string {
	var out []string
	for _, st := range pipeline {
		if _, ok := st.(*SimStep); ok {
			out = append(out, st.Name())
		}
	}
	return out
}

// SimPipeline is steps.Pipeline() with every step outside the VM phase
// simulated by sim. The VM-phase steps are the real ones.
func SimPipeline(sim *Sim) []steps.Step {
	vm := map[string]bool{}
	for _, s := range steps.VMPhase() {
		vm[s.Name()] = true
	}
	var out []steps.Step
	for _, s := range steps.Pipeline() {
		switch {
		case vm[s.Name()]:
			out = append(out, s)
		case s.Name() == ProbeStep:
			// The real step, its script answered by the simulated LAN (lan.go).
			out = append(out, steps.AddressProbeVia(sim.lanGuest))
		default:
			out = append(out, Wrap(s, sim))
		}
	}
	return out
}

// CriticalPath is the least time the simulated steps of pipeline can take
// with unlimited concurrency: per step, one node's Check + Apply + Check
// for a concurrent step (all nodes at once) or the sum over its nodes for
// a serial one. The VM phase is not included (its time is the fake's).
func (s *Sim) CriticalPath(p *lab.Plan, pipeline []steps.Step) time.Duration {
	var total time.Duration
	for _, st := range pipeline {
		ss, ok := st.(*SimStep)
		if !ok {
			continue
		}
		n := len(targetKeys(ss, p))
		if n == 0 {
			continue
		}
		one := s.LatencyOf(ss.Name()) + 2*s.CheckTime()
		if ss.Serial() {
			total += time.Duration(n) * one
		} else {
			total += one
		}
	}
	return total
}

// String summarises the simulated state, for test failures.
func (s *Sim) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for step, nodes := range s.applied {
		var ns []string
		for n, ok := range nodes {
			if ok {
				ns = append(ns, n)
			}
		}
		sort.Strings(ns)
		lines = append(lines, step+": "+strings.Join(ns, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// LabTOML is a complete six-node lab file on TEST-NET-1 (192.0.2.0/24),
// bridged on adapter, cloning baseVM, whose guest password is in
// passwordFile (empty = none given).
func LabTOML(name, baseVM, adapter, passwordFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %q\n\n[base]\nvm = %q\n", name, baseVM)
	if passwordFile != "" {
		fmt.Fprintf(&b, "password_file = %q\n", passwordFile)
	}
	fmt.Fprintf(&b, "\n[network]\nbridge_adapter = %q\nnetwork = \"192.0.2.0/24\"\ngateway = \".1\"\nvip = \".167\"\n", adapter)
	nodes := []struct{ vm, ip, role string }{
		{"SQL-ONE", ".100", "db"}, {"SQL-TWO", ".101", "db"}, {"SQL-THREE", ".102", "db"},
		{"SERVER-ONE", ".160", "web"}, {"SERVER-TWO", ".161", "web"}, {"LOAD-BALANCER", ".162", "lb"},
	}
	for _, n := range nodes {
		fmt.Fprintf(&b, "\n[[nodes]]\nvm = %q\nhostname = %q\nip = %q\nrole = %q\n", n.vm, strings.ToLower(n.vm), n.ip, n.role)
	}
	return b.String()
}
