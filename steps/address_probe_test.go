package steps

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"labctl/guest"
	"labctl/lab"
)

// probeGuest answers the probe script with out and keeps what it ran.
type probeGuest struct {
	out  func(script string) string
	ran  []string
	node string
}

func (g *probeGuest) Run(_ context.Context, c guest.Cmd) (guest.Result, error) {
	g.ran = append(g.ran, c.Script)
	return guest.Result{Stdout: g.out(c.Script)}, nil
}
func (g *probeGuest) Upload(context.Context, guest.File) (bool, error) { return false, nil }
func (g *probeGuest) String() string                                   { return "probe guest" }

// TestAddressProbeStep runs the real step against the fake's running VMs:
// it probes from the first node with nic1's MAC; the lab's own MACs are
// not clashes, a foreign one is, and a guest that cannot probe is a
// warning, not a failure.
func TestAddressProbeStep(t *testing.T) {
	_, env := vmtSetup(t)
	if _, _, err := vmtRun(t, env, ModeApply); err != nil {
		t.Fatal(err)
	}
	p := env.Plan
	mac := func(vm string) string {
		info, err := env.VBox.Info(context.Background(), vm)
		if err != nil {
			t.Fatal(err)
		}
		m, err := gaColonMAC(info.NICs[0].MAC)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	all := func(answer func(n *lab.Node) string) func(string) string {
		return func(string) string {
			var b strings.Builder
			b.WriteString("method=perl\n")
			for _, n := range p.Nodes {
				fmt.Fprintf(&b, "probe %s %s\n", n.IP, answer(n))
			}
			fmt.Fprintf(&b, "probe %s -\n", p.VIP)
			return b.String()
		}
	}
	for _, tc := range []struct {
		name, want, warn string
		out              func(string) string
	}{
		{"own VMs answer", "", "", all(func(n *lab.Node) string {
			if n == p.Nodes[0] {
				return "self"
			}
			return mac(n.VM)
		})},
		{"foreign machine", "MAC 52:54:00:aa:bb:cc", "", all(func(n *lab.Node) string {
			if n == p.Nodes[2] {
				return "52:54:00:AA:BB:CC"
			}
			return "-"
		})},
		{"guest cannot probe", "", "neither iputils arping nor perl", func(string) string {
			return "method=none neither iputils arping nor perl is installed in the guest\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &probeGuest{out: tc.out}
			var warned []string
			e := *env
			e.Warn = func(m string) { warned = append(warned, m) }
			e.Log = &bytes.Buffer{}
			step := AddressProbeVia(func(_ *Env, n *lab.Node) guest.Executor { g.node = n.VM; return g })
			st, err := step.Check(context.Background(), &e, nil)
			if g.node != p.Nodes[0].VM || len(g.ran) != 1 || !strings.Contains(g.ran[0], "mac='"+mac(p.Nodes[0].VM)+"'") {
				t.Fatalf("probed on %s with %d scripts; want one on %s with its nic1 MAC", g.node, len(g.ran), p.Nodes[0].VM)
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p.Nodes[2].IP.String()) {
					t.Fatalf("got %v, want %q for %s", err, tc.want, p.Nodes[2].IP)
				}
				return
			}
			if err != nil || !st.Done {
				t.Fatalf("got %+v %v, want done", st, err)
			}
			if tc.warn != "" && (len(warned) != 1 || !strings.Contains(warned[0], tc.warn)) {
				t.Errorf("warnings %v, want one about %q", warned, tc.warn)
			}
			if tc.warn == "" && len(warned) != 0 {
				t.Errorf("unexpected warnings %v", warned)
			}
		})
	}
}
