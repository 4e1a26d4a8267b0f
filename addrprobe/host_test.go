package addrprobe

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseARPKeepsCompleteEntriesOfTheDevice(t *testing.T) {
	table := `IP address       HW type     Flags       HW address            Mask     Device
10.9.0.5         0x1         0x2         02:00:00:00:00:0B     *        va
10.9.0.6         0x1         0x0         00:00:00:00:00:00     *        va
10.9.0.7         0x1         0x2         02:00:00:00:00:0c     *        other
`
	got, err := parseARP(strings.NewReader(table), "va")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[addrs("10.9.0.5")[0]] != "02:00:00:00:00:0b" {
		t.Fatalf("parsed %v, want only 10.9.0.5 at 02:00:00:00:00:0b", got)
	}
}

// hostProbeChild marks the test binary re-run inside the namespace.
const hostProbeChild = "LABCTL_ADDRPROBE_NETNS"

// TestHostProbeInNamespace runs Host in a network namespace the test
// creates (as an unprivileged user): "this computer" holds 10.9.0.1 on va;
// a planted machine in a second namespace holds 10.9.0.5 behind vb.
func TestHostProbeInNamespace(t *testing.T) {
	if os.Getenv(hostProbeChild) == "1" {
		r, recent := Host(context.Background(), netipPrefix("10.9.0.0/24"), addrs("10.9.0.1", "10.9.0.5", "10.9.0.6"))
		if r.Method != "udp-arp" || len(recent) != 0 {
			t.Fatalf("method %q (%s), recent %v", r.Method, r.Why, recent)
		}
		got := map[string]Answer{}
		for _, a := range r.Answers {
			got[a.Addr.String()] = a
		}
		if !got["10.9.0.1"].Self || got["10.9.0.5"].MAC != "02:00:00:00:00:0b" || got["10.9.0.6"].MAC != "" {
			t.Fatalf("answers %+v", r.Answers)
		}
		// Outside the network this computer is on, it cannot tell.
		if r, _ := Host(context.Background(), netipPrefix("10.8.0.0/24"), addrs("10.8.0.5")); r.Method != "" || !strings.Contains(r.Why, "no address on 10.8.0.0/24") {
			t.Fatalf("off the network: %+v", r)
		}
		return
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	setup := `set -e
ip link add va type veth peer name vb
ip addr add 10.9.0.1/24 dev va
ip link set va up
unshare -n sleep 60 &
pid=$!
sleep 0.2
ip link set vb netns "$pid"
nsenter -t "$pid" -n sh -c 'ip link set vb address 02:00:00:00:00:0b && ip addr add 10.9.0.5/24 dev vb && ip link set vb up'
"$0" -test.run '^TestHostProbeInNamespace$' -test.count=1
st=$?
kill "$pid"
exit "$st"
`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", setup, os.Args[0])
	cmd.Env = append(os.Environ(), hostProbeChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "--- FAIL") {
		t.Skipf("no unprivileged network namespace here: %v\n%s", err, out)
	}
	if err != nil {
		t.Fatalf("host probe in the namespace:\n%s", out)
	}
}
