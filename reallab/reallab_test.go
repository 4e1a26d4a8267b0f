package reallab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lab under test: the default lab's six roles on the private bridge.
var (
	dbNodes  = []string{"SQL-ONE", "SQL-TWO", "SQL-THREE"}
	webNodes = []string{"SERVER-ONE", "SERVER-TWO"}
	lbNode   = "LOAD-BALANCER"
	nodeIP   = map[string]string{
		"SQL-ONE": "10.231.0.11", "SQL-TWO": "10.231.0.12", "SQL-THREE": "10.231.0.13",
		"SERVER-ONE": "10.231.0.21", "SERVER-TWO": "10.231.0.22", "LOAD-BALANCER": "10.231.0.30",
	}
	nodeHost = map[string]string{
		"SQL-ONE": "sql-one", "SQL-TWO": "sql-two", "SQL-THREE": "sql-three",
		"SERVER-ONE": "server-one", "SERVER-TWO": "server-two", "LOAD-BALANCER": "load-balancer",
	}
	vip       = "10.231.0.100"
	siteTitle = "Real Lab WordPress"
)

func allNodes() []string { return append(append(append([]string{}, dbNodes...), webNodes...), lbNode) }

// writeLab writes the lab.toml for the debian profile on the private network.
func writeLab(t *testing.T, e *Env) string {
	t.Helper()
	archive := filepath.Join(e.Cache, "wordpress.tar.gz")
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	var nodes strings.Builder
	for _, n := range allNodes() {
		role := "db"
		switch {
		case strings.HasPrefix(n, "SERVER"):
			role = "web"
		case n == lbNode:
			role = "lb"
		}
		fmt.Fprintf(&nodes, "\n[[nodes]]\nvm = %q\nhostname = %q\nip = %q\nrole = %q\n", n, nodeHost[n], nodeIP[n], role)
	}
	toml := fmt.Sprintf(`name = "reallab"
state_dir = ""

[base]
vm = %q
snapshot = "labctl-base"
user = "root"
password_file = %q
profile = "debian"
ssh_user = "root"

[network]
bridge_adapter = %q
network = %q
gateway = %q
dns = [%q]
vip = %q
vip_hostname = "sql-vip"

[roles.db]
cpus = 1
memory_mb = 1024

[roles.web]
cpus = 1
memory_mb = 512

[roles.lb]
cpus = 1
memory_mb = 512
%s
[packages]
mirror = %q

[wordpress]
archive = %q
sha256 = %q
title = %q
admin_user = "admin"
admin_email = "admin@example.com"

[keepalived]
router_id = 0

[exercises]
report_key_file = %q
`, e.BaseName, e.PassFile, BridgeName, Network, BridgeIP, BridgeIP, vip, nodes.String(), e.RepoURL, archive, hex.EncodeToString(sum[:]), siteTitle, reportKey(t, e))
	path := filepath.Join(e.Work, "lab.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// reportKey writes the instructor's report-signing key (0600) for the lab.
func reportKey(t *testing.T, e *Env) string {
	t.Helper()
	path := filepath.Join(e.Work, "report-key")
	if err := os.WriteFile(path, []byte("reallab-report-key-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// labctl runs the unmodified labctl against the backend; output goes to the
// test log as it comes and is returned.
type labctlRunner struct {
	bin, lab, state string
	env             *Env
}

func (l labctlRunner) run(t *testing.T, limit time.Duration, args ...string) (string, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	full := append([]string{"--lab", l.lab, "--vboxmanage", l.env.Backend}, args...)
	cmd := exec.CommandContext(ctx, l.bin, full...)
	cmd.Env = append(l.env.BackendEnv(), "LABCTL_STATE_DIR="+l.state)
	var buf bytes.Buffer
	w := io.MultiWriter(&buf, os.Stdout)
	cmd.Stdout, cmd.Stderr = w, w
	fmt.Printf("\n$ labctl %s\n", strings.Join(args, " "))
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	reportFailedInstalls(t, l.env, buf.String())
	return buf.String(), d, err
}

// failedInstall matches the packages step's warning after an install failed.
var failedInstall = regexp.MustCompile(`(?m)^! (\S+): the package install failed`)

// reportFailedInstalls prints, for each VM whose package install failed in
// a run (then repaired and tried again), MySQL's log up to the abort: seen
// once in a while on fresh builds ("System views initialization failed" in
// mysqld --initialize), never reproduced on its own.
func reportFailedInstalls(t *testing.T, e *Env, out string) {
	t.Helper()
	for _, m := range failedInstall.FindAllStringSubmatch(out, -1) {
		// The failed initialisation comes first in the log, the retry's after it.
		r := guest(t, e, m[1], "", `sed -n '1,/Aborting/p' /var/log/mysql/error.log 2>/dev/null | tail -n 25; dmesg 2>/dev/null | tail -n 5`)
		fmt.Printf("REALLAB %s: the package install failed once; MySQL's log up to its abort:\n%s\n", m[1], r.Stdout)
	}
}

// TestLabctlUp is issue 6 end to end: the unmodified `labctl up` builds the
// lab in real machines, then re-up, verify, a failover drill, snapshot
// restore and down are checked against the live systems.
func TestLabctlUp(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.Work, "bin", "labctl")
	start := time.Now()
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	record("labctl build", time.Since(start))
	l := labctlRunner{bin: bin, lab: writeLab(t, e), state: filepath.Join(e.Work, "state"), env: e}
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		// Always try the product's own teardown first; Env.Close then removes anything left.
		_, _, _ = l.run(t, 5*time.Minute, "down", "--yes")
	})

	out, d, err := l.run(t, 25*time.Minute, "up")
	record("labctl up (fresh lab)", d)
	if err != nil {
		t.Fatalf("labctl up: %v", err)
	}
	reportTimes(t, l, "fresh up", d)
	if !strings.Contains(out, "How to reach WordPress: http://"+nodeIP[lbNode]+"/") {
		t.Errorf("up summary does not say how to reach WordPress")
	}
	checkLab(t, e)

	if phaseOn("core") {
		corePhases(t, e, l)
	}
	if phaseOn("speed") && !phaseOn("core") { // core measures the same
		speedPhase(t, e, l)
	}
	if phaseOn("switchover") {
		switchoverPhase(t, e, l)
	}
	if phaseOn("exercises") {
		exercisePhase(t, l)
	}
	holdLab(t, l)

	_, d, err = l.run(t, 10*time.Minute, "down", "--yes")
	record("labctl down --yes", d)
	if err != nil {
		t.Fatalf("labctl down: %v", err)
	}
	vms := ParseListVMs(vbox(t, e, "list", "vms").Stdout)
	if len(vms) != 1 || vms[0][0] != e.BaseName {
		t.Errorf("after down, VMs left: %v (want only the base %s)", vms, e.BaseName)
	}
	if left := e.Leftovers(false); len(left) > 0 {
		t.Errorf("after down, left on the host: %v", left)
	}
}

// corePhases are issue 6's checks on the built lab: re-up, verify, status,
// drills, snapshot restore and a full outage with a stale former primary.
func corePhases(t *testing.T, e *Env, l labctlRunner) {
	t.Helper()
	out, d, err := l.run(t, 10*time.Minute, "up")
	record("labctl up again (converged lab)", d)
	if err != nil {
		t.Fatalf("second labctl up: %v", err)
	}
	reportTimes(t, l, "re-up", d)
	if !regexp.MustCompile(`: 0 step\(s\) changed something`).MatchString(out) {
		t.Errorf("second up changed something; summary:\n%s", lastLines(out, 5))
	}
	if _, d, err := l.run(t, 5*time.Minute, "verify"); err != nil {
		t.Errorf("labctl verify: %v", err)
	} else {
		record("labctl verify", d)
	}
	labctlReadCommands(t, e, l)
	statusUnderLoad(t, l)
	failoverBeforeAfter(t, e, l)

	drill(t, e)
	_, d, err = l.run(t, 10*time.Minute, "up")
	record("labctl up after the drill (rejoin)", d)
	if err != nil {
		t.Fatalf("labctl up after the drill: %v", err)
	}
	reportTimes(t, l, "up after rejoin", d)
	checkLab(t, e)

	if _, d, err := l.run(t, 10*time.Minute, "snapshot", "take", "reallab-s1"); err != nil {
		t.Fatalf("labctl snapshot take: %v", err)
	} else {
		record("labctl snapshot take (6 VMs, live)", d)
	}
	primary := primaryNode(t, e)
	mustGuest(t, e, primary, `mysql --defaults-extra-file=/root/.my.cnf -e "INSERT INTO drill.t (v) VALUES ('after-snapshot')"`)
	_, d, err = l.run(t, 20*time.Minute, "snapshot", "restore", "reallab-s1")
	record("labctl snapshot restore (full outage + converge)", d)
	if err != nil {
		t.Fatalf("labctl snapshot restore: %v", err)
	}
	_, d, err = l.run(t, 10*time.Minute, "up")
	record("labctl up after restore", d)
	if err != nil {
		t.Fatalf("labctl up after restore: %v", err)
	}
	checkLab(t, e)
	p := primaryNode(t, e)
	if n := strings.TrimSpace(mustGuest(t, e, p, `mysql --defaults-extra-file=/root/.my.cnf -NBe "SELECT COUNT(*) FROM drill.t WHERE v='after-snapshot'"`)); n != "0" {
		t.Errorf("row written after the snapshot survived the restore: count %s", n)
	}

	staleOutage(t, e, l)

}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

const mysqlRoot = "mysql --defaults-extra-file=/root/.my.cnf -NB"

// members returns "host state role" rows of the group as seen by node.
func members(t *testing.T, e *Env, node string) []string {
	t.Helper()
	r := guest(t, e, node, "", mysqlRoot+` -e "SELECT MEMBER_HOST, MEMBER_STATE, MEMBER_ROLE FROM performance_schema.replication_group_members"`)
	if r.Code != 0 {
		return nil
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			rows = append(rows, strings.Join(f, " "))
		}
	}
	sort.Strings(rows)
	return rows
}

// primaryNode is the DB node whose own member row says PRIMARY.
func primaryNode(t *testing.T, e *Env) string {
	t.Helper()
	var prim []string
	for _, n := range dbNodes {
		r := guest(t, e, n, "", mysqlRoot+` -e "SELECT MEMBER_STATE, MEMBER_ROLE FROM performance_schema.replication_group_members WHERE MEMBER_ID=@@server_uuid"`)
		if strings.TrimSpace(r.Stdout) == "ONLINE\tPRIMARY" {
			prim = append(prim, n)
		}
	}
	if len(prim) != 1 {
		t.Fatalf("want exactly one ONLINE PRIMARY, got %v", prim)
	}
	return prim[0]
}

// vipHolders lists the DB nodes that carry the VIP on host0.
func vipHolders(t *testing.T, e *Env) []string {
	t.Helper()
	var holders []string
	for _, n := range dbNodes {
		r := guest(t, e, n, "", "ip -4 -o addr show dev host0")
		if strings.Contains(r.Stdout, " "+vip+"/") {
			holders = append(holders, n)
		}
	}
	return holders
}

// checkLab asserts issue 6 item 3 against the live machines.
func checkLab(t *testing.T, e *Env) {
	t.Helper()
	// Three ONLINE members, one PRIMARY, seen alike from every member.
	for _, n := range dbNodes {
		rows := members(t, e, n)
		online, primaries := 0, 0
		for _, r := range rows {
			if strings.Contains(r, " ONLINE ") {
				online++
			}
			if strings.HasSuffix(r, " PRIMARY") {
				primaries++
			}
		}
		if len(rows) != 3 || online != 3 || primaries != 1 {
			t.Errorf("%s sees the group as %v: want 3 ONLINE, 1 PRIMARY", n, rows)
		}
	}
	primary := primaryNode(t, e)
	if h := vipHolders(t, e); len(h) != 1 || h[0] != primary {
		t.Errorf("VIP %s on %v, want only on the primary %s", vip, h, primary)
	}
	// WordPress through the load balancer, served by both web machines.
	client := &http.Client{Timeout: 15 * time.Second}
	upstreams := map[string]int{}
	for i := 0; i < 12; i++ {
		resp, err := client.Get("http://" + nodeIP[lbNode] + "/")
		if err != nil {
			t.Errorf("GET through the load balancer: %v", err)
			break
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET http://%s/: status %d", nodeIP[lbNode], resp.StatusCode)
			break
		}
		if !bytes.Contains(body, []byte(siteTitle)) {
			t.Errorf("WordPress page has no title %q: %.300s", siteTitle, body)
			break
		}
		upstreams[resp.Header.Get("X-Upstream")]++
	}
	for _, w := range webNodes {
		seen := false
		for u := range upstreams {
			if u != "" && (strings.Contains(u, nodeIP[w]) || strings.Contains(strings.ToLower(u), nodeHost[w])) {
				seen = true
			}
		}
		if !seen {
			t.Errorf("web node %s served no request through the LB (X-Upstream seen: %v)", w, upstreams)
		}
	}
	// Every node resolves and reaches every other by name.
	for _, n := range allNodes() {
		var script strings.Builder
		for _, o := range allNodes() {
			fmt.Fprintf(&script, "[ \"$(getent hosts %s | awk '{print $1}')\" = %s ] || { echo 'bad %s'; exit 1; }\n", nodeHost[o], nodeIP[o], nodeHost[o])
			if o != n {
				fmt.Fprintf(&script, "ping -c1 -W2 %s >/dev/null || { echo 'unreachable %s'; exit 1; }\n", nodeHost[o], nodeHost[o])
			}
		}
		if r := guest(t, e, n, "", script.String()); r.Code != 0 {
			t.Errorf("%s: names: %s%s", n, r.Stdout, r.Stderr)
		}
	}
}

// drill kills the primary's mysqld and measures how long the VIP takes to
// reach the new primary; rows committed before the kill must all be there.
func drill(t *testing.T, e *Env) {
	t.Helper()
	old := primaryNode(t, e)
	mustGuest(t, e, old, mysqlRoot+` -e "CREATE DATABASE IF NOT EXISTS drill; CREATE TABLE IF NOT EXISTS drill.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)); INSERT INTO drill.t (v) SELECT 'before-kill' FROM performance_schema.global_variables LIMIT 50"`)
	want := strings.TrimSpace(mustGuest(t, e, old, mysqlRoot+` -e "SELECT COUNT(*) FROM drill.t WHERE v='before-kill'"`))
	newP, moved, _ := failPrimary(t, e, old, "crash", 90*time.Second)
	record("drill: kill -9 primary mysqld -> VIP on new primary", moved)
	start := time.Now()
	// The VIP holder must be the writable primary, with every committed row.
	var writable time.Duration
	for time.Since(start) < 120*time.Second {
		r := guest(t, e, newP, "", mysqlRoot+` -e "INSERT INTO drill.t (v) VALUES ('after-failover')"`)
		if r.Code == 0 {
			writable = time.Since(start)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if writable == 0 {
		t.Fatalf("drill: new VIP holder %s never accepted a write", newP)
	}
	record("drill: VIP moved -> first write accepted (seen from here)", writable)
	got := strings.TrimSpace(mustGuest(t, e, newP, mysqlRoot+` -e "SELECT COUNT(*) FROM drill.t WHERE v='before-kill'"`))
	if got != want {
		t.Errorf("drill: %s rows written before the kill, %s present on the new primary", want, got)
	}
	if n, _ := strconv.Atoi(want); n == 0 {
		t.Errorf("drill wrote no rows before the kill")
	}
}

// staleOutage is the full outage in which the member that was primary is
// not the most advanced: the primary's mysqld is stopped cleanly (the group
// elects a new primary and the VIP follows: the stop-to-VIP time), a row is
// committed without it, then every DB machine is powered off hard. `up` must
// restart the group from a member holding that row, not from the stale
// former primary (bootstrapping it would make the others unable to join and
// lose the row), and bring the stale member back.
func staleOutage(t *testing.T, e *Env, l labctlRunner) {
	t.Helper()
	old := primaryNode(t, e)
	newP, moved, stopTook := failPrimary(t, e, old, "stop", 90*time.Second)
	record("clean stop of primary mysqld -> VIP on new primary", moved)
	record("clean stop of primary: systemctl stop itself took", stopTook)
	start := time.Now()
	var wrote bool
	for time.Since(start) < 120*time.Second {
		if r := guest(t, e, newP, "", mysqlRoot+` -e "INSERT INTO drill.t (v) VALUES ('without-old-primary')"`); r.Code == 0 {
			wrote = true
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !wrote {
		t.Fatalf("stale outage: new VIP holder %s never accepted a write", newP)
	}
	for _, n := range dbNodes {
		vbox(t, e, "controlvm", n, "poweroff")
	}
	fmt.Printf("\nfull outage: %s (stale former primary) lacks the row committed on %s; all DB machines powered off\n", old, newP)
	out, d, err := l.run(t, 15*time.Minute, "up")
	record("labctl up after outage (stale former primary)", d)
	if err != nil {
		t.Fatalf("labctl up after an outage with a stale former primary: %v", err)
	}
	if strings.Contains(out, ": 0 step(s) changed something") {
		t.Errorf("up after a full outage changed nothing")
	}
	checkLab(t, e)
	p := primaryNode(t, e)
	if n := strings.TrimSpace(mustGuest(t, e, p, mysqlRoot+` -e "SELECT COUNT(*) FROM drill.t WHERE v='without-old-primary'"`)); n != "1" {
		t.Errorf("row committed while %s was stopped: count %s after the outage, want 1", old, n)
	}
	if n := strings.TrimSpace(mustGuest(t, e, old, mysqlRoot+` -e "SELECT COUNT(*) FROM drill.t WHERE v='without-old-primary'"`)); n != "1" {
		t.Errorf("stale former primary %s did not catch up: count %s, want 1", old, n)
	}
}

// statusJSON is the part of `labctl status --json` the suite checks.
type statusJSON struct {
	VIP        string   `json:"vip"`
	VIPHolders []string `json:"vip_holders"`
	Nodes      []struct {
		VM       string            `json:"vm"`
		Role     string            `json:"role"`
		State    string            `json:"state"`
		SSH      string            `json:"ssh"`
		AnswerMS int64             `json:"answer_ms"`
		GRRole   string            `json:"gr_role"`
		GRState  string            `json:"gr_state"`
		HasVIP   bool              `json:"has_vip"`
		Services map[string]string `json:"services"`
		Problem  string            `json:"problem"`
	} `json:"nodes"`
}

// labctlReadCommands checks status, ssh and a clean-stop drill on the
// healthy lab, with the unmodified binary.
func labctlReadCommands(t *testing.T, e *Env, l labctlRunner) {
	t.Helper()
	checkStatusJSON(t, l)
	checkList(t, l)

	out, _, err := l.run(t, time.Minute, "ssh", "sql-two", "--", "hostname")
	if err != nil {
		t.Errorf("labctl ssh sql-two -- hostname: %v", err)
	} else if got := strings.TrimSpace(out); got != nodeHost["SQL-TWO"] {
		t.Errorf("labctl ssh sql-two -- hostname printed %q, want %q", got, nodeHost["SQL-TWO"])
	}
	// labctl joins the words after -- with spaces (as ssh does), so the
	// remote shell sees the quotes kept inside the last word.
	_, _, err = l.run(t, time.Minute, "ssh", lbNode, "--", "sh", "-c", "'exit 7'")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("labctl ssh %s -- sh -c 'exit 7': got %v, want exit status 7", lbNode, err)
	}

	out, d, err := l.run(t, 5*time.Minute, "drill", "--kind", "stop")
	record("labctl drill --kind stop (wall)", d)
	if err != nil {
		t.Fatalf("labctl drill --kind stop: %v\n%s", err, lastLines(out, 15))
	}
	if !strings.Contains(out, "Timeline (seconds after the failure):") || !strings.Contains(out, "new primary elected") {
		t.Errorf("drill output has no timeline:\n%s", lastLines(out, 15))
	}
	for _, f := range []struct{ label, name string }{
		{"New primary after:", "drill --kind stop: new primary after"},
		{"VIP on it after:", "drill --kind stop: VIP on new primary after"},
	} {
		m := regexp.MustCompile(regexp.QuoteMeta(f.label) + `\s+([0-9.]+) s`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("drill output has no %q figure:\n%s", f.label, lastLines(out, 6))
			continue
		}
		s, _ := strconv.ParseFloat(m[1], 64)
		record(f.name, time.Duration(s*float64(time.Second)))
	}
	if m := regexp.MustCompile(`Failed requests:\s+(\d+) of (\d+)`).FindStringSubmatch(out); m == nil {
		t.Errorf("drill output has no failed-requests figure:\n%s", lastLines(out, 6))
	} else {
		fmt.Printf("REALLAB %-44s %8s\n", "drill --kind stop: failed requests", m[1]+"/"+m[2])
		if total, _ := strconv.Atoi(m[2]); total == 0 {
			t.Errorf("drill made no requests through the load balancer")
		}
	}
	checkLab(t, e)
}

// checkList asserts `labctl list --json` finds the built lab on the
// backend: six VMs running, its state folder from the lab's own tag.
func checkList(t *testing.T, l labctlRunner) {
	t.Helper()
	out, d, err := l.run(t, time.Minute, "list", "--json")
	if err != nil {
		t.Errorf("labctl list --json: %v", err)
		return
	}
	record("labctl list --json", d)
	var labs []struct {
		Name     string `json:"name"`
		StateDir string `json:"state_dir"`
		Mode     string `json:"mode"`
		Running  int    `json:"vms_running"`
		Total    int    `json:"vms_total"`
	}
	if err := json.Unmarshal([]byte(out), &labs); err != nil {
		t.Errorf("labctl list --json: %v\n%s", err, out)
		return
	}
	for _, lb := range labs {
		if lb.Name == "reallab" {
			if lb.Running != 6 || lb.Total != 6 || lb.StateDir != filepath.Join(l.state, "reallab") || lb.Mode != "bridged" {
				t.Errorf("labctl list: %+v, want 6/6 running, bridged, state in %s", lb, filepath.Join(l.state, "reallab"))
			}
			return
		}
	}
	t.Errorf("labctl list does not show lab reallab:\n%s", out)
}

// checkStatusJSON asserts `labctl status --json` describes the healthy lab.
func checkStatusJSON(t *testing.T, l labctlRunner) {
	t.Helper()
	checkStatusJSONAs(t, l, "labctl status --json (target < 2 s)")
}

// checkStatusJSONAs is checkStatusJSON recording its time as label. A node
// whose SSH probe answered after 1.5 s is "late" (a loaded machine), which
// is an answer, not a problem.
func checkStatusJSONAs(t *testing.T, l labctlRunner, label string) {
	t.Helper()
	out, d, err := l.run(t, time.Minute, "status", "--json")
	record(label, d)
	if err != nil {
		t.Errorf("labctl status --json: %v", err)
		return
	}
	i := strings.Index(out, "{")
	var st statusJSON
	if i < 0 {
		t.Errorf("labctl status --json printed no JSON:\n%s", out)
		return
	}
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&st); err != nil {
		t.Errorf("labctl status --json: %v\n%s", err, out)
		return
	}
	if st.VIP != vip {
		t.Errorf("status: vip %q, want %s", st.VIP, vip)
	}
	want := map[string]bool{}
	for _, n := range allNodes() {
		want[n] = true
	}
	var primaries, online []string
	for _, n := range st.Nodes {
		if !want[n.VM] {
			t.Errorf("status: unexpected or repeated node %q", n.VM)
			continue
		}
		delete(want, n.VM)
		if n.State != "running" || (n.SSH != "ok" && n.SSH != "late") || n.Problem != "" {
			t.Errorf("status: %s state %q ssh %q problem %q, want running, ok (or late) and none", n.VM, n.State, n.SSH, n.Problem)
		}
		if n.SSH == "late" {
			fmt.Printf("REALLAB status: %s answered late (%d ms)\n", n.VM, n.AnswerMS)
		}
		// The services each role must run, all active.
		var need []string
		switch n.Role {
		case "db":
			need = []string{"mysql", "keepalived"}
			if n.GRRole == "PRIMARY" {
				primaries = append(primaries, n.VM)
			}
			if n.GRState == "ONLINE" {
				online = append(online, n.VM)
			}
		case "web":
			need = []string{"nginx", "*fpm*"}
		case "lb":
			need = []string{"nginx"}
		default:
			t.Errorf("status: %s has role %q", n.VM, n.Role)
		}
		if len(n.Services) != len(need) {
			t.Errorf("status: %s services %v, want %v", n.VM, n.Services, need)
		}
		for _, svc := range need {
			found := false
			for name, state := range n.Services {
				if ok, _ := filepath.Match(svc, name); ok {
					found = true
					if state != "active" {
						t.Errorf("status: %s service %s is %q, want active", n.VM, name, state)
					}
				}
			}
			if !found {
				t.Errorf("status: %s has no service matching %s: %v", n.VM, svc, n.Services)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("status: nodes missing: %v", want)
	}
	if len(primaries) != 1 || len(online) != 3 {
		t.Errorf("status: primaries %v, ONLINE %v: want exactly one PRIMARY and three ONLINE", primaries, online)
	}
	var holders []string
	for _, n := range st.Nodes {
		if n.HasVIP {
			holders = append(holders, n.VM)
		}
	}
	if len(st.VIPHolders) != 1 || len(holders) != 1 || st.VIPHolders[0] != holders[0] {
		t.Errorf("status: vip_holders %v, nodes with has_vip %v: want exactly one, the same", st.VIPHolders, holders)
	} else if len(primaries) == 1 && holders[0] != primaries[0] {
		t.Errorf("status: VIP on %s but the PRIMARY is %s", holders[0], primaries[0])
	}
}

// holdLab keeps the built lab for a developer's experiments when
// REALLAB_HOLD names a file: it writes that file (a shell snippet defining
// `labctl` for this lab) and waits, at most an hour, until it is removed.
func holdLab(t *testing.T, l labctlRunner) {
	path := os.Getenv("REALLAB_HOLD")
	if path == "" {
		return
	}
	var b strings.Builder
	for _, kv := range append(l.env.BackendEnv(), "LABCTL_STATE_DIR="+l.state) {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "NSPAWNVBOX_") || k == "LABCTL_STATE_DIR" {
			fmt.Fprintf(&b, "export %q\n", kv)
		}
	}
	fmt.Fprintf(&b, "labctl() { %q --lab %q --vboxmanage %q \"$@\"; }\n", l.bin, l.lab, l.env.Backend)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Errorf("REALLAB_HOLD: %v", err)
		return
	}
	fmt.Printf("REALLAB holding the lab: . %s to use it; rm it to go on\n", path)
	for end := time.Now().Add(time.Hour); time.Now().Before(end); time.Sleep(2 * time.Second) {
		if _, err := os.Stat(path); err != nil {
			return
		}
	}
}
