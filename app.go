package main

import (
	"fmt"
	"io"
	"labctl/internal/buildinfo"

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
			return unknownCommand(c.App, c.Args().First())
		},
		OnUsageError: usageError,
		// run() prints the error and picks the exit status; without this
		// handler urfave/cli calls os.Exit itself on a cli.Exit error.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "lab", Usage: "read the lab from `FILE` (default: ./lab.toml, else the built-in lab)", EnvVars: []string{"LABCTL_LAB"}},
			&cli.StringFlag{Name: "vboxmanage", Usage: "run `PROGRAM` as VBoxManage (default: found on PATH or in the usual install folders)", EnvVars: []string{"LABCTL_VBOXMANAGE"}},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "also print every command and its output"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "how to show progress: `auto` (a live line on a terminal unless TERM=dumb), tty or plain", EnvVars: []string{"LABCTL_PROGRESS"}},
		},
		Commands: []*cli.Command{
			upCommand(),
			downCommand(),
			haltCommand(),
			snapshotCommand(),
			statusCommand(),
			infoCommand(),
			verifyCommand(),
			sshCommand(),
			drillCommand(),
			exerciseCommand(),
			planCommand(),
			versionCommand(),
			completionCommand(),
		},
	}
	conventions(app.Commands)
	return app
}

// conventions gives every command the same usage-error exit status and
// every command group an answer for an unknown subcommand.
func conventions(cmds []*cli.Command) {
	for _, cmd := range cmds {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = usageError
		}
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			group := cmd
			cmd.Action = func(c *cli.Context) error {
				if c.NArg() == 0 {
					return cli.ShowSubcommandHelp(c)
				}
				name := c.Args().First()
				msg := fmt.Sprintf("%q is not a %s subcommand", name, group.Name)
				if cli.SuggestCommand != nil {
					if s := cli.SuggestCommand(group.Subcommands, name); s != "" {
						msg += ". " + s
					}
				}
				return cli.Exit(msg+fmt.Sprintf(" (labctl %s --help lists them)", group.Name), exitUsage)
			}
		}
		conventions(cmd.Subcommands)
	}
}

// unknownCommand says so, with the closest command when one is close.
func unknownCommand(app *cli.App, name string) error {
	msg := fmt.Sprintf("%q is not a labctl command", name)
	if cli.SuggestCommand != nil {
		if s := cli.SuggestCommand(app.Commands, name); s != "" {
			msg += ". " + s // "Did you mean \"up\"?"
		}
	}
	return cli.Exit(msg+" (labctl --help lists them)", exitUsage)
}

// usageError makes every flag or argument error exit 2, as documented.
func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(fmt.Sprintf("%v (see labctl %s--help)", err, commandPath(c)), exitUsage)
}

func commandPath(c *cli.Context) string {
	if c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name {
		return ""
	}
	return c.Command.FullName() + " "
}
