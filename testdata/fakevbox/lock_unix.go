//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// withLock runs fn holding an exclusive flock on $FAKEVBOX_HOME/.lock, so
// concurrent fake invocations see and update one consistent state.
func withLock(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(home, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}
