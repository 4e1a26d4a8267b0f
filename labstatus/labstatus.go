// Package labstatus answers `labctl status`: each node's VM state, SSH
// reachability, addresses, services and, on DB nodes, its group-replication
// role and state, all nodes at once and read-only. It never fails: problems
// are shown per node.
package labstatus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"labctl/fleet"
	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/vbox"
)

// ProbeTimeout is how long one node's SSH probe may take to be on time
// (a status answers in about two seconds). A slower answer, up to
// LateTimeout, is shown as late, never as an error: on a loaded host the
// guests' logins are slow for a while, and the node is fine.
const ProbeTimeout = 1500 * time.Millisecond

// LateTimeout bounds one node's SSH probe: no answer by then is unreachable.
// A variable so tests can shorten it.
var LateTimeout = 8 * time.Second

// Values of Node.State besides VirtualBox's own VM states.
const (
	VMMissing   = "missing"    // no VM of that name
	VMNotInLab  = "not-in-lab" // a VM of that name without this lab's tag
	VMReadError = "unknown"    // VBoxManage failed; see Problem
)

// Values of Node.SSH.
const (
	SSHOK          = "ok"
	SSHLate        = "late" // answered, after ProbeTimeout (AnswerMS says when)
	SSHUnreachable = "unreachable"
	SSHSkipped     = "-" // the VM is not running (or not ours): nothing to ask
)

// Node is one row of `labctl status`.
type Node struct {
	VM       string `json:"vm"`
	Hostname string `json:"hostname"`
	Role     string `json:"role"`
	IP       string `json:"ip"`
	State    string `json:"state"` // VirtualBox VMState, or missing / not-in-lab / unknown
	SSH      string `json:"ssh"`   // ok, late, unreachable, or "-" when not probed
	// AnswerMS is how long the SSH probe took (probed nodes that answered).
	AnswerMS int64 `json:"answer_ms,omitempty"`
	// IPOnGuest: the planned address is on one of the guest's interfaces (probed nodes only).
	IPOnGuest *bool  `json:"ip_on_guest,omitempty"`
	GRRole    string `json:"gr_role,omitempty"`  // PRIMARY, SECONDARY, or "" (db nodes)
	GRState   string `json:"gr_state,omitempty"` // ONLINE, RECOVERING, OFFLINE, ERROR, ... (db nodes)
	HasVIP    bool   `json:"has_vip"`
	// Services maps each expected service to `systemctl is-active`'s answer.
	Services map[string]string `json:"services,omitempty"`
	Problem  string            `json:"problem,omitempty"`
}

// Report is the whole answer of `labctl status`.
type Report struct {
	Lab       string   `json:"lab"`
	Seat      int      `json:"seat,omitempty"` // classroom seat; 0 = the lab as written
	VIP       string   `json:"vip"`
	VIPHolder []string `json:"vip_holders"` // VMs carrying the VIP; more than one is a split brain
	Nodes     []Node   `json:"nodes"`
	ElapsedMS int64    `json:"elapsed_ms"`
}

// Options is what a status read needs from its caller.
type Options struct {
	Plan       *lab.Plan
	Profile    *guest.Profile // nil when the plan's profile is unknown (ProfileErr says why)
	ProfileErr error
	// VM fills the VirtualBox side of a row: State (and Problem).
	VM func(ctx context.Context, n *lab.Node, row *Node)
	// SSH gives a node's executor; nil when the lab cannot be reached
	// (NoSSH says why).
	SSH   func(*lab.Node) guest.Executor
	NoSSH string
}

// Read reads every node at once: VirtualBox first, then (running nodes
// only) one SSH probe each.
func Read(ctx context.Context, o Options) *Report {
	start := time.Now()
	p := o.Plan
	out := &Report{Lab: p.Name, Seat: p.Seat, VIP: p.VIP.String(), VIPHolder: []string{}}
	out.Nodes = fanout.Map(p.Nodes, func(n *lab.Node) Node {
		ns := Node{VM: n.VM, Hostname: n.Hostname, Role: string(n.Role), IP: n.IP.String(), SSH: SSHSkipped}
		o.VM(ctx, n, &ns)
		switch {
		case ns.State != string(vbox.StateRunning):
		case o.ProfileErr != nil:
			ns.Problem = o.ProfileErr.Error()
		case o.SSH == nil:
			ns.SSH, ns.Problem = SSHUnreachable, o.NoSSH
		default:
			probe(ctx, o.SSH(n), o.Profile, p, n, &ns)
		}
		return ns
	})
	for _, ns := range out.Nodes {
		if ns.HasVIP {
			out.VIPHolder = append(out.VIPHolder, ns.VM)
		}
	}
	out.ElapsedMS = time.Since(start).Milliseconds()
	return out
}

// services are the services each role must run.
func services(p *guest.Profile, r lab.Role) []string {
	switch r {
	case lab.RoleDB:
		return []string{p.MySQLService, p.KeepalivedService}
	case lab.RoleWeb:
		return []string{p.NginxService, p.PHPFPMService}
	case lab.RoleLB:
		return []string{p.NginxService}
	}
	return nil
}

// script is the read-only probe of one node: its IPv4 addresses,
// its services and, on db nodes, its group-replication row.
func script(services []string, db bool) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# labctl status: read-only probe.\n")
	b.WriteString("echo '@@ addresses'\nip -4 -o addr show 2>/dev/null | awk '{ split($4, a, \"/\"); print a[1] }'\n")
	b.WriteString("echo '@@ services'\n")
	for _, svc := range services {
		unit := svc
		if strings.ContainsAny(unit, "*?[") && !strings.Contains(unit, ".") {
			unit += ".service" // systemctl matches a glob against full unit names
		}
		fmt.Fprintf(&b, "printf '%%s %%s\\n' %s \"$(systemctl is-active %s 2>/dev/null | head -n 1)\"\n", guest.Quote(svc), guest.Quote(unit))
	}
	if db {
		fmt.Fprintf(&b, "echo '@@ member'\n%s | head -n 2\n", mysqlgr.SelfProbe(2))
	}
	b.WriteString("exit 0\n")
	return b.String()
}

// probe runs the node's probe within LateTimeout; an answer after
// ProbeTimeout is late.
func probe(ctx context.Context, ex guest.Executor, p *guest.Profile, plan *lab.Plan, n *lab.Node, ns *Node) {
	ctx, cancel := context.WithTimeout(ctx, LateTimeout)
	defer cancel()
	svcs := services(p, n.Role)
	start := time.Now()
	res, err := ex.Run(ctx, guest.Cmd{Script: script(svcs, n.Role == lab.RoleDB)})
	took := time.Since(start)
	if err != nil {
		ns.SSH = SSHUnreachable
		var hk *guest.HostKeyError
		switch {
		case errors.As(err, &hk):
			ns.Problem = hk.Error()
		case ctx.Err() != nil:
			where := n.IP.String()
			if n.Forward.IsValid() {
				where = n.SSHAddr() + " (the NAT network's forward to " + n.IP.String() + ")"
			}
			ns.Problem = fmt.Sprintf("no SSH answer from %s within %s", where, LateTimeout)
		default:
			ns.Problem = err.Error()
		}
		return
	}
	ns.SSH, ns.AnswerMS = SSHOK, took.Milliseconds()
	if took > ProbeTimeout {
		ns.SSH = SSHLate
	}
	applyProbe(guest.Sections(res.Stdout), plan, n, svcs, ns)
}

// applyProbe reads a probe's sections into ns.
func applyProbe(sec map[string]string, plan *lab.Plan, n *lab.Node, services []string, ns *Node) {
	onGuest := false
	for _, a := range strings.Fields(sec["addresses"]) {
		if a == n.IP.String() {
			onGuest = true
		}
		if a == plan.VIP.String() {
			ns.HasVIP = true
		}
	}
	ns.IPOnGuest = &onGuest
	ns.Services = map[string]string{}
	for _, line := range strings.Split(sec["services"], "\n") {
		name, state, _ := strings.Cut(line, " ")
		if name != "" {
			ns.Services[name] = strings.TrimSpace(state)
		}
	}
	for _, svc := range services {
		if ns.Services[svc] == "" {
			ns.Services[svc] = "unknown"
		}
	}
	if n.Role != lab.RoleDB {
		return
	}
	self, err := mysqlgr.ParseSelf(sec["member"])
	switch {
	case err == nil:
		ns.GRRole, ns.GRState = self.Role, self.State
	case errors.Is(err, mysqlgr.ErrNoAnswer):
		ns.GRState, ns.Problem = "no answer", "mysql gave no answer within 2 s"
	default:
		ns.GRState, ns.Problem = "no answer", "mysql: "+err.Error()
	}
}

// Print writes the table and its notes.
func (st *Report) Print(w io.Writer) {
	holder := "no node"
	if len(st.VIPHolder) > 0 {
		holder = strings.Join(st.VIPHolder, " and ")
	}
	seat := ""
	if st.Seat > 0 {
		seat = fmt.Sprintf(" (seat %d)", st.Seat)
	}
	fmt.Fprintf(w, "Lab %q%s: VIP %s on %s\n\n", st.Lab, seat, st.VIP, holder)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tIP\tVM\tSSH\tGROUP REPLICATION\tVIP\tSERVICES")
	var notes []string
	for _, ns := range st.Nodes {
		ip := ns.IP
		if ns.IPOnGuest != nil && !*ns.IPOnGuest {
			ip += " (not on guest)"
		}
		gr := "-"
		if ns.GRState != "" {
			gr = strings.TrimSpace(ns.GRRole + " " + ns.GRState)
		}
		vip := "-"
		if ns.HasVIP {
			vip = "yes"
		}
		sshText := ns.SSH
		if ns.SSH == SSHLate {
			sshText = fmt.Sprintf("late (%.1f s)", float64(ns.AnswerMS)/1000)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ns.VM, ns.Role, ip, ns.State, sshText, gr, vip, servicesText(ns.Services))
		if ns.Problem != "" {
			// Errors from the guest package already start with the node's name.
			notes = append(notes, "  "+ns.VM+": "+strings.TrimPrefix(ns.Problem, ns.VM+": "))
		}
	}
	tw.Flush()
	if len(st.VIPHolder) > 1 {
		notes = append(notes, fmt.Sprintf("  the VIP is on %d nodes at once (%s): keepalived peers cannot see each other", len(st.VIPHolder), strings.Join(st.VIPHolder, ", ")))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	next := "`labctl verify` checks the lab end to end"
	if st.NotBuilt() {
		next = "the lab is not built: run `labctl up`"
	}
	fmt.Fprintf(w, "\n(%d ms; %s)\n", st.ElapsedMS, next)
}

// NotBuilt says no VM of the lab exists (every node's VM is missing).
func (st *Report) NotBuilt() bool {
	for _, ns := range st.Nodes {
		if ns.State != VMMissing {
			return false
		}
	}
	return len(st.Nodes) > 0
}

// servicesText shows active services by name and the others with their state.
func servicesText(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		if m[k] == "active" {
			parts = append(parts, k+":up")
		} else {
			parts = append(parts, k+":"+m[k])
		}
	}
	return strings.Join(parts, " ")
}

// VMTimeout bounds one node's VirtualBox reads.
const VMTimeout = 10 * time.Second

// FleetVM is the Options.VM that reads each node's VM through the lab's
// fleet: missing, not the lab's (and why), or its state.
func FleetVM(f *fleet.Fleet) func(ctx context.Context, n *lab.Node, ns *Node) {
	return func(ctx context.Context, n *lab.Node, ns *Node) {
		ctx, cancel := context.WithTimeout(ctx, VMTimeout)
		defer cancel()
		seen, err := f.Look(ctx, n)
		switch {
		case err != nil:
			ns.State, ns.Problem = VMReadError, err.Error()
		case !seen.Found:
			ns.State = VMMissing
		case !seen.Verdict.Ours():
			ns.State = VMNotInLab
			ns.Problem = fmt.Sprintf("a VM named %s exists but is not part of lab %q (%s): labctl leaves it alone", n.VM, f.Plan.Name, seen.Verdict.Why())
		default:
			ns.State = string(seen.State)
		}
	}
}
