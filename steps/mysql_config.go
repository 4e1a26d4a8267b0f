package steps

// Step "mysql-config": each DB node gets labctl's own MySQL option file
// (server_id, report_host, group replication addresses, seeds, allowlist),
// mysqld enabled and running, and root's 0600 client option file so later
// steps can talk to mysqld without a password on any command line.
//
// Reads: the installed server's version (`mysqld --version`, before anything
// is rendered: option names follow it, see mysqlver), plan (DB nodes,
// network, expel timeout), secrets (root password, group name), profile
// (config dir, service, socket).
// Writes: <MySQLConfDir>/zz-labctl.cnf, /root/.my.cnf; mysqld restarted only
// when that option file changed. The failure-handling options (expel timeout,
// auto-rejoin, exit action) live in zz-labctl-failover.cnf and are compared
// with the running server's values and set live: tuning them never restarts
// the group.

import (
	"context"
	"embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
	"labctl/mysqlver"
)

//go:embed templates/db/*
var dbTemplates embed.FS

var dbTmpl = template.Must(template.New("db").
	Funcs(template.FuncMap{"optval": dbOptionValue}).
	ParseFS(dbTemplates, "templates/db/*.tmpl"))

const (
	// dbConfName sorts after the packages' own files, so its values win.
	dbConfName = "zz-labctl.cnf"
	// dbFailoverConfName holds the dynamic failure-handling options.
	dbFailoverConfName = "zz-labctl-failover.cnf"
	// dbRootCnf is root's client option file; the mysql client reads it from
	// $HOME too, which is handy for students typing `mysql` on a node.
	dbRootCnf = mysqlgr.RootOptionFile
	// dbXComPort is group replication's group communication port.
	dbXComPort = 33061
	// dbMySQLWait bounds how long a (re)started mysqld may take to accept connections.
	dbMySQLWaitSeconds = 180
)

// MySQLConfig returns the "mysql-config" step.
func MySQLConfig() Step { return mysqlConfigStep{planNote: new(sync.Once)} }

type mysqlConfigStep struct {
	// planNote says once per plan which MySQL version the plan assumed.
	planNote *sync.Once
}

func (mysqlConfigStep) Name() string                  { return "mysql-config" }
func (mysqlConfigStep) Title() string                 { return "Configuring MySQL for group replication" }
func (mysqlConfigStep) Needs() []string               { return []string{"packages", "selinux"} }
func (mysqlConfigStep) Targets(p *lab.Plan) lab.Nodes { return p.DB() }

// dbSetting is one dynamic mysqld option labctl keeps equal on file and live.
type dbSetting struct {
	Name, Value, Why string
}

// dbFailoverSettings are the group's failure-handling options. They decide
// how fast a crashed primary is replaced (README: "How fast the VIP moves").
func dbFailoverSettings(p *lab.Plan) []dbSetting {
	return []dbSetting{
		{"group_replication_member_expel_timeout", fmt.Sprint(p.GRMemberExpelTimeout),
			"Seconds a member suspected of failure (after 5 s of silence) may stay before it is expelled; the new primary is elected only then."},
		{"group_replication_autorejoin_tries", "3",
			"A member expelled after a passing stall tries to rejoin by itself (3 tries, 5 minutes apart)."},
		{"group_replication_exit_state_action", "OFFLINE_MODE",
			"A member that leaves the group on error refuses clients instead of serving stale reads."},
		{"group_replication_unreachable_majority_timeout", "30",
			"A member cut off from the majority leaves after 30 s rather than waiting forever."},
	}
}

// dbMysqldVersion prints the installed server's version line. EL keeps
// mysqld in /usr/libexec, Debian in /usr/sbin; neither is on every PATH.
const dbMysqldVersion = `for m in /usr/sbin/mysqld /usr/libexec/mysqld; do
	if [ -x "$m" ]; then exec "$m" --version; fi
done
echo "mysqld is not installed (neither /usr/sbin/mysqld nor /usr/libexec/mysqld)" >&2
exit 127
`

// dbFreshMysqld is what dbMysqldVersion prints on a fresh node: the
// server mysqlver.Assumed (a plan's answer).
var dbFreshMysqld = "/usr/sbin/mysqld  Ver " + mysqlver.Assumed.String() + " for Linux on x86_64 (MySQL Community Server - GPL)\n"

// serverVersion reads the installed server's version: the option file is
// written for it. A plan's recorder answers mysqlver.Assumed, and the plan
// says so once.
func (s mysqlConfigStep) serverVersion(ctx context.Context, env *Env, ex guest.Executor) (mysqlver.Version, error) {
	if s.planNote != nil {
		s.planNote.Do(func() {
			env.PlanNotef("option files rendered for MySQL %s, what a fresh node is taken to run (up reads `mysqld --version` on each node first)", mysqlver.Assumed)
		})
	}
	r, err := dbRead(ctx, env, ex, dbMysqldVersion, dbFreshMysqld)
	if err != nil {
		return mysqlver.Version{}, fmt.Errorf("read the MySQL server version: %w", err)
	}
	v, err := mysqlver.ParseMysqld(r.Stdout)
	if err != nil {
		return mysqlver.Version{}, err
	}
	return v, mysqlver.CheckSupported(v)
}

// dbOptionLineRe finds "name = value" lines of a rendered option file.
var dbOptionLineRe = regexp.MustCompile(`(?m)^(?:loose-)?([a-z_]+)\s*=\s*(.*)$`)

// dbCheckOptions fails when a rendered option file names an option (or a
// value) server v does not have: mysqld would refuse to start, or, for a
// loose- option, silently go without the setting.
func dbCheckOptions(v mysqlver.Version, file string, content []byte) error {
	for _, m := range dbOptionLineRe.FindAllStringSubmatch(string(content), -1) {
		if err := v.Need(m[1]); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if _, ok := mysqlver.Lookup(m[1] + "=" + m[2]); ok {
			if err := v.Need(m[1] + "=" + m[2]); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	return nil
}

// mysqlConfFiles renders the files this step places on n, for server version v.
func mysqlConfFiles(env *Env, n *lab.Node, v mysqlver.Version) (conf, failover, rootCnf guest.File, err error) {
	p, prof := env.Plan, env.Profile
	if env.Secrets == nil || !dbUUIDRe.MatchString(env.Secrets.GroupName) {
		return conf, failover, rootCnf, fmt.Errorf("group name %q in the lab secrets is not a UUID; delete it from the lab's state folder to have a new one generated", dbGroupName(env))
	}
	if p.GRMemberExpelTimeout < 0 || p.GRMemberExpelTimeout > 3600 {
		return conf, failover, rootCnf, fmt.Errorf("member expel timeout %d s is outside 0..3600", p.GRMemberExpelTimeout)
	}
	var seeds []string
	for _, d := range p.DB() {
		seeds = append(seeds, dbXComAddr(d.IP))
	}
	body, err := dbRender("mysqld-labctl.cnf.tmpl", map[string]any{
		"Lab":          p.Name,
		"Node":         n.VM,
		"ServerID":     n.Index,
		"IP":           n.IP.String(),
		"LocalAddress": dbXComAddr(n.IP),
		"Seeds":        strings.Join(seeds, ","),
		"Allowlist":    p.Network.Masked().String(),
		"GroupName":    strings.ToLower(env.Secrets.GroupName),
		"FailoverFile": dbFailoverConfName,
		"MySQL":        v,
	})
	if err == nil {
		err = dbCheckOptions(v, dbConfName, body)
	}
	if err != nil {
		return conf, failover, rootCnf, err
	}
	conf = guest.File{Path: prof.MySQLConfDir + "/" + dbConfName, Content: body, Mode: 0o644}

	fbody, err := dbRender("mysqld-failover.cnf.tmpl", map[string]any{
		"Lab": p.Name, "Node": n.VM, "Settings": dbFailoverSettings(p),
	})
	if err == nil {
		err = dbCheckOptions(v, dbFailoverConfName, fbody)
	}
	if err != nil {
		return conf, failover, rootCnf, err
	}
	failover = guest.File{Path: prof.MySQLConfDir + "/" + dbFailoverConfName, Content: fbody, Mode: 0o644}

	rootBody, err := dbRender("root-client.cnf.tmpl", map[string]any{
		"Password": env.Secrets.MySQLRoot,
		"Socket":   prof.MySQLSocket,
	})
	if err != nil {
		return conf, failover, rootCnf, fmt.Errorf("root option file: %w", err)
	}
	rootCnf = guest.File{Path: dbRootCnf, Content: rootBody, Mode: 0o600}
	return conf, failover, rootCnf, nil
}

// dbLiveDrift returns "name is X live, want Y" for the first failover
// setting whose running value differs from the plan's, or "".
func dbLiveDrift(ctx context.Context, env *Env, ex guest.Executor) (string, error) {
	settings := dbFailoverSettings(env.Plan)
	cols := make([]string, len(settings))
	fresh := make([]string, len(settings)) // a fresh server read them from the failover file
	for i, s := range settings {
		cols[i] = "@@GLOBAL." + s.Name
		fresh[i] = s.Value
	}
	out, err := dbQuery(ctx, env, ex, "SELECT "+strings.Join(cols, ", "), strings.Join(fresh, "\t")+"\n")
	if err != nil {
		return "", fmt.Errorf("read the failover settings: %w", err)
	}
	got := strings.Split(strings.TrimRight(out, "\n"), "\t")
	if len(got) != len(settings) {
		return "", fmt.Errorf("read the failover settings: got %q, want %d columns", out, len(settings))
	}
	for i, s := range settings {
		if !strings.EqualFold(strings.TrimSpace(got[i]), s.Value) {
			return fmt.Sprintf("%s is %s live, want %s", s.Name, strings.TrimSpace(got[i]), s.Value), nil
		}
	}
	return "", nil
}

// dbApplyLive sets every failover setting on the running server.
func dbApplyLive(ctx context.Context, env *Env, ex guest.Executor) error {
	var b strings.Builder
	for _, s := range dbFailoverSettings(env.Plan) {
		v := s.Value
		if _, err := strconv.Atoi(v); err != nil {
			v = dbSQLString(v)
		}
		fmt.Fprintf(&b, "SET GLOBAL %s = %s;\n", s.Name, v)
	}
	if _, err := dbSQL(ctx, env, ex, b.String()); err != nil {
		return fmt.Errorf("apply the failover settings: %w", err)
	}
	return nil
}

func (s mysqlConfigStep) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	ex := env.SSH(n)
	v, err := s.serverVersion(ctx, env, ex)
	if err != nil {
		return Status{}, err
	}
	conf, failover, rootCnf, err := mysqlConfFiles(env, n, v)
	if err != nil {
		return Status{}, err
	}
	if ok, why, err := dbFilesCurrent(ctx, ex, conf, failover, rootCnf); err != nil || !ok {
		return Status{Why: why}, err
	}
	if _, ok, err := dbProbe(ctx, env, ex, "systemctl is-active --quiet "+guest.Quote(env.Profile.MySQLService), nil); err != nil || !ok {
		return Status{Why: env.Profile.MySQLService + " is not running"}, err
	}
	out, ok, err := dbProbe(ctx, env, ex, dbMySQLClient,
		[]byte("SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'group_replication';\n"))
	if err != nil || !ok {
		return Status{Why: "root cannot log in to MySQL with " + dbRootCnf}, err
	}
	if strings.TrimSpace(out) != "ACTIVE" {
		return Status{Why: fmt.Sprintf("group_replication plugin is %q, want ACTIVE (see the mysqld error log)", strings.TrimSpace(out))}, nil
	}
	if drift, err := dbLiveDrift(ctx, env, ex); err != nil || drift != "" {
		return Status{Why: drift}, err
	}
	return Status{Done: true}, nil
}

func (s mysqlConfigStep) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	ex := env.SSH(n)
	v, err := s.serverVersion(ctx, env, ex)
	if err != nil {
		return err
	}
	conf, failover, rootCnf, err := mysqlConfFiles(env, n, v)
	if err != nil {
		return err
	}
	svc := guest.Quote(env.Profile.MySQLService)

	// 1. Our option file; a change needs a restart to take effect. The
	//    failover file does not: its values are set live in step 5.
	changed, err := ex.Upload(ctx, conf)
	if err != nil {
		return fmt.Errorf("write %s: %w", conf.Path, err)
	}
	if _, err := ex.Upload(ctx, failover); err != nil {
		return fmt.Errorf("write %s: %w", failover.Path, err)
	}
	// 2. Root's client option file (password inside, 0600).
	if _, err := ex.Upload(ctx, rootCnf); err != nil {
		return fmt.Errorf("write %s: %w", rootCnf.Path, err)
	}
	// 3. Enable mysqld; restart it only when the file changed, start it if stopped.
	//    The first start of a fresh install initialises the datadir.
	start := "systemctl start " + svc
	if changed {
		start = "if systemctl is-active --quiet " + svc + "; then systemctl restart " + svc + "; else systemctl start " + svc + "; fi"
	}
	script := fmt.Sprintf(`set -eu
systemctl enable %[1]s
%[2]s
# mysqladmin ping exits 0 as soon as the server answers, even "access denied".
i=0
until mysqladmin --no-defaults --socket=%[3]s ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge %[4]d ]; then
		echo "mysqld did not accept connections within %[4]d s" >&2
		exit 1
	fi
	sleep 1
done
`, svc, start, guest.Quote(env.Profile.MySQLSocket), dbMySQLWaitSeconds)
	if _, err := dbRun(ctx, env, ex, script, nil); err != nil {
		return fmt.Errorf("start %s: %w", env.Profile.MySQLService, err)
	}
	// 4. Root access through the option file.
	if err := dbEnsureRootAccess(ctx, env, ex); err != nil {
		return err
	}
	// 5. The failover settings on the running server, if they differ.
	if drift, err := dbLiveDrift(ctx, env, ex); err != nil || drift == "" {
		return err
	}
	return dbApplyLive(ctx, env, ex)
}

// dbEnsureRootAccess makes root@localhost accept the lab's root password.
// A fresh EL install has root with an empty password; Debian's packages use
// socket authentication, which ignores the password and is left alone.
func dbEnsureRootAccess(ctx context.Context, env *Env, ex guest.Executor) error {
	if _, err := dbSQL(ctx, env, ex, "SELECT 1"); err == nil {
		return nil
	}
	noPass := "mysql --no-defaults --socket=" + guest.Quote(env.Profile.MySQLSocket) + " --user=root --batch --skip-column-names"
	r, err := dbRun(ctx, env, ex, noPass, []byte("SELECT plugin FROM mysql.user WHERE user = 'root' AND host = 'localhost';\n"))
	if err != nil {
		return fmt.Errorf("root cannot log in to MySQL with the lab's password nor without one (was the root password changed by hand? "+
			"put it in %s or reset it): %w", dbRootCnf, err)
	}
	if plugin := strings.TrimSpace(r.Stdout); plugin == "auth_socket" {
		return fmt.Errorf("root uses socket authentication but %s does not work; check the socket path %s", dbRootCnf, env.Profile.MySQLSocket)
	}
	// Binary log off: a local admin change must not become an errant GTID.
	sql := "SET SQL_LOG_BIN = 0;\nALTER USER 'root'@'localhost' IDENTIFIED WITH caching_sha2_password BY " +
		dbSQLString(env.Secrets.MySQLRoot) + ";\nSET SQL_LOG_BIN = 1;\n"
	if _, err := dbRun(ctx, env, ex, noPass, []byte(sql)); err != nil {
		return fmt.Errorf("set the MySQL root password: %w", err)
	}
	if _, err := dbSQL(ctx, env, ex, "SELECT 1"); err != nil {
		return fmt.Errorf("root still cannot log in with %s after setting its password: %w", dbRootCnf, err)
	}
	return nil
}
