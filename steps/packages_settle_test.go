package steps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A package manager an earlier, killed run left working is waited for
// (and said so) before anything is installed; a transaction it left half
// done is finished first.
func TestPackagesWaitForAnEarlierRunsPackageManager(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("debian"))
	n := p.DB()[0]
	f := fl.nodes[n.VM]
	f.pkgBusy, f.halfInstalled = true, true
	env := fl.env(p)
	var warnings []string
	env.Warn = func(msg string) { warnings = append(warnings, msg) }
	if err := Packages().Apply(context.Background(), env, n); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warnings, "\n")
	for _, want := range []string{
		n.VM + ": waiting (at most 5m0s) for the package manager an earlier run left working (apt-get dpkg) to finish",
		n.VM + ": an earlier package transaction was interrupted; finishing it (DEBIAN_FRONTEND=noninteractive dpkg --force-confold --configure -a)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	// Order: probe, wait, repair, then the refresh and the install.
	if got := pkgScriptOrder(f.scripts, "probe", "wait", "repair", "refresh", "install"); got != "probe,wait,repair,refresh,install" {
		t.Errorf("scripts in order %s", got)
	}
	if !f.pkgs["mysql-server"] {
		t.Errorf("not installed after the wait")
	}

	// Nothing at work, nothing half done: one probe, no warning.
	f2 := fl.nodes[p.DB()[1].VM]
	warnings = nil
	if err := Packages().Apply(context.Background(), env, p.DB()[1]); err != nil {
		t.Fatal(err)
	}
	probes := 0
	for _, s := range f2.scripts {
		if strings.HasPrefix(s, pkgBusyMark) {
			probes++
		}
	}
	if probes != 1 || len(warnings) != 0 {
		t.Errorf("idle node: %d probes, warnings %v", probes, warnings)
	}
}

// pkgScriptOrder names the packages step's scripts a Debian node ran, in
// order, keeping the kinds asked for.
func pkgScriptOrder(scripts []string, kinds ...string) string {
	var order []string
	for _, s := range scripts {
		var kind string
		switch {
		case strings.HasPrefix(s, pkgBusyMark) && strings.Contains(s, "sleep 1"):
			kind = "wait"
		case strings.HasPrefix(s, pkgBusyMark):
			kind = "probe"
		case strings.HasPrefix(s, pkgSetAsideMark):
			kind = "set-aside"
		case strings.Contains(s, "dpkg --force-confold --configure -a"):
			kind = "repair"
		case strings.Contains(s, "apt-get -o DPkg::Lock::Timeout=300 update"):
			kind = "refresh"
		case strings.Contains(s, " install "):
			kind = "install"
		}
		if slices.Contains(kinds, kind) {
			order = append(order, kind)
		}
	}
	return strings.Join(order, ",")
}

// The probe's audit, run by a real shell with the package tools stubbed:
// each profile's own report of a half-done transaction (dpkg --audit; on
// el, dnf check's duplicates) reads interrupted=yes, a clean one no.
func TestPackagesProbeAuditsEachProfile(t *testing.T) {
	for _, c := range []struct {
		profile, tool, report string
	}{
		{"debian", "dpkg", "The following packages are only half configured:\n mysql-server-core"},
		{"el8", "dnf", "mysql-server-8.0.26-1.module_el8.4.0+915+de215114.x86_64 is a duplicate with mysql-server-8.0.21-1.module_el8.2.0+493+63b41e36.x86_64"},
	} {
		prof := dbTestProfile(c.profile)
		script := pkgBusyScript(prof, 0)
		gaShellcheck(t, "package probe "+c.profile, script)
		for _, half := range []bool{true, false} {
			dir := t.TempDir()
			out := ""
			if half {
				out = c.report
			}
			stub := fmt.Sprintf("#!/bin/sh\ncat <<'X'\n%s\nX\n", out)
			if !half {
				stub = "#!/bin/sh\nexit 0\n"
			}
			if err := os.WriteFile(filepath.Join(dir, c.tool), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s probe: %v", c.profile, err)
			}
			want := map[bool]string{true: "interrupted=yes", false: "interrupted=no"}[half]
			if !strings.Contains(string(got), want) {
				t.Errorf("%s, half done %v: probe printed %q, want %s", c.profile, half, got, want)
			}
		}
	}
	if !strings.Contains(dbTestProfile("el8").RepairCmd, "dnf -y remove --duplicates") {
		t.Errorf("el8 repair: %q", dbTestProfile("el8").RepairCmd)
	}
}

// A machine powered off while MySQL's package set up its data folder for
// the first time leaves dpkg half done and a folder the package's configure
// cannot start from: the DB node's folder is set aside (kept, said so)
// before the transaction is finished, in settle and after a failed install;
// nodes without MySQL never run the set-aside.
func TestPackagesSetAsideAnUnfinishedFirstMySQLSetUp(t *testing.T) {
	p := dbTestPlan()
	fl := newDBFakeLab(t, p, dbTestSecrets(), dbTestProfile("debian"))
	env := fl.env(p)
	var warnings []string
	env.Warn = func(msg string) { warnings = append(warnings, msg) }

	n := p.DB()[0]
	f := fl.nodes[n.VM]
	f.halfInstalled, f.unfinishedData = true, true
	if err := Packages().Apply(context.Background(), env, n); err != nil {
		t.Fatal(err)
	}
	if got := pkgScriptOrder(f.scripts, "probe", "set-aside", "repair", "install"); got != "probe,set-aside,repair,install" {
		t.Errorf("scripts in order %s", got)
	}
	if f.asides != 1 || !f.pkgs["mysql-server"] {
		t.Errorf("asides %d, installed %v", f.asides, f.pkgs["mysql-server"])
	}
	if all := strings.Join(warnings, "\n"); !strings.Contains(all, n.VM+": MySQL's first set-up was cut off half way") ||
		!strings.Contains(all, "/var/lib/mysql.labctl-unfinished-20261203-101500 (kept)") {
		t.Errorf("warnings do not say what was moved where:\n%s", all)
	}

	// Found only by the failed install (no audit report before it).
	n2 := p.DB()[1]
	f2 := fl.nodes[n2.VM]
	fl.installFails, f2.unfinishedData = 1, true
	warnings = nil
	if err := Packages().Apply(context.Background(), env, n2); err != nil {
		t.Fatal(err)
	}
	if f2.asides != 1 || !f2.pkgs["mysql-server"] {
		t.Errorf("after a failed install: asides %d, installed %v", f2.asides, f2.pkgs["mysql-server"])
	}

	// A web node has no MySQL server: never a set-aside.
	w := p.Web()[0]
	fw := fl.nodes[w.VM]
	fw.halfInstalled = true
	if err := Packages().Apply(context.Background(), env, w); err != nil {
		t.Fatal(err)
	}
	for _, s := range fw.scripts {
		if strings.HasPrefix(s, pkgSetAsideMark) {
			t.Errorf("%s ran the MySQL set-aside", w.VM)
		}
	}
}

// The set-aside script, run by a real shell with dpkg-query and systemctl
// stubbed: only a server package never configured before, whose folder
// holds something, has its folder moved (contents kept) and an empty one
// with the same mode put in its place; an upgrade's half-done configure
// (a version configured before), an installed package or an empty folder
// are left alone.
func TestPackagesSetAsideScript(t *testing.T) {
	prof := *dbTestProfile("debian")
	gaShellcheck(t, "set-aside", pkgSetAsideScript(&prof))
	for _, c := range []struct {
		name, status string
		files, moved bool
	}{
		{"first configure cut off", "half-configured ", true, true},
		{"unpacked, never configured", "unpacked ", true, true},
		{"empty folder", "half-configured ", false, false},
		{"upgrade's configure cut off", "half-configured 9.7.3-1", true, false},
		{"installed", "installed 9.7.4-2", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			bin := filepath.Join(root, "bin")
			prof.MySQLDataDir = filepath.Join(root, "mysql")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(prof.MySQLDataDir, 0o750); err != nil {
				t.Fatal(err)
			}
			if c.files {
				if err := os.WriteFile(filepath.Join(prof.MySQLDataDir, "ibdata1"), []byte("x"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			stubs := map[string]string{
				"dpkg-query": fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' '%s'\n", c.status),
				"systemctl":  "#!/bin/sh\necho \"$@\" >> " + filepath.Join(root, "systemctl.log") + "\n",
			}
			for name, body := range stubs {
				if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("/bin/sh", "-c", pkgSetAsideScript(&prof))
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("script: %v\n%s", err, out)
			}
			aside := strings.TrimSpace(string(out))
			if !c.moved {
				if aside != "" {
					t.Errorf("moved to %q", aside)
				}
				if _, err := os.Stat(filepath.Join(root, "systemctl.log")); err == nil {
					t.Errorf("stopped the server although nothing was set aside")
				}
				return
			}
			if !strings.HasPrefix(aside, prof.MySQLDataDir+".labctl-unfinished-") {
				t.Fatalf("printed %q, want the folder it was moved to", aside)
			}
			if b, err := os.ReadFile(filepath.Join(aside, "ibdata1")); err != nil || string(b) != "x" {
				t.Errorf("the old folder's contents were not kept: %v", err)
			}
			st, err := os.Stat(prof.MySQLDataDir)
			if err != nil {
				t.Fatalf("no new data folder: %v", err)
			}
			if st.Mode().Perm() != 0o750 || !st.IsDir() {
				t.Errorf("new data folder mode %v, want drwxr-x---", st.Mode())
			}
			if ents, _ := os.ReadDir(prof.MySQLDataDir); len(ents) != 0 {
				t.Errorf("new data folder not empty: %v", ents)
			}
			if log, _ := os.ReadFile(filepath.Join(root, "systemctl.log")); strings.TrimSpace(string(log)) != "stop mysql" {
				t.Errorf("systemctl called with %q, want stop mysql", log)
			}
		})
	}
}
