package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"labctl/steps"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check the running lab end to end and print a table; non-zero exit on any failure",
		Description: "Checks: group replication has 3 ONLINE members and one PRIMARY; the VIP is on the\n" +
			"primary; each web node reaches MySQL through the VIP; WordPress answers through the load\n" +
			"balancer with its title; repeated requests reach both web nodes.",
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if err := s.requireVBox(); err != nil {
				return err
			}
			env, closeExecs, err := s.builtLab()
			if err != nil {
				return err
			}
			defer closeExecs()
			rep, err := steps.RunVerify(c.Context, env)
			rep.Print(s.out)
			if err != nil && len(rep.Rows) > 0 {
				// The table above holds every failure: say so once, briefly.
				return cli.Exit(fmt.Sprintf("verify failed: %d of %d checks failed (the FAIL rows above)", len(rep.Failed()), len(rep.Rows)), exitFailed)
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("verify failed: %v", err), exitFailed)
			}
			return nil
		},
	}
}
