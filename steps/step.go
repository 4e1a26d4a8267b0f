// Package steps is the lab pipeline: an ordered list of steps, each checked
// against the live system per node and applied only where needed.
package steps

import (
	"context"
	"io"
	"time"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
	"labctl/vbox"
)

// Status is a Check's verdict for one node.
type Status struct {
	Done bool
	Why  string // the plan line when not done: "hostname is alma, want sql-one"
}

// Step is one stage of the pipeline.
type Step interface {
	// Name is a short identifier used by --from/--only ("clone-vms").
	Name() string
	// Title is the progress line ("Cloning VMs").
	Title() string
	// Targets returns the nodes this step acts on; empty = skip.
	Targets(p *lab.Plan) lab.Nodes
	// Check reads the live system (never changes it).
	Check(ctx context.Context, env *Env, n *lab.Node) (Status, error)
	// Apply makes the node match; the Runner re-checks afterwards.
	Apply(ctx context.Context, env *Env, n *lab.Node) error
}

// Serial is implemented by steps whose nodes must be handled one at a time, in Targets order.
type Serial interface{ Serial() bool }

// Needs is implemented by steps that depend on earlier steps by name.
type Needs interface{ Needs() []string }

// LabWide is implemented by steps that act on the lab as a whole (preflight,
// the base VM's snapshot) rather than per node. The Runner ignores their
// Targets and calls Check/Apply exactly once with n == nil.
type LabWide interface{ LabWide() bool }

// Preparer is implemented by steps that read lab-wide facts once per run
// before their nodes are checked (e.g. the MACs already in use). The Runner
// calls Prepare before the step's first Check, except in ModePlan.
type Preparer interface {
	Prepare(ctx context.Context, env *Env) error
}

// Mode says how a run treats the live system.
type Mode int

// Run modes.
const (
	ModeApply  Mode = iota // check, apply, re-check
	ModeDryRun             // check only; report what would change
	ModePlan               // no live system: apply against recorders, print every call
)

// Env is everything a step may use. No state bag: typed fields only.
type Env struct {
	Plan    *lab.Plan
	Secrets *lab.Secrets
	VBox    vbox.API
	Mode    Mode

	// Control returns the guest-control executor of a node (works before the network).
	Control func(n *lab.Node) guest.Executor
	// SSH returns the SSH executor of a node (after guest access is set up).
	SSH func(n *lab.Node) guest.Executor
	// Profile is the guest OS profile of the lab.
	Profile *guest.Profile

	// GuestPassword is the base image's guest-control password (from the password file or prompt).
	GuestPassword string
	// SSHPublicKey is the lab's authorized_keys line.
	SSHPublicKey string
	// HostKeys is the lab's store of pinned SSH host keys.
	HostKeys *hostkeys.Store

	// Log receives every command and its output, secrets redacted.
	Log io.Writer

	// GuestWait bounds how long wait-guests waits for a VM's Guest Additions
	// (0 = DefaultGuestWait).
	GuestWait time.Duration
	// Transcript, in ModePlan, collects what a node's Apply does that the
	// plan prints: notes (Env.PlanNotef), and the scripts and uploads the
	// Runner sees through Control/SSH. (VBoxManage calls are read from the
	// plan runner behind VBox.) The Runner creates it; nil outside ModePlan.
	Transcript *Transcript
	// Warn shows a warning to the user (above the progress) and logs it; the
	// Runner sets it. Steps call env.Warnf, which is nil-safe.
	Warn func(msg string)

	// vmViews carries a VM step's reads from its Prepare to a node's Check
	// and from that Check to the Apply right after it, once each (vmview.go).
	// Runner.Run sets a fresh one per run; nil = every read live.
	vmViews *vmViews
}

// DefaultGuestWait is how long wait-guests waits when Env.GuestWait is 0.
const DefaultGuestWait = 5 * time.Minute

// logOf is the step log, or a sink when the Env has none.
func logOf(env *Env) io.Writer {
	if env.Log == nil {
		return io.Discard
	}
	return env.Log
}
