package guest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileByName(t *testing.T) {
	for name, want := range map[string]*Profile{"": EL8, "el8": EL8, "EL9": EL9, "debian": Debian} {
		p, err := ProfileByName(name)
		if err != nil || p != want {
			t.Errorf("%q: %v %v", name, p, err)
		}
	}
	_, err := ProfileByName("arch")
	if err == nil || !strings.Contains(err.Error(), "debian, el8, el9") || !strings.Contains(err.Error(), "lab.toml") {
		t.Fatalf("unclear error: %v", err)
	}
	if EL9.Name != "el9" || EL8.Name != "el8" || EL9.MySQLService != "mysqld" {
		t.Fatal("el9 must be a copy of el8 with its own name")
	}
	for _, p := range []*Profile{EL8, EL9, Debian} {
		if len(p.DBPackages) == 0 || len(p.WebPackages) == 0 || p.PHPFPMSocket == "" || p.SSHService == "" {
			t.Errorf("%s profile incomplete", p.Name)
		}
	}
	// Debian names no PHP version anywhere: 8.2 vs 8.4 is found at run time.
	for _, s := range []string{Debian.PHPFPMSocket, Debian.PHPFPMPoolDir, Debian.PHPFPMService} {
		if strings.Contains(s, "8.") {
			t.Errorf("debian hard-codes a PHP version: %s", s)
		}
	}
}

func TestPHPFPMDiscoverPicksNewestInstalled(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"8.2", "8.4", "7.4"} {
		if err := os.MkdirAll(filepath.Join(root, "etc/php", v, "fpm/pool.d"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := *Debian
	p.PHPFPMPoolDir = root + "/etc/php/*/fpm/pool.d"
	script := p.PHPFPMDiscover() + `echo "$PHP_FPM_SERVICE $PHP_FPM_POOL_DIR"`
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	want := "php8.4-fpm " + root + "/etc/php/8.4/fpm/pool.d\n"
	if err != nil || string(out) != want {
		t.Fatalf("got %q (%v), want %q", out, err, want)
	}
	p.PHPFPMPoolDir = filepath.Join(t.TempDir(), "none/*/fpm/pool.d")
	out, err = exec.Command("/bin/sh", "-c", p.PHPFPMDiscover()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "php-fpm is not installed") {
		t.Fatalf("missing php-fpm: %q %v", out, err)
	}
	out, _ = exec.Command("/bin/sh", "-c", EL8.PHPFPMDiscover()+`echo "$PHP_FPM_SERVICE $PHP_FPM_POOL_DIR"`).CombinedOutput()
	if string(out) != "php-fpm /etc/php-fpm.d\n" {
		t.Fatalf("el8: %q", out)
	}
	shellcheck(t, "debian-discover", Debian.PHPFPMDiscover()+`echo "$PHP_FPM_SERVICE"`+"\n")
}

func TestMirrorConfig(t *testing.T) {
	f, err := Debian.MirrorConfig("http://10.0.0.5/debian/", "bookworm")
	if err != nil || f.Path != "/etc/apt/sources.list.d/labctl.list" ||
		!strings.Contains(string(f.Content), "deb [trusted=yes] http://10.0.0.5/debian bookworm main") {
		t.Fatalf("%q %v", f.Content, err)
	}
	// Only a plain-http private address is trusted without signatures.
	for _, u := range []string{"https://10.0.0.5/debian", "http://mirror.example.org/debian"} {
		f, err := Debian.MirrorConfig(u, "bookworm")
		if err != nil || strings.Contains(string(f.Content), "trusted=yes") {
			t.Errorf("%s: %q %v", u, f.Content, err)
		}
	}
	f, err = EL8.MirrorConfig("http://10.0.0.5/almalinux", "")
	c := string(f.Content)
	if err != nil || !strings.Contains(c, "baseurl=http://10.0.0.5/almalinux/$releasever/BaseOS/$basearch/os/") ||
		!strings.Contains(c, "[labctl-appstream]") || !strings.Contains(c, "gpgcheck=1") || f.Mode != 0o644 {
		t.Fatalf("%q %v", c, err)
	}
	for _, bad := range []string{"", "ftp://x/y", "10.0.0.5/debian"} {
		if _, err := EL8.MirrorConfig(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Debian.MirrorConfig("http://10.0.0.5/debian", ""); err == nil {
		t.Error("debian mirror without a suite accepted")
	}
}

func TestUploadScriptShellcheck(t *testing.T) {
	s, err := UploadScript(File{Path: "/etc/x", Content: []byte("x"), Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	shellcheck(t, "upload", s)
	shellcheck(t, "loader", loader)
	shellcheck(t, "pidloader", pidLoader)
	shellcheck(t, "kill", killScript("/tmp/.labctl-run-0123"))
}

// shellcheck runs the real shellcheck on a POSIX sh script.
func shellcheck(t *testing.T, name, script string) {
	t.Helper()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
	}
	cmd := exec.Command("shellcheck", "--shell=sh", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s\n--- script:\n%s", name, err, out, script)
	}
}
