package main

import "strings"

// snapshotValueFlags are the snapshot flags that take a separate value.
var snapshotValueFlags = map[string]bool{"--description": true, "-description": true, "-d": true}

// reorderSnapshotArgs lets users write `snapshot take NAME --description D`
// as the README shows: urfave/cli v2 stops reading flags at the first
// positional argument, so the NAME is moved after the flags.
func reorderSnapshotArgs(args []string) []string {
	i := 0
	for i < len(args) && args[i] != "snapshot" {
		if args[i] == "--" {
			return args
		}
		i++
	}
	if i+1 >= len(args) {
		return args
	}
	switch args[i+1] {
	case "take", "restore", "delete":
	default:
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
			if snapshotValueFlags[a] && j+1 < len(rest) {
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
