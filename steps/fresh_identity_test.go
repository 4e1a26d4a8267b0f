package steps

import (
	"context"
	"strings"
	"testing"

	"labctl/guest"
	"labctl/lab"
)

func TestFreshIdentity(t *testing.T) {
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			p := gaTestPlan()
			n := p.Nodes[0]
			g := newGAGuest(t, n.VM, prof)
			// mysqld ran in the base image: its datadir carries a server_uuid.
			g.write("var/lib/mysql/auto.cnf", "[auto]\nserver-uuid=11111111-1111-1111-1111-111111111111\n")
			g.write("run/active/"+prof.MySQLService, "")
			env := gaEnv(p, prof, map[string]*gaGuest{n.VM: g})
			oldID, oldKey := g.read("etc/machine-id"), g.read("etc/ssh/ssh_host_ed25519_key.pub")

			why := gaConverge(t, FreshIdentity(), env, n)
			if !strings.Contains(why, "base image") {
				t.Errorf("why: %q", why)
			}
			if id := g.read("etc/machine-id"); id == oldID || len(strings.TrimSpace(id)) != 32 {
				t.Errorf("machine-id not renewed: %q", id)
			}
			if k := g.read("etc/ssh/ssh_host_ed25519_key.pub"); k == oldKey || !strings.HasPrefix(k, "ssh-ed25519 ") {
				t.Errorf("host key not renewed: %q", k)
			}
			if g.exists("var/lib/mysql/auto.cnf") {
				t.Error("cloned auto.cnf kept")
			}
			calls := g.calls()
			for _, want := range []string{"systemctl restart " + prof.SSHService, "systemctl stop " + prof.MySQLService, "systemctl start " + prof.MySQLService} {
				if !strings.Contains(calls, want) {
					t.Errorf("calls lack %q:\n%s", want, calls)
				}
			}
			if strings.Contains(calls, "restorecon") != prof.SELinux {
				t.Errorf("restorecon use does not follow SELinux=%v:\n%s", prof.SELinux, calls)
			}

			// Idempotent: running Apply again (e.g. --from) changes nothing,
			// including a datadir mysqld has since created.
			id, key := g.read("etc/machine-id"), g.read("etc/ssh/ssh_host_ed25519_key.pub")
			g.write("var/lib/mysql/auto.cnf", "[auto]\nserver-uuid=22222222-2222-2222-2222-222222222222\n")
			if err := FreshIdentity().Apply(context.Background(), env, n); err != nil {
				t.Fatal(err)
			}
			if g.read("etc/machine-id") != id || g.read("etc/ssh/ssh_host_ed25519_key.pub") != key || !g.exists("var/lib/mysql/auto.cnf") {
				t.Fatal("second apply changed the identity of a finished clone")
			}

			// A clone of this VM (marker copied, other VM UUID) is not done.
			env.VBox.(gaVBox).uuids[n.VM] = "99999999-0000-4000-8000-000000000000"
			st, err := FreshIdentity().Check(context.Background(), env, n)
			if err != nil || st.Done || !strings.Contains(st.Why, "99999999") {
				t.Fatalf("clone of a clone: %+v %v", st, err)
			}
		})
	}
}

func TestFreshIdentityScripts(t *testing.T) {
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			apply := identityScript(prof, "4a1b2c3d-0000-4000-8000-000000000007")
			got := "# check\n" + identityCheckScript() + "# apply\n" + apply
			gaGolden(t, "fresh-identity-"+prof.Name+".sh", got)
			gaShellcheck(t, "check", identityCheckScript())
			gaShellcheck(t, "apply", apply)
		})
	}
}

func TestFreshIdentityPlanMode(t *testing.T) {
	p := gaTestPlan()
	rec := guest.NewRecorder("SQL-ONE")
	env := planTestEnv(p, guest.EL8, nil, func(*lab.Node) guest.Executor { return rec })
	info, err := env.VBox.Info(context.Background(), p.Nodes[0].VM)
	if err != nil {
		t.Fatal(err)
	}
	if err := FreshIdentity().Apply(context.Background(), env, p.Nodes[0]); err != nil {
		t.Fatal(err)
	}
	// The emulator answers the clone's UUID, as VirtualBox would.
	if c := rec.Calls(); len(c) != 1 || !strings.Contains(c[0].Script, "vm='"+info.UUID+"'") {
		t.Fatalf("recorded %+v, want vm=%s", c, info.UUID)
	}
}
