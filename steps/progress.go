package steps

import (
	"fmt"
	"io"
	"labctl/internal/tty"
	"sync"

	"github.com/schollz/progressbar/v3"
)

// ProgressStyle says how the Runner draws progress on Runner.Out.
type ProgressStyle int

// Progress styles.
const (
	ProgressAuto  ProgressStyle = iota // a bar when Out is a terminal, plain lines otherwise
	ProgressPlain                      // one line per event: logs, CI, pipes
	ProgressBar                        // a rewriting bar over the nodes of each step
)

// progress is the one owner of the user's output line during a run: step
// status lines with ✓/✗, and either a bar over the nodes (terminal) or a
// line per finished node (plain). Safe for concurrent use by node goroutines.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	bar   bool
	cur   *progressbar.ProgressBar
	title string
}

func newProgress(out io.Writer, style ProgressStyle) *progress {
	if out == nil {
		out = io.Discard
	}
	bar := style == ProgressBar || (style == ProgressAuto && tty.Is(out))
	return &progress{out: out, bar: bar}
}

// stepStart announces a step acting on n units (nodes, or 1 for a lab-wide step).
func (p *progress) stepStart(title string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.title = title
	if !p.bar {
		fmt.Fprintf(p.out, "• %s ...\n", title)
		return
	}
	p.cur = progressbar.NewOptions(n,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(title),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(20),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// nodeDone records one finished unit and its verdict ("already done", "changed", ...).
func (p *progress) nodeDone(node, verdict string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		fmt.Fprintf(p.out, "  %s: %s\n", node, verdict)
		return
	}
	p.cur.Describe(fmt.Sprintf("%s (%s: %s)", p.title, node, verdict))
	_ = p.cur.Add(1)
}

// stepEnd closes the step with its status line.
func (p *progress) stepEnd(ok bool, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		_ = p.cur.Finish() // clears the bar line (OptionClearOnFinish)
		_ = p.cur.Exit()
		p.cur = nil
	}
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	if detail != "" {
		detail = " (" + detail + ")"
	}
	fmt.Fprintf(p.out, "%s %s%s\n", mark, p.title, detail)
}

// warn prints a warning above the bar.
func (p *progress) warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		_ = p.cur.Clear()
	}
	fmt.Fprintf(p.out, "! %s\n", msg)
	if p.cur != nil {
		_ = p.cur.RenderBlank()
	}
}
