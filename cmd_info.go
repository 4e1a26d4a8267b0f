package main

import (
	"github.com/urfave/cli/v2"

	"labctl/handover"
)

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "print where WordPress is, the admin login, the VIP and the current primary",
		Description: "What `up` prints at its end, any time later. Read-only; the admin password is shown only\n" +
			"with --show-secrets (it is kept, 0600, in the lab's state folder).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "show-secrets", Usage: "include the WordPress admin password"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			env, closeExecs, err := s.builtLab()
			if err != nil {
				return err
			}
			defer closeExecs()
			in := handover.Build(c.Context, handover.Options{
				Plan: s.plan, SSH: env.SSH, Secrets: env.Secrets, ShowSecrets: c.Bool("show-secrets"),
			})
			if c.Bool("json") {
				return in.JSON(s.out)
			}
			in.Print(s.out)
			return nil
		},
	}
}
