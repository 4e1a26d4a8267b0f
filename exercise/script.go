package exercise

// Turning an action's or a check's script into what runs on a node: the
// variables it uses, set first from the plan, the profile and the bindings
// made when the exercise started.

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"labctl/guest"
	"labctl/lab"
	"labctl/mysqlgr"
)

// SaveDir is where a breakage may keep what it changed, root-only, for the
// reference solution; a reset removes it with the rest of the breakage.
const SaveDir = "/var/lib/labctl-exercise"

// Bindings names the nodes that had a role when the exercise started: the
// primary, and the secondaries in lab order. Selectors resolve through
// them for the whole exercise, so "primary" stays the node that crashed.
type Bindings map[string]string // "primary" → VM name

// resolve returns the nodes a selector names, in lab order.
func resolve(p *lab.Plan, b Bindings, sel string) (lab.Nodes, error) {
	switch sel {
	case "all":
		return p.Nodes, nil
	case "db":
		return p.DB(), nil
	case "web":
		return p.Web(), nil
	case "lb":
		if lb := p.LB(); lb != nil {
			return lab.Nodes{lb}, nil
		}
		return nil, fmt.Errorf("node %q: the lab has no load balancer", sel)
	case "primary", "secondary1", "secondary2":
		vm, ok := b[sel]
		if !ok {
			return nil, fmt.Errorf("node %q: the exercise has no %s (the group had none when it started)", sel, sel)
		}
		if n := p.Nodes.Find(vm); n != nil {
			return lab.Nodes{n}, nil
		}
		return nil, fmt.Errorf("node %q: %s is no longer in the lab", sel, vm)
	}
	for _, role := range []lab.Role{lab.RoleDB, lab.RoleWeb} {
		if rest, ok := strings.CutPrefix(sel, string(role)); ok {
			i, err := strconv.Atoi(rest)
			ns := p.Nodes.WithRole(role)
			if err != nil || i < 1 || i > len(ns) {
				return nil, fmt.Errorf("node %q: the lab has %d %s nodes", sel, len(ns), role)
			}
			return lab.Nodes{ns[i-1]}, nil
		}
	}
	return nil, fmt.Errorf("node %q is not a node selector", sel)
}

// mysqlRootRE finds scripts calling mysql_root, the MySQL client as root
// (root's option file, batch output without column names).
var mysqlRootRE = regexp.MustCompile(`\bmysql_root\b`)

// vars are the shell variables a script may use, by name.
func vars(p *lab.Plan, prof *guest.Profile, b Bindings, n *lab.Node) map[string]string {
	v := map[string]string{
		"VIP":                p.VIP.String(),
		"SITE_URL":           "",
		"NODE_IP":            n.IP.String(),
		"NODE_NAME":          n.Hostname,
		"MYSQL_SERVICE":      prof.MySQLService,
		"NGINX_SERVICE":      prof.NginxService,
		"NGINX_CONF_DIR":     prof.NginxConfDir,
		"KEEPALIVED_SERVICE": prof.KeepalivedService,
		"KEEPALIVED_CHECK":   "/usr/libexec/keepalived/check_primary.sh",
		"KEEPALIVED_CONF":    prof.KeepalivedConf,
		"WEB_ROOT":           prof.WebRoot,
		"REPL_USER":          "labctl_repl",
		"WP_DB_USER":         "wordpress",
		"WP_DB_NAME":         "wordpress",
		"SAVE_DIR":           SaveDir,
	}
	if lb := p.LB(); lb != nil {
		v["LB_IP"] = lb.IP.String()
		v["SITE_URL"] = "http://" + lb.IP.String()
	}
	var dbs, webs []string
	for i, d := range p.DB() {
		v[fmt.Sprintf("DB%d_IP", i+1)] = d.IP.String()
		dbs = append(dbs, d.IP.String())
	}
	for i, w := range p.Web() {
		v[fmt.Sprintf("WEB%d_IP", i+1)] = w.IP.String()
		webs = append(webs, w.IP.String())
	}
	v["DB_IPS"], v["WEB_IPS"] = strings.Join(dbs, " "), strings.Join(webs, " ")
	for sel, vm := range b {
		if bn := p.Nodes.Find(vm); bn != nil {
			up := strings.ToUpper(sel)
			v[up+"_IP"] = bn.IP.String()
			v[up+"_HOST"] = bn.Hostname
		}
	}
	return v
}

// render is the script that runs on n: a header, the variables the script
// uses (PHP_FPM_SERVICE found on the node itself) and the script.
func render(p *lab.Plan, prof *guest.Profile, b Bindings, n *lab.Node, what, script string) string {
	var sb strings.Builder
	sb.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&sb, "# labctl exercise: %s on %s\n", what, n.VM)
	sb.WriteString("set -eu\n")
	used := map[string]bool{}
	for _, m := range scriptVarRE.FindAllStringSubmatch(script, -1) {
		used[m[1]] = true
	}
	all := vars(p, prof, b, n)
	var names []string
	for name := range used {
		if _, ok := all[name]; ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&sb, "%s=%s\n", name, guest.Quote(all[name]))
	}
	if mysqlRootRE.MatchString(script) {
		sb.WriteString("mysql_root() { " + mysqlgr.RootClient + " \"$@\"; }\n")
	}
	if used["PHP_FPM_SERVICE"] {
		sb.WriteString(prof.PHPFPMDiscover())
		sb.WriteString(": \"$PHP_FPM_POOL_DIR\" # found with the service; this script may not need it\n")
	}
	sb.WriteString(strings.TrimLeft(script, "\n"))
	if !strings.HasSuffix(script, "\n") {
		sb.WriteString("\n")
	}
	return sb.String()
}
