// Command fakevbox is a stateful fake of VBoxManage for labctl's tests. It
// keeps VMs, snapshots, extradata, guest properties, NICs, groups, states
// and disks under $FAKEVBOX_HOME, prints what VirtualBox 7.0/6.1 prints
// (per the VBoxManage behaviour reference it was written from: streams, exit codes, error
// lines), logs every argv to $FAKEVBOX_HOME/argv.log, injects faults from
// $FAKEVBOX_HOME/faults.json and runs "guest" commands as host processes in
// $FAKEVBOX_HOME/guests/<uuid>/. Tests drive it through labctl/internal/vboxtest.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

var home string

func main() { os.Exit(run(os.Args[1:])) }

// Fault is one rule of faults.json.
type Fault struct {
	Match    string `json:"match,omitempty"` // substring of the space-joined argv ("/re/" = regex)
	Regex    string `json:"regex,omitempty"` // or a regular expression over it
	Kind     string `json:"kind"`            // fail | lock | slow | exit
	Times    int    `json:"times"`           // remaining uses; 0 = always
	Delay    string `json:"delay,omitempty"` // sleep before acting (required for slow)
	Message  string `json:"message,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"` // for kind exit (default 1)
}

func (f Fault) matches(joined string) bool {
	expr := f.Regex
	if expr == "" && len(f.Match) > 2 && strings.HasPrefix(f.Match, "/") && strings.HasSuffix(f.Match, "/") {
		expr = f.Match[1 : len(f.Match)-1] // "/re/" in match is a regex too
	}
	if expr != "" {
		re, err := regexp.Compile(expr)
		return err == nil && re.MatchString(joined)
	}
	return f.Match != "" && strings.Contains(joined, f.Match)
}

func run(args []string) int {
	home = os.Getenv("FAKEVBOX_HOME")
	if home == "" {
		fmt.Fprintln(os.Stderr, "fakevbox: FAKEVBOX_HOME is not set: point it at a test's temporary folder (labctl/internal/vboxtest.New does this)")
		return 3
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "fakevbox:", err)
		return 3
	}
	if os.Getenv("FAKEVBOX_CTL") != "" {
		return ctl(args)
	}

	var (
		violation string
		hits      []Fault
		vmForLock *VM
	)
	cmdArgs := stripGlobal(args)
	err := withLock(func() error {
		if err := appendArgvLog(args); err != nil {
			return err
		}
		st, err := loadState()
		if err != nil {
			return err
		}
		setupOutput(st.Config)
		violation = scanSecrets(st, args)
		hits, err = consumeFaults(strings.Join(cmdArgs, " "))
		if len(cmdArgs) > 1 {
			vmForLock = st.find(vmOperand(cmdArgs))
		}
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakevbox:", err)
		return 3
	}
	if violation != "" {
		return recordViolation(args, violation)
	}
	if cfg.WrapperWarning {
		outf("%s", wrapperWarning)
	}
	if len(cmdArgs) > 0 {
		if d, ok := cfg.Latency[cmdArgs[0]]; ok {
			if dur, err := time.ParseDuration(d); err == nil {
				time.Sleep(dur)
			}
		}
	}
	for _, f := range hits {
		if d, err := time.ParseDuration(f.Delay); err == nil {
			time.Sleep(d)
		}
		switch f.Kind {
		case "fail":
			msg := f.Message
			if msg == "" {
				msg = "fakevbox: injected failure"
			}
			errLines(msg)
			if !strings.Contains(msg, "Details:") {
				errLines("Details: code NS_ERROR_FAILURE (0x80004005), component MachineWrap, interface IMachine, callee nsISupports")
			}
			return 1
		case "lock":
			if vmForLock == nil {
				vmForLock = &VM{Name: "?"}
				if len(cmdArgs) > 1 {
					vmForLock.Name = vmOperand(cmdArgs)
				}
			}
			return lockError(cmdArgs[0], vmForLock)
		case "exit":
			if f.Message != "" {
				fmt.Fprintln(os.Stderr, f.Message)
			}
			if f.ExitCode == 0 {
				return 1
			}
			return f.ExitCode
		}
	}
	return dispatch(cmdArgs)
}

// stripGlobal drops the global options VBoxManage accepts before the command.
func stripGlobal(args []string) []string {
	for len(args) > 0 {
		switch args[0] {
		case "--nologo", "-q":
			args = args[1:]
		case "--settingspw", "--settingspwfile":
			if len(args) < 2 {
				return args
			}
			args = args[2:]
		default:
			return args
		}
	}
	return args
}

// vmOperand is the VM a command names, for fault messages.
func vmOperand(a []string) string {
	if a[0] == "unregistervm" {
		for _, x := range a[1:] {
			if !strings.HasPrefix(x, "-") {
				return x
			}
		}
	}
	if a[0] == "guestproperty" && len(a) > 2 {
		return a[2]
	}
	return a[1]
}

func dispatch(a []string) int {
	if len(a) == 0 {
		// The reference does not give the bare-invocation text; minimal.
		fmt.Fprint(stderr, logo())
		return 2
	}
	handlers := map[string]func([]string) int{
		"list": cmdList, "showvminfo": cmdShowVMInfo, "clonevm": cmdCloneVM, "modifyvm": cmdModifyVM,
		"startvm": cmdStartVM, "controlvm": cmdControlVM, "unregistervm": cmdUnregisterVM,
		"setextradata": cmdSetExtraData, "getextradata": cmdGetExtraData,
		"guestproperty": cmdGuestProperty, "snapshot": cmdSnapshot, "guestcontrol": cmdGuestControl,
		"import": cmdImport, "export": cmdExport,
		"natnetwork": cmdNATNetwork, "hostonlyif": cmdHostOnlyIf, "hostonlynet": cmdHostOnlyNet,
	}
	switch a[0] {
	case "--version", "-V", "-v", "-version", "-Version":
		outf("%s\n", cfg.Version)
		return 0
	}
	if h, ok := handlers[a[0]]; ok {
		return h(a[1:])
	}
	if notImplemented[a[0]] {
		fmt.Fprintf(os.Stderr, "fakevbox: VBoxManage %s is a real command the fake does not implement\n", a[0])
		return 1
	}
	errLines(fmt.Sprintf("Invalid command '%s'", a[0]))
	return 2
}

var notImplemented = map[string]bool{
	"registervm": true, "createvm": true, "storagectl": true, "storageattach": true, "createmedium": true, "createhd": true, "clonemedium": true, "modifymedium": true,
	"closemedium": true, "showmediuminfo": true,
	"sharedfolder": true, "movevm": true, "discardstate": true, "adoptstate": true, "setproperty": true,
	"usbfilter": true, "debugvm": true, "extpack": true, "unattended": true, "cloud": true, "metrics": true,
	"dhcpserver": true, "bandwidthctl": true, "encryptvm": true, "modifynvram": true, "mediumproperty": true,
}

type logEntry struct {
	Time string   `json:"time"`
	PID  int      `json:"pid"`
	Argv []string `json:"argv"`
}

func appendArgvLog(args []string) error {
	b, err := json.Marshal(logEntry{Time: time.Now().UTC().Format(time.RFC3339Nano), PID: os.Getpid(), Argv: append([]string{}, args...)})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(home, "argv.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// consumeFaults returns the matching rules in order: every slow rule and
// the first terminal one. Counted rules are decremented (and dropped at
// zero) in the same locked section, so "times" counts across processes.
func consumeFaults(joined string) ([]Fault, error) {
	b, err := os.ReadFile(faultsPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rules []Fault
	if len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &rules); err != nil {
			return nil, fmt.Errorf("%s: %w", faultsPath(), err)
		}
	}
	var hits []Fault
	var keep []Fault
	terminal := false
	for _, r := range rules {
		if terminal || !r.matches(joined) {
			keep = append(keep, r)
			continue
		}
		hits = append(hits, r)
		if r.Kind != "slow" {
			terminal = true
		}
		if r.Times == 1 {
			continue // used up
		}
		if r.Times > 1 {
			r.Times--
		}
		keep = append(keep, r)
	}
	if len(hits) == 0 {
		return nil, nil
	}
	if keep == nil {
		keep = []Fault{}
	}
	out, err := json.MarshalIndent(keep, "", "  ")
	if err != nil {
		return nil, err
	}
	return hits, writeAtomic(faultsPath(), out)
}

// scanSecrets reports a guest password appearing anywhere in argv (visible
// to every local user through ps): labctl must use --passwordfile.
func scanSecrets(st *Store, args []string) string {
	// guestcontrol's --password takes the password itself (startvm's 7.0
	// --password takes a file name, which is harmless).
	g := stripGlobal(args)
	guestctl := len(g) > 0 && g[0] == "guestcontrol"
	for i, a := range args {
		if guestctl && (a == "--password" || strings.HasPrefix(a, "--password=") || strings.HasPrefix(a, "--password:")) {
			return fmt.Sprintf("argv[%d] is %q: a guest password on the command line is visible to every local user; use --passwordfile with a 0600 file", i+1, "--password")
		}
	}
	for _, v := range st.VMs {
		for user, pw := range v.Credentials {
			if pw == "" {
				continue
			}
			for i, a := range args {
				if strings.Contains(a, pw) {
					return fmt.Sprintf("argv[%d] contains the guest password of %s@%s", i+1, user, v.Name)
				}
			}
		}
	}
	return ""
}

// recordViolation fails loudly and keeps a record tests can assert on even
// when the caller swallows the error.
func recordViolation(args []string, why string) int {
	msg := "fakevbox: VIOLATION: " + why
	fmt.Fprintln(os.Stderr, msg)
	f, err := os.OpenFile(filepath.Join(home, "violations.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err == nil {
		fmt.Fprintf(f, "%s (argv[0]=%s, %d args)\n", why, firstOr(args), len(args))
		f.Close()
	}
	return 99
}

func firstOr(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}

// update runs fn on the state under the lock, after letting guest time
// pass, and saves the result.
func update(fn func(st *Store, now time.Time) int) int {
	code := 0
	err := withLock(func() error {
		st, err := loadState()
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		st.tick(now)
		code = fn(st, now)
		return saveState(st)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakevbox:", err)
		return 3
	}
	return code
}

// opt is one parsed RTGetOpt option.
type opt struct{ name, value string }

// getopt parses like IPRT RTGetOpt: options and operands may be mixed,
// "--opt value", "--opt=value" and "--opt:value" all work, "--" ends
// options. spec says whether a known option takes a value.
func getopt(args []string, spec func(name string) (known, hasValue bool)) (opts []opt, operands []string, bad string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			return
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			operands = append(operands, a)
			continue
		}
		name, val, inline := a, "", false
		if known, _ := spec(a); !known {
			if j := strings.IndexAny(a, "=:"); j > 0 {
				name, val, inline = a[:j], a[j+1:], true
			}
		}
		known, hasValue := spec(name)
		if !known {
			return nil, nil, a
		}
		if hasValue && !inline {
			if i+1 >= len(args) {
				return nil, nil, a
			}
			i++
			val = args[i]
		}
		opts = append(opts, opt{name, val})
	}
	return
}

func fixedSpec(m map[string]bool) func(string) (bool, bool) {
	return func(n string) (bool, bool) {
		v, ok := m[n]
		return ok, v
	}
}
