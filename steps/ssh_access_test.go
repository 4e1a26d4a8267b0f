package steps

import (
	"context"
	"crypto/ed25519"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
)

func gaLabKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " labctl@demo"
}

// gaPinEnv gives env the lab's own host-key store in a temp folder.
func gaPinEnv(t *testing.T, env *Env) {
	env.HostKeys = hostkeys.New(filepath.Join(t.TempDir(), "known_hosts"))
	env.SSHPublicKey = gaLabKey(t)
}

func TestSSHAccessConverges(t *testing.T) {
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			p := gaTestPlan()
			n := p.Nodes[3]
			g := newGAGuest(t, n.VM, prof)
			env := gaEnv(p, prof, map[string]*gaGuest{n.VM: g})
			gaPinEnv(t, env)
			// The identity step has made the clone's own host key.
			if err := FreshIdentity().Apply(context.Background(), env, n); err != nil {
				t.Fatal(err)
			}
			why := gaConverge(t, SSHAccess(), env, n)
			if !strings.Contains(why, "lab key not installed for root") {
				t.Errorf("why %q", why)
			}
			ak := g.read("root/.ssh/authorized_keys")
			if ak != env.SSHPublicKey+"\n" {
				t.Errorf("authorized_keys %q", ak)
			}
			for path, mode := range map[string]os.FileMode{"root/.ssh": 0o700, "root/.ssh/authorized_keys": 0o600} {
				if st, err := os.Stat(g.path(path)); err != nil || st.Mode().Perm() != mode {
					t.Errorf("%s: %v %v", path, st.Mode(), err)
				}
			}
			if strings.Contains(g.calls(), "restorecon -R") != prof.SELinux {
				t.Errorf("restorecon does not follow SELinux=%v:\n%s", prof.SELinux, g.calls())
			}
			// The pinned key is exactly the guest's own host key.
			hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(g.read("etc/ssh/ssh_host_ed25519_key.pub")))
			if err != nil {
				t.Fatal(err)
			}
			cb, err := knownhosts.New(env.HostKeys.(*hostkeys.Store).Path)
			if err != nil {
				t.Fatal(err)
			}
			remote := &net.TCPAddr{IP: net.ParseIP(n.IP.String()), Port: 22}
			if err := cb(n.IP.String()+":22", remote, hostKey); err != nil {
				t.Fatalf("guest host key not pinned: %v", err)
			}
			// Re-applying does not duplicate the key.
			if err := SSHAccess().Apply(context.Background(), env, n); err != nil {
				t.Fatal(err)
			}
			if g.read("root/.ssh/authorized_keys") != ak {
				t.Error("second apply changed authorized_keys")
			}
			// A VM re-created behind the same address has a new key: not done until re-pinned.
			if err := os.Remove(g.path("etc/labctl/identity")); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(g.path("etc/ssh/ssh_host_ed25519_key")); err != nil {
				t.Fatal(err)
			}
			if err := FreshIdentity().Apply(context.Background(), env, n); err != nil {
				t.Fatal(err)
			}
			st, err := SSHAccess().Check(context.Background(), env, n)
			if err != nil || st.Done || !strings.Contains(st.Why, "not pinned") {
				t.Fatalf("new host key: %+v %v", st, err)
			}
		})
	}
}

func TestSSHAccessErrors(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	g := newGAGuest(t, n.VM, guest.EL8)
	env := gaEnv(p, guest.EL8, map[string]*gaGuest{n.VM: g})
	if err := SSHAccess().Apply(context.Background(), env, n); err == nil || !strings.Contains(err.Error(), "SSH public key") {
		t.Fatalf("no key: %v", err)
	}
	gaPinEnv(t, env)
	p.SSHUser = "nobody-here"
	err := SSHAccess().Apply(context.Background(), env, n)
	if err == nil || !strings.Contains(err.Error(), "user nobody-here does not exist in the guest") {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestSSHAccessPlanMode(t *testing.T) {
	p := gaTestPlan()
	rec := guest.NewRecorder("SQL-ONE")
	env := planTestEnv(p, guest.EL8, nil, func(*lab.Node) guest.Executor { return rec })
	env.SSHPublicKey = "ssh-ed25519 AAAA labctl"
	if err := SSHAccess().Apply(context.Background(), env, p.Nodes[0]); err != nil {
		t.Fatal(err)
	}
	if c := rec.Calls(); len(c) != 1 || !strings.Contains(c[0].Script, "authorized_keys") {
		t.Fatalf("recorded %+v", c)
	}
	if tr := strings.Join(env.Transcript.take(), "\n"); !strings.Contains(tr, "pin the host key") || !strings.Contains(tr, p.Nodes[0].SSHAddr()) {
		t.Fatalf("plan notes %q, want the pin", tr)
	}
	if err := WaitSSH().Apply(context.Background(), env, p.Nodes[0]); err != nil {
		t.Fatal(err)
	}
}

func TestSSHAccessScripts(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGolden0Golden0Golden0Golden0Golden0Golden00 labctl@demo"
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			check, apply := sshAccessCheckScript("root", key), sshAccessScript(prof, "root", key)
			gaGolden(t, "ssh-access-"+prof.Name+".sh", "# check\n"+check+"# apply\n"+apply)
			gaShellcheck(t, "check", check)
			gaShellcheck(t, "apply", apply)
		})
	}
}

// gaErrExec fails every Run with err.
type gaErrExec struct{ err error }

func (e gaErrExec) Run(context.Context, guest.Cmd) (guest.Result, error) {
	return guest.Result{}, e.err
}
func (e gaErrExec) Upload(context.Context, guest.File) (bool, error) { return false, e.err }
func (e gaErrExec) String() string                                   { return "failing" }
