package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const fixtureDir = "../testdata/lab"

// testHost is the host network tests plan against; it never comes from
// the machine running the tests.
var testHost = HostNet{
	Adapter: "eth0",
	Prefix:  netip.MustParsePrefix("192.168.1.37/24"),
	Gateway: netip.MustParseAddr("192.168.1.1"),
}

// fixture directives: "# want: <substring of one problem>" (one per
// expected problem) and "# hostnet: ADAPTER PREFIX|- GATEWAY|-".
func readFixture(t testing.TB, path string) (data []byte, wants []string, host HostNet) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	host = testHost
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "# want: "):
			wants = append(wants, strings.TrimPrefix(line, "# want: "))
		case strings.HasPrefix(line, "# hostnet: "):
			f := strings.Fields(strings.TrimPrefix(line, "# hostnet: "))
			if len(f) != 3 {
				t.Fatalf("%s: bad hostnet directive %q", path, line)
			}
			host = HostNet{Adapter: f[0]}
			if f[1] != "-" {
				host.Prefix = netip.MustParsePrefix(f[1])
			}
			if f[2] != "-" {
				host.Gateway = netip.MustParseAddr(f[2])
			}
		}
	}
	return data, wants, host
}

func TestInvalidFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "invalid-*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("want at least 15 invalid fixtures, found %d", len(files))
	}
	seen := map[string]string{} // want → fixture, so every fixture has its own message
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, wants, host := readFixture(t, file)
			if len(wants) == 0 {
				t.Fatal("fixture has no # want: line")
			}
			for _, w := range wants {
				if other, dup := seen[w]; dup {
					t.Errorf("want %q is also the want of %s; each fixture needs its own message", w, other)
				}
				seen[w] = file
			}
			c, err := Parse("lab.toml", data)
			if err == nil {
				_, err = c.Plan(host)
			}
			if err == nil {
				t.Fatal("lab was accepted; want an error")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *ConfigError: %v", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(ce.Problems) {
				t.Errorf("error has %d lines for %d problems:\n%v", len(lines), len(ce.Problems), err)
			}
			if len(ce.Problems) != len(wants) {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), len(wants), err)
			}
			used := make([]bool, len(lines))
			for _, w := range wants {
				found := false
				for i, l := range lines {
					if !used[i] && strings.Contains(l, w) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("no problem line contains %q; got:\n%v", w, err)
				}
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "lab.toml:") && !strings.HasPrefix(l, "lab.toml: ") {
					t.Errorf("problem does not name the file: %q", l)
				}
			}
		})
	}
}

func TestPasswordNeverEchoed(t *testing.T) {
	data, _, _ := readFixture(t, filepath.Join(fixtureDir, "invalid-password-inline.toml"))
	_, err := Parse("lab.toml", data)
	if err == nil {
		t.Fatal("inline password accepted")
	}
	if strings.Contains(err.Error(), "Hunter2-Secret") {
		t.Fatalf("error echoes the password: %v", err)
	}
	// A syntax error on the password line must not quote it either.
	_, err = Parse("lab.toml", []byte("[base]\npassword = Hunter2-Secret\n"))
	if err == nil || strings.Contains(err.Error(), "Hunter2") {
		t.Fatalf("syntax error echoes the password or passes: %v", err)
	}
}

func TestValidFixtures(t *testing.T) {
	checks := map[string]func(t *testing.T, p *Plan){
		"valid-full-addresses.toml": func(t *testing.T, p *Plan) {
			eq(t, "name", p.Name, "classroom-7")
			eq(t, "adapter", p.BridgeAdapter, "enp3s0")
			eq(t, "network", p.Network.String(), "10.20.30.0/24")
			eq(t, "gateway", p.Gateway.String(), "10.20.30.254")
			eq(t, "dns", fmt.Sprint(p.DNS), "[10.20.30.53 9.9.9.9]")
			eq(t, "vip", p.VIP.String(), "10.20.30.200")
			eq(t, "vip hostname", p.VIPHostname, "db-vip")
			eq(t, "base", fmt.Sprintf("%+v", p.Base), "{VM:AlmaLinux 8.4 (Guest Additions) Snapshot:clean User:root PasswordFile:"+filepath.Join(fixtureDir, "secrets/guest-password")+"}")
			eq(t, "state dir", p.StateDir, filepath.Join(fixtureDir, "state/classroom-7"))
			eq(t, "router id", p.VRRPRouterID, 42)
			eq(t, "expel", p.GRMemberExpelTimeout, 0)
			eq(t, "mirror", p.PackageMirror, "http://mirror.classroom.lan/almalinux")
			eq(t, "release", p.PackageRelease, "8.4")
			eq(t, "archive", p.WordPressArchive, "https://files.classroom.lan/wordpress-6.5.tar.gz")
			eq(t, "sha256 lower-cased", p.WordPressSHA256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			eq(t, "title", p.SiteTitle, `Class 7's "HA" WordPress`)
			eq(t, "admin", p.AdminUser+" "+p.AdminEmail, "teacher teacher@school.example.org")
			eq(t, "nodes", len(p.Nodes), 5)
			eq(t, "sql-3", fmt.Sprint(p.Nodes[2].IP, p.Nodes[2].CPUs, p.Nodes[2].MemoryMB), "10.20.30.13 4 8192")
			eq(t, "sql-1", fmt.Sprint(p.Nodes[0].CPUs, p.Nodes[0].MemoryMB), "4 4096")
			eq(t, "lb", p.LB().VM, "C7-LB")
		},
		"valid-debian.toml": func(t *testing.T, p *Plan) {
			eq(t, "profile", p.Profile, "debian")
			eq(t, "ssh user", p.SSHUser, "labadmin")
			eq(t, "adapter from host", p.BridgeAdapter, "eth0")
			// The host's gateway is on another network: fall back to .1.
			eq(t, "gateway", p.Gateway.String(), "172.16.5.1")
			eq(t, "dns", fmt.Sprint(p.DNS), "[172.16.5.1]")
			eq(t, "vip default", p.VIP.String(), "172.16.5.167")
			eq(t, "web", fmt.Sprint(p.Web().Names()), "[web1 web2 web3]")
			eq(t, "hostname default", p.Nodes[3].Hostname, "web1")
			eq(t, "web1 override", fmt.Sprint(p.Nodes[3].CPUs, p.Nodes[3].MemoryMB), "4 1536")
			eq(t, "web2 role", fmt.Sprint(p.Nodes[4].CPUs, p.Nodes[4].MemoryMB, p.Nodes[4].Index), "2 1536 2")
			eq(t, "db defaults", fmt.Sprint(p.Nodes[0].CPUs, p.Nodes[0].MemoryMB), "2 2048")
			eq(t, "lb default", fmt.Sprint(p.LB().CPUs, p.LB().MemoryMB), "1 512")
		},
		"valid-minimal.toml": func(t *testing.T, p *Plan) {
			eq(t, "network detected", p.Network.String(), "192.168.1.0/24")
			eq(t, "gateway from host", p.Gateway.String(), "192.168.1.1")
			eq(t, "snapshot", p.Base.Snapshot, DefaultSnapshot)
			eq(t, "user", p.Base.User+" "+p.SSHUser, "root root")
			eq(t, "password prompt", p.Base.PasswordFile, "")
			eq(t, "profile", p.Profile, "el8")
			eq(t, "hostnames", fmt.Sprint(p.Nodes[0].Hostname, " ", p.Nodes[4].Hostname), "sql-one load-balancer")
			eq(t, "router id", p.VRRPRouterID, RouterIDFor("mini"))
			eq(t, "expel", p.GRMemberExpelTimeout, DefaultExpel)
			eq(t, "title", p.SiteTitle, "WordPress HA Lab")
		},
		"valid-wide-network.toml": func(t *testing.T, p *Plan) {
			eq(t, "profile", p.Profile, "el9")
			eq(t, "ips", fmt.Sprint(p.Nodes[0].IP, " ", p.Nodes[2].IP, " ", p.Nodes[3].IP, " ", p.Nodes[4].IP), "10.8.1.100 10.8.2.102 10.8.3.160 10.8.3.162")
			eq(t, "vip", p.VIP.String(), "10.8.1.167")
			eq(t, "gateway", p.Gateway.String(), "10.8.0.1")
		},
	}
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "valid-*.toml"))
	if len(files) != len(checks) {
		t.Errorf("%d valid fixtures but %d checks", len(files), len(checks))
	}
	t.Setenv(StateDirEnv, "")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			check := checks[filepath.Base(file)]
			if check == nil {
				t.Fatal("no check for this fixture")
			}
			c, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Plan(testHost)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "file", p.File, file)
			checkPlanInvariants(t, p)
			check(t, p)
		})
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// checkPlanInvariants holds for every plan.
func checkPlanInvariants(t *testing.T, p *Plan) {
	t.Helper()
	if len(p.DB()) != 3 || len(p.Web()) < 1 || p.LB() == nil {
		t.Errorf("roles: %d db, %d web, lb %v", len(p.DB()), len(p.Web()), p.LB())
	}
	ips := map[netip.Addr]bool{p.VIP: true, p.Gateway: true}
	for _, n := range p.Nodes {
		if !p.Network.Contains(n.IP) || ips[n.IP] {
			t.Errorf("%s: ip %s outside %s or reused", n.VM, n.IP, p.Network)
		}
		ips[n.IP] = true
		if n.CPUs < MinCPUs || n.MemoryMB < MinMemoryMB || n.Index < 1 {
			t.Errorf("%s: %+v", n.VM, n)
		}
	}
	if p.VRRPRouterID < 1 || p.VRRPRouterID > 255 {
		t.Errorf("router id %d", p.VRRPRouterID)
	}
	if p.StateDir == "" || p.BridgeAdapter == "" || !p.VIP.IsValid() || len(p.DNS) == 0 {
		t.Errorf("incomplete plan: %+v", p)
	}
}

func TestDefaultLab(t *testing.T) {
	data, err := os.ReadFile("../lab.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(EmbeddedName, data)
	if err != nil {
		t.Fatalf("the default lab.toml is invalid:\n%v", err)
	}
	if !c.NeedsHostNet() {
		t.Error("the default lab leaves network and adapter empty, so it needs the host network")
	}
	t.Setenv(StateDirEnv, t.TempDir())
	p, err := c.Plan(HostNet{Adapter: "wlp2s0", Prefix: netip.MustParsePrefix("192.168.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	checkPlanInvariants(t, p)
	eq(t, "name", p.Name, "wordpress-ha")
	eq(t, "file", p.File, EmbeddedName)
	eq(t, "base", fmt.Sprintf("%+v", p.Base), "{VM:AlmaLinux-8.4 Snapshot:labctl-base User:root PasswordFile:}")
	eq(t, "adapter", p.BridgeAdapter, "wlp2s0")
	eq(t, "gateway", p.Gateway.String(), "192.168.1.1")
	eq(t, "vip", p.VIP.String(), "192.168.1.167")
	eq(t, "vip name", p.VIPHostname, "sql-vip")
	eq(t, "profile", p.Profile, "el8")
	eq(t, "ssh user", p.SSHUser, "root")
	eq(t, "router id", p.VRRPRouterID, RouterIDFor("wordpress-ha"))
	eq(t, "expel", p.GRMemberExpelTimeout, 0)
	eq(t, "state dir", p.StateDir, filepath.Join(os.Getenv(StateDirEnv), "wordpress-ha"))
	want := []string{
		"SQL-ONE sql-one 192.168.1.100 db 1 2 2048",
		"SQL-TWO sql-two 192.168.1.101 db 2 2 2048",
		"SQL-THREE sql-three 192.168.1.102 db 3 2 2048",
		"SERVER-ONE server-one 192.168.1.160 web 1 1 1024",
		"SERVER-TWO server-two 192.168.1.161 web 2 1 1024",
		"LOAD-BALANCER load-balancer 192.168.1.162 lb 1 1 512",
	}
	if len(p.Nodes) != len(want) {
		t.Fatalf("%d nodes, want %d", len(p.Nodes), len(want))
	}
	for i, n := range p.Nodes {
		eq(t, "node", fmt.Sprint(n.VM, " ", n.Hostname, " ", n.IP, " ", n.Role, " ", n.Index, " ", n.CPUs, " ", n.MemoryMB), want[i])
	}
	// The default file is the reference: every key labctl knows is in it,
	// each with a comment above its group.
	pos := scanPositions(data)
	for _, k := range []string{"name", "state_dir", "base.vm", "base.snapshot", "base.user", "base.password_file",
		"base.profile", "base.ssh_user", "network.bridge_adapter", "network.network", "network.gateway",
		"network.dns", "network.vip", "network.vip_hostname", "roles.db.cpus", "roles.db.memory_mb",
		"roles.web.cpus", "roles.web.memory_mb", "roles.lb.cpus", "roles.lb.memory_mb",
		"nodes[0].vm", "nodes[0].hostname", "nodes[0].ip", "nodes[0].role", "packages.mirror", "packages.release",
		"wordpress.archive", "wordpress.sha256", "wordpress.title", "wordpress.admin_user",
		"wordpress.admin_email", "mysql.member_expel_timeout", "keepalived.router_id"} {
		if _, ok := pos.lines[k]; !ok {
			t.Errorf("default lab.toml does not show key %s", k)
		}
	}
	if strings.Contains(strings.ToLower(string(data)), "password =") {
		t.Error("default lab.toml has a password line")
	}
}

func TestPlanNeedsHostOrLabNetwork(t *testing.T) {
	data, _, _ := readFixture(t, filepath.Join(fixtureDir, "valid-minimal.toml"))
	c, err := Parse("lab.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(StateDirEnv, t.TempDir())
	_, err = c.Plan(HostNet{})
	if err == nil {
		t.Fatal("planned without any network")
	}
	for _, w := range []string{
		"lab.toml: network.bridge_adapter is empty and no host interface carrying the default route was found; set bridge_adapter",
		"lab.toml: network.network is empty and this computer's network could not be detected; set network = \"192.168.1.0/24\"",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	// A point-to-point (/32) host network cannot hold a lab.
	_, err = c.Plan(HostNet{Adapter: "tun0", Prefix: netip.MustParsePrefix("10.9.0.5/32")})
	if err == nil || !strings.Contains(err.Error(), "network.network is empty and the detected network of adapter \"tun0\" does not suit the lab") {
		t.Errorf("want a clear error for a /32 host network, got %v", err)
	}
}

func TestParseReportsEveryProblemOnItsOwnLine(t *testing.T) {
	data, wants, _ := readFixture(t, filepath.Join(fixtureDir, "invalid-many.toml"))
	_, err := Parse("lab.toml", data)
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(wants) || len(wants) < 4 {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), len(wants), err)
	}
	// In file order.
	re := regexp.MustCompile(`^lab\.toml:(\d+): `)
	last := 0
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line without file:line: %q", l)
		}
		var n int
		fmt.Sscan(m[1], &n)
		if n < last {
			t.Errorf("problems out of order: %q after line %d", l, last)
		}
		last = n
	}
}

func TestResolve(t *testing.T) {
	embedded, err := os.ReadFile("../lab.toml")
	if err != nil {
		t.Fatal(err)
	}
	minimal, err := filepath.Abs(filepath.Join(fixtureDir, "valid-minimal.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)

	c, err := Resolve("", embedded)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "no file → embedded", c.File, EmbeddedName)
	eq(t, "embedded name", c.Name, "wordpress-ha")

	local, _ := os.ReadFile(minimal)
	if err := os.WriteFile("lab.toml", local, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Resolve("", embedded)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "./lab.toml wins", c.File+" "+c.Name, "lab.toml mini")

	c, err = Resolve(filepath.Join(absFixtureDir, "valid-debian.toml"), embedded)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "--lab wins", c.Name, "deb_lab")

	_, err = Resolve("missing.toml", embedded)
	if err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing --lab file: %v", err)
	}
}

// absFixtureDir is the fixture folder for tests that chdir.
var absFixtureDir = func() string {
	d, err := filepath.Abs(fixtureDir)
	if err != nil {
		panic(err)
	}
	return d
}()

// Windows editors save CRLF line ends and sometimes a byte-order mark.
func TestCRLFAndBOM(t *testing.T) {
	data, wants, _ := readFixture(t, filepath.Join(fixtureDir, "invalid-ip-octet.toml"))
	body := strings.SplitN(string(data), "\n", 2)[1] // drop the want line: the key is on line 38 now
	for name, in := range map[string]string{
		"crlf":     strings.ReplaceAll(body, "\n", "\r\n"),
		"bom":      "\ufeff" + body,
		"bom+crlf": "\ufeff" + strings.ReplaceAll(body, "\n", "\r\n"),
	} {
		_, err := Parse("lab.toml", []byte(in))
		want := strings.Replace(wants[0], "lab.toml:39:", "lab.toml:38:", 1)
		if err == nil || err.Error() != want+`; write a host part such as ".100" (joined to the network) or a full address such as "192.168.1.100"` {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The name key on the first line is found despite the mark.
	if l := scanPositions([]byte("\ufeffname = \"x\"\r\n")).line("name"); l != 1 {
		t.Errorf("name after a BOM on line %d", l)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(fixtureDir, "invalid-ip-octet.toml")
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":") {
		t.Fatalf("error should start with %s: %v", path, err)
	}
}

func TestAddrSpec(t *testing.T) {
	p24 := netip.MustParsePrefix("192.168.1.0/24")
	p16 := netip.MustParsePrefix("10.8.0.0/16")
	for _, tc := range []struct {
		in     string
		prefix netip.Prefix
		want   string // address, or "!" + part of the error
	}{
		{".100", p24, "192.168.1.100"},
		{".0", p24, "192.168.1.0"},
		{".255", p24, "192.168.1.255"},
		{".1.100", p16, "10.8.1.100"},
		{".3.2.1", p16, "10.3.2.1"},
		{"172.16.0.9", p24, "172.16.0.9"},
		{".256", p24, "!not a valid host part"},
		{".01", p24, "!not a valid host part"},
		{".", p24, "!not a valid host part"},
		{"..1", p24, "!not a valid host part"},
		{".1.2.3.4", p24, "!too many parts"},
		{"192.168.1.300", p24, "!is not an IPv4 address"},
		{"fe80::1", p24, "!the lab network is IPv4"},
		{"100", p24, "!is not an IPv4 address"},
	} {
		a, msg := parseAddrSpec(tc.in)
		if strings.HasPrefix(tc.want, "!") {
			if !strings.Contains(msg, tc.want[1:]) {
				t.Errorf("%q: msg %q, want %q", tc.in, msg, tc.want[1:])
			}
			continue
		}
		if msg != "" {
			t.Errorf("%q: %s", tc.in, msg)
			continue
		}
		eq(t, tc.in, a.in(tc.prefix).String(), tc.want)
	}
}

func TestParseNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.0/24":  "192.168.1.0/24",
		"192.168.1.37/24": "192.168.1.0/24", // as `ip a` prints it
		"10.0.0.0/8":      "10.0.0.0/8",
		"10.0.0.0/7":      "!mask between /8 and /29",
		"10.0.0.0/30":     "!mask between /8 and /29",
		"fd00::/64":       "!not an IPv4 network",
		"192.168.1.0":     "!is not a network",
	} {
		p, msg := parseNetwork(in)
		if strings.HasPrefix(want, "!") {
			if !strings.Contains(msg, want[1:]) {
				t.Errorf("%q: %q", in, msg)
			}
			continue
		}
		eq(t, in, p.String(), want)
	}
	eq(t, "broadcast", broadcast(netip.MustParsePrefix("10.8.0.0/16")).String(), "10.8.255.255")
}

func TestRouterIDFor(t *testing.T) {
	eq(t, "stable", RouterIDFor("wordpress-ha"), RouterIDFor("wordpress-ha"))
	distinct := map[int]bool{}
	for i := 0; i < 2000; i++ {
		id := RouterIDFor(fmt.Sprintf("lab-%d", i))
		if id < 1 || id > 255 || id == 50 || id == 51 {
			t.Fatalf("lab-%d: router id %d", i, id)
		}
		distinct[id] = true
	}
	if len(distinct) < 240 { // close to the 253 possible values
		t.Errorf("only %d distinct router ids over 2000 names", len(distinct))
	}
}

func TestStateDirChoice(t *testing.T) {
	c := &Config{Name: "lab1", File: filepath.Join("labs", "lab1.toml")}
	t.Setenv(StateDirEnv, "/tmp/st")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	d, _ := c.stateDir()
	eq(t, "env wins", d, filepath.Join("/tmp/st", "lab1"))
	t.Setenv(StateDirEnv, "")
	d, _ = c.stateDir()
	eq(t, "xdg", d, filepath.Join("/xdg", "labctl", "lab1"))
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	d, _ = c.stateDir()
	eq(t, "home", d, filepath.Join("/home/u", ".local", "state", "labctl", "lab1"))
	c.StateDir = "state"
	d, _ = c.stateDir()
	eq(t, "state_dir relative to the lab file", d, filepath.Join("labs", "state"))
	c.StateDir = "~/labstate"
	d, _ = c.stateDir()
	eq(t, "state_dir with ~", d, filepath.Join("/home/u", "labstate"))
}

func TestPositions(t *testing.T) {
	src := `# comment with [[nodes]] and ip = "x"
name = "a" # trailing
text = """
[[nodes]]
ip = "inside a string"
"""
lit = '''
[base]
'''
list = [
  "a", # comment ]
  [1, 2],
]
"quoted key" = 1
dotted.key = 2

[base]
vm = 'x'

[[nodes]]
vm = "A"
ip = ".1"

[nodes.extra]
k = 1

[[nodes]]
inline = { a = 1, b = { c = 2 } }
ip = ".2"
`
	p := scanPositions([]byte(src))
	for path, want := range map[string]int{
		"name": 2, "text": 3, "lit": 7, "list": 10, "list[1]": 12,
		"quoted key": 14, "dotted.key": 15, "base": 17, "base.vm": 18,
		"nodes": 20, "nodes[0]": 20, "nodes[0].vm": 21, "nodes[0].ip": 22,
		"nodes[0].extra.k": 25, "nodes[1]": 27, "nodes[1].inline.b.c": 28, "nodes[1].ip": 29,
		"nodes[1].cpus": 27, // falls back to the element
	} {
		if got := p.line(path); got != want {
			t.Errorf("line(%s) = %d, want %d", path, got, want)
		}
	}
	if _, ok := p.lines["list[2]"]; ok {
		t.Error("a trailing comma made an array element")
	}
	if _, ok := p.lines["ip"]; ok {
		t.Error("text inside a string or comment was taken for a key")
	}
}

// FuzzParse: Parse (and Plan on success) must never panic, and every error
// must be a located *ConfigError.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.toml"))
	files = append(files, "../lab.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("nodes = [{vm='A', ip='.1'}, 3, [\n]]\n[[nodes]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scanPositions(data)
		c, err := Parse("f.toml", data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error is not a *ConfigError with problems: %v", err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, p := range ce.Problems {
				if p.File != "f.toml" || p.Line < 0 || p.Line > lines || p.Msg == "" {
					t.Fatalf("bad problem %+v (file has %d lines)", p, lines)
				}
			}
			return
		}
		for _, h := range []HostNet{testHost, {}} {
			p, err := c.Plan(h)
			if err == nil {
				if len(p.DB()) != 3 || p.LB() == nil || len(p.Web()) == 0 {
					t.Fatalf("plan breaks the role rules: %+v", p)
				}
			}
		}
	})
}

// TestReleaseFixesAreValid: each [packages] release problem suggests a
// `release = "..."` line; written in place of the bad one, the lab is valid.
func TestReleaseFixesAreValid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "invalid-release-*.toml"))
	if len(files) < 4 {
		t.Fatalf("want the release fixtures, found %v", files)
	}
	fixRe := regexp.MustCompile(`release = "[^"]*"`)
	lineRe := regexp.MustCompile(`(?m)^release = .*$`)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, _, host := readFixture(t, file)
			_, err := Parse("lab.toml", data)
			if err == nil {
				t.Fatal("accepted")
			}
			fixes := fixRe.FindAllString(err.Error(), -1)
			if len(fixes) == 0 {
				t.Fatalf("no release = \"...\" fix suggested: %v", err)
			}
			for _, fix := range fixes {
				fixed := lineRe.ReplaceAllLiteralString(string(data), fix)
				c, err := Parse("lab.toml", []byte(fixed))
				if err == nil {
					t.Setenv(StateDirEnv, t.TempDir())
					_, err = c.Plan(host)
				}
				if err != nil {
					t.Errorf("the suggested fix %s is itself refused: %v", fix, err)
				}
			}
		})
	}
}
