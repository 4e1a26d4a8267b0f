package exercise

// What the lab's state folder records of the exercise in progress: which
// one, when it started and its bindings (active.json), and every start,
// check, hint and solve with its time (results.jsonl, appended). A reset
// removes both, so no result survives it.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StoreDir is the exercise's folder inside the lab's state folder.
const StoreDir = "exercise"

// Event kinds in the results file.
const (
	EventStart = "start"
	EventCheck = "check"
	EventHint  = "hint"
	EventSolve = "solve"
)

// Store is the exercise's folder in the lab's state folder.
type Store struct{ Dir string }

// NewStore returns the store inside stateDir (created on first write).
func NewStore(stateDir string) *Store { return &Store{Dir: filepath.Join(stateDir, StoreDir)} }

// Active is the exercise in progress.
type Active struct {
	Exercise string    `json:"exercise"`
	Source   string    `json:"source"`
	Profile  string    `json:"profile"`
	Started  time.Time `json:"started"`
	Bindings Bindings  `json:"bindings"`
}

// Event is one line of the results file.
type Event struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"event"`
	Exercise string    `json:"exercise"`
	Passed   bool      `json:"passed,omitempty"`
	Failed   []string  `json:"failed,omitempty"` // check names that failed
	Hint     int       `json:"hint,omitempty"`   // 1-based
}

func (s *Store) activePath() string  { return filepath.Join(s.Dir, "active.json") }
func (s *Store) resultsPath() string { return filepath.Join(s.Dir, "results.jsonl") }

// ResultsPath is the results file, for messages.
func (s *Store) ResultsPath() string { return s.resultsPath() }

// Active returns the exercise in progress, or nil.
func (s *Store) Active() (*Active, error) {
	data, err := os.ReadFile(s.activePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the exercise in progress: %w", err)
	}
	var a Active
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("the exercise record %s is unreadable (%v): `labctl exercise reset` clears it", s.activePath(), err)
	}
	return &a, nil
}

// Begin records a as in progress, with a fresh results file holding its start.
func (s *Store) Begin(a *Active) error {
	if err := s.Clear(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("record the exercise: %w", err)
	}
	data, _ := json.MarshalIndent(a, "", "  ")
	if err := writeFile(s.activePath(), append(data, '\n')); err != nil {
		return fmt.Errorf("record the exercise: %w", err)
	}
	return s.Append(Event{At: a.Started, Kind: EventStart, Exercise: a.Exercise})
}

// Append adds one event to the results file.
func (s *Store) Append(ev Event) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("record the result: %w", err)
	}
	f, err := os.OpenFile(s.resultsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record the result: %w", err)
	}
	line, _ := json.Marshal(ev)
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("record the result: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("record the result: %w", err)
	}
	return f.Close()
}

// Events reads the results file (none when it does not exist).
func (s *Store) Events() ([]Event, error) {
	f, err := os.Open(s.resultsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the exercise results: %w", err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("the exercise results %s line %d are unreadable: %v", s.resultsPath(), n, err)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// Clear removes the exercise in progress and every recorded result.
func (s *Store) Clear() error {
	for _, p := range []string{s.activePath(), s.resultsPath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear the exercise results: %w", err)
		}
	}
	return nil
}

// writeFile replaces path atomically with a 0600 file.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o600)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}
