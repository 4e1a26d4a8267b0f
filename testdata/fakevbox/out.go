package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Output streams. On Windows IPRT writes text with LF->CRLF; guest output
// from guestcontrol run bypasses this (it goes to os.Stdout raw).
var (
	stdout  io.Writer = os.Stdout
	stderr  io.Writer = os.Stderr
	prog              = "VBoxManage" // the executable's file name, the error prefix
	windows bool
	cfg     Config
)

type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	_, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n")))
	return len(p), err
}

func setupOutput(c Config) {
	cfg = c
	windows = c.Windows
	if windows {
		prog = "VBoxManage.exe"
		stdout = crlfWriter{os.Stdout}
		stderr = crlfWriter{os.Stderr}
	}
}

func outf(format string, a ...any) { fmt.Fprintf(stdout, format, a...) }

// errLines prints each line with the "VBoxManage: error: " prefix, as
// rtMsgWorker does for multi-line messages.
func errLines(msg string) {
	for _, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(stderr, "%s: error: %s\n", prog, l)
	}
}

func warnLine(msg string) { fmt.Fprintf(stderr, "%s: warning: %s\n", prog, msg) }

var codeValues = map[string]uint32{
	"VBOX_E_OBJECT_NOT_FOUND":     0x80bb0001,
	"VBOX_E_INVALID_VM_STATE":     0x80bb0002,
	"VBOX_E_VM_ERROR":             0x80bb0003,
	"VBOX_E_FILE_ERROR":           0x80bb0004,
	"VBOX_E_IPRT_ERROR":           0x80bb0005,
	"VBOX_E_INVALID_OBJECT_STATE": 0x80bb0007,
	"VBOX_E_OBJECT_IN_USE":        0x80bb000c,
	"NS_ERROR_FAILURE":            0x80004005,
	"NS_ERROR_INVALID_ARG":        0x80070057,
}

// Windows prints the Win32 names of the generic COM codes.
var windowsNames = map[string]string{"NS_ERROR_FAILURE": "E_FAIL", "NS_ERROR_INVALID_ARG": "E_INVALIDARG"}

// apiErr is one CHECK_ERROR failure: message, Details and Context lines.
type apiErr struct {
	msg, code, component, iface string
	context                     string // the call expression; "" = no Context line
	line                        int
	file                        string
	noCallee                    bool // progress-object errors have no callee
}

func (e apiErr) print() {
	errLines(e.msg)
	name := e.code
	if windows && windowsNames[name] != "" {
		name = windowsNames[name]
	}
	d := fmt.Sprintf("Details: code %s (0x%08x), component %s, interface %s", name, codeValues[e.code], e.component, e.iface)
	if !e.noCallee {
		callee := "nsISupports"
		if windows {
			callee = "IUnknown"
		}
		d += ", callee " + callee
	}
	errLines(d)
	if e.context != "" {
		errLines(fmt.Sprintf("Context: \"%s\" at line %d of file %s", e.context, e.line, e.file))
	}
}

// notFound is the VBOX_E_OBJECT_NOT_FOUND triplet of FindMachine. The
// Context expression differs per handler; the reference gives it for
// showvminfo, unregistervm and get/setextradata, the rest reuse the
// extradata form (never matched on: line numbers and texts vary).
func notFound(op, context string, line int, file string) int {
	msg := fmt.Sprintf("Could not find a registered machine named '%s'", op)
	if isUUID(op) {
		msg = fmt.Sprintf("Could not find a registered machine with UUID {%s}", strings.ToLower(strings.Trim(op, "{}")))
	}
	if context == "" {
		context = "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())"
	}
	apiErr{msg: msg, code: "VBOX_E_OBJECT_NOT_FOUND", component: "VirtualBoxWrap", iface: "IVirtualBox",
		context: context, line: line, file: file}.print()
	return 1
}

// lockError is the VBOX_E_INVALID_OBJECT_STATE text of a write-lock command
// on a VM that a session holds (running, or still being unlocked).
func lockError(cmd string, vm *VM) int {
	switch cmd {
	case "startvm":
		apiErr{msg: fmt.Sprintf("The machine '%s' is already locked by a session (or being locked or unlocked)", vm.Name),
			code: "VBOX_E_INVALID_OBJECT_STATE", component: "MachineWrap", iface: "IMachine",
			context: "LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())",
			line:    880, file: "VBoxManageMisc.cpp"}.print()
	case "unregistervm":
		ctx := "Unregister(fDeleteAll ? CleanupMode_DetachAllReturnHardDisksAndVMRemovable :CleanupMode_DetachAllReturnHardDisksOnly, ComSafeArrayAsOutParam(aMedia))"
		if isV61() {
			ctx = "Unregister(CleanupMode_DetachAllReturnHardDisksOnly, ComSafeArrayAsOutParam(aMedia))"
		}
		apiErr{msg: fmt.Sprintf("Cannot unregister the machine '%s' while it is locked", vm.Name),
			code: "VBOX_E_INVALID_OBJECT_STATE", component: "MachineWrap", iface: "IMachine",
			context: ctx, line: 233, file: "VBoxManageMisc.cpp"}.print()
	default:
		// modifyvm's text; the reference gives no other command's lock
		// failure, so injected lock faults on other commands reuse it.
		apiErr{msg: fmt.Sprintf("The machine '%s' is already locked for a session (or being unlocked)", vm.Name),
			code: "VBOX_E_INVALID_OBJECT_STATE", component: "MachineWrap", iface: "IMachine",
			context: "LockMachine(a->session, LockType_Write)", line: 640, file: "VBoxManageModifyVM.cpp"}.print()
	}
	return 1
}

// progress prints the 7.x bar on stderr, incrementally, ending in 100%.
func progress() {
	for i := 0; i < 100; i += 10 {
		fmt.Fprintf(stderr, "%d%%...", i)
	}
	fmt.Fprint(stderr, "100%\n")
}

// progressFail prints a bar that stops at pct and ends with the status
// name (7.x) or, on 6.1, a newline and "Progress state: NAME".
func progressFail(pct int, code string) {
	for i := 0; i <= pct; i += 10 {
		fmt.Fprintf(stderr, "%d%%...", i)
	}
	if isV61() {
		fmt.Fprintf(stderr, "\nProgress state: %s\n", code)
		return
	}
	fmt.Fprintf(stderr, "%s\n", code)
}

// usages are the synopsis lines printed after a syntax error, from the
// reference's argv forms (the real usage text is longer; never parsed).
var usages = map[string]string{
	"list":          "VBoxManage list [--long] [--sorted] vms|runningvms|bridgedifs|hostonlyifs|...",
	"showvminfo":    "VBoxManage showvminfo <uuid|vmname> [--details] [--machinereadable]\nVBoxManage showvminfo <uuid|vmname> --log=<index>",
	"clonevm":       "VBoxManage clonevm <uuid|vmname> [--basefolder=basefolder] [--groups=group,...] [--mode=machine | --mode=machineandchildren | --mode=all] [--name=name] [--options=option,...] [--register] [--snapshot=snapshot-name] [--uuid=uuid]",
	"modifyvm":      "VBoxManage modifyvm <uuid|vmname> [--name=name] [--groups=group,...] [--description=description] [--memory=size-in-MB] [--cpus=CPU-count] [--nicN=none|null|nat|bridged|intnet|hostonly|generic|natnetwork] [--bridge-adapterN=none|device-name] [--mac-addressN=auto|MAC-address] ...",
	"startvm":       "VBoxManage startvm <uuid|vmname...> [--putenv=name[=value]] [--type= [gui | headless | sdl | separate] ]",
	"controlvm":     "VBoxManage controlvm <uuid|vmname> pause | resume | reset | poweroff | savestate | acpipowerbutton | ...",
	"unregistervm":  "VBoxManage unregistervm <uuid|vmname> [--delete] [--delete-all]",
	"setextradata":  "VBoxManage setextradata <global | uuid|vmname> <keyword> [value]",
	"getextradata":  "VBoxManage getextradata <global | uuid|vmname> <keyword | enumerate>",
	"guestproperty": "VBoxManage guestproperty get <uuid|vmname> <property-name> [--verbose]\nVBoxManage guestproperty enumerate <uuid|vmname> [--no-timestamp] [--no-flags] [--relative] [--old-format] [pattern...]\nVBoxManage guestproperty set <uuid|vmname> <property-name> [property-value [--flags=flags]]\nVBoxManage guestproperty unset <uuid|vmname> <property-name>\nVBoxManage guestproperty wait <uuid|vmname> <patterns> [--timeout=msec] [--fail-on-timeout]",
	"snapshot":      "VBoxManage snapshot <uuid|vmname> take <snapshot-name> [--description=description] [--live] [--uniquename Number,Timestamp,Space,Force]\nVBoxManage snapshot <uuid|vmname> delete <snapshot-name>\nVBoxManage snapshot <uuid|vmname> restore <snapshot-name>\nVBoxManage snapshot <uuid|vmname> restorecurrent\nVBoxManage snapshot <uuid|vmname> list [--details | --machinereadable]\nVBoxManage snapshot <uuid|vmname> showvminfo <snapshot-name>",
	"guestcontrol":  "VBoxManage guestcontrol <uuid|vmname> run [--arg0=argument 0] [--domain=domainname] [--dos2unix] [--exe=filename] [--ignore-orphaned-processes] [--no-wait-stderr | --wait-stderr] [--no-wait-stdout | --wait-stdout] [--passwordfile=password-file | --password=password] [--putenv=var-name=[value]] [--quiet] [--timeout=msec] [--unix2dos] [--unquoted-args] [--username=username] [--verbose] <[--] program-and-arguments>",
}

// logo is showLogo's two lines; the version is VBOX_VERSION_STRING (no revision).
func logo() string {
	return fmt.Sprintf("Oracle VM VirtualBox Command Line Management Interface Version %s\nCopyright (C) 2005-2024 Oracle and/or its affiliates\n\n", versionString())
}

// syntaxError prints logo, the error, an empty line and the usage on
// stderr and returns the exit code the handler uses (2 for most, 1 where
// the handler maps syntax problems to failure).
func syntaxError(cmd, msg string, code int) int {
	fmt.Fprint(stderr, logo())
	errLines(msg)
	fmt.Fprint(stderr, "\nUsage:\n")
	fmt.Fprintln(stderr, usages[cmd])
	return code
}

// versionString is the version without the revision ("7.0.14", "6.1.38_Ubuntu").
func versionString() string {
	v := cfg.Version
	if i := strings.LastIndex(v, "r"); i > 0 {
		v = v[:i]
	}
	return v
}

// versionNumber is the plain "7.0.14".
func versionNumber() string {
	v := cfg.Version
	if i := strings.IndexAny(v, "_r"); i > 0 {
		v = v[:i]
	}
	return v
}

func revision() string {
	v := cfg.Version
	if i := strings.LastIndex(v, "r"); i > 0 {
		return v[i+1:]
	}
	return ""
}

func isV61() bool {
	return strings.HasPrefix(cfg.Version, "6.") || strings.HasPrefix(cfg.Version, "5.")
}

// wrapperWarning is the block Linux's VBox.sh prints on stdout before
// exec'ing the real binary, for every command.
const wrapperWarning = `WARNING: The vboxdrv kernel module is not loaded. Either there is no module
         available for the current kernel (5.15.0-91-generic) or it failed to
         load. Please recompile the kernel module and install it by

           sudo /sbin/vboxconfig

         You will not be able to start VMs until this problem is fixed.
`
