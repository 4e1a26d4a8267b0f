package lab

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong in a lab.toml, located so a student can go
// straight to it: "lab.toml:23: nodes[4].ip "10.0.0.300" is not an IPv4 address".
type Problem struct {
	File string // the lab.toml as given ("<embedded>" for the built-in lab)
	Line int    // 1-based; 0 when the problem is about the file as a whole
	Key  string // dotted key path, e.g. "nodes[4].ip"; may be empty
	Msg  string // what is wrong and what would be right, read after the key
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(" ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ConfigError holds every problem found in a lab.toml, so one run reports
// them all instead of making the user fix them one at a time.
type ConfigError struct {
	Problems []Problem
}

// Error prints one problem per line, in file order.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single Problem.
func (e *ConfigError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// problems collects Problems for one file.
type problems struct {
	file string
	pos  *positions
	list []Problem
	// typeErr holds keys whose value had the wrong type: one problem per
	// key is enough, so later checks of the (unset) value stay quiet.
	typeErr map[string]bool
}

// add records a problem about key; the line comes from the source text.
func (ps *problems) add(key, format string, args ...any) {
	if ps.typeErr[key] {
		return
	}
	ps.list = append(ps.list, Problem{File: ps.file, Line: ps.pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// addAt records a problem at a known line.
func (ps *problems) addAt(line int, key, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil or a *ConfigError with the problems sorted by line
// (file-level problems, line 0, last).
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := append([]Problem(nil), ps.list...)
	sort.SliceStable(list, func(i, j int) bool {
		li, lj := list[i].Line, list[j].Line
		if li == 0 {
			li = int(^uint(0) >> 1)
		}
		if lj == 0 {
			lj = int(^uint(0) >> 1)
		}
		return li < lj
	})
	return &ConfigError{Problems: list}
}
