package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"labctl/drill"
	"labctl/steps"
)

// switchoverHook lets the whole-tool tests put simulated guests and
// requests behind a switchover.
var switchoverHook func(*drill.Options)

func switchoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "switchover",
		Usage: "move the MySQL primary to another member on purpose (maintenance)",
		Description: "The planned counterpart of `labctl drill`: waits until the chosen member (--to, else the\n" +
			"next DB node after the primary) has applied every transaction the primary has, asks the\n" +
			"group to make it the primary (group_replication_set_as_primary), and waits until the VIP\n" +
			"has followed. WordPress is requested through the load balancer every 250 ms meanwhile;\n" +
			"the timeline and the failed requests are printed. Every wait is bounded.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the DB `NODE` (VM name or hostname) to make the primary"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			to, err := drill.SwitchTarget(s.plan, c.String("to"))
			if err != nil {
				return cli.Exit(err.Error(), exitUsage)
			}
			if err := s.requireVBox(); err != nil {
				return err
			}
			env, _, logPath, closeLog, err := s.runEnv("switchover", false)
			if err != nil {
				return err
			}
			defer s.finish(closeLog)
			o := drill.Options{
				Plan: env.Plan, Profile: env.Profile, SSH: env.SSH, Redact: env.Secrets.Values(),
				URL: steps.WordPressURL(env.Plan) + "/", Out: s.out,
			}
			if switchoverHook != nil {
				switchoverHook(&o)
			}
			if err := drill.New(o).Switchover(c.Context, to); err != nil {
				return cli.Exit(fmt.Sprintf("switchover: %v\nLog: %s", err, logPath), exitFailed)
			}
			return nil
		},
	}
}
