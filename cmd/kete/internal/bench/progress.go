package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// progress draws a bar in place on a terminal, or a line per 25% elsewhere.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int
	mu    sync.Mutex
	last  int // last drawn: percent (lines) or cells (bar)
}

func newProgress(w io.Writer, tty bool, label string, total int) *progress {
	return &progress{w: w, tty: tty, label: label, total: max(total, 1), last: -1}
}

const barWidth = 40

func (p *progress) set(n int) {
	if p == nil || p.w == nil {
		return
	}
	n = min(n, p.total)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		cells := n * barWidth / p.total
		if cells == p.last {
			return
		}
		p.last = cells
		fmt.Fprintf(p.w, "\r%-18s [%s%s] %3d%%", p.label, strings.Repeat("#", cells), strings.Repeat(" ", barWidth-cells), n*100/p.total)
		return
	}
	pct := n * 100 / p.total / 25 * 25
	if pct == p.last {
		return
	}
	p.last = pct
	fmt.Fprintf(p.w, "%s: %d%%\n", p.label, pct)
}

func (p *progress) done() {
	if p == nil || p.w == nil {
		return
	}
	p.set(p.total)
	if p.tty {
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprintln(p.w)
	}
}

func selfPID() int { return os.Getpid() }
