package guest

import (
	"context"
	"labctl/redact"
	"sync"
)

// Recorder is the Executor of `labctl plan`: it runs nothing, records every
// script and file (secrets redacted) and answers exit 0, printing what the
// command's Fresh says a fresh lab's node prints (nothing by default), so
// Apply functions run unchanged and the plan shows exactly what `up` sends.
type Recorder struct {
	Node    string
	secrets []string

	mu    sync.Mutex
	calls []Cmd
	files []File
}

// NewRecorder returns a Recorder for node; secrets are redacted from
// everything it records.
func NewRecorder(node string, secrets ...string) *Recorder {
	return &Recorder{Node: node, secrets: secrets}
}

var _ Executor = (*Recorder)(nil)

// String names the executor for logs.
func (r *Recorder) String() string { return "plan " + r.Node }

// Run records cmd, redacted, and succeeds with cmd's Fresh answer.
func (r *Recorder) Run(_ context.Context, cmd Cmd) (Result, error) {
	secrets := append(append([]string{}, r.secrets...), cmd.Redact...)
	rec := Cmd{Script: redact.String(cmd.Script, secrets...)}
	if cmd.Stdin != nil {
		rec.Stdin = []byte(redact.String(string(cmd.Stdin), secrets...))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var res Result
	if cmd.Fresh != nil {
		res.Stdout = cmd.Fresh(append([]Cmd(nil), r.calls...))
	}
	r.calls = append(r.calls, rec)
	return res, nil
}

// Upload records f with its content redacted and reports a change.
func (r *Recorder) Upload(_ context.Context, f File) (bool, error) {
	f.Content = []byte(redact.String(string(f.Content), r.secrets...))
	r.mu.Lock()
	r.files = append(r.files, f)
	r.mu.Unlock()
	return true, nil
}

// Calls returns the recorded commands in order.
func (r *Recorder) Calls() []Cmd {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Cmd(nil), r.calls...)
}

// Files returns the recorded uploads in order.
func (r *Recorder) Files() []File {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]File(nil), r.files...)
}
