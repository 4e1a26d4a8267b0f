// Package mysqlver knows which MySQL server versions accept each server
// option and privilege labctl renders or grants. It is one table, read by
// the option-file templates and the GRANT statements alike, so the same lab
// works on the 8.0.21 AlmaLinux 8.4 shipped and on 9.x.
//
// It is its own package because it is pure data about MySQL: it knows
// nothing of labctl's steps or guests, and the steps, their tests and any
// later MySQL-speaking package read the same rows.
package mysqlver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a MySQL server version, major.minor.patch.
type Version struct{ Major, Minor, Patch int }

// V is shorthand for a Version literal.
func V(major, minor, patch int) Version { return Version{major, minor, patch} }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// IsZero reports whether v is unset.
func (v Version) IsZero() bool { return v == Version{} }

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// Supported range: 8.0.21 is the oldest release with what labctl relies on
// (START GROUP_REPLICATION USER/PASSWORD, a 128 MB message cache, the 5 s
// expel default); it is what AlmaLinux 8.4's install media ships. The newest
// series labctl has been run against is 9.x (Debian's mysql-server 9.7).
var (
	Oldest = V(8, 0, 21)
	// Assumed is what a plan (no live node to ask) renders for: the
	// mysql:8.0 stream AlmaLinux 8.4's repository carried after
	// RHSA-2021:3590. The plan says so.
	Assumed = V(8, 0, 26)
)

var numRe = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// Parse reads "8.0.21", "9.7.0-1" or "8.0.41-0ubuntu0.22.04.1".
func Parse(s string) (Version, error) {
	m := numRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a MySQL version (want major.minor.patch)", s)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return V(a, b, c), nil
}

var verRe = regexp.MustCompile(`\bVer (\d+\.\d+\.\d+\S*)`)

// ParseMysqld reads the first line `mysqld --version` prints, e.g.
// "/usr/libexec/mysqld  Ver 8.0.21 for Linux on x86_64 (Source distribution)".
// MariaDB's mysqld is refused: it has no group replication.
func ParseMysqld(out string) (Version, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if strings.Contains(line, "MariaDB") {
		return Version{}, fmt.Errorf("the server is MariaDB (%s), which has no group replication; install MySQL's mysql-server", strings.TrimSpace(line))
	}
	m := verRe.FindStringSubmatch(line)
	if m == nil {
		return Version{}, fmt.Errorf("mysqld --version printed %q, not a version", line)
	}
	return Parse(m[1])
}

// CheckSupported refuses versions labctl cannot configure.
func CheckSupported(v Version) error {
	if v.Less(Oldest) {
		return fmt.Errorf("MySQL %s is older than %s, the oldest release labctl can configure for group replication; install a newer mysql-server", v, Oldest)
	}
	return nil
}

// Kind says what a row names.
type Kind int

// Row kinds.
const (
	Option    Kind = iota // a server option / system variable (option files, SET GLOBAL, @@GLOBAL)
	Privilege             // a privilege in GRANT
	Value                 // "option=value": a value the option accepts only from Since
)

func (k Kind) String() string {
	return [...]string{"option", "privilege", "value"}[k]
}

// Row is one fact: Name exists from Since up to (not including) Removed.
type Row struct {
	Name    string
	Kind    Kind
	Since   Version
	Removed Version // zero: still present in the newest release
	// Old is the name the same setting had before Since (8.0.26's and
	// 8.0.22's renames); labctl writes Old for older servers.
	Old string
	Why string
}

// In reports whether v has the row's name.
func (r Row) In(v Version) bool {
	return !v.Less(r.Since) && (r.Removed.IsZero() || v.Less(r.Removed))
}

// Range is "8.0.26" or "8.0.22 to 8.4.0 (removed)" for messages.
func (r Row) Range() string {
	if r.Removed.IsZero() {
		return "from " + r.Since.String()
	}
	return fmt.Sprintf("from %s, removed in %s", r.Since, r.Removed)
}

// pre80 marks what every 8.0 release (and 5.7) already had.
var pre80 = V(5, 7, 0)

// Table is every server option and privilege labctl renders or grants.
// Sources: the MySQL Server Version Reference (options and variables per
// release), the 8.0/8.4 reference manuals' option pages and release notes.
var Table = []Row{
	// Options in the main option file (templates/db/mysqld-labctl.cnf.tmpl).
	{Name: "server_id", Kind: Option, Since: pre80},
	{Name: "report_host", Kind: Option, Since: pre80},
	{Name: "bind_address", Kind: Option, Since: pre80},
	{Name: "skip_name_resolve", Kind: Option, Since: pre80},
	{Name: "disabled_storage_engines", Kind: Option, Since: V(5, 7, 8)},
	{Name: "gtid_mode", Kind: Option, Since: pre80},
	{Name: "enforce_gtid_consistency", Kind: Option, Since: pre80},
	{Name: "log_bin", Kind: Option, Since: pre80},
	{Name: "log_replica_updates", Kind: Option, Since: V(8, 0, 26), Old: "log_slave_updates",
		Why: "8.0.26 renamed the replication options; older servers refuse the new name at start-up (unknown variable)"},
	{Name: "log_slave_updates", Kind: Option, Since: pre80, Why: "deprecated alias from 8.0.26"},
	{Name: "binlog_expire_logs_seconds", Kind: Option, Since: V(8, 0, 1)},
	{Name: "relay_log", Kind: Option, Since: pre80},
	{Name: "relay_log_recovery", Kind: Option, Since: pre80},
	{Name: "skip_replica_start", Kind: Option, Since: V(8, 0, 26), Old: "skip_slave_start",
		Why: "8.0.26 renamed the replication options"},
	{Name: "skip_slave_start", Kind: Option, Since: pre80, Why: "deprecated alias from 8.0.26"},
	{Name: "plugin_load_add", Kind: Option, Since: pre80},
	{Name: "group_replication_group_name", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_start_on_boot", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_bootstrap_group", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_local_address", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_group_seeds", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_ip_allowlist", Kind: Option, Since: V(8, 0, 22), Old: "group_replication_ip_whitelist",
		Why: "8.0.22 renamed it (WL#14175); with loose- an older server would silently ignore the new name and fall back to its automatic list"},
	{Name: "group_replication_ip_whitelist", Kind: Option, Since: V(5, 7, 17), Removed: V(8, 4, 0)},
	{Name: "group_replication_recovery_get_public_key", Kind: Option, Since: V(8, 0, 4)},
	{Name: "group_replication_single_primary_mode", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_enforce_update_everywhere_checks", Kind: Option, Since: V(5, 7, 17)},
	{Name: "group_replication_consistency", Kind: Option, Since: V(8, 0, 14)},
	{Name: "group_replication_message_cache_size", Kind: Option, Since: V(8, 0, 16)},
	{Name: "group_replication_message_cache_size=134217728", Kind: Value, Since: V(8, 0, 21),
		Why: "the minimum was 1 GB before 8.0.21 (WL#13979)"},

	// The failover file (templates/db/mysqld-failover.cnf.tmpl), also set
	// live with SET GLOBAL and read back as @@GLOBAL.
	{Name: "group_replication_member_expel_timeout", Kind: Option, Since: V(8, 0, 13)},
	{Name: "group_replication_autorejoin_tries", Kind: Option, Since: V(8, 0, 16)},
	{Name: "group_replication_exit_state_action", Kind: Option, Since: V(8, 0, 12)},
	{Name: "group_replication_exit_state_action=OFFLINE_MODE", Kind: Value, Since: V(8, 0, 18)},
	{Name: "group_replication_unreachable_majority_timeout", Kind: Option, Since: V(8, 0, 2)},

	// Privileges of the recovery account (steps/grouprepl.go).
	{Name: "REPLICATION SLAVE", Kind: Privilege, Since: pre80},
	{Name: "CONNECTION_ADMIN", Kind: Privilege, Since: V(8, 0, 14)},
	{Name: "BACKUP_ADMIN", Kind: Privilege, Since: V(8, 0, 17),
		Why: "lets a joiner be provisioned by the clone plugin when it is installed"},
	{Name: "GROUP_REPLICATION_STREAM", Kind: Privilege, Since: V(8, 0, 27),
		Why: "the MySQL communication stack arrived in 8.0.27; on older servers the GRANT is a syntax error. labctl uses the default XCom stack, so older servers simply go without"},
	// The verifier's and WordPress's grants.
	{Name: "SELECT", Kind: Privilege, Since: pre80},
	{Name: "ALL PRIVILEGES", Kind: Privilege, Since: pre80},
}

// Lookup returns the row named name (options case-insensitively).
func Lookup(name string) (Row, bool) {
	for _, r := range Table {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return Row{}, false
}

// Has reports whether v has name; a name without a row is never had.
func (v Version) Has(name string) bool {
	r, ok := Lookup(name)
	return ok && r.In(v)
}

// Opt returns the option's name as server v spells it: name itself, or its
// Old name before a rename. It fails for names without a row (add one) and
// for options v has under no name. Templates call it: {{.MySQL.Opt "x"}}.
func (v Version) Opt(name string) (string, error) {
	r, ok := Lookup(name)
	if !ok || r.Kind != Option {
		return "", fmt.Errorf("MySQL option %s has no row in the version table (mysqlver.Table)", name)
	}
	if r.In(v) {
		return r.Name, nil
	}
	if r.Old != "" && v.Has(r.Old) {
		return r.Old, nil
	}
	return "", fmt.Errorf("MySQL %s has no option %s (%s)", v, name, r.Range())
}

// Need fails unless v has every named option, privilege or value.
func (v Version) Need(names ...string) error {
	for _, n := range names {
		r, ok := Lookup(n)
		if !ok {
			return fmt.Errorf("%s has no row in the MySQL version table (mysqlver.Table)", n)
		}
		if !r.In(v) {
			return fmt.Errorf("MySQL %s lacks %s %s (%s)", v, r.Kind, n, r.Range())
		}
	}
	return nil
}

// Privileges returns the privileges among wanted that v has, in order, and
// fails for one without a row. Privileges a server lacks are left out: each
// row says why doing without it is fine.
func (v Version) Privileges(wanted ...string) ([]string, error) {
	var out []string
	for _, p := range wanted {
		r, ok := Lookup(p)
		if !ok || r.Kind != Privilege {
			return nil, fmt.Errorf("privilege %s has no row in the MySQL version table (mysqlver.Table)", p)
		}
		if r.In(v) {
			out = append(out, r.Name)
		}
	}
	return out, nil
}
