package main

// The card's dependencies, pinned here until every package imports them.
import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/hashicorp/go-multierror"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/ssh/knownhosts"
	_ "golang.org/x/term"
)

func main() {}
