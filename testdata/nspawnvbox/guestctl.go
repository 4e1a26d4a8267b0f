package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// VirtualBox's guestcontrol run exit codes (§9.2).
const (
	exitKilled   = 18
	exitAbnormal = 19
	exitTimeout  = 20
	exitInterrpt = 22
)

var commonWithValue = []string{"--username", "--user", "--password", "--passwordfile", "--domain"}

// cmdGuestControl: guestcontrol VM [common] run|copyto|stat [opts] [--] ...
func cmdGuestControl(s *store, args []string) error {
	if len(args) < 2 {
		return syntaxError("No sub-command specified!")
	}
	ref := args[0]
	// Common options may come before the sub-command.
	var pre []string
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		pre = append(pre, a)
		for _, o := range commonWithValue {
			if a == o && i+1 < len(args) {
				i++
				pre = append(pre, args[i])
			}
		}
	}
	if i >= len(args) {
		return syntaxError("No sub-command specified!")
	}
	sub, rest := args[i], append(pre, args[i+1:]...)
	switch sub {
	case "run":
		return guestRun(s, ref, rest)
	case "copyto", "cp":
		return guestCopyTo(s, ref, rest)
	case "stat":
		return guestStat(s, ref, rest)
	}
	return syntaxError("Unknown sub-command: '%s'", sub)
}

// guestSession does what opening a guest session does: the VM must run, the
// Guest Additions must be up, and the credentials must log on.
func guestSession(s *store, ref string, p parsed) (*VM, *Runtime, passwdEntry, error) {
	var pw passwdEntry
	vm, err := s.mustFind(ref, `"FindMachine(Bstr(pCtx->pszVmNameOrUuid).raw(), pCtx->pMachine.asOutParam())" at line 590 of file VBoxManageGuestCtrl.cpp`)
	if err != nil {
		return nil, nil, pw, err
	}
	st := s.vmState(vm)
	if st != "running" {
		errorf("Machine \"%s\" is not running (currently %s)!", ref, humanState(st))
		return nil, nil, pw, exitErr{1}
	}
	rt, _ := s.runtime(vm)
	sessionErr := func(msg string) error {
		return apiError("Waiting for guest process failed: "+msg, codeIPRT, "GuestSessionWrap", "IGuestSession",
			`"WaitForArray(ComSafeArrayAsInParam(aSessionWaitFlags), 30 * 1000, &enmWaitResult)" at line 770 of file VBoxManageGuestCtrl.cpp`)
	}
	if runLevel(rt) < 2 {
		return nil, nil, pw, sessionErr("The guest execution service is not ready (yet)")
	}
	user, _ := p.get("--username")
	if u, ok := p.get("--user"); ok {
		user = u
	}
	if user == "" {
		user = os.Getenv("USER")
	}
	password, havePW := p.get("--password")
	if f, ok := p.get("--passwordfile"); ok {
		pwd, err := readPasswordFile(f)
		if err != nil {
			errorf("%v", err)
			return nil, nil, pw, exitErr{1}
		}
		password, havePW = pwd, true
	}
	if !havePW || !checkCredentials(s, user, password) {
		return nil, nil, pw, sessionErr("The specified user was not able to logon on guest")
	}
	pw, ok := guestUser(rt, user)
	if !ok {
		return nil, nil, pw, sessionErr("The specified user was not able to logon on guest")
	}
	return vm, rt, pw, nil
}

func humanState(st string) string {
	switch st {
	case "poweroff":
		return "powered off"
	case "aborted":
		return "aborted"
	}
	return st
}

// readPasswordFile mimics VirtualBox: the first line, up to the first control character.
func readPasswordFile(name string) (string, error) {
	var r io.Reader
	if name == "stdin" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			//lint:ignore ST1005 VirtualBox's own wording
			return "", fmt.Errorf("Cannot open password file '%s' (%v)", name, err)
		}
		defer f.Close()
		r = f
	}
	buf := make([]byte, 512)
	n, _ := io.ReadFull(r, buf)
	pw := buf[:n]
	for i, c := range pw {
		if c < 0x20 {
			pw = pw[:i]
			break
		}
	}
	return string(pw), nil
}

// checkCredentials compares against NSPAWNVBOX_HOME/credentials ("user:password" lines, 0600).
func checkCredentials(s *store, user, password string) bool {
	f, err := os.Open(filepath.Join(s.home, "credentials"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		u, p, ok := strings.Cut(sc.Text(), ":")
		if ok && u == user && p == password && p != "" {
			return true
		}
	}
	return false
}

type passwdEntry struct {
	Name, Home, Shell string
	UID, GID          int
}

// guestUser reads the account from the guest's /etc/passwd.
func guestUser(rt *Runtime, user string) (passwdEntry, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(rt.InitPID), "root", "etc", "passwd"))
	if err != nil {
		return passwdEntry{}, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 7 && f[0] == user {
			uid, _ := strconv.Atoi(f[2])
			gid, _ := strconv.Atoi(f[3])
			return passwdEntry{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]}, true
		}
	}
	return passwdEntry{}, false
}

// guestArgv wraps argv so it runs inside the machine as the user, with a
// clean login-like environment, in the machine's cgroup.
func guestArgv(pw passwdEntry, env []string, argv []string) []string {
	e := []string{"/usr/bin/env", "-i",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + pw.Home, "USER=" + pw.Name, "LOGNAME=" + pw.Name, "SHELL=" + pw.Shell}
	e = append(e, env...)
	e = append(e, argv...)
	if pw.UID == 0 {
		return e
	}
	return append([]string{"/usr/bin/setpriv", "--reuid=" + strconv.Itoa(pw.UID), "--regid=" + strconv.Itoa(pw.GID), "--init-groups", "--"}, e...)
}

func guestCmd(ctx context.Context, rt *Runtime, argv []string) (*exec.Cmd, func(), error) {
	cmd := nsenterCmd(ctx, rt, argv...)
	cleanup := func() {}
	// Run in the machine's cgroup, like a process VBoxService starts.
	cgDir := filepath.Join(rt.Cgroup, "vboxservice")
	if err := os.MkdirAll(cgDir, 0o755); err == nil {
		if cg, err := os.Open(cgDir); err == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: int(cg.Fd())}
			cleanup = func() { cg.Close() }
		}
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd, cleanup, nil
}

func guestRun(s *store, ref string, args []string) error {
	with := append([]string{"--exe", "--arg0", "--timeout", "--putenv", "-E", "--cwd"}, commonWithValue...)
	p, err := getopt{
		withValue: set(with...),
		flags: set("--verbose", "-v", "--quiet", "-q", "--unquoted-args", "--ignore-orphaned-processes",
			"--profile", "--no-profile", "--wait-stdout", "--no-wait-stdout", "--wait-stderr", "--no-wait-stderr",
			"--dos2unix", "--unix2dos"),
	}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	operands := append(p.operands, p.afterDD...)
	exe, haveExe := p.get("--exe")
	var argv []string
	if haveExe {
		// 7.x: operands are the arguments after argv[0].
		argv = append([]string{exe}, operands...)
	} else {
		if len(operands) == 0 {
			return syntaxError("No command to execute specified!")
		}
		exe, argv = operands[0], operands
	}
	var timeout time.Duration
	if t, ok := p.get("--timeout"); ok {
		ms, err := strconv.Atoi(t)
		if err != nil || ms < 0 {
			return syntaxError("Invalid timeout value '%s'", t)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	var env []string
	for _, o := range p.opts {
		if o.k == "--putenv" || o.k == "-E" {
			env = append(env, o.v)
		}
	}
	_, noOut := p.get("--no-wait-stdout")
	_, noErr := p.get("--no-wait-stderr")

	_, rt, pw, err := guestSession(s, ref, p)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(exe, "/") {
		errorf("Waiting for guest process (flags 0x1) failed: No such file or directory \"%s\" on guest", exe)
		errorf("Details: code %s, component GuestProcessWrap, interface IGuestProcess, callee nsISupports", codeIPRT)
		return exitErr{1}
	}
	if err := nsenterCmd(context.Background(), rt, "/usr/bin/test", "-x", exe).Run(); err != nil {
		errorf("Waiting for guest process (flags 0x1) failed: No such file or directory \"%s\" on guest", exe)
		errorf("Details: code %s, component GuestProcessWrap, interface IGuestProcess, callee nsISupports", codeIPRT)
		errorf("Context: \"WaitForArray(ComSafeArrayAsInParam(aWaitStartFlags), gctlRunGetRemainingTime(msStart, cMsTimeout), &waitResult)\" at line 1396 of file VBoxManageGuestCtrl.cpp")
		return exitErr{1}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	interrupted := false
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			interrupted = true
			cancel()
		}
	}()
	cmd, done, _ := guestCmd(ctx, rt, guestArgv(pw, env, argv))
	defer done()
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if noOut {
		cmd.Stdout = nil
	}
	if noErr {
		cmd.Stderr = nil
	}
	err = cmd.Run()
	signal.Stop(sigs)
	close(sigs)
	if interrupted {
		return exitErr{exitInterrpt}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return exitErr{exitTimeout}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		errorf("Waiting for guest process failed: %v", err)
		return exitErr{1}
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		return exitErr{exitKilled}
	case !ws.Exited():
		return exitErr{exitAbnormal}
	}
	return exitErr{mapExit(ws.ExitStatus())}
}

// mapExit is VirtualBox's frozen guest-exit-code mapping.
func mapExit(code int) int {
	switch {
	case code == 0:
		return 0
	case code >= 1 && code <= 93:
		return code + 32
	}
	return 126
}

// guestCopyTo: copyto [common] [--target-directory DIR] SRC... [DEST]
func guestCopyTo(s *store, ref string, args []string) error {
	p, err := getopt{
		withValue: set(append([]string{"--target-directory"}, commonWithValue...)...),
		flags:     set("--verbose", "-v", "--quiet", "-q", "--recursive", "-R", "--follow", "--dereference", "--no-replace", "--update"),
	}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	srcs := append(p.operands, p.afterDD...)
	dest, toDir := p.get("--target-directory")
	if !toDir {
		if len(srcs) < 2 {
			return syntaxError("No destination specified!")
		}
		dest, srcs = srcs[len(srcs)-1], srcs[:len(srcs)-1]
	}
	if len(srcs) == 0 {
		return syntaxError("No sources specified!")
	}
	_, rt, pw, err := guestSession(s, ref, p)
	if err != nil {
		return err
	}
	for _, src := range srcs {
		f, err := os.Open(src)
		if err != nil {
			errorf("Source \"%s\" does not exist on the host: %v", src, err)
			return exitErr{1}
		}
		st, _ := f.Stat()
		target := dest
		if toDir || len(srcs) > 1 || strings.HasSuffix(dest, "/") {
			target = strings.TrimSuffix(dest, "/") + "/" + filepath.Base(src)
		}
		script := `cat > "$1" && chmod "$2" "$1"`
		mode := fmt.Sprintf("%o", st.Mode().Perm())
		cmd, done, _ := guestCmd(context.Background(), rt, guestArgv(pw, nil, []string{"/bin/sh", "-c", script, "sh", target, mode}))
		cmd.Stdin, cmd.Stderr = f, os.Stderr
		err = cmd.Run()
		done()
		f.Close()
		if err != nil {
			errorf("Copying \"%s\" to \"%s\" on guest failed: %v", src, target, err)
			return exitErr{1}
		}
	}
	return nil
}

// guestStat: stat [common] PATH... (exit 1 when any path is missing)
func guestStat(s *store, ref string, args []string) error {
	p, err := getopt{withValue: set(commonWithValue...), flags: set("--verbose", "-v", "--quiet", "-q")}.parse(args)
	if err != nil {
		return syntaxError("%v", err)
	}
	paths := append(p.operands, p.afterDD...)
	if len(paths) == 0 {
		return syntaxError("No element(s) to check specified!")
	}
	_, rt, pw, err := guestSession(s, ref, p)
	if err != nil {
		return err
	}
	rc := 0
	for _, path := range paths {
		out, err := nsenterCmd(context.Background(), rt, guestArgv(pw, nil, []string{"/usr/bin/stat", "-c", "%s|%F", path})...).Output()
		if err != nil {
			rc = 1
			continue
		}
		size, kind, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
		typ := "file"
		if kind == "directory" || kind == "symbolic link" {
			typ = map[string]string{"directory": "directory", "symbolic link": "symlink"}[kind]
		}
		fmt.Printf("  File: '%s'\n  Size: %-17s Alloc: %-19s Type: %s\n", path, size, size, typ)
	}
	return exitErr{rc}
}
