package lab

import (
	"sort"
	"strconv"
	"strings"
)

// positions maps key paths ("base.vm", "nodes[3].ip", "nodes[3]") to the
// line where they are written. The TOML library does not export key
// positions, so this scans the source itself. It runs on any bytes (the fuzz
// test feeds it garbage) and must never panic or loop forever; on text the
// TOML parser rejected it simply records less.
type positions struct {
	lines map[string]int
}

// line returns the line of path, else of its closest written parent
// ("nodes[3].ip" → "nodes[3]" → "nodes"), else 0.
func (p *positions) line(path string) int {
	if p == nil {
		return 0
	}
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// scanPositions scans TOML source for keys, table headers and array elements.
func scanPositions(src []byte) *positions {
	text := string(src)
	if strings.HasPrefix(text, "\ufeff") { // a byte-order mark, as some Windows editors write
		text = "   " + text[3:]
	}
	s := &scanner{src: text, p: &positions{lines: map[string]int{}}, counts: map[string]int{}}
	for i, c := range s.src {
		if c == '\n' {
			s.nl = append(s.nl, i)
		}
	}
	s.top()
	return s.p
}

type scanner struct {
	src    string
	i      int
	nl     []int // offsets of '\n', for offset → line
	p      *positions
	counts map[string]int // array-of-tables path → elements seen
	table  string         // current table path
}

func (s *scanner) lineAt(off int) int {
	return sort.SearchInts(s.nl, off) + 1
}

func (s *scanner) record(path string, off int) {
	if path == "" {
		return
	}
	if _, ok := s.p.lines[path]; !ok {
		s.p.lines[path] = s.lineAt(off)
	}
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

// skipSpace skips blanks and, when nl, newlines and comments too.
func (s *scanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case nl && c == '\n':
			s.i++
		case nl && c == '#':
			s.skipLine()
		default:
			return
		}
	}
}

func (s *scanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.i++
	}
}

func (s *scanner) top() {
	for !s.eof() {
		start := s.i
		s.skipSpace(true)
		if s.eof() {
			return
		}
		if s.src[s.i] == '[' {
			s.header()
		} else {
			s.keyValue(s.table)
			s.skipSpace(false)
			if !s.eof() && s.src[s.i] == '#' {
				s.skipLine()
			}
		}
		if s.i == start { // no progress on malformed input: move on
			s.i++
		}
	}
}

// header handles "[a.b]" and "[[a.b]]".
func (s *scanner) header() {
	off := s.i
	array := strings.HasPrefix(s.src[s.i:], "[[")
	if array {
		s.i += 2
	} else {
		s.i++
	}
	segs := s.key()
	// Resolve parents that are arrays of tables to their latest element,
	// so "[nodes.x]" after "[[nodes]]" lands in that element.
	path := ""
	for k, seg := range segs {
		path = joinKey(path, seg)
		if n, ok := s.counts[path]; ok && (k < len(segs)-1 || !array) && n > 0 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	if array {
		n := s.counts[path]
		s.counts[path] = n + 1
		s.record(path, off)
		path += "[" + strconv.Itoa(n) + "]"
	}
	s.record(path, off)
	s.table = path
	s.skipLine()
}

// key reads a dotted key: bare or quoted segments separated by dots.
func (s *scanner) key() []string {
	var segs []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return segs
		}
		c := s.src[s.i]
		switch {
		case c == '"':
			segs = append(segs, s.basicString())
		case c == '\'':
			segs = append(segs, s.literalString())
		case isBareKeyChar(c):
			st := s.i
			for !s.eof() && isBareKeyChar(s.src[s.i]) {
				s.i++
			}
			segs = append(segs, s.src[st:s.i])
		default:
			return segs
		}
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return segs
		}
		s.i++
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// keyValue reads "key = value" inside table.
func (s *scanner) keyValue(table string) {
	off := s.i
	segs := s.key()
	if len(segs) == 0 {
		s.skipLine()
		return
	}
	path := table
	for _, seg := range segs {
		path = joinKey(path, seg)
	}
	s.record(path, off)
	s.skipSpace(false)
	if s.eof() || s.src[s.i] != '=' {
		s.skipLine()
		return
	}
	s.i++
	s.skipSpace(false)
	s.value(path, 0)
}

// value skips one value, recording array elements and inline-table keys.
func (s *scanner) value(path string, depth int) {
	if s.eof() {
		return
	}
	if depth > 64 { // the TOML parser rejects deeper nesting anyway
		s.skipLine()
		return
	}
	switch c := s.src[s.i]; c {
	case '"':
		s.basicString()
	case '\'':
		s.literalString()
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			el := path + "[" + strconv.Itoa(n) + "]"
			s.record(el, s.i)
			before := s.i
			s.value(el, depth+1)
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ',' {
				s.i++
			} else if s.src[s.i] != ']' && s.i == before {
				s.i++
			}
		}
	case '{':
		s.i++
		for {
			s.skipSpace(false)
			if s.eof() || s.src[s.i] == '\n' {
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			before := s.i
			s.keyValue(path)
			s.skipSpace(false)
			if !s.eof() && s.src[s.i] == ',' {
				s.i++
			} else if s.i == before {
				s.i++
			}
		}
	default:
		for !s.eof() {
			switch s.src[s.i] {
			case ',', ']', '}', '\n', '#', ' ', '\t', '\r':
				return
			}
			s.i++
		}
	}
}

// basicString reads a "..." or """...""" string and returns its raw body
// (escapes are left as written; keys with escapes are rare enough).
func (s *scanner) basicString() string {
	if strings.HasPrefix(s.src[s.i:], `"""`) {
		s.i += 3
		st := s.i
		for !s.eof() {
			if s.src[s.i] == '\\' {
				s.i += 2
				continue
			}
			if strings.HasPrefix(s.src[s.i:], `"""`) {
				body := s.src[st:s.i]
				s.i += 3
				// Up to two quotes may close the body too ("""a"""").
				for k := 0; k < 2 && !s.eof() && s.src[s.i] == '"'; k++ {
					s.i++
				}
				return body
			}
			s.i++
		}
		if s.i > len(s.src) {
			s.i = len(s.src)
		}
		return ""
	}
	s.i++
	st := s.i
	for !s.eof() {
		switch s.src[s.i] {
		case '\\':
			s.i += 2
			continue
		case '"':
			body := s.src[st:s.i]
			s.i++
			return body
		case '\n':
			return s.src[st:s.i]
		}
		s.i++
	}
	if s.i > len(s.src) {
		s.i = len(s.src)
	}
	return ""
}

// literalString reads a literal string, single- or triple-quoted.
func (s *scanner) literalString() string {
	if strings.HasPrefix(s.src[s.i:], `'''`) {
		s.i += 3
		st := s.i
		end := strings.Index(s.src[s.i:], `'''`)
		if end < 0 {
			s.i = len(s.src)
			return ""
		}
		body := s.src[st : st+end]
		s.i = st + end + 3
		for k := 0; k < 2 && !s.eof() && s.src[s.i] == '\''; k++ {
			s.i++
		}
		return body
	}
	s.i++
	st := s.i
	for !s.eof() {
		switch s.src[s.i] {
		case '\'':
			body := s.src[st:s.i]
			s.i++
			return body
		case '\n':
			return s.src[st:s.i]
		}
		s.i++
	}
	return ""
}
