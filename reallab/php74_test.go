package reallab

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebTierOnPHP74 is the combination the el8 profile produces, for real:
// the two web machines boot Debian bullseye, which carries EL8's PHP stream
// (7.4-fpm) and an EL8 nginx stream (1.18), against the MySQL 9.x group of
// the sid machines. WordPress must serve through the load balancer, with
// PHP 7.4's mysqlnd authenticating by caching_sha2_password.
//
// Cost: one `up` and `verify` on a bullseye root that CI already built for
// the el8 checkers (hack/checkers/bullseye.sh), reused from its cache.
func TestWebTierOnPHP74(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := EnsureBullseyeWeb(ctx, e.RepoRoot, e.Cache); err != nil {
		t.Fatal(err)
	}
	record("PHP 7.4: bullseye web base (build or reuse)", time.Since(start))
	root := filepath.Join(e.Cache, "bullseye", "rootfs")
	var pairs []string
	for _, w := range webNodes {
		pairs = append(pairs, w+"="+root)
	}
	e.BackendExtra = []string{"NSPAWNVBOX_ROOTFS_FOR=" + strings.Join(pairs, ",")}

	bin := filepath.Join(e.Work, "bin", "labctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	l := labctlRunner{bin: bin, lab: writeLab(t, e), state: filepath.Join(e.Work, "state"), env: e}
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		_, _, _ = l.run(t, 5*time.Minute, "down", "--yes")
	})
	variant := time.Now()
	_, d, err := l.run(t, 25*time.Minute, "up")
	record("PHP 7.4: labctl up (fresh lab)", d)
	if err != nil {
		t.Fatalf("labctl up with bullseye web machines: %v", err)
	}

	// The web machines really run EL8's versions.
	for _, w := range webNodes {
		out := mustGuest(t, e, w, `. /etc/os-release; echo "os $VERSION_CODENAME"
echo "php $(php -r 'echo PHP_VERSION;')"
nginx -v 2>&1
ls /run/php/`)
		for _, want := range []string{"os bullseye", "php 7.4.", "nginx/1.18.", "php7.4-fpm.sock"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: want %q in:\n%s", w, want, out)
			}
		}
		fmt.Printf("REALLAB PHP 7.4 variant: %s runs %s\n", w, strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", "; ")), " "))
	}
	// The group is MySQL 9.x, and WordPress's account authenticates with
	// caching_sha2_password (no mysql_native_password in 9.x at all).
	p := primaryNode(t, e)
	ver := strings.TrimSpace(mustGuest(t, e, p, mysqlRoot+` -e "SELECT @@version"`))
	plugins := strings.TrimSpace(mustGuest(t, e, p, mysqlRoot+` -e "SELECT DISTINCT plugin FROM mysql.user WHERE user = 'wordpress'"`))
	fmt.Printf("REALLAB PHP 7.4 variant: group on MySQL %s, wordpress accounts use %s\n", ver, plugins)
	if !strings.HasPrefix(ver, "9.") {
		t.Errorf("group runs MySQL %s, want 9.x", ver)
	}
	if plugins != "caching_sha2_password" {
		t.Errorf("wordpress accounts use %q, want caching_sha2_password", plugins)
	}
	// WordPress through the load balancer, served by both PHP 7.4 machines;
	// verify runs PHP 7.4's own mysqli login to the VIP on each web node.
	checkLab(t, e)
	if _, d, err := l.run(t, 5*time.Minute, "verify"); err != nil {
		t.Errorf("labctl verify: %v", err)
	} else {
		record("PHP 7.4: labctl verify", d)
	}
	record("PHP 7.4 variant (up + checks)", time.Since(variant))
}
