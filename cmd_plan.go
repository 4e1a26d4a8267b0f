package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"labctl/guest"
	"labctl/hostkeys"
	"labctl/lab"
	"labctl/redact"
	"labctl/steps"
	"labctl/vbox"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "print every step per node with the VBoxManage calls and guest commands, from the lab alone",
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
// what `up` would run on a lab where no VM exists yet.
func (s *session) runPlan(ctx context.Context, outDir string) error {
	secrets, err := lab.EphemeralSecrets()
	if err != nil {
		return err
	}
	profile, err := guest.ProfileByName(s.plan.Profile)
	if err != nil {
		return err
	}
	hidden := secrets.Values()
	recorders := map[string]*guest.Recorder{}
	recorder := func(n *lab.Node) guest.Executor {
		r, ok := recorders[n.VM]
		if !ok {
			r = guest.NewRecorder(n.VM, hidden...)
			recorders[n.VM] = r
		}
		return r
	}
	env := &steps.Env{
		Plan:          s.plan,
		Secrets:       secrets,
		VBox:          vbox.New(vbox.NewPlanRunner(s.plan.Base.VM, s.plan.Base.Snapshot)),
		Mode:          steps.ModePlan,
		Profile:       profile,
		GuestPassword: "<redacted>",
		SSHPublicKey:  "ssh-ed25519 AAAA<generated-on-first-up> labctl@" + s.plan.Name,
		HostKeys:      hostkeys.New(filepath.Join(s.plan.StateDir, lab.KnownHostsFile)),
		Log:           redact.NewWriter(discard{}, hidden),
		Control:       recorder,
		SSH:           recorder,
	}
	fmt.Fprintf(s.out, "Plan for lab %q from %s (%d nodes, profile %s, network %s, VIP %s)\n\n",
		s.plan.Name, s.plan.File, len(s.plan.Nodes), s.plan.Profile, s.plan.Network, s.plan.VIP)
	r := &steps.Runner{Steps: pipeline(), Mode: steps.ModePlan, Out: s.out, Log: env.Log}
	if _, err := r.Run(ctx, env); err != nil {
		return err
	}
	if outDir == "" {
		return nil
	}
	n := 0
	for node, rec := range recorders {
		for _, f := range rec.Files() {
			dst := filepath.Join(outDir, node, filepath.FromSlash(strings.TrimPrefix(f.Path, "/")))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			mode := f.Mode.Perm()
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(dst, f.Content, mode); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Fprintf(s.out, "\nWrote %d files under %s/<node>/\n", n, outDir)
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
