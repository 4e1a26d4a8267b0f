package main

import (
	"github.com/urfave/cli/v2"
)

// Commands whose implementation lands with the lifecycle work; until then
// they say so plainly instead of pretending.
func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each VM's state, IP, role, group-replication role and services",
		Action: func(c *cli.Context) error {
			return cli.Exit("labctl status is not available in this build yet; use `labctl verify`", 3)
		},
	}
}

func sshCommand() *cli.Command {
	return &cli.Command{
		Name:      "ssh",
		Usage:     "open a shell on a node, or run one command there",
		ArgsUsage: "NODE [-- CMD...]",
		Action: func(c *cli.Context) error {
			return cli.Exit("labctl ssh is not available in this build yet", 3)
		},
	}
}
