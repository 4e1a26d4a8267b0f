package exercisetest

// What `labctl drill` and `labctl switchover` send besides the exercises'
// scripts: the read-only probe (group view + addresses), the wait for a
// member to apply the group's transactions, and the planned primary move.

import (
	"fmt"
	"regexp"
	"strings"

	"labctl/guest"
	"labctl/mysqlgr"
)

// isDrillProbe recognises the drill's read-only probe script.
func isDrillProbe(script string) bool { return strings.Contains(script, "echo '@@ members'") }

// drillProbe answers the probe as the node would: its view of the group
// (viewSQL's rows) and its IPv4 addresses, the VIP where keepalived puts it.
func (e *exec) drillProbe() (guest.Result, error) {
	var b strings.Builder
	b.WriteString("@@ members\n")
	if d := e.l.DBs[e.n.VM]; d != nil {
		if !d.Mysqld {
			b.WriteString("mysqld is not running\n")
		} else {
			r, _ := e.sql("SELECT MEMBER_ID, MEMBER_HOST, MEMBER_PORT, MEMBER_STATE, MEMBER_ROLE, MEMBER_ID = @@GLOBAL.server_uuid FROM performance_schema.replication_group_members")
			b.WriteString(r.Stdout)
		}
	}
	b.WriteString("@@ addresses\n127.0.0.1\n" + e.n.IP.String() + "\n")
	if e.l.vipHolder() == e.n.VM {
		b.WriteString(e.l.Plan.VIP.String() + "\n")
	}
	return guest.Result{Stdout: b.String()}, nil
}

var (
	setPrimaryRE = regexp.MustCompile(`group_replication_set_as_primary\('([^']*)'\)`)
	waitGTIDRE   = regexp.MustCompile(`WAIT_FOR_EXECUTED_GTID_SET\('[^':]*:1-(\d+)'`)
)

// switchSQL answers the switchover's statements; ok=false for any other.
func (e *exec) switchSQL(stmts string) (res guest.Result, ok bool, err error) {
	l, d := e.l, e.l.DBs[e.n.VM]
	if m := waitGTIDRE.FindStringSubmatch(stmts); m != nil {
		var want int
		fmt.Sscan(m[1], &want)
		if d.State == mysqlgr.Online && d.TrxCount >= want {
			return guest.Result{Stdout: "0\n"}, true, nil
		}
		return guest.Result{Stdout: "1\n"}, true, nil
	}
	if m := setPrimaryRE.FindStringSubmatch(stmts); m != nil {
		if d.State != mysqlgr.Online {
			res, err = e.fail(1, "ERROR 3910 (HY000): The function 'group_replication_set_as_primary' failed. Member must be ONLINE.")
			return res, true, err
		}
		for i, n := range l.Plan.DB() {
			if uuid(i) == m[1] && l.DBs[n.VM].State == mysqlgr.Online {
				for _, o := range l.DBs {
					o.Primary = false
				}
				l.DBs[n.VM].Primary = true
				return guest.Result{Stdout: "Primary server switched to: " + m[1] + "\n"}, true, nil
			}
		}
		res, err = e.fail(1, "ERROR 3893 (HY000): The function 'group_replication_set_as_primary' failed. The requested uuid is not a member of the group.")
		return res, true, err
	}
	return guest.Result{}, false, nil
}
