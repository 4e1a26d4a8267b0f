package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"labctl/drill"
	"labctl/steps"
)

func drillCommand() *cli.Command {
	return &cli.Command{
		Name:  "drill",
		Usage: "fail the MySQL primary on purpose and measure the failover",
		Description: "For the classroom: finds the group's primary, kills its mysqld (--kind crash, kill -9)\n" +
			"or stops it cleanly (--kind stop), then measures the seconds until a new primary is\n" +
			"elected and until the VIP is on it, counts the WordPress requests through the load\n" +
			"balancer that failed meanwhile (one every 250 ms from this computer), and finally\n" +
			"starts mysqld again and rejoins the old primary to the group. Every wait is bounded.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kind", Value: "crash", Usage: "`crash` (kill -9 mysqld) or `stop` (systemctl stop mysqld)"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			kind := c.String("kind")
			if !drill.Valid(kind) {
				return cli.Exit(fmt.Sprintf("--kind %q is not a drill: use crash (kill -9 mysqld) or stop (systemctl stop mysqld)", kind), exitUsage)
			}
			s := sessionOf(c)
			if err := s.requireVBox(); err != nil {
				return err
			}
			env, _, logPath, closeLog, err := s.runEnv("drill", false)
			if err != nil {
				return err
			}
			defer s.finish(closeLog)
			d := drill.New(drill.Options{
				Plan: env.Plan, Profile: env.Profile, SSH: env.SSH, Redact: env.Secrets.Values(),
				Kind: kind, URL: steps.WordPressURL(env.Plan) + "/", Out: s.out,
			})
			if err := d.Run(c.Context); err != nil {
				return cli.Exit(fmt.Sprintf("drill: %v\nLog: %s", err, logPath), exitFailed)
			}
			return nil
		},
	}
}
