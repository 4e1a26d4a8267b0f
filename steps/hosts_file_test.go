package steps

import (
	"context"
	"os"
	"strings"
	"testing"

	"labctl/guest"
)

const gaWantBlock = `# BEGIN labctl demo
192.168.1.100	sql-one
192.168.1.101	sql-two
192.168.1.102	sql-three
192.168.1.110	server-one
192.168.1.111	server-two
192.168.1.120	load-balancer
192.168.1.99	sql-vip
# END labctl demo
`

func TestHostsFileConverges(t *testing.T) {
	p := gaTestPlan()
	if got := hostsBlock(p); got != gaWantBlock {
		t.Fatalf("block:\n%s", got)
	}
	guests := map[string]*gaGuest{}
	for _, n := range p.Nodes {
		guests[n.VM] = newGAGuest(t, n.VM, guest.EL8)
	}
	env := gaEnv(p, guest.EL8, guests)
	for _, n := range p.Nodes {
		g := guests[n.VM]
		orig := g.read("etc/hosts")
		if why := gaConverge(t, HostsFile(), env, n); why != "no labctl block in /etc/hosts" {
			t.Errorf("why %q", why)
		}
		if got := g.read("etc/hosts"); got != orig+gaWantBlock {
			t.Errorf("%s /etc/hosts:\n%s", n.VM, got)
		}
	}
}

func TestHostsFileReplacesOnlyItsBlock(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	g := newGAGuest(t, n.VM, guest.Debian)
	const before = "127.0.0.1 localhost\n# BEGIN labctl demo\n10.0.0.1\told-name\n# END labctl demo\n"
	const other = "# BEGIN labctl other\n10.9.9.9\telsewhere\n# END labctl other\n192.168.50.5 printer\n"
	g.write("etc/hosts", before+other)
	if err := os.Chmod(g.path("etc/hosts"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := gaEnv(p, guest.Debian, map[string]*gaGuest{n.VM: g})
	why := gaConverge(t, HostsFile(), env, n)
	if !strings.Contains(why, "differs from the plan") {
		t.Errorf("why %q", why)
	}
	want := "127.0.0.1 localhost\n" + gaWantBlock + other
	if got := g.read("etc/hosts"); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(g.path("etc/hosts")); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	// Unchanged content is not rewritten.
	st1, _ := os.Stat(g.path("etc/hosts"))
	if err := HostsFile().Apply(context.Background(), env, n); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(g.path("etc/hosts"))
	if !os.SameFile(st1, st2) {
		t.Error("an up-to-date /etc/hosts was replaced")
	}
}

func TestHostsFileRefusesDamagedBlock(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	g := newGAGuest(t, n.VM, guest.EL8)
	const damaged = "127.0.0.1 localhost\n# BEGIN labctl demo\n10.0.0.1 x\n192.168.50.5 printer\n"
	g.write("etc/hosts", damaged)
	env := gaEnv(p, guest.EL8, map[string]*gaGuest{n.VM: g})
	err := HostsFile().Apply(context.Background(), env, n)
	if err == nil || !strings.Contains(err.Error(), "damaged labctl block") {
		t.Fatalf("got %v", err)
	}
	if g.read("etc/hosts") != damaged {
		t.Fatal("damaged file was changed")
	}
}

func TestHostsFileScripts(t *testing.T) {
	p := gaTestPlan()
	s := hostsScript(p, "/etc/hosts")
	gaGolden(t, "hosts-file.sh", s)
	gaShellcheck(t, "hosts", s)
}
