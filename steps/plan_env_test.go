package steps

import (
	"labctl/fleet"
	"labctl/guest"
	"labctl/lab"
	"labctl/vbox"
)

// planTestEnv is a plan's Env for calling steps directly, as the Runner of
// `labctl plan` sets it up: an emulator holding the lab's clones (as after
// the VM phase), every node's executor rec, and the plan's seams.
func planTestEnv(p *lab.Plan, prof *guest.Profile, s *lab.Secrets, rec func(*lab.Node) guest.Executor) *Env {
	em := vbox.NewEmulator("base", "")
	for _, n := range p.Nodes {
		em.AddClone(n.VM, fleet.Group(p), map[string]string{TagLab: p.Name, TagNode: n.Hostname})
	}
	env := &Env{Plan: p, Profile: prof, Secrets: s, VBox: vbox.New(em), Control: rec, SSH: rec}
	planSeams(env)
	return env
}
