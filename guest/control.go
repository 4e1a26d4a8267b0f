package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"labctl/redact"
	"labctl/vbox"
)

// Control runs scripts through VirtualBox guest control (`guestcontrol
// run`), which needs no guest network: the channel for setting up the
// network itself. The password travels only inside vbox.Credentials, which
// the vbox client hands to VBoxManage through --passwordfile.
type Control struct {
	API  vbox.API
	VM   string           // VirtualBox VM name
	Cred vbox.Credentials // the base image's account (usually root)
	// Timeout bounds one command when ctx has no deadline (default 10m);
	// it becomes --timeout so the guest kills a runaway process itself.
	Timeout time.Duration
	Redact  []string  // secrets to hide in logs and errors (the password always is)
	Log     io.Writer // optional: every command and its output, redacted
	// Base and PasswordFrom name the base VM and where the password came
	// from ("the password file /x", "the password typed at the prompt"),
	// so a failed logon says what to fix.
	Base, PasswordFrom string
}

// LogonError is a guest-control logon refused with the lab's credentials:
// the password (or account) does not match the base VM the clones come from.
// Its text is the same on every node but for the node's name, so a run
// failing on all six can say it once.
type LogonError struct {
	VM, Base, User, From string
	Err                  error
}

func (e *LogonError) Error() string {
	from := e.From
	if from == "" {
		from = "the password labctl was given"
	}
	return fmt.Sprintf("%s: VirtualBox guest control refused the logon as %q: %s is not that account's password in the base VM %q (every clone has the base VM's accounts); fix it there, or in base.user/base.password_file in lab.toml",
		e.VM, e.User, from, e.Base)
}

func (e *LogonError) Unwrap() error { return e.Err }

// NewControl returns a guest-control executor for vm. secrets are hidden
// from logs and errors.
func NewControl(api vbox.API, vm string, cred vbox.Credentials, secrets ...string) *Control {
	return &Control{API: api, VM: vm, Cred: cred, Redact: secrets}
}

var _ Executor = (*Control)(nil)

// String names the executor for logs.
func (c *Control) String() string { return "guestcontrol " + c.Cred.User + "@" + c.VM }

func (c *Control) secrets(cmd Cmd) []string {
	out := append([]string{c.Cred.Password}, c.Redact...)
	return append(out, cmd.Redact...)
}

func (c *Control) timeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		d := time.Until(dl)
		if d < time.Second {
			d = time.Second
		}
		return d
	}
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Minute
}

// Run runs cmd.Script as root by /bin/sh, stdin = cmd.Stdin.
func (c *Control) Run(ctx context.Context, cmd Cmd) (Result, error) {
	secrets := c.secrets(cmd)
	args, stdin := loaderArgs(cmd, "")
	exe := "/bin/sh"
	if c.Cred.User != "" && c.Cred.User != "root" {
		// The base account must have NOPASSWD sudo; -n fails instead of prompting.
		args = append([]string{"-n", "--", "/bin/sh"}, args...)
		exe = "/usr/bin/sudo"
	}
	logCmd(c.Log, c.VM, cmd.Script, secrets)
	r, err := c.API.GuestRun(ctx, c.VM, c.Cred, c.timeout(ctx), stdin, exe, args...)
	res := Result{
		Stdout:   string(r.Stdout),
		Stderr:   string(r.Stderr),
		ExitCode: r.ExitCode,
	}
	logResult(c.Log, c.VM, res, secrets)
	if errors.Is(err, vbox.ErrAuth) {
		return res, &LogonError{VM: c.VM, Base: c.Base, User: c.Cred.User, From: c.PasswordFrom, Err: err}
	}
	if err != nil {
		return res, fmt.Errorf("%s: guest control: %s: %w", c.VM, redact.String(firstLine(cmd.Script), secrets...), err)
	}
	if res.ExitCode != 0 {
		return res, &ExitError{
			Node:     c.VM,
			Script:   redact.String(firstLine(cmd.Script), secrets...),
			ExitCode: res.ExitCode,
			Stderr:   redact.String(trimOutput(errorOutput(res)), secrets...),
		}
	}
	return res, nil
}

// Upload places f atomically; see UploadScript.
func (c *Control) Upload(ctx context.Context, f File) (bool, error) {
	script, err := UploadScript(f)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.VM, err)
	}
	res, err := c.Run(ctx, Cmd{Script: script, Stdin: f.Content})
	if err != nil {
		return false, err
	}
	changed, err := uploadResult(res.Stdout)
	if err != nil {
		return false, fmt.Errorf("%s: %s: %w", c.VM, f.Path, err)
	}
	return changed, nil
}
