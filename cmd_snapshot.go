package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"labctl/fleet"
	"labctl/steps"
	"labctl/vbox"
)

func snapshotCommand() *cli.Command {
	// nameArg checks the one NAME argument.
	nameArg := func(c *cli.Context) (string, error) {
		if c.NArg() != 1 {
			return "", cli.Exit(fmt.Sprintf("usage: labctl snapshot %s NAME", c.Command.Name), exitUsage)
		}
		name := c.Args().First()
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, "/\\\"") {
			return "", cli.Exit(fmt.Sprintf("snapshot name %q is not usable: use letters, digits, '-' or '_'", name), exitUsage)
		}
		return name, nil
	}
	// withSet opens the session and reads the lab's VMs as one set.
	withSet := func(c *cli.Context, named bool, fn func(s *session, set *fleet.Set, name string) error) error {
		var name string
		if named {
			var err error
			if name, err = nameArg(c); err != nil {
				return err
			}
		}
		s := sessionOf(c)
		if err := s.requireVBox(); err != nil {
			return err
		}
		set, err := fleet.New(s.vb, s.plan).ReadSet(c.Context)
		if err != nil {
			return snapshotRefusal(err)
		}
		return snapshotRefusal(fn(s, set, name))
	}
	return &cli.Command{
		Name:  "snapshot",
		Usage: "take, list, restore or delete a snapshot across all the lab's VMs",
		Description: "A classroom flow: `labctl up`, `labctl snapshot take clean`, break things,\n" +
			"`labctl snapshot restore clean`. A snapshot name missing on some VMs is an error that names\n" +
			"them, before anything changes.",
		Subcommands: []*cli.Command{
			{
				Name:      "take",
				Usage:     "snapshot every lab VM (live by default)",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "description", Aliases: []string{"d"}, Usage: "snapshot description `D`"},
					&cli.BoolFlag{Name: "offline", Usage: "power the VMs off first for a crash-consistent set, then bring the lab back up"},
					&cli.BoolFlag{Name: "dry-run", Usage: "print the calls and change nothing"},
				},
				Before: needsSession,
				Action: func(c *cli.Context) error {
					return withSet(c, true, func(s *session, set *fleet.Set, name string) error {
						o := fleet.TakeOptions{Description: c.String("description"), Offline: c.Bool("offline")}
						return s.snapshotTake(c.Context, set, name, o, c.Bool("dry-run"))
					})
				},
			},
			{
				Name:   "list",
				Usage:  "list snapshots: one row per snapshot, one column per VM",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Before: needsSession,
				Action: func(c *cli.Context) error {
					return withSet(c, false, func(s *session, set *fleet.Set, _ string) error {
						return set.WriteList(s.out, s.plan.Name, c.Bool("json"))
					})
				},
			},
			{
				Name:      "restore",
				Usage:     "power off, restore every lab VM to NAME, start them and converge the lab",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "print the calls and change nothing"}},
				Before:    needsSession,
				Action: func(c *cli.Context) error {
					return withSet(c, true, func(s *session, set *fleet.Set, name string) error {
						return s.snapshotRestore(c.Context, set, name, c.Bool("dry-run"))
					})
				},
			},
			{
				Name:      "delete",
				Usage:     "delete snapshot NAME from every lab VM",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "print the calls and change nothing"}},
				Before:    needsSession,
				Action: func(c *cli.Context) error {
					return withSet(c, true, func(s *session, set *fleet.Set, name string) error {
						if !c.Bool("dry-run") {
							return set.Delete(c.Context, name)
						}
						if err := set.RequirePresent(name); err != nil {
							return err
						}
						for _, vm := range set.VMs {
							fmt.Fprintf(s.out, "would delete snapshot %q of %s\n", name, vm.Name)
						}
						return nil
					})
				},
			},
		},
	}
}

// snapshotRefusal turns fleet's refusals (nothing was changed) into exit
// status 1 with what to do next; other errors pass as they are.
func snapshotRefusal(err error) error {
	var (
		foreign    *fleet.ForeignError
		incomplete *fleet.IncompleteError
		snap       *fleet.SnapshotError
	)
	switch {
	case errors.As(err, &foreign):
		return cli.Exit(fmt.Sprintf("VM %s is not part of lab %q (its %s tag is %q): labctl leaves it alone",
			foreign.VM, foreign.Lab, fleet.TagLab, foreign.Verdict.Tag), exitFailed)
	case errors.As(err, &incomplete):
		return cli.Exit(incomplete.Error()+"; run `labctl up` first", exitFailed)
	case errors.As(err, &snap) && snap.Exists:
		return cli.Exit(snap.Error()+": choose another name or delete it first", exitFailed)
	case errors.As(err, &snap):
		return cli.Exit(snap.Error()+" (see `labctl snapshot list`)", exitFailed)
	}
	return err
}

func (s *session) snapshotTake(ctx context.Context, set *fleet.Set, name string, o fleet.TakeOptions, dryRun bool) error {
	if dryRun {
		if err := set.RequireAbsent(name); err != nil {
			return err
		}
		for _, vm := range set.VMs {
			if o.Offline && vm.Info.State == vbox.StateRunning {
				fmt.Fprintf(s.out, "would power off %s\n", vm.Name)
			}
			fmt.Fprintf(s.out, "would take snapshot %q of %s (%s)\n", name, vm.Name, vm.Info.State)
		}
		return nil
	}
	if err := set.Take(ctx, name, o); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "✓ snapshot %q taken of %d VMs\n", name, len(set.VMs))
	if o.Offline {
		fmt.Fprintln(s.out, "Bringing the lab back up:")
		return s.runPipeline(ctx, pipeline(), steps.ModeApply, "", "", 6)
	}
	return nil
}

func (s *session) snapshotRestore(ctx context.Context, set *fleet.Set, name string, dryRun bool) error {
	if dryRun {
		if err := set.RequirePresent(name); err != nil {
			return err
		}
		for _, vm := range set.VMs {
			fmt.Fprintf(s.out, "would power off %s, restore %q, start it\n", vm.Name, name)
		}
		fmt.Fprintln(s.out, "then converge the lab as `labctl up` does (group replication recovered from the most advanced member)")
		return nil
	}
	if err := set.Restore(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "✓ restored %q on %d VMs; converging the lab:\n", name, len(set.VMs))
	return s.runPipeline(ctx, pipeline(), steps.ModeApply, "", "", 6)
}
