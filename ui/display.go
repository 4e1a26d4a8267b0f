// Package ui owns what a run shows the user: step lines with ✓/✗, a live
// status line on a terminal (cut to the terminal's width, with a moving
// clock and the nodes still in flight) and the lines printed above it
// (warnings, --verbose output). One writer, so nothing is printed into
// the live line and nothing wraps.
package ui

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"labctl/internal/tty"
)

// Mode says how progress is drawn.
type Mode int

// Progress modes, as --progress names them.
const (
	Auto  Mode = iota // tty when the output is a terminal and TERM is not dumb
	TTY               // a live status line rewritten in place
	Plain             // one line per event: logs, CI, pipes
)

// ParseMode reads --progress.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return Auto, nil
	case "tty":
		return TTY, nil
	case "plain":
		return Plain, nil
	}
	return Auto, fmt.Errorf("--progress %q: want auto, tty or plain", s)
}

// Resolve decides Auto for out, given the environment's TERM.
func (m Mode) Resolve(out io.Writer, term string) Mode {
	if m != Auto {
		return m
	}
	if tty.Is(out) && term != "dumb" {
		return TTY
	}
	return Plain
}

// tick is how often the live line's clock and spinner move.
const tick = 200 * time.Millisecond

var spinner = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

// Display is one run's output. Safe for concurrent use.
type Display struct {
	mu    sync.Mutex
	out   io.Writer
	live  bool
	color bool
	width func() int

	title    string
	started  time.Time
	total    int
	done     int
	inFlight map[string]bool
	shown    int // columns of the live line now on screen
	frame    int

	stop    chan struct{}
	stopped chan struct{}
	above   *lineWriter
}

// Options tune a Display; zero values are the defaults.
type Options struct {
	// Width returns the terminal's columns (default: read from out, 80 when unknown).
	Width func() int
	// NoColor turns colour off (default: on for a live display unless NO_COLOR is set).
	NoColor bool
}

// New returns a display drawing on out in mode m (Auto resolved with $TERM).
func New(out io.Writer, m Mode, o Options) *Display {
	if out == nil {
		out = io.Discard
	}
	d := &Display{out: out, live: m.Resolve(out, os.Getenv("TERM")) == TTY, inFlight: map[string]bool{}}
	d.color = d.live && tty.Is(out) && !o.NoColor && os.Getenv("NO_COLOR") == ""
	d.width = o.Width
	if d.width == nil {
		d.width = func() int {
			if c, _, ok := tty.Size(out); ok {
				return c
			}
			return 80
		}
	}
	d.above = &lineWriter{d: d}
	if d.live {
		d.stop, d.stopped = make(chan struct{}), make(chan struct{})
		go d.clock()
	}
	return d
}

// Live reports whether the display rewrites a status line.
func (d *Display) Live() bool { return d.live }

func (d *Display) clock() {
	defer close(d.stopped)
	t := time.NewTicker(tick)
	defer t.Stop()
	resize := watchResize()
	defer resize.stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		case <-resize.c:
		}
		d.mu.Lock()
		d.frame++
		d.render()
		d.mu.Unlock()
	}
}

// Close stops the clock and clears the live line.
func (d *Display) Close() {
	if d.live {
		select {
		case <-d.stop:
		default:
			close(d.stop)
			<-d.stopped
		}
	}
	d.above.flush()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	d.title = ""
}

// StepStart announces a step over units (node names; one "" for the lab).
func (d *Display) StepStart(title string, units int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.title, d.started, d.total, d.done = title, time.Now(), units, 0
	clear(d.inFlight)
	if !d.live {
		fmt.Fprintf(d.out, "• %s ...\n", title)
		return
	}
	d.render()
}

// NodeStart marks a node as in flight (shown on the live line).
func (d *Display) NodeStart(node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if node != "" {
		d.inFlight[node] = true
	}
	if d.live {
		d.render()
	}
}

// NodeDone records a finished node and its verdict ("already done", "changed", ...).
func (d *Display) NodeDone(node, verdict string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inFlight, node)
	d.done++
	if !d.live {
		fmt.Fprintf(d.out, "  %s: %s\n", node, verdict)
		return
	}
	d.render()
}

// StepEnd closes the step with its status line.
func (d *Display) StepEnd(ok bool, detail string) {
	d.above.flush()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	if d.color {
		if ok {
			mark = "\x1b[32m" + mark + "\x1b[0m"
		} else {
			mark = "\x1b[31m" + mark + "\x1b[0m"
		}
	}
	if detail != "" {
		detail = " (" + detail + ")"
	}
	line := d.title + detail
	if d.live {
		line = cut(line, d.width()-3)
	}
	fmt.Fprintf(d.out, "%s %s\n", mark, line)
	d.title = ""
	clear(d.inFlight)
}

// StepCancel ends an interrupted step without a status line: the run's
// final message says what was interrupted and how to resume.
func (d *Display) StepCancel() {
	d.above.flush()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	d.title = ""
	clear(d.inFlight)
}

// Warn prints a warning above the live line.
func (d *Display) Warn(msg string) {
	d.Println("! " + msg)
}

// Println prints one line above the live line.
func (d *Display) Println(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.printAbove(line)
}

// Above is a writer whose complete lines are printed above the live line
// (the --verbose copy of the log goes through it).
func (d *Display) Above() io.Writer { return d.above }

func (d *Display) printAbove(line string) {
	d.clear()
	if d.live {
		// A long line may wrap here: it is output, not the live line, and
		// it is printed once.
		line = strings.TrimRight(line, "\r")
	}
	fmt.Fprintln(d.out, line)
	if d.live && d.title != "" {
		d.render()
	}
}

// clear removes the live line (d.mu held).
func (d *Display) clear() {
	if !d.live || d.shown == 0 {
		return
	}
	fmt.Fprintf(d.out, "\r%s\r", strings.Repeat(" ", d.shown))
	d.shown = 0
}

// render draws the live line in place (d.mu held). It pads with spaces
// over what was there instead of using an erase sequence, so a terminal
// without ANSI support shows no debris either.
func (d *Display) render() {
	if !d.live || d.title == "" {
		return
	}
	line := d.status()
	// One column short of the width: writing the last column makes some
	// terminals wrap at once.
	line = cut(line, d.width()-1)
	n := utf8.RuneCountInString(line)
	if d.shown > n {
		// Blank what the longer line left, then put the cursor back at its end.
		fmt.Fprintf(d.out, "\r%s%s\r%s", line, strings.Repeat(" ", d.shown-n), line)
	} else {
		fmt.Fprintf(d.out, "\r%s", line)
	}
	d.shown = n
}

// status is the live line: spinner, title, count, clock, nodes in flight.
func (d *Display) status() string {
	var b strings.Builder
	b.WriteRune(spinner[d.frame%len(spinner)])
	b.WriteString(" " + d.title)
	if d.total > 1 {
		fmt.Fprintf(&b, "  %d/%d", d.done, d.total)
	}
	fmt.Fprintf(&b, "  %ds", int(time.Since(d.started).Seconds()))
	if len(d.inFlight) > 0 && len(d.inFlight) < d.total {
		names := make([]string, 0, len(d.inFlight))
		for n := range d.inFlight {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString("  waiting: " + strings.Join(names, ", "))
	}
	return b.String()
}

// cut shortens s to at most w columns, marking the cut with "…".
func cut(s string, w int) string {
	if w < 1 {
		w = 1
	}
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

// lineWriter passes complete lines to Println; a partial line waits.
type lineWriter struct {
	d   *Display
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf.Next(i + 1))
		w.d.Println(strings.TrimSuffix(line, "\n"))
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		line := w.buf.String()
		w.buf.Reset()
		w.d.Println(line)
	}
}
