package exercise

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"labctl/lab"
)

//go:embed builtin/*.toml
var builtinFS embed.FS

// BuiltIn is Exercise.Source for the embedded exercises.
const BuiltIn = "built-in"

// Catalog is every exercise available to a lab, by name.
type Catalog struct {
	byName map[string]*Exercise
}

// Load reads the built-in exercises, then the *.toml files of dir (when
// set), which add to or override them by name. Problems in any file are
// reported all at once, each with its file and line.
func Load(dir string) (*Catalog, error) {
	c := &Catalog{byName: map[string]*Exercise{}}
	var errs []lab.Problem
	add := func(e *Exercise, err error) {
		var ce *lab.ConfigError
		switch {
		case errors.As(err, &ce):
			errs = append(errs, ce.Problems...)
		case err != nil:
			errs = append(errs, lab.Problem{Msg: err.Error()})
		default:
			c.byName[e.Name] = e
		}
	}
	builtin, _ := fs.Glob(builtinFS, "builtin/*.toml")
	for _, f := range builtin {
		data, err := builtinFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		e, err := Parse(BuiltIn+":"+filepath.Base(f), data)
		if e != nil {
			e.Source = BuiltIn
		}
		add(e, err)
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
		if err != nil {
			return nil, fmt.Errorf("exercise folder %s: %w", dir, err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("exercise folder %s (exercises.dir in lab.toml, or --exercises) is not a folder", dir)
		}
		seen := map[string]string{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read exercise file: %w", err)
			}
			e, err := Parse(f, data)
			if e != nil {
				if other, dup := seen[e.Name]; dup {
					errs = append(errs, lab.Problem{File: f, Line: 1, Key: "name", Msg: fmt.Sprintf("%q is also the name of %s; names must be unique", e.Name, other)})
					continue
				}
				seen[e.Name] = f
			}
			add(e, err)
		}
	}
	if len(errs) > 0 {
		return nil, &lab.ConfigError{Problems: errs}
	}
	return c, nil
}

// All returns the exercises sorted by level, then name.
func (c *Catalog) All() []*Exercise {
	out := make([]*Exercise, 0, len(c.byName))
	for _, e := range c.byName {
		out = append(out, e)
	}
	rank := func(l string) int {
		for i, v := range Levels {
			if v == l {
				return i
			}
		}
		return len(Levels)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Level), rank(out[j].Level); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// NotFoundError is an exercise name the catalog does not have.
type NotFoundError struct {
	Name  string
	Known []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no exercise named %q; known: %s (see `labctl exercise list`)", e.Name, strings.Join(e.Known, ", "))
}

// Get returns the named exercise.
func (c *Catalog) Get(name string) (*Exercise, error) {
	if e, ok := c.byName[name]; ok {
		return e, nil
	}
	var known []string
	for _, e := range c.All() {
		known = append(known, e.Name)
	}
	return nil, &NotFoundError{Name: name, Known: known}
}
