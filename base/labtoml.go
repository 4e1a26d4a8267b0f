package base

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"labctl/lab"
)

// Settings are the [base] keys a base calls for in lab.toml; empty fields
// are left as the file has them.
type Settings struct {
	VM      string // base.vm
	User    string // base.user (guest control)
	SSHUser string // base.ssh_user
	Profile string // base.profile
}

func (s Settings) pairs() [][2]string {
	var kv [][2]string
	for _, p := range [][2]string{{"vm", s.VM}, {"user", s.User}, {"ssh_user", s.SSHUser}, {"profile", s.Profile}} {
		if p[1] != "" {
			kv = append(kv, p)
		}
	}
	return kv
}

// TOML is the settings as a [base] table to paste into lab.toml.
func (s Settings) TOML() string {
	var b strings.Builder
	b.WriteString("[base]\n")
	for _, p := range s.pairs() {
		fmt.Fprintf(&b, "%s = %s\n", p[0], tomlString(p[1]))
	}
	return b.String()
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var (
	tableRE = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\- ]+?)\s*\]\s*(#.*)?$`)
	arrayRE = regexp.MustCompile(`^\s*\[\[`)
	// key = "basic" | 'literal' [# comment]: the value is replaced, the
	// indentation and the comment stay.
	keyRE = regexp.MustCompile(`^(\s*)([A-Za-z0-9_\-]+)(\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(\s*(?:#.*)?)$`)
)

// EditLab returns lab.toml text with the settings written into its [base]
// table: a key already there keeps its line, indentation and comment and
// gets the new value; a missing key is added after the table's last key; a
// file without [base] gets one at the end. The result must parse as a lab.
func EditLab(name string, data []byte, s Settings) ([]byte, error) {
	lines := strings.SplitAfter(string(data), "\n")
	want := map[string]string{}
	for _, p := range s.pairs() {
		want[p[0]] = p[1]
	}
	done := map[string]bool{}
	inBase, baseSeen := false, false
	lastKey := -1
	for i, l := range lines {
		body := strings.TrimRight(l, "\r\n")
		if m := tableRE.FindStringSubmatch(body); m != nil && !arrayRE.MatchString(body) {
			inBase = m[1] == "base"
			if inBase {
				baseSeen, lastKey = true, i
			}
			continue
		}
		if arrayRE.MatchString(body) {
			inBase = false
			continue
		}
		if !inBase {
			continue
		}
		m := keyRE.FindStringSubmatch(body)
		if m == nil {
			if strings.Contains(body, "=") && !strings.HasPrefix(strings.TrimSpace(body), "#") {
				lastKey = i
				if k := strings.TrimSpace(strings.SplitN(body, "=", 2)[0]); want[k] != "" {
					return nil, fmt.Errorf("%s: cannot rewrite the line of base.%s (%q): write it as key = \"value\"", name, k, strings.TrimSpace(body))
				}
			}
			continue
		}
		lastKey = i
		if v, ok := want[m[2]]; ok {
			lines[i] = m[1] + m[2] + m[3] + tomlString(v) + m[5] + l[len(body):]
			done[m[2]] = true
		}
	}
	var add strings.Builder
	for _, p := range s.pairs() {
		if !done[p[0]] {
			fmt.Fprintf(&add, "%s = %s\n", p[0], tomlString(p[1]))
		}
	}
	var out string
	switch {
	case add.Len() == 0:
		out = strings.Join(lines, "")
	case baseSeen:
		if !strings.HasSuffix(lines[lastKey], "\n") {
			lines[lastKey] += "\n"
		}
		lines[lastKey] += add.String()
		out = strings.Join(lines, "")
	default:
		out = strings.Join(lines, "")
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += "\n[base]\n" + add.String()
	}
	if _, err := lab.Parse(name, []byte(out)); err != nil {
		return nil, fmt.Errorf("the edited lab file would not be valid, so it was not written: %w", err)
	}
	return []byte(out), nil
}

// WriteLab writes the settings into the lab file at path, keeping its
// comments; when path does not exist it starts from template (the
// built-in lab). The file is replaced atomically.
func WriteLab(path string, template []byte, s Settings) error {
	data, err := os.ReadFile(path)
	mode := os.FileMode(0o644)
	switch {
	case os.IsNotExist(err):
		data = template
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	out, err := EditLab(path, data, s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lab.toml-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
