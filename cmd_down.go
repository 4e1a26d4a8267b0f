package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"labctl/fleet"
	"labctl/internal/tty"
	"labctl/labnet"
)

func downCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "power off and delete this lab's VMs with their disks, and its local state",
		Description: "Only VMs tagged as part of this lab (extradata labctl/lab) are touched. The base VM\n" +
			"and its labctl-base snapshot stay: other labs may be cloned from them.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "keep-logs", Usage: "keep the run logs in the lab's state folder"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be deleted and change nothing"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if c.Bool("dry-run") && s.vboxErr != nil {
				fmt.Fprintf(s.out, "VirtualBox is not available here (%v); down would delete the VMs tagged labctl/lab=%s: %s, then %s\n",
					s.vboxErr, s.plan.Name, strings.Join(s.plan.Nodes.Names(), ", "), s.plan.StateDir)
				return nil
			}
			if err := s.requireVBox(); err != nil {
				return err
			}
			return s.down(c.Context, c.App.Reader, downOptions{yes: c.Bool("yes"), keepLogs: c.Bool("keep-logs"), dryRun: c.Bool("dry-run")})
		},
	}
}

type downOptions struct{ yes, keepLogs, dryRun bool }

func (s *session) down(ctx context.Context, in io.Reader, o downOptions) error {
	f := fleet.New(s.vb, s.plan)
	vms, err := f.Members(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(vms))
	for i, vm := range vms {
		names[i] = vm.Name
	}
	if len(vms) == 0 {
		fmt.Fprintf(s.out, "No VM of lab %q exists.\n", s.plan.Name)
	} else {
		fmt.Fprintf(s.out, "Lab %q: %d VMs to power off and delete with their disks: %s\n", s.plan.Name, len(vms), strings.Join(names, ", "))
	}
	netRec, err := labnet.ReadRecord(s.plan.StateDir)
	if err != nil {
		return err
	}
	if o.dryRun {
		fmt.Fprintf(s.out, "Would then remove the lab's state folder %s%s.\n", s.plan.StateDir, map[bool]string{true: " (keeping logs)"}[o.keepLogs])
		return s.downNetwork(ctx, netRec, true)
	}
	if len(vms) > 0 && !o.yes {
		ok, err := confirm(in, s.errOut, fmt.Sprintf("Delete these %d VMs and their disks?", len(vms)))
		if err != nil {
			return err
		}
		if !ok {
			return cli.Exit("nothing deleted", exitFailed)
		}
	}
	err = f.Teardown(ctx, vms, fleet.TeardownOptions{
		KeepLogs: o.keepLogs,
		Deleted:  func(name string) { fmt.Fprintf(s.out, "✓ deleted %s\n", name) },
	})
	if te := (*fleet.TeardownError)(nil); errors.As(err, &te) {
		return cli.Exit(fmt.Sprintf("down did not finish: %v\nThe lab's state folder was kept; run `labctl down` again to finish.", te.Err), exitFailed)
	}
	if err != nil {
		return err
	}
	if err := s.downNetwork(ctx, netRec, false); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Lab %q is gone. The base VM %q was left as it is.\n", s.plan.Name, s.plan.Base.VM)
	return nil
}

// confirm asks a yes/no question on the terminal; without one it refuses,
// so a script never deletes VMs without --yes.
func confirm(in io.Reader, errOut io.Writer, q string) (bool, error) {
	yes, asked := tty.Confirm(in, errOut, q)
	if !asked {
		return false, cli.Exit("refusing to delete VMs without confirmation: run on a terminal or pass --yes", exitUsage)
	}
	return yes, nil
}
