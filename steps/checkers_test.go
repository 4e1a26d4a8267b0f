package steps

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wtChecker runs a checker program (nginx -t, keepalived -t, php -l, ...)
// on this host, or inside a root filesystem that holds other versions of
// it: the Debian bullseye root with the versions AlmaLinux 8 runs, which
// hack/checkers/bullseye.sh builds and .ci/run always provides.
type wtChecker struct {
	name string // "host" or "bullseye"
	root string // "" = this host; else run with chroot into root
}

var wtHostChecker = wtChecker{name: "host"}

// checkersRequiredEnv makes a missing bullseye root a failure, not a skip:
// CI sets it after building the root, so these checks can never silently vanish.
const checkersRequiredEnv = "LABCTL_CHECKERS_REQUIRED"

// wtBullseye returns the EL8-version checkers, or skips (fails when
// LABCTL_CHECKERS_REQUIRED=1) saying how to get them.
func wtBullseye(t *testing.T) wtChecker {
	t.Helper()
	cache := os.Getenv("LABCTL_CHECKERS_CACHE")
	if cache == "" {
		cache = "/var/cache/labctl-checkers"
	}
	root := filepath.Join(cache, "bullseye", "root")
	why := ""
	if _, err := os.Stat(filepath.Join(root, "usr", "sbin", "keepalived")); err != nil {
		why = "no Debian bullseye checker root at " + root + " (build it: sudo hack/checkers/bullseye.sh)"
	} else if os.Geteuid() != 0 {
		why = "the bullseye checkers run in a chroot, which needs root"
	}
	if why != "" {
		if os.Getenv(checkersRequiredEnv) == "1" {
			t.Fatalf("%s=1 but %s", checkersRequiredEnv, why)
		}
		t.Skip(why)
	}
	return wtChecker{name: "bullseye", root: root}
}

// dir makes a fresh folder, returned as the checker sees it.
func (c wtChecker) dir(t *testing.T) string {
	t.Helper()
	if c.root == "" {
		return t.TempDir()
	}
	host, err := os.MkdirTemp(filepath.Join(c.root, "tmp"), "labctl-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(host) })
	return strings.TrimPrefix(host, c.root)
}

// file is where a path the checker sees lives on this host.
func (c wtChecker) file(p string) string { return c.root + p }

// cmd runs prog (a path or a name on the checker's PATH) in the checker.
func (c wtChecker) cmd(prog string, args ...string) *exec.Cmd {
	if c.root == "" {
		return exec.Command(prog, args...)
	}
	cmd := exec.Command("chroot", append([]string{c.root, prog}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"}
	return cmd
}

// argv is prog and args as a command line run in the checker (for scripts
// that must do something first, such as a network namespace).
func (c wtChecker) argv(prog string, args ...string) []string {
	if c.root == "" {
		return append([]string{prog}, args...)
	}
	return append([]string{"chroot", c.root, prog}, args...)
}

// version is the first line prog prints for its version flag.
func (c wtChecker) version(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, err := c.cmd(prog, args...).CombinedOutput()
	line, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
	if err != nil {
		t.Fatalf("%s: %s %v: %v: %s", c.name, prog, args, err, out)
	}
	return line
}

// TestEL8Checkers checks the el8 profile's rendered files with the versions
// AlmaLinux 8 runs (keepalived 2.1.5, nginx 1.18, PHP 7.4, firewalld 0.9's
// reader, close to EL8's 0.8), from the Debian bullseye root, beside the
// host's current versions in the other tests. el9 needs no such root:
// Debian bookworm, the CI host, already carries EL9's versions.
func TestEL8Checkers(t *testing.T) {
	c := wtBullseye(t)
	t.Run("keepalived", func(t *testing.T) {
		v := c.version(t, "keepalived", "--version")
		if !strings.Contains(v, "v2.1.5") {
			t.Fatalf("bullseye keepalived is %q, want EL8's v2.1.5", v)
		}
		for _, i := range []int{0, 1, 2} {
			kaCheckAccepted(t, c, "keepalived", "el8", i)
		}
		kaCheckRefusals(t, c, "keepalived")
		wtLogIfPassed(t, "%s accepted the el8 keepalived.conf of all three DB nodes (and refused a wrong interface, a missing check script, an unknown keyword)", v)
	})
	t.Run("nginx", func(t *testing.T) {
		v := c.version(t, "nginx", "-v")
		if !strings.Contains(v, "nginx/1.18.") {
			t.Fatalf("bullseye nginx is %q, want 1.18", v)
		}
		n := wtCheckNginxConfigs(t, c, "nginx", "el8")
		// Effective: a directive 1.18 does not know is refused.
		prefix, _ := wtNginxPrefixIn(t, c)
		bad := fmt.Sprintf("pid %s/nginx.pid;\nevents {}\nhttp {\n    access_log off;\n    no_such_directive on;\n}\n", prefix)
		if err := os.WriteFile(c.file(prefix+"/nginx.conf"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := c.cmd("nginx", "-t", "-p", prefix, "-c", prefix+"/nginx.conf").CombinedOutput(); err == nil {
			t.Errorf("nginx -t accepted an unknown directive:\n%s", out)
		}
		wtLogIfPassed(t, "%s: nginx -t accepted the el8 nginx.conf and server blocks of the web nodes and the load balancer (%d files), and refused an unknown directive", v, n)
	})
	t.Run("php", func(t *testing.T) {
		v := c.version(t, "php", "-v")
		if !strings.HasPrefix(v, "PHP 7.4.") {
			t.Fatalf("bullseye php is %q, want 7.4", v)
		}
		n := wtCheckPHPLint(t, c, "php", "el8")
		// Effective: PHP 8 syntax (a match expression) is refused by 7.4.
		f := filepath.Join(c.dir(t), "php8.php")
		if err := os.WriteFile(c.file(f), []byte("<?php\necho match (1) { 1 => 'a', default => 'b' };\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := c.cmd("php", "-n", "-l", f).CombinedOutput(); err == nil {
			t.Errorf("php 7.4 -l accepted PHP 8 syntax:\n%s", out)
		}
		wtCheckWPConfig(t, c, "php")
		wtLogIfPassed(t, "%s: php -l accepted %d rendered PHP files (and refused PHP 8 syntax); wp-config.php evaluates to the lab's settings", v, n)
		fv := c.version(t, "php-fpm7.4", "-v")
		pools := wtCheckFPMPools(t, c, "php-fpm7.4", "el8", "nobody", "nogroup")
		wtLogIfPassed(t, "%s: php-fpm -t accepted the el8 pool of %d web nodes", fv, pools)
	})
	t.Run("firewalld", func(t *testing.T) {
		v := c.version(t, "python3", "-c", "import firewall.config as c; print('firewalld', c.VERSION)")
		n := wtCheckZones(t, c, "python3")
		wtLogIfPassed(t, "%s: its zone reader loaded the el8 zone of %d nodes as planned", v, n)
	})
}

// wtLogIfPassed logs a checker's verdict (with its version) for CI's
// output, only when the checks before it passed.
func wtLogIfPassed(t *testing.T, format string, args ...any) {
	t.Helper()
	if !t.Failed() {
		t.Logf(format, args...)
	}
}
