// Package exercisetest simulates the lab's guests for the exercises, so the
// whole exercise flow (start, check, hint, solve, reset) runs in tests
// where no guest exists. Like steps/steptest it models outcomes, not
// shells: the MySQL root client answers the group-replication SQL labctl's
// own readers send, `ip addr` shows the VIP where the model puts it, the
// load-balancer probe answers as nginx would, and each built-in exercise's
// break, check and solution scripts (recognised by the header labctl writes
// on them: "# labctl exercise: NAME PHASE[i] on VM") change or read the
// model the way the real script changes or reads the node. The scripts
// themselves are proven by golden transcripts, shellcheck and the real-lab
// suite.
package exercisetest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/steps"
)

// uuidPrefix makes each node's server_uuid; one GTID source for the group.
const groupUUID = "aaaaaaaa-bbbb-cccc-dddd-000000000001"

// DB is one simulated MySQL server.
type DB struct {
	Mysqld     bool            // mysqld running
	State      string          // group replication: ONLINE, RECOVERING, OFFLINE
	Primary    bool            // its role when ONLINE
	Rows       map[string]bool // labctl_exercise.rows notes it has
	TrxCount   int             // transactions it has applied (the GTID set is groupUUID:1-TrxCount)
	RecoveryOK bool            // its recovery channel credentials are right
	XComOpen   bool            // the firewall admits group communication
	CheckGood  bool            // keepalived's check passes only on the primary
}

// Lab is the simulated lab.
type Lab struct {
	mu      sync.Mutex
	Plan    *lab.Plan
	DBs     map[string]*DB // by VM
	vip     string         // holder VM, when checks are simplified (sticky)
	PHPUp   map[string]bool
	PHPOn   map[string]bool // enabled at boot
	SEBool  map[string]bool // httpd_can_network_connect_db
	LBPort  int
	Grants  bool // the WordPress account exists for the web nodes
	Scripts []string
}

// New returns a healthy lab: the group ONLINE with the first DB node primary.
func New(p *lab.Plan) *Lab {
	l := &Lab{Plan: p}
	l.Heal()
	return l
}

// Heal puts the lab back as a baseline restore and `labctl up` do.
func (l *Lab) Heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.DBs = map[string]*DB{}
	for i, n := range l.Plan.DB() {
		l.DBs[n.VM] = &DB{Mysqld: true, State: mysqlgr.Online, Primary: i == 0, Rows: map[string]bool{}, TrxCount: 10, RecoveryOK: true, XComOpen: true, CheckGood: true}
	}
	l.PHPUp, l.PHPOn, l.SEBool = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, w := range l.Plan.Web() {
		l.PHPUp[w.VM], l.PHPOn[w.VM], l.SEBool[w.VM] = true, true, true
	}
	l.LBPort, l.Grants, l.vip = 80, true, ""
}

// SSH returns the executor of node n.
func (l *Lab) SSH(n *lab.Node) guest.Executor { return &exec{l: l, n: n} }

type exec struct {
	l *Lab
	n *lab.Node
}

func (e *exec) String() string { return "sim " + e.n.VM }

func (e *exec) Upload(context.Context, guest.File) (bool, error) {
	return false, fmt.Errorf("%s: the exercise simulation takes no uploads", e.n.VM)
}

var headerRE = regexp.MustCompile(`(?m)^# labctl exercise: (\S+) (break|solution|check)\[(\d+)\] on `)

func (e *exec) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	if err := ctx.Err(); err != nil {
		return guest.Result{}, err
	}
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Scripts = append(l.Scripts, e.n.VM+": "+firstLine(cmd.Script))
	switch {
	case cmd.Script == mysqlgr.RootClient:
		return e.sql(string(cmd.Stdin))
	case strings.HasPrefix(cmd.Script, "ip -o -4 addr show"):
		out := "2: eth0    inet " + e.n.IP.String() + "/24 brd x scope global eth0\n"
		if l.vipHolder() == e.n.VM {
			out += "2: eth0    inet " + l.Plan.VIP.String() + "/24 scope global secondary eth0\n"
		}
		return guest.Result{Stdout: out}, nil
	case strings.HasPrefix(cmd.Script, "systemctl start "):
		if d := l.DBs[e.n.VM]; d != nil {
			d.Mysqld = true
		}
		return guest.Result{}, nil
	case isDrillProbe(cmd.Script):
		return e.drillProbe()
	case strings.Contains(cmd.Script, "# labctl exercise: wordpress check on "):
		return guest.Result{Stdout: l.wordpress()}, nil
	}
	if m := headerRE.FindStringSubmatch(cmd.Script); m != nil {
		return e.action(m[1], m[2]+"["+m[3]+"]", cmd)
	}
	return e.fail(127, "the simulation does not know this script: "+firstLine(cmd.Script))
}

func (e *exec) fail(code int, stderr string) (guest.Result, error) {
	r := guest.Result{Stderr: stderr, ExitCode: code}
	return r, &guest.ExitError{Node: e.n.VM, Script: "sim", ExitCode: code, Stderr: stderr}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// --- the group ---

func (l *Lab) primary() (string, *DB) {
	for _, n := range l.Plan.DB() {
		if d := l.DBs[n.VM]; d.Mysqld && d.State == mysqlgr.Online && d.Primary {
			return n.VM, d
		}
	}
	return "", nil
}

// vipHolder: keepalived gives the VIP to the primary, unless the checks
// were simplified: then it stays where it was while mysqld runs there.
func (l *Lab) vipHolder() string {
	if l.vip != "" && !l.DBs[l.vip].CheckGood && l.DBs[l.vip].Mysqld {
		return l.vip
	}
	l.vip = ""
	p, _ := l.primary()
	return p
}

// canJoin says whether vm can join the group now, and why not.
func (l *Lab) join(vm string) string {
	d := l.DBs[vm]
	p, pd := l.primary()
	switch {
	case p == "":
		return "ERROR 3092 (HY000): The server is not configured properly to be an active member of the group."
	case !d.XComOpen:
		return "ERROR 3092 (HY000): Timeout on wait for view after joining group."
	case d.TrxCount > pd.TrxCount:
		return "ERROR 3092 (HY000): This member has more executed transactions than those present in the group."
	}
	if !d.RecoveryOK && d.TrxCount < pd.TrxCount {
		d.State = mysqlgr.Recovering
		return ""
	}
	d.State, d.Primary = mysqlgr.Online, false
	d.TrxCount = pd.TrxCount
	for k := range pd.Rows {
		d.Rows[k] = true
	}
	return ""
}

// write commits a row through the primary to every ONLINE member.
func (l *Lab) write(note string) {
	for _, n := range l.Plan.DB() {
		if d := l.DBs[n.VM]; d.Mysqld && d.State == mysqlgr.Online {
			d.Rows[note] = true
			d.TrxCount++
		}
	}
}

var noteRE = regexp.MustCompile(`note = '([^']*)'`)

func (e *exec) sql(stmts string) (guest.Result, error) {
	l, d := e.l, e.l.DBs[e.n.VM]
	if d == nil {
		return e.fail(1, "mysql: not a DB node")
	}
	if !d.Mysqld {
		return e.fail(1, "ERROR 2002 (HY000): Can't connect to local MySQL server through socket")
	}
	ok := func(out string) (guest.Result, error) { return guest.Result{Stdout: out}, nil }
	if res, known, err := e.switchSQL(stmts); known {
		return res, err
	}
	inGroup := d.State == mysqlgr.Online || d.State == mysqlgr.Recovering
	role := ""
	if d.State == mysqlgr.Online {
		role = mysqlgr.Secondary
		if d.Primary {
			role = mysqlgr.Primary
		}
	}
	switch {
	case strings.Contains(stmts, "group_replication_bootstrap_group = ON"):
		if p, _ := l.primary(); p != "" {
			return e.fail(1, "ERROR: a group is already running")
		}
		d.State, d.Primary = mysqlgr.Online, true
		return ok("")
	case strings.Contains(stmts, "group_replication_bootstrap_group = OFF"):
		return ok("")
	case strings.Contains(stmts, "START GROUP_REPLICATION"):
		if inGroup {
			return e.fail(1, "ERROR 3093 (HY000): The START GROUP_REPLICATION command failed since the group is already running.")
		}
		if msg := l.join(e.n.VM); msg != "" {
			return e.fail(1, msg)
		}
		return ok("")
	case strings.Contains(stmts, "STOP GROUP_REPLICATION"):
		d.State, d.Primary = mysqlgr.Offline, false
		return ok("")
	case strings.Contains(stmts, "FROM performance_schema.error_log"):
		return ok("")
	case strings.Contains(stmts, "CREATE DATABASE IF NOT EXISTS labctl_exercise"):
		if role != mysqlgr.Primary {
			return e.fail(1, "ERROR 1290 (HY000): The MySQL server is running with the --super-read-only option")
		}
		l.write(noteRE.FindStringSubmatch(strings.Replace(stmts, "(note) VALUES (", "note = ", 1) + "")[1])
		return ok("")
	case strings.Contains(stmts, "SELECT COUNT(*) FROM labctl_exercise.rows"):
		m := noteRE.FindStringSubmatch(stmts)
		if m != nil && d.Rows[m[1]] {
			return ok("1\n")
		}
		return ok("0\n")
	case strings.Contains(stmts, "MEMBER_ID, MEMBER_HOST, MEMBER_PORT"): // the group view
		if !inGroup {
			return ok("")
		}
		var b strings.Builder
		for i, n := range l.Plan.DB() {
			m := l.DBs[n.VM]
			if !m.Mysqld || (m.State != mysqlgr.Online && m.State != mysqlgr.Recovering) {
				continue
			}
			r := ""
			if m.State == mysqlgr.Online {
				r = mysqlgr.Secondary
				if m.Primary {
					r = mysqlgr.Primary
				}
			}
			self := "0"
			if n.VM == e.n.VM {
				self = "1"
			}
			fmt.Fprintf(&b, "%s\t%s\t3306\t%s\t%s\t%s\n", uuid(i), n.IP, m.State, r, self)
		}
		return ok(b.String())
	case strings.Contains(stmts, "IFNULL(@@GLOBAL.group_replication_group_name"): // mysqlgr.Status
		state := d.State
		if !inGroup {
			state = mysqlgr.Offline
		}
		return ok(fmt.Sprintf("%s\tgroup\t%s\t%s\t%s:1-%d\t\tlabctl_repl\t0\t8.0.40\n", uuid(0), state, role, groupUUID, d.TrxCount))
	case strings.Contains(stmts, "IFNULL((SELECT MEMBER_ROLE"): // mysqlgr self
		state := d.State
		if !inGroup {
			state = mysqlgr.Offline
		}
		return ok(role + "\t" + state + "\n")
	}
	return e.fail(1, "the simulation does not know this SQL: "+firstLine(stmts))
}

func uuid(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1) }

// --- the web tier ---

// dbReachable: WordPress can log in and write through the VIP.
func (l *Lab) dbReachable(web string) bool {
	h := l.vipHolder()
	return h != "" && l.Grants && l.SEBool[web] && l.DBs[h].State == mysqlgr.Online && l.DBs[h].Primary
}

// wordpress answers the load balancer probe: 12 requests, round robin,
// nginx's retry on 502 included.
func (l *Lab) wordpress() string {
	webs := l.Plan.Web()
	var b strings.Builder
	for i := 0; i < 12; i++ {
		if l.LBPort != 80 {
			b.WriteString("answer 502 -\n")
			continue
		}
		w := webs[i%len(webs)]
		tried := w.IP.String() + ":80"
		if !l.PHPUp[w.VM] { // 502 from w, retried on the next one
			w = webs[(i+1)%len(webs)]
			tried += ", " + w.IP.String() + ":80"
			if !l.PHPUp[w.VM] {
				fmt.Fprintf(&b, "answer 502 %s\n", tried)
				continue
			}
		}
		code := "200"
		if h := l.vipHolder(); h == "" || !l.Grants || !l.SEBool[w.VM] {
			code = "500" // Error establishing a database connection
		}
		fmt.Fprintf(&b, "answer %s %s\n", code, tried)
	}
	return b.String()
}

// Verify is `labctl verify` over the model.
func (l *Lab) Verify(context.Context) (steps.VerifyReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rep steps.VerifyReport
	add := func(check string, ok bool, detail string) {
		rep.Rows = append(rep.Rows, steps.VerifyRow{Check: check, Node: "-", OK: ok, Detail: detail})
	}
	online := 0
	for _, d := range l.DBs {
		if d.Mysqld && d.State == mysqlgr.Online {
			online++
		}
	}
	p, _ := l.primary()
	add("group replication", online == len(l.DBs) && p != "", fmt.Sprintf("%d members ONLINE", online))
	add("vip on primary", p != "" && l.vipHolder() == p, "holder "+l.vipHolder())
	for _, w := range l.Plan.Web() {
		add("mysql via vip", l.dbReachable(w.VM), w.VM)
	}
	answers := l.wordpress()
	add("wordpress via lb", strings.HasPrefix(answers, "answer 200"), firstLine(answers))
	var failed []string
	for _, r := range rep.Rows {
		if !r.OK {
			failed = append(failed, r.Check+": "+r.Detail)
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return rep, fmt.Errorf("%d checks failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return rep, nil
}
