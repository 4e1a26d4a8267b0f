package steps

// Real-MySQL test of the DB-side steps: three MySQL servers (and their
// keepalived) in three network namespaces the test creates, each in its own
// overlay of a Debian root filesystem that has mysql-server and keepalived
// installed. The steps run unchanged through an Executor that enters the
// namespace and chroot; only systemctl is a stand-in script in the rootfs
// (no systemd in a chroot).
//
// Enabled by LABCTL_DB_REALROOT=<rootfs> (as root): any Debian root
// filesystem with mysql-server (MySQL 8.0.23+; sid has 9.7) and keepalived
// installed, e.g. a copy of the real-lab base plus
//   chroot ROOT apt-get install -y mysql-server keepalived
// The rootfs is never written: each node is an overlay, in which the test
// removes auto.cnf (a fresh server_uuid per clone) and places dbRealSystemctl.
// Besides the steps, it reads and changes the group through mysqlgr (view,
// status, rejoin, switchover) against the real servers.
// Traffic stays on 10.232.0.0/24 inside the test's own namespaces.

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/redact"
)

// dbChrootExec runs scripts as root in one test node (netns + chroot).
type dbChrootExec struct {
	netns, root string
	secrets     []string
}

func (e *dbChrootExec) String() string { return "chroot " + e.root + " in " + e.netns }

func (e *dbChrootExec) Run(ctx context.Context, c guest.Cmd) (guest.Result, error) {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", e.netns, "chroot", e.root, "/bin/sh", "-c", c.Script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C"}
	cmd.Stdin = bytes.NewReader(c.Stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := guest.Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.ExitCode = ee.ExitCode()
		red := append(append([]string{}, e.secrets...), c.Redact...)
		return r, &guest.ExitError{Node: e.netns, Script: redact.String(strings.SplitN(c.Script, "\n", 2)[0], red...),
			ExitCode: r.ExitCode, Stderr: redact.String(r.Stderr, red...)}
	}
	return r, err
}

func (e *dbChrootExec) Upload(ctx context.Context, f guest.File) (bool, error) {
	script, err := guest.UploadScript(f)
	if err != nil {
		return false, err
	}
	r, err := e.Run(ctx, guest.Cmd{Script: script, Stdin: f.Content, Redact: e.secrets})
	if err != nil {
		return false, fmt.Errorf("upload %s: %w", f.Path, err)
	}
	return strings.HasSuffix(strings.TrimSpace(r.Stdout), "changed") && !strings.HasSuffix(strings.TrimSpace(r.Stdout), "unchanged"), nil
}

func dbRealRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestDBStepsRealMySQL(t *testing.T) {
	base := os.Getenv("LABCTL_DB_REALROOT")
	if base == "" {
		t.Skip("set LABCTL_DB_REALROOT to a rootfs with mysql-server and keepalived (see the file comment)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (overlay mounts, network namespaces)")
	}
	p := dbTestPlan()
	p.Name = "dbreal"
	p.Network = netip.MustParsePrefix("10.232.0.0/24")
	p.VIP = netip.MustParseAddr("10.232.0.100")
	ips := map[string]string{"SQL-ONE": "10.232.0.11", "SQL-TWO": "10.232.0.12", "SQL-THREE": "10.232.0.13",
		"SERVER-ONE": "10.232.0.21", "SERVER-TWO": "10.232.0.22", "LOAD-BALANCER": "10.232.0.30"}
	for _, n := range p.Nodes {
		n.IP = netip.MustParseAddr(ips[n.VM])
	}
	secrets := dbTestSecrets()
	work := t.TempDir()
	hub := "labdbhub"
	dbRealRun(t, "ip", "netns", "add", hub)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", hub).Run() })
	dbRealRun(t, "ip", "-n", hub, "link", "add", "br0", "type", "bridge")
	dbRealRun(t, "ip", "-n", hub, "link", "set", "br0", "up")

	execs := map[string]*dbChrootExec{}
	for i, n := range p.DB() {
		ns := fmt.Sprintf("labdb%d", i+1)
		root := filepath.Join(work, "n"+fmt.Sprint(i+1))
		up, wk := filepath.Join(work, "u"+fmt.Sprint(i+1)), filepath.Join(work, "w"+fmt.Sprint(i+1))
		for _, d := range []string{root, up, wk} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		dbRealRun(t, "mount", "-t", "overlay", "overlay", "-o", "lowerdir="+base+",upperdir="+up+",workdir="+wk, root)
		dbRealRun(t, "mount", "-t", "proc", "proc", filepath.Join(root, "proc"))
		dbRealRun(t, "ip", "netns", "add", ns)
		dbRealRun(t, "ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "p"+fmt.Sprint(i+1), "netns", hub)
		dbRealRun(t, "ip", "-n", hub, "link", "set", "p"+fmt.Sprint(i+1), "master", "br0", "up")
		dbRealRun(t, "ip", "-n", ns, "addr", "add", n.IP.String()+"/24", "dev", "eth0")
		dbRealRun(t, "ip", "-n", ns, "link", "set", "eth0", "up")
		dbRealRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
		if err := os.WriteFile(filepath.Join(root, "usr/local/sbin/systemctl"), []byte(dbRealSystemctl), 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(filepath.Join(root, "var/lib/mysql/auto.cnf"))
		if n.VM == "SQL-THREE" {
			// SQL-THREE starts with an empty datadir, initialised on first start
			// with our option file in place and root without a password (the EL
			// path); the others keep Debian's datadir with socket-auth root.
			dbRealRun(t, "sh", "-c", "rm -rf "+filepath.Join(root, "var/lib/mysql")+"/*")
		}
		ex := &dbChrootExec{netns: ns, root: root, secrets: secrets.Values()}
		execs[n.VM] = ex
		t.Cleanup(func() {
			// Stop what this test started, by the pids it recorded.
			for _, pf := range []string{"run/keepalived.pid", "run/mysqld/mysqld.pid"} {
				if b, err := os.ReadFile(filepath.Join(root, pf)); err == nil {
					var pid int
					if _, err := fmt.Sscanf(string(b), "%d", &pid); err == nil && pid > 1 {
						_ = exec.Command("kill", fmt.Sprint(pid)).Run()
						for i := 0; i < 100 && exec.Command("kill", "-0", fmt.Sprint(pid)).Run() == nil; i++ {
							time.Sleep(100 * time.Millisecond)
						}
					}
				}
			}
			_ = exec.Command("umount", filepath.Join(root, "proc")).Run()
			_ = exec.Command("umount", root).Run()
			_ = exec.Command("ip", "netns", "del", ns).Run()
		})
	}
	env := &Env{Plan: p, Secrets: secrets, Profile: guest.Debian,
		SSH: func(n *lab.Node) guest.Executor { return execs[n.VM] }}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	steps := []Step{MySQLConfig(), &grStep{joinWait: 3 * time.Minute, poll: time.Second}, WordPressDB(), Keepalived()}
	for _, s := range steps {
		start := time.Now()
		applied := 0
		for _, n := range s.Targets(p) {
			st, err := s.Check(ctx, env, n)
			if err != nil {
				t.Fatalf("%s %s: check: %v", s.Name(), n.VM, err)
			}
			if st.Done {
				continue // wordpress-db: replicated from the first node's apply
			}
			applied++
			if err := s.Apply(ctx, env, n); err != nil {
				t.Fatalf("%s %s: apply (%s): %v", s.Name(), n.VM, st.Why, err)
			}
			if st, err = s.Check(ctx, env, n); err != nil || !st.Done {
				t.Fatalf("%s %s: re-check: %+v %v", s.Name(), n.VM, st, err)
			}
		}
		if applied == 0 {
			t.Errorf("%s: a fresh lab needed no change", s.Name())
		}
		t.Logf("%s: %d nodes applied, %s", s.Name(), applied, time.Since(start).Round(time.Millisecond))
	}

	// The group: three ONLINE members, one PRIMARY, as mysqlgr reads it
	// from every member (the real server's answers through its parsers).
	srv := func(vm string) mysqlgr.Server { return mysqlgr.Root(vm, execs[vm], secrets.Values()) }
	var views []mysqlgr.NodeView
	for _, n := range p.DB() {
		v, err := srv(n.VM).ReadView(ctx)
		if err != nil {
			t.Fatalf("%s: read the group view: %v", n.VM, err)
		}
		if self, ok := v.Self(); !ok || mysqlgr.MemberNode(p, self.Host) != n || self.Port != 3306 || self.ID == "" {
			t.Errorf("%s: own row %+v", n.VM, self)
		}
		views = append(views, mysqlgr.NodeView{Node: n, View: v})
	}
	if primary, err := mysqlgr.HealthyPrimary(p, views); err != nil || primary.VM != "SQL-ONE" {
		t.Errorf("healthy group with primary SQL-ONE: got %v, %v", primary, err)
	}
	for _, n := range p.DB() {
		st, err := srv(n.VM).ReadStatus(ctx)
		if err != nil || st.State != mysqlgr.Online || !strings.EqualFold(st.GroupName, secrets.GroupName) || st.RecoveryUser != MySQLReplicationUser ||
			st.SuperReadOnly != (n.VM != "SQL-ONE") || mysqlgr.VersionBefore(st.Version, 8, 0, 23) {
			t.Errorf("%s: status %+v, %v", n.VM, st, err)
		}
	}
	// The check script passes on the primary only.
	for _, n := range p.DB() {
		_, err := execs[n.VM].Run(ctx, guest.Cmd{Script: kaCheckScript})
		if (err == nil) != (n.VM == "SQL-ONE") {
			t.Errorf("%s: check script result %v (primary is SQL-ONE)", n.VM, err)
		}
	}
	// The VIP lands on the primary (check rise + master-down timer).
	deadline := time.Now().Add(20 * time.Second)
	holders := ""
	for time.Now().Before(deadline) {
		holders = ""
		for _, n := range p.DB() {
			r, _ := execs[n.VM].Run(ctx, guest.Cmd{Script: "ip -o -4 addr show dev eth0"})
			if strings.Contains(r.Stdout, " "+p.VIP.String()+"/") {
				holders += n.VM + " "
			}
		}
		if holders == "SQL-ONE " {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if holders != "SQL-ONE " {
		t.Errorf("VIP holders %q, want only SQL-ONE", holders)
	}

	// Rejoin: a member that left (STOP) and one in ERROR's place come back
	// without a bootstrap; the primary stays.
	if err := srv("SQL-THREE").Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if self, err := srv("SQL-THREE").ReadSelf(ctx); err != nil || self.State != mysqlgr.Offline {
		t.Fatalf("SQL-THREE after STOP: %+v %v", self, err)
	}
	started := false
	if err := srv("SQL-THREE").Rejoin(ctx, mysqlgr.RejoinOptions{Within: 3 * time.Minute, Poll: time.Second, Started: func() { started = true }}); err != nil || !started {
		t.Fatalf("rejoin SQL-THREE: %v (started %v)", err, started)
	}
	if host, err := srv("SQL-THREE").PrimaryHost(ctx); err != nil || host != "10.232.0.11" {
		t.Errorf("primary after the rejoin: %q %v", host, err)
	}

	// A second run changes nothing.
	for _, s := range steps {
		for _, n := range s.Targets(p) {
			if st, err := s.Check(ctx, env, n); err != nil || !st.Done {
				t.Errorf("second run: %s %s: %+v %v", s.Name(), n.VM, st, err)
			}
		}
	}

	// Full outage where the last primary is NOT the most advanced member:
	// SQL-ONE leaves, the group elects a new primary that takes a write, then
	// the others stop too. The group must restart from a member holding that
	// write, and SQL-ONE must get it back.
	if _, err := dbSQL(ctx, env, execs["SQL-ONE"], "CREATE TABLE wordpress.probe (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := srv("SQL-ONE").Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var newPrimary string
	for i := 0; i < 60 && newPrimary == ""; i++ {
		host, _ := srv("SQL-TWO").PrimaryHost(ctx)
		if n := mysqlgr.MemberNode(p, host); n != nil {
			newPrimary = n.VM
		}
		time.Sleep(500 * time.Millisecond)
	}
	if newPrimary == "" || newPrimary == "SQL-ONE" {
		t.Fatalf("no new primary after SQL-ONE left (%q)", newPrimary)
	}
	if _, err := dbSQL(ctx, env, execs[newPrimary], "INSERT INTO wordpress.probe VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for _, vm := range []string{"SQL-TWO", "SQL-THREE"} {
		if err := srv(vm).Stop(ctx); err != nil {
			t.Fatalf("%s: %v", vm, err)
		}
	}
	g := &grStep{joinWait: 3 * time.Minute, poll: time.Second}
	for i, n := range p.DB() {
		// Applying on SQL-ONE restarts the group elsewhere and joins SQL-ONE;
		// later nodes may then already be done or just need to join.
		st, err := g.Check(ctx, env, n)
		if err != nil || (i == 0 && st.Done) {
			t.Fatalf("%s after the outage: %+v %v", n.VM, st, err)
		}
		if st.Done {
			continue
		}
		if err := g.Apply(ctx, env, n); err != nil {
			t.Fatalf("re-bootstrap after outage, %s: %v", n.VM, err)
		}
	}
	for _, n := range p.DB() {
		if out, err := dbSQL(ctx, env, execs[n.VM], "SELECT COUNT(*) FROM wordpress.probe"); err != nil || strings.TrimSpace(out) != "1" {
			t.Errorf("%s after the outage: probe rows %q, %v", n.VM, out, err)
		}
	}
	host, err := srv("SQL-ONE").PrimaryHost(ctx)
	if err != nil || host == "10.232.0.11" {
		t.Errorf("the group restarted from SQL-ONE, which lacked the new primary's write (primary %q, %v)", host, err)
	}

	// Switchover: SQL-ONE becomes the primary again, by its server_uuid.
	one, err := srv("SQL-ONE").ReadStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv("SQL-TWO").SetAsPrimary(ctx, one.UUID); err != nil {
		t.Fatal(err)
	}
	if host, err := srv("SQL-THREE").PrimaryHost(ctx); err != nil || host != "10.232.0.11" {
		t.Errorf("after the switchover the primary is %q (%v), want SQL-ONE", host, err)
	}
}

// dbRealSystemctl stands in for systemctl in the test chroots (no systemd
// there), for the services the DB-side steps manage.
const dbRealSystemctl = `#!/bin/sh
# Test stand-in for systemctl in a chroot without systemd: mysql and keepalived only.
set -u
quiet=0
cmd=$1; shift
[ "${1:-}" = --quiet ] && { quiet=1; shift; }
svc=${1:-}
pidfile() { case $1 in mysql) echo /run/mysqld/mysqld.pid ;; keepalived) echo /run/keepalived.pid ;; *) echo /nonexistent ;; esac; }
alive() { p=$(cat "$(pidfile "$1")" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
start() {
	case $1 in
	mysql)
		mkdir -p /run/mysqld /var/log/mysql && chown mysql:mysql /run/mysqld /var/log/mysql
		# Like EL's mysql-prepare-db-dir: an empty datadir is initialised on first start (root without password).
		if [ ! -d /var/lib/mysql/mysql ]; then
			mysqld --initialize-insecure --user=mysql >/var/log/mysql/initialize.log 2>&1 || exit 1
		fi
		mysqld --daemonize --pid-file=/run/mysqld/mysqld.pid >/dev/null 2>&1 </dev/null ;;
	keepalived)
		keepalived -p /run/keepalived.pid -r /run/keepalived-vrrp.pid --vrrp -l -D </dev/null >/var/log/keepalived.log 2>&1 ;;
	*) echo "unknown service $1" >&2; exit 5 ;;
	esac
}
stop() {
	alive "$1" || return 0
	p=$(cat "$(pidfile "$1")")
	kill "$p"
	i=0; while kill -0 "$p" 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && return 1; sleep 0.2; done
}
case $cmd in
enable|disable|daemon-reload) exit 0 ;;
is-active) if alive "$svc"; then [ $quiet = 1 ] || echo active; exit 0; else [ $quiet = 1 ] || echo inactive; exit 3; fi ;;
start) alive "$svc" || start "$svc" ;;
stop) stop "$svc" ;;
restart) stop "$svc"; start "$svc" ;;
reload) alive "$svc" && kill -HUP "$(cat "$(pidfile "$svc")")" ;;
*) echo "systemctl stand-in: $cmd unsupported" >&2; exit 1 ;;
esac
`
