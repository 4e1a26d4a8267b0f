package main

import (
	"github.com/urfave/cli/v2"

	"labctl/fleet"
	"labctl/vbox"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list every labctl lab on this host (from VirtualBox; needs no lab.toml)",
		Description: "Each VM in a /labctl/<lab> VirtualBox group is read: its lab, seat, network mode,\n" +
			"how many of its VMs run, and where its state folder is. Nothing is changed, and no\n" +
			"lab's lock is waited for.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			path, err := vbox.Locate(c.String("vboxmanage"))
			if err != nil {
				return cli.Exit(err.Error(), exitNoVBox)
			}
			labs, err := fleet.Labs(c.Context, vbox.New(vbox.ExecRunner{Path: path}), 0)
			if err != nil {
				return cli.Exit(err.Error(), exitFailed)
			}
			return fleet.WriteLabs(c.App.Writer, labs, c.Bool("json"))
		},
	}
}
