//go:build !windows

package ui

import (
	"os"
	"os/signal"
	"syscall"
)

type resizeWatch struct{ c chan os.Signal }

// watchResize delivers SIGWINCH, so the live line is redrawn for a new width at once.
func watchResize() resizeWatch {
	w := resizeWatch{c: make(chan os.Signal, 1)}
	signal.Notify(w.c, syscall.SIGWINCH)
	return w
}

func (w resizeWatch) stop() { signal.Stop(w.c) }
