package main

import "strings"

// snapshotValueFlags are the snapshot flags that take a separate value.
var snapshotValueFlags = map[string]bool{"--description": true, "-description": true, "-d": true}

// reorderSnapshotArgs lets users write `snapshot take NAME --description D`
// as the README shows: urfave/cli v2 stops reading flags at the first
// positional argument, so the NAME is moved after the flags.
func reorderSnapshotArgs(args []string) []string {
	return reorderArgs(args, "snapshot", map[string]bool{"take": true, "restore": true, "delete": true}, snapshotValueFlags)
}

// baseValueFlags are the `base import|export` flags that take a separate value.
var baseValueFlags = map[string]bool{"--name": true, "--sha256": true, "--download-dir": true}

// reorderBaseArgs lets users write `base import FILE --sha256 HEX`.
func reorderBaseArgs(args []string) []string {
	return reorderArgs(args, "base", map[string]bool{"import": true, "export": true}, baseValueFlags)
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
