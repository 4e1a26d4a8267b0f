package steps

// wait-ssh: wait until SSH on each node's static address answers with the
// host key ssh-access pinned (key auth, sudo, a shell).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"labctl/guest"
	"labctl/lab"
)

// WaitSSH is the "wait-ssh" step.
func WaitSSH() Step { return waitSSH{timeout: 3 * time.Minute, probe: 15 * time.Second} }

type waitSSH struct{ timeout, probe time.Duration }

func (waitSSH) Name() string                  { return "wait-ssh" }
func (waitSSH) Title() string                 { return "Waiting for SSH with the pinned host keys" }
func (waitSSH) Needs() []string               { return []string{"ssh-access"} }
func (waitSSH) Targets(p *lab.Plan) lab.Nodes { return p.Nodes }

// gaSSHProbe is the command proving SSH works end to end (key, sudo, shell).
const gaSSHProbe = "true"

// Check tries once, briefly. A host-key mismatch is an error, not "not done".
func (w waitSSH) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, w.probe)
	defer cancel()
	_, err := env.SSH(n).Run(ctx, guest.Cmd{Script: gaSSHProbe})
	var hk *guest.HostKeyError
	switch {
	case errors.As(err, &hk):
		return Status{}, err
	case err != nil:
		return Status{Why: fmt.Sprintf("SSH on %s not answering yet: %v", n.IP, err)}, nil
	}
	return Status{Done: true}, nil
}

// Apply waits (bounded) for sshd; the executor re-dials with back-off, so
// one probe spans the wait.
func (w waitSSH) Apply(ctx context.Context, env *Env, n *lab.Node) error {
	var last error
	what := fmt.Sprintf("SSH on %s:22 to answer with the pinned host key", n.IP)
	err := env.Wait(ctx, what, w.timeout, w.probe, func(ctx context.Context) (bool, error) {
		_, last = env.SSH(n).Run(ctx, guest.Cmd{Script: gaSSHProbe})
		return last == nil, last
	})
	if err != nil && last != nil {
		err = last
	}
	if err != nil {
		return fmt.Errorf("SSH on %s:22 did not come up within %s: %w", n.IP, w.timeout, err)
	}
	return nil
}
