package guest

import "strings"

// Sections splits a probe's output into its "@@ name" sections: a probe
// script echoes "@@ name" before each part, so one round trip answers
// several questions. Trailing newlines of each section are dropped.
func Sections(out string) map[string]string {
	sec := map[string]string{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "@@ "); ok {
			cur = strings.TrimSpace(name)
			sec[cur] = ""
			continue
		}
		if cur != "" {
			sec[cur] += line + "\n"
		}
	}
	for k, v := range sec {
		sec[k] = strings.TrimRight(v, "\n")
	}
	return sec
}
