package reallab

// The address probe against real machines: a "planted machine" (a network
// namespace this test creates, joined to the harness bridge by a veth)
// holds one of the lab's planned addresses. `labctl up` must stop with that
// address and the planted MAC before any node takes an address: first at
// preflight (this host is on the lab network, so it probes too), then, with
// preflight skipped, at the in-guest probe (address-probe) on the first
// node. Only the VM phase runs; no node ever holds a planned address.

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	plantedNS   = "lcprobe0"
	plantedHost = "lcpv0" // host end, on the bridge
	plantedPeer = "lcpv1" // in the planted namespace
	plantedMAC  = "02:1c:ab:00:00:12"
)

// ipRun runs ip(8) bounded in time and returns its combined output.
func ipRun(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return string(out), err
}

// plant creates the planted machine holding addr and removes it at cleanup.
func plant(t *testing.T, addr string) (remove func()) {
	t.Helper()
	removed := false
	remove = func() {
		if removed {
			return
		}
		removed = true
		_, _ = ipRun("link", "del", plantedHost) // takes the peer with it
		_, _ = ipRun("netns", "del", plantedNS)
	}
	remove()
	removed = false
	t.Cleanup(remove)
	steps := [][]string{
		{"netns", "add", plantedNS},
		{"link", "add", plantedHost, "type", "veth", "peer", "name", plantedPeer, "netns", plantedNS},
		{"link", "set", plantedHost, "master", BridgeName},
		{"link", "set", plantedHost, "up"},
		{"-n", plantedNS, "link", "set", plantedPeer, "address", plantedMAC},
		{"-n", plantedNS, "addr", "add", addr + "/24", "dev", plantedPeer},
		{"-n", plantedNS, "link", "set", plantedPeer, "up"},
	}
	for _, s := range steps {
		if out, err := ipRun(s...); err != nil {
			t.Fatalf("plant a machine at %s: ip %s: %v\n%s", addr, strings.Join(s, " "), err, out)
		}
	}
	return remove
}

// assertNoPlannedAddress: no lab machine holds a planned address.
func assertNoPlannedAddress(t *testing.T, e *Env) {
	t.Helper()
	planned := append([]string{vip}, func() []string {
		var out []string
		for _, n := range allNodes() {
			out = append(out, nodeIP[n])
		}
		return out
	}()...)
	for _, n := range allNodes() {
		have := mustGuest(t, e, n, "ip -4 -o addr show")
		for _, a := range planned {
			if strings.Contains(have, " "+a+"/") {
				t.Errorf("%s holds the planned address %s although up was stopped:\n%s", n, a, have)
			}
		}
	}
}

func TestAddressProbe(t *testing.T) {
	e := newEnv(t)
	bin := filepath.Join(e.Work, "bin", "labctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	l := labctlRunner{bin: bin, lab: writeLab(t, e), state: filepath.Join(e.Work, "state"), env: e}
	t.Cleanup(func() {
		if keepOnFailure(t) {
			return
		}
		_, _, _ = l.run(t, 5*time.Minute, "down", "--yes")
	})

	// The VM phase only: six running machines, no address taken yet.
	_, d, err := l.run(t, 10*time.Minute, "up", "--only", "preflight,base-snapshot,clone-vms,configure-vms,start-vms,wait-guests")
	record("labctl up, VM phase only", d)
	if err != nil {
		t.Fatalf("up (VM phase): %v", err)
	}

	planted := nodeIP["SQL-TWO"]
	remove := plant(t, planted)

	// 1. This host is on the lab network: preflight probes and stops.
	out, d, err := l.run(t, 5*time.Minute, "up")
	record("labctl up stopped by the host probe", d)
	if err == nil {
		t.Fatalf("up went on although %s answers from %s", planted, plantedMAC)
	}
	for _, want := range []string{"(preflight) failed", planted, plantedMAC, "SQL-TWO", "--seat"} {
		if !strings.Contains(out, want) {
			t.Errorf("up's error lacks %q:\n%s", want, lastLines(out, 20))
		}
	}
	assertNoPlannedAddress(t, e)

	// 2. Preflight skipped: the probe from inside the first node stops up.
	out, d, err = l.run(t, 5*time.Minute, "up", "--from", "address-probe")
	record("labctl up stopped by the guest probe", d)
	if err == nil {
		t.Fatalf("up --from address-probe went on although %s answers from %s", planted, plantedMAC)
	}
	for _, want := range []string{"(address-probe) failed", planted, plantedMAC, "SQL-TWO", "--seat"} {
		if !strings.Contains(out, want) {
			t.Errorf("up's error lacks %q:\n%s", want, lastLines(out, 20))
		}
	}
	if strings.Contains(out, "could not check") {
		t.Errorf("the guest could not probe:\n%s", lastLines(out, 20))
	}
	assertNoPlannedAddress(t, e)

	// 3. The machine leaves: the guest probe passes (nothing answers).
	remove()
	out, d, err = l.run(t, 5*time.Minute, "up", "--only", "address-probe")
	record("labctl up --only address-probe, free addresses", d)
	if err != nil {
		t.Fatalf("the probe failed with the planted machine gone: %v\n%s", err, lastLines(out, 20))
	}

	// 4. The lab is built; on it every address answers from the lab's own
	// machines (by MAC): a re-run is not stopped, and the probe waits for
	// no timeout.
	if _, d, err = l.run(t, 25*time.Minute, "up"); err != nil {
		t.Fatalf("up after the planted machine left: %v", err)
	}
	record("labctl up (the rest of the build)", d)
	out, d, err = l.run(t, 5*time.Minute, "--verbose", "up", "--only", "address-probe")
	record("labctl up --only address-probe, built lab", d)
	if err != nil {
		t.Fatalf("the probe stopped a re-run on the lab's own addresses: %v\n%s", err, lastLines(out, 20))
	}
	if !strings.Contains(out, "answered by") || strings.Contains(out, " free") {
		t.Errorf("on the built lab every address must answer from a lab machine:\n%s", lastLines(out, 30))
	}
	out, d, err = l.run(t, 10*time.Minute, "up")
	record("labctl up (re-run on the built lab)", d)
	if err != nil || !strings.Contains(out, "0 step(s) changed") {
		t.Errorf("the re-run on the built lab: %v\n%s", err, lastLines(out, 20))
	}

	_, d, err = l.run(t, 10*time.Minute, "down", "--yes")
	record("labctl down --yes", d)
	if err != nil {
		t.Fatalf("labctl down: %v", err)
	}
}
