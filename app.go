package main

import (
	"io"
	"labctl/internal/buildinfo"
	"labctl/internal/cliconv"

	"github.com/urfave/cli/v2"
)

func init() {
	// --version without the -v alias: -v is --verbose.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print labctl's version and the VirtualBox it would use"}
	cli.VersionPrinter = func(c *cli.Context) { printVersion(c.Context, c.App.Writer, c.String("vboxmanage")) }
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "labctl",
		Usage: "build a high-availability WordPress lab in VirtualBox with one command",
		Description: "labctl clones six VMs from one AlmaLinux 8 base VM and turns them into MySQL group\n" +
			"replication behind a keepalived VIP, two WordPress web nodes and an nginx load balancer.\n" +
			"Without --lab it uses ./lab.toml, or the built-in lab when that file is absent.",
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		Version:              buildinfo.Read().Version,
		EnableBashCompletion: true,
		Suggest:              true,
		// Bare `labctl` shows the help; an unknown command is a usage error
		// with a suggestion (urfave/cli would say "No help topic").
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			return cliconv.UnknownCommand(c.App, c.Args().First(), exitUsage)
		},
		// run() prints the error and picks the exit status; without this
		// handler urfave/cli calls os.Exit itself on a cli.Exit error.
		ExitErrHandler: func(*cli.Context, error) {},
		After:          releaseSession,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "lab", Usage: "the lab `FILE` (default ./lab.toml, else the built-in lab)", EnvVars: []string{"LABCTL_LAB"}},
			&cli.StringFlag{Name: "vboxmanage", Usage: "the VBoxManage `PROGRAM` (default: PATH, then the usual folders)", EnvVars: []string{"LABCTL_VBOXMANAGE"}},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "also print every command and its output"},
			&cli.IntFlag{Name: "seat", Usage: "classroom seat `N` (1-254): the lab moved to its own addresses and names, see `labctl seats` (overrides seat in lab.toml)", EnvVars: []string{"LABCTL_SEAT"}},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress `STYLE`: auto, tty (a live line) or plain", EnvVars: []string{"LABCTL_PROGRESS"}},
		},
		Commands: []*cli.Command{
			upCommand(),
			downCommand(),
			haltCommand(),
			snapshotCommand(),
			statusCommand(),
			listCommand(),
			infoCommand(),
			verifyCommand(),
			sshCommand(),
			drillCommand(),
			switchoverCommand(),
			exerciseCommand(),
			planCommand(),
			seatsCommand(),
			baseCommand(),
			versionCommand(),
			completionCommand(),
		},
	}
	cliconv.Apply(app, exitUsage)
	return app
}
