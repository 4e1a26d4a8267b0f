//go:build !unix

package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// withLock falls back to an O_EXCL lock file where flock does not exist.
func withLock(fn func() error) error {
	p := filepath.Join(home, ".lock.excl")
	for {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer os.Remove(p)
	return fn()
}
