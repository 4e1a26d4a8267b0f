package steps

import (
	"context"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlver"
)

// The servers the DB steps are run against: what AlmaLinux 8.4 shipped on
// its media (8.0.21) and in its repository after RHSA-2021:3590 (8.0.26),
// EL8's current stream (8.0.4x), the 8.4 LTS and the 9.x innovation series.
var dbMatrix = []mysqlver.Version{
	mysqlver.V(8, 0, 21), mysqlver.V(8, 0, 26), mysqlver.V(8, 0, 41), mysqlver.V(8, 4, 3), mysqlver.V(9, 7, 0),
}

// TestDBStepsAcrossMySQLVersions forms the group on fake servers of each
// version. The fake refuses to start on an option its version lacks, drops
// an unknown loose- option (recorded), and fails a GRANT of a privilege its
// version lacks; on top, every option and privilege sent must be in range.
func TestDBStepsAcrossMySQLVersions(t *testing.T) {
	for _, v := range dbMatrix {
		for _, profile := range []string{"el8", "debian"} {
			t.Run(v.String()+"/"+profile, func(t *testing.T) {
				p := dbTestPlan()
				fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile(profile))
				fl.version = v
				env := fl.env(p)
				for _, s := range dbSteps() {
					dbConverge(t, env, s)
				}
				for _, s := range dbSteps() {
					if n := dbConverge(t, env, s); n != 0 {
						t.Errorf("%s: second run changed %d node(s)", s.Name(), n)
					}
				}
				if len(fl.ignored) > 0 {
					t.Errorf("MySQL %s silently ignored options: %v", v, fl.ignored)
				}
				primaries := 0
				for _, n := range p.DB() {
					f := fl.nodes[n.VM]
					if f.state != "ONLINE" {
						t.Errorf("%s is %s on MySQL %s, want ONLINE", n.VM, f.state, v)
					}
					if f.role == "PRIMARY" {
						primaries++
					}
					conf := string(f.files[env.Profile.MySQLConfDir+"/"+dbConfName].Content)
					failover := string(f.files[env.Profile.MySQLConfDir+"/"+dbFailoverConfName].Content)
					for _, m := range dbOptionLineRe.FindAllStringSubmatch(conf+failover, -1) {
						if !v.Has(m[1]) {
							r, _ := mysqlver.Lookup(m[1])
							t.Errorf("%s: option %s sent to MySQL %s (%s)", n.VM, m[1], v, r.Range())
						}
					}
					dbCheckNames(t, n.VM, v, conf)
					for acct, grants := range f.grants {
						for _, g := range grants {
							privs, _, _ := strings.Cut(g, " ON ")
							for _, pr := range strings.Split(privs, ", ") {
								if !v.Has(pr) {
									t.Errorf("%s: %s granted %s on MySQL %s", n.VM, acct, pr, v)
								}
							}
						}
					}
					repl := strings.Join(f.grants[MySQLReplicationUser+"@"+n.IP.String()], "; ")
					if want := !v.Less(mysqlver.V(8, 0, 27)); strings.Contains(repl, "GROUP_REPLICATION_STREAM") != want {
						t.Errorf("%s: MySQL %s recovery grants %q: GROUP_REPLICATION_STREAM wanted %v", n.VM, v, repl, want)
					}
					if !strings.Contains(repl, "CONNECTION_ADMIN, BACKUP_ADMIN") {
						t.Errorf("%s: recovery grants %q lack CONNECTION_ADMIN, BACKUP_ADMIN", n.VM, repl)
					}
				}
				if primaries != 1 {
					t.Errorf("%d primaries on MySQL %s, want 1", primaries, v)
				}
			})
		}
	}
}

// dbCheckNames asserts the renamed options are spelled as v spells them.
func dbCheckNames(t *testing.T, vm string, v mysqlver.Version, conf string) {
	t.Helper()
	type pair struct{ newName, oldName string }
	for _, pr := range []pair{
		{"log_replica_updates = ON", "log_slave_updates = ON"},
		{"skip_replica_start = ON", "skip_slave_start = ON"},
		{"loose-group_replication_ip_allowlist = 192.168.1.0/24", "loose-group_replication_ip_whitelist = 192.168.1.0/24"},
	} {
		since := mysqlver.V(8, 0, 26)
		if strings.Contains(pr.newName, "allowlist") {
			since = mysqlver.V(8, 0, 22)
		}
		want, not := pr.newName, pr.oldName
		if v.Less(since) {
			want, not = not, want
		}
		if !strings.Contains(conf, "\n"+want+"\n") || strings.Contains(conf, not) {
			t.Errorf("%s: MySQL %s option file should have %q and not %q:\n%s", vm, v, want, not, conf)
		}
	}
}

// TestDBFakeCatchesTheOldDefects: the fake (with the table) refuses what
// labctl used to send to 8.0.21: the new option names and the 8.0.27 privilege.
func TestDBFakeCatchesTheOldDefects(t *testing.T) {
	old := mysqlver.V(8, 0, 21)
	if err := dbCheckOptions(old, dbConfName, []byte("log_replica_updates = ON\n")); err == nil || !strings.Contains(err.Error(), "8.0.26") {
		t.Errorf("log_replica_updates on 8.0.21: %v", err)
	}
	if err := dbCheckOptions(old, dbConfName, []byte("loose-group_replication_ip_allowlist = 10.0.0.0/8\n")); err == nil {
		t.Error("an 8.0.22 option behind loose- passed for 8.0.21")
	}
	if err := dbCheckOptions(old, dbConfName, []byte("no_such_option = 1\n")); err == nil || !strings.Contains(err.Error(), "no row") {
		t.Errorf("an option without a row: %v", err)
	}
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	fl.version = old
	f := fl.nodes["SQL-ONE"]
	f.active[fl.prof.MySQLService] = true
	if _, err := f.sql("mysql", "GRANT CONNECTION_ADMIN, BACKUP_ADMIN, GROUP_REPLICATION_STREAM ON *.* TO 'x'@'h';\n"); err == nil {
		t.Error("fake 8.0.21 accepted GROUP_REPLICATION_STREAM")
	}
	f.files[fl.prof.MySQLConfDir+"/"+dbConfName] = guest.File{Path: fl.prof.MySQLConfDir + "/" + dbConfName, Content: []byte("[mysqld]\nskip_replica_start = ON\n")}
	if msg := f.readOptionFiles(); !strings.Contains(msg, "unknown variable 'skip_replica_start=ON'") {
		t.Errorf("fake 8.0.21 started with skip_replica_start: %q", msg)
	}
}

// TestDBRefusesUnsupportedServers: older than 8.0.21, or MariaDB, is said
// plainly before anything is written.
func TestDBRefusesUnsupportedServers(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	fl.version = mysqlver.V(8, 0, 20)
	fl.nodes["SQL-ONE"].pkgs["mysql-server"] = true
	_, err := MySQLConfig().Check(context.Background(), fl.env(p), p.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "older than 8.0.21") {
		t.Errorf("8.0.20: %v", err)
	}
	if len(fl.nodes["SQL-ONE"].files) != 0 {
		t.Error("files written for an unsupported server")
	}
	if _, err := mysqlver.ParseMysqld("/usr/sbin/mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)"); err == nil ||
		!strings.Contains(err.Error(), "MariaDB") {
		t.Errorf("MariaDB: %v", err)
	}
}

// TestMySQLTemplatesAndTableInStep: every option line of the DB option-file
// templates names an option with a row in mysqlver.Table (the failover
// template's names come from dbFailoverSettings), and every line of those
// templates is a comment, a section, a blank or such an option line, so a
// new option cannot slip past.
func TestMySQLTemplatesAndTableInStep(t *testing.T) {
	names, err := fs.Glob(dbTemplates, "templates/db/mysqld-*.tmpl")
	if err != nil || len(names) < 2 {
		t.Fatalf("option-file templates: %v %v", names, err)
	}
	optRe := regexp.MustCompile(`^(?:loose-)?(?:\{\{\.MySQL\.Opt "(\w+)"\}\}|([a-z_]+)|(\{\{\.Name\}\})) = \S`)
	count := 0
	for _, name := range names {
		b, _ := dbTemplates.ReadFile(name)
		for i, line := range strings.Split(string(b), "\n") {
			trim := strings.TrimSpace(line)
			if trim == "" || strings.HasPrefix(trim, "#") || trim == "[mysqld]" || strings.HasPrefix(trim, "{{- range") || trim == "{{- end}}" {
				continue
			}
			m := optRe.FindStringSubmatch(trim)
			if m == nil {
				t.Errorf("%s:%d: %q is not an option line the table test understands", name, i+1, line)
				continue
			}
			count++
			opt := m[1] + m[2]
			if m[3] != "" {
				for _, s := range dbFailoverSettings(dbTestPlan()) {
					if r, ok := mysqlver.Lookup(s.Name); !ok || r.Kind != mysqlver.Option {
						t.Errorf("%s: failover setting %s has no option row in mysqlver.Table", name, s.Name)
					}
				}
				continue
			}
			if r, ok := mysqlver.Lookup(opt); !ok || r.Kind != mysqlver.Option {
				t.Errorf("%s:%d: option %s has no row in mysqlver.Table", name, i+1, opt)
			} else if r.Old != "" {
				if _, ok := mysqlver.Lookup(r.Old); !ok {
					t.Errorf("%s: old name %s has no row", opt, r.Old)
				}
			}
		}
	}
	if count < 20 {
		t.Errorf("only %d option lines found in %v", count, names)
	}
}

// TestDBPlanAssumesAVersionOnce: a plan has no server to ask; it renders for
// mysqlver.Assumed and says so once, not once per node.
func TestDBPlanAssumesAVersionOnce(t *testing.T) {
	p := dbTestPlan()
	s := dbTestSecrets()
	recs := map[string]*guest.Recorder{}
	for _, n := range p.Nodes {
		recs[n.VM] = guest.NewRecorder(n.VM, s.Values()...)
	}
	env := planTestEnv(p, dbTestProfile("el8"), s, func(n *lab.Node) guest.Executor { return recs[n.VM] })
	tr := env.Transcript
	st := MySQLConfig()
	for _, n := range st.Targets(p) {
		if err := st.Apply(context.Background(), env, n); err != nil {
			t.Fatal(err)
		}
	}
	notes := strings.Join(tr.take(), "\n")
	if c := strings.Count(notes, "rendered for MySQL "+mysqlver.Assumed.String()); c != 1 {
		t.Errorf("plan says the assumed version %d times, want once:\n%s", c, notes)
	}
	for _, f := range recs["SQL-TWO"].Files() {
		if strings.HasSuffix(f.Path, dbConfName) {
			dbCheckNames(t, "SQL-TWO", mysqlver.Assumed, string(f.Content))
			return
		}
	}
	t.Error("plan wrote no option file")
}
