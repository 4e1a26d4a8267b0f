package steps

// Fixtures and a fake guest for the web-side step tests (firewall, selinux,
// web, load-balancer, wordpress-install, verify). The fake answers the
// steps' read-only probe scripts from its state, keeps uploaded files, and
// lets each test say what an apply script does to the guest. It records
// every script and stdin so tests can assert secrets never reach a script.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"labctl/guest"
	"labctl/lab"
)

func init() {
	// Another test file of the package may own -update already.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

// wtUpdate reports whether golden files are to be rewritten.
func wtUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// wtPlan is the default lab's shape.
func wtPlan(t testing.TB) *lab.Plan {
	p := &lab.Plan{
		Name:        "lab",
		StateDir:    t.TempDir(),
		Network:     netip.MustParsePrefix("192.168.1.0/24"),
		Gateway:     netip.MustParseAddr("192.168.1.1"),
		VIP:         netip.MustParseAddr("192.168.1.150"),
		VIPHostname: "sql-vip",
		Profile:     "el8",
		SiteTitle:   "Lab's WordPress",
		AdminUser:   "labadmin",
		AdminEmail:  "admin@lab.example",
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

// wtSecrets are fixed so golden files are stable; salts include the
// characters PHP quoting must survive.
func wtSecrets() *lab.Secrets {
	s := &lab.Secrets{
		MySQLRoot:      "RootPw-7hQz2kLm9xV4",
		Replication:    "ReplPw-c8Jd3nWq5tY1",
		Verifier:       "VerifPw-p2Rk6sHa8uE0",
		WordPressDB:    "WpDbPw-f4Gt7yBn1mZ3",
		WordPressAdmin: "WpAdmPw-x9Lc5vQe2wR8",
		GroupName:      "6b0c8f3e-1d2a-4c5b-9e7f-0a1b2c3d4e5f",
		WPSalts:        map[string]string{},
	}
	for i, name := range lab.WPSaltNames {
		s.WPSalts[name] = fmt.Sprintf("salt%d-%s-$x{y}\\'q'\\-Zk%02dpLm", i, strings.ToLower(name), i*7)
	}
	return s
}

// wtProfile returns a copy of the real guest profile, so golden files show
// what guests really receive.
func wtProfile(name string) *guest.Profile {
	p, err := guest.ProfileByName(name)
	if err != nil {
		panic(err)
	}
	c := *p
	return &c
}

// wtGuest is one fake node.
type wtGuest struct {
	t     testing.TB
	node  *lab.Node
	mu    sync.Mutex
	files map[string]guest.File
	facts map[string]string // probe key -> answer, for everything but files
	cmds  []guest.Cmd
	ups   []guest.File
	// label names the step running, for golden file names; labels[i] is cmds[i]'s.
	label  string
	labels []string
	// effect is what a non-probe script does; it may change facts and answer.
	effect func(g *wtGuest, cmd guest.Cmd) (guest.Result, error)
}

// wtLab is a fake lab: one wtGuest per node, and the Env the steps get.
type wtLab struct {
	env    *Env
	guests map[string]*wtGuest
}

func wtNewLab(t testing.TB, profile string) *wtLab {
	p := wtPlan(t)
	p.Profile = profile
	l := &wtLab{guests: map[string]*wtGuest{}}
	for _, n := range p.Nodes {
		l.guests[n.VM] = &wtGuest{t: t, node: n, files: map[string]guest.File{}, facts: map[string]string{}}
	}
	l.env = &Env{
		Plan:    p,
		Secrets: wtSecrets(),
		Profile: wtProfile(profile),
		SSH:     func(n *lab.Node) guest.Executor { return l.guests[n.VM] },
		Log:     &bytes.Buffer{},
	}
	return l
}

func (l *wtLab) node(vm string) *lab.Node { return l.guests[vm].node }

var wtProbeKey = regexp.MustCompile(`(?m)^echo '@@ ([^']*)'$`)

func (g *wtGuest) String() string { return "fake " + g.node.VM }

func (g *wtGuest) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	if err := ctx.Err(); err != nil {
		return guest.Result{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cmds = append(g.cmds, cmd)
	g.labels = append(g.labels, g.label)
	if strings.Contains(cmd.Script, "# Read-only: facts for labctl's check") {
		var out strings.Builder
		for _, m := range wtProbeKey.FindAllStringSubmatch(cmd.Script, -1) {
			key := m[1]
			fmt.Fprintf(&out, "@@ %s\n", key)
			if path, ok := strings.CutPrefix(key, "file "); ok {
				if f, ok := g.files[path]; ok {
					fmt.Fprintln(&out, webFileFact(f))
				}
				continue
			}
			if v := g.facts[key]; v != "" {
				fmt.Fprintln(&out, v)
			}
		}
		return guest.Result{Stdout: out.String()}, nil
	}
	if g.effect == nil {
		return guest.Result{}, nil
	}
	return g.effect(g, cmd)
}

func (g *wtGuest) Upload(ctx context.Context, f guest.File) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if _, err := guest.UploadScript(f); err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ups = append(g.ups, f)
	old, ok := g.files[f.Path]
	changed := !ok || webFileFact(old) != webFileFact(f)
	g.files[f.Path] = f
	return changed, nil
}

// scripts returns the non-probe scripts run so far.
func (g *wtGuest) scripts() []guest.Cmd {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []guest.Cmd
	for _, c := range g.cmds {
		if !strings.Contains(c.Script, "# Read-only: facts for labctl's check") {
			out = append(out, c)
		}
	}
	return out
}

// wtNoSecretInScripts fails if any lab secret appears in a script (argv) run on any guest.
func wtNoSecretInScripts(t testing.TB, l *wtLab) {
	t.Helper()
	for _, g := range l.guests {
		for _, c := range g.cmds {
			for _, s := range l.env.Secrets.Values() {
				if strings.Contains(c.Script, s) {
					t.Errorf("%s: a secret appears in a script:\n%s", g.node.VM, c.Script)
				}
			}
		}
	}
}

// wtCycle runs Check (must be not done) -> Apply -> Check (must be done) on n.
func wtCycle(t *testing.T, step Step, env *Env, n *lab.Node) Status {
	t.Helper()
	ctx := context.Background()
	st, err := step.Check(ctx, env, n)
	if err != nil {
		t.Fatalf("%s: first check: %v", n.VM, err)
	}
	if st.Done {
		t.Fatalf("%s: fresh node already done", n.VM)
	}
	if st.Why == "" {
		t.Errorf("%s: not done but no reason given", n.VM)
	}
	if err := step.Apply(ctx, env, n); err != nil {
		t.Fatalf("%s: apply: %v", n.VM, err)
	}
	after, err := step.Check(ctx, env, n)
	if err != nil {
		t.Fatalf("%s: re-check: %v", n.VM, err)
	}
	if !after.Done {
		t.Fatalf("%s: still not done after apply: %s", n.VM, after.Why)
	}
	return st
}

// wtSystemctl applies "systemctl enable/reload-or-restart" lines of a script to the facts.
func wtSystemctl(g *wtGuest, script string) {
	for _, line := range strings.Split(script, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "systemctl" {
			continue
		}
		for _, svc := range f[2:] {
			switch f[1] {
			case "enable":
				g.facts["enabled "+svc] = "enabled"
			case "reload-or-restart", "start", "restart":
				g.facts["active "+svc] = "active"
			}
			if f[1] == "enable" && len(f) > 3 && f[2] == "--now" {
				g.facts["active "+svc] = "active"
				g.facts["enabled "+svc] = "enabled"
			}
		}
	}
}

// wtArchive writes a tiny WordPress-shaped .tar.gz and returns its path and sha256.
func wtArchive(t testing.TB) (string, string) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"wordpress/index.php":               "<?php require __DIR__ . '/wp-blog-header.php';\n",
		"wordpress/wp-includes/version.php": "<?php\n$wp_version = '6.9';\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "wordpress.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return path, hex.EncodeToString(sum[:])
}

var (
	wtSetsebool = regexp.MustCompile(`(?m)^setsebool -P (\S+) on$`)
	wtFContext  = regexp.MustCompile(`(?m)^if ! semanage fcontext -a -t (\S+) '([^']+)'`)
	wtSEPort    = regexp.MustCompile(`(?m)^if ! semanage port -a -t (\S+) -p (\S+) (\d+)`)
	wtInstallD  = regexp.MustCompile(`install -d -o (\S+) -g (\S+) `)
	wtStamp     = regexp.MustCompile(`printf '%s\\n' (\S+) >'?/var/lib/labctl/([^'\s]+)'?`)
)

// wtEffect is what the web-side apply scripts do to a fake guest, read from
// the scripts themselves, and the answers of the verify probes.
func wtEffect(l *wtLab) func(g *wtGuest, cmd guest.Cmd) (guest.Result, error) {
	return func(g *wtGuest, cmd guest.Cmd) (guest.Result, error) {
		s := cmd.Script
		wtSystemctl(g, s)
		// The stamp an apply script writes once the service has loaded its files.
		for _, m := range wtStamp.FindAllStringSubmatch(s, -1) {
			g.facts["loaded "+m[2]] = m[1]
		}
		switch {
		case strings.Contains(s, "# Read-only: which php-fpm is installed."):
			return guest.Result{Stdout: "@@ service\nphp8.2-fpm\n@@ pooldir\n/etc/php/8.2/fpm/pool.d\n"}, nil
		case strings.Contains(s, "firewall-cmd --reload"):
			if _, ok := g.files[fwZoneFile]; !ok {
				return guest.Result{}, &guest.ExitError{Node: g.node.VM, ExitCode: 1, Stderr: "zone file missing"}
			}
			listing := fmt.Sprintf("\n  target: default\n  sources: %s\n  rules: %x", l.env.Plan.Network, sha256.Sum256(g.files[fwZoneFile].Content))
			g.facts["runtime"], g.facts["permanent"] = "labctl (active)"+listing, "labctl"+listing
			if strings.Contains(s, "--add-service=http") {
				g.facts["http runtime"], g.facts["http permanent"] = "yes", "yes"
			}
		case strings.Contains(s, "getenforce"):
			g.facts["enforce"], g.facts["config"] = "Enforcing", "enforcing"
			for _, m := range wtSEPort.FindAllStringSubmatch(s, -1) {
				g.facts["ports"] += fmt.Sprintf("%s  %s  %s, 3306\n", m[1], m[2], m[3])
			}
			for _, m := range wtSetsebool.FindAllStringSubmatch(s, -1) {
				g.facts["bool "+m[1]] = m[1] + " --> on"
			}
			for _, m := range wtFContext.FindAllStringSubmatch(s, -1) {
				g.facts["fcontexts"] += fmt.Sprintf("%s    all files    system_u:object_r:%s:s0\n", m[2], m[1])
			}
		case strings.Contains(s, "tar -xzf"):
			if _, ok := g.files[path0(l).Archive]; !ok {
				return guest.Result{}, &guest.ExitError{Node: g.node.VM, ExitCode: 2, Stderr: "tar: no archive"}
			}
			delete(g.files, path0(l).Archive)
			g.facts["wordpress"] = "6.9"
		case strings.Contains(s, "install -d -o"):
			m := wtInstallD.FindStringSubmatch(s)
			g.facts["uploads"] = m[1] + ":" + m[2]
		case strings.HasSuffix(strings.TrimSpace(s), "-- php"):
			installed := g.facts["wp installed"] == "1"
			url := ""
			if installed {
				url = WordPressURL(l.env.Plan)
			}
			return guest.Result{Stdout: fmt.Sprintf("labctl-wp installed=%s admin=%s siteurl=%s\n", webOr(g.facts["wp installed"], "0"), webOr(g.facts["wp installed"], "0"), url)}, nil
		case strings.Contains(s, "wp-install.php"):
			if string(cmd.Stdin) != l.env.Secrets.WordPressAdmin+"\n" {
				return guest.Result{}, &guest.ExitError{Node: g.node.VM, ExitCode: 2, Stderr: "no admin password on stdin"}
			}
			g.facts["wp installed"] = "1"
			return guest.Result{Stdout: "labctl-wp: installed\n"}, nil
		case strings.Contains(s, "@@ members"):
			return guest.Result{Stdout: g.facts["verify db"]}, nil
		case strings.Contains(s, "php -r"):
			if string(cmd.Stdin) != l.env.Secrets.WordPressDB+"\n" {
				return guest.Result{Stdout: "labctl-db error=Access denied for user 'wordpress'\n"}, nil
			}
			return guest.Result{Stdout: g.facts["verify web"]}, nil
		case strings.Contains(s, "@@ upstreams"):
			return guest.Result{Stdout: g.facts["verify lb"]}, nil
		}
		return guest.Result{}, nil
	}
}

func path0(l *wtLab) webLayout {
	lay, _ := webLayoutFor(l.env)
	return lay
}

// wtHealthyLab sets the verify answers of a working lab: SQL-ONE primary
// with the VIP, WordPress through the LB from both web nodes.
func wtHealthyLab(l *wtLab) {
	members := "192.168.1.100\tONLINE\tPRIMARY\n192.168.1.101\tONLINE\tSECONDARY\n192.168.1.102\tONLINE\tSECONDARY\n"
	for _, g := range l.guests {
		switch g.node.Role {
		case lab.RoleDB:
			addrs := g.node.IP.String()
			if g.node.VM == "SQL-ONE" {
				addrs += "\n192.168.1.150"
			}
			g.facts["verify db"] = "@@ members\n" + members + "@@ self\n" + g.node.Hostname + "\t" + map[bool]string{true: "0", false: "1"}[g.node.VM == "SQL-ONE"] + "\n@@ addresses\n127.0.0.1\n" + addrs + "\n"
		case lab.RoleWeb:
			g.facts["verify web"] = "labctl-db hostname=sql-one super_read_only=0\n"
		case lab.RoleLB:
			var ups strings.Builder
			for i := 0; i < verifyRequests; i++ {
				fmt.Fprintf(&ups, "192.168.1.%d:80\n", 110+i%2)
			}
			g.facts["verify lb"] = "@@ page\n<!DOCTYPE html><html><head><title>Lab&#8217;s WordPress</title></head><body>hi</body></html>\n@@ status\n200\n@@ upstreams\n" + ups.String()
		}
	}
}

// wtFakeLab is a fake lab whose guests run the web-side scripts.
func wtFakeLab(t testing.TB, profile string) *wtLab {
	l := wtNewLab(t, profile)
	archive, _ := wtArchive(t)
	l.env.Plan.WordPressArchive = archive
	for _, g := range l.guests {
		g.effect = wtEffect(l)
	}
	return l
}
