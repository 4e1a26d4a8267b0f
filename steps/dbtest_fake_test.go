package steps

// A stateful fake of three MySQL/keepalived guests for the DB-side step
// tests: it interprets the scripts and SQL those steps send (and nothing
// else), records every call, and fails the test if a secret ever appears
// in a script, or in a file that is not 0600.

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/mysqlver"
	"labctl/redact"
)

func dbTestPlan() *lab.Plan {
	p := &lab.Plan{
		Name:                 "lab",
		Network:              netip.MustParsePrefix("192.168.1.0/24"),
		Gateway:              netip.MustParseAddr("192.168.1.1"),
		VIP:                  netip.MustParseAddr("192.168.1.150"),
		VIPHostname:          "sql-vip",
		Profile:              "el8",
		GRMemberExpelTimeout: 0,
		VRRPRouterID:         173,
	}
	add := func(vm, host, ip string, role lab.Role, idx int) {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: host, IP: netip.MustParseAddr(ip), Role: role, Index: idx})
	}
	add("SQL-ONE", "sql-one", "192.168.1.100", lab.RoleDB, 1)
	add("SQL-TWO", "sql-two", "192.168.1.101", lab.RoleDB, 2)
	add("SQL-THREE", "sql-three", "192.168.1.102", lab.RoleDB, 3)
	add("SERVER-ONE", "server-one", "192.168.1.110", lab.RoleWeb, 1)
	add("SERVER-TWO", "server-two", "192.168.1.111", lab.RoleWeb, 2)
	add("LOAD-BALANCER", "load-balancer", "192.168.1.120", lab.RoleLB, 1)
	return p
}

func dbTestSecrets() *lab.Secrets {
	return &lab.Secrets{
		MySQLRoot:      "RootPw-7hQz2kLm9xV4",
		Replication:    "ReplPw-c8Jd3nWq5tY1",
		Verifier:       "VerifPw-p2Rk6sHa8uE0",
		WordPressDB:    "WpDbPw-f4Gt7yBn1mZ3",
		WordPressAdmin: "WpAdmPw-x9Lc5vQe2wR8",
		GroupName:      "6b0c8f3e-1d2a-4c5b-9e7f-0a1b2c3d4e5f",
	}
}

// dbTestProfile is the real guest profile.
func dbTestProfile(name string) *guest.Profile {
	p, err := guest.ProfileByName(name)
	if err != nil {
		panic(err)
	}
	return p
}

// dbFakeNode is one guest's state.
type dbFakeNode struct {
	stamps   map[string]string // loaded-configuration stamps an apply wrote (stampDir)
	lab      *dbFakeLab
	node     *lab.Node
	files    map[string]guest.File
	active   map[string]bool
	pkgs     map[string]bool
	restarts int
	// globals are the running server's dynamic options (failover settings),
	// read from the option files at each start, changed by SET GLOBAL.
	globals  map[string]string
	liveSets int
	// mirrorOnly: the online package sources were switched off
	mirrorOnly bool
	// moduleSet: the PHP module stream was chosen by the refresh script.
	moduleSet bool
	// halfInstalled: a failed install left the transaction for RepairCmd.
	halfInstalled bool
	// pkgBusy: a package manager left working by an earlier run (until waited for).
	pkgBusy bool
	// unfinishedData: MySQL's first set-up was cut off half way; its data
	// folder makes every configure fail until it is set aside.
	unfinishedData bool
	asides         int
	reloads        int
	scripts        []string
	log            []string // every script and stdin, secrets redacted, for golden transcripts

	// MySQL
	uuid       string
	rootPw     string // "" = fresh EL install (empty password)
	socketAuth bool   // Debian: root@localhost via auth_socket
	users      map[string]string
	grants     map[string][]string
	recovery   string
	state      string // OFFLINE, ONLINE, ERROR
	role       string
	bootFlag   bool
	executed   mysqlgr.GTIDSet
	dbs        map[string]bool
	superRO    bool
}

// dbFakeLab is the three DB guests plus the others, sharing one group.
type dbFakeLab struct {
	t       *testing.T
	mu      sync.Mutex
	secrets *lab.Secrets
	prof    *guest.Profile
	nodes   map[string]*dbFakeNode
	// failStart makes START GROUP_REPLICATION fail on the named node.
	failStart string
	// noPlugin: the MySQL package comes without group_replication.so.
	noPlugin bool
	// installFails makes the next N package installs fail in dpkg, leaving
	// the transaction half done (a package script that failed).
	installFails int
	// version is the installed server's: mysqld refuses an option file
	// naming an option it lacks, silently drops a loose- one (recorded in
	// ignored), and a GRANT of a privilege it lacks fails.
	version mysqlver.Version
	ignored []string
	// mirrorCheck is what the package mirror check prints ("" = all found).
	mirrorCheck string
}

func newDBFakeLab(t *testing.T, p *lab.Plan, s *lab.Secrets, prof *guest.Profile) *dbFakeLab {
	l := &dbFakeLab{t: t, secrets: s, prof: prof, nodes: map[string]*dbFakeNode{}, version: mysqlver.V(8, 0, 41)}
	for i, n := range p.Nodes {
		l.nodes[n.VM] = &dbFakeNode{
			lab: l, node: n, files: map[string]guest.File{}, active: map[string]bool{}, pkgs: map[string]bool{},
			uuid:  fmt.Sprintf("0000000%d-aaaa-bbbb-cccc-000000000000", i+1),
			users: map[string]string{}, grants: map[string][]string{}, state: "OFFLINE",
			executed: mysqlgr.GTIDSet{}, dbs: map[string]bool{}, socketAuth: prof.Name == "debian",
		}
	}
	return l
}

func (l *dbFakeLab) env(p *lab.Plan) *Env {
	return &Env{Plan: p, Secrets: l.secrets, Profile: l.prof,
		SSH: func(n *lab.Node) guest.Executor { return l.nodes[n.VM] }}
}

func (f *dbFakeNode) String() string { return "fake " + f.node.VM }

func (f *dbFakeNode) Upload(_ context.Context, file guest.File) (bool, error) {
	f.lab.mu.Lock()
	defer f.lab.mu.Unlock()
	for _, s := range f.lab.secrets.Values() {
		if strings.Contains(string(file.Content), s) && file.Mode.Perm() != 0o600 {
			f.lab.t.Errorf("%s: file %s holds a secret with mode %o, want 0600", f.node.VM, file.Path, file.Mode.Perm())
		}
	}
	f.log = append(f.log, fmt.Sprintf("upload %s mode %o", file.Path, file.Mode.Perm()))
	old, ok := f.files[file.Path]
	if ok && string(old.Content) == string(file.Content) && old.Mode == file.Mode {
		return false, nil
	}
	f.files[file.Path] = file
	return true, nil
}

func (f *dbFakeNode) fail(script, msg string, code int) (guest.Result, error) {
	return guest.Result{Stderr: msg, ExitCode: code}, &guest.ExitError{Node: f.node.VM, Script: script, ExitCode: code, Stderr: msg}
}

func (f *dbFakeNode) Run(_ context.Context, cmd guest.Cmd) (guest.Result, error) {
	l := f.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.secrets.Values() {
		if strings.Contains(cmd.Script, s) {
			l.t.Errorf("%s: secret in script text: %q", f.node.VM, cmd.Script)
		}
		if strings.Contains(string(cmd.Stdin), s) && !dbContainsStr(cmd.Redact, s) {
			l.t.Errorf("%s: stdin holds a secret that Redact does not list", f.node.VM)
		}
	}
	f.scripts = append(f.scripts, cmd.Script)
	entry := "$ " + cmd.Script
	if len(cmd.Stdin) > 0 {
		entry += "\n<<stdin\n" + redact.String(string(cmd.Stdin), l.secrets.Values()...) + "stdin"
	}
	f.log = append(f.log, entry)
	sc := cmd.Script
	switch {
	case strings.Contains(sc, `sha256sum <"$f"`): // dbFilesCurrent
		var out strings.Builder
		for _, m := range regexp.MustCompile(`f='([^']*)'`).FindAllStringSubmatch(sc, -1) {
			file, ok := f.files[m[1]]
			if !ok {
				out.WriteString("missing\n")
				continue
			}
			owner := file.Owner
			if owner == "" {
				owner = "root:root"
			}
			fmt.Fprintf(&out, "%s %o %s\n", dbSHA256(file.Content), file.Mode.Perm(), owner)
		}
		return guest.Result{Stdout: out.String()}, nil
	case strings.HasPrefix(sc, "systemctl is-active --quiet ") && strings.Contains(sc, "/var/lib/labctl/"):
		svc := strings.Trim(strings.Fields(sc)[3], "'")
		if !f.active[svc] {
			return f.fail(sc, "", 3)
		}
		name := regexp.MustCompile(`/var/lib/labctl/([^'\s]+)`).FindStringSubmatch(sc)[1]
		return guest.Result{Stdout: f.stamps[name] + "\n"}, nil
	case strings.HasPrefix(sc, "systemctl is-active --quiet "):
		if f.active[strings.Trim(strings.TrimPrefix(sc, "systemctl is-active --quiet "), "'")] {
			return guest.Result{}, nil
		}
		return f.fail(sc, "", 3)
	case strings.HasPrefix(sc, "set -- ") && strings.Contains(sc, l.prof.PackageQuery+` "$p"`): // pkgMissingScript
		var out []string
		for _, p := range strings.Fields(strings.SplitN(strings.TrimPrefix(sc, "set -- "), "\n", 2)[0]) {
			if p = strings.Trim(p, "'"); !f.pkgs[p] {
				out = append(out, p)
			}
		}
		return guest.Result{Stdout: strings.Join(out, "\n")}, nil
	case sc == pkgFindPlugin:
		if f.pkgs["mysql-server"] && !l.noPlugin {
			return guest.Result{Stdout: "/usr/lib64/mysql/plugin/group_replication.so\n"}, nil
		}
		return guest.Result{}, nil
	case strings.HasPrefix(sc, pkgBusyMark):
		busy := ""
		if f.pkgBusy && !strings.Contains(sc, "sleep 1") {
			busy = "apt-get dpkg "
		}
		f.pkgBusy = f.pkgBusy && busy != ""
		return guest.Result{Stdout: fmt.Sprintf("busy=%s\ninterrupted=%s\n", busy, map[bool]string{true: "yes", false: "no"}[f.halfInstalled])}, nil
	case strings.Contains(sc, l.prof.RefreshCmd+"\n"):
		f.moduleSet = f.moduleSet || (l.prof.ModuleSetup != "" && strings.Contains(sc, l.prof.ModuleSetup))
		return guest.Result{}, nil
	case strings.HasPrefix(sc, pkgSetAsideMark):
		if !f.unfinishedData {
			return guest.Result{}, nil
		}
		f.unfinishedData = false
		f.asides++
		return guest.Result{Stdout: l.prof.MySQLDataDir + ".labctl-unfinished-20261203-101500\n"}, nil
	case l.prof.RepairCmd != "" && strings.Contains(sc, l.prof.RepairCmd):
		if f.unfinishedData {
			return f.fail(sc, "dpkg: error processing package mysql-server (--configure):\n old mysql-server package postinst maintainer script subprocess failed with exit status 1", 1)
		}
		f.halfInstalled = false
		return guest.Result{}, nil
	case strings.Contains(sc, l.prof.InstallCmd+" "):
		if f.node.Role == lab.RoleWeb && l.prof.ModuleSetup != "" && !f.moduleSet {
			l.t.Errorf("%s: PHP module stream not set before install", f.node.VM)
		}
		if f.halfInstalled {
			return f.fail(sc, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.", 100)
		}
		if l.installFails > 0 {
			l.installFails--
			f.halfInstalled = true
			return f.fail(sc, "E: Sub-process /usr/bin/dpkg returned an error code (1)", 100)
		}
		for _, p := range strings.Fields(sc[strings.Index(sc, l.prof.InstallCmd)+len(l.prof.InstallCmd):]) {
			f.pkgs[strings.Trim(p, "'")] = true
		}
		if l.prof.Name == "debian" && f.pkgs["mysql-server"] {
			f.active[l.prof.MySQLService] = true // Debian's postinst starts the server
		}
		return guest.Result{}, nil
	case sc == dbMysqldVersion:
		if !f.pkgs["mysql-server"] {
			return f.fail(sc, "mysqld is not installed", 127)
		}
		return guest.Result{Stdout: fmt.Sprintf("/usr/sbin/mysqld  Ver %s for Linux on x86_64 (MySQL Community Server - GPL)\n", l.version)}, nil
	case strings.Contains(sc, "mysqladmin --no-defaults"): // start/restart mysqld
		if (!f.active[l.prof.MySQLService] || strings.Contains(sc, "systemctl restart")) && f.files[l.prof.MySQLConfDir+"/"+dbConfName].Path != "" {
			if msg := f.readOptionFiles(); msg != "" {
				f.active[l.prof.MySQLService] = false
				return f.fail(sc, msg, 1)
			}
		}
		if strings.Contains(sc, "systemctl restart") && f.active[l.prof.MySQLService] {
			f.restarts++
			f.state, f.role = "OFFLINE", ""
		}
		if !f.active[l.prof.MySQLService] || strings.Contains(sc, "systemctl restart") {
			f.globals = map[string]string{}
			for _, m := range dbFakeOptRe.FindAllStringSubmatch(string(f.files[l.prof.MySQLConfDir+"/"+dbFailoverConfName].Content), -1) {
				f.globals[m[1]] = m[2]
			}
		}
		f.active[l.prof.MySQLService] = true
		return guest.Result{}, nil
	case strings.HasPrefix(sc, pkgMirrorCheckMark):
		return guest.Result{Stdout: l.mirrorCheck}, nil
	case strings.Contains(sc, `$1 == "Suites:"`): // pkgDebianSuite
		return guest.Result{Stdout: "sid\n"}, nil
	case strings.Contains(sc, "enabled=0"), strings.Contains(sc, ".labctl-disabled"): // mirror: online sources off
		f.mirrorOnly = true
		return guest.Result{}, nil
	case strings.Contains(sc, "ip -o -4 addr show"):
		return guest.Result{Stdout: "enp0s3\n"}, nil
	case strings.Contains(sc, "keepalived -t -f"):
		staged := regexp.MustCompile(`new='([^']*)'`).FindStringSubmatch(sc)[1]
		conf := regexp.MustCompile(`conf='([^']*)'`).FindStringSubmatch(sc)[1]
		nf, ok := f.files[staged]
		if !ok {
			return f.fail(sc, "staged config missing", 1)
		}
		delete(f.files, staged)
		if f.stamps == nil {
			f.stamps = map[string]string{}
		}
		stamp := wtStamp.FindStringSubmatch(sc) // written after the (re)load
		changed := stamp == nil || f.stamps[stamp[2]] != stamp[1]
		if old, ok := f.files[conf]; !ok || string(old.Content) != string(nf.Content) {
			nf.Path = conf
			f.files[conf] = nf
			changed = true
		}
		if changed && f.active["keepalived"] {
			f.reloads++
		}
		f.active["keepalived"] = true
		if stamp != nil {
			f.stamps[stamp[2]] = stamp[1]
		}
		return guest.Result{}, nil
	case strings.HasPrefix(sc, "mysql --no-defaults "):
		if f.socketAuth || f.rootPw != "" {
			return f.fail(sc, "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: NO)", 1)
		}
		return f.sql(sc, string(cmd.Stdin))
	case sc == dbMySQLClient:
		cnf, ok := f.files[dbRootCnf]
		pwOK := ok && cnf.Mode.Perm() == 0o600 && strings.Contains(string(cnf.Content), `password = "`+l.secrets.MySQLRoot+`"`)
		if !f.active[l.prof.MySQLService] {
			return f.fail(sc, "ERROR 2002 (HY000): Can't connect to local MySQL server through socket", 1)
		}
		if !(f.socketAuth || (pwOK && f.rootPw == l.secrets.MySQLRoot)) {
			return f.fail(sc, "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)", 1)
		}
		return f.sql(sc, string(cmd.Stdin))
	}
	l.t.Errorf("%s: fake does not know script %q", f.node.VM, sc)
	return f.fail(sc, "unknown script", 127)
}

var (
	dbFakeAcctRe  = regexp.MustCompile(`^'([^']*)'@'([^']*)'`)
	dbFakePwRe    = regexp.MustCompile(`BY '([^']*)'`)
	dbFakeGrantRe = regexp.MustCompile(`^GRANT (.*) TO '([^']*)'@'([^']*)'$`)
	dbFakeOptRe   = regexp.MustCompile(`(?m)^loose-(group_replication_\w+) = (\S+)$`)
	dbFakeSetRe   = regexp.MustCompile(`^SET GLOBAL (group_replication_\w+) = '?([^']*)'?$`)
)

// sql interprets the statements the DB steps send.
func (f *dbFakeNode) sql(script, in string) (guest.Result, error) {
	l := f.lab
	var out strings.Builder
	conf := string(f.files[l.prof.MySQLConfDir+"/"+dbConfName].Content)
	logBin := true
	// write applies a change locally when the session's binary log is off,
	// else as a logged (and, on a primary, replicated) transaction.
	write := func(apply func(*dbFakeNode)) {
		if logBin {
			f.replicate(apply)
		} else {
			apply(f)
		}
	}
	for _, st := range strings.Split(in, ";\n") {
		st = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(st), ";"))
		switch {
		case st == "":
		case st == "SELECT 1":
			out.WriteString("1\n")
		case strings.Contains(st, "PLUGIN_STATUS"):
			if strings.Contains(conf, "plugin_load_add = group_replication.so") {
				out.WriteString("ACTIVE\n")
			}
		case strings.HasPrefix(st, "SELECT @@GLOBAL.group_replication_member_expel_timeout"):
			var vals []string
			for _, c := range strings.Split(strings.TrimPrefix(st, "SELECT "), ", ") {
				v, ok := f.globals[strings.TrimPrefix(c, "@@GLOBAL.")]
				if !ok {
					v = "DEFAULT"
				}
				vals = append(vals, v)
			}
			out.WriteString(strings.Join(vals, "\t") + "\n")
		case strings.HasPrefix(st, "SELECT plugin FROM mysql.user"):
			out.WriteString("caching_sha2_password\n")
		case strings.HasPrefix(st, "ALTER USER 'root'@'localhost'"):
			f.rootPw = dbFakePwRe.FindStringSubmatch(st)[1]
		case strings.HasPrefix(st, "SELECT @@GLOBAL.server_uuid"):
			gn := regexp.MustCompile(`loose-group_replication_group_name = (\S+)`).FindStringSubmatch(conf)
			name := ""
			if gn != nil {
				name = gn[1]
			}
			sro := 0
			if f.superRO {
				sro = 1
			}
			fmt.Fprintf(&out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.uuid, name, f.state, f.role, f.executed, "",
				f.recovery, sro, l.version.String()+"-fake")
		case st == "SELECT COUNT(*) FROM mysql.user WHERE user = '"+MySQLVerifierUser+"'":
			verifiers := 0
			for k := range f.users {
				if strings.HasPrefix(k, MySQLVerifierUser+"@") {
					verifiers++
				}
			}
			fmt.Fprintf(&out, "%d\n", verifiers)
		case strings.HasPrefix(st, "SELECT IFNULL((SELECT MEMBER_ROLE FROM performance_schema.replication_group_members"): // the member's own row
			fmt.Fprintf(&out, "%s\t%s\n", f.role, f.state)
		case st == "SET SESSION sql_log_bin = 0", st == "SET SQL_LOG_BIN = 0":
			logBin = false
		case st == "SET SESSION sql_log_bin = 1", st == "SET SQL_LOG_BIN = 1":
			logBin = true
		case strings.HasPrefix(st, "SET @labctl_sro"),
			strings.HasPrefix(st, "SET GLOBAL super_read_only"), st == "SET GLOBAL offline_mode = OFF":
		case strings.HasPrefix(st, "CREATE USER IF NOT EXISTS "):
			m := dbFakeAcctRe.FindStringSubmatch(strings.TrimPrefix(st, "CREATE USER IF NOT EXISTS "))
			pw := dbFakePwRe.FindStringSubmatch(st)[1]
			write(func(o *dbFakeNode) {
				if _, ok := o.users[m[1]+"@"+m[2]]; !ok {
					o.users[m[1]+"@"+m[2]] = pw
				}
			})
		case strings.HasPrefix(st, "ALTER USER "):
			m := dbFakeAcctRe.FindStringSubmatch(strings.TrimPrefix(st, "ALTER USER "))
			pw := dbFakePwRe.FindStringSubmatch(st)[1]
			write(func(o *dbFakeNode) { o.users[m[1]+"@"+m[2]] = pw })
		case strings.HasPrefix(st, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM "):
			m := dbFakeAcctRe.FindStringSubmatch(strings.TrimPrefix(st, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM "))
			write(func(o *dbFakeNode) { delete(o.grants, m[1]+"@"+m[2]) })
		case strings.HasPrefix(st, "GRANT "):
			m := dbFakeGrantRe.FindStringSubmatch(st)
			privs, _, _ := strings.Cut(m[1], " ON ")
			for _, p := range strings.Split(privs, ", ") {
				if _, ok := mysqlver.Lookup(p); !ok {
					l.t.Errorf("%s: GRANT of %s, which has no row in mysqlver.Table", f.node.VM, p)
				}
				if !l.version.Has(p) {
					return f.fail(script, fmt.Sprintf("ERROR 3929 (HY000): Dynamic privilege '%s' is not registered with the server (MySQL %s).", p, l.version), 1)
				}
			}
			write(func(o *dbFakeNode) {
				if !dbContainsStr(o.grants[m[2]+"@"+m[3]], m[1]) {
					o.grants[m[2]+"@"+m[3]] = append(o.grants[m[2]+"@"+m[3]], m[1])
				}
			})
		case strings.HasPrefix(st, "DROP USER IF EXISTS "):
			m := dbFakeAcctRe.FindStringSubmatch(strings.TrimPrefix(st, "DROP USER IF EXISTS "))
			write(func(o *dbFakeNode) { delete(o.users, m[1]+"@"+m[2]); delete(o.grants, m[1]+"@"+m[2]) })
		case strings.HasPrefix(st, "CHANGE REPLICATION SOURCE TO SOURCE_USER = "), strings.HasPrefix(st, "CHANGE MASTER TO MASTER_USER = "):
			// CHANGE REPLICATION SOURCE arrived in 8.0.23; CHANGE MASTER left in 8.4.
			if old := strings.HasPrefix(st, "CHANGE MASTER"); old != l.version.Less(mysqlver.V(8, 0, 23)) && (old || l.version.Less(mysqlver.V(8, 4, 0))) {
				return f.fail(script, fmt.Sprintf("ERROR 1064 (42000): You have an error in your SQL syntax (MySQL %s)", l.version), 1)
			}
			if f.state == "ONLINE" {
				return f.fail(script, "ERROR 3093: GR is running", 1)
			}
			f.recovery = regexp.MustCompile(`_USER = '([^']*)'`).FindStringSubmatch(st)[1]
		case st == "SET GLOBAL group_replication_bootstrap_group = ON":
			f.bootFlag = true
		case st == "SET GLOBAL group_replication_bootstrap_group = OFF":
			f.bootFlag = false
		case dbFakeSetRe.MatchString(st): // the failover settings, set live
			m := dbFakeSetRe.FindStringSubmatch(st)
			f.globals[m[1]] = m[2]
			f.liveSets++
		case st == "STOP GROUP_REPLICATION":
			f.state, f.role, f.superRO = "OFFLINE", "", true
		case st == "START GROUP_REPLICATION":
			if err := f.start(script); err != nil {
				return guest.Result{Stderr: err.Error(), ExitCode: 1}, err
			}
		case strings.HasPrefix(st, "SELECT MEMBER_ID, MEMBER_HOST, MEMBER_PORT, MEMBER_STATE, MEMBER_ROLE"): // the group view
			if f.state != "ONLINE" {
				fmt.Fprintf(&out, "%s\t%s\t3306\t%s\t%s\t1\n", f.uuid, f.node.IP, f.state, f.role)
				break
			}
			for _, o := range l.nodes {
				if o.state == "ONLINE" {
					fmt.Fprintf(&out, "%s\t%s\t3306\t%s\t%s\t%d\n", o.uuid, o.node.IP, o.state, o.role, map[bool]int{true: 1}[o == f])
				}
			}
		case strings.HasPrefix(st, "SELECT host FROM mysql.user WHERE user = "):
			user := strings.Trim(strings.Fields(strings.TrimPrefix(st, "SELECT host FROM mysql.user WHERE user = "))[0], "'")
			var hs []string
			for k := range f.users {
				if u, h, _ := strings.Cut(k, "@"); u == user {
					hs = append(hs, h)
				}
			}
			sort.Strings(hs)
			for _, h := range hs {
				out.WriteString(h + "\n")
			}
		case strings.HasPrefix(st, "SELECT COUNT(*) FROM information_schema.SCHEMATA"):
			if f.dbs[WordPressDatabase] {
				out.WriteString("1\n")
			} else {
				out.WriteString("0\n")
			}
		case strings.HasPrefix(st, "CREATE DATABASE IF NOT EXISTS `wordpress`"):
			if !f.dbs[WordPressDatabase] {
				write(func(o *dbFakeNode) { o.dbs[WordPressDatabase] = true })
			}
		case strings.HasPrefix(st, "SHOW GRANTS FOR "):
			m := dbFakeAcctRe.FindStringSubmatch(strings.TrimPrefix(st, "SHOW GRANTS FOR "))
			fmt.Fprintf(&out, "GRANT USAGE ON *.* TO `%s`@`%s`\n", m[1], m[2])
			for _, g := range f.grants[m[1]+"@"+m[2]] {
				fmt.Fprintf(&out, "GRANT %s TO `%s`@`%s`\n", g, m[1], m[2])
			}
		case strings.HasPrefix(st, "SELECT REPLACE(@@GLOBAL.gtid_executed"):
			out.WriteString(f.executed.String() + "\n")
		case strings.HasPrefix(st, "SELECT WAIT_FOR_EXECUTED_GTID_SET"):
			out.WriteString("0\n")
		case strings.Contains(st, "performance_schema.error_log"):
			out.WriteString("2026-11-26 01:00:00 MY-011526 This member has more executed transactions than those present in the group.\n")
		default:
			f.lab.t.Errorf("%s: fake does not know SQL %q", f.node.VM, st)
			return f.fail(script, "ERROR 1064 (42000): unknown to the fake", 1)
		}
	}
	return guest.Result{Stdout: out.String()}, nil
}

// replicate applies a logged change: on a member outside the group it gets
// a local GTID (the errant transactions GR refuses later); on the primary it
// gets a group GTID and reaches every ONLINE member.
func (f *dbFakeNode) replicate(apply func(*dbFakeNode)) {
	if f.state == "ONLINE" && f.role != "PRIMARY" {
		f.lab.t.Errorf("%s: logged write on a secondary", f.node.VM)
		return
	}
	apply(f)
	if f.state != "ONLINE" {
		tx, _ := mysqlgr.ParseGTIDSet(fmt.Sprintf("%s:%d", f.uuid, mysqlgr.GTIDSet{f.uuid: f.executed[f.uuid]}.Count()+1))
		f.executed = f.executed.Union(tx)
		return
	}
	gn := f.lab.secrets.GroupName
	next := f.executed.Count() + 1
	tx, _ := mysqlgr.ParseGTIDSet(fmt.Sprintf("%s:%d", gn, next))
	for _, o := range f.lab.nodes {
		if o.state == "ONLINE" {
			if o != f {
				apply(o)
			}
			o.executed = o.executed.Union(tx)
		}
	}
}

func (f *dbFakeNode) start(script string) error {
	l := f.lab
	if l.failStart == f.node.VM {
		return &guest.ExitError{Node: f.node.VM, Script: script, ExitCode: 1, Stderr: "ERROR 3092 (HY000): The server is not configured properly to be an active member of the group."}
	}
	if f.state == "ONLINE" {
		return &guest.ExitError{Node: f.node.VM, ExitCode: 1, Stderr: "ERROR 3093: already running"}
	}
	if f.recovery != MySQLReplicationUser {
		l.t.Errorf("%s: START GROUP_REPLICATION before the recovery channel has credentials", f.node.VM)
	}
	var group *dbFakeNode
	for _, o := range l.nodes {
		if o != f && o.state == "ONLINE" {
			group = o
		}
	}
	switch {
	case f.bootFlag && group != nil:
		l.t.Errorf("%s: bootstrapped a second group while %s is ONLINE", f.node.VM, group.node.VM)
		f.state, f.role = "ONLINE", "PRIMARY"
	case f.bootFlag:
		f.state, f.role, f.superRO = "ONLINE", "PRIMARY", false
	case group == nil:
		return &guest.ExitError{Node: f.node.VM, ExitCode: 1, Stderr: "ERROR 3092 (HY000): no group to join (timeout on wait for view)"}
	default:
		if !group.executed.Contains(f.executed) {
			return &guest.ExitError{Node: f.node.VM, ExitCode: 1, Stderr: "ERROR 3092: This member has more executed transactions than those present in the group"}
		}
		// Distributed recovery: copy the group's replicated data.
		for _, o := range l.nodes {
			if o.state == "ONLINE" && o.role == "PRIMARY" {
				f.executed = o.executed.Union(mysqlgr.GTIDSet{})
				f.dbs = map[string]bool{}
				for k, v := range o.dbs {
					f.dbs[k] = v
				}
				for k, v := range o.grants {
					f.grants[k] = append([]string(nil), v...)
				}
				for k, v := range o.users {
					if strings.HasPrefix(k, MySQLWordPressUser+"@") {
						f.users[k] = v
					}
				}
			}
		}
		f.state, f.role, f.superRO = "ONLINE", "SECONDARY", true
	}
	return nil
}

// readOptionFiles checks labctl's option files as the starting mysqld of the
// fake's version would: "" when it starts, else its error line.
func (f *dbFakeNode) readOptionFiles() string {
	l := f.lab
	for _, name := range []string{dbConfName, dbFailoverConfName} {
		for _, line := range strings.Split(string(f.files[l.prof.MySQLConfDir+"/"+name].Content), "\n") {
			m := dbFakeOptLineRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if _, ok := mysqlver.Lookup(m[2]); !ok {
				l.t.Errorf("%s: %s names %s, which has no row in mysqlver.Table", f.node.VM, name, m[2])
			}
			switch {
			case l.version.Has(m[2]):
			case m[1] != "":
				l.ignored = append(l.ignored, fmt.Sprintf("%s: %s ignored by MySQL %s", f.node.VM, m[2], l.version))
			default:
				return fmt.Sprintf("[ERROR] [MY-000067] [Server] unknown variable '%s=%s'.", m[2], m[3])
			}
		}
	}
	return ""
}

var dbFakeOptLineRe = regexp.MustCompile(`^(loose-)?([a-z_]+) = (.*)$`)

func dbContainsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
