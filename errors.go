package main

import (
	"errors"

	"labctl/vbox"
)

func isNotFound(err error) bool { return errors.Is(err, vbox.ErrNotFound) }
