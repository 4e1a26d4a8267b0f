package main

// Whole-tool test of `labctl switchover`: the real CLI on a lab built by
// `up` against the fake VBoxManage, with simulated guests (exercisetest)
// answering the probes and the group-replication SQL.

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"labctl/drill"
	"labctl/exercise/exercisetest"
	"labctl/mysqlgr"
)

func TestSwitchoverMovesPrimaryAndVIP(t *testing.T) {
	u := newUpLab(t, true)
	u.mustUp("build the lab")
	sim := exercisetest.New(u.plan) // SQL-ONE is the primary
	old := switchoverHook
	switchoverHook = func(o *drill.Options) {
		o.SSH = sim.SSH
		o.Get = func(ctx context.Context) error {
			// A request succeeds while every end-to-end check of the model passes.
			r, err := sim.Verify(ctx)
			if err != nil || len(r.Failed()) > 0 {
				return errors.New("HTTP 500")
			}
			return nil
		}
	}
	t.Cleanup(func() { switchoverHook = old })

	primary := func() string {
		for _, n := range u.plan.DB() {
			if d := sim.DBs[n.VM]; d.Primary && d.State == mysqlgr.Online {
				return n.VM
			}
		}
		return ""
	}
	code, out, errOut := u.labctl(context.Background(), "switchover", "--to", "sql-three")
	if code != 0 {
		t.Fatalf("switchover --to sql-three: exit %d\n%s%s", code, out, errOut)
	}
	if p := primary(); p != "SQL-THREE" {
		t.Errorf("primary after switchover --to sql-three: %s", p)
	}
	if m := regexp.MustCompile(`Failed requests:\s+(\d+) of (\d+)`).FindStringSubmatch(out); m == nil || m[1] != "0" || m[2] == "0" {
		t.Errorf("switchover output lacks a failed-request count of 0 of some:\n%s", out)
	}
	for _, want := range []string{"moving the primary from SQL-ONE to SQL-THREE", "VIP " + u.plan.VIP.String() + " up on SQL-THREE", "Switchover took:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Without --to: the next DB node after the primary (wrapping around).
	if code, out, errOut := u.labctl(context.Background(), "switchover"); code != 0 || primary() != "SQL-ONE" {
		t.Errorf("switchover: exit %d, primary %s; want SQL-ONE\n%s%s", code, primary(), out, errOut)
	}
	// Again to the primary: nothing to do.
	if code, out, _ := u.labctl(context.Background(), "switchover", "--to", "SQL-ONE"); code != 0 || !strings.Contains(out, "SQL-ONE already is the primary") {
		t.Errorf("switchover to the primary: exit %d\n%s", code, out)
	}
	// Not a DB node: a usage error naming the DB nodes, nothing sent.
	before := len(sim.Scripts)
	code, out, errOut = u.labctl(context.Background(), "switchover", "--to", "server-one")
	if code != exitUsage || !strings.Contains(errOut, "SERVER-ONE is a web node, not a MySQL member; use one of SQL-ONE, SQL-TWO, SQL-THREE") {
		t.Errorf("switchover --to server-one: exit %d\n%s%s", code, out, errOut)
	}
	if len(sim.Scripts) != before {
		t.Errorf("a refused switchover ran %v", sim.Scripts[before:])
	}
}
