package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"labctl/lab"
)

// kaTestConfig renders DB node i's keepalived files for iface into a fresh
// folder of checker c, and returns the config's path as c sees it.
func kaTestConfig(t *testing.T, c wtChecker, profile string, i int, iface string) string {
	t.Helper()
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile(profile))
	files, err := kaRender(fl.env(p), p.DB()[i], iface)
	if err != nil {
		t.Fatal(err)
	}
	dir := c.dir(t)
	script := filepath.Join(dir, "check_primary.sh")
	if err := os.WriteFile(c.file(script), files.Script.Content, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := strings.ReplaceAll(string(files.Config.Content), `"`+kaCheckScript+`"`, `"`+script+`"`)
	if conf == string(files.Config.Content) {
		t.Fatal("check script path not found in the rendered config")
	}
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(c.file(path), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// kaConfigTest runs `keepalived -t -f conf` of checker c in a new network
// namespace that has an interface iface carrying ip (keepalived -t checks
// the interfaces of the namespace it runs in). No packet is sent.
func kaConfigTest(t *testing.T, c wtChecker, ka, conf, iface, ip string) (string, error) {
	script := `set -e
ip link set lo up
ip link add "$1" type veth peer name "$1p"
ip addr add "$2"/24 dev "$1"
ip link set "$1" up
shift 2
exec "$@"
`
	args := append([]string{"-n", "sh", "-c", script, "sh", iface, ip}, c.argv(ka, "-t", "-f", conf)...)
	out, err := exec.Command("unshare", args...).CombinedOutput()
	return string(out), err
}

// kaNeedNetns skips unless keepalived -t can run in a private namespace.
func kaNeedNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private network namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
}

// kaCheckAccepted: keepalived -t of checker c accepts DB node i's config
// without a word: keepalived 2.1.5 exits 0 even for an unknown keyword or
// interface and only says so, so any output counts as a refusal.
func kaCheckAccepted(t *testing.T, c wtChecker, ka, profile string, i int) {
	t.Helper()
	kaNeedNetns(t)
	n := dbTestPlan().DB()[i]
	conf := kaTestConfig(t, c, profile, i, "labka0")
	if out, err := kaConfigTest(t, c, ka, conf, "labka0", n.IP.String()); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("%s %s %s: keepalived -t rejects or warns about the rendered config: %v\n%s", c.name, profile, n.VM, err, out)
	}
}

// kaCheckRefusals: the checker is effective: the wrong interface, a missing
// check script and an unknown keyword are each refused (an error or a word).
func kaCheckRefusals(t *testing.T, c wtChecker, ka string) {
	t.Helper()
	kaNeedNetns(t)
	refused := func(what, conf, iface string) {
		out, err := kaConfigTest(t, c, ka, conf, iface, "192.168.1.100")
		if err == nil && strings.TrimSpace(out) == "" {
			t.Errorf("%s: keepalived -t accepted %s", c.name, what)
		}
	}
	conf := kaTestConfig(t, c, "el8", 0, "labka0")
	refused("a config for an interface that does not exist", conf, "other0")
	bogus := kaTestConfig(t, c, "el8", 0, "labka0")
	b, err := os.ReadFile(c.file(bogus))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.file(bogus), []byte(strings.Replace(string(b), "    priority 100\n", "    priority 100\n    no_such_keyword 1\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	refused("an unknown keyword", bogus, "labka0")
	if err := os.Remove(c.file(filepath.Join(filepath.Dir(conf), "check_primary.sh"))); err != nil {
		t.Fatal(err)
	}
	refused("a config whose check script is missing", conf, "labka0")
}

func TestKeepalivedConfigPassesKeepalivedT(t *testing.T) {
	ka, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("keepalived not installed (apt-get install -y keepalived)")
	}
	kaNeedNetns(t)
	for _, profile := range []string{"el8", "debian"} {
		for i := range dbTestPlan().DB() {
			kaCheckAccepted(t, wtHostChecker, ka, profile, i)
		}
	}
	kaCheckRefusals(t, wtHostChecker, ka)
}

func TestKeepalivedConfigContent(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	files, err := kaRender(fl.env(p), p.DB()[1], "enp0s3")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(files.Config.Content)
	for _, want := range []string{
		"unicast_src_ip 192.168.1.101", "192.168.1.100\n", "192.168.1.102\n", "virtual_router_id 173",
		"192.168.1.150/24 dev enp0s3", "interface enp0s3", "enable_script_security", "init_fail", "state BACKUP",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	// Keywords that would break "only the primary holds the VIP" (a weight
	// lets a failing node stay MASTER) or the unicast/no-auth design.
	for _, bad := range []string{"auth_type", "authentication", "vrrp_strict", "nopreempt", "weight", "state MASTER"} {
		if regexp.MustCompile(`(?m)^\s*` + bad + `\b`).MatchString(conf) {
			t.Errorf("config has the keyword %q", bad)
		}
	}
	if strings.Contains(conf, "        192.168.1.101\n") {
		t.Error("a node must not list itself as a unicast peer")
	}
	if files.OptionFile.Mode != 0o600 || files.Script.Mode != 0o700 {
		t.Errorf("modes: option file %o, script %o", files.OptionFile.Mode, files.Script.Mode)
	}
	if strings.Contains(string(files.Script.Content), p.Name) && strings.Contains(string(files.Script.Content), dbTestSecrets().Verifier) {
		t.Error("check script holds the verifier password")
	}
}

func TestKeepalivedReloadsOnlyOnChange(t *testing.T) {
	fl, env := dbFormedLab(t, "el8")
	for _, n := range env.Plan.DB() {
		if fl.nodes[n.VM].reloads != 0 {
			t.Errorf("%s: reloaded on first start", n.VM)
		}
	}
	env.Plan.VRRPRouterID = 174
	dbConverge(t, env, Keepalived())
	for _, n := range env.Plan.DB() {
		if fl.nodes[n.VM].reloads != 1 {
			t.Errorf("%s: %d reloads after a router id change, want 1", n.VM, fl.nodes[n.VM].reloads)
		}
	}
	// Every activation tested the staged config with keepalived -t first.
	for _, s := range fl.nodes["SQL-ONE"].scripts {
		if strings.Contains(s, "systemctl reload") && !strings.Contains(s, `keepalived -t -f "$new"`) {
			t.Errorf("reload without keepalived -t: %s", s)
		}
	}
	_ = context.Background

	// A run killed after moving the new file in place but before the
	// reload: the file is current, keepalived runs the old one. The next
	// check says so and the apply reloads although no file changes now.
	n := env.Plan.DB()[0]
	f := fl.nodes[n.VM]
	delete(f.stamps, kaStamp)
	st, err := Keepalived().Check(context.Background(), env, n)
	if err != nil || st.Done || !strings.Contains(st.Why, "has not loaded the current configuration") {
		t.Fatalf("after a lost reload: done=%v why=%q err=%v", st.Done, st.Why, err)
	}
	before := f.reloads
	dbConverge(t, env, Keepalived())
	if f.reloads != before+1 {
		t.Errorf("%d reloads after a lost one, want 1", f.reloads-before)
	}
}

// The check script itself, run by /bin/sh with a stand-in mysql that gives
// a scripted sequence of answers: OK passes at once, NO fails at once,
// WAIT is asked again every 0.1 s until OK or the bound, a failing mysql
// fails the check, and so does a mysqld that systemd no longer calls active
// (without asking mysql at all).
func TestKeepalivedCheckScriptAnswers(t *testing.T) {
	p := dbTestPlan()
	files := kaScriptsUnderTest(t, p)
	for _, c := range []struct {
		name    string
		answers []string // one per mysql call; "fail" = exit 1
		exit    int
		calls   int
	}{
		{"primary", []string{"OK"}, 0, 1},
		{"secondary", []string{"NO"}, 1, 1},
		{"elected during the wait", []string{"WAIT", "WAIT", "WAIT", "OK"}, 0, 4},
		{"no election within the bound", []string{"WAIT", "WAIT", "WAIT", "WAIT", "WAIT", "WAIT", "WAIT", "WAIT", "WAIT"}, 1, kaWaitPolls + 1},
		{"mysqld down", []string{"fail"}, 1, 1},
		{"mysqld gone during the wait", []string{"WAIT", "fail"}, 1, 2},
		{"mysqld being stopped", []string{"inactive", "OK"}, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "answers"), []byte(strings.Join(c.answers, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// Each call takes the next answer; the call count is the file's length.
			stub := "#!/bin/sh\necho x >>\"" + dir + "/calls\"\nn=$(wc -l <\"" + dir + "/calls\")\n" +
				"a=$(sed -n \"${n}p\" \"" + dir + "/answers\")\n[ \"$a\" = fail ] && exit 1\necho \"$a\"\n"
			if err := os.WriteFile(filepath.Join(dir, "mysql"), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			// systemd says whether mysqld is active; the "inactive" case is a stop under way.
			unit := "#!/bin/sh\n[ \"$*\" = \"is-active --quiet mysqld\" ] || exit 2\nexit 0\n"
			if c.answers[0] == "inactive" {
				unit = "#!/bin/sh\nexit 3\n"
			}
			if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(unit), 0o755); err != nil {
				t.Fatal(err)
			}
			script := strings.Replace(string(files.Script.Content), "PATH=/usr/sbin", "PATH="+dir+":/usr/sbin", 1)
			path := filepath.Join(dir, "check.sh")
			if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			err := exec.Command("/bin/sh", path).Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			if n := strings.Count(string(calls), "\n"); code != c.exit || n != c.calls {
				t.Errorf("exit %d after %d mysql calls, want exit %d after %d", code, n, c.exit, c.calls)
			}
		})
	}
}

// TestMySQLHandoverScript runs the script mysqld's stop runs first (with
// mysql and ip stubbed): a primary hands its role to the lowest-UUID ONLINE
// secondary, then waits, bounded, for the VIP to leave; anything else lets
// the stop go on at once, and it never fails the stop.
func TestMySQLHandoverScript(t *testing.T) {
	p := dbTestPlan()
	files := kaScriptsUnderTest(t, p)
	gaShellcheck(t, "mysql-handover", string(files.Handover.Content))
	if !strings.Contains(string(files.HandoverDropIn.Content), "ExecStop=-"+kaHandover+"\n") ||
		files.HandoverDropIn.Path != "/etc/systemd/system/mysqld.service.d/labctl-handover.conf" {
		t.Errorf("drop-in %s:\n%s", files.HandoverDropIn.Path, files.HandoverDropIn.Content)
	}
	const to = "4b1b0c2e-0000-4000-8000-000000000002"
	for _, c := range []struct {
		name     string
		mainPID  string
		answers  []string // one per mysql call; "fail" = exit 1
		vipFor   int      // ip shows the VIP this many times
		calls    int
		handover bool
		ipCalls  int
	}{
		{"primary hands over, VIP leaves", "42", []string{"PRIMARY", to, "0"}, 3, 3, true, 4},
		{"secondary stops at once", "42", []string{"SECONDARY"}, 0, 1, false, 0},
		{"crash: systemd runs it without MAINPID", "", []string{"PRIMARY", to, "0"}, 0, 0, false, 0},
		{"mysqld not answering", "42", []string{"fail"}, 0, 1, false, 0},
		{"no other ONLINE member", "42", []string{"PRIMARY", ""}, 0, 2, false, 0},
		{"VIP never leaves: bounded", "42", []string{"PRIMARY", to, "0"}, 1000, 3, true, kaHandoverVIPPolls + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "answers"), []byte(strings.Join(c.answers, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			stub := "#!/bin/sh\nfor a; do last=$a; done\necho \"$last\" >>\"" + dir + "/calls\"\nn=$(wc -l <\"" + dir + "/calls\")\n" +
				"a=$(sed -n \"${n}p\" \"" + dir + "/answers\")\n[ \"$a\" = fail ] && exit 1\necho \"$a\"\n"
			ip := fmt.Sprintf("#!/bin/sh\necho x >>%q\nn=$(wc -l <%q)\n[ \"$n\" -gt %d ] || echo '2: eth0    inet %s/24 scope global eth0'\n",
				dir+"/ipcalls", dir+"/ipcalls", c.vipFor, p.VIP)
			for name, body := range map[string]string{"mysql": stub, "ip": ip} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			script := strings.Replace(string(files.Handover.Content), "PATH=/usr/sbin", "PATH="+dir+":/usr/sbin", 1)
			path := filepath.Join(dir, "handover.sh")
			if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", path)
			cmd.Env = []string{"MAINPID=" + c.mainPID}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the handover failed (it must never fail a stop): %v\n%s", err, out)
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
			if len(calls) == 0 {
				lines = nil
			}
			if len(lines) != c.calls {
				t.Errorf("%d mysql calls, want %d: %q", len(lines), c.calls, lines)
			}
			handed := len(lines) == 3 && lines[2] == "--execute=SELECT group_replication_set_as_primary('"+to+"')"
			if handed != c.handover {
				t.Errorf("handed over: %v, want %v (calls %q)", handed, c.handover, lines)
			}
			ipCalls, _ := os.ReadFile(filepath.Join(dir, "ipcalls"))
			if n := strings.Count(string(ipCalls), "\n"); n != c.ipCalls {
				t.Errorf("ip called %d times, want %d", n, c.ipCalls)
			}
		})
	}
}

// kaScriptsUnderTest renders SQL-ONE's keepalived files (el8) for the tests
// that run its scripts in a shell with stubs (they need timeout).
func kaScriptsUnderTest(t *testing.T, p *lab.Plan) kaFiles {
	t.Helper()
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skip("timeout (coreutils) not installed")
	}
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	files, err := kaRender(fl.env(p), p.DB()[0], "enp0s3")
	if err != nil {
		t.Fatal(err)
	}
	return files
}
