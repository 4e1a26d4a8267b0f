package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/urfave/cli/v2"

	"labctl/lab"
	"labctl/steps"
	"labctl/vbox"
)

func snapshotCommand() *cli.Command {
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
				Action: func(c *cli.Context) error {
					return withSnapshotSession(c, func(s *session, name string, vms []*labVM) error {
						return s.snapshotTake(c, name, vms)
					})
				},
			},
			{
				Name:  "list",
				Usage: "list snapshots: one row per snapshot, one column per VM",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					s, vms, err := snapshotSession(c)
					if err != nil {
						return err
					}
					return s.snapshotList(vms, c.Bool("json"))
				},
			},
			{
				Name:      "restore",
				Usage:     "power off, restore every lab VM to NAME, start them and converge the lab",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "print the calls and change nothing"}},
				Action: func(c *cli.Context) error {
					return withSnapshotSession(c, func(s *session, name string, vms []*labVM) error {
						return s.snapshotRestore(c, name, vms)
					})
				},
			},
			{
				Name:      "delete",
				Usage:     "delete snapshot NAME from every lab VM",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "print the calls and change nothing"}},
				Action: func(c *cli.Context) error {
					return withSnapshotSession(c, func(s *session, name string, vms []*labVM) error {
						if err := requireSnapshotEverywhere(name, vms); err != nil {
							return err
						}
						if c.Bool("dry-run") {
							for _, vm := range vms {
								fmt.Fprintf(s.out, "would delete snapshot %q of %s\n", name, vm.node.VM)
							}
							return nil
						}
						return s.eachVM(vms, "delete snapshot", func(ctx context.Context, vm *labVM) error {
							return s.vb.DeleteSnapshot(ctx, vm.info.UUID, name)
						})
					})
				},
			},
		},
	}
}

// labVM is a plan node with the live state of its VM.
type labVM struct {
	node *lab.Node
	info *vbox.VMInfo
}

func (v *labVM) hasSnapshot(name string) bool {
	for _, sn := range v.info.Snapshots {
		if sn.Name == name {
			return true
		}
	}
	return false
}

// snapshotSession opens the lab and reads every node's VM; all six must
// exist and carry this lab's tag, since a partial set cannot be restored.
func snapshotSession(c *cli.Context) (*session, []*labVM, error) {
	s, err := openSession(c)
	if err != nil {
		return nil, nil, err
	}
	if err := s.requireVBox(); err != nil {
		return nil, nil, err
	}
	var vms []*labVM
	var missing []string
	for _, n := range s.plan.Nodes {
		info, err := s.vb.Info(c.Context, n.VM)
		if err != nil {
			if isNotFound(err) {
				missing = append(missing, n.VM)
				continue
			}
			return nil, nil, fmt.Errorf("%s: %w", n.VM, err)
		}
		tag, err := s.vb.GetExtraData(c.Context, info.UUID, steps.TagLab)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.VM, err)
		}
		if tag != s.plan.Name {
			return nil, nil, cli.Exit(fmt.Sprintf("VM %s is not part of lab %q (its labctl/lab tag is %q): labctl leaves it alone", n.VM, s.plan.Name, tag), 1)
		}
		vms = append(vms, &labVM{node: n, info: info})
	}
	if len(missing) > 0 {
		return nil, nil, cli.Exit(fmt.Sprintf("lab %q is incomplete: %s missing; run `labctl up` first", s.plan.Name, strings.Join(missing, ", ")), 1)
	}
	return s, vms, nil
}

func withSnapshotSession(c *cli.Context, fn func(*session, string, []*labVM) error) error {
	if c.NArg() != 1 {
		return cli.Exit(fmt.Sprintf("usage: labctl snapshot %s NAME", c.Command.Name), 2)
	}
	name := c.Args().First()
	if strings.TrimSpace(name) == "" || strings.ContainsAny(name, "/\\\"") {
		return cli.Exit(fmt.Sprintf("snapshot name %q is not usable: use letters, digits, '-' or '_'", name), 2)
	}
	s, vms, err := snapshotSession(c)
	if err != nil {
		return err
	}
	return fn(s, name, vms)
}

func requireSnapshotEverywhere(name string, vms []*labVM) error {
	var lacking []string
	for _, vm := range vms {
		if !vm.hasSnapshot(name) {
			lacking = append(lacking, vm.node.VM)
		}
	}
	if len(lacking) > 0 {
		return cli.Exit(fmt.Sprintf("snapshot %q is missing on %s: nothing was changed (see `labctl snapshot list`)", name, strings.Join(lacking, ", ")), 1)
	}
	return nil
}

// eachVM runs fn on every lab VM at once and reports every failure.
func (s *session) eachVM(vms []*labVM, what string, fn func(context.Context, *labVM) error) error {
	var g multierror.Group
	for _, vm := range vms {
		g.Go(func() error {
			if err := fn(s.c.Context, vm); err != nil {
				return fmt.Errorf("%s: %s: %w", vm.node.VM, what, err)
			}
			return nil
		})
	}
	return g.Wait().ErrorOrNil()
}

// powerOffRunning powers off every running or paused lab VM at once.
func (s *session) powerOffRunning(vms []*labVM) error {
	return s.eachVM(vms, "power off", func(ctx context.Context, vm *labVM) error {
		if vm.info.State == vbox.StateRunning || vm.info.State == vbox.StatePaused {
			return s.vb.PowerOff(ctx, vm.info.UUID)
		}
		return nil
	})
}

func (s *session) snapshotTake(c *cli.Context, name string, vms []*labVM) error {
	var already []string
	for _, vm := range vms {
		if vm.hasSnapshot(name) {
			already = append(already, vm.node.VM)
		}
	}
	if len(already) > 0 {
		return cli.Exit(fmt.Sprintf("snapshot %q already exists on %s: choose another name or delete it first", name, strings.Join(already, ", ")), 1)
	}
	offline := c.Bool("offline")
	if c.Bool("dry-run") {
		for _, vm := range vms {
			if offline && vm.info.State == vbox.StateRunning {
				fmt.Fprintf(s.out, "would power off %s\n", vm.node.VM)
			}
			fmt.Fprintf(s.out, "would take snapshot %q of %s (%s)\n", name, vm.node.VM, vm.info.State)
		}
		return nil
	}
	if offline {
		if err := s.powerOffRunning(vms); err != nil {
			return err
		}
	}
	desc := c.String("description")
	if desc == "" {
		desc = fmt.Sprintf("labctl %s, %s", s.plan.Name, time.Now().Format(time.RFC3339))
	}
	if err := s.eachVM(vms, "take snapshot", func(ctx context.Context, vm *labVM) error {
		live := !offline && vm.info.State == vbox.StateRunning
		return s.vb.TakeSnapshot(ctx, vm.info.UUID, name, desc, live)
	}); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "✓ snapshot %q taken of %d VMs\n", name, len(vms))
	if offline {
		fmt.Fprintln(s.out, "Bringing the lab back up:")
		return s.runPipeline(pipeline(), steps.ModeApply, "", "", 6)
	}
	return nil
}

func (s *session) snapshotRestore(c *cli.Context, name string, vms []*labVM) error {
	if err := requireSnapshotEverywhere(name, vms); err != nil {
		return err
	}
	if c.Bool("dry-run") {
		for _, vm := range vms {
			fmt.Fprintf(s.out, "would power off %s, restore %q, start it\n", vm.node.VM, name)
		}
		fmt.Fprintln(s.out, "then converge the lab as `labctl up` does (group replication recovered from the most advanced member)")
		return nil
	}
	// VirtualBox restores only powered-off VMs; all six go down together so
	// group replication comes back as one full outage, recovered by up.
	if err := s.powerOffRunning(vms); err != nil {
		return err
	}
	if err := s.eachVM(vms, "restore snapshot", func(ctx context.Context, vm *labVM) error {
		return s.vb.RestoreSnapshot(ctx, vm.info.UUID, name)
	}); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "✓ restored %q on %d VMs; converging the lab:\n", name, len(vms))
	return s.runPipeline(pipeline(), steps.ModeApply, "", "", 6)
}

// snapshotRow is one snapshot across the lab's VMs, for list and --json.
type snapshotRow struct {
	Name    string            `json:"name"`
	VMs     map[string]string `json:"vms"` // VM name -> time taken (RFC 3339) or "yes"; absent = missing
	Current []string          `json:"current,omitempty"`
}

func (s *session) snapshotList(vms []*labVM, asJSON bool) error {
	rows := map[string]*snapshotRow{}
	for _, vm := range vms {
		for _, sn := range vm.info.Snapshots {
			r := rows[sn.Name]
			if r == nil {
				r = &snapshotRow{Name: sn.Name, VMs: map[string]string{}}
				rows[sn.Name] = r
			}
			when := "yes"
			if !sn.Taken.IsZero() {
				when = sn.Taken.Format(time.RFC3339)
			}
			r.VMs[vm.node.VM] = when
			if sn.Current {
				r.Current = append(r.Current, vm.node.VM)
			}
		}
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	if asJSON {
		out := make([]*snapshotRow, 0, len(names))
		for _, n := range names {
			out = append(out, rows[n])
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(names) == 0 {
		fmt.Fprintf(s.out, "Lab %q has no snapshots.\n", s.plan.Name)
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "SNAPSHOT")
	for _, vm := range vms {
		fmt.Fprintf(tw, "\t%s", vm.node.VM)
	}
	fmt.Fprintln(tw)
	for _, n := range names {
		fmt.Fprint(tw, n)
		for _, vm := range vms {
			v, ok := rows[n].VMs[vm.node.VM]
			if !ok {
				v = "MISSING"
			}
			fmt.Fprintf(tw, "\t%s", v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
