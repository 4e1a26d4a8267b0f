// Package guest runs commands and writes files inside a lab VM, over
// VirtualBox guest control (before the network exists) or SSH, and knows
// each supported guest OS (profiles).
package guest

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
)

// Cmd is a shell script run as root in the guest by /bin/sh.
type Cmd struct {
	Script string // POSIX sh script; secrets never appear here
	Stdin  []byte // secrets go here (or in uploaded 0600 files)
	// Redact lists extra strings to hide from logs and errors (secrets are always hidden).
	Redact []string
	// Fresh, on a read whose answer steers what the caller does next, is
	// what the node prints at this point of a first `up` of a fresh lab,
	// given the commands sent to it before (oldest first). Real executors
	// ignore it; a plan's Recorder answers with it, so the code that reads
	// the answer runs unchanged in a plan. nil = the read prints nothing.
	Fresh func(sent []Cmd) string
}

// Prints is a Fresh answer that does not depend on what was sent before.
func Prints(out string) func([]Cmd) string { return func([]Cmd) string { return out } }

// Result is a finished command.
type Result struct {
	Stdout   string
	Stderr   string
	ExitCode int
}

// File is one file to place in the guest.
type File struct {
	Path    string // absolute path in the guest
	Content []byte
	Mode    fs.FileMode
	Owner   string // "user:group"; empty = root:root
	// Final is where a staged upload ends up once checked (keepalived.conf
	// is uploaded beside itself, tested, then moved); "" = Path.
	Final string
	// Transient: uploaded to be unpacked or run, not a file the node keeps
	// (the WordPress archive); `plan --out` does not write it.
	Transient bool
}

// Kept is where the file's content lives on the node once the step is done.
func (f File) Kept() string {
	if f.Final != "" {
		return f.Final
	}
	return f.Path
}

// Executor runs scripts and uploads files on one guest.
type Executor interface {
	// Run runs the script; a non-zero exit is returned as *ExitError along with the Result.
	Run(ctx context.Context, cmd Cmd) (Result, error)
	// Upload writes f atomically (temp file in the target folder, verified,
	// chmod/chown, rename) and reports whether the content or mode changed.
	Upload(ctx context.Context, f File) (changed bool, err error)
	// String names the executor and node for logs ("ssh root@192.168.1.100").
	String() string
}

// ExitError is a script that ran and exited non-zero.
type ExitError struct {
	Node     string
	Script   string // redacted, first line or so
	ExitCode int
	Stderr   string // redacted
}

// screenLines and screenChars bound how much of a command's own error text
// an error message carries: enough to read the cause on the screen; the
// run log has all of it.
const (
	screenLines = 6
	screenChars = 600
)

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: command exited %d: %s", e.Node, e.ExitCode, e.Script)
	if out := screenText(e.Stderr); out != "" {
		msg += ": " + out
	}
	return msg
}

// screenText is the last lines of a command's error output (where the
// cause usually is), shortened for the screen.
func screenText(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > screenLines {
		lines = append([]string{"…"}, lines[len(lines)-screenLines:]...)
	}
	out := strings.Join(lines, "\n  ")
	if len(out) > screenChars {
		out = "…" + out[len(out)-screenChars:]
	}
	return out
}
