package vbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Result is what one VBoxManage run produced.
type Result struct {
	Stdout   string
	Stderr   string
	ExitCode int // -1 when the process did not exit normally (killed, not started)
}

// Runner runs VBoxManage with args and stdin. It is the process seam: a
// non-nil error means the program could not be run to completion (missing
// binary, context ended); a non-zero exit is reported in Result, and the
// Client decides what counts as failure.
type Runner interface {
	Run(ctx context.Context, stdin []byte, args ...string) (Result, error)
}

// ExecRunner runs a real VBoxManage binary.
type ExecRunner struct {
	Path string // full path of VBoxManage (see Locate)
	// WaitDelay bounds how long Run waits for output pipes after the
	// process group was killed (grandchildren may hold them); default 2s.
	WaitDelay time.Duration
}

// localeEnv pins VBoxManage's own messages and its output code page: with
// plain C, non-ASCII VM or interface names get mangled (IPRT converts to the
// locale's code page), and messages in another language defeat the parser.
var localeEnv = []string{"LC_ALL=C.UTF-8", "LANG=C.UTF-8"}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, stdin []byte, args ...string) (Result, error) {
	if r.Path == "" {
		return Result{ExitCode: -1}, fmt.Errorf("%w: ExecRunner has no VBoxManage path", ErrNotInstalled)
	}
	cmd := exec.CommandContext(ctx, r.Path, args...)
	cmd.Env = childEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	setProcessGroup(cmd)
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		// The process group was killed because the deadline passed or the
		// run was cancelled: whatever it printed is incomplete.
		return res, ctx.Err()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exitErr) && res.ExitCode >= 0:
		return res, nil // non-zero exit: the caller interprets it
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return res, fmt.Errorf("%w: %s: %v", ErrNotInstalled, r.Path, err)
	default:
		return res, err
	}
}

// childEnv is the parent's environment (HOME and VBOX_USER_HOME locate the
// VirtualBox settings) with the locale replaced.
func childEnv(parent []string) []string {
	env := make([]string, 0, len(parent)+len(localeEnv))
	for _, kv := range parent {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, localeEnv...)
}
