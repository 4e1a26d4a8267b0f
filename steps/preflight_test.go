package steps

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"labctl/internal/vboxtest"
	"labctl/lab"
	"labctl/vbox"
)

func TestPreflightRefusals(t *testing.T) {
	cases := []struct {
		name string
		opts []vboxtest.Option
		edit func(p *lab.Plan)
		want []string
	}{
		{"old VirtualBox", []vboxtest.Option{vboxtest.WithVersion("6.0.24r139119")}, nil,
			[]string{"6.0.24", "6.1 or newer"}},
		{"no base VM", nil, func(p *lab.Plan) { p.Base.VM = "Alma-typo" },
			[]string{`the base VM "Alma-typo" (base.vm in lab.toml) is not registered`, "VBoxManage list vms"}},
		{"adapter down", []vboxtest.Option{vboxtest.WithBridgedIfs(vboxtest.HostIf{Name: "eth0", Status: "Down", IPAddress: "192.0.2.10", NetworkMask: "255.255.255.0", HWAddress: "02:00:00:00:00:01"})}, nil,
			[]string{`the bridge adapter "eth0" is down`, "bridge_adapter"}},
		{"unknown adapter", nil, func(p *lab.Plan) { p.BridgeAdapter = "wlan9" },
			[]string{`the bridge adapter "wlan9" is not a host interface`, `"eth0" (Up)`}},
		{"VM of another lab", nil, func(p *lab.Plan) { p.Nodes[3].VM = "web-01" },
			[]string{`a VM named web-01 exists but is not part of lab "vmt" (it belongs to lab "other-lab")`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, env := vmtSetup(t, c.opts...)
			if c.edit != nil {
				c.edit(env.Plan)
			}
			_, _, err := vmtRun(t, env, ModeApply)
			if err == nil {
				t.Fatal("preflight passed")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if m := f.MutatingCalls(); len(m) != 0 {
				t.Errorf("mutating calls after a failed preflight: %q", m)
			}
		})
	}
}

// vmtNoGA is the fake seen through an API whose base VM never reported
// Guest Additions.
type vmtNoGA struct{ vbox.API }

func (v vmtNoGA) GuestProperty(ctx context.Context, vm, name string) (string, bool, error) {
	return "", false, nil
}

func TestPreflightWarnsWhenBaseNeverReportedGuestAdditions(t *testing.T) {
	_, env := vmtSetup(t)
	env.VBox = vmtNoGA{env.VBox}
	var out, log bytes.Buffer
	r := &Runner{Steps: VMPhase()[:1], Out: &out, Log: &log}
	if _, err := r.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	want := `the base VM "AlmaLinux-8.4" has never reported VirtualBox Guest Additions`
	if !strings.Contains(out.String(), "! "+want) || !strings.Contains(log.String(), "WARNING: "+want) {
		t.Errorf("no warning:\n%s\n%s", out.String(), log.String())
	}
}
