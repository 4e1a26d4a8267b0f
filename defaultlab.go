package main

import _ "embed"

// defaultLabTOML is the lab used when no --lab FILE is given and ./lab.toml
// is absent: the same file as lab.toml at the repository root.
//
//go:embed lab.toml
var defaultLabTOML []byte
