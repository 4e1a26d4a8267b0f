package reallab

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// switchoverPhase moves the primary on purpose with the unmodified binary,
// to the next member and then back by name: each time the new primary holds
// the VIP, status and verify describe the lab as before, and the failed
// requests through the load balancer during the move are printed (the
// target is 0; a figure, not an assertion).
func switchoverPhase(t *testing.T, e *Env, l labctlRunner) {
	t.Helper()
	old := primaryNode(t, e)
	for _, args := range [][]string{{"switchover"}, {"switchover", "--to", nodeHost[old]}} {
		out, d, err := l.run(t, 5*time.Minute, args...)
		label := "labctl " + strings.Join(args[:1], " ")
		if len(args) > 1 {
			label += " --to (back)"
		}
		record(label+" (wall)", d)
		if err != nil {
			t.Fatalf("labctl %s: %v\n%s", strings.Join(args, " "), err, lastLines(out, 15))
		}
		if m := regexp.MustCompile(`Switchover took:\s+([0-9.]+) s`).FindStringSubmatch(out); m == nil {
			t.Errorf("switchover output has no duration:\n%s", lastLines(out, 8))
		} else {
			s, _ := strconv.ParseFloat(m[1], 64)
			record(label+": VIP on the new primary after", time.Duration(s*float64(time.Second)))
		}
		if m := regexp.MustCompile(`Failed requests:\s+(\d+) of (\d+)`).FindStringSubmatch(out); m == nil {
			t.Errorf("switchover output has no failed-requests figure:\n%s", lastLines(out, 8))
		} else {
			fmt.Printf("REALLAB %-44s %8s\n", label+": failed requests (target 0)", m[1]+"/"+m[2])
		}
		now := primaryNode(t, e)
		switch {
		case len(args) == 1 && now == old:
			t.Errorf("switchover left the primary on %s", old)
		case len(args) > 1 && now != old:
			t.Errorf("switchover --to %s: the primary is %s", nodeHost[old], now)
		}
		if h := vipHolders(t, e); len(h) != 1 || h[0] != now {
			t.Errorf("after the switchover the VIP is on %v, want only on the primary %s", h, now)
		}
		if _, _, err := l.run(t, 5*time.Minute, "verify"); err != nil {
			t.Errorf("labctl verify after the switchover: %v", err)
		}
		checkStatusJSON(t, l)
	}
	checkLab(t, e)
}
