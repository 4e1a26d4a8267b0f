package steps

// The plan printer: `labctl plan` runs every step's Apply against
// recorders, one node at a time, and prints what each node recorded.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
	"labctl/redact"
	"labctl/vbox"
)

// PlanNotef adds a comment line to the plan for what a step does that no
// recorder sees, such as a condition on a command. Steps call it
// unconditionally: it is a no-op outside a plan (no Transcript).
func (e *Env) PlanNotef(format string, args ...any) {
	if e.Transcript != nil {
		fmt.Fprintf(e.Transcript, "# "+format+"\n", args...)
	}
}

// Transcript collects plan lines. A plain write belongs to the node whose
// Apply is running (plan mode applies one node at a time); a command sent
// to another node (verify probes every node from the balancer's step) is
// recorded under the node it runs on.
type Transcript struct {
	mu    sync.Mutex
	lines []transcriptLine
}

type transcriptLine struct{ node, text string }

func (t *Transcript) Write(p []byte) (int, error) {
	t.addFrom("", string(p))
	return len(p), nil
}

// addFrom records text as run on node ("" = the node being applied).
func (t *Transcript) addFrom(node, text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		t.lines = append(t.lines, transcriptLine{node, l})
	}
}

// take returns and forgets the lines written so far.
func (t *Transcript) take() []string {
	var out []string
	for _, l := range t.takeLines() {
		out = append(out, l.text)
	}
	return out
}

func (t *Transcript) takeLines() []transcriptLine {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.lines
	t.lines = nil
	return out
}

// planStep applies a step against the recording backends, one node at a
// time so every recorded line belongs to the node being applied, and prints
// what each node recorded.
func (x *run) planStep(ctx context.Context, s Step, targets lab.Nodes) error {
	w := x.plan
	fmt.Fprintf(w, "== %d. %s (%s)\n", x.number[s.Name()], s.Title(), s.Name())
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
		// Notes first: a note qualifies the calls after it. Lines run on
		// other nodes follow, grouped per node in lab order, so the plan
		// reads the same on every run.
		var lines []string
		elsewhere := map[string][]string{}
		for _, l := range x.env.Transcript.takeLines() {
			if l.node == "" || (n != nil && l.node == n.VM) {
				lines = append(lines, l.text)
			} else {
				elsewhere[l.node] = append(elsewhere[l.node], l.text)
			}
		}
		for _, argv := range vboxCalls()[before:] {
			if vboxMutating(argv) {
				lines = append(lines, "VBoxManage "+shellWords(argv))
			}
		}
		if err != nil {
			return prefixEach(s.Name(), fmt.Errorf("%s: %w", nodeLabel(n), err))
		}
		fmt.Fprintf(w, "%s:\n", nodeLabel(n))
		if len(lines) == 0 && len(elsewhere) == 0 {
			fmt.Fprintln(w, "  (nothing to run)")
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", x.redact(l))
		}
		for _, other := range x.env.Plan.Nodes {
			if ls := elsewhere[other.VM]; len(ls) > 0 {
				fmt.Fprintf(w, "  on %s:\n", other.VM)
				for _, l := range ls {
					fmt.Fprintf(w, "    %s\n", x.redact(l))
				}
			}
		}
	}
	fmt.Fprintln(w)
	return nil
}

// planIndex opens the plan with a numbered table of contents: the steps
// in order (each section below names the nodes it acts on).
func (x *run) planIndex(sel []bool) {
	fmt.Fprintln(x.plan, "Steps:")
	for i, s := range x.r.Steps {
		if !sel[i] {
			continue
		}
		fmt.Fprintf(x.plan, "  %2d. %-17s %s\n", x.number[s.Name()], s.Name(), s.Title())
	}
	fmt.Fprintln(x.plan)
}

// redact hides any secret (and the extra strings given) that reached a plan line.
func (x *run) redact(s string, extra ...string) string {
	vals := append(x.env.Secrets.Values(), extra...)
	if x.env.GuestPassword != "" {
		vals = append(vals, x.env.GuestPassword)
	}
	return redact.String(s, vals...)
}

// recordedVBoxCalls finds the plan-mode VBoxManage recorder behind env.VBox
// (a vbox.Client over a vbox.Emulator, or any API with Calls).
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
	node  string
	x     *run
}

// planStdinMax bounds the stdin a plan shows (SQL batches are far smaller).
const planStdinMax = 16 << 10

func (p planTap) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimRight(cmd.Script, "\n"), "\n") {
		if i == 0 {
			b.WriteString("$ " + l + "\n")
		} else {
			b.WriteString("  " + l + "\n")
		}
	}
	switch {
	case len(cmd.Stdin) == 0:
	case len(cmd.Stdin) <= planStdinMax && utf8.Valid(cmd.Stdin) && !bytes.ContainsRune(cmd.Stdin, 0):
		// SQL and other text sent on stdin: shown, every secret redacted,
		// so a student sees how the group is formed.
		for _, l := range strings.Split(strings.TrimRight(string(cmd.Stdin), "\n"), "\n") {
			b.WriteString("  < " + l + "\n")
		}
	default:
		fmt.Fprintf(&b, "  (%d bytes on stdin)\n", len(cmd.Stdin))
	}
	p.x.env.Transcript.addFrom(p.node, p.x.redact(b.String(), cmd.Redact...))
	return p.inner.Run(ctx, cmd)
}

func (p planTap) Upload(ctx context.Context, f guest.File) (bool, error) {
	owner := f.Owner
	if owner == "" {
		owner = "root:root"
	}
	p.x.env.Transcript.addFrom(p.node, fmt.Sprintf("upload %s (mode %04o, %s)", f.Kept(), f.Mode.Perm(), owner))
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
			return planTap{inner: inner, node: n.VM, x: x}
		}
	}
	x.env.Control = wrap(x.env.Control)
	x.env.SSH = wrap(x.env.SSH)
}

// planSeams puts the plan's side of each Env seam into e: notes instead of
// waits, pins and downloads, and random choices seeded by the lab. (VBox
// and the guest executors are the caller's: a vbox.Emulator and
// guest.Recorders.) A plan has no guest password to hide or pass on.
func planSeams(e *Env) {
	if e.Transcript == nil {
		e.Transcript = &Transcript{}
	}
	where := "the lab's known_hosts"
	if e.HostKeys != nil {
		where = e.HostKeys.String()
	}
	e.HostKeys = planPins{e: e, where: where}
	e.Waiter = planWaiter{e}
	e.Fetch = func(_ context.Context, src, _, _ string) ([]byte, error) {
		e.PlanNotef("the WordPress archive comes from %s (fetched once on the host by up; the plan fetches nothing)", src)
		return []byte("(WordPress archive from " + src + ")\n"), nil
	}
	e.Rand = planRand(e.Plan.Name)
	e.GuestPassword = ""
}

// planWaiter probes once, so the plan shows the probe, and notes the wait.
type planWaiter struct{ e *Env }

func (w planWaiter) Wait(ctx context.Context, what string, limit, _ time.Duration, cond func(context.Context) (bool, error)) error {
	w.e.PlanNotef("wait up to %s for %s", shortDuration(limit), what)
	_, err := cond(ctx)
	return err
}

// planPins notes each pin instead of writing known_hosts; it holds none.
type planPins struct {
	e     *Env
	where string
}

func (p planPins) Pin(addr, _ string) error {
	p.e.PlanNotef("pin the host key printed by the script above for %s in %s", addr, p.where)
	return nil
}

func (p planPins) Load() (*hostkeys.Pins, error) { return nil, hostkeys.ErrNoFile }
func (p planPins) String() string                { return p.where }

// planRand is a deterministic stream (SHA-256 in counter mode) seeded by
// the lab's name, so a plan prints the same random choices every time.
func planRand(seed string) io.Reader {
	return &countRand{seed: "labctl-plan:" + seed}
}

type countRand struct {
	seed string
	n    uint64
	buf  []byte
}

func (r *countRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", r.seed, r.n)))
		r.n++
		r.buf = append(r.buf, sum[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
