package steps

// Step "verify" and `labctl verify`: the lab, end to end, as its users rely on it.
//
//  1. Group replication, seen from every DB node: all planned members
//     ONLINE, exactly one PRIMARY.
//  2. The VIP sits on exactly one DB node, and that node is the primary.
//  3. Each web node reaches MySQL through the VIP as WordPress does (PHP's
//     mysqli, the WordPress account) and lands on the primary, writable.
//  4. WordPress answers 200 through the load balancer with its site title.
//  5. verifyRequests more requests through the load balancer reach every web
//     node (the X-Upstream header).
//
// Everything is read-only. The MySQL root and WordPress passwords reach the
// nodes on stdin only.
//
// Reads: plan, secrets, the live nodes. Writes: nothing.

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"labctl/guest"
	"labctl/internal/fanout"
	"labctl/lab"
)

// verifyRequests is how many requests go through the load balancer to see
// both web nodes: the balancer's round robin is shared by its workers (a
// zone), so two in a row already reach both; four leave room for a
// visitor's requests in between. Each is a WordPress page on a web node.
const verifyRequests = 4

// VerifyRow is one line of the verify table.
type VerifyRow struct {
	Check  string
	Node   string
	OK     bool
	Detail string
}

// VerifyReport is the outcome of every verify check.
type VerifyReport struct{ Rows []VerifyRow }

// Failed returns the rows that did not pass.
func (r VerifyReport) Failed() []VerifyRow {
	var out []VerifyRow
	for _, row := range r.Rows {
		if !row.OK {
			out = append(out, row)
		}
	}
	return out
}

// Print writes the table: check, node, result, detail.
func (r VerifyReport) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tNODE\tRESULT\tDETAIL")
	for _, row := range r.Rows {
		res := "ok"
		if !row.OK {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Check, row.Node, res, row.Detail)
	}
	tw.Flush()
}

// err summarises the failed rows, or nil.
func (r VerifyReport) err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	var parts []string
	for _, row := range failed {
		parts = append(parts, fmt.Sprintf("%s on %s: %s", row.Check, row.Node, row.Detail))
	}
	return fmt.Errorf("%d of %d checks failed: %s", len(failed), len(r.Rows), strings.Join(parts, "; "))
}

// Verify returns the pipeline's last step: it passes when every verify check
// does, and changes nothing.
func Verify() Step { return verifyStep{} }

type verifyStep struct{}

func (verifyStep) Name() string  { return "verify" }
func (verifyStep) Title() string { return "Verifying the lab end to end" }

// ReadOnly: verify changes nothing, whatever its Apply waited for.
func (verifyStep) ReadOnly() bool { return true }

// CrossNode: verify reads every node, through the load balancer.
func (verifyStep) CrossNode() bool { return true }

func (verifyStep) Needs() []string {
	return []string{"keepalived", "wordpress-install", "load-balancer"}
}

// Targets is one node: the checks span the whole lab; the runner needs a node to report on.
func (verifyStep) Targets(p *lab.Plan) lab.Nodes {
	if lb := p.LB(); lb != nil {
		return lab.Nodes{lb}
	}
	return p.Nodes[:min(1, len(p.Nodes))]
}

func (verifyStep) Check(ctx context.Context, env *Env, _ *lab.Node) (Status, error) {
	rep, err := RunVerify(ctx, env)
	if err != nil {
		if len(rep.Rows) == 0 {
			return Status{}, err
		}
		return Status{Why: err.Error()}, nil
	}
	return Status{Done: true}, nil
}

// verifySettle bounds how long Apply waits for the lab to settle.
const verifySettle = 30 * time.Second

// Apply changes nothing: right after `up` the VIP and the load balancer may
// need a few seconds to settle, so it waits for the checks to pass, briefly.
// A probe is not cut short by the wait's end (curl has its own bound).
func (verifyStep) Apply(ctx context.Context, env *Env, _ *lab.Node) error {
	var last error
	err := env.Wait(ctx, "every check of the lab to pass", verifySettle, 5*time.Second, func(context.Context) (bool, error) {
		_, last = RunVerify(ctx, env)
		return last == nil, nil
	})
	if errors.Is(err, ErrTimeout) && last != nil {
		return last
	}
	return err
}

// RunVerify runs every check against the live lab; the error summarises the
// failures (nil when all pass), and the report has a row per check and node.
func RunVerify(ctx context.Context, env *Env) (VerifyReport, error) {
	p := env.Plan
	if env.Secrets == nil {
		return VerifyReport{}, fmt.Errorf("verify: the lab's secrets are not loaded")
	}
	dbs, webs, lb := p.DB(), p.Web(), p.LB()

	// Every node's probe at once: they only read.
	var dbViews []verifyDBView
	var webViews []verifyWebView
	var lbView verifyLBView
	fanout.All(
		func() {
			dbViews = fanout.Map(dbs, func(n *lab.Node) verifyDBView { return verifyProbeDB(ctx, env, n) })
		},
		func() {
			webViews = fanout.Map(webs, func(n *lab.Node) verifyWebView { return verifyProbeWeb(ctx, env, n) })
		},
		func() {
			if lb != nil {
				lbView = verifyProbeLB(ctx, env, lb)
			}
		},
	)

	var rep VerifyReport
	add := func(check string, n *lab.Node, ok bool, format string, args ...any) {
		name := "-"
		if n != nil {
			name = n.Name()
		}
		rep.Rows = append(rep.Rows, VerifyRow{check, name, ok, fmt.Sprintf(format, args...)})
	}

	// 1. The group, from each member.
	var primary *lab.Node
	for i, n := range dbs {
		v := dbViews[i]
		ok, detail, prim := verifyGroup(p, v)
		add("group replication", n, ok, "%s", detail)
		if ok && primary == nil {
			primary = prim
		}
	}

	// 2. The VIP on the primary, and only there.
	var holders []string
	for i, n := range dbs {
		if dbViews[i].hasVIP {
			holders = append(holders, n.Name())
		}
	}
	switch {
	case primary == nil:
		add("vip on primary", nil, false, "no healthy group view to find the primary in")
	case len(holders) == 1 && holders[0] == primary.Name():
		add("vip on primary", primary, true, "%s is on the primary", p.VIP)
	case len(holders) == 0:
		add("vip on primary", primary, false, "no DB node holds %s (is keepalived running, and its check passing on the primary?)", p.VIP)
	default:
		add("vip on primary", primary, false, "%s is on %s, want only the primary %s", p.VIP, strings.Join(holders, ", "), primary.Name())
	}

	// 3. MySQL through the VIP, from each web node.
	for i, n := range webs {
		v := webViews[i]
		switch {
		case v.err != "":
			add("mysql via vip", n, false, "%s", v.err)
		case primary != nil && !verifySameHost(v.hostname, primary):
			add("mysql via vip", n, false, "%s answered as %s, not the primary %s", p.VIP, v.hostname, primary.Name())
		case v.readOnly != "0":
			add("mysql via vip", n, false, "%s answered as %s with super_read_only=%s: writes would fail", p.VIP, v.hostname, v.readOnly)
		case primary == nil:
			add("mysql via vip", n, false, "%s answered as %s, but no group view names a primary", p.VIP, v.hostname)
		default:
			add("mysql via vip", n, true, "%s answered as %s, writable", p.VIP, v.hostname)
		}
	}

	// 4 and 5. WordPress through the load balancer.
	if lb == nil {
		add("wordpress via lb", nil, false, "the lab has no load balancer")
	} else {
		url := p.LabURL() + "/"
		switch {
		case lbView.err != "":
			add("wordpress via lb", lb, false, "%s", lbView.err)
		case lbView.status == "" || lbView.status == "000":
			add("wordpress via lb", lb, false, "%s did not answer: %s", url, webFirstLines(lbView.page, 1))
		case lbView.status != "200":
			add("wordpress via lb", lb, false, "%s answered HTTP %s, want 200", url, lbView.status)
		case !verifyTitleHas(lbView.title, p.SiteTitle):
			add("wordpress via lb", lb, false, "%s has title %q, want the site title %q", url, lbView.title, p.SiteTitle)
		default:
			add("wordpress via lb", lb, true, "%s: 200, %q", url, lbView.title)
		}
		var want, missing []string
		for _, w := range webs {
			addr := w.IP.String() + ":80"
			want = append(want, addr)
			if !lbView.upstreams[addr] {
				missing = append(missing, w.Name())
			}
		}
		if len(missing) == 0 && lbView.err == "" {
			add("load balancing", lb, true, "%d requests reached %s", verifyRequests, strings.Join(want, " and "))
		} else {
			add("load balancing", lb, false, "%d requests never reached %s (answers came from %s)",
				verifyRequests, strings.Join(missing, ", "), webOr(strings.Join(webSorted(lbView.upstreams), ", "), "no backend"))
		}
	}
	return rep, rep.err()
}

// --- DB nodes ---

type verifyDBView struct {
	err      string
	members  [][]string // MEMBER_HOST, MEMBER_STATE, MEMBER_ROLE
	hasVIP   bool
	hostname string
}

func verifyProbeDB(ctx context.Context, env *Env, n *lab.Node) verifyDBView {
	script, err := webRenderScript("verify-db.sh.tmpl", struct{ Node string }{n.Name()})
	if err != nil {
		return verifyDBView{err: err.Error()}
	}
	cnf, err := verifyRootOptions(env.Secrets.MySQLRoot)
	if err != nil {
		return verifyDBView{err: err.Error()}
	}
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script, Stdin: cnf})
	if err != nil {
		return verifyDBView{err: err.Error()}
	}
	facts := webParseFacts(res.Stdout)
	v := verifyDBView{}
	for _, line := range strings.Split(facts["members"], "\n") {
		if f := strings.Split(line, "\t"); len(f) == 3 {
			v.members = append(v.members, f)
		} else if strings.TrimSpace(line) != "" {
			v.err = strings.TrimSpace(line) // the client's error
		}
	}
	if f := strings.Split(facts["self"], "\t"); len(f) == 2 {
		v.hostname = f[0]
	}
	for _, a := range strings.Fields(facts["addresses"]) {
		if a == env.Plan.VIP.String() {
			v.hasVIP = true
		}
	}
	return v
}

// verifyRootOptions is the mysql option file for root, sent on stdin.
func verifyRootOptions(password string) ([]byte, error) {
	if password == "" || strings.ContainsAny(password, "\"\\'\n\r") {
		return nil, fmt.Errorf("the lab's MySQL root password is missing or cannot go in an option file")
	}
	return []byte("[client]\nuser=root\npassword=\"" + password + "\"\n"), nil
}

// verifyGroup judges one member's view: every planned member ONLINE, one PRIMARY.
func verifyGroup(p *lab.Plan, v verifyDBView) (ok bool, detail string, primary *lab.Node) {
	if v.err != "" {
		return false, v.err, nil
	}
	want := len(p.DB())
	var online int
	var primaries []*lab.Node
	var strangers []string
	for _, m := range v.members {
		host, state, role := m[0], m[1], m[2]
		node := verifyNodeByHost(p, host)
		if node == nil {
			strangers = append(strangers, host)
		}
		if state == "ONLINE" {
			online++
		}
		if role == "PRIMARY" {
			primaries = append(primaries, node)
		}
	}
	switch {
	case len(v.members) == 0:
		return false, "group replication is not running on this node", nil
	case len(strangers) > 0:
		return false, "members not in the plan: " + strings.Join(strangers, ", "), nil
	case online != want || len(v.members) != want:
		return false, fmt.Sprintf("%d of %d members ONLINE (%d in the group)", online, want, len(v.members)), nil
	case len(primaries) != 1:
		return false, fmt.Sprintf("%d PRIMARY members, want exactly 1", len(primaries)), nil
	}
	return true, fmt.Sprintf("%d members ONLINE, primary %s", online, primaries[0].Name()), primaries[0]
}

// verifyNodeByHost maps a MEMBER_HOST (report_host: an IP, or a hostname) to its node.
func verifyNodeByHost(p *lab.Plan, host string) *lab.Node {
	for _, n := range p.DB() {
		if n.IP.String() == host {
			return n
		}
	}
	return p.DB().Find(strings.SplitN(host, ".", 2)[0])
}

// verifySameHost compares @@hostname (maybe a FQDN) with a node.
func verifySameHost(hostname string, n *lab.Node) bool {
	short := strings.SplitN(hostname, ".", 2)[0]
	return strings.EqualFold(short, n.Hostname) || strings.EqualFold(short, n.VM)
}

// --- Web nodes ---

type verifyWebView struct{ err, hostname, readOnly string }

var verifyDBLine = regexp.MustCompile(`(?m)^labctl-db (?:error=(.*)|hostname=(\S*) super_read_only=(\S*))$`)

// verifyWebScript runs the mysqli probe; the program is in argv (no secret),
// the password on stdin.
func verifyWebScript(env *Env) (string, error) {
	program, err := webRender("verify-db.php.tmpl", map[string]any{
		"VIP": env.Plan.VIP.String(), "DBUser": MySQLWordPressUser, "DBName": WordPressDatabase,
	})
	if err != nil {
		return "", err
	}
	code := strings.TrimPrefix(string(program), "<?php\n")
	return "#!/bin/sh\n# Read-only: MySQL through the VIP, as WordPress reaches it.\nset -eu\n" +
		"# The PHP program is single-quoted on purpose: its $ are PHP's.\n# shellcheck disable=SC2016\n" +
		"php -r " + guest.Quote(code) + "\n", nil
}

func verifyProbeWeb(ctx context.Context, env *Env, n *lab.Node) verifyWebView {
	script, err := verifyWebScript(env)
	if err != nil {
		return verifyWebView{err: err.Error()}
	}
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script, Stdin: []byte(env.Secrets.WordPressDB + "\n")})
	if err != nil {
		return verifyWebView{err: err.Error()}
	}
	m := verifyDBLine.FindStringSubmatch(res.Stdout)
	switch {
	case m == nil:
		return verifyWebView{err: "no answer from the PHP probe: " + webFirstLines(res.Stdout+res.Stderr, 2)}
	case m[1] != "":
		return verifyWebView{err: "cannot connect through " + env.Plan.VIP.String() + ": " + m[1]}
	}
	return verifyWebView{hostname: m[2], readOnly: m[3]}
}

// --- The load balancer ---

type verifyLBView struct {
	err, status, title, page string
	upstreams                map[string]bool
}

var verifyTitleRe = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

func verifyProbeLB(ctx context.Context, env *Env, n *lab.Node) verifyLBView {
	script, err := webRenderScript("verify-lb.sh.tmpl", struct {
		URL      string
		Requests int
	}{env.Plan.LabURL(), verifyRequests})
	if err != nil {
		return verifyLBView{err: err.Error()}
	}
	res, err := env.SSH(n).Run(ctx, guest.Cmd{Script: script})
	if err != nil {
		return verifyLBView{err: err.Error()}
	}
	facts := webParseFacts(res.Stdout)
	v := verifyLBView{status: facts["status"], page: facts["page"], upstreams: map[string]bool{}}
	if m := verifyTitleRe.FindStringSubmatch(facts["page"]); m != nil {
		v.title = strings.TrimSpace(html.UnescapeString(m[1]))
	}
	for _, line := range strings.Split(facts["upstreams"], "\n") {
		// "a:80, b:80" when nginx retried on the next server: the last one answered.
		parts := strings.Split(line, ",")
		if addr := strings.TrimSpace(parts[len(parts)-1]); addr != "" {
			v.upstreams[addr] = true
		}
	}
	return v
}

// verifyTitleHas compares titles loosely: WordPress curls quotes and escapes
// entities, so only letters and digits count.
func verifyTitleHas(title, want string) bool {
	norm := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f && r != 0x2018 && r != 0x2019 && r != 0x201c && r != 0x201d && r != 0x2013 && r != 0x2014 {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return want != "" && strings.Contains(norm(title), norm(want))
}
