package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ctl is the test-side control interface, used when FAKEVBOX_CTL is set
// (labctl/internal/vboxtest). It is not logged and not part of VBoxManage.
// Secrets arrive on stdin, never on argv.
//
//	seed                              create the initial state if missing
//	set-version V                     e.g. 6.1.38_Ubuntur153438
//	set-wrapper-warning true|false
//	set-windows true|false
//	set-ga-delay MS
//	set-unlock-window MS
//	set-latency JSON                  {"clonevm":"2s"}
//	set-bridgedifs JSON               [HostIf...]
//	set-host-arch ARCH                "" (x86) or "ARMv8" (Apple silicon; needs a 7.1 version)
//	set-vm-arch VM ARCH               "" (x86) or "ARM"
//	set-password VM USER              password on stdin
//	set-guest-ip VM IP
//	add-fault JSON                    one Fault
func ctl(a []string) int {
	if len(a) == 0 {
		fmt.Fprintln(os.Stderr, "fakevbox ctl: missing command")
		return 2
	}
	var stdin string
	if a[0] == "set-password" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fakevbox ctl:", err)
			return 1
		}
		stdin = strings.TrimRight(string(b), "\r\n")
	}
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	var err error
	lockErr := withLock(func() error {
		if a[0] == "add-fault" {
			err = addFault(arg(1))
			return nil
		}
		st, e := loadState()
		if e != nil {
			return e
		}
		c := &st.Config
		switch a[0] {
		case "seed":
		case "set-version":
			c.Version = arg(1)
		case "set-wrapper-warning":
			c.WrapperWarning = arg(1) == "true"
		case "set-windows":
			c.Windows = arg(1) == "true"
		case "set-ga-delay":
			c.GADelayMS, err = strconv.ParseInt(arg(1), 10, 64)
		case "set-unlock-window":
			c.UnlockMS, err = strconv.ParseInt(arg(1), 10, 64)
		case "set-latency":
			c.Latency = map[string]string{}
			err = json.Unmarshal([]byte(arg(1)), &c.Latency)
		case "set-bridgedifs":
			c.BridgedIfs = nil
			err = json.Unmarshal([]byte(arg(1)), &c.BridgedIfs)
		case "set-host-arch":
			c.HostArch = arg(1)
		case "set-vm-arch":
			vm := st.find(arg(1))
			if vm == nil {
				err = fmt.Errorf("no VM %q", arg(1))
				break
			}
			vm.Arch = arg(2)
		case "set-password", "set-guest-ip":
			vm := st.find(arg(1))
			if vm == nil {
				err = fmt.Errorf("no VM %q", arg(1))
				break
			}
			if a[0] == "set-password" {
				vm.Credentials[arg(2)] = stdin
			} else {
				cfg = st.Config
				vm.setGuestIP(arg(2), time.Now().UTC())
			}
		default:
			err = fmt.Errorf("unknown ctl command %q", a[0])
		}
		if err != nil {
			return nil
		}
		return saveState(st)
	})
	if lockErr != nil {
		err = lockErr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakevbox ctl:", err)
		return 1
	}
	return 0
}

func addFault(js string) error {
	var f Fault
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		return err
	}
	switch f.Kind {
	case "fail", "lock", "exit":
	case "slow":
		if _, err := time.ParseDuration(f.Delay); err != nil {
			return fmt.Errorf("slow fault needs a delay like \"2s\": %v", err)
		}
	default:
		return fmt.Errorf("fault kind %q: want fail, lock, slow or exit", f.Kind)
	}
	if f.Match == "" && f.Regex == "" {
		return fmt.Errorf("fault needs match or regex")
	}
	var rules []Fault
	if b, err := os.ReadFile(faultsPath()); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &rules); err != nil {
			return err
		}
	}
	rules = append(rules, f)
	b, err := json.MarshalIndent(rules, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(faultsPath(), b)
}
