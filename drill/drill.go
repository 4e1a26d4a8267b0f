// Package drill fails the MySQL primary on purpose (kill -9 or a clean
// stop) and measures the failover a classroom relies on: seconds until a
// new primary is elected and until the VIP is on it, the WordPress requests
// through the load balancer that failed meanwhile; then it brings the old
// primary back into the group. Every wait is bounded.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
	"labctl/mysqlgr"
)

// Options is what a drill needs from its caller.
type Options struct {
	Plan    *lab.Plan
	Profile *guest.Profile
	SSH     func(*lab.Node) guest.Executor // one executor per node
	Redact  []string                       // the lab's secrets
	Kind    string                         // "crash" (kill -9 mysqld) or "stop" (systemctl stop)
	URL     string                         // WordPress through the load balancer
	Out     io.Writer                      // the report
	// Get, when set, makes one request instead of an HTTP GET of URL (the
	// whole-tool tests' simulated lab).
	Get func(ctx context.Context) error
}

// Drill is one failover exercise. Its seams (ssh, get, the durations) let
// tests run it against simulated nodes in milliseconds.
type Drill struct {
	plan   *lab.Plan
	prof   *guest.Profile
	ssh    func(*lab.Node) guest.Executor
	redact []string
	kind   string
	out    io.Writer
	// get makes one WordPress request through the load balancer; nil = success.
	get func(ctx context.Context) error

	poll         time.Duration // between group probes and between requests
	probeTimeout time.Duration // one probe of one node
	failoverWait time.Duration // kill → new primary with the VIP
	settle       time.Duration // requests go on this long after the VIP moved
	rejoinWait   time.Duration // mysqld start + rejoin → ONLINE
	catchUpWait  time.Duration // switchover: the new primary applies what the old one has

	mu     sync.Mutex
	t0     time.Time
	events []event
}

type event struct {
	at   time.Duration
	text string
}

// Valid reports whether kind is a failure a drill can cause: "crash" or "stop".
func Valid(kind string) bool { return kind == "crash" || kind == "stop" }

// New prepares a drill; Run performs it.
func New(o Options) *Drill {
	url := o.URL
	client := &http.Client{
		Timeout: 2 * time.Second,
		// A fresh connection per request: a kept-alive one would hide a
		// load balancer that no longer accepts connections.
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d := &Drill{
		plan: o.Plan, prof: o.Profile, ssh: o.SSH, redact: o.Redact, kind: o.Kind, out: o.Out,
		get: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode >= 400 {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return nil
		},
		poll:         250 * time.Millisecond,
		probeTimeout: 1500 * time.Millisecond,
		failoverWait: 60 * time.Second,
		settle:       3 * time.Second,
		rejoinWait:   5 * time.Minute,
		catchUpWait:  time.Minute,
	}
	if o.Get != nil {
		d.get = o.Get
	}
	return d
}

// event records a timeline line at the current offset from the kill.
func (d *Drill) event(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := time.Duration(0)
	if !d.t0.IsZero() {
		at = time.Since(d.t0)
	}
	d.events = append(d.events, event{at, fmt.Sprintf(format, args...)})
}

// nodeView is one DB node's answer: its view of the group and its addresses.
type nodeView struct {
	mysqlgr.NodeView
	addrs []string
}

func (v nodeView) hasAddr(a string) bool {
	for _, x := range v.addrs {
		if x == a {
			return true
		}
	}
	return false
}

// viewScript is read-only: the group as this member sees it, and its
// IPv4 addresses. A mysqld that systemd no longer calls active is not asked:
// while it shuts down it accepts connections but never answers them, and
// waiting for it would delay every probe round of the drill.
func viewScript(svc string) string {
	return "#!/bin/sh\n# labctl drill: read-only probe.\n" +
		"echo '@@ members'\n" +
		"if systemctl is-active --quiet " + guest.Quote(svc) + "; then\n" +
		"\t" + mysqlgr.ViewProbe(2) + "\n" +
		"else\n\techo " + guest.Quote(svc+" is not running") + "\nfi\n" +
		"echo '@@ addresses'\nip -4 -o addr show 2>/dev/null | awk '{ split($4, a, \"/\"); print a[1] }'\nexit 0\n"
}

func (d *Drill) view(ctx context.Context, n *lab.Node) nodeView {
	ctx, cancel := context.WithTimeout(ctx, d.probeTimeout)
	defer cancel()
	v := nodeView{NodeView: mysqlgr.NodeView{Node: n}}
	res, err := d.ssh(n).Run(ctx, guest.Cmd{Script: viewScript(d.prof.MySQLService), Redact: d.redact})
	if err != nil {
		v.Err = err
		return v
	}
	sec := guest.Sections(res.Stdout)
	if v.View, err = mysqlgr.ParseView(sec["members"]); err != nil {
		v.Err = fmt.Errorf("%s: %w", n.VM, err) // the client's error
	}
	v.addrs = strings.Fields(sec["addresses"])
	return v
}

// viewAll probes nodes at once.
func (d *Drill) viewAll(ctx context.Context, nodes lab.Nodes) []nodeView {
	return fanout.Map(nodes, func(n *lab.Node) nodeView { return d.view(ctx, n) })
}

// groupViews drops the addresses, for mysqlgr's judgements.
func groupViews(vs []nodeView) []mysqlgr.NodeView {
	out := make([]mysqlgr.NodeView, len(vs))
	for i, v := range vs {
		out[i] = v.NodeView
	}
	return out
}

// killScript fails mysqld: crash = SIGKILL to its main process (systemd may
// restart it, but group replication does not start on boot), stop = a clean stop.
func (d *Drill) killScript() string {
	svc := guest.Quote(d.prof.MySQLService)
	if d.kind == "stop" {
		return "systemctl stop " + svc + "\n"
	}
	return fmt.Sprintf(`pid=$(systemctl show -p MainPID --value %s)
if [ -z "$pid" ] || [ "$pid" = 0 ]; then echo "%s is not running" >&2; exit 1; fi
kill -9 "$pid"
`, svc, d.prof.MySQLService)
}

// requestTally counts the WordPress requests; only those after the failure count as the event's.
type requestTally struct {
	total, failed           int
	firstFail, lastFail     time.Duration
	lastErr                 string
	beforeKill, failedEarly int
}

// requestLoop makes one request per poll interval until ctx ends.
func (d *Drill) requestLoop(ctx context.Context, tally *requestTally, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := d.get(rctx)
		cancel()
		if ctx.Err() != nil {
			return // the loop's own end, not a failed request
		}
		d.mu.Lock()
		started := !d.t0.IsZero()
		at := time.Duration(0)
		if started {
			at = time.Since(d.t0)
		}
		d.mu.Unlock()
		switch {
		case !started:
			tally.beforeKill++
			if err != nil {
				tally.failedEarly++
			}
		default:
			tally.total++
			if err != nil {
				if tally.failed == 0 {
					tally.firstFail = at
				}
				tally.failed++
				tally.lastFail = at
				tally.lastErr = err.Error()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run performs the drill and prints its report; the old primary is brought
// back whatever happened, even after ctx ends.
func (d *Drill) Run(ctx context.Context) error {
	p := d.plan
	dbs := p.DB()
	old, err := mysqlgr.HealthyPrimary(p, groupViews(d.viewAll(ctx, dbs)))
	if err != nil {
		return fmt.Errorf("the drill needs a healthy group (every DB node ONLINE, one PRIMARY), and it is not: %w; run `labctl up` (or `labctl verify` to see why)", err)
	}
	what := map[string]string{"crash": "kill -9 its mysqld", "stop": "systemctl stop " + d.prof.MySQLService}[d.kind]
	fmt.Fprintf(d.out, "Drill (%s) on lab %q: the primary is %s; about to %s.\n", d.kind, p.Name, old.VM, what)
	fmt.Fprintf(d.out, "WordPress through the load balancer is requested every %s meanwhile.\n", d.poll)

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var tally requestTally
	loopDone := make(chan struct{})
	go d.requestLoop(loopCtx, &tally, loopDone)
	if err := sleepCtx(ctx, 4*d.poll); err != nil { // a baseline before the event
		return err
	}

	d.mu.Lock()
	d.t0 = time.Now()
	d.mu.Unlock()
	// The failure runs beside the watch: a clean stop takes mysqld seconds to
	// return, and the group elects a new primary while it is still shutting
	// down, so the clock starts when the stop is issued, not when it returns.
	killDone := make(chan error, 1)
	go func() {
		kctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		_, err := d.ssh(old).Run(kctx, guest.Cmd{Script: d.killScript(), Redact: d.redact})
		killDone <- err
	}()
	killed := false
	killResult := func(err error) error {
		killed = true
		if err != nil {
			return fmt.Errorf("%s: %s: %w", old.VM, what, err)
		}
		d.event("%s: mysqld %s", old.VM, map[string]string{"crash": "killed (kill -9)", "stop": "stopped (systemctl stop returned)"}[d.kind])
		return nil
	}
	abort := func(err error) error {
		stopLoop()
		<-loopDone
		return err
	}
	if d.kind == "crash" { // kill -9 returns at once; a failed kill ends the drill
		if err := killResult(<-killDone); err != nil {
			return abort(err)
		}
	}

	// Watch the survivors (and the old primary's addresses) until a new
	// primary holds the VIP, or the bound.
	var elected *lab.Node
	vipMoved, vipLeft := false, false
	deadline := time.Now().Add(d.failoverWait)
	for time.Now().Before(deadline) && !vipMoved {
		select {
		case err := <-killDone:
			if err := killResult(err); err != nil {
				return abort(err)
			}
		default:
		}
		views := d.viewAll(ctx, dbs)
		if ctx.Err() != nil {
			break
		}
		if elected == nil {
			if elected = mysqlgr.NewPrimary(p, groupViews(views), old); elected != nil {
				d.event("new primary elected: %s", elected.VM)
			}
		}
		for _, v := range views {
			// The old primary's mysqld is down, but its addresses still answer.
			if v.Node == old && !vipLeft && len(v.addrs) > 0 && !v.hasAddr(p.VIP.String()) {
				vipLeft = true
				d.event("VIP %s released by %s", p.VIP, old.VM)
			}
			if elected != nil && v.Node == elected && v.hasAddr(p.VIP.String()) {
				vipMoved = true
				d.event("VIP %s up on %s", p.VIP, elected.VM)
			}
		}
		if !vipMoved {
			if err := sleepCtx(ctx, d.poll); err != nil {
				break
			}
		}
	}
	if vipMoved {
		_ = sleepCtx(ctx, d.settle) // failures right after the move still count
	}
	stopLoop()
	<-loopDone
	var problems []error
	if !killed { // the stop is bounded by its own timeout; rejoin below either way
		if err := killResult(<-killDone); err != nil {
			problems = append(problems, err)
		}
	}
	d.event("request loop stopped: %d of %d requests failed", tally.failed, tally.total)

	switch {
	case elected == nil:
		problems = append(problems, fmt.Errorf("no new primary within %s of the %s (are the other members ONLINE? see `labctl status`)", d.failoverWait, d.kind))
	case !vipMoved:
		problems = append(problems, fmt.Errorf("%s was elected but the VIP %s did not reach it within %s (is keepalived running there? see `labctl status`)", elected.VM, p.VIP, d.failoverWait))
	}

	// Bring the old primary back whatever happened above, even after a
	// Ctrl-C (rejoin is bounded; a second Ctrl-C ends labctl at once).
	if ctx.Err() != nil {
		fmt.Fprintf(d.out, "Interrupted: rejoining %s anyway (Ctrl-C again to leave it down)…\n", old.VM)
		problems = append(problems, ctx.Err())
	} else {
		fmt.Fprintf(d.out, "Rejoining %s to the group…\n", old.VM)
	}
	if err := d.rejoin(context.WithoutCancel(ctx), old); err != nil {
		problems = append(problems, fmt.Errorf("%s did not rejoin: %w; run `labctl up` to converge the group", old.VM, err))
	} else {
		d.event("%s rejoined the group (ONLINE)", old.VM)
	}
	d.print(&tally)
	return errors.Join(problems...)
}

// rejoin starts mysqld on n when needed and brings its member back ONLINE.
func (d *Drill) rejoin(ctx context.Context, n *lab.Node) error {
	ctx, cancel := context.WithTimeout(ctx, d.rejoinWait)
	defer cancel()
	ex := d.ssh(n)
	if _, err := ex.Run(ctx, guest.Cmd{Script: d.startScript(), Redact: d.redact}); err != nil {
		return fmt.Errorf("start mysqld: %w", err)
	}
	d.event("%s: mysqld accepting connections", n.VM)
	dl, _ := ctx.Deadline()
	return mysqlgr.Root(n.VM, ex, d.redact).Rejoin(ctx, mysqlgr.RejoinOptions{
		Within: time.Until(dl), Poll: 4 * d.poll,
		Started: func() { d.event("%s: START GROUP_REPLICATION", n.VM) },
	})
}

// startScript starts mysqld (a no-op when systemd already restarted it)
// and waits, bounded, until it accepts connections.
func (d *Drill) startScript() string {
	return fmt.Sprintf(`systemctl start %s
i=0
until %s --connect-timeout=1 -e 'SELECT 1' >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 180 ]; then echo "mysqld does not accept connections 180 s after its start" >&2; exit 1; fi
	sleep 1
done
`, guest.Quote(d.prof.MySQLService), mysqlgr.RootClient)
}

func (d *Drill) print(t *requestTally) {
	if d.kind == "" {
		fmt.Fprintln(d.out, "\nTimeline (seconds after the switchover began):")
	} else {
		fmt.Fprintln(d.out, "\nTimeline (seconds after the failure):")
	}
	d.mu.Lock()
	events := append([]event{}, d.events...)
	d.mu.Unlock()
	if t.failed > 0 {
		events = append(events, event{t.firstFail, "first failed request"}, event{t.lastFail, "last failed request (" + t.lastErr + ")"})
	}
	sortEvents(events)
	for _, e := range events {
		fmt.Fprintf(d.out, "  %+7.2fs  %s\n", e.at.Seconds(), e.text)
	}
	fmt.Fprintln(d.out)
	if el, ok := d.find("new primary elected"); ok {
		fmt.Fprintf(d.out, "New primary after:    %.1f s\n", el.Seconds())
	} else {
		fmt.Fprintln(d.out, "New primary after:    none within the bound")
	}
	if v, ok := d.find("VIP " + d.plan.VIP.String() + " up on"); ok {
		fmt.Fprintf(d.out, "VIP on it after:      %.1f s\n", v.Seconds())
	} else {
		fmt.Fprintln(d.out, "VIP on it after:      not within the bound")
	}
	fmt.Fprintf(d.out, "Failed requests:      %d of %d\n", t.failed, t.total)
	if t.beforeKill > 0 && t.failedEarly == t.beforeKill {
		fmt.Fprintf(d.out, "Note: all %d requests before the failure failed too: WordPress was not answering through the load balancer to begin with.\n", t.beforeKill)
	}
}

func (d *Drill) find(prefix string) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.events {
		if strings.HasPrefix(e.text, prefix) {
			return e.at, true
		}
	}
	return 0, false
}

func sortEvents(es []event) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].at < es[j].at })
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
