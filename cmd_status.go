package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"labctl/guest"
	"labctl/lab"
	"labctl/steps"
	"labctl/vbox"
)

// statusProbeTimeout bounds one node's SSH probe, so a status answers in
// about two seconds even when a node hangs.
const statusProbeTimeout = 1500 * time.Millisecond

// statusVMTimeout bounds one node's VBoxManage reads.
const statusVMTimeout = 10 * time.Second

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each VM's state, IP, role, group-replication role and services",
		Description: "Read-only. VM states come from VirtualBox; the rest from one short SSH probe per\n" +
			"running node, all at once. A stopped or missing VM is shown as such, not as an error;\n" +
			"a node that does not answer within 1.5 s is shown as unreachable.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			s, err := openSession(c)
			if err != nil {
				return err
			}
			if err := s.requireVBox(); err != nil {
				return err
			}
			st := s.labStatus(c.Context)
			if c.Bool("json") {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			st.print(s.out)
			return nil
		},
	}
}

// Values of nodeStatus.State besides VirtualBox's own VM states.
const (
	vmMissing   = "missing"    // no VM of that name
	vmNotInLab  = "not-in-lab" // a VM of that name without this lab's tag
	vmReadError = "unknown"    // VBoxManage failed; see Problem
)

// Values of nodeStatus.SSH.
const (
	sshOK          = "ok"
	sshUnreachable = "unreachable"
	sshSkipped     = "-" // the VM is not running (or not ours): nothing to ask
)

// nodeStatus is one row of `labctl status`.
type nodeStatus struct {
	VM       string `json:"vm"`
	Hostname string `json:"hostname"`
	Role     string `json:"role"`
	IP       string `json:"ip"`
	State    string `json:"state"` // VirtualBox VMState, or missing / not-in-lab / unknown
	SSH      string `json:"ssh"`   // ok, unreachable, or "-" when not probed
	// IPOnGuest: the planned address is on one of the guest's interfaces (probed nodes only).
	IPOnGuest *bool  `json:"ip_on_guest,omitempty"`
	GRRole    string `json:"gr_role,omitempty"`  // PRIMARY, SECONDARY, or "" (db nodes)
	GRState   string `json:"gr_state,omitempty"` // ONLINE, RECOVERING, OFFLINE, ERROR, ... (db nodes)
	HasVIP    bool   `json:"has_vip"`
	// Services maps each expected service to `systemctl is-active`'s answer.
	Services map[string]string `json:"services,omitempty"`
	Problem  string            `json:"problem,omitempty"`
}

// labStatus is the whole answer of `labctl status`.
type labStatus struct {
	Lab       string       `json:"lab"`
	VIP       string       `json:"vip"`
	VIPHolder []string     `json:"vip_holders"` // VMs carrying the VIP; more than one is a split brain
	Nodes     []nodeStatus `json:"nodes"`
	ElapsedMS int64        `json:"elapsed_ms"`
}

// labStatus reads every node at once: VirtualBox first, then (running
// nodes only) one SSH probe each. It never fails: problems are shown per node.
func (s *session) labStatus(ctx context.Context) *labStatus {
	start := time.Now()
	out := &labStatus{Lab: s.plan.Name, VIP: s.plan.VIP.String(), Nodes: make([]nodeStatus, len(s.plan.Nodes))}

	profile, perr := guest.ProfileByName(s.plan.Profile)
	sshFor, closeAll, whyNoSSH := s.statusSSH()
	defer closeAll()

	var wg sync.WaitGroup
	for i, n := range s.plan.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := nodeStatus{VM: n.VM, Hostname: n.Hostname, Role: string(n.Role), IP: n.IP.String(), SSH: sshSkipped}
			s.statusVM(ctx, n, &ns)
			switch {
			case ns.State != string(vbox.StateRunning):
			case perr != nil:
				ns.Problem = perr.Error()
			case sshFor == nil:
				ns.SSH, ns.Problem = sshUnreachable, whyNoSSH
			default:
				statusProbe(ctx, sshFor(n), profile, s.plan, n, &ns)
			}
			out.Nodes[i] = ns
		}()
	}
	wg.Wait()
	for _, ns := range out.Nodes {
		if ns.HasVIP {
			out.VIPHolder = append(out.VIPHolder, ns.VM)
		}
	}
	out.ElapsedMS = time.Since(start).Milliseconds()
	return out
}

// statusVM fills the VirtualBox side of ns.
func (s *session) statusVM(ctx context.Context, n *lab.Node, ns *nodeStatus) {
	ctx, cancel := context.WithTimeout(ctx, statusVMTimeout)
	defer cancel()
	info, err := s.vb.Info(ctx, n.VM)
	switch {
	case isNotFound(err):
		ns.State = vmMissing
		return
	case err != nil:
		ns.State, ns.Problem = vmReadError, err.Error()
		return
	}
	tag, err := s.vb.GetExtraData(ctx, info.UUID, steps.TagLab)
	switch {
	case err != nil:
		ns.State, ns.Problem = vmReadError, err.Error()
	case tag != s.plan.Name:
		ns.State = vmNotInLab
		ns.Problem = fmt.Sprintf("a VM named %s exists but is not tagged for lab %q (%s=%q): labctl leaves it alone", n.VM, s.plan.Name, steps.TagLab, tag)
	default:
		ns.State = string(info.State)
	}
}

// statusSSH gives the SSH executors of the lab without creating its state:
// a lab never built has no key to log in with, and status must not make one.
func (s *session) statusSSH() (sshFor func(*lab.Node) guest.Executor, closeAll func(), whyNot string) {
	closeAll = func() {}
	if _, err := os.Stat(s.plan.StateDir); err != nil {
		return nil, closeAll, fmt.Sprintf("no lab state folder %s (labctl up creates it with the lab's SSH key)", s.plan.StateDir)
	}
	st, err := lab.OpenState(s.plan)
	if err != nil {
		return nil, closeAll, err.Error()
	}
	env, _, err := s.liveEnv(st, discard{}, false) // status closes what it used itself
	if err != nil {
		return nil, closeAll, err.Error()
	}
	var mu sync.Mutex
	used := map[guest.Executor]bool{}
	sshFor = func(n *lab.Node) guest.Executor {
		ex := env.SSH(n)
		mu.Lock()
		used[ex] = true
		mu.Unlock()
		return ex
	}
	closeAll = func() {
		for ex := range used {
			if c, ok := ex.(io.Closer); ok {
				c.Close()
			}
		}
	}
	return sshFor, closeAll, ""
}

// statusServices are the services each role must run.
func statusServices(p *guest.Profile, r lab.Role) []string {
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

// statusMemberSQL reads this member's own row; OFFLINE when group
// replication is not running on it.
const statusMemberSQL = `SELECT IFNULL((SELECT MEMBER_ROLE FROM performance_schema.replication_group_members WHERE MEMBER_ID = @@GLOBAL.server_uuid), ''), ` +
	`IFNULL((SELECT MEMBER_STATE FROM performance_schema.replication_group_members WHERE MEMBER_ID = @@GLOBAL.server_uuid), 'OFFLINE')`

// rootMySQL is the mysql client as MySQL root, credentials from the 0600
// option file the mysql-config step keeps in root's home (never argv).
const rootMySQL = "mysql --defaults-extra-file=/root/.my.cnf --connect-timeout=1 -N -B"

// statusScript is the read-only probe of one node: its IPv4 addresses,
// its services and, on db nodes, its group-replication row.
func statusScript(services []string, db bool) string {
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
		fmt.Fprintf(&b, "echo '@@ member'\ntimeout 2 %s -e %s 2>&1 | head -n 2\n", rootMySQL, guest.Quote(statusMemberSQL))
	}
	b.WriteString("exit 0\n")
	return b.String()
}

// parseSections splits "@@ name" sections of a probe's output.
func parseSections(out string) map[string]string {
	sec := map[string]string{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "@@ "); ok {
			cur = strings.TrimSpace(name)
			sec[cur] = ""
			continue
		}
		if cur != "" {
			sec[cur] += line + "\n"
		}
	}
	for k, v := range sec {
		sec[k] = strings.TrimRight(v, "\n")
	}
	return sec
}

// statusProbe runs the node's probe within statusProbeTimeout.
func statusProbe(ctx context.Context, ex guest.Executor, p *guest.Profile, plan *lab.Plan, n *lab.Node, ns *nodeStatus) {
	ctx, cancel := context.WithTimeout(ctx, statusProbeTimeout)
	defer cancel()
	services := statusServices(p, n.Role)
	res, err := ex.Run(ctx, guest.Cmd{Script: statusScript(services, n.Role == lab.RoleDB)})
	if err != nil {
		ns.SSH = sshUnreachable
		var hk *guest.HostKeyError
		switch {
		case errors.As(err, &hk):
			ns.Problem = hk.Error()
		case ctx.Err() != nil:
			ns.Problem = fmt.Sprintf("no SSH answer from %s within %s", n.IP, statusProbeTimeout)
		default:
			ns.Problem = err.Error()
		}
		return
	}
	ns.SSH = sshOK
	applyProbe(parseSections(res.Stdout), plan, n, services, ns)
}

// applyProbe reads a probe's sections into ns.
func applyProbe(sec map[string]string, plan *lab.Plan, n *lab.Node, services []string, ns *nodeStatus) {
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
	line, _, _ := strings.Cut(sec["member"], "\n")
	if f := strings.Split(line, "\t"); len(f) == 2 && !strings.Contains(line, "ERROR") {
		ns.GRRole, ns.GRState = strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		return
	}
	ns.GRState = "no answer"
	if msg := strings.TrimSpace(line); msg != "" {
		ns.Problem = "mysql: " + msg
	} else {
		ns.Problem = "mysql gave no answer within 2 s"
	}
}

func (st *labStatus) print(w io.Writer) {
	holder := "no node"
	if len(st.VIPHolder) > 0 {
		holder = strings.Join(st.VIPHolder, " and ")
	}
	fmt.Fprintf(w, "Lab %q: VIP %s on %s\n\n", st.Lab, st.VIP, holder)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ns.VM, ns.Role, ip, ns.State, ns.SSH, gr, vip, servicesText(ns.Services))
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
	fmt.Fprintf(w, "\n(%d ms; `labctl verify` checks the lab end to end)\n", st.ElapsedMS)
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
