// Package redact is the one place secrets are hidden: in strings (errors,
// plans, scripts shown to the user) and in streams (run logs, --verbose).
// Longer secrets win where one contains another, so no fragment is left.
package redact

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// Placeholder replaces a secret in logs, errors and printed plans.
const Placeholder = "<redacted>"

// String replaces every occurrence of each secret in s with <redacted>.
// Longer secrets win when one contains another.
func String(s string, secrets ...string) string {
	r := newReplacer(secrets)
	if r == nil {
		return s
	}
	return r.Replace(s)
}

func newReplacer(secrets []string) *strings.Replacer {
	list := uniqueSecrets(secrets)
	if len(list) == 0 {
		return nil
	}
	pairs := make([]string, 0, 2*len(list))
	for _, s := range list {
		pairs = append(pairs, s, Placeholder)
	}
	return strings.NewReplacer(pairs...)
}

// uniqueSecrets drops empty values (they would match everywhere) and
// duplicates, longest first so the Replacer prefers the longest match.
func uniqueSecrets(secrets []string) []string {
	seen := map[string]bool{}
	var list []string
	for _, s := range secrets {
		if s != "" && !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	return list
}

// maxPending bounds what a Writer holds back waiting for a line end
// (progress output may never send one).
const maxPending = 64 << 10

// Writer is an io.Writer that hides secrets before passing text on. It
// holds back an unfinished line so a secret split across two Write calls is
// still caught; Flush (or Close) writes what is left. Secrets containing a
// line break are not supported (generated ones never do). Safe for
// concurrent use.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	r       *strings.Replacer
	maxLen  int
	secrets []string
	pending []byte
}

// NewWriter wraps w.
func NewWriter(w io.Writer, secrets []string) *Writer {
	rd := &Writer{w: w}
	rd.setSecrets(secrets)
	return rd
}

// AddSecrets adds values to hide from now on (e.g. a password read later).
func (rd *Writer) AddSecrets(secrets ...string) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.setSecrets(append(append([]string(nil), rd.secrets...), secrets...))
}

func (rd *Writer) setSecrets(secrets []string) {
	rd.secrets = uniqueSecrets(secrets)
	rd.r = newReplacer(rd.secrets)
	rd.maxLen = 0
	if len(rd.secrets) > 0 {
		rd.maxLen = len(rd.secrets[0])
	}
}

// Write always accepts all of p; an error is the underlying writer's.
func (rd *Writer) Write(p []byte) (int, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.pending = append(rd.pending, p...)
	cut := lastLineEnd(rd.pending)
	if cut < 0 && len(rd.pending) > maxPending {
		cut = rd.safeCut()
	}
	if cut <= 0 {
		return len(p), nil
	}
	err := rd.emit(cut)
	return len(p), err
}

// lastLineEnd returns the index just past the last '\n' or '\r', or -1.
func lastLineEnd(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' || b[i] == '\r' {
			return i + 1
		}
	}
	return -1
}

// safeCut picks how much of a long unfinished line can go out: all but the
// last maxLen-1 bytes (which may start a secret), moved back to the start
// of any secret straddling the cut.
func (rd *Writer) safeCut() int {
	if rd.maxLen == 0 {
		return len(rd.pending)
	}
	cut := len(rd.pending) - (rd.maxLen - 1)
	s := string(rd.pending)
	// Moving the cut back can make another secret straddle it: repeat until stable.
	for moved := true; moved && cut > 0; {
		moved = false
		for _, sec := range rd.secrets {
			for from := max(0, cut-len(sec)+1); from < cut; {
				i := strings.Index(s[from:], sec)
				if i < 0 || from+i >= cut {
					break
				}
				if start := from + i; start+len(sec) > cut {
					cut, moved = start, true
					break
				}
				from += i + 1
			}
		}
	}
	return cut
}

func (rd *Writer) emit(n int) error {
	chunk := string(rd.pending[:n])
	rd.pending = append(rd.pending[:0], rd.pending[n:]...)
	if rd.r != nil {
		chunk = rd.r.Replace(chunk)
	}
	_, err := io.WriteString(rd.w, chunk)
	return err
}

// Flush writes whatever is held back.
func (rd *Writer) Flush() error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if len(rd.pending) == 0 {
		return nil
	}
	return rd.emit(len(rd.pending))
}

// Close flushes; it does not close the underlying writer.
func (rd *Writer) Close() error { return rd.Flush() }
