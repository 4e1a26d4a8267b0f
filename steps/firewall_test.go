package steps

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestFirewallCheckApplyCheck(t *testing.T) {
	l := wtFakeLab(t, "el8")
	for _, n := range Firewall().Targets(l.env.Plan) {
		st := wtCycle(t, Firewall(), l.env, n)
		for _, want := range []string{"firewalld is not installed, want active", "labctl.xml is missing", "zone labctl is not loaded"} {
			if !strings.Contains(st.Why, want) {
				t.Errorf("%s: first check %q lacks %q", n.VM, st.Why, want)
			}
		}
	}
	zone := func(vm string) string { return string(l.guests[vm].files[fwZoneFile].Content) }
	has := func(vm, src, what string) bool {
		return strings.Contains(zone(vm), `<source address="`+src+`/32"/>`+"\n    "+what)
	}
	for _, vm := range []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "LOAD-BALANCER"} {
		z := zone(vm)
		if !strings.Contains(z, `<source address="192.168.1.0/24"/>`) || !strings.Contains(z, `<service name="ssh"/>`) {
			t.Errorf("%s: zone not bound to the lab network with ssh:\n%s", vm, z)
		}
	}
	// DB: MySQL from both web nodes and the peers; XCom and VRRP from the peers only.
	for _, c := range []struct {
		vm, src, what string
		want          bool
	}{
		{"SQL-ONE", "192.168.1.110", `<port port="3306" protocol="tcp"/>`, true},
		{"SQL-ONE", "192.168.1.111", `<port port="3306" protocol="tcp"/>`, true},
		{"SQL-ONE", "192.168.1.101", `<port port="33061" protocol="tcp"/>`, true},
		{"SQL-ONE", "192.168.1.102", `<protocol value="vrrp"/>`, true},
		{"SQL-ONE", "192.168.1.100", `<port port="33061" protocol="tcp"/>`, false}, // not from itself
		{"SQL-ONE", "192.168.1.110", `<port port="33061" protocol="tcp"/>`, false},
		{"SQL-ONE", "192.168.1.120", `<port port="3306" protocol="tcp"/>`, false},
		{"SERVER-ONE", "192.168.1.120", `<port port="80" protocol="tcp"/>`, true},
		{"SERVER-ONE", "192.168.1.111", `<port port="80" protocol="tcp"/>`, false},
	} {
		if got := has(c.vm, c.src, c.what); got != c.want {
			t.Errorf("%s: rule %s from %s present=%v, want %v", c.vm, c.what, c.src, got, c.want)
		}
	}
	if n := strings.Count(zone("SQL-TWO"), "<rule "); n != 2+3*2 {
		t.Errorf("SQL-TWO has %d rules, want 8 (2 web + 3 per peer)", n)
	}
	if strings.Contains(zone("SERVER-ONE"), `<service name="http"/>`) {
		t.Error("web node opens http to the whole network; only the LB may reach it")
	}
	if !strings.Contains(zone("LOAD-BALANCER"), `<service name="http"/>`) {
		t.Error("LB does not open http")
	}
	// The LB also opens http in the default zone: visitors from anywhere.
	if !strings.Contains(l.guests["LOAD-BALANCER"].scripts()[0].Script, "--add-service=http") {
		t.Error("LB apply does not open http in the default zone")
	}
	for _, vm := range []string{"SQL-ONE", "SERVER-ONE"} {
		if strings.Contains(l.guests[vm].scripts()[0].Script, "--add-service=http") {
			t.Errorf("%s opens http in the default zone", vm)
		}
	}

	// Not reloaded after a file change: Check notices.
	g := l.guests["SQL-ONE"]
	g.facts["permanent"] += "\n  rich rules: one more"
	st, err := Firewall().Check(context.Background(), l.env, l.node("SQL-ONE"))
	if err != nil || st.Done || !strings.Contains(st.Why, "not reloaded") {
		t.Errorf("stale runtime: %+v %v", st, err)
	}
}

func TestFirewallSkippedWithoutFirewalld(t *testing.T) {
	l := wtFakeLab(t, "debian")
	for _, n := range Firewall().Targets(l.env.Plan) {
		st, err := Firewall().Check(context.Background(), l.env, n)
		if err != nil || !st.Done {
			t.Errorf("%s: %+v %v", n.VM, st, err)
		}
		if err := Firewall().Apply(context.Background(), l.env, n); err != nil {
			t.Error(err)
		}
		if len(l.guests[n.VM].cmds)+len(l.guests[n.VM].ups) != 0 {
			t.Errorf("%s: commands sent to a guest without firewalld", n.VM)
		}
	}
}

func TestFirewallListingNormalised(t *testing.T) {
	runtime := "labctl (active)\n  target: default\n  sources: 192.168.1.0/24\n  services: ssh"
	permanent := "labctl\n  target: default\n  sources: 192.168.1.0/24\n  services: ssh"
	if fwListing(runtime) != fwListing(permanent) {
		t.Error("the (active) marker makes runtime and permanent differ")
	}
	if fwListing(runtime) == fwListing(permanent+" http") {
		t.Error("a real difference is hidden")
	}
}

// wtFirewallPython finds a python3 that has firewalld's own zone reader.
func wtFirewallPython(t *testing.T) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import firewall.core.io.zone").Run(); err == nil {
			return py
		}
	}
	t.Skip("firewalld's python module not installed (CI installs it: apt-get install -y python3-firewall)")
	return ""
}

// TestFirewallZoneFilesLoadInFirewalld reads every rendered zone file with
// firewalld's own zone reader, which drops (with a warning) any rule it
// cannot parse, and compares what it loaded with the plan.
func TestFirewallZoneFilesLoadInFirewalld(t *testing.T) {
	wtCheckZones(t, wtHostChecker, wtFirewallPython(t))
}

// wtCheckZones loads every node's zone with checker c's firewalld reader
// and returns how many.
func wtCheckZones(t *testing.T, c wtChecker, py string) int {
	t.Helper()
	l := wtNewLab(t, "el8")
	for _, n := range l.env.Plan.Nodes {
		f, err := fwFile(l.env.Plan, n)
		if err != nil {
			t.Fatal(err)
		}
		dir := c.dir(t)
		if err := os.WriteFile(c.file(filepath.Join(dir, fwZone+".xml")), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		prog := `import sys
from firewall.core.io.zone import zone_reader
z = zone_reader(sys.argv[1] + ".xml", sys.argv[2])
print("sources", " ".join(z.sources))
print("services", " ".join(z.services))
for r in z.rules:
    print(r)
`
		out, err := c.cmd(py, "-c", prog, fwZone, dir).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: firewalld cannot read the zone: %v\n%s", c.name, n.VM, err, out)
		}
		got := string(out)
		if strings.Contains(got, "WARNING") || strings.Contains(got, "ERROR") {
			t.Errorf("%s %s: firewalld complained:\n%s", c.name, n.VM, got)
		}
		d := fwPlan(l.env.Plan, n)
		want := []string{"sources 192.168.1.0/24", "services " + strings.Join(append([]string{"ssh"}, d.Services...), " ")}
		for _, r := range d.Rules {
			what := `port port="` + strconv.Itoa(r.Port) + `" protocol="` + r.Protocol + `"`
			if r.Port == 0 {
				what = `protocol value="` + r.Protocol + `"`
			}
			want = append(want, `rule family="ipv4" source address="`+r.Source+`" `+what+` accept`)
		}
		if strings.TrimSpace(got) != strings.Join(want, "\n") {
			t.Errorf("%s %s: firewalld loaded\n%s\nwant\n%s", c.name, n.VM, got, strings.Join(want, "\n"))
		}
	}
	return len(l.env.Plan.Nodes)
}
