package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Run's exit codes (§9.2), frozen since VirtualBox 4.1.
const (
	exitSignal  = 18
	exitTimeout = 20
)

var stateHuman = map[string]string{
	"poweroff": "powered off", "saved": "saved", "aborted": "aborted", "paused": "paused",
	"aborted-saved": "aborted-saved", "stopping": "stopping", "starting": "starting",
}

func guestctlSpec(name string) (bool, bool) {
	valued := map[string]bool{
		"--username": true, "--passwordfile": true, "--password": true, "--domain": true,
		"--exe": true, "--timeout": true, "--putenv": true, "-E": true,
	}
	flags := map[string]bool{
		"--verbose": true, "-v": true, "--quiet": true, "-q": true, "--unquoted-args": true, "--profile": true,
		"--no-profile": true, "--wait-stdout": true, "--no-wait-stdout": true, "--wait-stderr": true,
		"--no-wait-stderr": true, "--dos2unix": true, "--unix2dos": true,
	}
	if isV61() {
		flags["--ignore-operhaned-processes"] = true
	} else {
		valued["--user"] = true
		valued["--arg0"] = true
		flags["--ignore-orphaned-processes"] = true
	}
	if valued[name] {
		return true, true
	}
	return flags[name], false
}

func cmdGuestControl(a []string) int {
	if len(a) < 2 {
		return syntaxError("guestcontrol", "Not enough parameters", 2)
	}
	vmOp := a[0]
	// Common options may precede the sub-command.
	rest := a[1:]
	var pre []string
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		known, hasValue := guestctlSpec(rest[0])
		if !known && strings.ContainsAny(rest[0], "=:") {
			pre = append(pre, rest[0])
			rest = rest[1:]
			continue
		}
		if !known {
			return syntaxError("guestcontrol", fmt.Sprintf("Unknown option: %s", rest[0]), 2)
		}
		n := 1
		if hasValue {
			n = 2
		}
		if len(rest) < n {
			return syntaxError("guestcontrol", fmt.Sprintf("Unknown option: %s", rest[0]), 2)
		}
		pre = append(pre, rest[:n]...)
		rest = rest[n:]
	}
	if len(rest) == 0 {
		return syntaxError("guestcontrol", "Missing sub-command", 2)
	}
	if rest[0] != "run" {
		if rest[0] == "start" || rest[0] == "copyto" || rest[0] == "copyfrom" || rest[0] == "stat" || rest[0] == "mkdir" || rest[0] == "rm" {
			fmt.Fprintf(os.Stderr, "fakevbox: guestcontrol %s is not implemented\n", rest[0])
			return 1
		}
		errLines(fmt.Sprintf("Unknown sub-command: '%s'", rest[0]))
		return 2
	}
	return guestRun(vmOp, append(pre, rest[1:]...))
}

type runSpec struct {
	user, pwFile, exe, arg0 string
	userSet                 bool
	timeout                 time.Duration
	env                     []string
	operands                []string
	noStdout, noStderr      bool
	verbose                 bool
}

func guestRun(vmOp string, args []string) int {
	opts, ops, bad := getopt(args, guestctlSpec)
	if bad != "" {
		return syntaxError("guestcontrol", fmt.Sprintf("Unknown option: %s", bad), 2)
	}
	var r runSpec
	for _, o := range opts {
		switch o.name {
		case "--username", "--user":
			r.user, r.userSet = o.value, true
		case "--passwordfile":
			r.pwFile = o.value
		case "--exe":
			r.exe = o.value
		case "--arg0":
			r.arg0 = o.value
		case "--timeout":
			ms, err := strconv.ParseUint(o.value, 10, 32)
			if err != nil {
				return syntaxError("guestcontrol", fmt.Sprintf("Invalid timeout value '%s'", o.value), 2)
			}
			r.timeout = time.Duration(ms) * time.Millisecond
		case "--putenv", "-E":
			r.env = append(r.env, o.value)
		case "--no-wait-stdout":
			r.noStdout = true
		case "--wait-stdout":
			r.noStdout = false
		case "--no-wait-stderr":
			r.noStderr = true
		case "--wait-stderr":
			r.noStderr = false
		case "--verbose", "-v":
			r.verbose = true
		case "--no-profile":
			outf("Warning: Deprecated option \"--no-profile\" specified\n")
		case "--dos2unix", "--unix2dos":
			warnLine("Unsupported stdout line ending conversion")
		}
	}
	r.operands = ops
	if r.exe == "" && len(ops) == 0 {
		// Text not in the reference; minimal.
		return syntaxError("guestcontrol", "No command to execute specified!", 2)
	}
	if !r.userSet {
		if u, err := user.Current(); err == nil {
			r.user = u.Username
		}
	}

	// Password: first line of the file, up to the first control character.
	password := ""
	if r.pwFile != "" {
		pw, why, err := readPasswordFile(r.pwFile)
		if why != "" {
			return recordViolation(append([]string{"guestcontrol", vmOp, "run"}, args...), why)
		}
		if err != nil {
			// The reference does not give this text; minimal.
			errLines(fmt.Sprintf("Error reading password file '%s': %v", r.pwFile, err))
			return 1
		}
		password = pw
	}

	var (
		vmUUID string
		code   = -1
	)
	update(func(st *Store, now time.Time) int {
		vm := st.find(vmOp)
		if vm == nil {
			code = notFound(vmOp, "", 1155, "VBoxManageGuestCtrl.cpp")
			return 0
		}
		if vm.State != "running" {
			h := stateHuman[vm.State]
			if h == "" {
				h = vm.State
			}
			errLines(fmt.Sprintf("Machine \"%s\" is not running (currently %s)!", vmOp, h))
			code = 1
			return 0
		}
		if r.verbose {
			outf("Creating guest session as user '%s'...\n", r.user)
			outf("Waiting for guest session to start...\n")
		}
		if !vm.GAUp {
			sessionError("The guest execution service is not ready (yet)")
			code = 1
			return 0
		}
		if pw, ok := vm.Credentials[r.user]; !ok || pw == "" || pw != password {
			sessionError("The specified user was not able to logon on guest")
			code = 1
			return 0
		}
		vmUUID = vm.UUID
		return 0
	})
	if code >= 0 {
		return code
	}
	if r.verbose {
		outf("Successfully started guest session (ID 1)\n")
	}
	code = execGuest(vmUUID, r)
	pickUpGuestIP(vmUUID)
	return code
}

func sessionError(msg string) {
	apiErr{msg: "Waiting for guest process failed: " + msg, code: "VBOX_E_IPRT_ERROR", component: "GuestSessionWrap", iface: "IGuestSession",
		context: "WaitForArray(ComSafeArrayAsInParam(aSessionWaitFlags), 30 * 1000, &enmWaitResult)", line: 770, file: "VBoxManageGuestCtrl.cpp"}.print()
}

// readPasswordFile returns the password, or a violation of the project's
// rule that files holding secrets are 0600.
func readPasswordFile(p string) (pw, violation string, err error) {
	var r io.Reader
	if p == "stdin" {
		r = os.Stdin
	} else {
		fi, err := os.Stat(p)
		if err != nil {
			return "", "", err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Sprintf("password file %s has mode %#o; files holding secrets must be 0600", p, fi.Mode().Perm()), nil
		}
		f, err := os.Open(p)
		if err != nil {
			return "", "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), 511))
	if err != nil {
		return "", "", err
	}
	for i, c := range b {
		if c < 0x20 {
			b = b[:i]
			break
		}
	}
	return string(b), "", nil
}

// execGuest runs the guest program as a host process in the guest's root
// folder and maps its exit like VirtualBox (§9.2).
//
// Guest programs run on the host, so a pipeline pointed at this fake would
// run its guest scripts (hostname, network, machine-id) on the test
// machine itself. Execution is therefore opt-in: only tests that run
// harmless commands set FAKEVBOX_GUEST_EXEC=1 (vboxtest.WithGuestExec).
func execGuest(uuid string, r runSpec) int {
	if os.Getenv("FAKEVBOX_GUEST_EXEC") != "1" {
		fmt.Fprintln(os.Stderr, "fakevbox: guest execution is disabled: this fake would run guest programs on the host; set FAKEVBOX_GUEST_EXEC=1 only in tests that run harmless commands")
		return 1
	}
	image := r.exe
	var argv []string
	switch {
	case r.exe == "":
		image, argv = r.operands[0], append([]string(nil), r.operands...)
		if r.arg0 != "" {
			argv[0] = r.arg0
		}
	case isV61():
		// 6.1: every operand is the guest argv; --exe only names the image.
		argv = append([]string(nil), r.operands...)
		if len(argv) == 0 {
			argv = []string{r.exe}
		}
	default:
		// 7.x: operands follow argv[0], which is --arg0 or the exe path.
		a0 := r.exe
		if r.arg0 != "" {
			a0 = r.arg0
		}
		argv = append([]string{a0}, r.operands...)
	}
	root := guestRoot(uuid)
	path := os.Getenv("PATH")
	guestPath := filepath.Join(root, ".fakeguest", "bin") + string(os.PathListSeparator) +
		filepath.Join(home, "guestbin") + string(os.PathListSeparator) + path
	resolved := image
	if !strings.Contains(image, "/") {
		if p, err := lookPathIn(image, guestPath); err == nil {
			resolved = p
		}
	}
	if fi, err := os.Stat(resolved); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("No such file or directory \"%s\" on guest", image)
		if err == nil {
			msg = fmt.Sprintf("The file \"%s\" is not an executable format on guest", image)
		}
		apiErr{msg: "Waiting for guest process (flags 0x1) failed: " + msg, code: "VBOX_E_IPRT_ERROR", component: "GuestProcessWrap", iface: "IGuestProcess",
			context: "WaitForArray(ComSafeArrayAsInParam(aWaitStartFlags), gctlRunGetRemainingTime(msStart, cMsTimeout), &waitResult)",
			line:    1396, file: "VBoxManageGuestCtrl.cpp"}.print()
		return 1
	}
	ctx := context.Background()
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, resolved)
	cmd.Args = argv
	cmd.Dir = root
	homeDir := filepath.Join(root, "root")
	if r.user != "root" {
		homeDir = filepath.Join(root, "home", r.user)
	}
	cmd.Env = append([]string{
		"PATH=" + guestPath, "HOME=" + homeDir, "USER=" + r.user, "LOGNAME=" + r.user,
		"LANG=C.UTF-8", "FAKEGUEST_ROOT=" + root, "FAKEVBOX_HOME=" + home,
	}, r.env...)
	cmd.Stdin = os.Stdin
	// Guest output passes through unmodified (no CRLF conversion).
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if r.noStdout {
		cmd.Stdout = io.Discard
	}
	if r.noStderr {
		cmd.Stderr = io.Discard
	}
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return exitTimeout
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return exitSignal
		}
		return mapExit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakevbox: running the guest process:", err)
		return 1
	}
	return 0
}

// mapExit is gctlRunCalculateExitCode for a normally terminated process.
func mapExit(n int) int {
	switch {
	case n == 0:
		return 0
	case n >= 1 && n <= 93:
		return n + 32
	default:
		return 126
	}
}

func lookPathIn(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// pickUpGuestIP: a guest command that reconfigures the network writes the
// new address to $FAKEGUEST_ROOT/.fakeguest/net0-ipv4; VBoxService then
// reports it.
func pickUpGuestIP(uuid string) {
	b, err := os.ReadFile(filepath.Join(guestRoot(uuid), ".fakeguest", "net0-ipv4"))
	if err != nil {
		return
	}
	ip := strings.TrimSpace(string(b))
	update(func(st *Store, now time.Time) int {
		if vm := st.find(uuid); vm != nil && ip != "" && ip != vm.GuestIP {
			vm.setGuestIP(ip, now)
		}
		return 0
	})
}
