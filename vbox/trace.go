package vbox

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// traceOutputLines bounds how much of one call's output a trace keeps:
// enough to read an error or a short listing, not a whole showvminfo.
const traceOutputLines = 12

// TraceTo returns a Client.Trace that writes each VBoxManage call to w: the
// argv, the attempt, the exit status, the duration and the first lines of
// its output. w is expected to redact secrets (the run log does); argv
// never holds one (passwords go in files).
func TraceTo(w io.Writer) func(Call) {
	var mu sync.Mutex
	return func(c Call) {
		var b strings.Builder
		status := fmt.Sprintf("exit %d", c.Result.ExitCode)
		if c.Err != nil && c.Result.ExitCode == 0 {
			status = "failed"
		}
		attempt := ""
		if c.Attempt > 1 {
			attempt = fmt.Sprintf(" (attempt %d)", c.Attempt)
		}
		fmt.Fprintf(&b, "%s vbox: VBoxManage %s%s: %s in %s\n", time.Now().Format("15:04:05.000"),
			strings.Join(quoteArgs(c.Args), " "), attempt, status, c.Duration.Round(time.Millisecond))
		traceStream(&b, "stdout", c.Result.Stdout)
		traceStream(&b, "stderr", c.Result.Stderr)
		if c.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", c.Err)
		}
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, b.String())
	}
}

func traceStream(b *strings.Builder, name, s string) {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if i == traceOutputLines {
			fmt.Fprintf(b, "  %s: … %d more line(s)\n", name, len(lines)-i)
			break
		}
		fmt.Fprintf(b, "  %s: %s\n", name, l)
	}
}

// quoteArgs shows arguments with spaces or quotes the way a shell would take them.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}
