// Package cliconv gives a urfave/cli app the conventions labctl documents:
// every usage error exits with one status, an unknown command or
// subcommand is named with the closest one, and a command group without a
// subcommand shows its help.
package cliconv

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Apply sets the conventions on app and all its commands; usage is the
// exit status of a usage error.
func Apply(app *cli.App, usage int) {
	app.OnUsageError = usageError(usage)
	apply(app.Commands, usage)
}

func apply(cmds []*cli.Command, usage int) {
	for _, cmd := range cmds {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = usageError(usage)
		}
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			group := cmd
			cmd.Action = func(c *cli.Context) error {
				if c.NArg() == 0 {
					return cli.ShowSubcommandHelp(c)
				}
				name := c.Args().First()
				msg := fmt.Sprintf("%q is not a %s subcommand", name, group.Name) + suggest(group.Subcommands, name)
				return cli.Exit(msg+fmt.Sprintf(" (%s %s --help lists them)", c.App.Name, group.Name), usage)
			}
		}
		apply(cmd.Subcommands, usage)
	}
}

// UnknownCommand says name is no command of app, with the closest one.
func UnknownCommand(app *cli.App, name string, usage int) error {
	msg := fmt.Sprintf("%q is not a %s command", name, app.Name) + suggest(app.Commands, name)
	return cli.Exit(msg+fmt.Sprintf(" (%s --help lists them)", app.Name), usage)
}

// suggest is ". Did you mean \"up\"?" when a command is close, else "".
func suggest(cmds []*cli.Command, name string) string {
	if cli.SuggestCommand == nil {
		return ""
	}
	if s := cli.SuggestCommand(cmds, name); s != "" {
		return ". " + s
	}
	return ""
}

// usageError makes every flag or argument error exit with usage.
func usageError(usage int) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		return cli.Exit(fmt.Sprintf("%v (see %s %s--help)", err, c.App.Name, commandPath(c)), usage)
	}
}

func commandPath(c *cli.Context) string {
	if c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name {
		return ""
	}
	return c.Command.FullName() + " "
}
