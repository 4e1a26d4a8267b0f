package guest

import (
	"fmt"
	"io"
	"labctl/redact"
	"strings"
)

// trimOutput keeps an error message readable: the last lines of stderr.
func trimOutput(s string) string {
	s = strings.TrimSpace(s)
	const max = 2000
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}

func logCmd(w io.Writer, node, script string, secrets []string) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "%s: $ %s\n", node, strings.ReplaceAll(redact.String(strings.TrimSpace(script), secrets...), "\n", "\n"+node+": > "))
}

func logResult(w io.Writer, node string, r Result, secrets []string) {
	if w == nil {
		return
	}
	for _, s := range []struct{ name, text string }{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		t := strings.TrimSpace(redact.String(s.text, secrets...))
		if t == "" {
			continue
		}
		for _, l := range strings.Split(t, "\n") {
			fmt.Fprintf(w, "%s: %s: %s\n", node, s.name, l)
		}
	}
	if r.ExitCode != 0 {
		fmt.Fprintf(w, "%s: exit %d\n", node, r.ExitCode)
	}
}

// errorOutput is what explains a failed command: its stderr, or its stdout
// when it wrote nothing there (some tools report errors on stdout).
func errorOutput(r Result) string {
	if strings.TrimSpace(r.Stderr) != "" {
		return r.Stderr
	}
	return r.Stdout
}
