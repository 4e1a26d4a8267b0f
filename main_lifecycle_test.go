package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"labctl/fleet"
	"labctl/internal/vboxtest"
	"labctl/lab"
)

// labNodes are the VMs of the test lab, in lab order.
var labNodes = []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "LOAD-BALANCER"}

const testLabName = "testlab"

// testLab is a lab.toml in a temp folder, an isolated state folder and a
// fresh fake VirtualBox.
type testLab struct {
	t        *testing.T
	fake     *vboxtest.Fake
	file     string
	stateDir string // the lab's own state folder
}

func newTestLab(t *testing.T, opts ...vboxtest.Option) *testLab {
	t.Helper()
	file := writeTestLabTOML(t)
	root := t.TempDir()
	t.Setenv(lab.StateDirEnv, root)
	opts = append([]vboxtest.Option{vboxtest.WithGuestAdditionsDelay(0)}, opts...)
	return &testLab{t: t, fake: vboxtest.New(t, opts...), file: file, stateDir: filepath.Join(root, testLabName)}
}

// writeTestLabTOML writes the six-node test lab on TEST-NET-1, bridged to
// the fake's host interface, with a 0600 guest password file.
func writeTestLabTOML(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "guest-password")
	if err := os.WriteFile(pw, []byte(vboxtest.DefaultGuestPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`name = "` + testLabName + `"

[base]
vm = "` + vboxtest.BaseVM + `"
password_file = "` + pw + `"

[network]
bridge_adapter = "` + vboxtest.BridgeIf + `"
network = "192.0.2.0/24"
gateway = ".1"
`)
	ips := []string{".100", ".101", ".102", ".160", ".161", ".162"}
	roles := []string{"db", "db", "db", "web", "web", "lb"}
	for i, vm := range labNodes {
		b.WriteString("\n[[nodes]]\nvm = \"" + vm + "\"\nhostname = \"" + strings.ToLower(vm) + "\"\nip = \"" + ips[i] + "\"\nrole = \"" + roles[i] + "\"\n")
	}
	file := filepath.Join(dir, "lab.toml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// labctl runs the CLI in-process against the fake.
func (l *testLab) labctl(stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	l.t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	argv := append([]string{"labctl", "--lab", l.file, "--vboxmanage", l.fake.Bin}, args...)
	code = run(argv, stdin, &out, &errb)
	return code, out.String(), errb.String()
}

// must runs the fake directly (setting up a scene, not under test).
func (l *testLab) must(args ...string) {
	l.t.Helper()
	if r := l.fake.Run(args...); r.Code != 0 {
		l.t.Fatalf("fake %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
	}
}

// createVMs registers the lab's six VMs quickly, the way clone-vms leaves
// them (linked clones of the base snapshot in the lab's group, tagged),
// and starts those named in running. Their hardware is the base's, so a
// converge would reconfigure them: tests that converge use buildWithUp.
func (l *testLab) createVMs(running ...string) {
	l.t.Helper()
	l.must("snapshot", vboxtest.BaseVM, "take", "labctl-base")
	for _, vm := range labNodes {
		l.must("clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", vm,
			"--groups", "/labctl/"+testLabName, "--register")
		l.must("setextradata", vm, "labctl/lab", testLabName)
		l.must("setextradata", vm, "labctl/node", strings.ToLower(vm))
	}
	for _, vm := range running {
		l.must("startvm", vm, "--type", "headless")
	}
}

// buildWithUp builds the lab's VMs with labctl's own VM phase (`up` with
// guest control failing, so it stops right after the VMs run and no guest
// command ever executes), then powers off those not in running.
func (l *testLab) buildWithUp(running ...string) {
	l.t.Helper()
	l.fake.AddFault(vboxtest.Fault{Match: "guestcontrol", Kind: "fail", Message: "VBoxManage: error: injected: guest control unavailable"})
	code, out, errOut := l.labctl(nil, "up")
	if code == 0 || !strings.Contains(errOut, "guest control unavailable") {
		l.t.Fatalf("setup: up should build the VMs and stop at guest control: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, vm := range labNodes {
		v := l.fake.State().VM(vm)
		if v == nil || v.State != "running" || v.ExtraData["labctl/lab"] != testLabName {
			l.t.Fatalf("setup: %s not built by up: %+v", vm, v)
		}
		if !slices.Contains(running, vm) {
			l.must("controlvm", vm, "poweroff")
		}
	}
}

func (l *testLab) uuid(vm string) string {
	l.t.Helper()
	v := l.fake.State().VM(vm)
	if v == nil {
		l.t.Fatalf("no VM %s in the fake", vm)
	}
	return v.UUID
}

// since returns the argv logged after the first n calls.
func (l *testLab) since(n int) [][]string { return l.fake.Argv()[n:] }

// mutating keeps the calls that may change something.
func mutating(calls [][]string) [][]string {
	var out [][]string
	for _, a := range calls {
		if vboxtest.IsMutating(a) {
			out = append(out, a)
		}
	}
	return out
}

// index is the position of the first call whose argv starts with prefix, or -1.
func index(calls [][]string, prefix ...string) int {
	for i, a := range calls {
		if len(a) >= len(prefix) && slices.Equal(a[:len(prefix)], prefix) {
			return i
		}
	}
	return -1
}

func (l *testLab) labVMsLeft() []string {
	var left []string
	for _, v := range l.fake.State().VMs {
		if v.ExtraData["labctl/lab"] == testLabName {
			left = append(left, v.Name)
		}
	}
	return left
}

func TestDownDeletesExactlyTheLabVMs(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE", "SERVER-TWO")
	dirs := map[string]string{}
	uuids := map[string]string{}
	for _, vm := range labNodes {
		v := l.fake.State().VM(vm)
		dirs[vm] = filepath.Dir(v.CfgFile)
		uuids[vm] = v.UUID
		if !v.DiskPathExists {
			t.Fatalf("setup: %s has no files at %s", vm, dirs[vm])
		}
	}
	if err := os.MkdirAll(filepath.Join(l.stateDir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	n0 := len(l.fake.Argv())

	code, out, errOut := l.labctl(nil, "down", "--yes")
	if code != 0 {
		t.Fatalf("down: exit %d\n%s\n%s", code, out, errOut)
	}
	if left := l.labVMsLeft(); len(left) != 0 {
		t.Fatalf("lab VMs left after down: %v", left)
	}
	for vm, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s: its folder %s still exists (%v): disks not deleted", vm, d, err)
		}
	}
	base := l.fake.State().VM(vboxtest.BaseVM)
	if base == nil || !slices.Contains(base.SnapshotNames(), "labctl-base") {
		t.Fatalf("the base VM or its labctl-base snapshot is gone: %+v", base)
	}
	if err := l.fake.UnrelatedUntouched(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.stateDir); !os.IsNotExist(err) {
		t.Fatalf("the lab's state folder survived down: %v", err)
	}
	calls := l.since(n0)
	for _, a := range mutating(calls) {
		target := ""
		if len(a) > 1 {
			target = a[1]
		}
		if a[0] == "controlvm" || a[0] == "unregistervm" {
			if !slices.Contains(mapValues(uuids), target) {
				t.Errorf("down touched a VM that is not the lab's: %v", a)
			}
		}
	}
	for _, vm := range []string{"SQL-ONE", "SERVER-TWO"} {
		off, del := index(calls, "controlvm", uuids[vm], "poweroff"), index(calls, "unregistervm", uuids[vm])
		if off < 0 || del < 0 || off > del {
			t.Errorf("%s was running: want poweroff before unregistervm, got poweroff at %d, unregistervm at %d", vm, off, del)
		}
	}
	if !strings.Contains(out, "is gone") {
		t.Errorf("down's report: %q", out)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestDownWithoutYesAndNoTerminalRefuses(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE")
	n0 := len(l.fake.Argv())
	// "y" on a pipe is not a confirmation: only a terminal can confirm.
	code, out, errOut := l.labctl(strings.NewReader("y\n"), "down")
	if code == 0 {
		t.Fatalf("down without --yes on a pipe succeeded:\n%s", out)
	}
	if !strings.Contains(errOut, "--yes") {
		t.Errorf("the refusal should say how to confirm: %q", errOut)
	}
	if m := mutating(l.since(n0)); len(m) != 0 {
		t.Fatalf("down changed things without confirmation: %v", m)
	}
	if left := l.labVMsLeft(); len(left) != len(labNodes) {
		t.Fatalf("lab VMs after the refusal: %v", left)
	}
}

func TestDownHalfDeletedIsReportedAndFinishedByARerun(t *testing.T) {
	l := newTestLab(t)
	l.createVMs()
	if err := os.MkdirAll(l.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l.fake.AddFault(vboxtest.Fault{Match: "unregistervm " + l.uuid("SQL-TWO"), Kind: "fail", Times: 1,
		Message: "VBoxManage: error: injected: the disk of SQL-TWO is busy"})

	code, out, errOut := l.labctl(nil, "down", "--yes")
	if code == 0 {
		t.Fatalf("down with a failing VM reported success:\n%s", out)
	}
	if !strings.Contains(errOut, "SQL-TWO") || !strings.Contains(errOut, "labctl down") {
		t.Errorf("the failure should name the VM and the way out: %q", errOut)
	}
	if left := l.labVMsLeft(); !slices.Equal(left, []string{"SQL-TWO"}) {
		t.Fatalf("after a half-failed down, lab VMs left: %v (want only SQL-TWO)", left)
	}
	if _, err := os.Stat(l.stateDir); err != nil {
		t.Fatalf("the state folder must stay while VMs remain: %v", err)
	}

	code, out, errOut = l.labctl(nil, "down", "--yes")
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, out, errOut)
	}
	if left := l.labVMsLeft(); len(left) != 0 {
		t.Fatalf("lab VMs left after the re-run: %v", left)
	}
	if _, err := os.Stat(l.stateDir); !os.IsNotExist(err) {
		t.Fatalf("the state folder survived the finished down: %v", err)
	}
	if err := l.fake.UnrelatedUntouched(); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotTakeListDelete(t *testing.T) {
	l := newTestLab(t)
	running := []string{"SQL-ONE", "SQL-TWO", "SQL-THREE"}
	l.createVMs(running...)
	n0 := len(l.fake.Argv())

	code, out, errOut := l.labctl(nil, "snapshot", "take", "--description", "before the exercise", "clean")
	if code != 0 {
		t.Fatalf("take: exit %d\n%s\n%s", code, out, errOut)
	}
	calls := l.since(n0)
	for _, vm := range labNodes {
		v := l.fake.State().VM(vm)
		if !slices.Contains(v.SnapshotNames(), "clean") {
			t.Errorf("%s has no snapshot clean: %v", vm, v.SnapshotNames())
		}
		i := index(calls, "snapshot", v.UUID, "take", "clean")
		if i < 0 {
			t.Fatalf("no take call for %s in %v", vm, calls)
		}
		live := slices.Contains(calls[i], "--live")
		if want := slices.Contains(running, vm); live != want {
			t.Errorf("%s: --live=%v, want %v (live only for running VMs): %v", vm, live, want, calls[i])
		}
		if v.State != map[bool]string{true: "running", false: "poweroff"}[slices.Contains(running, vm)] {
			t.Errorf("%s changed state to %s during a live snapshot", vm, v.State)
		}
	}
	if i := index(calls, "controlvm"); i >= 0 {
		t.Errorf("a live take powered a VM off: %v", calls[i])
	}

	// Taking the same name again is refused before any change.
	n1 := len(l.fake.Argv())
	if code, _, errOut := l.labctl(nil, "snapshot", "take", "clean"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second take of clean: exit %d, %q", code, errOut)
	}
	if m := mutating(l.since(n1)); len(m) != 0 {
		t.Errorf("a refused take changed things: %v", m)
	}

	// list: the table and JSON.
	code, out, errOut = l.labctl(nil, "snapshot", "list")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SNAPSHOT") || !strings.HasPrefix(lines[1], "clean") {
		t.Fatalf("list table:\n%s", out)
	}
	for _, vm := range labNodes {
		if !strings.Contains(lines[0], vm) {
			t.Errorf("list header lacks %s: %q", vm, lines[0])
		}
	}
	if strings.Contains(lines[1], "MISSING") {
		t.Errorf("clean is on every VM, yet: %q", lines[1])
	}
	code, out, _ = l.labctl(nil, "snapshot", "list", "--json")
	var rows []fleet.SnapshotJSON
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, out)
	}
	if len(rows) != 1 || rows[0].Name != "clean" || !rows[0].Complete || len(rows[0].VMs) != len(labNodes) {
		t.Fatalf("list --json: %+v", rows)
	}
	for _, v := range rows[0].VMs {
		if !v.Present || !v.Current {
			t.Errorf("list --json: %s: %+v, want present and current", v.VM, v)
		}
	}
	if !strings.Contains(out, `"present": true`) || strings.Contains(out, `"yes"`) {
		t.Errorf("list --json uses strings for booleans:\n%s", out)
	}

	// delete removes it everywhere.
	n2 := len(l.fake.Argv())
	if code, out, errOut := l.labctl(nil, "snapshot", "delete", "clean"); code != 0 {
		t.Fatalf("delete: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, vm := range labNodes {
		if v := l.fake.State().VM(vm); slices.Contains(v.SnapshotNames(), "clean") {
			t.Errorf("%s still has clean after delete", vm)
		}
		if index(l.since(n2), "snapshot", l.uuid(vm), "delete", "clean") < 0 {
			t.Errorf("no delete call for %s", vm)
		}
	}
	if err := l.fake.UnrelatedUntouched(); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotMissingOnOneVMIsRefusedBeforeAnyChange(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE", "SERVER-ONE")
	for _, vm := range labNodes {
		if vm != "SERVER-TWO" {
			l.must("snapshot", vm, "take", "clean")
		}
	}
	for _, cmd := range []string{"restore", "delete"} {
		n0 := len(l.fake.Argv())
		code, out, errOut := l.labctl(nil, "snapshot", cmd, "clean")
		if code == 0 {
			t.Fatalf("%s of a snapshot missing on SERVER-TWO succeeded:\n%s", cmd, out)
		}
		if !strings.Contains(errOut, "SERVER-TWO") || !strings.Contains(errOut, "nothing was changed") {
			t.Errorf("%s: the refusal should name SERVER-TWO: %q", cmd, errOut)
		}
		if m := mutating(l.since(n0)); len(m) != 0 {
			t.Fatalf("%s: refused, yet changed things: %v", cmd, m)
		}
	}
	// The list shows the gap.
	code, out, _ := l.labctl(nil, "snapshot", "list")
	if code != 0 || !strings.Contains(out, "MISSING") {
		t.Fatalf("list should mark SERVER-TWO's gap:\n%s", out)
	}
}

func TestSnapshotRestorePowersOffRestoresThenConverges(t *testing.T) {
	l := newTestLab(t)
	running := []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE"}
	l.buildWithUp(running...)
	for _, vm := range labNodes {
		if slices.Contains(running, vm) {
			l.must("snapshot", vm, "take", "clean", "--live")
		} else {
			l.must("snapshot", vm, "take", "clean")
		}
	}
	// Guest control fails in this scene (see buildWithUp), so the converge that
	// follows the restore stops at its first guest step.
	n0 := len(l.fake.Argv())

	start := time.Now()
	code, out, errOut := l.labctl(nil, "snapshot", "restore", "clean")
	if el := time.Since(start); el > 2*time.Minute {
		t.Fatalf("restore took %s", el)
	}
	calls := l.since(n0)
	for _, vm := range labNodes {
		u := l.uuid(vm)
		restore := index(calls, "snapshot", u, "restore", "clean")
		if restore < 0 {
			t.Fatalf("%s was not restored:\n%v", vm, calls)
		}
		if slices.Contains(running, vm) {
			off := index(calls, "controlvm", u, "poweroff")
			if off < 0 || off > restore {
				t.Errorf("%s was running: want poweroff (at %d) before restore (at %d)", vm, off, restore)
			}
		}
		if index(calls[restore:], "startvm", u) < 0 && index(calls[restore:], "startvm", vm) < 0 {
			t.Errorf("%s was not started after its restore", vm)
		}
	}
	// The converge ran and failed clearly on guest control.
	if code == 0 {
		t.Fatalf("converge should fail when guest control is unavailable:\n%s", out)
	}
	if !strings.Contains(out, `restored "clean" on 6 VMs`) {
		t.Errorf("restore should report the restore before converging:\n%s", out)
	}
	if !strings.Contains(errOut, "guest control") || !strings.Contains(errOut, filepath.Join(l.stateDir, "logs")) {
		t.Errorf("the converge error should say what failed and where the log is: %q", errOut)
	}
	if err := l.fake.UnrelatedUntouched(); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotRestoreDryRunChangesNothing(t *testing.T) {
	l := newTestLab(t)
	l.createVMs("SQL-ONE")
	for _, vm := range labNodes {
		l.must("snapshot", vm, "take", "clean")
	}
	n0 := len(l.fake.Argv())
	code, out, errOut := l.labctl(nil, "snapshot", "restore", "--dry-run", "clean")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, vm := range labNodes {
		if !strings.Contains(out, vm) {
			t.Errorf("dry run does not mention %s:\n%s", vm, out)
		}
	}
	if m := mutating(l.since(n0)); len(m) != 0 {
		t.Fatalf("dry run changed things: %v", m)
	}
}
