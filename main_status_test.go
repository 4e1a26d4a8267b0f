package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"labctl/lab"
	"labctl/labstatus"
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

	// The lab has its state (secrets, SSH key) but no pinned host keys (guest
	// access never ran), so the SSH probes stop before dialing: no packet
	// leaves for 192.0.2.x.
	state, err := lab.OpenState(&lab.Plan{Name: testLabName, StateDir: l.stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Secrets(); err != nil {
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
	if !strings.Contains(out, `SERVER-TWO: a VM named SERVER-TWO exists but is not part of lab "testlab" (it belongs to lab "another-lab")`) {
		t.Errorf("the foreign VM should be explained:\n%s", out)
	}
	if m := mutating(l.since(n0)); len(m) != 0 {
		t.Fatalf("status changed things: %v", m)
	}

	code, out, errOut = l.labctl(nil, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s", code, errOut)
	}
	var st labstatus.Report
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
	if !strings.Contains(out, "no lab state in") {
		t.Errorf("should say why nothing was probed:\n%s", out)
	}
	if _, err := os.Stat(l.stateDir); !os.IsNotExist(err) {
		t.Fatalf("status created the lab's state folder (%v)", err)
	}
}

// A lab never built: status says to run up, and its JSON uses real lists.
func TestStatusOfALabNeverBuilt(t *testing.T) {
	l := newTestLab(t)
	code, out, errOut := l.labctl(nil, "status")
	if code != 0 || !strings.Contains(out, "the lab is not built: run `labctl up`") || strings.Contains(out, "labctl verify") {
		t.Fatalf("status of a lab never built: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = l.labctl(nil, "status", "--json")
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	if h, ok := rep["vip_holders"].([]any); !ok || len(h) != 0 {
		t.Errorf("vip_holders = %#v, want an empty list", rep["vip_holders"])
	}
}
