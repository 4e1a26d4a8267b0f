package steps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	var order []string
	for _, s := range f.scripts {
		switch {
		case strings.HasPrefix(s, pkgBusyMark) && strings.Contains(s, "sleep 1"):
			order = append(order, "wait")
		case strings.HasPrefix(s, pkgBusyMark):
			order = append(order, "probe")
		case strings.Contains(s, "dpkg --force-confold --configure -a"):
			order = append(order, "repair")
		case strings.Contains(s, "apt-get -o DPkg::Lock::Timeout=300 update"):
			order = append(order, "refresh")
		case strings.Contains(s, " install "):
			order = append(order, "install")
		}
	}
	if got := strings.Join(order, ","); got != "probe,wait,repair,refresh,install" {
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
