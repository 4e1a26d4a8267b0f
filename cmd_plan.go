package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"labctl/labenv"
	"labctl/steps"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "show every command up would run, per step and node (no VirtualBox needed)",
		Description: "plan needs no VirtualBox and changes nothing. Secrets are shown as <redacted>.\n" +
			"With --out DIR it also writes every file each node would receive to DIR/<node>/<path>.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write every file each node would receive under `DIR`"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			return s.runPlan(c.Context, c.String("out"))
		},
	}
}

// runPlan runs the pipeline's Apply against recorders: the plan is exactly
// what `up` would run on a lab where no VM exists yet. With outDir it
// writes the files instead of printing the plan, and says what it wrote.
func (s *session) runPlan(ctx context.Context, outDir string) error {
	pl, err := labenv.OpenPlan(s.plan)
	if err != nil {
		return err
	}
	out := s.out
	if outDir != "" {
		out = io.Discard
	}
	fmt.Fprintf(out, "Plan for lab %q from %s (%d nodes, profile %s, network %s, VIP %s)\n\n",
		s.plan.Name, s.plan.File, len(s.plan.Nodes), s.plan.Profile, s.plan.Network, s.plan.VIP)
	if line := s.plan.SeatLine(); line != "" {
		fmt.Fprintf(out, "%s\n\n", line)
	}
	if sum := s.plan.NetworkSummary(); sum != "" {
		fmt.Fprintf(out, "Network mode %s: %s\n\n", s.plan.NetMode, sum)
	}
	r := &steps.Runner{Steps: pipeline(), Mode: steps.ModePlan, Out: out, Log: pl.Env.Log}
	if _, err := r.Run(ctx, pl.Env); err != nil {
		return err
	}
	if outDir == "" {
		return nil
	}
	written, err := pl.WriteFiles(outDir)
	if err != nil {
		return err
	}
	total := 0
	for _, w := range written {
		total += len(w.Files)
		fmt.Fprintf(s.out, "  %-14s %2d files under %s\n", w.Node, len(w.Files), filepath.Join(outDir, w.Node))
	}
	fmt.Fprintf(s.out, "Wrote %d files under %s/<node>/ (what each node would keep; `labctl plan` prints every command)\n", total, outDir)
	return nil
}
