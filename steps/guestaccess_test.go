package steps

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"labctl/guest"
	"labctl/guest/guesttest"
	"labctl/lab"
	"labctl/vbox"
)

// Guest-access checks read over SSH once the node's key is pinned (a built
// lab), and through guest control otherwise or when SSH does not answer.
func TestGuestAccessChecksPreferPinnedSSH(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	ctl := guesttest.New("control").On(guesttest.Any(), guesttest.Output("via=control\n"))
	sshOK := guesttest.New("ssh").On(guesttest.Any(), guesttest.Output("via=ssh\n"))
	env := &Env{Plan: p, Control: func(*lab.Node) guest.Executor { return ctl }}
	gaPinEnv(t, env)
	read := func() string {
		t.Helper()
		r, err := gaRead(context.Background(), env, n, "echo")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(r.Stdout)
	}

	env.SSH = func(*lab.Node) guest.Executor { return sshOK }
	if got := read(); got != "via=control" || sshOK.Received(guesttest.Any()) != 0 {
		t.Errorf("nothing pinned: read %q, %d SSH calls; want guest control only", got, sshOK.Received(guesttest.Any()))
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ssh.NewPublicKey(pub)
	if err := env.HostKeys.Pin(n.SSHAddr(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))); err != nil {
		t.Fatal(err)
	}
	if !gaHasPin(env, n) || gaHasPin(env, p.Nodes[1]) {
		t.Fatalf("gaHasPin: pinned node %v, other node %v", gaHasPin(env, n), gaHasPin(env, p.Nodes[1]))
	}
	before := ctl.Received(guesttest.Any())
	if got := read(); got != "via=ssh" || ctl.Received(guesttest.Any()) != before {
		t.Errorf("pinned and answering: read %q; want SSH and no guest control call", got)
	}
	env.SSH = func(*lab.Node) guest.Executor { return gaErrExec{errors.New("connection refused")} }
	if got := read(); got != "via=control" {
		t.Errorf("pinned but SSH down: read %q, want the guest control fallback", got)
	}
	planSeams(env) // a plan pins nothing, so its reads never pick SSH
	env.SSH = func(*lab.Node) guest.Executor { return sshOK }
	calls := sshOK.Received(guesttest.Any())
	if got := read(); got != "via=control" || sshOK.Received(guesttest.Any()) != calls {
		t.Errorf("plan mode: read %q; the plan records guest control, never SSH", got)
	}
}

// The guest-access steps' test kit (shared by their tests): a fake guest that
// really runs the generated scripts with /bin/sh against a temporary root
// (absolute /etc, /var, /sys and /run paths are moved under it), with stub
// system tools that keep their state in files there.

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func gaUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// gaGolden compares got with testdata/guestaccess/name, or rewrites it with -update.
func gaGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "guestaccess", name)
	if gaUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./steps/ -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n--- got:\n%s", path, got)
	}
}

// gaShellcheck runs the real shellcheck over a generated script.
func gaShellcheck(t *testing.T, name, script string) {
	t.Helper()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
	}
	cmd := exec.Command("shellcheck", "--shell=sh", "--severity=style", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s", name, err, out)
	}
}

const gaTestMAC = "080027AABBCC"

// gaTestPlan is the default lab's shape on 192.168.1.0/24.
func gaTestPlan() *lab.Plan {
	p := &lab.Plan{
		Name:        "demo",
		Network:     netip.MustParsePrefix("192.168.1.0/24"),
		Gateway:     netip.MustParseAddr("192.168.1.1"),
		DNS:         []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("1.1.1.1")},
		VIP:         netip.MustParseAddr("192.168.1.99"),
		VIPHostname: "sql-vip",
		SSHUser:     "root",
	}
	add := func(vm, host, ip string, r lab.Role, i int) {
		p.Nodes = append(p.Nodes, &lab.Node{VM: vm, Hostname: host, IP: netip.MustParseAddr(ip), Role: r, Index: i})
	}
	add("SQL-ONE", "sql-one", "192.168.1.100", lab.RoleDB, 1)
	add("SQL-TWO", "sql-two", "192.168.1.101", lab.RoleDB, 2)
	add("SQL-THREE", "sql-three", "192.168.1.102", lab.RoleDB, 3)
	add("SERVER-ONE", "server-one", "192.168.1.110", lab.RoleWeb, 1)
	add("SERVER-TWO", "server-two", "192.168.1.111", lab.RoleWeb, 2)
	add("LOAD-BALANCER", "load-balancer", "192.168.1.120", lab.RoleLB, 1)
	return p
}

// gaVBox answers Info with nic1's MAC; nothing else is used by these steps.
type gaVBox struct {
	vbox.API
	macs  map[string]string
	uuids map[string]string // default: derived from the name
}

func (v gaVBox) Info(_ context.Context, vm string) (*vbox.VMInfo, error) {
	mac, ok := v.macs[vm]
	if !ok {
		return nil, fmt.Errorf("%s: %w", vm, errors.New("no such VM"))
	}
	uuid := v.uuids[vm]
	if uuid == "" {
		uuid = fmt.Sprintf("4a1b2c3d-0000-4000-8000-%012x", len(vm))
	}
	return &vbox.VMInfo{Name: vm, UUID: uuid, NICs: []vbox.NIC{{Slot: 1, Type: "bridged", MAC: mac}}}, nil
}

// gaGuest is one fake VM: a temp root plus stub tools.
type gaGuest struct {
	t    *testing.T
	name string
	root string

	mu      sync.Mutex
	scripts []string
}

var gaPathRe = regexp.MustCompile(`(^|[\s'"=<>(;])/(etc|var|sys|run)/`)

func (g *gaGuest) String() string { return "fake guest " + g.name }

func (g *gaGuest) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	g.mu.Lock()
	g.scripts = append(g.scripts, cmd.Script)
	g.mu.Unlock()
	script := gaPathRe.ReplaceAllString(cmd.Script, "${1}"+g.root+"/${2}/")
	c := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	c.Env = []string{"PATH=" + g.root + "/.bin:/usr/sbin:/usr/bin:/sbin:/bin", "ROOT=" + g.root, "LC_ALL=C"}
	c.Stdin = bytes.NewReader(cmd.Stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	res := guest.Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
		return res, &guest.ExitError{Node: g.name, Script: strings.SplitN(cmd.Script, "\n", 2)[0], ExitCode: res.ExitCode, Stderr: res.Stderr}
	}
	return res, err
}

func (g *gaGuest) Upload(context.Context, guest.File) (bool, error) {
	return false, errors.New("the guest-access steps upload nothing")
}

func (g *gaGuest) path(p string) string { return filepath.Join(g.root, p) }

func (g *gaGuest) write(p, content string) {
	g.t.Helper()
	if err := os.MkdirAll(filepath.Dir(g.path(p)), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(g.path(p), []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gaGuest) read(p string) string {
	b, _ := os.ReadFile(g.path(p))
	return string(b)
}

func (g *gaGuest) exists(p string) bool {
	_, err := os.Stat(g.path(p))
	return err == nil
}

func (g *gaGuest) calls() string { return g.read("calls.log") }

// gaStubs are the guest's system tools; state lives in files under $ROOT.
var gaStubs = map[string]string{
	"systemctl": `echo "systemctl $*" >>"$ROOT/calls.log"
case $1 in
is-active) shift; [ "$1" = --quiet ] && shift; [ -e "$ROOT/run/active/$1" ] ;;
start|restart) mkdir -p "$ROOT/run/active"; touch "$ROOT/run/active/$2" ;;
stop) rm -f "$ROOT/run/active/$2" ;;
esac`,
	"systemd-machine-id-setup": `echo "systemd-machine-id-setup" >>"$ROOT/calls.log"
[ -s "$ROOT/etc/machine-id" ] || od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$ROOT/etc/machine-id"`,
	"ssh-keygen": `echo "ssh-keygen $*" >>"$ROOT/calls.log"
[ "$1" = -A ] || exit 2
[ -f "$ROOT/etc/ssh/ssh_host_ed25519_key" ] || /usr/bin/ssh-keygen -q -t ed25519 -N '' -C root@guest -f "$ROOT/etc/ssh/ssh_host_ed25519_key"`,
	"restorecon": `echo "restorecon $*" >>"$ROOT/calls.log"`,
	"hostnamectl": `case $1 in
--static) cat "$ROOT/etc/hostname" ;;
set-hostname) echo "hostnamectl $*" >>"$ROOT/calls.log"; echo "$2" >"$ROOT/etc/hostname"; echo "$2" >"$ROOT/run/hostname" ;;
esac`,
	"uname":    `if [ "$1" = -n ]; then cat "$ROOT/run/hostname"; else exec /bin/uname "$@"; fi`,
	"hostname": `echo "$1" >"$ROOT/run/hostname"`,
	"ip": `echo "ip $*" >>"$ROOT/calls.log"
case "$*" in
"-4 -o addr show dev "*) [ -f "$ROOT/run/net/$6.addr" ] && printf '2: %s    inet %s brd x scope global %s\n' "$6" "$(cat "$ROOT/run/net/$6.addr")" "$6" ;;
"-4 route show default dev "*) [ -f "$ROOT/run/net/$6.gw" ] && printf 'default via %s dev %s proto static\n' "$(cat "$ROOT/run/net/$6.gw")" "$6" ;;
"-4 addr flush dev "*) rm -f "$ROOT/run/net/$5.addr" ;;
esac
exit 0`,
	"nmcli": `echo "nmcli $*" >>"$ROOT/calls.log"
nm=$ROOT/run/nm
mkdir -p "$nm"
if [ "$1" = -g ]; then
	field=$2
	shift 2
	case "$1 $2" in
	"device show") cat "$nm/dev-$3.con" 2>/dev/null ;;
	"connection show") cat "$nm/con-$3.$field" 2>/dev/null ;;
	esac
	exit 0
fi
case "$1 $2" in
"connection add")
	shift 2
	while [ $# -gt 1 ]; do case $1 in ifname) dev=$2 ;; con-name) con=$2 ;; esac; shift 2; done
	printf '%s' "$con" >"$nm/dev-$dev.con" ;;
"connection modify")
	con=$3
	shift 3
	while [ $# -gt 1 ]; do printf '%s' "$2" >"$nm/con-$con.$1"; shift 2; done ;;
"connection up")
	con=$3
	dev=$(cat "$nm/con-$con.connection.interface-name")
	cp "$nm/con-$con.ipv4.addresses" "$ROOT/run/net/$dev.addr"
	cp "$nm/con-$con.ipv4.gateway" "$ROOT/run/net/$dev.gw" ;;
esac`,
	"networkctl": `echo "networkctl $*" >>"$ROOT/calls.log"
if [ "$1" = reconfigure ]; then
	f="$ROOT/etc/systemd/network/10-labctl-$2.network"
	sed -n 's/^Address=//p' "$f" >"$ROOT/run/net/$2.addr"
	sed -n 's/^Gateway=//p' "$f" >"$ROOT/run/net/$2.gw"
fi`,
	"arping": `echo "arping $*" >>"$ROOT/calls.log"
for a; do ip=$a; done
if [ -f "$ROOT/run/taken/$ip" ]; then
	echo "Unicast reply from $ip [$(cat "$ROOT/run/taken/$ip")]  0.912ms"
	echo "Received 1 response(s)"
	exit 1
fi
echo "Received 0 response(s)"`,
	"getent": `[ "$1" = passwd ] || exit 2
case $2 in
root) echo "root:x:0:0:root:$ROOT/root:/bin/sh" ;;
*) exit 2 ;;
esac`,
	"id": `if [ "$1" = -gn ]; then echo root; else exec /usr/bin/id "$@"; fi`,
}

// newGAGuest makes a freshly cloned guest: the base image's hostname,
// machine-id, host key and a DHCP address on enp0s3 (MAC 08:00:27:aa:bb:cc).
func newGAGuest(t *testing.T, name string, p *guest.Profile) *gaGuest {
	t.Helper()
	g := &gaGuest{t: t, name: name, root: t.TempDir()}
	for tool, body := range gaStubs {
		g.write(".bin/"+tool, "#!/bin/sh\n"+body+"\n")
		if err := os.Chmod(g.path(".bin/"+tool), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g.write("etc/hostname", "localhost.localdomain\n")
	g.write("run/hostname", "localhost.localdomain\n")
	g.write("etc/machine-id", "0123456789abcdef0123456789abcdef\n")
	g.write("etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBaseImageKeyBaseImageKeyBaseImageKey00 base\n")
	g.write("etc/ssh/ssh_host_ed25519_key", "base private key\n")
	g.write("etc/hosts", "127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n")
	g.write("sys/class/net/lo/address", "00:00:00:00:00:00\n")
	g.write("sys/class/net/enp0s3/address", "08:00:27:aa:bb:cc\n")
	g.write("run/net/enp0s3.addr", "192.168.1.57/24")
	g.write("run/net/enp0s3.gw", "192.168.1.1")
	g.write("run/active/"+p.SSHService, "")
	if p.NetworkMethod == "nmcli" {
		g.write("run/active/NetworkManager", "")
		g.write("run/nm/dev-enp0s3.con", "System enp0s3")
		g.write("run/nm/con-System enp0s3.ipv4.method", "auto")
	} else {
		g.write("run/active/systemd-networkd", "")
	}
	return g
}

// gaEnv is an Env whose every node is the given guest (by VM name).
func gaEnv(p *lab.Plan, prof *guest.Profile, guests map[string]*gaGuest) *Env {
	macs := map[string]string{}
	for _, n := range p.Nodes {
		macs[n.VM] = gaTestMAC
	}
	ex := func(n *lab.Node) guest.Executor { return guests[n.VM] }
	return &Env{Plan: p, Profile: prof, VBox: gaVBox{macs: macs, uuids: map[string]string{}}, Control: ex, SSH: ex, Log: &bytes.Buffer{}}
}

// gaConverge runs Check → Apply → Check and wants the first Check not done
// and the last done; it returns the first Check's reason.
func gaConverge(t *testing.T, s Step, env *Env, n *lab.Node) string {
	t.Helper()
	ctx := context.Background()
	st, err := s.Check(ctx, env, n)
	if err != nil {
		t.Fatalf("%s check: %v", s.Name(), err)
	}
	if st.Done {
		t.Fatalf("%s: fresh clone reported done", s.Name())
	}
	if st.Why == "" {
		t.Fatalf("%s: not done without a reason", s.Name())
	}
	if err := s.Apply(ctx, env, n); err != nil {
		t.Fatalf("%s apply: %v", s.Name(), err)
	}
	st2, err := s.Check(ctx, env, n)
	if err != nil || !st2.Done {
		t.Fatalf("%s after apply: %+v %v", s.Name(), st2, err)
	}
	return st.Why
}
