// Package guesttest fakes a guest for step tests: scripts are answered by
// the first matching rule, and every call is recorded for assertions.
package guesttest

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"labctl/guest"
)

// Matcher selects scripts.
type Matcher func(script string) bool

// Contains matches scripts containing s.
func Contains(s string) Matcher { return func(x string) bool { return strings.Contains(x, s) } }

// HasPrefix matches scripts starting with s.
func HasPrefix(s string) Matcher { return func(x string) bool { return strings.HasPrefix(x, s) } }

// Equal matches the script s exactly.
func Equal(s string) Matcher { return func(x string) bool { return x == s } }

// Match matches scripts the regular expression re matches.
func Match(re string) Matcher { return regexp.MustCompile(re).MatchString }

// Any matches every script.
func Any() Matcher { return func(string) bool { return true } }

// Handler answers a matched command.
type Handler func(cmd guest.Cmd) guest.Result

// Output answers with stdout and exit 0.
func Output(stdout string) Handler {
	return func(guest.Cmd) guest.Result { return guest.Result{Stdout: stdout} }
}

// Exit answers with an exit code and stderr.
func Exit(code int, stderr string) Handler {
	return func(guest.Cmd) guest.Result { return guest.Result{ExitCode: code, Stderr: stderr} }
}

type rule struct {
	match Matcher
	h     Handler
}

// Fake is a scripted guest. Unmatched scripts fail (exit 127) so a test
// notices a command it did not expect; set Lenient to answer them with exit 0.
type Fake struct {
	Name    string
	Lenient bool

	mu      sync.Mutex
	rules   []rule
	calls   []guest.Cmd
	files   map[string]guest.File
	uploads []guest.File
}

// New returns an empty fake named name.
func New(name string) *Fake { return &Fake{Name: name, files: map[string]guest.File{}} }

var _ guest.Executor = (*Fake)(nil)

// On adds a rule; earlier rules win.
func (f *Fake) On(m Matcher, h Handler) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{m, h})
	return f
}

// String names the fake.
func (f *Fake) String() string { return "fake " + f.Name }

// Run records cmd and answers from the first matching rule.
func (f *Fake) Run(ctx context.Context, cmd guest.Cmd) (guest.Result, error) {
	if err := ctx.Err(); err != nil {
		return guest.Result{ExitCode: -1}, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, cmd)
	var h Handler
	for _, r := range f.rules {
		if r.match(cmd.Script) {
			h = r.h
			break
		}
	}
	lenient := f.Lenient
	f.mu.Unlock()
	var res guest.Result
	switch {
	case h != nil:
		res = h(cmd)
	case lenient:
	default:
		res = guest.Result{ExitCode: 127, Stderr: "guesttest: no rule for script:\n" + cmd.Script}
	}
	if res.ExitCode != 0 {
		return res, &guest.ExitError{Node: f.Name, Script: firstLine(cmd.Script), ExitCode: res.ExitCode, Stderr: res.Stderr}
	}
	return res, nil
}

// Upload stores the file and reports whether content, mode or owner changed.
func (f *Fake) Upload(ctx context.Context, file guest.File) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, file)
	old, ok := f.files[file.Path]
	changed := !ok || !bytes.Equal(old.Content, file.Content) || old.Mode != file.Mode || old.Owner != file.Owner
	f.files[file.Path] = file
	return changed, nil
}

// Calls returns every command run so far.
func (f *Fake) Calls() []guest.Cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]guest.Cmd(nil), f.calls...)
}

// Received counts the commands m matches.
func (f *Fake) Received(m Matcher) int {
	n := 0
	for _, c := range f.Calls() {
		if m(c.Script) {
			n++
		}
	}
	return n
}

// File returns an uploaded file by path.
func (f *Fake) File(path string) (guest.File, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, ok := f.files[path]
	return file, ok
}

// Uploads returns every upload in order.
func (f *Fake) Uploads() []guest.File {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]guest.File(nil), f.uploads...)
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "set -") {
			return l
		}
	}
	return fmt.Sprintf("%q", s)
}
