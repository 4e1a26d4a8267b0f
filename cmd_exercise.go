package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"labctl/exercise"
	"labctl/fleet"
	"labctl/internal/tty"
	"labctl/lab"
	"labctl/steps"
)

// exerciseHook lets the whole-tool tests swap the guests an exercise talks
// to for simulated ones; nil in the product.
var exerciseHook func(*exercise.Env)

func exerciseCommand() *cli.Command {
	yes := &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"}
	asJSON := &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	return &cli.Command{
		Name:  "exercise",
		Usage: "classroom exercises: break the lab on purpose, repair it, check the repair, reset",
		Description: "A session: `exercise list`, `exercise show NAME`, `exercise start NAME` (the lab must pass\n" +
			"verify; the first start takes the snapshot labctl-exercise-base of every VM), then repair the\n" +
			"lab and run `exercise check` (exit 0 only when solved) and `exercise hint` when stuck.\n" +
			"`exercise report` writes the file to hand in; `exercise reset` restores the baseline,\n" +
			"converges the lab and clears every recorded result.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "exercises", Usage: "also read exercise files from `DIR` (default: [exercises] dir in lab.toml)", EnvVars: []string{"LABCTL_EXERCISES"}},
		},
		Subcommands: []*cli.Command{
			{
				Name: "list", Before: needsSession, Usage: "list the exercises this lab can run", Flags: []cli.Flag{asJSON},
				Action: func(c *cli.Context) error {
					s, cat, err := exerciseCatalog(c)
					if err != nil {
						return err
					}
					return cat.WriteList(s.out, s.plan.Profile, c.Bool("json"))
				},
			},
			{
				Name: "show", Before: needsSession, Usage: "print an exercise's scenario as the student reads it", ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					s, cat, err := exerciseCatalog(c)
					if err != nil {
						return err
					}
					ex, err := exerciseArg(c, cat)
					if err != nil {
						return err
					}
					exercise.PrintScenario(s.out, ex)
					fmt.Fprintf(s.out, "\nChecks when you run `labctl exercise check`:\n")
					for _, ch := range ex.Checks {
						fmt.Fprintf(s.out, "  - %s\n", ch.Name)
					}
					return nil
				},
			},
			{
				Name: "start", Before: needsSession, Usage: "break the lab for exercise NAME (the lab must pass verify)", ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					return withExercise(c, "start", func(env *exercise.Env, cat *exercise.Catalog, _ *session) error {
						ex, err := exerciseArg(c, cat)
						if err != nil {
							return err
						}
						return exerciseRefusal(exercise.Start(c.Context, env, ex))
					})
				},
			},
			{
				Name: "status", Before: needsSession, Usage: "show the exercise in progress and what was recorded", Flags: []cli.Flag{asJSON},
				Action: func(c *cli.Context) error {
					s, cat, err := exerciseCatalog(c)
					if err != nil {
						return err
					}
					env := &exercise.Env{Plan: s.plan, Store: exercise.NewStore(s.plan.StateDir)}
					st, err := exercise.ReadStatus(env, cat)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return exercise.WriteJSON(s.out, st)
					}
					st.Print(s.out)
					return nil
				},
			},
			{
				Name: "check", Before: needsSession, Usage: "run the exercise's checks; exit 0 only when solved", Flags: []cli.Flag{asJSON},
				Action: func(c *cli.Context) error {
					return withExercise(c, "check", func(env *exercise.Env, cat *exercise.Catalog, s *session) error {
						r, err := exercise.RunChecks(c.Context, env, cat)
						if err != nil {
							return exerciseRefusal(err)
						}
						if c.Bool("json") {
							if err := exercise.WriteJSON(s.out, r); err != nil {
								return err
							}
						} else {
							r.Print(s.out)
						}
						if !r.Solved {
							return cli.Exit("", exitFailed)
						}
						return nil
					})
				},
			},
			{
				Name: "hint", Before: needsSession, Usage: "print the next hint (hints are counted in the report)",
				Action: func(c *cli.Context) error {
					s, cat, err := exerciseCatalog(c)
					if err != nil {
						return err
					}
					env := &exercise.Env{Plan: s.plan, Store: exercise.NewStore(s.plan.StateDir)}
					n, total, text, err := exercise.Hint(env, cat)
					if err != nil {
						return exerciseRefusal(err)
					}
					fmt.Fprintf(s.out, "Hint %d of %d: %s\n", n, total, text)
					if n == total {
						fmt.Fprintln(s.out, "(That is the last hint.)")
					}
					return nil
				},
			},
			{
				Name: "solve", Before: needsSession, Usage: "run the instructor's reference solution (recorded in the report)", Flags: []cli.Flag{yes},
				Action: func(c *cli.Context) error {
					return withExercise(c, "solve", func(env *exercise.Env, cat *exercise.Catalog, s *session) error {
						if !c.Bool("yes") {
							if err := exerciseConfirm(c.App.Reader, s.errOut, "Run the reference solution? The report will say so."); err != nil {
								return err
							}
						}
						r, err := exercise.Solve(c.Context, env, cat)
						if err != nil {
							return exerciseRefusal(err)
						}
						r.Print(s.out)
						if !r.Solved {
							return cli.Exit("the reference solution ran, but the checks still fail", exitFailed)
						}
						return nil
					})
				},
			},
			{
				Name: "reset", Before: needsSession, Usage: "restore the exercise baseline, converge the lab and clear every recorded result", Flags: []cli.Flag{yes},
				Action: func(c *cli.Context) error {
					s := sessionOf(c)
					if err := s.requireVBox(); err != nil {
						return err
					}
					if !c.Bool("yes") {
						if err := exerciseConfirm(c.App.Reader, s.errOut, "Restore every lab VM to the exercise baseline? Changes since the exercise started are lost."); err != nil {
							return err
						}
					}
					env := &exercise.Env{Plan: s.plan, Fleet: fleet.New(s.vb, s.plan), Store: exercise.NewStore(s.plan.StateDir), Out: s.out}
					if err := exercise.RestoreBaseline(c.Context, env); err != nil {
						return snapshotRefusal(err)
					}
					fmt.Fprintf(s.out, "✓ results cleared; every VM restored to %q; converging the lab:\n", exercise.Baseline)
					return s.runPipeline(c.Context, pipeline(), steps.ModeApply, "", "", 6)
				},
			},
			{
				Name:   "report",
				Before: needsSession,
				Usage:  "write the report a student hands in (signed when lab.toml sets a report key), or check one",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the report to `FILE` (default: labctl-report-LAB-EXERCISE.json here)"},
					&cli.StringFlag{Name: "check", Usage: "instead, check the signature of the handed-in report `FILE`"},
				},
				Action: func(c *cli.Context) error {
					s, cat, err := exerciseCatalog(c)
					if err != nil {
						return err
					}
					key, err := exercise.ReadKey(s.plan.ReportKeyFile)
					if err != nil {
						return cli.Exit(err.Error(), exitUsage)
					}
					if f := c.String("check"); f != "" {
						r, err := exercise.CheckReport(f, key)
						if err != nil {
							return cli.Exit(fmt.Sprintf("%s: %v", f, err), exitFailed)
						}
						fmt.Fprintf(s.out, "✓ %s: signature valid. Lab %s, exercise %s: %s; %d checks, %d of %d hints, reference solution used: %t\n",
							f, r.Lab.Name, r.Exercise, r.Result, r.Attempts, r.HintsUsed, r.Hints, r.SolveUsed)
						return nil
					}
					st, err := lab.OpenState(s.plan)
					if err != nil {
						return err
					}
					sec, err := st.Secrets()
					if err != nil {
						return err
					}
					env := &exercise.Env{Plan: s.plan, Secrets: sec, Store: exercise.NewStore(s.plan.StateDir)}
					r, err := exercise.BuildReport(env, cat)
					if err != nil {
						return exerciseRefusal(err)
					}
					r.Sign(key)
					out := c.String("out")
					if out == "" {
						out = fmt.Sprintf("labctl-report-%s-%s.json", s.plan.Name, r.Exercise)
					}
					if err := r.Write(out); err != nil {
						return err
					}
					signed := "unsigned: lab.toml sets no report key"
					if r.Signature != nil {
						signed = "signed"
					}
					fmt.Fprintf(s.out, "Wrote %s (%s): %s, %d checks, %d of %d hints.\n", out, signed, r.Result, r.Attempts, r.HintsUsed, r.Hints)
					return nil
				},
			},
		},
	}
}

// exerciseCatalog opens the session and loads the exercises it can see.
func exerciseCatalog(c *cli.Context) (*session, *exercise.Catalog, error) {
	s := sessionOf(c)
	dir := s.plan.ExercisesDir
	if d := c.String("exercises"); d != "" {
		dir = d
	}
	cat, err := exercise.Load(dir)
	if err != nil {
		return nil, nil, cli.Exit(err.Error(), exitUsage)
	}
	return s, cat, nil
}

// exerciseArg is the one NAME argument, looked up.
func exerciseArg(c *cli.Context, cat *exercise.Catalog) (*exercise.Exercise, error) {
	if c.NArg() != 1 {
		return nil, cli.Exit(fmt.Sprintf("usage: labctl exercise %s NAME (see `labctl exercise list`)", c.Command.Name), exitUsage)
	}
	ex, err := cat.Get(c.Args().First())
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	return ex, nil
}

// withExercise opens the session, a run log and the live lab for a command
// that talks to the guests.
func withExercise(c *cli.Context, name string, fn func(*exercise.Env, *exercise.Catalog, *session) error) error {
	s, cat, err := exerciseCatalog(c)
	if err != nil {
		return err
	}
	if err := s.requireVBox(); err != nil {
		return err
	}
	senv, _, logPath, done, err := s.runEnv("exercise-"+name, false)
	if err != nil {
		return err
	}
	defer s.finish(done)
	env := &exercise.Env{
		Plan: s.plan, Profile: senv.Profile, Secrets: senv.Secrets, SSH: senv.SSH,
		Verify: func(ctx context.Context) (steps.VerifyReport, error) { return steps.RunVerify(ctx, senv) },
		Fleet:  fleet.New(s.vb, s.plan), Store: exercise.NewStore(s.plan.StateDir), Out: s.out,
	}
	if exerciseHook != nil {
		exerciseHook(env)
	}
	err = fn(env, cat, s)
	var ec cli.ExitCoder
	if err != nil && !errors.As(err, &ec) {
		return cli.Exit(fmt.Sprintf("%v\nLog: %s", err, logPath), exitFailed)
	}
	return err
}

// exerciseRefusal maps the library's refusals to exit statuses.
func exerciseRefusal(err error) error {
	var (
		active   *exercise.ActiveError
		notReady *exercise.NotReadyError
		profile  *exercise.ProfileError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exercise.ErrNoExercise), errors.As(err, &active), errors.As(err, &profile):
		return cli.Exit(err.Error(), exitUsage)
	case errors.As(err, &notReady):
		var b strings.Builder
		notReady.Report.Print(&b)
		return cli.Exit(b.String()+err.Error(), exitFailed)
	}
	return snapshotRefusal(err)
}

// exerciseConfirm asks on the terminal; without one it refuses.
func exerciseConfirm(in io.Reader, errOut io.Writer, q string) error {
	yes, asked := tty.Confirm(in, errOut, q)
	switch {
	case !asked:
		return cli.Exit("refusing without confirmation: run on a terminal or pass --yes", exitUsage)
	case !yes:
		return cli.Exit("not confirmed: nothing changed", exitFailed)
	}
	return nil
}
