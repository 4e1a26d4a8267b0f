// Package steps is the lab pipeline: an ordered list of steps, each checked
// against the live system per node and applied only where needed.
package steps

import (
	"context"
	"crypto/rand"
	"io"
	"net/netip"
	"time"

	"labctl/addrprobe"
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

// CrossNode is implemented by steps whose work on a node needs other nodes'
// earlier steps done (a WordPress install through the load balancer, the
// end-to-end checks). The Runner runs every step after the previous one
// everywhere anyway; this tells the critical path in the run log that the
// wait is real.
type CrossNode interface{ CrossNode() bool }

// ReadOnly is implemented by steps that only check (verify): their Apply
// waits for the checks to pass and changes nothing, so they report
// "passed", never "changed".
type ReadOnly interface{ ReadOnly() bool }

// Preparer is implemented by steps that read lab-wide facts once per run
// before their nodes are checked (e.g. the MACs already in use). The Runner
// calls Prepare before the step's first Check (a plan checks nothing).
type Preparer interface {
	Prepare(ctx context.Context, env *Env) error
}

// Env is everything a step may use. No state bag: typed fields only.
//
// Steps never ask which mode a run is in: what differs between `up` and
// `plan` is behind these fields. The Runner of a plan puts recorders and
// emulators there (plan.go): VBox is a vbox.Emulator, Control and SSH are
// guest.Recorders answering each read with its guest.Cmd.Fresh, and Wait,
// Fetch, HostKeys and Rand are the plan's (planSeams).
type Env struct {
	Plan    *lab.Plan
	Secrets *lab.Secrets
	VBox    vbox.API

	// Control returns the guest-control executor of a node (works before the network).
	Control func(n *lab.Node) guest.Executor
	// SSH returns the SSH executor of a node (after guest access is set up).
	SSH func(n *lab.Node) guest.Executor
	// Profile is the guest OS profile of the lab.
	Profile *guest.Profile

	// GuestPassword is the base image's guest-control password (from the
	// password file or prompt); a plan has none.
	GuestPassword string
	// SSHPublicKey is the lab's authorized_keys line.
	SSHPublicKey string
	// HostKeys is where ssh-access pins each clone's host key: the lab's
	// known_hosts (a *hostkeys.Store) for `up`; a plan's only notes the pin.
	HostKeys HostKeys

	// Waiter waits for a condition (Env.Wait); nil = poll it live, bounded.
	// A plan's probes once and notes the wait.
	Waiter Waiter
	// Fetch reads the WordPress archive from src (a host file, or a URL
	// downloaded once into cacheDir) and checks a non-empty sha256; nil =
	// FetchArchive. A plan's downloads nothing and shows the source.
	Fetch func(ctx context.Context, src, sha256, cacheDir string) ([]byte, error)
	// Rand is the source of random choices (a clone's new MAC); nil =
	// crypto/rand. A plan's is seeded by the lab, so plans print the same.
	Rand io.Reader

	// Log receives every command and its output, secrets redacted.
	Log io.Writer

	// HostProbe probes the lab's planned addresses from this computer
	// (addrprobe.Host); nil = no host probe (tests, plans). Preflight uses it.
	HostProbe func(ctx context.Context, prefix netip.Prefix, addrs []netip.Addr) (addrprobe.Result, []addrprobe.Answer)

	// GuestWait bounds how long wait-guests waits for a VM's Guest Additions
	// (0 = DefaultGuestWait).
	GuestWait time.Duration
	// Transcript, in a plan, collects what a node's Apply does that the
	// plan prints: notes (Env.PlanNotef), and the scripts and uploads the
	// Runner sees through Control/SSH. (VBoxManage calls are read from the
	// emulator behind VBox.) The Runner of a plan creates it; nil otherwise.
	Transcript *Transcript
	// Warn shows a warning to the user (above the progress) and logs it; the
	// Runner sets it. Steps call env.Warnf, which is nil-safe.
	Warn func(msg string)

	// vmViews carries a VM step's reads from its Prepare to a node's Check
	// and from that Check to the Apply right after it, once each (vmview.go).
	// Runner.Run sets a fresh one per run; nil = every read live.
	vmViews *vmViews
}

// HostKeys pins and reads the SSH host keys of the lab's nodes.
type HostKeys interface {
	// Pin records pubkey (an authorized_keys line) as addr's only host key.
	Pin(addr, pubkey string) error
	// Load reads every pin (hostkeys.ErrNoFile when there are none yet).
	Load() (*hostkeys.Pins, error)
	// String names the store for messages.
	String() string
}

var _ HostKeys = (*hostkeys.Store)(nil)

// DefaultGuestWait is how long wait-guests waits when Env.GuestWait is 0.
const DefaultGuestWait = 5 * time.Minute

// logOf is the step log, or a sink when the Env has none.
func logOf(env *Env) io.Writer {
	if env.Log == nil {
		return io.Discard
	}
	return env.Log
}

// random is the Env's source of random choices.
func (e *Env) random() io.Reader {
	if e.Rand != nil {
		return e.Rand
	}
	return rand.Reader
}
