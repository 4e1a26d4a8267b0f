package main

import (
	"os"

	"labctl/internal/tty"
)

func isTerminal(f *os.File) bool { return tty.Is(f) }
