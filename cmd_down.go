package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/urfave/cli/v2"

	"labctl/steps"
	"labctl/vbox"
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
		Action: func(c *cli.Context) error {
			s, err := openSession(c)
			if err != nil {
				return err
			}
			if c.Bool("dry-run") && s.vboxErr != nil {
				fmt.Fprintf(s.out, "VirtualBox is not available here (%v); down would delete the VMs tagged labctl/lab=%s: %s, then %s\n",
					s.vboxErr, s.plan.Name, strings.Join(s.plan.Nodes.Names(), ", "), s.plan.StateDir)
				return nil
			}
			if err := s.requireVBox(); err != nil {
				return err
			}
			return s.down(c.Context, c.Bool("yes"), c.Bool("keep-logs"), c.Bool("dry-run"))
		},
	}
}

// labVMs returns every registered VM tagged with this lab's name, found by
// tag rather than by name so a renamed node is still found and an
// unrelated VM that happens to share a name is never touched.
func (s *session) labVMs(ctx context.Context) ([]vbox.VM, error) {
	all, err := s.vb.ListVMs(ctx)
	if err != nil {
		return nil, err
	}
	var mine []vbox.VM
	for _, vm := range all {
		if vm.Inaccessible {
			continue
		}
		tag, err := s.vb.GetExtraData(ctx, vm.UUID, steps.TagLab)
		if err != nil {
			return nil, fmt.Errorf("read the lab tag of %s: %w", vm.Name, err)
		}
		if tag == s.plan.Name {
			mine = append(mine, vm)
			continue
		}
		if tag != "" {
			continue
		}
		// A clone interrupted before it was tagged is still in the lab's
		// group; up would adopt it, so down removes it too.
		info, err := s.vb.Info(ctx, vm.UUID)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", vm.Name, err)
		}
		for _, g := range info.Groups {
			if g == steps.LabGroup(s.plan) {
				mine = append(mine, vm)
				break
			}
		}
	}
	return mine, nil
}

func (s *session) down(ctx context.Context, yes, keepLogs, dryRun bool) error {
	vms, err := s.labVMs(ctx)
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
	if dryRun {
		fmt.Fprintf(s.out, "Would then remove the lab's state folder %s%s.\n", s.plan.StateDir, map[bool]string{true: " (keeping logs)"}[keepLogs])
		return nil
	}
	if len(vms) > 0 && !yes {
		ok, err := s.confirm(fmt.Sprintf("Delete these %d VMs and their disks?", len(vms)))
		if err != nil {
			return err
		}
		if !ok {
			return cli.Exit("nothing deleted", 1)
		}
	}

	var g multierror.Group
	for _, vm := range vms {
		g.Go(func() error {
			if err := s.deleteVM(ctx, vm); err != nil {
				return fmt.Errorf("%s: %w", vm.Name, err)
			}
			fmt.Fprintf(s.out, "✓ deleted %s\n", vm.Name)
			return nil
		})
	}
	if err := g.Wait().ErrorOrNil(); err != nil {
		return cli.Exit(fmt.Sprintf("down did not finish: %v\nThe lab's state folder was kept; run `labctl down` again to finish.", err), 1)
	}
	if err := removeState(s.plan.StateDir, keepLogs); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Lab %q is gone. The base VM %q was left as it is.\n", s.plan.Name, s.plan.Base.VM)
	return nil
}

func (s *session) deleteVM(ctx context.Context, vm vbox.VM) error {
	info, err := s.vb.Info(ctx, vm.UUID)
	if err != nil {
		return err
	}
	switch info.State {
	case vbox.StateRunning, vbox.StatePaused, "stuck", "starting":
		if err := s.vb.PowerOff(ctx, vm.UUID); err != nil {
			return fmt.Errorf("power off: %w", err)
		}
	}
	if err := s.vb.Delete(ctx, vm.UUID); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// confirm asks a yes/no question on the terminal; without one it refuses,
// so a script never deletes VMs without --yes.
func (s *session) confirm(q string) (bool, error) {
	in, ok := s.c.App.Reader.(*os.File)
	if !ok || !isTerminal(in) {
		return false, cli.Exit("refusing to delete VMs without confirmation: run on a terminal or pass --yes", 2)
	}
	fmt.Fprintf(s.errOut, "%s [y/N] ", q)
	line, _ := bufio.NewReader(in).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes", nil
}

// removeState deletes the lab's local folder (secrets, keys, known_hosts),
// optionally keeping its logs.
func removeState(dir string, keepLogs bool) error {
	if !keepLogs {
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "logs" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
