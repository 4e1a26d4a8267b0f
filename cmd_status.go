package main

import (
	"context"
	"encoding/json"

	"github.com/urfave/cli/v2"

	"labctl/fleet"
	"labctl/guest"
	"labctl/labenv"
	"labctl/labstatus"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each VM's state, IP, role, group-replication role and services",
		Description: "Read-only. VM states come from VirtualBox; the rest from one short SSH probe per\n" +
			"running node, all at once. A stopped or missing VM is shown as such, not as an error;\n" +
			"a node that does not answer within 1.5 s is shown as unreachable.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if err := s.requireVBox(); err != nil {
				return err
			}
			st := s.labStatus(c.Context)
			if c.Bool("json") {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			st.Print(s.out)
			return nil
		},
	}
}

// labStatus reads the lab's status (see labstatus.Read) without creating
// any state.
func (s *session) labStatus(ctx context.Context) *labstatus.Report {
	profile, perr := guest.ProfileByName(s.plan.Profile)
	o := labstatus.Options{Plan: s.plan, Profile: profile, ProfileErr: perr, VM: labstatus.FleetVM(fleet.New(s.vb, s.plan))}
	live, whyNot := labenv.OpenExisting(s.plan, s.vb)
	if live != nil {
		defer live.Close()
		o.SSH = live.Env.SSH
	}
	o.NoSSH = whyNot
	return labstatus.Read(ctx, o)
}
