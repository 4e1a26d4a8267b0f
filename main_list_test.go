package main

import (
	"encoding/json"
	"strings"
	"testing"

	"labctl/fleet"
	"labctl/internal/vboxtest"
)

// TestListShowsEveryLabOnTheHost: labctl list reads VirtualBox alone (no
// lab.toml): the lab labctl built (its description tag included), a second
// lab, a clone interrupted before it was tagged, and no VM outside a
// /labctl/ group; it changes nothing.
func TestListShowsEveryLabOnTheHost(t *testing.T) {
	l := newTestLab(t)
	l.buildWithUp("SQL-ONE", "SQL-TWO")
	second := fleet.LabInfo{StateDir: "/srv/labs/second-seat3", Seat: 3, Mode: "natnetwork"}
	for i, vm := range []string{"SQL-ONE-S3", "SQL-TWO-S3"} {
		l.must("clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", vm,
			"--groups", "/labctl/second-seat3", "--register")
		l.must("setextradata", vm, "labctl/lab", "second-seat3")
		l.must("setextradata", vm, "labctl/node", []string{"sql-one", "sql-two"}[i])
		l.must("setextradata", vm, fleet.TagInfo, second.Tag())
	}
	l.must("startvm", "SQL-ONE-S3", "--type", "headless")
	// Interrupted between clonevm and the tag: the group names its lab.
	l.must("clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", "HALF",
		"--groups", "/labctl/half", "--register")
	// Someone else's VMs, one in a group of their own.
	l.must("clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", "MINE", "--register")
	l.must("clonevm", vboxtest.BaseVM, "--snapshot", "labctl-base", "--options", "link", "--name", "THEIRS",
		"--groups", "/labctl-not/x", "--register")
	n0 := len(l.fake.Argv())

	code, out, errOut := l.labctl(nil, "--lab", "/nonexistent/lab.toml", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: exit %d\n%s%s", code, out, errOut)
	}
	var labs []fleet.LabSummary
	if err := json.Unmarshal([]byte(out), &labs); err != nil {
		t.Fatalf("list --json is not JSON: %v\n%s", err, out)
	}
	// The fake's host also has web-01, in the group of a lab "other-lab" (tagged by hand, no description).
	if len(labs) != 4 || labs[0].Name != "half" || labs[1].Name != "other-lab" || labs[2].Name != "second-seat3" || labs[3].Name != testLabName {
		t.Fatalf("labs %+v, want half, other-lab, second-seat3, %s (sorted)", labs, testLabName)
	}
	if got := labs[3]; got.Total != 6 || got.Running != 2 || got.StateDir != l.stateDir || got.Seat != 0 || got.Mode != "bridged" {
		t.Errorf("the built lab: %+v, want 2/6 running in %s, no seat, bridged", got, l.stateDir)
	}
	if got := labs[2]; got.Total != 2 || got.Running != 1 || got.LabInfo != second {
		t.Errorf("the second lab: %+v, want 1/2 running and %+v", got, second)
	}
	if got := labs[0]; got.Total != 1 || got.VMs[0].Name != "HALF" || got.VMs[0].Node != "" {
		t.Errorf("the half-cloned lab: %+v", got)
	}
	for _, lb := range labs {
		for _, vm := range lb.VMs {
			if vm.Name == "MINE" || vm.Name == "THEIRS" {
				t.Errorf("a VM outside labctl's groups is listed under %s", lb.Name)
			}
		}
	}

	code, out, errOut = l.labctl(nil, "list")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "LAB") {
		t.Fatalf("list table:\n%s", out)
	}
	for i, want := range [][]string{{"half", "-", "-", "0/1", "-"}, {"other-lab", "-", "-", "0/1", "-"}, {"second-seat3", "3", "natnetwork", "1/2", second.StateDir}, {testLabName, "-", "bridged", "2/6", l.stateDir}} {
		if f := strings.Fields(lines[i+1]); strings.Join(f, " ") != strings.Join(want, " ") {
			t.Errorf("row %d: %q, want %q", i+1, lines[i+1], strings.Join(want, "  "))
		}
	}
	for _, a := range l.since(n0) {
		if vboxtest.IsMutating(a) {
			t.Errorf("list changed VirtualBox: %v", a)
		}
	}
	t.Log("\n" + out)
}

func TestListWithoutLabsOrVirtualBox(t *testing.T) {
	l := newTestLab(t)
	l.must("unregistervm", "web-01", "--delete") // the fake host's only lab VM
	if code, out, _ := l.labctl(nil, "list"); code != 0 || !strings.Contains(out, "No labctl labs on this host") {
		t.Errorf("list on a host without labs: exit %d %q", code, out)
	}
	if code, out, _ := l.labctl(nil, "list", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json on a host without labs: exit %d %q", code, out)
	}
	var o, e strings.Builder
	code := run([]string{"labctl", "--vboxmanage", "/nonexistent/VBoxManage", "list"}, strings.NewReader(""), &o, &e)
	if code != exitNoVBox || !strings.Contains(e.String(), "VBoxManage") {
		t.Errorf("list without VirtualBox: exit %d %q", code, e.String())
	}
}
