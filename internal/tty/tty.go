// Package tty is the one place labctl asks whether a stream is a terminal:
// a progress bar, a password prompt, a confirmation and a raw-mode shell
// all depend on the same answer.
package tty

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Is reports whether v (a reader or writer) is an *os.File on a terminal.
func Is(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Size returns the terminal's columns and rows, or ok=false when v is not a terminal.
func Size(v any) (cols, rows int, ok bool) {
	f, isFile := v.(*os.File)
	if !isFile {
		return 0, 0, false
	}
	cols, rows, err := term.GetSize(int(f.Fd()))
	return cols, rows, err == nil && cols > 0
}

// Confirm asks q on the terminal in (the prompt on out) and reports a yes.
// asked is false when in is not a terminal: the caller refuses then.
func Confirm(in io.Reader, out io.Writer, q string) (yes, asked bool) {
	f, ok := in.(*os.File)
	if !ok || !Is(f) {
		return false, false
	}
	fmt.Fprintf(out, "%s [y/N] ", q)
	line, _ := bufio.NewReader(f).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes", true
}
