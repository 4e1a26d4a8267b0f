//go:build windows

package ui

import "os"

type resizeWatch struct{ c chan os.Signal }

// watchResize: Windows consoles send no SIGWINCH; the width is read at every tick.
func watchResize() resizeWatch { return resizeWatch{} }

func (resizeWatch) stop() {}
