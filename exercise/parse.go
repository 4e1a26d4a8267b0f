package exercise

// Reading exercise files as strictly as lab.toml: every unknown key, wrong
// type, missing or invalid value is reported with its line, all at once.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"labctl/internal/textdist"
	"labctl/lab"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,47}$`)

// Parse reads one exercise file; file names it in errors. Problems come
// back as a *lab.ConfigError, one lab.Problem per line.
func Parse(file string, data []byte) (*Exercise, error) {
	ps := &problems{file: file, line: lab.KeyLines(data)}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		p := lab.Problem{File: file, Msg: "is not valid TOML: " + err.Error()}
		if errors.As(err, &pe) {
			p = lab.Problem{File: file, Line: pe.Position.Line, Key: pe.LastKey,
				Msg: "is not valid TOML: " + pe.Message + " (strings need double quotes, scripts fit in '''triple quotes''')"}
		}
		return nil, &lab.ConfigError{Problems: []lab.Problem{p}}
	}
	e := &Exercise{Source: file}
	w := walker{ps}
	defined := map[string]bool{}
	w.table("", raw, defined, []field{
		{"name", w.str(&e.Name)},
		{"title", w.str(&e.Title)},
		{"level", w.str(&e.Level)},
		{"profiles", w.strs(&e.Profiles)},
		{"scenario", w.str(&e.Scenario)},
		{"goal", w.str(&e.Goal)},
		{"hints", w.strs(&e.Hints)},
		{"break", func(p string, v any) { e.Break = w.actions(p, v) }},
		{"check", func(p string, v any) { e.Checks = w.checks(p, v) }},
		{"solution", func(p string, v any) { e.Solution = w.actions(p, v) }},
	})
	e.validate(ps, defined)
	if len(ps.list) > 0 {
		sort.SliceStable(ps.list, func(i, j int) bool { return ps.list[i].Line < ps.list[j].Line })
		return nil, &lab.ConfigError{Problems: ps.list}
	}
	return e, nil
}

type problems struct {
	file string
	line func(string) int
	list []lab.Problem
	bad  map[string]bool // keys whose value had the wrong type: reported once
}

func (ps *problems) add(key, format string, args ...any) {
	if ps.bad[key] {
		return
	}
	ps.list = append(ps.list, lab.Problem{File: ps.file, Line: ps.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) typeErr(key, format string, args ...any) {
	ps.add(key, format, args...)
	if ps.bad == nil {
		ps.bad = map[string]bool{}
	}
	ps.bad[key] = true
}

type walker struct{ ps *problems }

type field struct {
	name string
	set  func(path string, v any)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// table dispatches a table's keys to fields and reports unknown ones with
// the nearest known key.
func (w walker) table(path string, v any, defined map[string]bool, fields []field) {
	m, ok := v.(map[string]any)
	if !ok {
		w.ps.typeErr(path, "must be a table, not a %s", lab.TOMLType(v))
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	for _, k := range keys {
		p := join(path, k)
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == k })
		if i < 0 {
			msg := "is not a known key."
			if s := textdist.Closest(k, names); s != "" {
				msg = fmt.Sprintf("is not a known key; did you mean %q?", s)
			}
			w.ps.add(p, "%s Known keys here: %s", msg, strings.Join(names, ", "))
			continue
		}
		if defined != nil {
			defined[k] = true
		}
		fields[i].set(p, m[k])
	}
}

func (w walker) str(dst *string) func(string, any) {
	return func(p string, v any) {
		s, ok := v.(string)
		if !ok {
			w.ps.typeErr(p, "must be a quoted string, not a %s", lab.TOMLType(v))
			return
		}
		*dst = s
	}
}

func (w walker) integer(dst *int) func(string, any) {
	return func(p string, v any) {
		n, ok := v.(int64)
		if !ok {
			w.ps.typeErr(p, "must be a whole number without quotes, not a %s", lab.TOMLType(v))
			return
		}
		*dst = int(max(min(n, 1<<20), -1<<20))
	}
}

func (w walker) strs(dst *[]string) func(string, any) {
	return func(p string, v any) {
		list, ok := v.([]any)
		if !ok {
			w.ps.typeErr(p, "must be a list of quoted strings, e.g. [\"a\", \"b\"], not a %s", lab.TOMLType(v))
			return
		}
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				w.ps.typeErr(fmt.Sprintf("%s[%d]", p, i), "must be a quoted string, not a %s", lab.TOMLType(e))
				continue
			}
			*dst = append(*dst, s)
		}
	}
}

// elems returns the tables of an array of tables.
func (w walker) elems(p string, v any) []any {
	switch t := v.(type) {
	case []map[string]any:
		out := make([]any, len(t))
		for i := range t {
			out[i] = t[i]
		}
		return out
	case []any:
		return t
	}
	w.ps.typeErr(p, "must be a list of tables written as [[%s]], not a %s", p, lab.TOMLType(v))
	return nil
}

func (w walker) actions(p string, v any) []Action {
	var out []Action
	for i, el := range w.elems(p, v) {
		var a Action
		w.table(fmt.Sprintf("%s[%d]", p, i), el, nil, []field{
			{"node", w.str(&a.Node)},
			{"script", w.str(&a.Script)},
			{"stdin", w.str(&a.Stdin)},
			{"do", w.str(&a.Do)},
			{"pause", w.integer(&a.Pause)},
		})
		out = append(out, a)
	}
	return out
}

func (w walker) checks(p string, v any) []Check {
	var out []Check
	for i, el := range w.elems(p, v) {
		c := Check{Exit: -1}
		w.table(fmt.Sprintf("%s[%d]", p, i), el, nil, []field{
			{"name", w.str(&c.Name)},
			{"type", w.str(&c.Type)},
			{"hint", w.str(&c.Hint)},
			{"node", w.str(&c.Node)},
			{"script", w.str(&c.Script)},
			{"exit", w.integer(&c.Exit)},
			{"output", w.str(&c.Output)},
			{"service", w.str(&c.Service)},
			{"note", w.str(&c.Note)},
		})
		out = append(out, c)
	}
	return out
}

// validate checks values once every key is read.
func (e *Exercise) validate(ps *problems, defined map[string]bool) {
	required := func(key, val, example string) {
		if !defined[key] {
			ps.list = append(ps.list, lab.Problem{File: ps.file, Line: 1, Key: key, Msg: "is missing; add " + example})
		} else if strings.TrimSpace(val) == "" {
			ps.add(key, "is empty; write %s", example)
		}
	}
	required("name", e.Name, `name = "primary-crash" (what students type)`)
	if e.Name != "" && !nameRE.MatchString(e.Name) {
		ps.add("name", "%q is not a usable exercise name: lower-case letters, digits and '-', at most 48, e.g. \"primary-crash\"", e.Name)
	}
	required("title", e.Title, `title = "..." (one line)`)
	if strings.Contains(e.Title, "\n") {
		ps.add("title", "must be one line")
	}
	required("level", e.Level, `level = "beginner" (or "intermediate", "advanced")`)
	if e.Level != "" && !slices.Contains(Levels, e.Level) {
		ps.add("level", "%q is not a level; use one of %s", e.Level, strings.Join(Levels, ", "))
	}
	if !defined["profiles"] || len(e.Profiles) == 0 {
		ps.add("profiles", "must list the guest OS profiles the exercise works on, e.g. profiles = [\"el8\", \"el9\", \"debian\"]")
	}
	for i, p := range e.Profiles {
		if !slices.Contains(lab.Profiles, p) {
			ps.add(fmt.Sprintf("profiles[%d]", i), "%q is not a guest OS profile; use %s", p, strings.Join(lab.Profiles, ", "))
		}
	}
	required("scenario", e.Scenario, `scenario = """...""" (the symptoms, as the student sees them)`)
	required("goal", e.Goal, `goal = """...""" (what the repaired lab does)`)
	if len(e.Hints) == 0 {
		ps.add("hints", "must list at least one hint, e.g. hints = [\"Look at ...\"]")
	}
	for i, h := range e.Hints {
		if strings.TrimSpace(h) == "" {
			ps.add(fmt.Sprintf("hints[%d]", i), "is empty")
		}
	}
	if len(e.Break) == 0 {
		ps.add("break", "is missing: add at least one [[break]] table with node and script (how the exercise breaks the lab)")
	}
	if len(e.Checks) == 0 {
		ps.add("check", "is missing: add at least one [[check]] table (how labctl knows the lab is repaired)")
	}
	if len(e.Solution) == 0 {
		ps.add("solution", "is missing: add at least one [[solution]] table (the reference fix; `exercise solve` runs it and the tests prove it works)")
	}
	for i := range e.Break {
		e.Break[i].validate(ps, fmt.Sprintf("break[%d]", i))
	}
	for i := range e.Solution {
		e.Solution[i].validate(ps, fmt.Sprintf("solution[%d]", i))
	}
	for i := range e.Checks {
		e.Checks[i].validate(ps, fmt.Sprintf("check[%d]", i))
	}
}

func (a *Action) validate(ps *problems, key string) {
	switch {
	case a.Do != "":
		if !slices.Contains(Dos, a.Do) {
			ps.add(key+".do", "%q is not a typed action; use one of %s, or node and script", a.Do, strings.Join(Dos, ", "))
		}
		if a.Script != "" || a.Node != "" || a.Stdin != "" {
			ps.add(key+".do", "goes alone: a typed action takes no node, script or stdin")
		}
	case a.Script == "" && a.Node == "":
		ps.add(key, "needs node and script (or a typed action: do = %q)", DoRebootGroup)
	default:
		checkNode(ps, key+".node", a.Node)
		if strings.TrimSpace(a.Script) == "" {
			ps.add(key+".script", "is missing or empty; write the commands to run on %s", a.Node)
		}
	}
	if a.Stdin != "" && !slices.Contains(StdinSecrets, a.Stdin) {
		ps.add(key+".stdin", "%q is not a secret labctl can send; use one of %s", a.Stdin, strings.Join(StdinSecrets, ", "))
	}
	if a.Pause < 0 || a.Pause > 600 {
		ps.add(key+".pause", "must be between 0 and 600 seconds")
	}
}

func checkNode(ps *problems, key, sel string) {
	switch {
	case sel == "":
		ps.add(key, "is missing; name the node(s): %s", NodeSelector)
	case !nodeSelectorRE.MatchString(sel):
		ps.add(key, "%q is not a node selector; use %s", sel, NodeSelector)
	}
}

func (c *Check) validate(ps *problems, key string) {
	if strings.TrimSpace(c.Name) == "" {
		ps.add(key+".name", "is missing; say what the check checks, as the student reads it")
	}
	if strings.TrimSpace(c.Hint) == "" {
		ps.add(key+".hint", "is missing; write what to look at when this check fails")
	}
	// only lists the keys a type takes; any other set key is a mistake.
	set := map[string]bool{"node": c.Node != "", "script": c.Script != "", "exit": c.Exit != -1,
		"output": c.Output != "", "service": c.Service != "", "note": c.Note != ""}
	only := func(keys ...string) {
		for _, k := range []string{"node", "script", "exit", "output", "service", "note"} {
			if set[k] && !slices.Contains(keys, k) {
				ps.add(key+"."+k, "does not apply to a %s check", c.Type)
			}
		}
	}
	switch c.Type {
	case CheckCommand:
		only("node", "script", "exit", "output")
		checkNode(ps, key+".node", c.Node)
		if strings.TrimSpace(c.Script) == "" {
			ps.add(key+".script", "is missing; write the command whose exit status (and output) says the check passes")
		}
		if c.Exit < -1 || c.Exit > 255 {
			ps.add(key+".exit", "must be an exit status, 0-255")
		}
		if c.Output != "" {
			re, err := regexp.Compile(c.Output)
			if err != nil {
				ps.add(key+".output", "is not a regular expression: %v", err)
			}
			c.output = re
		}
	case CheckService:
		only("node", "service")
		checkNode(ps, key+".node", c.Node)
		if !slices.Contains(Services, c.Service) {
			ps.add(key+".service", "%q is not a service labctl knows; use one of %s", c.Service, strings.Join(Services, ", "))
		}
	case CheckRow:
		only("note")
	case CheckGroup, CheckVIP, CheckWordPress, CheckVerify:
		only()
	case "":
		ps.add(key+".type", "is missing; use one of %s", strings.Join(CheckTypes, ", "))
	default:
		ps.add(key+".type", "%q is not a check type; use one of %s", c.Type, strings.Join(CheckTypes, ", "))
	}
	if c.Exit == -1 {
		c.Exit = 0
	}
	if c.Note == "" && c.Type == CheckRow {
		c.Note = BeforeNote
	}
}
