package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

func cmdGuestProperty(a []string) int {
	if len(a) < 1 {
		return syntaxError("guestproperty", "Not enough parameters", 2)
	}
	switch a[0] {
	case "get":
		return propGet(a[1:])
	case "set":
		return propSet(a[1:])
	case "unset", "delete":
		if len(a) != 3 {
			return syntaxError("guestproperty", "Incorrect parameters", 2)
		}
		return propSet(a[1:3])
	case "enumerate":
		return propEnumerate(a[1:])
	case "wait":
		return propWait(a[1:])
	}
	return syntaxError("guestproperty", fmt.Sprintf("Unknown sub-command '%s'", a[0]), 2)
}

func propGet(a []string) int {
	verbose := false
	if len(a) == 3 && a[2] == "--verbose" {
		verbose = true
		a = a[:2]
	}
	if len(a) != 2 {
		return syntaxError("guestproperty", "Incorrect parameters", 2)
	}
	return update(func(st *Store, now time.Time) int {
		vm := st.find(a[0])
		if vm == nil {
			return notFound(a[0], "", 118, "VBoxManageGuestProp.cpp")
		}
		p, ok := vm.GuestProps[a[1]]
		if !ok || p.Value == "" {
			outf("No value set!\n")
			return 0
		}
		outf("Value: %s\n", p.Value)
		if verbose {
			outf("Timestamp: %d\n", p.Timestamp)
			outf("Flags: %s\n", p.Flags)
		}
		return 0
	})
}

// propSet: set <vm> <name> [<value> [--flags <f>]]; no value deletes.
func propSet(a []string) int {
	if len(a) < 2 || len(a) == 4 || len(a) > 5 || (len(a) == 5 && a[3] != "--flags") {
		return syntaxError("guestproperty", "Incorrect parameters", 2)
	}
	return update(func(st *Store, now time.Time) int {
		vm := st.find(a[0])
		if vm == nil {
			return notFound(a[0], "", 174, "VBoxManageGuestProp.cpp")
		}
		if len(a) == 2 {
			delete(vm.GuestProps, a[1])
			return 0
		}
		p := Prop{Value: a[2], Timestamp: now.UnixNano()}
		if len(a) == 5 {
			p.Flags = a[4]
		}
		vm.GuestProps[a[1]] = p
		if a[1] == "/VirtualBox/GuestInfo/Net/0/V4/IP" {
			vm.GuestIP = a[2]
		}
		return 0
	})
}

// patternMatch is RTStrSimplePatternMultiMatch: '|' alternatives of
// patterns with '*' (any run, '/' included) and '?'.
func patternMatch(pattern, s string) bool {
	for _, p := range strings.Split(pattern, "|") {
		if simpleMatch(p, s) {
			return true
		}
	}
	return false
}

func simpleMatch(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if simpleMatch(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && simpleMatch(p[1:], s[1:])
	}
	return s != "" && s[0] == p[0] && simpleMatch(p[1:], s[1:])
}

func propEnumerate(a []string) int {
	if len(a) < 1 {
		return syntaxError("guestproperty", "Incorrect parameters", 2)
	}
	vmOp := a[0]
	var patterns []string
	noTS, noFlags, old := false, false, isV61()
	rest := a[1:]
	for i := 0; i < len(rest); i++ {
		x := rest[i]
		switch {
		case x == "--patterns" || x == "-patterns":
			if isV61() {
				patterns = append(patterns, rest[i+1:]...)
				i = len(rest)
				continue
			}
			if i+1 >= len(rest) {
				return syntaxError("guestproperty", "Incorrect parameters", 2)
			}
			i++
			patterns = append(patterns, rest[i])
		case isV61():
			// 6.1: a bare pattern without --patterns is a syntax error.
			return syntaxError("guestproperty", "Incorrect parameters", 2)
		case x == "--no-timestamp":
			noTS = true
		case x == "--no-flags":
			noFlags = true
		case x == "--old-format":
			old = true
		case x == "--relative", x == "--unsort":
			// --relative's duration format is not in the reference: the
			// fake keeps absolute times. Output is always sorted.
		case strings.HasPrefix(x, "-"):
			return syntaxError("guestproperty", fmt.Sprintf("Unknown option: %s", x), 2)
		default:
			patterns = append(patterns, x)
		}
	}
	return update(func(st *Store, now time.Time) int {
		vm := st.find(vmOp)
		if vm == nil {
			return notFound(vmOp, "", 236, "VBoxManageGuestProp.cpp")
		}
		var names []string
		for _, k := range sortedKeys(vm.GuestProps) {
			if len(patterns) == 0 {
				names = append(names, k)
				continue
			}
			for _, p := range patterns {
				if patternMatch(p, k) {
					names = append(names, k)
					break
				}
			}
		}
		if len(names) == 0 {
			outf("No properties found.\n")
			return 0
		}
		if old {
			// 6.1 prints in API order; the fake's is sorted (never rely on it).
			for _, k := range names {
				p := vm.GuestProps[k]
				outf("Name: %s, value: %s, timestamp: %d, flags: %s\n", k, p.Value, p.Timestamp, p.Flags)
			}
			return 0
		}
		w, v := 0, 0
		for _, k := range names {
			w = max(w, len(k))
			v = max(v, len(vm.GuestProps[k].Value)+2)
		}
		w, v = min(w, 48), min(v, 28+2)
		for _, k := range names {
			p := vm.GuestProps[k]
			line := fmt.Sprintf("%-*s = '%s'", w, k, p.Value)
			if !noTS || (!noFlags && p.Flags != "") {
				col := w + v + 4
				pad := col - len(line)
				if pad < 1 {
					pad = 1
				}
				line += strings.Repeat(" ", pad)
				if !noTS {
					line += "@ " + time.Unix(0, p.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z")
					if !noFlags && p.Flags != "" {
						line += " "
					}
				}
				if !noFlags && p.Flags != "" {
					line += p.Flags
				}
			}
			outf("%s\n", line)
		}
		return 0
	})
}

// propWait returns on the next change of a matching property after the
// call (a value already in place does not count), polling the store.
func propWait(a []string) int {
	if len(a) < 2 {
		return syntaxError("guestproperty", "Incorrect parameters", 2)
	}
	vmOp, pattern := a[0], a[1]
	timeout := time.Duration(-1)
	failOnTimeout := false
	for i := 2; i < len(a); i++ {
		switch a[i] {
		case "--timeout":
			if i+1 >= len(a) {
				return syntaxError("guestproperty", "Incorrect parameters", 2)
			}
			i++
			ms, err := strconv.ParseUint(a[i], 10, 32)
			if err != nil {
				return syntaxError("guestproperty", "Incorrect parameters", 2)
			}
			timeout = time.Duration(ms) * time.Millisecond
		case "--fail-on-timeout":
			failOnTimeout = true
		default:
			// Hand-parsed: "--timeout=5000" lands here.
			return syntaxError("guestproperty", "Incorrect parameters", 2)
		}
	}
	start := time.Now()
	var seen map[string]bool
	for {
		var (
			line  string
			found bool
		)
		code := update(func(st *Store, now time.Time) int {
			vm := st.find(vmOp)
			if vm == nil {
				notFound(vmOp, "", 280, "VBoxManageGuestProp.cpp")
				return syntaxError("guestproperty", "Incorrect parameters", 2)
			}
			cur := map[string]bool{}
			for _, k := range sortedKeys(vm.GuestProps) {
				if !patternMatch(pattern, k) {
					continue
				}
				cur[k] = true
				p := vm.GuestProps[k]
				if !found && p.Timestamp > start.UnixNano() {
					line, found = fmt.Sprintf("Name: %s, value: %s, flags: %s", k, p.Value, p.Flags), true
				}
			}
			if seen == nil {
				seen = cur
			}
			var gone []string
			for k := range seen {
				if !cur[k] {
					gone = append(gone, k)
				}
			}
			sort.Strings(gone)
			if !found && len(gone) > 0 {
				line, found = fmt.Sprintf("Property %s was deleted", gone[0]), true
			}
			return 0
		})
		if code != 0 {
			return code
		}
		if found {
			outf("%s\n", line)
			return 0
		}
		if timeout >= 0 && time.Since(start) >= timeout {
			errLines("Time out or interruption while waiting for a notification.")
			if failOnTimeout {
				return 2
			}
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}
