package main

import (
	"errors"

	"labctl/vbox"
)

// Exit statuses, as the README documents them.
const (
	exitOK          = 0
	exitFailed      = 1   // a command ran and failed (a step, verify, a drill)
	exitUsage       = 2   // bad flags or arguments, an unknown command, a bad lab.toml
	exitNoVBox      = 3   // VirtualBox missing or unusable
	exitBusy        = 4   // another labctl is changing this lab (its lock is held)
	exitInterrupted = 130 // Ctrl-C or SIGTERM
)

func isNotFound(err error) bool { return errors.Is(err, vbox.ErrNotFound) }
