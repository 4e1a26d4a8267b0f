package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"labctl/fleet"
)

func haltCommand() *cli.Command {
	return &cli.Command{
		Name:  "halt",
		Usage: "power the lab's VMs off cleanly and keep them (`labctl up` brings them back)",
		Description: "Each guest is asked to shut down (the ACPI power button) and given --timeout to do so;\n" +
			"one still running then is powered off hard. Only this lab's VMs are touched.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: fleet.DefaultGrace, Usage: "how long each guest may take to shut down before a hard power-off"},
			&cli.BoolFlag{Name: "force", Usage: "power off hard at once (like pulling the plug)"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if err := s.requireVBox(); err != nil {
				return err
			}
			grace := c.Duration("timeout")
			if c.Bool("force") {
				grace = 0
			}
			if grace < 0 {
				return cli.Exit("--timeout must not be negative", exitUsage)
			}
			start := time.Now()
			halted, err := fleet.New(s.vb, s.plan).Halt(c.Context, fleet.PowerOffOptions{Grace: grace})
			if len(halted) > 0 {
				fmt.Fprintf(s.out, "Powered off %s in %s.\n", strings.Join(halted, ", "), time.Since(start).Round(time.Second))
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("halt: %v", err), exitFailed)
			}
			if len(halted) == 0 {
				fmt.Fprintf(s.out, "No VM of lab %q is running.\n", s.plan.Name)
				return nil
			}
			fmt.Fprintln(s.out, "Run `labctl up` to start the lab again; it converges whatever changed meanwhile.")
			return nil
		},
	}
}
