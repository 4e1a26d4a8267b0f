package steps

import (
	"context"
	"strings"
	"testing"
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
