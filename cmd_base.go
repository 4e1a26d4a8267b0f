package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/urfave/cli/v2"

	"labctl/base"
	"labctl/internal/tty"
	"labctl/lab"
	"labctl/labenv"
	"labctl/steps"
	"labctl/vbox"
)

var sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func baseCommand() *cli.Command {
	// open takes the session needsSession opened; base commands need
	// VirtualBox, and --verbose shows every call.
	open := func(c *cli.Context) (*session, error) {
		s := sessionOf(c)
		if err := s.requireVBox(); err != nil {
			return nil, err
		}
		if s.verbose {
			s.vb.Trace = vbox.TraceTo(s.errOut)
		}
		return s, nil
	}
	return &cli.Command{
		Name:  "base",
		Usage: "import, export or check the base VM every lab node is cloned from",
		Description: "A classroom flow: the instructor prepares one base VM, checks it with `labctl base check`\n" +
			"and hands out `labctl base export base.ova` with its SHA-256; each student runs\n" +
			"`labctl base import base.ova --sha256 HEX` (a file or an http(s) URL) and then `labctl up`.",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import an .ova, .ovf or Vagrant .box (file or URL) as the lab's base VM",
				ArgsUsage: "FILE|URL",
				Before:    needsSession,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Usage: "call the VM `VM` (default: base.vm of the lab)"},
					&cli.StringFlag{Name: "sha256", Usage: "refuse the file unless its SHA-256 is `HEX`"},
					&cli.BoolFlag{Name: "write-lab", Usage: "write the settings this base needs into lab.toml (comments kept)"},
					&cli.StringFlag{Name: "download-dir", Usage: "save downloads in `DIR` (default: the user cache folder)", EnvVars: []string{"LABCTL_DOWNLOAD_DIR"}},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cli.Exit("usage: labctl base import FILE|URL [--name VM] [--sha256 HEX] [--write-lab]", exitUsage)
					}
					sum := c.String("sha256")
					if sum != "" && !sha256RE.MatchString(sum) {
						return cli.Exit(fmt.Sprintf("--sha256 %q is not 64 hex digits", sum), exitUsage)
					}
					s, err := open(c)
					if err != nil {
						return err
					}
					return s.baseImport(c.Context, c.Args().First(), c.String("name"), sum, c.String("download-dir"), c.Bool("write-lab"))
				},
			},
			{
				Name:      "export",
				Usage:     "export the powered-off base VM as an OVA to hand out, and print its SHA-256",
				ArgsUsage: "FILE.ova",
				Before:    needsSession,
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "replace FILE.ova if it exists"}},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cli.Exit("usage: labctl base export FILE.ova [--force]", exitUsage)
					}
					s, err := open(c)
					if err != nil {
						return err
					}
					start := time.Now()
					res, err := base.Export(c.Context, s.vb, base.ExportOptions{VM: s.plan.Base.VM, File: c.Args().First(), Force: c.Bool("force")})
					if err != nil {
						return baseRefusal(err)
					}
					size := ""
					if st, err := os.Stat(res.File); err == nil {
						size = fmt.Sprintf(" (%.1f MB)", float64(st.Size())/1e6)
					}
					fmt.Fprintf(s.out, "Exported the base VM %q to %s%s in %s.\n", s.plan.Base.VM, res.File, size, time.Since(start).Round(time.Second))
					fmt.Fprintf(s.out, "SHA-256: %s\n(also in %s)\n", res.SHA256, res.SumsFile)
					fmt.Fprintf(s.out, "Hand out the file and this checksum; a student runs:\n  labctl base import %s --sha256 %s\n", filepath.Base(res.File), res.SHA256)
					return nil
				},
			},
			{
				Name:   "check",
				Usage:  "check the base VM: exists, powered off, fits this host's CPU, Guest Additions, OS vs base.profile, linked clones",
				Before: needsSession,
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					s, err := open(c)
					if err != nil {
						return err
					}
					rep, err := base.Inspect(c.Context, s.vb, s.baseWant())
					if err != nil {
						return err
					}
					s.checkLabAddresses(c.Context, rep)
					if c.Bool("json") {
						enc := json.NewEncoder(s.out)
						enc.SetIndent("", "  ")
						if err := enc.Encode(rep); err != nil {
							return err
						}
					} else {
						rep.Print(s.out)
					}
					if !rep.OK {
						return cli.Exit("", exitFailed)
					}
					return nil
				},
			},
		},
	}
}

func (s *session) baseWant() base.Want {
	return base.Want{VM: s.plan.Base.VM, Snapshot: s.plan.Base.Snapshot, Profile: s.plan.Profile, File: s.plan.File}
}

func (s *session) baseImport(ctx context.Context, src, name, sum, downloadDir string, writeLab bool) error {
	if name == "" {
		name = s.plan.Base.VM
	}
	if downloadDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			downloadDir = filepath.Join(d, "labctl", "downloads")
		}
	}
	var bar io.Writer
	if tty.Is(s.errOut) {
		bar = s.errOut
	}
	labFile := s.cfg.File
	if labFile == lab.EmbeddedName {
		labFile = "lab.toml"
	}
	return baseRefusal(base.ImportRun{
		Options: base.ImportOptions{
			Source: src, VM: name, Snapshot: s.plan.Base.Snapshot, SHA256: sum,
			DownloadDir: downloadDir, Progress: bar,
			Logf: func(format string, a ...any) { fmt.Fprintf(s.out, "  "+format+"\n", a...) },
		},
		Want: s.baseWant(), LabFile: labFile, DefaultLab: defaultLabTOML, WriteLab: writeLab, Out: s.out,
	}.Run(ctx, s.vb))
}

// baseRefusal: a refusal changed nothing and says why; exit status 1.
func baseRefusal(err error) error {
	var r *base.RefusedError
	if errors.As(err, &r) {
		return cli.Exit(r.Reason, exitFailed)
	}
	return err
}

// checkLabAddresses adds the probe of the lab's addresses from this
// computer (where it is on the lab network) to `base check`'s findings.
func (s *session) checkLabAddresses(ctx context.Context, rep *base.Report) {
	if s.vb == nil || labenv.HostProbe == nil {
		return
	}
	hc := steps.HostAddressCheck(ctx, s.plan, s.vb, labenv.HostProbe)
	for _, c := range hc.Clashes {
		rep.Add("lab addresses", base.Problem, "%s", c.Error())
	}
	for _, w := range hc.Recent {
		rep.Add("lab addresses", base.Warning, "%s", w)
	}
	if len(hc.Clashes) == 0 && len(hc.Recent) == 0 {
		rep.Add("lab addresses", base.OK, "%s", hc.Summary)
	}
}
