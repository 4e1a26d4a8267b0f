package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile is the lock in the state folder that one labctl changing the lab
// holds. The operating system releases it when the holder's process ends,
// however it ends, so a killed labctl never leaves the lab locked; the
// holder's details stay in the file until a clean release empties it, which
// is how the next run knows it takes over from one that was stopped.
const LockFile = "lock"

// Holder is who holds (or held) a lab's lock.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Host    string    `json:"host,omitempty"`
}

// String is how messages name the holder: "`labctl up` (pid 42, started 16:02:11)".
func (h Holder) String() string {
	s := fmt.Sprintf("`labctl %s` (pid %d", h.Command, h.PID)
	if h.Host != "" {
		s += " on " + h.Host
	}
	if !h.Started.IsZero() {
		s += ", started " + h.Started.Local().Format("2006-01-02 15:04:05")
	}
	return s + ")"
}

// BusyError says another labctl holds the lab's lock.
type BusyError struct {
	Lab    string
	Holder Holder // zero when the holder has not written its details yet
	Now    time.Time
}

func (e *BusyError) Error() string {
	who := "another labctl"
	if e.Holder.PID != 0 {
		who = e.Holder.String()
		if !e.Holder.Started.IsZero() && !e.Now.IsZero() {
			who += fmt.Sprintf(", %s ago", e.Now.Sub(e.Holder.Started).Round(time.Second))
		}
	}
	return fmt.Sprintf("lab %q is busy: %s is changing it; wait for it to finish (or stop it), then run this again. "+
		"status, info, plan and list work meanwhile", e.Lab, who)
}

// ErrBusy matches a BusyError with errors.Is.
var ErrBusy = errors.New("lab is busy")

// Is makes errors.Is(err, ErrBusy) true for a BusyError.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Lock is a held lab lock. TookOver is the holder of a lock whose process
// ended without releasing it (killed, crashed, power lost), nil otherwise.
type Lock struct {
	f        *os.File
	dir      string
	TookOver *Holder
	// tidy: the folder is removed at release when only the lock is left in
	// it, because this run made it or emptied it (down); a folder that was
	// already empty is someone's and stays.
	tidy bool
}

// AcquireLock takes the lock of the lab whose state folder is dir (created
// 0700 when missing) for command, without waiting: a lock held by a live
// labctl is a *BusyError naming it.
func AcquireLock(dir, lab, command string) (*Lock, error) {
	entries, err := os.ReadDir(dir)
	tidy := errors.Is(err, os.ErrNotExist) || len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != LockFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock lab %q: %w", lab, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock lab %q: %w", lab, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock lab %q (%s): %w", lab, path, err)
	}
	if !ok {
		h, _ := readHolder(f)
		f.Close()
		return nil, &BusyError{Lab: lab, Holder: h, Now: time.Now()}
	}
	l := &Lock{f: f, dir: dir, tidy: tidy}
	if prev, err := readHolder(f); err == nil && prev.PID != 0 {
		l.TookOver = &prev
	}
	host, _ := os.Hostname()
	me := Holder{PID: os.Getpid(), Command: command, Started: time.Now().UTC().Truncate(time.Second), Host: host}
	data, _ := json.Marshal(me)
	if err := rewrite(f, append(data, '\n')); err != nil {
		_ = unlock(f)
		f.Close()
		return nil, fmt.Errorf("lock lab %q: write %s: %w", lab, path, err)
	}
	return l, nil
}

// ReadHolder returns who holds the lock of the lab in dir, and whether it
// is held now (false: free, or left by a process that has ended).
func ReadHolder(dir string) (Holder, bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, err
	}
	defer f.Close()
	h, _ := readHolder(f)
	ok, err := tryLock(f)
	if err != nil {
		return h, false, err
	}
	if ok {
		_ = unlock(f)
		return h, false, nil
	}
	return h, true, nil
}

// Release empties the lock file (a clean end leaves no holder behind) and
// lets the lock go. A state folder that `down` emptied is removed with it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := rewrite(l.f, nil)
	if uerr := unlock(l.f); err == nil {
		err = uerr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if entries, rerr := os.ReadDir(l.dir); l.tidy && rerr == nil && len(entries) == 1 && entries[0].Name() == LockFile {
		_ = os.Remove(filepath.Join(l.dir, LockFile))
		_ = os.Remove(l.dir)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func readHolder(f *os.File) (Holder, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Holder{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	if strings.TrimSpace(string(data)) == "" {
		return h, nil
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return Holder{}, err
	}
	return h, nil
}

func rewrite(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}
