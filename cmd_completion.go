package main

import (
	"fmt"
	"labctl/internal/completion"

	"github.com/urfave/cli/v2"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh, fish or powershell",
		ArgsUsage: "bash|zsh|fish|powershell",
		Description: "bash:       source <(labctl completion bash)\n" +
			"zsh:        labctl completion zsh > \"${fpath[1]}/_labctl\"\n" +
			"fish:       labctl completion fish > ~/.config/fish/completions/labctl.fish\n" +
			"powershell: labctl completion powershell | Out-String | Invoke-Expression",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: labctl completion bash|zsh|fish|powershell", exitUsage)
			}
			script, err := completion.Script(c.Args().First(), c.App.ToFishCompletion)
			if err != nil {
				return cli.Exit(err.Error(), exitUsage)
			}
			_, err = fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}
