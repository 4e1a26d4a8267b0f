package steps

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"labctl/addrprobe"
)

// TestPreflightHostProbe: an address this computer sees answered by a
// machine outside the lab stops preflight before any change; the answers
// of the lab's own VMs (a re-run) and a host that cannot tell do not.
func TestPreflightHostProbe(t *testing.T) {
	const foreign = "52:54:00:0f:0f:0f"
	for _, tc := range []struct {
		name    string
		answers func(env *Env) map[netip.Addr]string
		cannot  bool
		want    string
	}{
		{"foreign machine", func(env *Env) map[netip.Addr]string {
			return map[netip.Addr]string{env.Plan.VIP: foreign}
		}, false, "MAC " + foreign},
		{"host cannot tell", nil, true, ""},
		{"own VMs answer", func(env *Env) map[netip.Addr]string {
			// Build the lab first: then its VMs answer with their MACs.
			return nil
		}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, env := vmtSetup(t)
			own := map[netip.Addr]string{}
			if tc.name == "own VMs answer" {
				if _, _, err := vmtRun(t, env, ModeApply); err != nil {
					t.Fatal(err)
				}
				for _, n := range env.Plan.Nodes {
					info, err := env.VBox.Info(context.Background(), n.VM)
					if err != nil {
						t.Fatal(err)
					}
					own[n.IP] = info.NICs[0].MAC
				}
			}
			probed := 0
			env.HostProbe = func(ctx context.Context, prefix netip.Prefix, addrs []netip.Addr) (addrprobe.Result, []addrprobe.Answer) {
				probed++
				if prefix != env.Plan.Network || len(addrs) != len(env.Plan.Nodes)+1 {
					t.Errorf("probed %v on %s", addrs, prefix)
				}
				if tc.cannot {
					return addrprobe.Result{Why: "this computer has no address on " + prefix.String()}, nil
				}
				ans := own
				if tc.answers != nil {
					ans = tc.answers(env)
				}
				r := addrprobe.Result{Method: "udp-arp"}
				for _, a := range addrs {
					r.Answers = append(r.Answers, addrprobe.Answer{Addr: a, MAC: ans[a]})
				}
				return r, nil
			}
			n0 := len(f.MutatingCalls())
			_, _, err := vmtRun(t, env, ModeApply)
			if probed == 0 {
				t.Fatal("preflight did not probe")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("preflight refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), env.Plan.VIP.String()) {
				t.Fatalf("got %v, want the VIP %s and %q", err, env.Plan.VIP, tc.want)
			}
			if m := f.MutatingCalls()[n0:]; len(m) != 0 {
				t.Errorf("mutating calls after the host probe refused: %q", m)
			}
		})
	}
}
