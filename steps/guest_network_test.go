package steps

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"labctl/fleet"
	"labctl/guest"
	"labctl/lab"
	"labctl/vbox"
)

func TestGuestNetworkConverges(t *testing.T) {
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			p := gaTestPlan()
			n := p.Nodes[0]
			g := newGAGuest(t, n.VM, prof)
			env := gaEnv(p, prof, map[string]*gaGuest{n.VM: g})

			why := gaConverge(t, GuestNetwork(), env, n)
			for _, want := range []string{`hostname is "localhost.localdomain", want sql-one`, "enp0s3 has \"192.168.1.57/24\", want 192.168.1.100/24"} {
				if !strings.Contains(why, want) {
					t.Errorf("why %q lacks %q", why, want)
				}
			}
			if h := strings.TrimSpace(g.read("etc/hostname")); h != "sql-one" {
				t.Errorf("hostname %q", h)
			}
			if a := strings.TrimSpace(g.read("run/net/enp0s3.addr")); a != "192.168.1.100/24" {
				t.Errorf("address %q", a)
			}
			calls := g.calls()
			dad := strings.Index(calls, "arping -D -c 2 -w 3 -I enp0s3 192.168.1.100")
			var apply int
			if prof.NetworkMethod == "nmcli" {
				apply = strings.Index(calls, "nmcli connection up System enp0s3")
				if g.read("run/nm/con-System enp0s3.ipv4.dns") != "192.168.1.1 1.1.1.1" {
					t.Errorf("dns %q", g.read("run/nm/con-System enp0s3.ipv4.dns"))
				}
				if strings.Count(calls, "nmcli connection up") != 1 {
					t.Errorf("not a single activation:\n%s", calls)
				}
			} else {
				apply = strings.Index(calls, "networkctl reconfigure enp0s3")
				conf := g.read("etc/systemd/network/10-labctl-enp0s3.network")
				for _, want := range []string{"MACAddress=08:00:27:aa:bb:cc", "Address=192.168.1.100/24", "Gateway=192.168.1.1", "DNS=192.168.1.1\nDNS=1.1.1.1"} {
					if !strings.Contains(conf, want) {
						t.Errorf(".network lacks %q:\n%s", want, conf)
					}
				}
				if r := g.read("etc/resolv.conf"); r != "nameserver 192.168.1.1\nnameserver 1.1.1.1\n" {
					t.Errorf("resolv.conf %q", r)
				}
			}
			if dad < 0 || apply < 0 || dad > apply {
				t.Errorf("duplicate address detection must precede the reconfiguration:\n%s", calls)
			}

			// Converged: a second apply does not probe or reconfigure again.
			before := g.calls()
			if err := GuestNetwork().Apply(context.Background(), env, n); err != nil {
				t.Fatal(err)
			}
			if extra := strings.TrimPrefix(g.calls(), before); strings.Contains(extra, "arping") {
				t.Errorf("address already ours, yet probed again:\n%s", extra)
			}
		})
	}
}

func TestGuestNetworkDuplicateAddress(t *testing.T) {
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			p := gaTestPlan()
			n := p.Nodes[0]
			g := newGAGuest(t, n.VM, prof)
			g.write("run/taken/192.168.1.100", "52:54:00:12:34:56")
			env := gaEnv(p, prof, map[string]*gaGuest{n.VM: g})
			err := GuestNetwork().Apply(context.Background(), env, n)
			want := "192.168.1.100 is already used by another host (MAC 52:54:00:12:34:56): choose another address in lab.toml"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v", err)
			}
			if h := strings.TrimSpace(g.read("etc/hostname")); h != "localhost.localdomain" {
				t.Errorf("hostname changed to %q before the address was known to be free", h)
			}
			if c := g.calls(); strings.Contains(c, "nmcli connection modify") || strings.Contains(c, "networkctl") {
				t.Errorf("network reconfigured despite the conflict:\n%s", c)
			}
		})
	}
}

func TestGuestNetworkNoNICWithMAC(t *testing.T) {
	p := gaTestPlan()
	n := p.Nodes[0]
	g := newGAGuest(t, n.VM, guest.EL8)
	env := gaEnv(p, guest.EL8, map[string]*gaGuest{n.VM: g})
	env.VBox = gaVBox{macs: map[string]string{n.VM: "0800270000FF"}}
	st, err := GuestNetwork().Check(context.Background(), env, n)
	if err != nil || st.Done || !strings.Contains(st.Why, "no NIC with MAC 08:00:27:00:00:ff") {
		t.Fatalf("%+v %v", st, err)
	}
	err = GuestNetwork().Apply(context.Background(), env, n)
	if err == nil || !strings.Contains(err.Error(), "no network interface has MAC 08:00:27:00:00:ff") {
		t.Fatalf("got %v", err)
	}
}

func TestColonMAC(t *testing.T) {
	for in, want := range map[string]string{"080027AABBCC": "08:00:27:aa:bb:cc", "08:00:27:AA:BB:CC": "08:00:27:aa:bb:cc"} {
		if got, err := gaColonMAC(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "08002", "08002700XXYY", "080027AABBCCDD"} {
		if _, err := gaColonMAC(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestGuestNetworkPlanMode(t *testing.T) {
	// labctl plan asks the emulator for nic1's MAC, as up asks VirtualBox.
	p := gaTestPlan()
	rec := guest.NewRecorder("SQL-ONE")
	env := planTestEnv(p, guest.EL8, nil, func(*lab.Node) guest.Executor { return rec })
	info, err := env.VBox.Info(context.Background(), p.Nodes[0].VM)
	if err != nil {
		t.Fatal(err)
	}
	mac, err := gaColonMAC(nic1(info).MAC)
	if err != nil {
		t.Fatal(err)
	}
	if err := GuestNetwork().Apply(context.Background(), env, p.Nodes[0]); err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	if len(calls) != 1 || !strings.Contains(calls[0].Script, "mac='"+mac+"'") || !strings.Contains(calls[0].Script, "host='sql-one'") {
		t.Fatalf("recorded %+v, want mac %s", calls, mac)
	}
}

func TestGuestNetworkScripts(t *testing.T) {
	p := gaTestPlan()
	for _, prof := range []*guest.Profile{guest.EL8, guest.Debian} {
		t.Run(prof.Name, func(t *testing.T) {
			env := gaEnv(p, prof, nil)
			nw, err := gaNetFor(context.Background(), env, p.Nodes[0])
			if err != nil {
				t.Fatal(err)
			}
			check, apply := networkCheckScript(prof, nw), networkScript(prof, nw)
			gaGolden(t, "guest-network-"+prof.Name+".sh", "# check\n"+check+"# apply\n"+apply)
			gaShellcheck(t, "check", check)
			gaShellcheck(t, "apply", apply)
		})
	}
}

// TestPlanOnlyGuestNetwork: a plan of one later step alone reads the lab's
// clones from the emulator (seeded with them), so it shows each node's real
// nic1 MAC, and pins or writes nothing.
func TestPlanOnlyGuestNetwork(t *testing.T) {
	p := gaTestPlan()
	recs := map[string]*guest.Recorder{}
	for _, n := range p.Nodes {
		recs[n.VM] = guest.NewRecorder(n.VM)
	}
	em := vbox.NewEmulator("base", "")
	for _, n := range p.Nodes {
		em.AddClone(n.VM, fleet.Group(p), map[string]string{TagLab: p.Name, TagNode: n.Hostname})
	}
	rec := func(n *lab.Node) guest.Executor { return recs[n.VM] }
	env := &Env{Plan: p, Profile: guest.EL8, VBox: vbox.New(em), Control: rec, SSH: rec}
	var out bytes.Buffer
	r := &Runner{Steps: append(VMPhase(), GuestAccess()...), Only: "guest-network", Mode: ModePlan, Out: &out}
	if _, err := r.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	for _, n := range p.Nodes {
		info, err := env.VBox.Info(context.Background(), n.VM)
		if err != nil {
			t.Fatal(err)
		}
		mac, _ := gaColonMAC(nic1(info).MAC)
		if !strings.Contains(out.String(), "mac='"+mac+"'") {
			t.Errorf("plan lacks %s's MAC %s:\n%s", n.VM, mac, out.String())
		}
	}
	if strings.Contains(out.String(), "clonevm") || strings.Contains(out.String(), "== Installing") {
		t.Errorf("plan of guest-network alone shows other steps:\n%s", out.String())
	}
}
