package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"

	"labctl/vbox"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print labctl's version and the VirtualBox it would use",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "labctl %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			path, err := vbox.Locate(c.String("vboxmanage"))
			if err != nil {
				fmt.Fprintf(c.App.Writer, "VirtualBox: not found (%v)\n", err)
				return nil
			}
			v, err := vbox.New(vbox.ExecRunner{Path: path}).Version(c.Context)
			if err != nil {
				fmt.Fprintf(c.App.Writer, "VirtualBox: %s does not work: %v\n", path, err)
				return nil
			}
			fmt.Fprintf(c.App.Writer, "VirtualBox: %s (%s)\n", v.Raw, path)
			return nil
		},
	}
}
