package drill

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSwitchoverMovesPrimaryAfterCatchUpAndCountsFailures(t *testing.T) {
	for _, to := range []string{"", "sql-three"} {
		t.Run("to="+to, func(t *testing.T) {
			p := testPlan(t)
			g := newSimGroup(p) // SQL-TWO is the primary
			d, out, _, failed := simDrill(t, g, "")
			target, err := SwitchTarget(p, to)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Switchover(context.Background(), target); err != nil {
				t.Fatalf("switchover: %v\n%s", err, out)
			}
			want := "SQL-THREE" // the next DB node after SQL-TWO, or the one asked for
			text := out.String()
			t.Logf("switchover:\n%s", text)
			if g.primary.VM != want || g.vipOn == nil || g.vipOn.VM != want {
				t.Errorf("primary %v, VIP on %v; want both %s", g.primary, g.vipOn, want)
			}
			for _, w := range []string{
				"moving the primary from SQL-TWO to " + want,
				want + " has applied every transaction of SQL-TWO",
				"VIP 192.0.2.167 up on " + want,
				fmt.Sprintf("Failed requests:      %d of ", *failed),
				"Switchover took:",
			} {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			// Catch up on the new primary first, then ask the old one.
			waitAt, setAt := -1, -1
			for i, s := range g.scripts {
				if strings.HasPrefix(s, want+": ") && strings.Contains(s, "WAIT_FOR_EXECUTED_GTID_SET('group-uuid:1-42'") {
					waitAt = i
				}
				if strings.Contains(s, "group_replication_set_as_primary('uuid-"+want+"')") {
					if !strings.HasPrefix(s, "SQL-TWO: ") {
						t.Errorf("set_as_primary sent to another member than the primary: %s", s)
					}
					setAt = i
				}
				if strings.Contains(s, "kill -9") || strings.Contains(s, "systemctl stop") {
					t.Errorf("a switchover failed a node: %s", s)
				}
			}
			if waitAt < 0 || setAt < 0 || waitAt > setAt {
				t.Errorf("wait for GTIDs at %d, set_as_primary at %d: want the wait first\n%q", waitAt, setAt, g.scripts)
			}
			vip, _ := d.find("VIP 192.0.2.167 up on")
			if vip < g.vipAfter {
				t.Errorf("VIP measured at %s, the simulation moved it at %s", vip, g.vipAfter)
			}
		})
	}
}

func TestSwitchoverToThePrimaryChangesNothing(t *testing.T) {
	p := testPlan(t)
	g := newSimGroup(p)
	d, out, total, _ := simDrill(t, g, "")
	to, _ := SwitchTarget(p, "SQL-TWO")
	if err := d.Switchover(context.Background(), to); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "SQL-TWO already is the primary") || *total != 0 {
		t.Errorf("output %q, %d requests", out, *total)
	}
	for _, s := range g.scripts {
		if strings.Contains(s, "set_as_primary") {
			t.Errorf("asked to switch to the primary: %s", s)
		}
	}
}

func TestSwitchoverRefusals(t *testing.T) {
	p := testPlan(t)
	for name, want := range map[string]string{
		"SERVER-ONE": "--to SERVER-ONE: SERVER-ONE is a web node, not a MySQL member; use one of SQL-ONE, SQL-TWO, SQL-THREE",
		"sql-nine":   `--to sql-nine: no such node in lab "drilltest"; use one of SQL-ONE, SQL-TWO, SQL-THREE`,
	} {
		if _, err := SwitchTarget(p, name); err == nil || err.Error() != want {
			t.Errorf("--to %s: %v, want %q", name, err, want)
		}
	}

	// A member that cannot catch up is never made the primary.
	g := newSimGroup(p)
	g.behind = true
	d, out, _, _ := simDrill(t, g, "")
	err := d.Switchover(context.Background(), p.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "SQL-ONE has not applied the group's transactions") {
		t.Errorf("got %v\n%s", err, out)
	}
	if g.primary.VM != "SQL-TWO" {
		t.Errorf("primary moved to %s although the target was behind", g.primary.VM)
	}

	// An unhealthy group is refused before anything changes.
	g = newSimGroup(p)
	g.grOff[p.DB()[2]] = true
	d, _, _, _ = simDrill(t, g, "")
	start := time.Now()
	if err := d.Switchover(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "needs a healthy group") {
		t.Errorf("unhealthy group: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("refusal took %s", time.Since(start))
	}
}
