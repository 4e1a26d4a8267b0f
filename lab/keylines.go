package lab

// KeyLines returns a function giving the line where a key path is written
// in TOML source ("check[2].node" → its line, else its closest written
// parent's, else 0), for other files labctl validates as strictly as
// lab.toml (exercise files).
func KeyLines(src []byte) func(path string) int {
	p := scanPositions(src)
	return p.line
}

// TOMLProblem turns a TOML syntax error from the decoder into a located
// Problem naming file.
func TOMLProblem(file string, err error) Problem { return tomlProblem(file, err) }
