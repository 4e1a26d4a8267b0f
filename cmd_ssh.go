package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"labctl/guest"
	"labctl/lab"
	"labctl/vbox"
)

// sshAddr is where a node's sshd listens. Tests point it at an sshd of
// their own on 127.0.0.1; nothing else changes it.
var sshAddr = (*lab.Node).SSHAddr

// sshConnectWait bounds how long `labctl ssh` keeps trying to connect
// (a VM still booting refuses connections for a while).
const sshConnectWait = 30 * time.Second

func sshCommand() *cli.Command {
	return &cli.Command{
		Name:      "ssh",
		Usage:     "open a shell on a node, or run one command there",
		ArgsUsage: "NODE [-- CMD...]",
		Description: "NODE is a VM name or a hostname from lab.toml (SQL-ONE or sql-one). labctl logs in\n" +
			"with the lab's own key and accepts only the host key it pinned when it built the node.\n" +
			"With CMD, it runs CMD there and exits with CMD's exit status; without, it opens an\n" +
			"interactive shell (or, when stdin is not a terminal, runs the script read from stdin).",
		Before: needsSession,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return cli.Exit("usage: labctl ssh NODE [-- CMD...]: name the node (e.g. sql-one)", exitUsage)
			}
			nodeName, cmd := args[0], args[1:]
			if len(cmd) > 0 && cmd[0] == "--" {
				cmd = cmd[1:]
			}
			s := sessionOf(c)
			n := s.plan.Nodes.Find(nodeName)
			if n == nil {
				return cli.Exit(fmt.Sprintf("no node %q in lab %q: use one of %s", nodeName, s.plan.Name, strings.Join(s.plan.Nodes.Names(), ", ")), exitUsage)
			}
			if err := s.requireRunning(c.Context, n); err != nil {
				return err
			}
			ex, err := s.nodeSSH(n)
			if err != nil {
				return err
			}
			defer ex.Close()
			return sshExit(ex.Attach(c.Context, s.in, s.out, s.errOut, cmd))
		},
	}
}

// requireRunning says plainly when the node's VM cannot answer, instead of
// a connection timeout. Without VirtualBox the connection attempt decides.
func (s *session) requireRunning(ctx context.Context, n *lab.Node) error {
	if s.vboxErr != nil {
		return nil
	}
	info, err := s.vb.Info(ctx, n.VM)
	switch {
	case isNotFound(err):
		return cli.Exit(fmt.Sprintf("VM %s does not exist: run `labctl up` to build the lab", n.VM), exitFailed)
	case err != nil:
		return fmt.Errorf("%s: %w", n.VM, err)
	case info.State != vbox.StateRunning:
		return cli.Exit(fmt.Sprintf("VM %s is %s: run `labctl up` to start the lab", n.VM, info.State), exitFailed)
	}
	return nil
}

// nodeSSH is an SSH connection to n with the lab's key and pinned host keys.
func (s *session) nodeSSH(n *lab.Node) (*guest.SSH, error) {
	if _, err := os.Stat(filepath.Join(s.plan.StateDir, lab.SSHKeyFile)); err != nil {
		return nil, cli.Exit(fmt.Sprintf("lab %q has no SSH key in its state folder %s: run `labctl up` first", s.plan.Name, s.plan.StateDir), exitFailed)
	}
	st, err := lab.OpenState(s.plan)
	if err != nil {
		return nil, err
	}
	signer, _, err := st.SSHKey()
	if err != nil {
		return nil, err
	}
	ex := guest.NewSSH(n.VM, sshAddr(n), s.plan.SSHUser, signer, st.KnownHostsPath())
	ex.ConnectWait = sshConnectWait
	return ex, nil
}

// sshExit maps Stream's answer to labctl's exit: the command's own status,
// or 255 (as ssh does) when the connection itself failed.
func sshExit(code int, err error) error {
	if err != nil {
		return cli.Exit(err.Error(), 255)
	}
	if code != 0 {
		return cli.Exit("", code)
	}
	return nil
}
