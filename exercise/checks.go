package exercise

// The checks, and the typed action. Typed checks read the lab through
// labctl's own readers: mysqlgr for the group, steps.RunVerify for the
// whole of `labctl verify`.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/mysqlgr"
)

// wordpressRequests is how many requests the wordpress check sends
// through the load balancer to hear from every web node.
const wordpressRequests = 12

// checkTimeout bounds one check on one node.
const checkTimeout = 30 * time.Second

// runCheck runs check i of ex; detail says what was seen.
func runCheck(ctx context.Context, env *Env, b Bindings, ex *Exercise, i int, c *Check) (bool, string) {
	switch c.Type {
	case CheckGroup:
		_, ok, detail := groupHealth(ctx, env)
		return ok, detail
	case CheckVIP:
		return vipOnPrimary(ctx, env)
	case CheckWordPress:
		return wordpressThroughLB(ctx, env, b)
	case CheckRow:
		return rowEverywhere(ctx, env, c.Note)
	case CheckVerify:
		rep, err := env.Verify(ctx)
		if err == nil {
			return true, fmt.Sprintf("%d checks pass", len(rep.Rows))
		}
		var parts []string
		for _, row := range rep.Failed() {
			parts = append(parts, fmt.Sprintf("%s on %s: %s", row.Check, row.Node, row.Detail))
		}
		if len(parts) == 0 {
			parts = []string{err.Error()}
		}
		return false, strings.Join(parts, "; ")
	case CheckService:
		return onNodes(ctx, env, b, c.Node, fmt.Sprintf("%s check[%d]", ex.Name, i), serviceScript(env.Profile, c.Service), 0, nil)
	case CheckCommand:
		return onNodes(ctx, env, b, c.Node, fmt.Sprintf("%s check[%d]", ex.Name, i), c.Script, c.Exit, c)
	}
	return false, "unknown check type " + c.Type
}

// serviceScript tests that a service is active.
func serviceScript(p *guest.Profile, svc string) string {
	unit := map[string]string{"mysql": p.MySQLService, "nginx": p.NginxService, "keepalived": p.KeepalivedService, "ssh": p.SSHService}[svc]
	if svc == "php-fpm" {
		return "systemctl is-active --quiet \"$PHP_FPM_SERVICE\"\n"
	}
	return "systemctl is-active --quiet " + guest.Quote(unit) + "\n"
}

// onNodes runs a script on every node sel names; each must exit want (and
// match c's output pattern when set).
func onNodes(ctx context.Context, env *Env, b Bindings, sel, what, script string, want int, c *Check) (bool, string) {
	nodes, err := resolve(env.Plan, b, sel)
	if err != nil {
		return false, err.Error()
	}
	var bad, good []string
	for _, n := range nodes {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		res, err := env.SSH(n).Run(cctx, guest.Cmd{Script: render(env.Plan, env.Profile, b, n, what, script)})
		cancel()
		code := 0
		var ee *guest.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %s", n.VM, why(err)))
			continue
		}
		switch {
		case code != want:
			msg := fmt.Sprintf("%s: exit status %d, want %d", n.VM, code, want)
			if s := firstLine(res.Stderr + "\n" + res.Stdout); s != "" {
				msg += " (" + s + ")"
			}
			bad = append(bad, msg)
		case c != nil && c.output != nil && !c.output.MatchString(res.Stdout):
			bad = append(bad, fmt.Sprintf("%s: output %q does not match %q", n.VM, firstLine(res.Stdout), c.Output))
		default:
			good = append(good, n.VM)
		}
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; ")
	}
	return true, "ok on " + strings.Join(good, ", ")
}

// groupHealth judges the group from every DB node's own view: each must
// be ONLINE and see every DB node ONLINE with one PRIMARY, the same one.
func groupHealth(ctx context.Context, env *Env) (*lab.Node, bool, string) {
	views := readViews(ctx, env)
	want := len(env.Plan.DB())
	var why []string
	var primary *lab.Node
	for _, v := range views {
		if v.Err != nil {
			why = append(why, v.Err.Error())
			continue
		}
		self, ok := v.View.Self()
		if !ok {
			why = append(why, v.Node.VM+" is not in the group (group replication is not running there)")
			continue
		}
		if self.State != mysqlgr.Online {
			why = append(why, fmt.Sprintf("%s is %s", v.Node.VM, self.State))
			continue
		}
		online, primaries := 0, []*lab.Node{}
		for _, m := range v.View.Members {
			n := mysqlgr.MemberNode(env.Plan, m.Host)
			if n == nil || m.State != mysqlgr.Online {
				continue
			}
			online++
			if m.Role == mysqlgr.Primary {
				primaries = append(primaries, n)
			}
		}
		switch {
		case online != want:
			why = append(why, fmt.Sprintf("%s sees %d of %d members ONLINE", v.Node.VM, online, want))
		case len(primaries) != 1:
			why = append(why, fmt.Sprintf("%s sees %d primaries", v.Node.VM, len(primaries)))
		case primary != nil && primary != primaries[0]:
			why = append(why, fmt.Sprintf("%s sees %s as primary, another member sees %s", v.Node.VM, primaries[0].VM, primary.VM))
		default:
			primary = primaries[0]
		}
	}
	if len(why) > 0 {
		return primary, false, strings.Join(why, "; ")
	}
	return primary, true, fmt.Sprintf("%d members ONLINE, primary %s", want, primary.VM)
}

// vipOnPrimary: the VIP is on the group's primary and on no other DB node.
func vipOnPrimary(ctx context.Context, env *Env) (bool, string) {
	views := readViews(ctx, env)
	var primary *lab.Node
	for _, v := range views {
		if m, ok := v.View.Primary(); ok && v.Err == nil {
			if self, ok := v.View.Self(); ok && self.State == mysqlgr.Online {
				primary = mysqlgr.MemberNode(env.Plan, m.Host)
				break
			}
		}
	}
	dbs := env.Plan.DB()
	type addrs struct {
		holds bool
		err   error
	}
	seen := fanout.Map(dbs, func(n *lab.Node) addrs {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		res, err := env.SSH(n).Run(cctx, guest.Cmd{Script: "ip -o -4 addr show\n"})
		return addrs{strings.Contains(res.Stdout, " "+env.Plan.VIP.String()+"/"), err}
	})
	var holders []string
	for i, n := range dbs {
		if seen[i].err != nil {
			return false, fmt.Sprintf("cannot read the addresses of %s: %s", n.VM, why(seen[i].err))
		}
		if seen[i].holds {
			holders = append(holders, n.VM)
		}
	}
	switch {
	case primary == nil:
		return false, "no ONLINE member names a primary"
	case len(holders) == 0:
		return false, fmt.Sprintf("no DB node holds %s; the primary is %s", env.Plan.VIP, primary.VM)
	case len(holders) == 1 && holders[0] == primary.VM:
		return true, fmt.Sprintf("%s is on the primary %s", env.Plan.VIP, primary.VM)
	}
	return false, fmt.Sprintf("%s is on %s; the primary is %s", env.Plan.VIP, strings.Join(holders, " and "), primary.VM)
}

// wordpressScript requests WordPress through the load balancer and prints,
// per request, the status and the web node that answered (X-Upstream). It
// gives up after 4 failures in a row: a broken site answers slowly, and
// one failure already fails the check.
const wordpressScript = `i=0
fails=0
while [ "$i" -lt %d ] && [ "$fails" -lt 4 ]; do
	h=$(curl -sS --max-time 5 -o /dev/null -D - "$SITE_URL/" 2>&1 | tr -d '\r') || true
	code=$(printf '%%s\n' "$h" | sed -n '1s/^HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p')
	up=$(printf '%%s\n' "$h" | sed -n 's/^[Xx]-[Uu]pstream: *//p' | tail -n 1)
	echo "answer ${code:-000} ${up:--}"
	if [ "${code:-000}" = 200 ]; then fails=0; else fails=$((fails + 1)); fi
	i=$((i + 1))
done
`

// wordpressThroughLB: every request answered 200, and every web node answered some.
func wordpressThroughLB(ctx context.Context, env *Env, b Bindings) (bool, string) {
	lb := env.Plan.LB()
	if lb == nil {
		return false, "the lab has no load balancer"
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	script := render(env.Plan, env.Profile, b, lb, "wordpress check", fmt.Sprintf(wordpressScript, wordpressRequests))
	res, err := env.SSH(lb).Run(cctx, guest.Cmd{Script: script})
	if err != nil {
		return false, fmt.Sprintf("cannot request WordPress from %s: %s", lb.VM, why(err))
	}
	byAddr := map[string]*lab.Node{}
	for _, w := range env.Plan.Web() {
		byAddr[w.IP.String()+":80"] = w
	}
	answered := map[*lab.Node]bool{}
	failures := map[string]int{}
	n := 0
	for _, line := range strings.Split(res.Stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "answer" {
			continue
		}
		n++
		// "a:80, b:80" when nginx retried: the last one answered.
		parts := strings.Split(strings.Join(f[2:], " "), ",")
		who := strings.TrimSpace(parts[len(parts)-1])
		if f[1] != "200" {
			name := who
			if w := byAddr[who]; w != nil {
				name = w.VM
			}
			failures[fmt.Sprintf("HTTP %s from %s", f[1], name)]++
			continue
		}
		if w := byAddr[who]; w != nil {
			answered[w] = true
		}
	}
	var why []string
	var keys []string
	for k := range failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		why = append(why, fmt.Sprintf("%d× %s", failures[k], k))
	}
	for _, w := range env.Plan.Web() {
		if !answered[w] {
			why = append(why, w.VM+" never answered 200")
		}
	}
	if n == 0 {
		return false, "no answer from the probe on " + lb.VM
	}
	if len(why) > 0 {
		return false, fmt.Sprintf("%d requests: %s", n, strings.Join(why, "; "))
	}
	return true, fmt.Sprintf("%d requests, all 200, answered by %s", n, strings.Join(env.Plan.Web().Names(), " and "))
}

// rowEverywhere: the row noted note is on every DB node.
func rowEverywhere(ctx context.Context, env *Env, note string) (bool, string) {
	var missing []string
	for _, n := range env.Plan.DB() {
		ok, err := hasRow(ctx, env, n, note)
		switch {
		case err != nil:
			missing = append(missing, fmt.Sprintf("%s (%s)", n.VM, why(err)))
		case !ok:
			missing = append(missing, n.VM)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Sprintf("the row %q is missing on %s", note, strings.Join(missing, ", "))
	}
	return true, fmt.Sprintf("the row %q is on all %d members", note, len(env.Plan.DB()))
}

// doTyped runs a typed action.
func doTyped(ctx context.Context, env *Env, do string) error {
	switch do {
	case DoRebootGroup:
		return rebootGroup(ctx, env)
	}
	return fmt.Errorf("unknown action %q", do)
}

// rebootGroup restarts the group after a full outage: mysqld started on
// every DB node, the group bootstrapped from the member whose transactions
// contain every other member's (mysqlgr.ChooseBootstrap), the others
// rejoined. When some member is still ONLINE it only rejoins the others:
// bootstrapping then would found a second group.
func rebootGroup(ctx context.Context, env *Env) error {
	dbs := env.Plan.DB()
	start := "systemctl start " + guest.Quote(env.Profile.MySQLService) + "\n"
	for _, n := range dbs {
		if _, err := env.SSH(n).Run(ctx, guest.Cmd{Script: start}); err != nil {
			return fmt.Errorf("start mysqld on %s: %w", n.VM, err)
		}
	}
	var members []mysqlgr.MemberGTID
	var online *lab.Node
	for _, n := range dbs {
		st, err := readStatusWait(ctx, env, n)
		if err != nil {
			return err
		}
		if st.State == mysqlgr.Online {
			online = n
		}
		members = append(members, mysqlgr.MemberGTID{Name: n.VM, Executed: st.Executed, Received: st.Received})
	}
	if online == nil {
		name, err := mysqlgr.ChooseBootstrap(members)
		if err != nil {
			return err
		}
		online = dbs.Find(name)
		fmt.Fprintf(env.Out, "  bootstrapping the group on %s (its transactions contain every other member's)\n", name)
		s := env.root(online)
		if err := s.Bootstrap(ctx); err != nil {
			return err
		}
		if err := s.WaitOnline(ctx, 2*time.Minute, env.poll()/2); err != nil {
			return fmt.Errorf("%s after bootstrap: %w", name, err)
		}
	}
	for _, n := range dbs {
		if n == online {
			continue
		}
		fmt.Fprintf(env.Out, "  %s joins the group\n", n.VM)
		if err := env.root(n).Rejoin(ctx, mysqlgr.RejoinOptions{Within: 3 * time.Minute, Poll: env.poll() / 2}); err != nil {
			return fmt.Errorf("%s rejoin: %w", n.VM, err)
		}
	}
	return nil
}

// readStatusWait reads a member's status, waiting for a starting mysqld.
func readStatusWait(ctx context.Context, env *Env, n *lab.Node) (*mysqlgr.Status, error) {
	deadline := env.now().Add(2 * time.Minute)
	for {
		st, err := env.root(n).ReadStatus(ctx)
		if err == nil {
			return st, nil
		}
		if env.now().After(deadline) {
			return nil, fmt.Errorf("%s does not answer: %w", n.VM, err)
		}
		if err := env.sleep(ctx, env.poll()/2); err != nil {
			return nil, err
		}
	}
}
