package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"labctl/internal/textdist"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// EmbeddedName is Config.File for the lab built into the binary.
const EmbeddedName = "<embedded>"

// Config is a lab.toml as written, with defaults filled in and every value
// checked. Addresses stay as written (".100" or "192.168.1.100") until Plan
// combines them with the network, which may only be known on the host.
type Config struct {
	File     string // path as given, or EmbeddedName
	Name     string // name
	StateDir string // state_dir; empty = default folder
	Seat     int    // seat; 0 = the lab as written (seat.go)

	Base       BaseConfig
	Network    NetworkConfig
	Roles      map[Role]RoleConfig // [roles.db], [roles.web], [roles.lb]
	Nodes      []NodeConfig        // [[nodes]]
	Packages   PackagesConfig
	WordPress  WordPressConfig
	MySQL      MySQLConfig
	Keepalived KeepalivedConfig
	Exercises  ExercisesConfig

	pos *positions // key → line, for errors found after parsing (Plan)
}

// BaseConfig is [base]: the VM every node is cloned from.
type BaseConfig struct {
	VM           string // vm
	Snapshot     string // snapshot (default "labctl-base")
	User         string // user: guest-control account (default "root")
	PasswordFile string // password_file; empty = prompt
	Profile      string // profile: el8 (default), el9, debian
	SSHUser      string // ssh_user (default "root")
}

// NetworkConfig is [network]. Empty strings mean "take it from the host".
type NetworkConfig struct {
	Mode          string   // mode: bridged (default), natnetwork, hostonly (netmode.go)
	BridgeAdapter string   // bridge_adapter
	Network       string   // network, CIDR
	Gateway       string   // gateway, host part or address
	DNS           []string // dns, host parts or addresses
	VIP           string   // vip (default ".167")
	VIPHostname   string   // vip_hostname (default "sql-vip")
}

// RoleConfig is [roles.<role>]: resources of every node of that role.
type RoleConfig struct {
	CPUs     int // cpus
	MemoryMB int // memory_mb
}

// NodeConfig is one [[nodes]] entry.
type NodeConfig struct {
	VM       string // vm
	Hostname string // hostname (default: the VM name in lower case)
	IP       string // ip: host part (".100") or address
	Role     Role   // role
	CPUs     int    // cpus; 0 = the role's
	MemoryMB int    // memory_mb; 0 = the role's
}

// PackagesConfig is [packages].
type PackagesConfig struct {
	Mirror string // mirror: classroom mirror URL; empty = the distribution's repositories
	// Release: the release the mirror serves ("8.4" for a vault copy laid
	// out under 8.4/; a codename on debian); empty = the guest's own.
	Release string
}

// WordPressConfig is [wordpress].
type WordPressConfig struct {
	Archive    string // archive: host path or URL of a tarball; empty = the official release
	SHA256     string // sha256 of the archive, hex
	Title      string // title
	AdminUser  string // admin_user
	AdminEmail string // admin_email
}

// MySQLConfig is [mysql].
type MySQLConfig struct {
	MemberExpelTimeout int // member_expel_timeout, seconds (default 5)
}

// KeepalivedConfig is [keepalived].
type KeepalivedConfig struct {
	RouterID int // router_id; 0 = derived from the lab name
}

// ExercisesConfig is [exercises]: the instructor's classroom settings.
type ExercisesConfig struct {
	Dir string // dir: a folder of exercise files adding to or overriding the built-in ones
	// ReportKeyFile names a file holding the key that signs `exercise report`
	// files (HMAC-SHA256). The key itself never goes in lab.toml.
	ReportKeyFile string // report_key_file
}

// Load reads and checks a lab file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab file: %w", err)
	}
	return Parse(path, data)
}

// Resolve picks the lab: --lab FILE when given, else ./lab.toml when it
// exists, else the lab built into the binary.
func Resolve(flagPath string, embedded []byte) (*Config, error) {
	if flagPath != "" {
		return Load(flagPath)
	}
	const local = "lab.toml"
	if _, err := os.Stat(local); err == nil {
		return Load(local)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("look for %s: %w", local, err)
	}
	return Parse(EmbeddedName, embedded)
}

// Parse reads lab.toml text; name is how errors name the file. All problems
// are returned at once in a *ConfigError, one per line.
func Parse(name string, data []byte) (*Config, error) {
	ps := &problems{file: name, pos: scanPositions(data)}
	if onlyComments(data) {
		// One problem, not a list of every missing key.
		ps.addAt(0, "", "is empty; start from the default lab (`labctl plan` uses it when there is no lab.toml), or copy lab.toml from the labctl source and edit it")
		return nil, ps.err()
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		ps.list = append(ps.list, tomlProblem(name, err))
		return nil, ps.err()
	}
	// The document is walked by hand rather than decoded into structs: the
	// TOML library matches struct fields case-insensitively (so "VM = ..."
	// would pass) and stops at the first type mismatch, while a student
	// should see every problem at once, each with its line.
	w := &walker{ps: ps, defined: map[string]bool{}}
	c := &Config{File: name, pos: ps.pos, Roles: map[Role]RoleConfig{}}
	w.document(c, raw)
	c.applyDefaults(w.defined)
	c.validate(ps, w.defined)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// onlyComments says the file holds no key at all.
func onlyComments(data []byte) bool {
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// tomlProblem turns a TOML syntax error into a located Problem.
func tomlProblem(name string, err error) Problem {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return Problem{File: name, Msg: "is not valid TOML: " + err.Error()}
	}
	msg := pe.Message
	// The parser may quote the offending text; never echo a password.
	if strings.Contains(strings.ToLower(pe.LastKey), "password") && !strings.HasSuffix(pe.LastKey, "password_file") {
		msg = "the value cannot be read"
	}
	return Problem{File: name, Line: pe.Position.Line, Key: pe.LastKey,
		Msg: "is not valid TOML: " + msg + " (" + tomlHint(pe.Message) + ")"}
}

// tomlHint is the fix for a TOML syntax error, chosen by what the parser
// says went wrong; the quoting hint only where a value was left unquoted.
func tomlHint(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "expected value but found"), strings.Contains(m, "invalid float"),
		strings.Contains(m, "invalid integer"), strings.Contains(m, "invalid date"):
		return "text and addresses need double quotes, e.g. ip = \"192.168.1.100\"; numbers have none"
	case strings.Contains(m, "strings cannot contain newlines"), strings.Contains(m, "unterminated"):
		return "close the string's double quote on the same line"
	case strings.Contains(m, "table name"), strings.Contains(m, "array of tables"):
		return "a table header is written on one line: [base], or [[nodes]] for each node"
	case strings.Contains(m, "already been defined"):
		return "each key may appear once in its table; remove or rename the second one"
	case strings.Contains(m, "key name appears blank"):
		return "write the key before '=', e.g. vm = \"SQL-ONE\""
	case strings.Contains(m, "to end with a newline"):
		return "one key = value per line; start a comment with #"
	}
	return "see the comments in the default lab.toml for the format"
}

// walker copies a decoded TOML document into a Config, type-checking each
// value and reporting unknown keys.
type walker struct {
	ps      *problems
	defined map[string]bool // key paths present in the file
}

// field is one known key of a table.
type field struct {
	name string
	set  func(path string, v any)
}

// table checks that v is a table and dispatches its keys to fields.
func (w *walker) table(path, header string, v any, fields []field) {
	m, ok := v.(map[string]any)
	if !ok {
		w.ps.add(path, "must be a table written as %s, not a %s", header, TOMLType(v))
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := joinKey(path, k)
		f := findField(fields, k)
		if f == nil {
			w.unknown(p, k, header, fields)
			continue
		}
		w.defined[p] = true
		f.set(p, m[k])
	}
}

func findField(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	return nil
}

// unknown reports a key the schema does not have, with the nearest known one.
func (w *walker) unknown(path, name, header string, fields []field) {
	if strings.Contains(strings.ToLower(name), "password") && name != "password_file" {
		w.ps.add(path, "is not allowed: a password never goes in lab.toml; put it alone in a file only you can read (chmod 600) and set password_file = \"path/to/file\" in [base], or leave password_file empty to be asked at the terminal")
		return
	}
	if header == "[exercises]" && strings.Contains(strings.ToLower(name), "key") && name != "report_key_file" {
		w.ps.add(path, "is not allowed: the report-signing key never goes in lab.toml; put it alone in a file only you can read (chmod 600) and set report_key_file = \"path/to/file\" in [exercises]")
		return
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	where := "in " + header
	if header == "" {
		where = "at the top level"
	}
	msg := fmt.Sprintf("is not a known key %s", where)
	switch s := closest(name, names); {
	case header != "" && contains(topLevelKeys, name):
		// A classic TOML slip: keys written below a [table] line belong to it.
		msg += fmt.Sprintf("; every key after the %s line belongs to %s: move %s above the first [table] line, or write it as its own table", header, header, name)
	case s != "":
		msg += fmt.Sprintf("; did you mean %q? Known keys: %s", s, strings.Join(names, ", "))
	default:
		msg += ". Known keys: " + strings.Join(names, ", ")
	}
	w.ps.add(path, "%s", msg)
}

// closest returns the known name nearest to name (case or a typo or two away).
func closest(name string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return n
		}
		if d := textdist.Distance(strings.ToLower(name), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// typeProblem reports a value of the wrong type and silences later checks of key.
func (w *walker) typeProblem(key, format string, args ...any) {
	w.ps.add(key, format, args...)
	if w.ps.typeErr == nil {
		w.ps.typeErr = map[string]bool{}
	}
	w.ps.typeErr[key] = true
}

// TOMLType names a decoded value's TOML type for messages (lab.toml and the
// exercise files use the same words).
func TOMLType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "number"
	case float64:
		return "decimal number"
	case bool:
		return "true/false value"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "list of tables"
	case []any:
		return "list"
	default:
		return "date/time"
	}
}

func (w *walker) str(dst *string) func(string, any) {
	return func(path string, v any) {
		s, ok := v.(string)
		if !ok {
			w.typeProblem(path, "must be a quoted string, e.g. %s = \"...\", not a %s", lastKey(path), TOMLType(v))
			return
		}
		*dst = s
	}
}

func (w *walker) integer(dst *int) func(string, any) {
	return func(path string, v any) {
		n, ok := v.(int64)
		if !ok {
			w.typeProblem(path, "must be a whole number without quotes, e.g. %s = 2, not a %s", lastKey(path), TOMLType(v))
			return
		}
		const limit = 1 << 30 // far beyond any valid value; keeps int conversion safe
		if n > limit {
			n = limit
		} else if n < -limit {
			n = -limit
		}
		*dst = int(n)
	}
}

func (w *walker) strList(dst *[]string) func(string, any) {
	return func(path string, v any) {
		list, ok := v.([]any)
		if !ok {
			w.typeProblem(path, "must be a list of quoted strings, e.g. %s = [\"192.168.1.1\"], not a %s", lastKey(path), TOMLType(v))
			return
		}
		out := make([]string, 0, len(list))
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				w.typeProblem(fmt.Sprintf("%s[%d]", path, i), "must be a quoted string, not a %s", TOMLType(e))
				continue
			}
			out = append(out, s)
		}
		*dst = out
	}
}

func lastKey(path string) string {
	if i := strings.LastIndexAny(path, ".]"); i >= 0 && path[i] == '.' {
		return path[i+1:]
	}
	return path
}

// topLevelKeys are the keys of the document itself.
var topLevelKeys = []string{"name", "state_dir", "seat", "base", "network", "roles", "nodes", "packages", "wordpress", "mysql", "keepalived", "exercises"}

// document walks the whole file.
func (w *walker) document(c *Config, raw map[string]any) {
	roles := map[string]*RoleConfig{}
	for _, r := range []Role{RoleDB, RoleWeb, RoleLB} {
		roles[string(r)] = &RoleConfig{}
	}
	roleFields := func(rc *RoleConfig) []field {
		return []field{{"cpus", w.integer(&rc.CPUs)}, {"memory_mb", w.integer(&rc.MemoryMB)}}
	}
	w.table("", "", raw, []field{
		{"name", w.str(&c.Name)},
		{"state_dir", w.str(&c.StateDir)},
		{"seat", w.integer(&c.Seat)},
		{"base", func(p string, v any) {
			b := &c.Base
			w.table(p, "[base]", v, []field{
				{"vm", w.str(&b.VM)},
				{"snapshot", w.str(&b.Snapshot)},
				{"user", w.str(&b.User)},
				{"password_file", w.str(&b.PasswordFile)},
				{"profile", w.str(&b.Profile)},
				{"ssh_user", w.str(&b.SSHUser)},
			})
		}},
		{"network", func(p string, v any) {
			n := &c.Network
			w.table(p, "[network]", v, []field{
				{"mode", w.str(&n.Mode)},
				{"bridge_adapter", w.str(&n.BridgeAdapter)},
				{"network", w.str(&n.Network)},
				{"gateway", w.str(&n.Gateway)},
				{"dns", w.strList(&n.DNS)},
				{"vip", w.str(&n.VIP)},
				{"vip_hostname", w.str(&n.VIPHostname)},
			})
		}},
		{"roles", func(p string, v any) {
			w.table(p, "[roles]", v, []field{
				{"db", func(p string, v any) { w.table(p, "[roles.db]", v, roleFields(roles["db"])) }},
				{"web", func(p string, v any) { w.table(p, "[roles.web]", v, roleFields(roles["web"])) }},
				{"lb", func(p string, v any) { w.table(p, "[roles.lb]", v, roleFields(roles["lb"])) }},
			})
		}},
		{"nodes", func(p string, v any) { c.Nodes = w.nodes(p, v) }},
		{"packages", func(p string, v any) {
			w.table(p, "[packages]", v, []field{{"mirror", w.str(&c.Packages.Mirror)}, {"release", w.str(&c.Packages.Release)}})
		}},
		{"wordpress", func(p string, v any) {
			wp := &c.WordPress
			w.table(p, "[wordpress]", v, []field{
				{"archive", w.str(&wp.Archive)},
				{"sha256", w.str(&wp.SHA256)},
				{"title", w.str(&wp.Title)},
				{"admin_user", w.str(&wp.AdminUser)},
				{"admin_email", w.str(&wp.AdminEmail)},
			})
		}},
		{"mysql", func(p string, v any) {
			w.table(p, "[mysql]", v, []field{{"member_expel_timeout", w.integer(&c.MySQL.MemberExpelTimeout)}})
		}},
		{"keepalived", func(p string, v any) {
			w.table(p, "[keepalived]", v, []field{{"router_id", w.integer(&c.Keepalived.RouterID)}})
		}},
		{"exercises", func(p string, v any) {
			w.table(p, "[exercises]", v, []field{
				{"dir", w.str(&c.Exercises.Dir)},
				{"report_key_file", w.str(&c.Exercises.ReportKeyFile)},
			})
		}},
	})
	for _, r := range []Role{RoleDB, RoleWeb, RoleLB} {
		c.Roles[r] = *roles[string(r)]
	}
}

// nodes walks [[nodes]] (or an inline list of tables).
func (w *walker) nodes(path string, v any) []NodeConfig {
	var elems []any
	switch t := v.(type) {
	case []map[string]any:
		for _, m := range t {
			elems = append(elems, m)
		}
	case []any:
		elems = t
	default:
		w.ps.add(path, "must be a list of [[nodes]] tables, one per VM, not a %s", TOMLType(v))
		return nil
	}
	out := make([]NodeConfig, len(elems))
	for i, e := range elems {
		n := &out[i]
		var role string
		w.table(fmt.Sprintf("%s[%d]", path, i), "[[nodes]]", e, []field{
			{"vm", w.str(&n.VM)},
			{"hostname", w.str(&n.Hostname)},
			{"ip", w.str(&n.IP)},
			{"role", w.str(&role)},
			{"cpus", w.integer(&n.CPUs)},
			{"memory_mb", w.integer(&n.MemoryMB)},
		})
		n.Role = Role(role)
	}
	return out
}
