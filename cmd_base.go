package main

import (
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
	"labctl/lab"
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
					return s.baseImport(c, sum)
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
					if c.Bool("json") {
						enc := json.NewEncoder(s.out)
						enc.SetIndent("", "  ")
						if err := enc.Encode(rep); err != nil {
							return err
						}
					} else {
						printBaseReport(s.out, rep)
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

func (s *session) baseImport(c *cli.Context, sum string) error {
	name := c.String("name")
	if name == "" {
		name = s.plan.Base.VM
	}
	dl := c.String("download-dir")
	if dl == "" {
		if d, err := os.UserCacheDir(); err == nil {
			dl = filepath.Join(d, "labctl", "downloads")
		}
	}
	var bar io.Writer
	if f, ok := s.errOut.(*os.File); ok && isTerminal(f) {
		bar = s.errOut
	}
	start := time.Now()
	res, err := base.Import(c.Context, s.vb, base.ImportOptions{
		Source: c.Args().First(), VM: name, Snapshot: s.plan.Base.Snapshot, SHA256: sum,
		DownloadDir: dl, Progress: bar,
		Logf: func(format string, a ...any) { fmt.Fprintf(s.out, "  "+format+"\n", a...) },
	})
	if err != nil {
		return baseRefusal(err)
	}
	fmt.Fprintf(s.out, "Imported %q (%s) into group %s in %s; snapshot %q taken.\n",
		res.VM, res.UUID, res.Group, time.Since(start).Round(time.Second), s.plan.Base.Snapshot)
	want := s.baseWant()
	want.VM = res.UUID
	if res.Settings.Profile != "" {
		want.Profile = res.Settings.Profile
	}
	if rep, err := base.Inspect(c.Context, s.vb, want); err == nil {
		printBaseReport(s.out, rep)
	}
	fmt.Fprintf(s.out, "\nlab.toml settings for this base:\n\n%s", res.Settings.TOML())
	if res.Vagrant {
		fmt.Fprintln(s.out, "# A Vagrant box: log-in vagrant with passwordless sudo; its password is Vagrant's usual one.\n# Put it alone in a 0600 file and set base.password_file to that file.")
	}
	if res.Settings.Profile == "" {
		fmt.Fprintf(s.out, "# profile: the appliance's OS type %q does not tell; set el8, el9 or debian.\n", res.OSType)
	}
	if !c.Bool("write-lab") {
		fmt.Fprintln(s.out, "\n(--write-lab writes them into lab.toml, keeping its comments.)")
		return nil
	}
	path := s.cfg.File
	if path == lab.EmbeddedName {
		path = "lab.toml"
	}
	if err := base.WriteLab(path, defaultLabTOML, res.Settings); err != nil {
		return fmt.Errorf("the base was imported, but lab.toml was not changed: %w", err)
	}
	fmt.Fprintf(s.out, "\nWrote these settings into %s (its comments are kept).\n", path)
	return nil
}

// baseRefusal: a refusal changed nothing and says why; exit status 1.
func baseRefusal(err error) error {
	var r *base.RefusedError
	if errors.As(err, &r) {
		return cli.Exit(r.Reason, exitFailed)
	}
	return err
}

func printBaseReport(w io.Writer, rep *base.Report) {
	mark := map[base.Level]string{base.OK: "✓", base.Warning: "!", base.Problem: "✗"}
	fmt.Fprintf(w, "Base VM %s:\n", rep.VM)
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "  %s %-16s %s\n", mark[f.Level], f.Check, f.Message)
	}
	if rep.OK {
		fmt.Fprintln(w, "The base is ready to clone from.")
	} else {
		fmt.Fprintln(w, "Fix the problems marked ✗ before `labctl up`.")
	}
}
