package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"labctl/internal/vboxtest"
	"labctl/lab"
)

// The classroom flow through the CLI against the fake: export on the
// instructor's side, import with the checksum and --write-lab on a
// student's, then check.
func TestBaseExportImportCheckCLI(t *testing.T) {
	l := newTestLab(t)
	dir := t.TempDir()
	ova := filepath.Join(dir, "class.ova")
	code, out, errOut := l.labctl(nil, "base", "export", ova)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	sums, _ := os.ReadFile(ova + ".sha256")
	sum := strings.Fields(string(sums))[0]
	if !strings.Contains(out, "SHA-256: "+sum) || !strings.Contains(out, "labctl base import class.ova --sha256 "+sum) {
		t.Errorf("export output:\n%s", out)
	}
	if code, _, errOut := l.labctl(nil, "base", "export", ova); code != 1 || !strings.Contains(errOut, "already exists: choose another name, or pass --force") {
		t.Errorf("second export: exit %d %s", code, errOut)
	}

	// The student: the lab file names a base that does not exist yet.
	labText, _ := os.ReadFile(l.file)
	student := strings.Replace(string(labText), `vm = "`+vboxtest.BaseVM+`"`, `vm = "Class-Base" # the class's base`, 1)
	if err := os.WriteFile(l.file, []byte(student), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = l.labctl(nil, "base", "check")
	if code != 1 || !strings.Contains(out, `the base VM "Class-Base" is not registered in VirtualBox: import one with`) {
		t.Errorf("check before import: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := l.labctl(nil, "base", "import", ova, "--sha256", strings.Repeat("1", 64)); code != 1 || !strings.Contains(errOut, "SHA-256 mismatch") {
		t.Errorf("wrong checksum: exit %d %s", code, errOut)
	}
	if code, _, errOut := l.labctl(nil, "base", "import", ova, "--sha256", "xyz"); code != 2 || !strings.Contains(errOut, "not 64 hex digits") {
		t.Errorf("bad --sha256: exit %d %s", code, errOut)
	}
	code, out, errOut = l.labctl(nil, "base", "import", ova, "--sha256", sum, "--write-lab")
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range []string{`Imported "Class-Base"`, "into group /labctl-bases", "[base]\nvm = \"Class-Base\"\n", `# profile: the appliance's OS type "RedHat_64" does not tell; set el8, el9 or debian.`, "Wrote these settings into " + l.file} {
		if !strings.Contains(out, w) {
			t.Errorf("import output lacks %q:\n%s", w, out)
		}
	}
	after, _ := os.ReadFile(l.file)
	if !strings.Contains(string(after), `vm = "Class-Base" # the class's base`) || strings.Count(string(after), "vm = ") != 7 {
		t.Errorf("lab.toml after --write-lab:\n%s", after)
	}
	if _, err := lab.Load(l.file); err != nil {
		t.Errorf("written lab.toml: %v", err)
	}

	code, out, _ = l.labctl(nil, "base", "check", "--json")
	var rep struct {
		VM     string `json:"vm"`
		OK     bool   `json:"ok"`
		Checks []struct {
			Check, Level, Message string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || rep.VM != "Class-Base" || len(rep.Checks) != 6 {
		t.Errorf("check --json: exit %d, %v\n%s", code, err, out)
	}
}

// On Apple silicon an x86_64 base is refused by up's preflight, before any
// clone, with the fix named.
func TestUpRefusesX86BaseOnAppleSilicon(t *testing.T) {
	l := newTestLab(t)
	l.fake.SetHostArch("ARMv8")
	code, out, errOut := l.labctl(nil, "up")
	all := out + errOut
	if code == 0 || !strings.Contains(all, "runs only arm64 guests") || !strings.Contains(all, `base.profile = "el9"`) {
		t.Fatalf("up: exit %d\n%s", code, all)
	}
	for _, a := range l.fake.MutatingCalls() {
		t.Errorf("up changed something before refusing: %v", a)
	}
	code, out, _ = l.labctl(nil, "base", "check")
	if code != 1 || !strings.Contains(out, "✗ architecture") {
		t.Errorf("base check: exit %d\n%s", code, out)
	}
}

// A base whose OS nothing told beforehand (an import never booted here):
// the mismatch with base.profile is found when the first clone boots, with
// both named, before any guest step.
func TestUpFindsTheProfileMismatchWhenTheFirstCloneBoots(t *testing.T) {
	u := newUpLab(t, true)
	ova := filepath.Join(t.TempDir(), "other.ova")
	u.fake.WriteOVA(ova, vboxtest.Appliance{Name: "mystery", OSType: "Other_64", VBoxMachine: true, GAVersion: "7.0.14",
		GuestOSType: "Debian_64", Credentials: map[string]string{"root": vboxtest.DefaultGuestPassword}})
	if code, out, errOut := u.labctl(context.Background(), "base", "import", "--name", "Mystery", "--write-lab", ova); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := u.up()
	all := out + errOut
	if code == 0 || !strings.Contains(all, "(a clone of the base VM) runs a Debian-family system (OS type \"Debian_64\"), but base.profile is \"el8\"") ||
		!strings.Contains(all, `set base.profile = "debian"`) {
		t.Fatalf("up: exit %d\n%s", code, all)
	}
	if !strings.Contains(all, "wait-guests") {
		t.Errorf("not found at wait-guests:\n%s", all)
	}
}
