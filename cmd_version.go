package main

import (
	"context"
	"fmt"
	"io"
	"labctl/internal/buildinfo"

	"github.com/urfave/cli/v2"

	"labctl/vbox"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print labctl's version and the VirtualBox it would use",
		Action: func(c *cli.Context) error {
			printVersion(c.Context, c.App.Writer, c.String("vboxmanage"))
			return nil
		},
	}
}

// printVersion prints labctl's build and the VirtualBox found (or why none).
func printVersion(ctx context.Context, w io.Writer, vboxFlag string) {
	fmt.Fprintln(w, buildinfo.Read())
	path, err := vbox.Locate(vboxFlag)
	if err != nil {
		fmt.Fprintf(w, "VirtualBox: not found (%v)\n", err)
		return
	}
	v, err := vbox.New(vbox.ExecRunner{Path: path}).Version(ctx)
	if err != nil {
		fmt.Fprintf(w, "VirtualBox: %s does not work: %v\n", path, err)
		return
	}
	fmt.Fprintf(w, "VirtualBox: %s (%s)\n", v.Raw, path)
}
