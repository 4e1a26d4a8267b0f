package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"labctl/guest"
	"labctl/lab"
)

// wtWebSteps are the web-side steps in pipeline order.
func wtWebSteps() []Step {
	return []Step{Firewall(), SELinux(), Web(), LoadBalancer(), WordPressInstall(), Verify()}
}

// wtRunFlow runs every web-side step over a fresh fake lab the way the runner
// does (Check, Apply where not done, re-Check) and returns the lab and
// everything the guests received: uploaded files under files/, scripts as
// <step>-N.sh, programs piped to them as <step>-N.stdin (secrets excluded).
func wtRunFlow(t *testing.T, profile string) (*wtLab, map[string][]byte) {
	t.Helper()
	l := wtFakeLab(t, profile)
	wtHealthyLab(l)
	ctx := context.Background()
	for _, st := range wtWebSteps() {
		for _, g := range l.guests {
			g.label = st.Name() // verify also probes nodes it does not target
		}
		for _, n := range st.Targets(l.env.Plan) {
			s, err := st.Check(ctx, l.env, n)
			if err != nil {
				t.Fatalf("%s %s: check: %v", st.Name(), n.VM, err)
			}
			if s.Done {
				continue
			}
			if err := st.Apply(ctx, l.env, n); err != nil {
				t.Fatalf("%s %s: apply: %v", st.Name(), n.VM, err)
			}
			if s, err = st.Check(ctx, l.env, n); err != nil || !s.Done {
				t.Fatalf("%s %s: re-check after apply: done=%v why=%q err=%v", st.Name(), n.VM, s.Done, s.Why, err)
			}
		}
	}
	wtNoSecretInScripts(t, l)

	out := map[string][]byte{}
	for _, g := range l.guests {
		host := g.node.Hostname
		for _, f := range g.ups {
			if strings.HasSuffix(f.Path, ".tar.gz") {
				continue
			}
			out[host+"/files"+f.Path] = f.Content
		}
		seen := map[string]bool{}
		count := map[string]int{}
		for i, c := range g.cmds {
			if seen[c.Script+"\x00"+string(c.Stdin)] {
				continue
			}
			seen[c.Script+"\x00"+string(c.Stdin)] = true
			count[g.labels[i]]++
			name := fmt.Sprintf("%s/%s-%d", host, g.labels[i], count[g.labels[i]])
			out[name+".sh"] = []byte(c.Script)
			if bytes.HasPrefix(c.Stdin, []byte("<?php")) {
				out[name+".stdin.php"] = c.Stdin
			}
		}
	}
	return l, out
}

func TestWebStepsConvergeAndMatchGolden(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		t.Run(profile, func(t *testing.T) {
			_, got := wtRunFlow(t, profile)
			dir := filepath.Join("testdata", "golden", "web", profile)
			if wtUpdate() {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				for name, content := range got {
					p := filepath.Join(dir, filepath.FromSlash(name))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, content, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want := map[string]bool{}
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				want[filepath.ToSlash(rel)] = true
				return nil
			})
			if err != nil {
				t.Fatalf("golden files missing (run go test ./steps -run TestWebSteps -update): %v", err)
			}
			for name, content := range got {
				g, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
				if err != nil {
					t.Errorf("%s: no golden file (run with -update): %v", name, err)
					continue
				}
				if !bytes.Equal(g, content) {
					t.Errorf("%s differs from its golden file (run with -update if intended):\n--- got\n%s", name, content)
				}
			}
			for name := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("golden file %s is no longer produced (run with -update)", name)
				}
			}
		})
	}
}

// wtNeed skips the test when a checker program is missing.
func wtNeed(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s not installed (CI installs it: apt-get install -y %s)", prog, pkg)
	}
	return p
}

func wtSorted(m map[string][]byte, keep func(string) bool) []string {
	var out []string
	for k := range m {
		if keep(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestWebScriptsPassShellcheck(t *testing.T) {
	sc := wtNeed(t, "shellcheck", "shellcheck")
	for _, profile := range []string{"el8", "debian"} {
		_, got := wtRunFlow(t, profile)
		names := wtSorted(got, func(n string) bool { return strings.HasSuffix(n, ".sh") })
		if len(names) < 10 {
			t.Fatalf("%s: only %d scripts rendered", profile, len(names))
		}
		// One shellcheck run over all scripts: files are named after the golden paths.
		dir := t.TempDir()
		var files []string
		for _, name := range names {
			f := filepath.Join(dir, strings.ReplaceAll(name, "/", "__"))
			if err := os.WriteFile(f, got[name], 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		// Scripts run under /bin/sh; every severity counts, down to style.
		out, err := exec.Command(sc, append([]string{"-s", "sh"}, files...)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: shellcheck: %v\n%s", profile, err, out)
		}
	}
}

func TestWebPHPPassesPHPLint(t *testing.T) {
	php := wtNeed(t, "php", "php-cli")
	for _, profile := range []string{"el8", "debian"} {
		wtCheckPHPLint(t, wtHostChecker, php, profile)
	}
}

// wtCheckPHPLint runs php -l of checker c on every PHP file profile's flow
// renders (and the verify probe), and returns how many.
func wtCheckPHPLint(t *testing.T, c wtChecker, php, profile string) int {
	t.Helper()
	_, got := wtRunFlow(t, profile)
	names := wtSorted(got, func(n string) bool { return strings.HasSuffix(n, ".php") })
	var sawConfig, sawInstall, sawCheck bool
	for _, name := range names {
		sawConfig = sawConfig || strings.HasSuffix(name, "/wp-config.php")
		sawInstall = sawInstall || strings.HasSuffix(name, "/wp-install.php")
		sawCheck = sawCheck || strings.HasSuffix(name, ".stdin.php")
		wtPHPLint(t, c, php, profile+"/"+name, got[name])
	}
	if !sawConfig || !sawInstall || !sawCheck {
		t.Errorf("%s: PHP files missing from the flow: %v", profile, names)
	}
	// The verify probe goes to php -r: lint it as a file.
	l := wtNewLab(t, profile)
	prog, err := webRender("verify-db.php.tmpl", map[string]any{"VIP": l.env.Plan.VIP.String(), "DBUser": MySQLWordPressUser, "DBName": WordPressDatabase})
	if err != nil {
		t.Fatal(err)
	}
	wtPHPLint(t, c, php, "verify-db.php", prog)
	return len(names) + 1
}

func wtPHPLint(t *testing.T, c wtChecker, php, name string, content []byte) {
	t.Helper()
	f := filepath.Join(c.dir(t), "f.php")
	if err := os.WriteFile(c.file(f), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.cmd(php, "-n", "-l", f).CombinedOutput(); err != nil {
		t.Errorf("%s %s: php -l: %v\n%s", c.name, name, err, out)
	}
}

// TestWPConfigEvaluates runs the rendered wp-config.php in real PHP (with
// ABSPATH pointed at an empty wp-settings.php) and checks the constants it
// defines: quoting of salts and passwords is where hand-written configs break.
func TestWPConfigEvaluates(t *testing.T) {
	wtCheckWPConfig(t, wtHostChecker, wtNeed(t, "php", "php-cli"))
}

func wtCheckWPConfig(t *testing.T, c wtChecker, php string) {
	t.Helper()
	l := wtNewLab(t, "el8")
	cfg, err := webWPConfig(l.env)
	if err != nil {
		t.Fatal(err)
	}
	dir := c.dir(t)
	if err := os.WriteFile(c.file(filepath.Join(dir, "wp-config.php")), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.file(filepath.Join(dir, "wp-settings.php")), []byte("<?php\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code := `define('ABSPATH', $argv[1] . '/'); require $argv[1] . '/wp-config.php';
foreach (['DB_NAME','DB_USER','DB_PASSWORD','DB_HOST','WP_HOME','WP_SITEURL','AUTH_KEY','NONCE_SALT'] as $c) { echo $c, '=', constant($c), "\n"; }
echo 'prefix=', $table_prefix, "\n";`
	out, err := c.cmd(php, "-n", "-r", code, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%s php: %v\n%s", c.name, err, out)
	}
	s := l.env.Secrets
	for _, want := range []string{
		"DB_NAME=wordpress", "DB_USER=wordpress", "DB_PASSWORD=" + s.WordPressDB, "DB_HOST=192.168.1.150",
		"WP_HOME=http://192.168.1.120", "WP_SITEURL=http://192.168.1.120",
		"AUTH_KEY=" + s.WPSalts["AUTH_KEY"], "NONCE_SALT=" + s.WPSalts["NONCE_SALT"], "prefix=wp_",
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("%s: wp-config.php does not define %q; php printed:\n%s", c.name, want, out)
		}
	}
}

// wtNginxTest runs nginx -t of checker c on a main config inside a temp
// prefix (both as c sees them).
func wtNginxTest(t *testing.T, c wtChecker, nginx, name, mainConf, prefix string) {
	t.Helper()
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(c.file(conf), []byte(mainConf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-t", "-p", prefix, "-c", conf}
	if c.root == "" {
		// -e (nginx 1.19.5+): no write to the compiled-in log before the
		// config is read. The bullseye root's nginx 1.18 has its own log folder.
		args = append(args, "-e", filepath.Join(prefix, "error.log"))
	}
	out, err := c.cmd(nginx, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: nginx -t: %v\n%s\n--- config\n%s", c.name, name, err, out, mainConf)
	}
}

// wtNginxPrefix makes a prefix with the temp folders nginx wants.
func wtNginxPrefix(t *testing.T) (prefix, httpTemps string) { return wtNginxPrefixIn(t, wtHostChecker) }

// wtNginxPrefixIn is wtNginxPrefix in checker c (paths as c sees them).
func wtNginxPrefixIn(t *testing.T, c wtChecker) (prefix, httpTemps string) {
	prefix = c.dir(t)
	if err := os.Chmod(c.file(prefix), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tmp", "logs"} {
		if err := os.MkdirAll(c.file(filepath.Join(prefix, d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	httpTemps = ""
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		httpTemps += fmt.Sprintf("    %s_temp_path %s;\n", k, filepath.Join(prefix, "tmp", k))
	}
	return prefix, httpTemps
}

func TestWebNginxConfigsPassNginxT(t *testing.T) {
	nginx := wtNeed(t, "nginx", "nginx-light")
	for _, profile := range []string{"el8", "debian"} {
		wtCheckNginxConfigs(t, wtHostChecker, nginx, profile)
	}
}

// wtCheckNginxConfigs runs nginx -t of checker c on every nginx file
// profile's flow renders, and returns how many.
func wtCheckNginxConfigs(t *testing.T, c wtChecker, nginx, profile string) int {
	t.Helper()
	_, got := wtRunFlow(t, profile)
	confs := wtSorted(got, func(n string) bool {
		return strings.Contains(n, "/files/etc/nginx/") && strings.HasSuffix(n, ".conf")
	})
	var sites, mains int
	for _, name := range confs {
		prefix, temps := wtNginxPrefixIn(t, c)
		if strings.HasSuffix(name, "/nginx.conf") {
			// The whole nginx.conf: only the host-specific paths move into the prefix.
			mains++
			conf := string(got[name])
			conf = strings.Replace(conf, "user "+wtProfile(profile).NginxUser+";", "", 1)
			conf = strings.Replace(conf, "error_log /var/log/nginx/error.log;", "error_log "+prefix+"/logs/error.log;", 1)
			conf = strings.Replace(conf, "pid /run/nginx.pid;", "pid "+prefix+"/nginx.pid;", 1)
			conf = strings.Replace(conf, "access_log /var/log/nginx/access.log labctl;", "access_log "+prefix+"/logs/access.log labctl;\n"+temps, 1)
			conf = strings.Replace(conf, "include /etc/nginx/conf.d/*.conf;", "include "+prefix+"/conf.d/*.conf;", 1)
			for _, old := range []string{"/var/log/nginx", "/run/nginx.pid", "/etc/nginx/conf.d/"} {
				if strings.Contains(conf, old) {
					t.Fatalf("%s: test rewrite missed %s", name, old)
				}
			}
			wtNginxTest(t, c, nginx, profile+"/"+name, conf, prefix)
			continue
		}
		sites++
		site := filepath.Join(prefix, "site.conf")
		if err := os.WriteFile(c.file(site), got[name], 0o644); err != nil {
			t.Fatal(err)
		}
		main := fmt.Sprintf("pid %s/nginx.pid;\nerror_log %s/logs/error.log;\nevents {}\nhttp {\n    access_log off;\n%s    include %s;\n}\n",
			prefix, prefix, temps, site)
		wtNginxTest(t, c, nginx, profile+"/"+name, main, prefix)
	}
	// 2 web nodes + the LB each get nginx.conf and one server block.
	if mains != 3 || sites != 3 {
		t.Errorf("%s: %d nginx.conf and %d server blocks checked, want 3 and 3: %v", profile, mains, sites, confs)
	}
	return mains + sites
}

func TestWebArchiveFromURLIsCachedAndVerified(t *testing.T) {
	path, sum := wtArchive(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var hits int
	srv := wtServe(t, func(p string) ([]byte, int) {
		hits++
		if p != "/wordpress.tar.gz" {
			return nil, 404
		}
		return data, 200
	})
	l := wtNewLab(t, "el8")
	l.env.Plan.WordPressArchive = srv + "/wordpress.tar.gz"
	l.env.Plan.WordPressSHA256 = strings.ToUpper(sum)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		got, err := webArchive(ctx, l.env)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("fetch %d: wrong content", i)
		}
	}
	if hits != 1 {
		t.Errorf("archive downloaded %d times, want once (then from the cache)", hits)
	}
	matches, _ := filepath.Glob(filepath.Join(l.env.Plan.StateDir, "cache", "wordpress-*.tar.gz"))
	if len(matches) != 1 {
		t.Errorf("cache holds %v, want one archive", matches)
	}

	// A wrong pin is refused, naming both digests.
	l.env.Plan.WordPressSHA256 = strings.Repeat("0", 64)
	if _, err := webArchive(ctx, l.env); err == nil || !strings.Contains(err.Error(), sum) || !strings.Contains(err.Error(), "wordpress_sha256") {
		t.Errorf("sha256 mismatch: err = %v", err)
	}

	// Without a pin the digest goes to the log.
	l.env.Plan.WordPressSHA256 = ""
	if _, err := webArchive(ctx, l.env); err != nil {
		t.Fatal(err)
	}
	if log := l.env.Log.(*bytes.Buffer).String(); !strings.Contains(log, sum) {
		t.Errorf("log does not record the archive's sha256: %q", log)
	}

	// A URL that does not give a tarball fails clearly, and nothing is cached.
	l2 := wtNewLab(t, "el8")
	l2.env.Plan.WordPressArchive = srv + "/missing.tar.gz"
	if _, err := webArchive(ctx, l2.env); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing archive: err = %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(l2.env.Plan.StateDir, "cache", "*")); len(m) != 0 {
		t.Errorf("a failed download left %v in the cache", m)
	}

	// A host file that is not a tarball is refused.
	bad := filepath.Join(t.TempDir(), "wp.tar.gz")
	if err := os.WriteFile(bad, []byte("<html>not a tarball</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2.env.Plan.WordPressArchive = bad
	if _, err := webArchive(ctx, l2.env); err == nil || !strings.Contains(err.Error(), "not a .tar.gz") {
		t.Errorf("non-gzip archive: err = %v", err)
	}
}

func TestWebArchiveNotFetchedInPlanMode(t *testing.T) {
	l := wtNewLab(t, "el8")
	planSeams(l.env)
	l.env.Plan.WordPressArchive = "http://127.0.0.1:1/never.tar.gz"
	got, err := webArchive(context.Background(), l.env)
	if err != nil || !strings.Contains(string(got), "never.tar.gz") {
		t.Errorf("plan mode: %q, %v", got, err)
	}
}

func TestWebStepCheckApplyCheck(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		t.Run(profile, func(t *testing.T) {
			l := wtFakeLab(t, profile)
			lay := path0(l)
			for _, n := range Web().Targets(l.env.Plan) {
				st := wtCycle(t, Web(), l.env, n)
				for _, want := range []string{"WordPress is not unpacked", "wp-config.php is missing", "nginx is not installed, want active"} {
					if !strings.Contains(st.Why, want) {
						t.Errorf("%s: first check %q lacks %q", n.VM, st.Why, want)
					}
				}
				g := l.guests[n.VM]
				cfg, ok := g.files[lay.WPConfig]
				if !ok || cfg.Mode != 0o640 || cfg.Owner != "root:"+lay.PHPUser {
					t.Errorf("%s: wp-config.php %v %q, want 0640 root:%s", n.VM, cfg.Mode, cfg.Owner, lay.PHPUser)
				}
				if !bytes.Contains(cfg.Content, []byte(l.env.Secrets.WordPressDB)) {
					t.Errorf("%s: wp-config.php lacks the DB password", n.VM)
				}
				if _, left := g.files[lay.Archive]; left {
					t.Errorf("%s: the uploaded archive was left behind", n.VM)
				}
				// A second Apply (forced) does not unpack or upload the archive again.
				before := len(g.ups)
				if err := Web().Apply(context.Background(), l.env, n); err != nil {
					t.Fatal(err)
				}
				for _, f := range g.ups[before:] {
					if strings.HasSuffix(f.Path, ".tar.gz") {
						t.Errorf("%s: archive uploaded again on a node that has WordPress", n.VM)
					}
				}
			}
			// Both web nodes got the very same wp-config.php (salts, DB, URLs).
			a := l.guests["SERVER-ONE"].files[lay.WPConfig].Content
			b := l.guests["SERVER-TWO"].files[lay.WPConfig].Content
			if !bytes.Equal(a, b) {
				t.Error("the web nodes' wp-config.php differ")
			}
			wtNoSecretInScripts(t, l)

			// A drifted file or a stopped service is seen by Check.
			g := l.guests["SERVER-TWO"]
			resolved, err := webNodeLayout(context.Background(), l.env, l.node("SERVER-TWO"))
			if err != nil {
				t.Fatal(err)
			}
			g.facts["active "+resolved.PHPFPMService] = "failed"
			f := g.files[lay.SiteConf]
			f.Content = append([]byte("# edited by hand\n"), f.Content...)
			g.files[lay.SiteConf] = f
			st, err := Web().Check(context.Background(), l.env, l.node("SERVER-TWO"))
			if err != nil || st.Done || !strings.Contains(st.Why, "labctl-wordpress.conf differs") || !strings.Contains(st.Why, "is failed, want active") {
				t.Errorf("drift: %+v %v", st, err)
			}
		})
	}
}

func TestWebRefusesMissingSecrets(t *testing.T) {
	l := wtNewLab(t, "el8")
	delete(l.env.Secrets.WPSalts, "NONCE_SALT")
	if _, err := webWPConfig(l.env); err == nil || !strings.Contains(err.Error(), "NONCE_SALT") {
		t.Errorf("missing salt: %v", err)
	}
	l.env.Secrets.WordPressDB = ""
	if _, err := webWPConfig(l.env); err == nil {
		t.Error("missing DB password accepted")
	}
}

func TestWebPHPHelpers(t *testing.T) {
	if got := webPHPQuote(`a'b\c`); got != `'a\'b\\c'` {
		t.Errorf("webPHPQuote = %s", got)
	}
	for svc, want := range map[string]string{"php-fpm": "php-fpm", "php8.4-fpm": "php-fpm8.4", "php7.4-fpm": "php-fpm7.4"} {
		if got := webPHPFPMBinary(svc); got != want {
			t.Errorf("webPHPFPMBinary(%s) = %s, want %s", svc, got, want)
		}
	}
	if u := webPHPUser(wtProfile("el8")); u != "apache" {
		t.Errorf("el8 php user %s", u)
	}
	if u := webPHPUser(wtProfile("debian")); u != "www-data" {
		t.Errorf("debian php user %s", u)
	}
}

// wtBroken is a guest whose SSH connection fails.
type wtBroken struct{}

func (wtBroken) Run(context.Context, guest.Cmd) (guest.Result, error) {
	return guest.Result{}, errors.New("ssh: connection refused")
}
func (wtBroken) Upload(context.Context, guest.File) (bool, error) {
	return false, errors.New("ssh: connection refused")
}
func (wtBroken) String() string { return "broken" }

func TestWebSideErrorsNameTheNode(t *testing.T) {
	l := wtNewLab(t, "el8")
	l.env.SSH = func(*lab.Node) guest.Executor { return wtBroken{} }
	for _, st := range []Step{Firewall(), SELinux(), Web(), LoadBalancer(), WordPressInstall()} {
		n := st.Targets(l.env.Plan)[0]
		if _, err := st.Check(context.Background(), l.env, n); err == nil || !strings.Contains(err.Error(), n.VM) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s check: %v", st.Name(), err)
		}
		if err := st.Apply(context.Background(), l.env, n); err == nil || !strings.Contains(err.Error(), n.VM) {
			t.Errorf("%s apply: %v", st.Name(), err)
		}
	}
}

// wtServe serves fn on 127.0.0.1 for the test's lifetime.
func wtServe(t *testing.T, fn func(path string) ([]byte, int)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, code := fn(r.URL.Path)
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWebPHPFPMPoolPassesFPMTest loads each rendered pool in a real php-fpm
// (-t), with the accounts and socket moved to ones this machine has.
func TestWebPHPFPMPoolPassesFPMTest(t *testing.T) {
	bins, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(bins) == 0 {
		t.Skip("php-fpm not installed (CI installs it: apt-get install -y php-fpm)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no nobody account: %v", err)
	}
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Skipf("nobody's group: %v", err)
	}
	for _, profile := range []string{"el8", "debian"} {
		wtCheckFPMPools(t, wtHostChecker, bins[0], profile, nobody.Username, grp.Name)
	}
}

// wtCheckFPMPools loads each pool profile's flow renders in checker c's
// php-fpm (-t), with the accounts and socket moved to ones c has, and
// returns how many.
func wtCheckFPMPools(t *testing.T, c wtChecker, fpm, profile, userName, groupName string) int {
	t.Helper()
	_, got := wtRunFlow(t, profile)
	pools := wtSorted(got, func(n string) bool { return strings.HasSuffix(n, "/www.conf") })
	if len(pools) != 2 {
		t.Fatalf("%s: pools %v, want one per web node", profile, pools)
	}
	for _, name := range pools {
		dir := c.dir(t)
		var lines []string
		for _, line := range strings.Split(string(got[name]), "\n") {
			key, _, _ := strings.Cut(line, " = ")
			switch key {
			case "user", "listen.owner":
				line = key + " = " + userName
			case "group", "listen.group":
				line = key + " = " + groupName
			case "listen":
				line = key + " = " + filepath.Join(dir, "www.sock")
			}
			lines = append(lines, line)
		}
		pool := filepath.Join(dir, "pool.conf")
		main := filepath.Join(dir, "fpm.conf")
		if err := os.WriteFile(c.file(pool), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		global := fmt.Sprintf("[global]\npid = %s/fpm.pid\nerror_log = %s/error.log\ninclude = %s\n", dir, dir, pool)
		if err := os.WriteFile(c.file(main), []byte(global), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := c.cmd(fpm, "-n", "-t", "-y", main).CombinedOutput(); err != nil {
			t.Errorf("%s %s/%s: php-fpm -t: %v\n%s", c.name, profile, name, err, out)
		}
	}
	return len(pools)
}

// wtGetFrom fetches url from a chosen local address with extra headers.
func wtGetFrom(t *testing.T, local, url string, hdr map[string]string) (int, string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 3 * time.Second}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// TestWebServerBlockLoopback serves a stand-in docroot through the rendered
// web server block and php-fpm pool, in real nginx and php-fpm on
// 127.0.0.1, with 127.0.0.1 playing the load balancer: permalinks reach
// index.php, denied paths are denied, and X-Forwarded-Proto/-For are
// believed from the load balancer only.
func TestWebServerBlockLoopback(t *testing.T) {
	nginx := wtNeed(t, "nginx", "nginx-light")
	fpms, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(fpms) == 0 {
		t.Skip("php-fpm not installed (CI installs it: apt-get install -y php-fpm)")
	}
	if testing.Short() {
		t.Skip("starts real nginx and php-fpm")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no nobody account")
	}
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Skip("no group for nobody")
	}
	// Readable by the unprivileged workers when the test runs as root.
	base, err := os.MkdirTemp("", "labctl-web-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "wordpress")
	index := `<?php printf("index https=%s remote=%s uri=%s\n", $_SERVER['HTTPS'] ?? '', $_SERVER['REMOTE_ADDR'], $_SERVER['REQUEST_URI']);` + "\n"
	for name, body := range map[string]string{
		"index.php": index, "xmlrpc.php": "<?php echo 'xmlrpc';\n", "wp-config.php": "<?php echo 'config';\n",
		"wp-content/uploads/evil.php": "<?php echo 'evil';\n", "readme.html": "static readme\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	l := wtNewLab(t, "el8")
	lay, err := webLayoutFor(l.env)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "php.sock")
	lay.WebRoot, lay.PHPSocket, lay.PoolSocket = root, sock, sock

	// php-fpm with the rendered pool, accounts moved to ones this machine has.
	pool, err := webRender("php-fpm-pool.conf.tmpl", struct {
		webLayout
		Node string
	}{lay, "TEST"})
	if err != nil {
		t.Fatal(err)
	}
	poolText := string(pool)
	for _, kv := range [][2]string{
		{"user = apache", "user = " + nobody.Username}, {"group = apache", "group = " + grp.Name},
		{"listen.owner = nginx", "listen.owner = " + nobody.Username}, {"listen.group = nginx", "listen.group = " + grp.Name},
	} {
		if !strings.Contains(poolText, kv[0]) {
			t.Fatalf("pool lacks %q", kv[0])
		}
		poolText = strings.Replace(poolText, kv[0], kv[1], 1)
	}
	if os.Geteuid() != 0 {
		// Only root may switch users or chown the socket.
		poolText = regexp.MustCompile(`(?m)^(user|group|listen\.owner|listen\.group) = .*$`).ReplaceAllString(poolText, "")
	}
	fpmConf := filepath.Join(base, "fpm.conf")
	if err := os.WriteFile(filepath.Join(base, "pool.conf"), []byte(poolText), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fpmConf, []byte(fmt.Sprintf("[global]\npid = %[1]s/fpm.pid\nerror_log = %[1]s/fpm.log\ninclude = %[1]s/pool.conf\n", base)), 0o644); err != nil {
		t.Fatal(err)
	}
	fpm := exec.Command(fpms[0], "-n", "-F", "-y", fpmConf)
	fpm.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := fpm.Start(); err != nil {
		t.Fatal(err)
	}
	fpmDone := make(chan struct{})
	go func() { _ = fpm.Wait(); close(fpmDone) }()
	t.Cleanup(func() {
		_ = fpm.Process.Signal(syscall.SIGQUIT)
		select {
		case <-fpmDone:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-fpm.Process.Pid, syscall.SIGKILL)
			<-fpmDone
		}
	})

	// nginx with the rendered server block; 127.0.0.1 is the load balancer.
	site, err := webRender("nginx-wordpress.conf.tmpl", struct {
		webLayout
		Node, LBIP string
	}{lay, "TEST", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	port := wtFreePort(t, "127.0.0.1")
	siteText := strings.Replace(string(site), "listen 80 default_server;", fmt.Sprintf("listen 127.0.0.1:%d default_server;", port), 1)
	prefix, temps := wtNginxPrefix(t)
	if err := os.WriteFile(filepath.Join(prefix, "site.conf"), []byte(siteText), 0o644); err != nil {
		t.Fatal(err)
	}
	wtStartNginx(t, nginx, prefix, fmt.Sprintf("worker_processes 1;\npid %[1]s/nginx.pid;\nerror_log %[1]s/logs/error.log;\nevents { worker_connections 64; }\nhttp {\n    access_log off;\n%[2]s    include %[1]s/site.conf;\n}\n", prefix, temps))

	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			if code, _ := wtGetFrom(t, "127.0.0.1", url+"/readme.html", nil); code == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(base, "fpm.log"))
			t.Fatalf("nginx + php-fpm did not come up; php-fpm log:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}

	fromLB := map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
	for _, c := range []struct {
		name, from, path string
		hdr              map[string]string
		code             int
		body             string
	}{
		{"permalink goes to index.php", "127.0.0.1", "/2024/01/hello-world/", nil, 200, "index https= remote=127.0.0.1 uri=/2024/01/hello-world/"},
		{"visitor address and https from the LB", "127.0.0.1", "/", fromLB, 200, "index https=on remote=203.0.113.9 uri=/"},
		{"headers from elsewhere are ignored", "127.0.0.2", "/", fromLB, 200, "index https= remote=127.0.0.2 uri=/"},
		{"static file", "127.0.0.1", "/readme.html", nil, 200, "static readme"},
		{"xmlrpc denied", "127.0.0.1", "/xmlrpc.php", nil, 403, ""},
		{"wp-config denied", "127.0.0.1", "/wp-config.php", nil, 403, ""},
		{"php in uploads denied", "127.0.0.1", "/wp-content/uploads/evil.php", nil, 403, ""},
		{"missing php is 404, not index", "127.0.0.1", "/nothere.php", nil, 404, ""},
	} {
		code, body := wtGetFrom(t, c.from, url+c.path, c.hdr)
		if code != c.code || (c.body != "" && body != c.body) {
			t.Errorf("%s: GET %s from %s = %d %q, want %d %q", c.name, c.path, c.from, code, body, c.code, c.body)
		}
	}
}

// TestWPConfigAnswersWithTheAddressUsedInNATMode: in natnetwork mode
// WordPress's URL is the one the request came to, when it is the host's
// forward or the balancer's lab address, and the forward otherwise (a
// forged Host header never becomes WordPress's address). Real PHP.
func TestWPConfigAnswersWithTheAddressUsedInNATMode(t *testing.T) {
	php := wtNeed(t, "php", "php-cli")
	l := wtNewLab(t, "el8")
	p := *l.env.Plan
	p.NetMode = lab.ModeNATNetwork
	p.ApplyForwards(lab.ForwardPorts{lab.HTTPRuleName: 42726})
	env := *l.env
	env.Plan = &p
	cfg, err := webWPConfig(&env)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wp-config.php"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wp-settings.php"), []byte("<?php\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lbURL := "http://" + p.LB().IP.String()
	for host, want := range map[string]string{
		"127.0.0.1:42726":        "http://127.0.0.1:42726",
		p.LB().IP.String():       lbURL,
		"evil.example":           "http://127.0.0.1:42726",
		p.LB().IP.String() + ":": "http://127.0.0.1:42726",
	} {
		code := `$_SERVER['HTTP_HOST'] = $argv[2]; define('ABSPATH', $argv[1] . '/'); require $argv[1] . '/wp-config.php'; echo WP_HOME, ' ', WP_SITEURL, "\n";`
		out, err := exec.Command(php, "-n", "-r", code, dir, host).CombinedOutput()
		if err != nil {
			t.Fatalf("php: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want+" "+want {
			t.Errorf("Host %q: WP_HOME WP_SITEURL = %q, want %s", host, got, want)
		}
	}
}
