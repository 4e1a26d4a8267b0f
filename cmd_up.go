package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"labctl/handover"
	"labctl/steps"
	"labctl/ui"
)

func upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "build the lab, or converge a half-built, stopped or restored one",
		Description: "up checks every step against the live VMs and changes only what differs, so it is\n" +
			"safe to run again after a failure, a Ctrl-C, a reboot of the host or a snapshot restore.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "run the read-only checks and print what would change"},
			&cli.StringFlag{Name: "from", Usage: "start at step `STEP` (earlier steps must already be done)"},
			&cli.StringFlag{Name: "only", Usage: "run only step `STEP` (its dependencies must already be done)"},
			&cli.IntFlag{Name: "concurrency", Value: 6, Usage: "nodes handled at once within a step"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if c.Bool("dry-run") && s.vboxErr != nil {
				fmt.Fprintf(s.out, "VirtualBox is not available here (%v).\nShowing the whole plan as if no lab VM existed yet:\n\n", s.vboxErr)
				return s.runPlan(c.Context, "")
			}
			if err := s.requireVBox(); err != nil {
				return err
			}
			mode := steps.ModeApply
			if c.Bool("dry-run") {
				mode = steps.ModeDryRun
			}
			return s.runPipeline(c.Context, pipeline(), mode, c.String("from"), c.String("only"), c.Int("concurrency"))
		},
	}
}

// runPipeline runs steps against the live lab with a per-run log file.
func (s *session) runPipeline(ctx context.Context, pipeline []steps.Step, mode steps.Mode, from, only string, concurrency int) error {
	s.display = ui.New(s.out, s.progress, ui.Options{})
	defer s.display.Close()
	env, log, logPath, done, err := s.runEnv("up", true)
	if err != nil {
		return err
	}
	defer s.finish(done)
	r := &steps.Runner{
		Steps:       pipeline,
		Concurrency: concurrency,
		Mode:        mode,
		From:        from,
		Only:        only,
		Out:         s.out,
		Display:     s.display,
		Log:         log,
		LogPath:     logPath,
		Lookahead:   true,
	}
	sum, err := r.Run(ctx, env)
	if err != nil {
		// The Runner's error already names the step, the log file and, after
		// Ctrl-C, how to resume.
		code := exitFailed
		var re *steps.RunError
		if errors.As(err, &re) && re.Interrupted {
			code = exitInterrupted
		}
		return cli.Exit(err.Error(), code)
	}
	sum.Print(s.out, s.plan)
	if mode == steps.ModeApply {
		s.handOver(ctx, env, sum)
	}
	return nil
}

// handOver ends a run: the slowest steps, then (when the run reached
// verify) what the lab is for and what to run next.
func (s *session) handOver(ctx context.Context, env *steps.Env, sum steps.Summary) {
	if line := handover.Slowest(sum.Steps, 3); line != "" {
		fmt.Fprintln(s.out, line)
	}
	if handover.Complete(sum.Steps) {
		handover.Build(ctx, handover.Options{Plan: s.plan, SSH: env.SSH, Secrets: env.Secrets}).PrintDetails(s.out)
	}
}

// pipeline is the list of steps `up` runs; tests swap it to run the whole
// tool against simulated guests.
var pipeline = steps.Pipeline
