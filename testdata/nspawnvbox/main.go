// Command nspawnvbox is a VBoxManage stand-in whose VMs are real
// systemd-nspawn machines, so that `labctl up` can be run unmodified against
// real MySQL, keepalived, nginx and PHP on a host without VirtualBox.
//
// It honours the VBoxManage 7.0 command-line contract labctl uses (argv,
// stdout/stderr split, error lines, exit codes), backed by:
//   - a linked clone = an overlayfs over the source snapshot's layers;
//   - startvm = a detached monitor process running systemd-nspawn -b in its
//     own cgroup and network namespace, host0 bridged to --bridgeadapter1
//     with the VM's MAC address;
//   - guestcontrol run = nsenter into the machine, as the given user;
//   - snapshots = copies of the machine's writable layer;
//   - export = an OVA holding the OVF descriptor, the machine's root
//     filesystem (a tar) as its one disk and a manifest; import = the
//     reverse, the unpacked tree becoming the new VM's bottom layer.
//
// Environment:
//
//	NSPAWNVBOX_HOME         state directory (required): VMs, layers, logs
//	NSPAWNVBOX_BASE_ROOTFS  base root filesystem, registered as a VM named
//	                        $NSPAWNVBOX_BASE_NAME (default "reallab-base")
//	NSPAWNVBOX_ROOTFS_FOR   "VM=/rootfs,..." linked clones of the base named VM
//	                        stack on that root filesystem instead
//	NSPAWNVBOX_HOME/credentials  "user:password" lines guest control accepts (0600)
//
// Needs root, systemd-nspawn (Debian package systemd-container), nsenter,
// ip (iproute2) and overlayfs.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// version mimics an official 7.0 build.
const version = "7.0.14r161095"

// prog is the error-line prefix: VirtualBox uses its executable's file name.
var prog = "VBoxManage"

func main() {
	if len(os.Args) > 0 {
		prog = filepath.Base(os.Args[0])
	}
	os.Exit(run(os.Args[1:]))
}

// exitErr carries an exit code out of a command handler.
type exitErr struct{ code int }

func (e exitErr) Error() string { return fmt.Sprintf("exit %d", e.code) }

// errorf prints "<prog>: error: " before every line of the message.
func errorf(format string, a ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, a...), "\n") {
		fmt.Fprintf(os.Stderr, "%s: error: %s\n", prog, l)
	}
}

func warnf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s: warning: %s\n", prog, fmt.Sprintf(format, a...))
}

// apiError prints the VirtualBox three-line COM error and returns exit 1.
func apiError(msg, code, component, iface, context string) error {
	errorf("%s", msg)
	errorf("Details: code %s, component %s, interface %s, callee nsISupports", code, component, iface)
	if context != "" {
		errorf("Context: %s", context)
	}
	return exitErr{1}
}

// syntaxError prints a usage-style error and returns exit 2.
func syntaxError(format string, a ...any) error {
	errorf(format, a...)
	return exitErr{2}
}

// Error codes used in Details lines.
const (
	codeNotFound     = "VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)"
	codeInvalidVM    = "VBOX_E_INVALID_VM_STATE (0x80bb0002)"
	codeFileError    = "VBOX_E_FILE_ERROR (0x80bb0004)"
	codeIPRT         = "VBOX_E_IPRT_ERROR (0x80bb0005)"
	codeInvalidObj   = "VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)"
	codeInvalidArg   = "NS_ERROR_INVALID_ARG (0x80070057)"
	codeFailure      = "NS_ERROR_FAILURE (0x80004005)"
	codeObjectInUse  = "VBOX_E_OBJECT_IN_USE (0x80bb000c)"
	progressFullLine = "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%"
)

func run(args []string) int {
	// Global options before the command.
	for len(args) > 0 && (args[0] == "--nologo" || args[0] == "-q") {
		args = args[1:]
	}
	if len(args) == 0 {
		errorf("no command given")
		return 2
	}
	switch args[0] {
	case "--version", "-V", "-v", "-version", "-Version":
		fmt.Println(version)
		return 0
	}
	if os.Getenv("NSPAWNVBOX_HOME") == "" {
		errorf("NSPAWNVBOX_HOME is not set: point it at the backend's state directory")
		return 3
	}
	st, err := openStore(os.Getenv("NSPAWNVBOX_HOME"))
	if err != nil {
		errorf("Failed to initialize the backend state: %v", err)
		return 3
	}
	cmd, rest := args[0], args[1:]
	var h func(*store, []string) error
	switch cmd {
	case "list":
		h = cmdList
	case "showvminfo":
		h = cmdShowVMInfo
	case "clonevm":
		h = cmdCloneVM
	case "modifyvm":
		h = cmdModifyVM
	case "startvm":
		h = cmdStartVM
	case "controlvm":
		h = cmdControlVM
	case "unregistervm":
		h = cmdUnregisterVM
	case "snapshot":
		h = cmdSnapshot
	case "setextradata":
		h = cmdSetExtraData
	case "getextradata":
		h = cmdGetExtraData
	case "guestproperty":
		h = cmdGuestProperty
	case "guestcontrol":
		h = cmdGuestControl
	case "import":
		h = cmdImport
	case "export":
		h = cmdExport
	case "natnetwork":
		h = cmdNATNetwork
	case "__natfwd":
		h = cmdNATForward
	case "__monitor":
		h = cmdMonitor
	default:
		errorf("Invalid command '%s'", cmd)
		return 2
	}
	if err := h(st, rest); err != nil {
		if e, ok := err.(exitErr); ok {
			return e.code
		}
		errorf("%v", err)
		return 1
	}
	return 0
}

// optValue splits "--opt=value" / "--opt:value" forms; ok=false when arg is not opt.
func optValue(arg, opt string) (string, bool) {
	if !strings.HasPrefix(arg, opt) {
		return "", false
	}
	rest := arg[len(opt):]
	if rest == "" {
		return "", true
	}
	if rest[0] == '=' || rest[0] == ':' {
		return rest[1:], true
	}
	return "", false
}

// getopt is a tiny RTGetOpt: options with values (in withValue) may be
// written "--o v", "--o=v" or "--o:v"; flags take none. Operands are
// returned in order; "--" ends options when stopAtDashDash.
type getopt struct {
	withValue map[string]bool
	flags     map[string]bool
}

type parsed struct {
	opts     []kv
	operands []string
	afterDD  []string // operands after "--"
	sawDD    bool
}

type kv struct{ k, v string }

func (p parsed) get(k string) (string, bool) {
	val, ok := "", false
	for _, o := range p.opts {
		if o.k == k {
			val, ok = o.v, true
		}
	}
	return val, ok
}

func (g getopt) parse(args []string) (parsed, error) {
	var p parsed
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.sawDD = true
			p.afterDD = append(p.afterDD, args[i+1:]...)
			return p, nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.operands = append(p.operands, a)
			continue
		}
		matched := false
		for o := range g.withValue {
			if v, ok := optValue(a, o); ok {
				matched = true
				if v == "" && a == o {
					if i+1 >= len(args) {
						//lint:ignore ST1005 VirtualBox's own wording
						return p, fmt.Errorf("Option %s requires a value", o)
					}
					i++
					v = args[i]
				}
				p.opts = append(p.opts, kv{o, v})
				break
			}
		}
		if matched {
			continue
		}
		if g.flags[a] {
			p.opts = append(p.opts, kv{a, ""})
			continue
		}
		//lint:ignore ST1005 VirtualBox's own wording
		return p, fmt.Errorf("Unknown option: %s", a)
	}
	return p, nil
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}
