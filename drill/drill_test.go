package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
)

// testPlan is a lab of three DB nodes (and the others) on 192.0.2.0/24.
func testPlan(t *testing.T) *lab.Plan {
	t.Helper()
	p := &lab.Plan{Name: "drilltest", Network: netip.MustParsePrefix("192.0.2.0/24"), VIP: netip.MustParseAddr("192.0.2.167")}
	add := func(vm, host, ip string, role lab.Role, idx int) {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: host, IP: netip.MustParseAddr(ip), Role: role, Index: idx})
	}
	add("SQL-ONE", "sql-one", "192.0.2.100", lab.RoleDB, 1)
	add("SQL-TWO", "sql-two", "192.0.2.101", lab.RoleDB, 2)
	add("SQL-THREE", "sql-three", "192.0.2.102", lab.RoleDB, 3)
	add("SERVER-ONE", "server-one", "192.0.2.110", lab.RoleWeb, 1)
	add("LOAD-BALANCER", "load-balancer", "192.0.2.120", lab.RoleLB, 1)
	return p
}

// simGroup simulates the three DB nodes of a lab for the drill: mysqld
// per node, group membership, the VIP, and a failover that completes
// electAfter / vipAfter after the primary's mysqld fails. Each node's
// executor answers the drill's scripts by what they contain.
type simGroup struct {
	mu         sync.Mutex
	plan       *lab.Plan
	vip        string
	primary    *lab.Node
	vipOn      *lab.Node
	dead       map[*lab.Node]bool // mysqld not running
	grOff      map[*lab.Node]bool // mysqld up, group replication stopped
	killed     *lab.Node
	killedAt   time.Time
	electAfter time.Duration
	vipAfter   time.Duration
	neverElect bool
	stopTakes  time.Duration // how long `systemctl stop` takes to return
	scripts    []string
	// A planned switchover: the VIP leaves the old primary at once and
	// reaches the new one vipAfter after group_replication_set_as_primary.
	switchedAt time.Time
	behind     bool // WAIT_FOR_EXECUTED_GTID_SET times out
}

func newSimGroup(p *lab.Plan) *simGroup {
	dbs := p.DB()
	return &simGroup{plan: p, vip: p.VIP.String(), primary: dbs[1], vipOn: dbs[1],
		dead: map[*lab.Node]bool{}, grOff: map[*lab.Node]bool{},
		electAfter: 150 * time.Millisecond, vipAfter: 300 * time.Millisecond}
}

// advance applies the failover's progress at the current time.
func (g *simGroup) advance() {
	if !g.switchedAt.IsZero() && time.Since(g.switchedAt) >= g.vipAfter {
		g.vipOn = g.primary
	}
	if g.killed == nil || g.neverElect {
		return
	}
	since := time.Since(g.killedAt)
	if since >= g.electAfter && g.primary == g.killed {
		for _, n := range g.plan.DB() {
			if n != g.killed {
				g.primary = n
				break
			}
		}
		if g.vipOn == g.killed {
			g.vipOn = nil // keepalived's check fails on the old primary
		}
	}
	if since >= g.vipAfter && g.primary != g.killed {
		g.vipOn = g.primary
	}
}

// serving reports whether WordPress works now (a writable primary behind the VIP).
func (g *simGroup) serving() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance()
	return g.vipOn != nil && g.vipOn == g.primary && !g.dead[g.primary]
}

type simExec struct {
	g *simGroup
	n *lab.Node
}

func (e simExec) String() string                                   { return "sim " + e.n.VM }
func (e simExec) Upload(context.Context, guest.File) (bool, error) { return false, nil }

func (e simExec) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	g := e.g
	if strings.Contains(cmd.Script, "systemctl stop") {
		// mysqld leaves the group at once but the stop returns later, as a
		// real shutdown does.
		g.mu.Lock()
		g.scripts = append(g.scripts, e.n.VM+": "+cmd.Script)
		g.dead[e.n] = true
		g.killed, g.killedAt = e.n, time.Now()
		takes := g.stopTakes
		g.mu.Unlock()
		select {
		case <-time.After(takes):
			return guest.Result{}, nil
		case <-ctx.Done():
			return guest.Result{ExitCode: -1}, ctx.Err()
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.scripts = append(g.scripts, e.n.VM+": "+cmd.Script+string(cmd.Stdin))
	g.advance()
	s := cmd.Script
	switch {
	case strings.Contains(s, "@@ members"):
		var b strings.Builder
		b.WriteString("@@ members\n")
		if g.dead[e.n] {
			b.WriteString("ERROR 2002 (HY000): Can't connect to local MySQL server through socket '/var/lib/mysql/mysql.sock' (2)\n")
		} else if g.grOff[e.n] {
			fmt.Fprintf(&b, "uuid-%s\t%s\t3306\tOFFLINE\t\t1\n", e.n.VM, e.n.IP)
		} else {
			for _, m := range g.plan.DB() {
				if g.dead[m] || g.grOff[m] {
					continue
				}
				role := "SECONDARY"
				if m == g.primary {
					role = "PRIMARY"
				}
				self := map[bool]string{true: "1", false: "0"}[m == e.n]
				fmt.Fprintf(&b, "uuid-%s\t%s\t3306\tONLINE\t%s\t%s\n", m.VM, m.IP, role, self)
			}
		}
		b.WriteString("@@ addresses\n127.0.0.1\n" + e.n.IP.String() + "\n")
		if g.vipOn == e.n {
			b.WriteString(g.vip + "\n")
		}
		return guest.Result{Stdout: b.String()}, nil
	case strings.Contains(s, "kill -9"):
		g.dead[e.n] = true
		g.killed, g.killedAt = e.n, time.Now()
		return guest.Result{}, nil
	case strings.Contains(s, "systemctl start"):
		if g.dead[e.n] {
			g.dead[e.n] = false
			g.grOff[e.n] = true // group replication does not start on boot
		}
		return guest.Result{}, nil
	case s == mysqlgr.RootClient && g.dead[e.n]:
		return guest.Result{ExitCode: 1}, &guest.ExitError{Node: e.n.VM, ExitCode: 1, Stderr: "ERROR 2002"}
	case s == mysqlgr.RootClient && strings.Contains(string(cmd.Stdin), "group_replication_group_name"): // mysqlgr.Status
		return guest.Result{Stdout: fmt.Sprintf("uuid-%s\tgroup\tONLINE\t\tgroup-uuid:1-42\t\trepl\t0\t8.0.40\n", e.n.VM)}, nil
	case s == mysqlgr.RootClient && strings.Contains(string(cmd.Stdin), "WAIT_FOR_EXECUTED_GTID_SET('group-uuid:1-42'"):
		return guest.Result{Stdout: map[bool]string{true: "1\n", false: "0\n"}[g.behind]}, nil
	case s == mysqlgr.RootClient && strings.Contains(string(cmd.Stdin), "group_replication_set_as_primary('uuid-"):
		vm := strings.TrimSuffix(strings.SplitN(string(cmd.Stdin), "'uuid-", 2)[1], "');\n")
		g.primary = g.plan.DB().Find(vm)
		g.vipOn, g.switchedAt = nil, time.Now()
		return guest.Result{}, nil
	case s == mysqlgr.RootClient && strings.Contains(string(cmd.Stdin), "START GROUP_REPLICATION"):
		g.grOff[e.n] = false
		return guest.Result{}, nil
	case s == mysqlgr.RootClient && strings.Contains(string(cmd.Stdin), "MEMBER_STATE"): // the member's own row
		if g.grOff[e.n] {
			return guest.Result{Stdout: "\tOFFLINE\n"}, nil
		}
		return guest.Result{Stdout: "SECONDARY\tONLINE\n"}, nil
	}
	return guest.Result{ExitCode: 127}, &guest.ExitError{Node: e.n.VM, ExitCode: 127, Stderr: "unexpected script"}
}

func simDrill(t *testing.T, g *simGroup, kind string) (*Drill, *bytes.Buffer, *int, *int) {
	t.Helper()
	var out bytes.Buffer
	var mu sync.Mutex
	total, failed := 0, 0
	d := &Drill{
		plan: g.plan, prof: guest.EL8, kind: kind, out: &out,
		ssh: func(n *lab.Node) guest.Executor { return simExec{g, n} },
		get: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			total++
			if !g.serving() {
				failed++
				return errors.New("HTTP 500")
			}
			return nil
		},
		poll: 10 * time.Millisecond, probeTimeout: 500 * time.Millisecond,
		failoverWait: 2 * time.Second, settle: 50 * time.Millisecond, rejoinWait: 3 * time.Second,
		catchUpWait: time.Second,
	}
	return d, &out, &total, &failed
}

func TestDrillMeasuresFailoverAndRejoins(t *testing.T) {
	for _, kind := range []string{"crash", "stop"} {
		t.Run(kind, func(t *testing.T) {
			p := testPlan(t)
			g := newSimGroup(p)
			d, out, _, failed := simDrill(t, g, kind)
			if err := d.Run(context.Background()); err != nil {
				t.Fatalf("drill: %v\n%s", err, out)
			}
			text := out.String()
			t.Logf("drill:\n%s", text)
			for _, want := range []string{
				"the primary is SQL-TWO",
				"new primary elected: SQL-ONE",
				"VIP 192.0.2.167 up on SQL-ONE",
				"VIP 192.0.2.167 released by SQL-TWO",
				"SQL-TWO: START GROUP_REPLICATION",
				"SQL-TWO rejoined the group (ONLINE)",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			elected, _ := d.find("new primary elected")
			vip, _ := d.find("VIP 192.0.2.167 up on")
			if elected < g.electAfter || elected > g.electAfter+400*time.Millisecond || vip < g.vipAfter || vip < elected {
				t.Errorf("measured election %s (sim %s) and VIP %s (sim %s)", elected, g.electAfter, vip, g.vipAfter)
			}
			if *failed == 0 || !strings.Contains(text, fmt.Sprintf("Failed requests:      %d of ", *failed)) {
				t.Errorf("%d requests failed in the simulation; the drill says:\n%s", *failed, text)
			}
			if g.dead[p.DB()[1]] || g.grOff[p.DB()[1]] {
				t.Errorf("the old primary was not brought back")
			}
			killed := false
			for _, s := range g.scripts {
				if strings.HasPrefix(s, "SQL-TWO: ") && strings.Contains(s, map[string]string{"crash": "kill -9", "stop": "systemctl stop 'mysqld'"}[kind]) {
					killed = true
				}
				if !strings.HasPrefix(s, "SQL-TWO: ") && (strings.Contains(s, "kill -9") || strings.Contains(s, "systemctl stop")) {
					t.Errorf("the drill failed a node other than the primary: %s", s)
				}
			}
			if !killed {
				t.Errorf("no %s of SQL-TWO's mysqld in %q", kind, g.scripts)
			}
		})
	}
}

// A clean stop returns long after the group has moved on: the drill's clock
// starts when the stop is issued and the failover is seen while it runs.
func TestDrillTimesAStopFromItsStartNotItsReturn(t *testing.T) {
	p := testPlan(t)
	g := newSimGroup(p)
	g.stopTakes = 1500 * time.Millisecond
	d, out, _, _ := simDrill(t, g, "stop")
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("drill: %v\n%s", err, out)
	}
	vip, ok := d.find("VIP 192.0.2.167 up on")
	if !ok || vip < g.vipAfter || vip >= g.stopTakes {
		t.Errorf("VIP measured at %s (ok %v); the simulated move was at %s, the stop returned at %s", vip, ok, g.vipAfter, g.stopTakes)
	}
	stopped, ok := d.find("SQL-TWO: mysqld stopped (systemctl stop returned)")
	if !ok || stopped < g.stopTakes {
		t.Errorf("stop return reported at %s (ok %v), want ≥ %s\n%s", stopped, ok, g.stopTakes, out)
	}
	if g.dead[p.DB()[1]] {
		t.Errorf("the old primary was not brought back after the slow stop")
	}
}

func TestDrillBoundedWhenNoPrimaryIsElected(t *testing.T) {
	p := testPlan(t)
	g := newSimGroup(p)
	g.neverElect = true
	d, out, _, _ := simDrill(t, g, "crash")
	d.failoverWait = 300 * time.Millisecond
	start := time.Now()
	err := d.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no new primary within 300ms") {
		t.Fatalf("want a bounded failure, got %v\n%s", err, out)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("the drill took %s with a 300ms bound", el)
	}
	// The old primary is rejoined even so.
	if !strings.Contains(out.String(), "SQL-TWO rejoined") {
		t.Errorf("no rejoin after a failed failover:\n%s", out)
	}
}

func TestDrillRefusesAnUnhealthyGroup(t *testing.T) {
	p := testPlan(t)
	g := newSimGroup(p)
	g.grOff[p.DB()[2]] = true
	d, out, _, _ := simDrill(t, g, "crash")
	err := d.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "needs a healthy group") {
		t.Fatalf("got %v\n%s", err, out)
	}
	for _, s := range g.scripts {
		if strings.Contains(s, "kill -9") {
			t.Fatalf("killed mysqld in an unhealthy group: %s", s)
		}
	}
}

func TestDrillScriptsPassShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
	}
	for _, kind := range []string{"crash", "stop"} {
		d := &Drill{prof: guest.EL8, kind: kind}
		for name, script := range map[string]string{"kill": d.killScript(), "start": d.startScript(), "view": viewScript(d.prof.MySQLService)} {
			cmd := exec.Command(sc, "-s", "sh", "-")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s/%s:\n%s\n%s", kind, name, out, script)
			}
		}
	}
}
