package ui

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// screen is a minimal terminal model for the bytes a Display writes:
// printable runes, \r, \n, and wrapping at the last column like a VT100
// with auto-wrap. It counts wraps so a test can assert there were none.
type screen struct {
	width int
	lines [][]rune
	row   int
	col   int
	wraps int
}

func newScreen(w int) *screen { return &screen{width: w, lines: [][]rune{{}}} }

func (s *screen) feed(b []byte) {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch r {
		case '\r':
			s.col = 0
		case '\n':
			s.row++
			s.col = 0
			if s.row == len(s.lines) {
				s.lines = append(s.lines, []rune{})
			}
		case 0x1b: // skip a colour sequence: ESC [ ... m
			i := bytes.IndexByte(b, 'm')
			b = b[i+1:]
		default:
			if s.col == s.width {
				s.wraps++
				s.row++
				s.col = 0
				if s.row == len(s.lines) {
					s.lines = append(s.lines, []rune{})
				}
			}
			line := s.lines[s.row]
			for len(line) <= s.col {
				line = append(line, ' ')
			}
			line[s.col] = r
			s.lines[s.row] = line
			s.col++
		}
	}
}

func (s *screen) text() []string {
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	return out
}

// syncBuf is a goroutine-safe buffer (the clock writes from its own goroutine).
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func TestLiveLineFitsEveryWidthAndLeavesNoDebris(t *testing.T) {
	nodes := []string{"SQL-ONE", "SQL-TWO", "SQL-THREE", "SERVER-ONE", "SERVER-TWO", "LOAD-BALANCER"}
	for _, width := range []int{20, 40, 80, 160} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			var out syncBuf
			d := New(&out, TTY, Options{Width: func() int { return width }})
			for _, title := range []string{"Waiting for the Guest Additions of every clone", "Installing packages"} {
				d.StepStart(title, len(nodes))
				for _, n := range nodes {
					d.NodeStart(n)
				}
				d.Warn("a warning printed above the live line")
				fmt.Fprintf(d.Above(), "verbose: a log line\nverbose: split ")
				fmt.Fprintf(d.Above(), "across writes\n")
				time.Sleep(3 * tick) // the clock redraws meanwhile
				for _, n := range nodes {
					d.NodeDone(n, "changed")
				}
				d.StepEnd(true, "changed 6")
			}
			d.Close()
			sc := newScreen(width)
			sc.feed(out.Bytes())
			lines := sc.text()
			got := strings.Join(lines, "\n")
			for _, l := range lines {
				if strings.ContainsAny(l, string(spinner)) {
					t.Errorf("live-line debris left on screen: %q\n%s", l, got)
				}
			}
			for _, title := range []string{"Waiting for the Guest Additions", "Installing packages"} {
				want := "✓ " + title[:min(len(title), width-4)]
				if n := countPrefix(lines, want); n != 1 {
					t.Errorf("%q shown %d times, want once:\n%s", want, n, got)
				}
			}
			if n := countPrefix(lines, "verbose: split across writes"[:min(width, 28)]); n != 2 {
				t.Errorf("a verbose line split across writes shown %d times, want 2 (once per step):\n%s", n, got)
			}
			// Only the (unbounded) lines printed above may wrap; the live
			// line and the ✓ lines never do.
			if width >= 40 && sc.wraps != 0 {
				t.Errorf("%d line wraps at width %d:\n%s", sc.wraps, width, got)
			}
		})
	}
}

func countPrefix(lines []string, p string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			n++
		}
	}
	return n
}

func TestLiveLineClockMovesDuringAWait(t *testing.T) {
	var out syncBuf
	d := New(&out, TTY, Options{Width: func() int { return 80 }})
	d.StepStart("Waiting for the Guest Additions", 6)
	d.NodeStart("SQL-TWO")
	time.Sleep(1300 * time.Millisecond)
	d.Close()
	s := string(out.Bytes())
	if !strings.Contains(s, "1s  waiting: SQL-TWO") {
		t.Fatalf("the clock did not reach 1s with the node it waits for:\n%q", s)
	}
}

func TestPlainModeIsOneLinePerEvent(t *testing.T) {
	var out syncBuf
	d := New(&out, Plain, Options{})
	d.StepStart("Installing packages", 2)
	d.NodeStart("SQL-ONE")
	d.NodeDone("SQL-ONE", "changed")
	d.NodeDone("SQL-TWO", "already done")
	d.Warn("careful")
	d.StepEnd(false, "1 failed")
	d.Close()
	want := "• Installing packages ...\n  SQL-ONE: changed\n  SQL-TWO: already done\n! careful\n✗ Installing packages (1 failed)\n"
	if got := string(out.Bytes()); got != want {
		t.Fatalf("plain output:\n%q\nwant\n%q", got, want)
	}
}

func TestModes(t *testing.T) {
	for in, want := range map[string]Mode{"": Auto, "auto": Auto, "tty": TTY, "plain": Plain} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, m, err)
		}
	}
	if _, err := ParseMode("fancy"); err == nil || !strings.Contains(err.Error(), "auto, tty or plain") {
		t.Errorf("bad mode: %v", err)
	}
	var b bytes.Buffer
	if Auto.Resolve(&b, "xterm") != Plain {
		t.Error("auto on a pipe is not plain")
	}
	if TTY.Resolve(&b, "dumb") != TTY {
		t.Error("an explicit tty mode was overridden")
	}
}
