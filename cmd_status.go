package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"labctl/fleet"
	"labctl/guest"
	"labctl/lab"
	"labctl/labstatus"
)

// statusVMTimeout bounds one node's VBoxManage reads.
const statusVMTimeout = 10 * time.Second

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each VM's state, IP, role, group-replication role and services",
		Description: "Read-only. VM states come from VirtualBox; the rest from one short SSH probe per\n" +
			"running node, all at once. A stopped or missing VM is shown as such, not as an error;\n" +
			"a node that does not answer within 1.5 s is shown as unreachable.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if err := s.requireVBox(); err != nil {
				return err
			}
			st := s.labStatus(c.Context)
			if c.Bool("json") {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			st.Print(s.out)
			return nil
		},
	}
}

// labStatus reads the lab's status (see labstatus.Read).
func (s *session) labStatus(ctx context.Context) *labstatus.Report {
	profile, perr := guest.ProfileByName(s.plan.Profile)
	sshFor, closeAll, whyNoSSH := s.statusSSH()
	defer closeAll()
	return labstatus.Read(ctx, labstatus.Options{
		Plan: s.plan, Profile: profile, ProfileErr: perr,
		VM: s.statusVM, SSH: sshFor, NoSSH: whyNoSSH,
	})
}

// statusVM fills the VirtualBox side of ns.
func (s *session) statusVM(ctx context.Context, n *lab.Node, ns *labstatus.Node) {
	ctx, cancel := context.WithTimeout(ctx, statusVMTimeout)
	defer cancel()
	seen, err := fleet.New(s.vb, s.plan).Look(ctx, n)
	switch {
	case err != nil:
		ns.State, ns.Problem = labstatus.VMReadError, err.Error()
	case !seen.Found:
		ns.State = labstatus.VMMissing
	case !seen.Verdict.Ours():
		ns.State = labstatus.VMNotInLab
		ns.Problem = fmt.Sprintf("a VM named %s exists but is not part of lab %q (%s): labctl leaves it alone", n.VM, s.plan.Name, seen.Verdict.Why())
	default:
		ns.State = string(seen.State)
	}
}

// statusSSH gives the SSH executors of the lab without creating its state:
// a lab never built has no key to log in with, and status must not make one.
func (s *session) statusSSH() (sshFor func(*lab.Node) guest.Executor, closeAll func(), whyNot string) {
	closeAll = func() {}
	if _, err := os.Stat(s.plan.StateDir); err != nil {
		return nil, closeAll, fmt.Sprintf("no lab state folder %s (labctl up creates it with the lab's SSH key)", s.plan.StateDir)
	}
	st, err := lab.OpenState(s.plan)
	if err != nil {
		return nil, closeAll, err.Error()
	}
	env, _, err := s.liveEnv(st, discard{}) // status closes what it used itself
	if err != nil {
		return nil, closeAll, err.Error()
	}
	var mu sync.Mutex
	used := map[guest.Executor]bool{}
	sshFor = func(n *lab.Node) guest.Executor {
		ex := env.SSH(n)
		mu.Lock()
		used[ex] = true
		mu.Unlock()
		return ex
	}
	closeAll = func() {
		for ex := range used {
			if c, ok := ex.(io.Closer); ok {
				c.Close()
			}
		}
	}
	return sshFor, closeAll, ""
}
