package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
)

// statusRow finds a node's table line.
func statusRow(t *testing.T, out, vm string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == vm {
			return f
		}
	}
	t.Fatalf("no row for %s in:\n%s", vm, out)
	return nil
}

func TestStatusRendersRunningStoppedMissingAndForeignVMs(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE", "SQL-TWO", "SERVER-ONE")
	l.must("unregistervm", "LOAD-BALANCER", "--delete")
	l.must("setextradata", "SERVER-TWO", "labctl/lab", "another-lab")
	n0 := len(l.fake.Argv())

	// The lab has a state folder but no pinned host keys (guest access never
	// ran), so the SSH probes stop before dialing: no packet leaves for 192.0.2.x.
	if err := os.MkdirAll(l.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out, errOut := l.labctl(nil, "status")
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("status:\n%s", out)
	if elapsed > 5*time.Second {
		t.Errorf("status took %s with every probe failing at once", elapsed)
	}
	want := map[string][2]string{ // VM state, SSH column
		"SQL-ONE":       {"running", "unreachable"},
		"SQL-TWO":       {"running", "unreachable"},
		"SQL-THREE":     {"poweroff", "-"},
		"SERVER-ONE":    {"running", "unreachable"},
		"SERVER-TWO":    {"not-in-lab", "-"},
		"LOAD-BALANCER": {"missing", "-"},
	}
	for vm, w := range want {
		f := statusRow(t, out, vm)
		if len(f) < 5 || f[3] != w[0] || f[4] != w[1] {
			t.Errorf("%s: row %v, want state %s and ssh %s", vm, f, w[0], w[1])
		}
	}
	if !strings.Contains(out, "no SSH host key pinned") {
		t.Errorf("the notes should say why the running nodes are unreachable:\n%s", out)
	}
	if !strings.Contains(out, "SERVER-TWO: a VM named SERVER-TWO exists but is not tagged") {
		t.Errorf("the foreign VM should be explained:\n%s", out)
	}
	if m := mutating(l.since(n0)); len(m) != 0 {
		t.Fatalf("status changed things: %v", m)
	}

	code, out, errOut = l.labctl(nil, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s", code, errOut)
	}
	var st labStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if st.Lab != testLabName || st.VIP != "192.0.2.167" || len(st.Nodes) != len(labNodes) {
		t.Fatalf("status --json: %+v", st)
	}
	for i, ns := range st.Nodes {
		if ns.VM != labNodes[i] {
			t.Errorf("node %d is %s, want plan order (%s)", i, ns.VM, labNodes[i])
		}
		if w := want[ns.VM]; ns.State != w[0] || ns.SSH != w[1] {
			t.Errorf("%s: %+v, want %v", ns.VM, ns, w)
		}
	}
	if st.Nodes[0].Role != "db" || st.Nodes[0].IP != "192.0.2.100" || st.Nodes[5].Role != "lb" {
		t.Errorf("roles/IPs: %+v", st.Nodes)
	}
}

func TestStatusWithoutStateDoesNotCreateIt(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE")
	if err := os.RemoveAll(l.stateDir); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := l.labctl(nil, "status")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if f := statusRow(t, out, "SQL-ONE"); f[3] != "running" || f[4] != "unreachable" {
		t.Errorf("SQL-ONE: %v", f)
	}
	if !strings.Contains(out, "no lab state folder") {
		t.Errorf("should say why nothing was probed:\n%s", out)
	}
	if _, err := os.Stat(l.stateDir); !os.IsNotExist(err) {
		t.Fatalf("status created the lab's state folder (%v)", err)
	}
}

// hangingExec never answers: a node whose sshd accepted but hangs.
type hangingExec struct{}

func (hangingExec) Run(ctx context.Context, _ guest.Cmd) (guest.Result, error) {
	<-ctx.Done()
	return guest.Result{ExitCode: -1}, ctx.Err()
}
func (hangingExec) Upload(ctx context.Context, _ guest.File) (bool, error) { return false, nil }
func (hangingExec) String() string                                         { return "hanging" }

func testPlan(t *testing.T) *lab.Plan {
	t.Helper()
	t.Setenv(lab.StateDirEnv, t.TempDir())
	cfg, err := lab.Load(writeTestLabTOML(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Plan(lab.HostNet{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStatusProbeTimeoutIsUnreachable(t *testing.T) {
	p := testPlan(t)
	n := p.Nodes.Find("sql-one")
	ns := nodeStatus{}
	start := time.Now()
	statusProbe(context.Background(), hangingExec{}, guest.EL8, p, n, &ns)
	el := time.Since(start)
	if ns.SSH != sshUnreachable || !strings.Contains(ns.Problem, "no SSH answer") {
		t.Fatalf("%+v", ns)
	}
	if el < statusProbeTimeout || el > statusProbeTimeout+time.Second {
		t.Fatalf("the probe gave up after %s, want about %s", el, statusProbeTimeout)
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
		services := statusServices(guest.EL8, n.Role)
		script := statusScript(services, tc.db)
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
		ns := nodeStatus{}
		applyProbe(parseSections(string(out)), p, n, services, &ns)
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
	ns := nodeStatus{}
	out := "@@ addresses\n192.0.2.101\n@@ services\nmysqld failed\nkeepalived active\n@@ member\n" +
		"ERROR 2002 (HY000): Can't connect to local MySQL server through socket '/var/lib/mysql/mysql.sock' (2)\n"
	applyProbe(parseSections(out), p, n, []string{"mysqld", "keepalived"}, &ns)
	if ns.GRState != "no answer" || !strings.Contains(ns.Problem, "Can't connect") || ns.HasVIP || ns.Services["mysqld"] != "failed" {
		t.Fatalf("%+v", ns)
	}
	if got := servicesText(ns.Services); got != "keepalived:up mysqld:failed" {
		t.Fatalf("services text %q", got)
	}
}
