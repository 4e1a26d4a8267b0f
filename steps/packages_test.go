package steps

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"labctl/guest"
	"labctl/lab"
)

func TestPackagesPerRole(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	env := fl.env(p)
	st, err := Packages().Check(context.Background(), env, p.Web()[0])
	if err != nil || st.Done || !strings.Contains(st.Why, "php-fpm") {
		t.Fatalf("fresh web node: %+v %v; want not done naming php-fpm", st, err)
	}
	dbConverge(t, env, Packages())
	for _, n := range p.Nodes {
		f := fl.nodes[n.VM]
		want := map[string][]string{"db": {"mysql-server", "keepalived", "mysql"}, "web": {"nginx", "php-fpm", "php-mysqlnd"}, "lb": {"nginx"}}[string(n.Role)]
		for _, pkg := range want {
			if !f.pkgs[pkg] {
				t.Errorf("%s (%s): %s not installed", n.VM, n.Role, pkg)
			}
		}
		if n.Role != "db" && (f.pkgs["mysql-server"] || f.pkgs["keepalived"]) {
			t.Errorf("%s: DB packages on a %s node", n.VM, n.Role)
		}
		if n.Role == "lb" && f.pkgs["php-fpm"] {
			t.Errorf("%s: PHP on the load balancer", n.VM)
		}
		// The PHP stream is chosen before PHP is installed (the fake checks
		// the order), and only on web nodes.
		stream := strings.Contains(strings.Join(f.scripts, "\n"), "module enable php")
		if stream != (n.Role == "web") {
			t.Errorf("%s: PHP module stream set = %v", n.VM, stream)
		}
	}
}

func TestPackagesRefuseMySQLWithoutGroupReplication(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	fl.noPlugin = true
	err := Packages().Apply(context.Background(), fl.env(p), p.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "group_replication.so") {
		t.Fatalf("want an error about the missing plugin, got %v", err)
	}
	st, err := Packages().Check(context.Background(), fl.env(p), p.DB()[0])
	if err != nil || st.Done || !strings.Contains(st.Why, "group_replication.so") {
		t.Errorf("check: %+v %v", st, err)
	}
}

func TestPackagesMirror(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		p := dbTestPlan()
		p.PackageMirror = "http://10.0.2.2:8080/mirror/"
		fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile(profile))
		env := fl.env(p)
		dbConverge(t, env, Packages())
		f := fl.nodes["SQL-ONE"]
		repo, ok := f.files[env.Profile.MirrorConfPath]
		if !ok || !strings.Contains(string(repo.Content), "http://10.0.2.2:8080/mirror") {
			t.Fatalf("%s: mirror file %s = %q", profile, env.Profile.MirrorConfPath, repo.Content)
		}
		if profile == "debian" && !strings.Contains(string(repo.Content), " sid main") {
			t.Errorf("debian: the guest's suite was not used: %q", repo.Content)
		}
		if !f.mirrorOnly {
			t.Errorf("%s: the online sources were left enabled", profile)
		}
		// The mirror comes before any install.
		var mirrorAt, installAt int
		for i, e := range f.log {
			if strings.HasPrefix(e, "upload "+env.Profile.MirrorConfPath) && mirrorAt == 0 {
				mirrorAt = i + 1
			}
			if strings.Contains(e, env.Profile.InstallCmd) && installAt == 0 {
				installAt = i + 1
			}
		}
		if mirrorAt == 0 || installAt == 0 || mirrorAt > installAt {
			t.Errorf("%s: mirror written at %d, install at %d", profile, mirrorAt, installAt)
		}
	}
	p := dbTestPlan()
	p.PackageMirror = "ftp://example.invalid/x"
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	if err := Packages().Apply(context.Background(), fl.env(p), p.DB()[0]); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("ftp mirror: %v", err)
	}
}

// TestPackagesMirrorRelease: a pinned release goes into the repo files in
// place of $releasever (el) or the guest's suite (debian).
func TestPackagesMirrorRelease(t *testing.T) {
	for profile, want := range map[string]string{
		"el8":    "baseurl=http://10.0.2.2:8080/vault/8.4/BaseOS/$basearch/os/\n",
		"debian": "deb [trusted=yes] http://10.0.2.2:8080/vault bullseye main\n",
	} {
		p := dbTestPlan()
		p.PackageMirror = "http://10.0.2.2:8080/vault/"
		p.PackageRelease = map[string]string{"el8": "8.4", "debian": "bullseye"}[profile]
		fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile(profile))
		env := fl.env(p)
		dbConverge(t, env, Packages())
		repo := string(fl.nodes["SQL-TWO"].files[env.Profile.MirrorConfPath].Content)
		if !strings.Contains(repo, want) || strings.Contains(repo, "$releasever") {
			t.Errorf("%s: repo file lacks %q:\n%s", profile, want, repo)
		}
		for _, s := range fl.nodes["SQL-TWO"].scripts {
			if strings.Contains(s, `$1 == "Suites:"`) {
				t.Errorf("%s: read the guest's suite although the release is pinned", profile)
			}
		}
	}
}

// TestPackagesMirrorWithoutRelease: a mirror lacking the release's metadata
// is reported with the URLs tried, before anything is written or installed.
func TestPackagesMirrorWithoutRelease(t *testing.T) {
	p := dbTestPlan()
	p.PackageMirror = "http://10.0.2.2:8080/mirror/"
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("el8"))
	fl.mirrorCheck = "missing: http://10.0.2.2:8080/mirror/8/BaseOS/x86_64/os/repodata/repomd.xml\n"
	err := Packages().Apply(context.Background(), fl.env(p), p.DB()[0])
	if err == nil || !strings.Contains(err.Error(), "http://10.0.2.2:8080/mirror/8/BaseOS/x86_64/os/repodata/repomd.xml") ||
		!strings.Contains(err.Error(), "release") {
		t.Errorf("missing repodata: %v", err)
	}
	f := fl.nodes["SQL-ONE"]
	if len(f.files) != 0 || f.mirrorOnly || len(f.pkgs) != 0 {
		t.Errorf("changed the guest before reporting the mirror: files %v, sources off %v, packages %v", f.files, f.mirrorOnly, f.pkgs)
	}
}

// TestPackagesMirrorCheckScript runs the real check script in sh against a
// mirror served on loopback: present metadata passes, a missing release
// prints the URLs tried (with $releasever/$basearch expanded).
func TestPackagesMirrorCheckScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (CI installs it)")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/alma/8.4/BaseOS/" + wtUnameM(t) + "/os/repodata/repomd.xml", "/alma/8.4/AppStream/" + wtUnameM(t) + "/os/repodata/repomd.xml",
			"/debian/dists/bullseye/Release":
			_, _ = w.Write([]byte("ok"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	run := func(profile, mirror, release string) (string, error) {
		p := dbTestPlan()
		p.PackageMirror = mirror
		rec := guest.NewRecorder("SQL-ONE")
		env := &Env{Plan: p, Profile: dbTestProfile(profile), SSH: func(*lab.Node) guest.Executor { return rec }}
		_ = pkgCheckMirror(context.Background(), env, rec, release)
		calls := rec.Calls()
		if len(calls) != 1 {
			t.Fatalf("%d scripts", len(calls))
		}
		out, err := exec.Command("sh", "-c", calls[0].Script).CombinedOutput()
		return string(out), err
	}
	for _, ok := range [][3]string{{"el8", srv.URL + "/alma/", "8.4"}, {"debian", srv.URL + "/debian", "bullseye"}} {
		if out, err := run(ok[0], ok[1], ok[2]); err != nil || out != "" {
			t.Errorf("%v: %v %q, want silence", ok, err, out)
		}
	}
	out, err := run("el8", srv.URL+"/alma", "8.5")
	want := "missing: " + srv.URL + "/alma/8.5/BaseOS/" + wtUnameM(t) + "/os/repodata/repomd.xml\nmissing: " + srv.URL + "/alma/8.5/AppStream/"
	if err != nil || !strings.HasPrefix(out, want) {
		t.Errorf("8.5: %v %q, want %q...", err, out, want)
	}
	out, _ = run("el8", srv.URL+"/alma", "")
	if !strings.Contains(out, "/alma/") || strings.Contains(out, "$releasever") || strings.Contains(out, "$basearch") {
		t.Errorf("placeholders not expanded: %q", out)
	}
	out, _ = run("debian", srv.URL+"/debian", "bookworm")
	if out != "missing: "+srv.URL+"/debian/dists/bookworm/InRelease "+srv.URL+"/debian/dists/bookworm/Release\n" {
		t.Errorf("bookworm: %q", out)
	}
}

func wtUnameM(t *testing.T) string {
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Skip("no uname")
	}
	return strings.TrimSpace(string(out))
}

// A package script that fails (a server slow to start on a loaded host) or
// a run killed mid-install leaves dpkg half done: the step finishes the
// transaction and installs once more, saying so; a second failure is the error.
func TestPackagesFinishAnInterruptedTransaction(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("debian"))
	fl.installFails = 1
	env := fl.env(p)
	var warned []string
	env.Warn = func(msg string) { warned = append(warned, msg) }
	n := p.DB()[0]
	if err := Packages().Apply(context.Background(), env, n); err != nil {
		t.Fatalf("one failed install was not repaired: %v", err)
	}
	if !fl.nodes[n.VM].pkgs["mysql-server"] {
		t.Error("mysql-server not installed after the repair")
	}
	scripts := strings.Join(fl.nodes[n.VM].scripts, "\n")
	if !strings.Contains(scripts, "dpkg --force-confold --configure -a") {
		t.Errorf("no dpkg --configure -a before the retry:\n%s", scripts)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "trying once more") {
		t.Errorf("warnings: %q", warned)
	}

	fl.installFails = 2
	err := Packages().Apply(context.Background(), env, p.DB()[1])
	if err == nil || !strings.Contains(err.Error(), "after finishing the interrupted transaction") || !strings.Contains(err.Error(), "dpkg returned an error code") {
		t.Fatalf("two failures: %v", err)
	}
}
