package labenv

import (
	"errors"
	"io"
	"os"
	"sync"

	"labctl/lab"
	"labctl/redact"
)

// RunLog is one run's log: a 0600 file in the state folder and, with
// --verbose, the same lines on a second writer; secrets are hidden in both.
type RunLog struct {
	Path  string
	mu    sync.Mutex
	file  *os.File
	sinks []*redact.Writer
	w     io.Writer
}

// OpenRunLog creates the log of one run of command.
func OpenRunLog(st *lab.State, command string, secrets []string, verbose io.Writer) (*RunLog, error) {
	path, f, err := st.NewRunLog(command)
	if err != nil {
		return nil, err
	}
	l := &RunLog{Path: path, file: f, sinks: []*redact.Writer{redact.NewWriter(f, secrets)}}
	if verbose != nil {
		l.sinks = append(l.sinks, redact.NewWriter(verbose, secrets))
	}
	ws := make([]io.Writer, len(l.sinks))
	for i, sk := range l.sinks {
		ws[i] = sk
	}
	l.w = io.MultiWriter(ws...)
	return l, nil
}

func (l *RunLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// AddSecrets hides values learnt after the log was opened (the guest password).
func (l *RunLog) AddSecrets(v ...string) {
	for _, sk := range l.sinks {
		sk.AddSecrets(v...)
	}
}

// Close flushes every sink and closes the file, reporting every failure:
// every error message points to this log, so a cut-short log must be said.
func (l *RunLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, sk := range l.sinks {
		errs = append(errs, sk.Flush())
	}
	errs = append(errs, l.file.Sync(), l.file.Close())
	return errors.Join(errs...)
}
