package addrprobe

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestScriptPassesShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
	}
	cmd := exec.Command(sc, "-s", "sh", "-")
	cmd.Stdin = strings.NewReader(Script("08:00:27:aa:bb:cc", addrs("192.0.2.100", "192.0.2.167")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
	if strings.Contains(perlProbe, "'") {
		t.Error("the Perl probe holds a single quote: it sits inside one in the script")
	}
}

// TestScriptFindsTheAnsweringMachine runs the real script (its Perl
// packet-socket probe; arping is hidden from it) in a network namespace the
// test creates: a veth pair, the "guest" on one end holding 10.9.0.1, a
// "planted machine" on the other holding 10.9.0.5. Nothing leaves it.
func TestScriptFindsTheAnsweringMachine(t *testing.T) {
	for _, tool := range []string{"unshare", "ip", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "probe.sh")
	if err := os.WriteFile(script, []byte(Script("02:00:00:00:00:0a", addrs("10.9.0.1", "10.9.0.5", "10.9.0.6"))), 0o600); err != nil {
		t.Fatal(err)
	}
	// PATH without arping: the bin folder holds links to the few tools used.
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"sh", "ip", "perl", "awk", "cat", "grep", "mktemp", "rm", "head", "tr", "sleep", "mount"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not installed", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	setup := `set -e
mount -t sysfs sysfs /sys
ip link add va type veth peer name vb
ip link set va address 02:00:00:00:00:0a
ip link set vb address 02:00:00:00:00:0b
ip addr add 10.9.0.1/24 dev va
ip addr add 10.9.0.5/24 dev vb
ip link set vb up
exec sh "$1"
`
	cmd := exec.Command("unshare", "-rnm", "sh", "-c", setup, "sh", script)
	cmd.Env = []string{"PATH=" + bin}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "unshare") {
		t.Skipf("no unprivileged network namespace here: %s", out)
	}
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	r, err := Parse(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "perl" {
		t.Fatalf("method %q (%s), want perl:\n%s", r.Method, r.Why, out)
	}
	got := map[string]Answer{}
	for _, a := range r.Answers {
		got[a.Addr.String()] = a
	}
	if a := got["10.9.0.1"]; !a.Self {
		t.Errorf("10.9.0.1 is the guest's own: got %+v", a)
	}
	if a := got["10.9.0.5"]; a.MAC != "02:00:00:00:00:0b" {
		t.Errorf("10.9.0.5 must be answered by the planted machine's MAC: got %+v\n%s", a, out)
	}
	if a, ok := got["10.9.0.6"]; !ok || a.MAC != "" || a.Self {
		t.Errorf("10.9.0.6 has no machine: got %+v (present %v)", a, ok)
	}
}

func TestParseAndClashes(t *testing.T) {
	out := "method=arping\nprobe 192.0.2.100 self\nprobe 192.0.2.101 08:00:27:AA:BB:01\nprobe 192.0.2.167 52:54:00:12:34:56\nprobe 192.0.2.160 -\n"
	r, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "arping" || len(r.Answers) != 4 {
		t.Fatalf("parsed %+v", r)
	}
	own := map[string]bool{"080027AABB01": true}
	owners := map[netip.Addr]string{netip.MustParseAddr("192.0.2.167"): "the VIP"}
	cl := Clashes(r, own, owners)
	if len(cl) != 1 || cl[0].Addr.String() != "192.0.2.167" || cl[0].MAC != "52:54:00:12:34:56" {
		t.Fatalf("clashes %+v, want only the VIP's foreign answer", cl)
	}
	msg := cl[0].Error()
	for _, want := range []string{"192.0.2.167", "the VIP", "52:54:00:12:34:56", "--seat", "labctl seats", "lab.toml"} {
		if !strings.Contains(msg, want) {
			t.Errorf("clash error lacks %q: %s", want, msg)
		}
	}
	none, err := Parse("method=none neither iputils arping nor perl is installed in the guest\n")
	if err != nil || none.Method != "" || !strings.Contains(none.Why, "perl") {
		t.Errorf("method=none: %+v %v", none, err)
	}
	if _, err := Parse("sh: 1: syntax error\n"); err == nil {
		t.Error("output without a method line must be an error")
	}
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
