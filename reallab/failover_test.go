package reallab

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Failover timing (issue 6 item 4). The machines share the host's clock,
// so the failure and the VIP's arrival are both stamped inside them: the
// figure is the time the lab took, not the time this test took to look.

// vipWatch is a shell loop that prints the time the VIP appears on this
// machine (polled every 50 ms, bounded). Its name lets stopWatchers find it.
const vipWatch = `: reallab-vipwatch
end=$(($(date +%%s) + %d))
while [ "$(date +%%s)" -lt "$end" ]; do
	if ip -4 -o addr show dev host0 | grep -q ' %s/'; then date +%%s.%%N; exit 0; fi
	sleep 0.05
done
exit 1
`

// failScript fails mysqld and prints the time just before it did.
var failScript = map[string]string{
	"crash": "date +%s.%N; kill -9 $(systemctl show -p MainPID --value mysql)",
	"stop":  "date +%s.%N; systemctl stop mysql",
}

// parseStamp reads the first `date +%s.%N` stamp in out.
func parseStamp(out string) (time.Time, error) {
	f := strings.Fields(out)
	if len(f) == 0 {
		return time.Time{}, fmt.Errorf("no timestamp in %q", out)
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", f[0], err)
	}
	return time.Unix(0, int64(s*1e9)), nil
}

// failPrimary fails old's mysqld (kind crash or stop) and returns the DB
// machine that took the VIP and how long after the failure it did. A clean
// stop's own duration (mysqld shutting down) is returned apart: the group
// moves on while it runs.
func failPrimary(t *testing.T, e *Env, old, kind string, limit time.Duration) (string, time.Duration, time.Duration) {
	t.Helper()
	type seen struct {
		node string
		at   time.Time
	}
	found := make(chan seen, len(dbNodes))
	var wg sync.WaitGroup
	for _, n := range dbNodes {
		if n == old {
			continue
		}
		wg.Add(1)
		go func(n string) {
			defer wg.Done()
			r := guest(t, e, n, "", fmt.Sprintf(vipWatch, int(limit.Seconds()), vip))
			if r.Code == 0 {
				if at, err := parseStamp(r.Stdout); err == nil {
					found <- seen{n, at}
				}
			}
		}(n)
	}
	time.Sleep(time.Second) // the watchers are running before the failure
	type failed struct {
		out      string
		code     int
		returned time.Time
	}
	done := make(chan failed, 1)
	go func() {
		r := guest(t, e, old, "", failScript[kind])
		done <- failed{r.Stdout, r.Code, time.Now()}
	}()
	var f failed
	var first seen
	select {
	case first = <-found:
		f = <-done
	case <-time.After(limit + 10*time.Second):
		f = <-done
	}
	stopWatchers(t, e, old)
	wg.Wait()
	if f.code != 0 {
		t.Fatalf("%s: %s of mysqld failed (exit %d)", old, kind, f.code)
	}
	t0, err := parseStamp(f.out)
	if err != nil {
		t.Fatalf("%s: %v", old, err)
	}
	if first.node == "" {
		t.Fatalf("%s of %s: the VIP reached no other DB machine within %s (holders now: %v)", kind, old, limit, vipHolders(t, e))
	}
	return first.node, first.at.Sub(t0), f.returned.Sub(t0)
}

// stopWatchers ends the VIP loops still running on the machines other than old.
func stopWatchers(t *testing.T, e *Env, old string) {
	t.Helper()
	for _, n := range dbNodes {
		if n != old {
			guest(t, e, n, "", "pkill -f 'reallab-vipwatc[h]' || true")
		}
	}
}

// untuned are labctl's failover settings before issue 6's tuning: MySQL's
// default expel timeout; a keepalived check every 2 s that must fail twice,
// asks once, and waits 2 s / 3 s for mysqld; VRRPv2 adverts every second.
const untuned = `set -e
mysql --defaults-extra-file=/root/.my.cnf -e "SET GLOBAL group_replication_member_expel_timeout = 5"
sed -i -e 's/^    interval 1$/    interval 2/' -e 's/^    fall 1$/    fall 2/' -e 's/^    timeout 3$/    timeout 4/' \
	-e '/^    version 3$/d' -e 's/^    advert_int 0.05$/    advert_int 1/' /etc/keepalived/keepalived.conf
grep -q '^    advert_int 1$' /etc/keepalived/keepalived.conf
cat >/usr/libexec/keepalived/check_primary.sh <<'EOS'
#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
query="SELECT IF(m.MEMBER_STATE = 'ONLINE' AND m.MEMBER_ROLE = 'PRIMARY'
  AND @@GLOBAL.super_read_only = 0
  AND 2 * (SELECT COUNT(*) FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE')
    > (SELECT COUNT(*) FROM performance_schema.replication_group_members),
  'OK', 'NO')
FROM performance_schema.replication_group_members m
WHERE m.MEMBER_ID = @@GLOBAL.server_uuid"
out=$(timeout 3 mysql --defaults-file=/etc/keepalived/check_primary.cnf \
	--protocol=TCP --host=127.0.0.1 --port=3306 \
	--connect-timeout=2 --batch --skip-column-names \
	--execute="$query" 2>/dev/null) || exit 1
[ "$out" = "OK" ]
EOS
keepalived -t -f /etc/keepalived/keepalived.conf
systemctl reload keepalived
`

// failoverBeforeAfter measures a crash and a clean stop of the primary
// with the untuned settings, then lets `labctl up` put the tuned ones back
// (live: the expel timeout by SET GLOBAL, keepalived by reload) and
// measures both again. Every figure is printed with issue 6's targets.
func failoverBeforeAfter(t *testing.T, e *Env, l labctlRunner) {
	t.Helper()
	measure := func(label, kind string, detune bool) time.Duration {
		if detune {
			for _, n := range dbNodes {
				mustGuest(t, e, n, untuned)
			}
			time.Sleep(3 * time.Second) // keepalived settles after the reload
		}
		old := primaryNode(t, e)
		to, d, stopTook := failPrimary(t, e, old, kind, 90*time.Second)
		fmt.Printf("failover %s (%s): %s failed, VIP on %s after %.2f s\n", label, kind, old, to, d.Seconds())
		record(fmt.Sprintf("%s: %s -> VIP on new primary", label, kind), d)
		if kind == "stop" {
			record(fmt.Sprintf("%s: systemctl stop itself took", label), stopTook)
		}
		out, ud, err := l.run(t, 10*time.Minute, "up")
		record(fmt.Sprintf("%s: labctl up after the %s (rejoin)", label, kind), ud)
		if err != nil {
			t.Fatalf("labctl up after the %s: %v", kind, err)
		}
		if detune && strings.Contains(out, ": 0 step(s) changed something") {
			t.Errorf("up after an untuned %s changed nothing", kind)
		}
		checkLab(t, e)
		return d
	}
	crashBefore := measure("before tuning", "crash", true)
	stopBefore := measure("before tuning", "stop", true)
	// up restored the tuned settings on the live servers.
	for _, n := range dbNodes {
		if got := strings.TrimSpace(mustGuest(t, e, n, mysqlRoot+` -e "SELECT @@GLOBAL.group_replication_member_expel_timeout"`)); got != "0" {
			t.Errorf("%s: expel timeout %s after up, want 0 (set live)", n, got)
		}
		if !strings.Contains(mustGuest(t, e, n, "cat /etc/keepalived/keepalived.conf"), "advert_int 0.05") {
			t.Errorf("%s: up did not restore the tuned keepalived.conf", n)
		}
		if !strings.Contains(mustGuest(t, e, n, "cat /usr/libexec/keepalived/check_primary.sh"), "WAIT") {
			t.Errorf("%s: up did not restore the tuned check script", n)
		}
	}
	crashAfter := measure("after tuning", "crash", false)
	stopAfter := measure("after tuning", "stop", false)
	// Printed, not asserted: a loaded CI machine must not fail the suite on
	// a timing (the figures are the proof, the targets are issue 6's).
	verdict := func(d, target time.Duration) string {
		if d <= target {
			return "target met"
		}
		return "TARGET MISSED"
	}
	fmt.Printf("REALLAB failover crash -> VIP: before %.2f s, after %.2f s (%.1fx faster; target <= 8 s: %s)\n",
		crashBefore.Seconds(), crashAfter.Seconds(), crashBefore.Seconds()/crashAfter.Seconds(), verdict(crashAfter, 8*time.Second))
	fmt.Printf("REALLAB failover stop  -> VIP: before %.2f s, after %.2f s (%.1fx faster; target <= 3 s: %s)\n",
		stopBefore.Seconds(), stopAfter.Seconds(), stopBefore.Seconds()/stopAfter.Seconds(), verdict(stopAfter, 3*time.Second))
}
