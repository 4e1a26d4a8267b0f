package labstatus

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
)

// hangingExec never answers: a node whose sshd accepted but hangs.
type hangingExec struct{}

func (hangingExec) Run(ctx context.Context, _ guest.Cmd) (guest.Result, error) {
	<-ctx.Done()
	return guest.Result{ExitCode: -1}, ctx.Err()
}
func (hangingExec) Upload(ctx context.Context, _ guest.File) (bool, error) { return false, nil }
func (hangingExec) String() string                                         { return "hanging" }

// testPlan is a lab of three DB nodes, two web nodes and a load balancer on 192.0.2.0/24.
func testPlan(t *testing.T) *lab.Plan {
	t.Helper()
	p := &lab.Plan{Name: "statustest", Network: netip.MustParsePrefix("192.0.2.0/24"), VIP: netip.MustParseAddr("192.0.2.167")}
	add := func(vm, host, ip string, role lab.Role, idx int) {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: host, IP: netip.MustParseAddr(ip), Role: role, Index: idx})
	}
	add("SQL-ONE", "sql-one", "192.0.2.100", lab.RoleDB, 1)
	add("SQL-TWO", "sql-two", "192.0.2.101", lab.RoleDB, 2)
	add("SQL-THREE", "sql-three", "192.0.2.102", lab.RoleDB, 3)
	add("SERVER-ONE", "server-one", "192.0.2.110", lab.RoleWeb, 1)
	add("SERVER-TWO", "server-two", "192.0.2.111", lab.RoleWeb, 2)
	add("LOAD-BALANCER", "load-balancer", "192.0.2.120", lab.RoleLB, 1)
	return p
}

func TestStatusProbeTimeoutIsUnreachable(t *testing.T) {
	p := testPlan(t)
	n := p.Nodes.Find("sql-one")
	ns := Node{}
	old := LateTimeout
	LateTimeout = 2 * time.Second
	t.Cleanup(func() { LateTimeout = old })
	start := time.Now()
	probe(context.Background(), hangingExec{}, guest.EL8, p, n, &ns)
	el := time.Since(start)
	if ns.SSH != SSHUnreachable || !strings.Contains(ns.Problem, "no SSH answer") {
		t.Fatalf("%+v", ns)
	}
	if el < LateTimeout || el > LateTimeout+time.Second {
		t.Fatalf("the probe gave up after %s, want about %s", el, LateTimeout)
	}
}

// slowExec answers every probe after a delay, with a healthy web node's output.
type slowExec struct{ delay time.Duration }

func (slowExec) String() string                                   { return "slow" }
func (slowExec) Upload(context.Context, guest.File) (bool, error) { return false, nil }
func (e slowExec) Run(ctx context.Context, _ guest.Cmd) (guest.Result, error) {
	select {
	case <-time.After(e.delay):
		return guest.Result{Stdout: "@@ addresses\n127.0.0.1\n@@ services\nnginx active\nphp-fpm active\n"}, nil
	case <-ctx.Done():
		return guest.Result{}, ctx.Err()
	}
}

// A node that answers after ProbeTimeout is late, not a problem.
func TestStatusSlowAnswerIsLateNotAnError(t *testing.T) {
	p := testPlan(t)
	n := p.Nodes.Find("server-one")
	for _, c := range []struct {
		delay time.Duration
		want  string
	}{{10 * time.Millisecond, SSHOK}, {ProbeTimeout + 300*time.Millisecond, SSHLate}} {
		ns := Node{VM: n.VM}
		probe(context.Background(), slowExec{c.delay}, guest.EL8, p, n, &ns)
		if ns.SSH != c.want || ns.Problem != "" || ns.Services["nginx"] != "active" || ns.AnswerMS < c.delay.Milliseconds() {
			t.Errorf("answer after %s: %+v, want ssh %s and no problem", c.delay, ns, c.want)
		}
		var out strings.Builder
		(&Report{Lab: "x", Nodes: []Node{ns}}).Print(&out)
		if late := strings.Contains(out.String(), "late ("); late != (c.want == SSHLate) || strings.Contains(out.String(), "Notes:") {
			t.Errorf("answer after %s printed:\n%s", c.delay, out.String())
		}
	}
}

// TestStatusScriptOnStubTools runs the real probe script with sh against
// stub ip/systemctl/mysql, and parses what it prints.
func TestStatusScriptOnStubTools(t *testing.T) {
	p := testPlan(t)
	bin := t.TempDir()
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("ip", "printf '1: lo    inet 127.0.0.1/8 scope host lo\\n2: enp0s3    inet 192.0.2.100/24 brd 192.0.2.255 scope global enp0s3\\n2: enp0s3    inet 192.0.2.167/24 scope global secondary enp0s3\\n'\n")
	stub("systemctl", `[ "$1" = is-active ] || exit 9
case "$2" in mysqld) echo active ;; *) echo inactive; exit 3 ;; esac
`)
	stub("mysql", `case "$*" in *--defaults-extra-file=/root/.my.cnf*) ;; *) echo "no option file" >&2; exit 1 ;; esac
printf 'PRIMARY\tONLINE\n'
`)
	stub("timeout", `shift; exec "$@"`)
	for _, tc := range []struct {
		node string
		db   bool
	}{{"SQL-ONE", true}, {"SERVER-ONE", false}} {
		n := p.Nodes.Find(tc.node)
		services := services(guest.EL8, n.Role)
		script := script(services, tc.db)
		if sc, err := exec.LookPath("shellcheck"); err == nil {
			cmd := exec.Command(sc, "-s", "sh", "-")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s probe:\n%s\n%s", tc.node, out, script)
			}
		}
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s probe: %v\n%s", tc.node, err, out)
		}
		ns := Node{}
		applyProbe(guest.Sections(string(out)), p, n, services, &ns)
		if ns.IPOnGuest == nil || *ns.IPOnGuest != (tc.node == "SQL-ONE") {
			t.Errorf("%s: ip on guest = %v", tc.node, ns.IPOnGuest)
		}
		if !ns.HasVIP {
			t.Errorf("%s: the VIP 192.0.2.167 is on the stub's interface: %+v", tc.node, ns)
		}
		if tc.db {
			if ns.GRRole != "PRIMARY" || ns.GRState != "ONLINE" || ns.Services["mysqld"] != "active" || ns.Services["keepalived"] != "inactive" {
				t.Errorf("db: %+v", ns)
			}
		} else if ns.GRState != "" || ns.Services["nginx"] != "inactive" || ns.Services["php-fpm"] != "inactive" {
			t.Errorf("web: %+v", ns)
		}
	}
}

func TestApplyProbeMySQLDown(t *testing.T) {
	p := testPlan(t)
	n := p.Nodes.Find("SQL-TWO")
	ns := Node{}
	out := "@@ addresses\n192.0.2.101\n@@ services\nmysqld failed\nkeepalived active\n@@ member\n" +
		"ERROR 2002 (HY000): Can't connect to local MySQL server through socket '/var/lib/mysql/mysql.sock' (2)\n"
	applyProbe(guest.Sections(out), p, n, []string{"mysqld", "keepalived"}, &ns)
	if ns.GRState != "no answer" || !strings.Contains(ns.Problem, "Can't connect") || ns.HasVIP || ns.Services["mysqld"] != "failed" {
		t.Fatalf("%+v", ns)
	}
	if got := servicesText(ns.Services); got != "keepalived:up mysqld:failed" {
		t.Fatalf("services text %q", got)
	}
}

// A member in ERROR state is a row, not a client error.
func TestApplyProbeMemberInError(t *testing.T) {
	p := testPlan(t)
	ns := Node{}
	applyProbe(guest.Sections("@@ addresses\n192.0.2.102\n@@ services\nmysqld active\n@@ member\n\tERROR\n"), p, p.Nodes.Find("SQL-THREE"), []string{"mysqld"}, &ns)
	if ns.GRState != "ERROR" || ns.GRRole != "" || ns.Problem != "" {
		t.Fatalf("%+v", ns)
	}
}
