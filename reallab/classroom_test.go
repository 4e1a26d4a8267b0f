package reallab

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestClassroomBase is issue 12's classroom flow on real machines: the
// instructor exports the prepared base (`labctl base export`), and on a
// second backend state with no base (a student's host) a corrupted copy
// of the file is refused with nothing imported, then `labctl base import`
// of the file with its checksum, `up` and `verify` build the lab from the
// imported base. It has its own Env (work folder, bridge, backend states)
// and reuses only the cached rootfs and package repository, so it depends
// on no other test; REALLAB_RUN=TestClassroomBase runs it alone (~2 min).
func TestClassroomBase(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.Work, "bin", "labctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	instructor := labctlRunner{bin: bin, lab: writeLab(t, e), state: filepath.Join(e.Work, "state"), env: e}

	// The instructor: check and export the prepared base.
	if out, _, err := instructor.run(t, 2*time.Minute, "base", "check"); err != nil {
		t.Fatalf("labctl base check (instructor): %v\n%s", err, out)
	}
	ova := filepath.Join(e.Work, "class-base.ova")
	out, d, err := instructor.run(t, 10*time.Minute, "base", "export", ova)
	record("labctl base export (instructor)", d)
	if err != nil {
		t.Fatalf("labctl base export: %v", err)
	}
	m := regexp.MustCompile(`SHA-256: ([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("export printed no SHA-256:\n%s", out)
	}
	sum := m[1]
	if st, err := os.Stat(ova); err == nil {
		fmtSize := float64(st.Size()) / 1e6
		t.Logf("exported %s: %.1f MB", ova, fmtSize)
	}

	// The student's host: the same network, no base VM at all.
	s, err := e.StudentHost("class-base")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		if cerr := s.Close(); cerr != nil {
			t.Errorf("student host cleanup: %v", cerr)
		}
	})
	if err := os.MkdirAll(s.Work, 0o755); err != nil {
		t.Fatal(err)
	}
	student := labctlRunner{bin: bin, lab: writeLab(t, s), state: filepath.Join(s.Work, "state"), env: s}
	if vms := ParseListVMs(vbox(t, s, "list", "vms").Stdout); len(vms) != 0 {
		t.Fatalf("the student host starts with VMs: %v", vms)
	}

	// A corrupted copy (one byte of the disk changed) is refused, nothing imported.
	bad := filepath.Join(s.Work, "class-base-corrupt.ova")
	data, err := os.ReadFile(ova)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	data = nil
	out, _, err = student.run(t, 5*time.Minute, "base", "import", bad)
	if err == nil || !strings.Contains(out, "is damaged") || !strings.Contains(out, "nothing was imported") {
		t.Fatalf("import of a corrupted copy: err %v\n%s", err, out)
	}
	if vms := ParseListVMs(vbox(t, s, "list", "vms").Stdout); len(vms) != 0 {
		t.Fatalf("a refused import left VMs: %v", vms)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Home, "vms")); len(ents) != 0 {
		t.Fatalf("a refused import left %d machine folders", len(ents))
	}

	// The real file, with the instructor's checksum.
	out, d, err = student.run(t, 10*time.Minute, "base", "import", ova, "--sha256", sum, "--write-lab")
	record("labctl base import (student)", d)
	if err != nil {
		t.Fatalf("labctl base import: %v", err)
	}
	if !strings.Contains(out, `profile = "debian"`) {
		t.Errorf("import did not detect the profile:\n%s", out)
	}
	lab, _ := os.ReadFile(student.lab)
	if !bytes.Contains(lab, []byte(`vm = "class-base"`)) || !bytes.Contains(lab, []byte(`profile = "debian"`)) {
		t.Errorf("lab.toml after --write-lab:\n%s", lab)
	}
	info := machineReadable(vbox(t, s, "showvminfo", "class-base", "--machinereadable").Stdout)
	if info["groups"] != "/labctl-bases" || info["SnapshotName"] != "labctl-base" {
		t.Errorf("imported base: groups %q, snapshot %q", info["groups"], info["SnapshotName"])
	}

	out, d, err = student.run(t, 25*time.Minute, "up")
	record("labctl up (first, from the imported base)", d)
	if err != nil {
		t.Fatalf("labctl up on the student host: %v", err)
	}
	if !strings.Contains(out, "How to reach WordPress: http://"+nodeIP[lbNode]+"/") {
		t.Errorf("up summary does not say how to reach WordPress")
	}
	checkLab(t, s)
	if _, d, err := student.run(t, 5*time.Minute, "verify"); err != nil {
		t.Errorf("labctl verify on the student host: %v", err)
	} else {
		record("labctl verify (student host)", d)
	}
	if _, _, err := student.run(t, 10*time.Minute, "down", "--yes"); err != nil {
		t.Errorf("labctl down on the student host: %v", err)
	}
}
