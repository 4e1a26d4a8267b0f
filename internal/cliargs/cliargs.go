// Package cliargs applies the command-line conventions urfave/cli v2 lacks:
// global flags after the command, snapshot NAME and base FILE before their flags.
package cliargs

import "strings"

// globalFlags are the app-wide flags and whether each takes a value.
var globalFlags = map[string]bool{
	"--lab": true, "-lab": true, "--vboxmanage": true, "-vboxmanage": true,
	"--progress": true, "-progress": true, "--seat": true, "-seat": true, "--verbose": false, "-verbose": false, "-v": false,
}

// snapshotValueFlags are the snapshot flags that take a separate value.
var snapshotValueFlags = map[string]bool{"--description": true, "-description": true, "-d": true}

// Normalize applies the command-line conventions urfave/cli v2 lacks.
func Normalize(args []string) []string {
	return reorderBaseArgs(reorderSnapshotArgs(hoistGlobalFlags(args)))
}

// baseValueFlags are the `base import|export` flags that take a separate value.
var baseValueFlags = map[string]bool{"--name": true, "--sha256": true, "--download-dir": true}

// reorderBaseArgs lets users write `base import FILE --sha256 HEX`.
func reorderBaseArgs(args []string) []string {
	return reorderArgs(args, "base", map[string]bool{"import": true, "export": true}, baseValueFlags)
}

// hoistGlobalFlags lets global flags follow the command (`labctl up --lab
// x.toml`): urfave/cli v2 reads them only before it. Nothing after `--` moves,
// nor anything after ssh's NODE (that is the remote command's).
func hoistGlobalFlags(args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmd := -1
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return args
		}
		name, _, hasValue := strings.Cut(a, "=")
		if takesValue, ok := globalFlags[name]; ok {
			if takesValue && !hasValue {
				i++
			}
			continue
		}
		if !strings.HasPrefix(a, "-") {
			cmd = i
			break
		}
	}
	if cmd < 0 {
		return args
	}
	head := append([]string(nil), args[:cmd]...)
	var moved, rest []string
	positional := 0
	for i := cmd + 1; i < len(args); i++ {
		a := args[i]
		if a == "--" || (args[cmd] == "ssh" && positional > 0) {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(a, "=")
		if takesValue, ok := globalFlags[name]; ok {
			moved = append(moved, a)
			if takesValue && !hasValue && i+1 < len(args) {
				moved = append(moved, args[i+1])
				i++
			}
			continue
		}
		if !strings.HasPrefix(a, "-") {
			positional++
		}
		rest = append(rest, a)
	}
	out := append(head, moved...)
	out = append(out, args[cmd])
	return append(out, rest...)
}

// reorderSnapshotArgs lets users write `snapshot take NAME --description D`
// as the README shows: urfave/cli v2 stops reading flags at the first
// positional argument, so the NAME is moved after the flags.
func reorderSnapshotArgs(args []string) []string {
	return reorderArgs(args, "snapshot", map[string]bool{"take": true, "restore": true, "delete": true}, snapshotValueFlags)
}

// reorderArgs moves the operands of `cmd sub ...` after its flags.
func reorderArgs(args []string, cmd string, subs, valueFlags map[string]bool) []string {
	i := 0
	for i < len(args) && args[i] != cmd {
		if args[i] == "--" {
			return args
		}
		i++
	}
	if i+1 >= len(args) {
		return args
	}
	if !subs[args[i+1]] {
		return args
	}
	head := append([]string(nil), args[:i+2]...)
	var flags, names []string
	rest := args[i+2:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			names = append(names, rest[j+1:]...)
			j = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if valueFlags[a] && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
		default:
			names = append(names, a)
		}
	}
	out := append(head, flags...)
	if len(names) > 0 {
		out = append(out, "--")
		out = append(out, names...)
	}
	return out
}
