package steps

// wait-ssh: wait until SSH on each node's static address answers with the
// host key ssh-access pinned (key auth, sudo, a shell).

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// waitSSHCheck bounds the check's one try (the executor re-dials within
// it): a node that does not let us in within it is waited for by Apply,
// which first starts a stopped sshd, rather than retried here for w.probe.
const waitSSHCheck = 5 * time.Second

// Check tries once, briefly. A host-key mismatch is an error, not "not done".
func (w waitSSH) Check(ctx context.Context, env *Env, n *lab.Node) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, min(w.probe, waitSSHCheck))
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
	if err := startStoppedSSHD(ctx, env, n); err != nil {
		return err
	}
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

// sshdStateScript prints the SSH service's state (active, inactive, failed,
// activating...) as systemd sees it.
func sshdStateScript(svc string) string {
	return "systemctl is-active " + guest.Quote(svc) + " || true\n"
}

// startStoppedSSHD starts sshd through guest control when systemd says it
// is stopped (someone stopped it, or it failed): waiting for SSH would
// only time out. A service still starting is left to the wait.
func startStoppedSSHD(ctx context.Context, env *Env, n *lab.Node) error {
	if env.Control == nil || env.Profile == nil || env.Profile.SSHService == "" {
		return nil
	}
	svc := env.Profile.SSHService
	res, err := env.Control(n).Run(ctx, guest.Cmd{Script: sshdStateScript(svc), Fresh: guest.Prints("active\n")})
	if err != nil {
		return nil // guest control is only a shortcut here; the wait below says what is wrong
	}
	switch state := strings.TrimSpace(res.Stdout); state {
	case "inactive", "failed", "deactivating":
		env.Warnf("%s: %s was not running in the guest (%s); starting it through guest control", n.VM, svc, state)
		if _, err := env.Control(n).Run(ctx, guest.Cmd{Script: "systemctl reset-failed " + guest.Quote(svc) + " 2>/dev/null || true\nsystemctl start " + guest.Quote(svc) + "\n"}); err != nil {
			return fmt.Errorf("%s was not running (%s) and starting it failed: %w", svc, state, err)
		}
	}
	return nil
}
