package vbox

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// Sentinels for errors.Is. A *Error wraps at most one of them.
var (
	// ErrNotInstalled: no VBoxManage could be found or started.
	ErrNotInstalled = errors.New("VirtualBox is not installed")
	// ErrUnusable: VirtualBox is installed but its kernel driver or service does not work.
	ErrUnusable = errors.New("VirtualBox is installed but not usable")
	// ErrUnsupported: the VirtualBox version is older than 6.1.
	ErrUnsupported = errors.New("unsupported VirtualBox version")
	// ErrNotFound: no registered VM by that name or UUID.
	ErrNotFound = errors.New("VM not found")
	// ErrSnapshotNotFound: the VM has no snapshot by that name or UUID.
	ErrSnapshotNotFound = errors.New("snapshot not found")
	// ErrTransient: a session lock or an object still (un)initialising; retrying later helps.
	ErrTransient = errors.New("VirtualBox object busy")
	// ErrInvalidState: the operation is not allowed in the VM's current state.
	ErrInvalidState = errors.New("operation not allowed in the VM's state")
	// ErrNotRunning: controlvm or guestcontrol on a VM that is not running.
	ErrNotRunning = errors.New("VM not running")
	// ErrGuestNotReady: the Guest Additions' execution service did not answer (yet).
	ErrGuestNotReady = errors.New("guest additions not ready")
	// ErrAuth: the guest rejected the guest-control credentials.
	ErrAuth = errors.New("guest logon failed")
	// ErrGuestTimeout: the guest process ran longer than its --timeout.
	ErrGuestTimeout = errors.New("guest process timed out")
	// ErrGuestKilled: the guest process was killed by a signal or ended abnormally.
	ErrGuestKilled = errors.New("guest process killed")
)

// Error is a failed VBoxManage run. Args never hold secrets: passwords go
// through --passwordfile.
type Error struct {
	Args   []string
	Result Result
	Err    error // a sentinel above, a context error, or the runner's error; may be nil
}

// Error reads like "VBoxManage modifyvm SQL-ONE: The machine 'SQL-ONE' is
// already locked for a session (or being unlocked) (VBOX_E_INVALID_OBJECT_STATE)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("VBoxManage")
	if c := shortCommand(e.Args); c != "" {
		b.WriteString(" " + c)
	}
	b.WriteString(": ")
	msg := e.Message()
	// Sentinels are not repeated: VirtualBox's own words say it better.
	if e.Err != nil && !isSentinel(e.Err) {
		if msg == "" {
			msg = e.Err.Error()
		} else {
			msg += ": " + e.Err.Error()
		}
	}
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = "failed with exit code " + strconv.Itoa(e.Result.ExitCode)
	}
	b.WriteString(msg)
	if code := e.Code(); code != "" {
		b.WriteString(" (" + code + ")")
	}
	return b.String()
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrNotInstalled, ErrUnusable, ErrUnsupported, ErrNotFound, ErrSnapshotNotFound,
		ErrTransient, ErrInvalidState, ErrNotRunning, ErrGuestNotReady, ErrAuth, ErrGuestTimeout, ErrGuestKilled} {
		if err == s {
			return true
		}
	}
	return false
}

// Unwrap lets errors.Is see the sentinel or cause.
func (e *Error) Unwrap() error { return e.Err }

// Message is VBoxManage's own error text: the `error:` lines without the
// program prefix, the Details/Context lines and separators, joined by "; ".
// For failures without error lines it is the last line of output.
func (e *Error) Message() string {
	d := diagnose(e.Result)
	if len(d.messages) > 0 {
		return strings.Join(d.messages, "; ")
	}
	if e.Result.ExitCode <= 0 || len(e.Args) > 0 && e.Args[0] == "guestcontrol" {
		// Success, or killed/not started: the output is no verdict. And
		// guestcontrol output is the guest's, not VBoxManage's words.
		return ""
	}
	// e.g. "This machine does not have any snapshots" (stdout, exit 1).
	for _, out := range []string{e.Result.Stderr, e.Result.Stdout} {
		lines := splitLines(out)
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "0%") {
				return l
			}
		}
	}
	return ""
}

// Code is the status name from the Details line (e.g. VBOX_E_OBJECT_NOT_FOUND), or "".
func (e *Error) Code() string { return diagnose(e.Result).code }

// shortCommand names the command without its long option tail: the
// sub-command and its operands up to the first option (at least one word).
func shortCommand(args []string) string {
	n := 0
	for n < len(args) && n < 4 {
		if n > 0 && strings.HasPrefix(args[n], "-") {
			break
		}
		n++
	}
	return strings.Join(args[:n], " ")
}

// diagnosis is what the stderr of a run says.
type diagnosis struct {
	hasError bool     // at least one "<prog>: error:" line
	messages []string // error text lines, without Details/Context/separators
	code     string   // e.g. VBOX_E_INVALID_OBJECT_STATE
	hex      string   // e.g. 80bb0007 (lower case)
	context  string   // the Context: line text
}

var (
	// "VBoxManage: error: " or "VBoxManage.exe: error: " (the prefix is the
	// executable's file name, so accept any spelling of it).
	errorLineRE = regexp.MustCompile(`(?i)^\S*vboxmanage\S*: error: ?(.*)$`)
	detailsRE   = regexp.MustCompile(`(?i)\bcode ([A-Z][A-Z0-9_]*) \(0x([0-9a-fA-F]{8})\)`)
)

func diagnose(r Result) diagnosis {
	var d diagnosis
	for _, line := range splitLines(r.Stderr) {
		m := errorLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d.hasError = true
		text := strings.TrimSpace(m[1])
		switch {
		case strings.HasPrefix(text, "Details: "):
			if c := detailsRE.FindStringSubmatch(text); c != nil && d.code == "" {
				d.code, d.hex = c[1], strings.ToLower(c[2])
			}
		case strings.HasPrefix(text, "Context: "):
			if d.context == "" {
				d.context = strings.TrimPrefix(text, "Context: ")
			}
		case text == "--------" || text == "":
		case strings.HasPrefix(text, "Code ") && strings.Contains(text, "(extended info not available)"):
			// "Code E_FAIL (0x80004005) - Unspecified error (extended info not available)"
			if c := detailsRE.FindStringSubmatch(text); c != nil && d.code == "" {
				d.code, d.hex = c[1], strings.ToLower(c[2])
			}
			d.messages = append(d.messages, text)
		default:
			d.messages = append(d.messages, text)
		}
	}
	return d
}

// failed reports whether a run failed: a non-zero exit, or an error line on
// stderr even with exit 0 (older releases exit 0 on some fatal errors).
func failed(r Result) bool {
	return r.ExitCode != 0 || diagnose(r).hasError
}

// classify maps a failed run to a sentinel, by status code first and by
// English text only where VirtualBox gives no distinct code.
func classify(r Result) error {
	d := diagnose(r)
	msg := strings.Join(d.messages, "\n")
	switch {
	case d.hex == "80bb0001" || d.code == "VBOX_E_OBJECT_NOT_FOUND":
		if strings.Contains(d.context, "Snapshot") || strings.Contains(strings.ToLower(msg), "snapshot") {
			return ErrSnapshotNotFound
		}
		return ErrNotFound
	case strings.Contains(msg, "Could not find a registered machine"):
		return ErrNotFound
	case d.hex == "80bb0007" || d.code == "VBOX_E_INVALID_OBJECT_STATE":
		// Session locks. A snapshot with two children shares the code but
		// will never succeed, so it is not worth retrying.
		if strings.Contains(msg, "child snapshots") {
			return ErrInvalidState
		}
		return ErrTransient
	case strings.Contains(msg, "The object is not ready"):
		return ErrTransient
	case strings.Contains(msg, "is not currently running") || strings.Contains(msg, "is not running (currently"):
		return ErrNotRunning
	case strings.Contains(msg, "not able to logon") || strings.Contains(msg, "is restricted and can't be used to logon"):
		return ErrAuth
	case strings.Contains(msg, "is not ready (yet)") || strings.Contains(msg, "guest execution service is not available") ||
		strings.Contains(msg, "did not respond within time") || strings.Contains(msg, "Error starting guest session") ||
		strings.Contains(msg, "VMM device is not available"):
		return ErrGuestNotReady
	case d.hex == "80bb0002" || d.code == "VBOX_E_INVALID_VM_STATE":
		return ErrInvalidState
	case strings.Contains(msg, "Failed to create the VirtualBox object") || strings.Contains(msg, "Failed to initialize COM"):
		return ErrUnusable
	}
	return nil
}

// splitLines splits on \n and drops the \r of CRLF output (Windows hosts).
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(strings.TrimRight(s, "\r\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}
