package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// console is stderr: warnings, the progress line and the closing summary.
// On a terminal it speaks to a person (and draws progress); elsewhere it
// writes one logfmt line per message, quiet and machine-readable.
type console struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	log      *slog.Logger
	shown    int // warnings printed
	maxShown int
	barShown bool
}

func newConsole(w io.Writer, tty bool) *console {
	c := &console{w: w, tty: tty, maxShown: 200}
	if !tty {
		c.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey && len(groups) == 0 {
					return slog.Attr{}
				}
				return a
			},
		}))
	}
	return c
}

// warn reports a problem that does not stop the run. After maxShown
// warnings the rest are only counted in the summary.
func (c *console) warn(msg string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shown++
	if c.shown > c.maxShown {
		if c.shown == c.maxShown+1 {
			c.printLocked(slog.LevelWarn, "more problems follow; they are counted in the summary, not shown")
		}
		return
	}
	c.printLocked(slog.LevelWarn, msg, args...)
}

func (c *console) info(msg string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.printLocked(slog.LevelInfo, msg, args...)
}

func (c *console) printLocked(level slog.Level, msg string, args ...any) {
	if !c.tty {
		c.log.Log(nil, level, msg, args...)
		return
	}
	c.clearBarLocked()
	var b strings.Builder
	if level >= slog.LevelWarn {
		b.WriteString("warning: ")
	}
	b.WriteString(msg)
	for i := 0; i+1 < len(args); i += 2 {
		fmt.Fprintf(&b, " %v=%v", args[i], args[i+1])
	}
	fmt.Fprintln(c.w, b.String())
}

func (c *console) clearBarLocked() {
	if c.barShown {
		fmt.Fprint(c.w, "\r\033[K")
		c.barShown = false
	}
}

// progress counts the work done, for the progress line and the summary.
type progress struct {
	bytesDone   atomic.Int64 // input bytes (as on disk) of finished files
	bytesTotal  atomic.Int64 // input bytes of files found so far
	filesDone   atomic.Int64
	filesTotal  atomic.Int64
	events      atomic.Int64
	walkingDone atomic.Bool
}

// draw shows progress on a terminal every tick until stop is closed.
func (c *console) draw(p *progress, start time.Time, stop <-chan struct{}) {
	if !c.tty {
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			c.mu.Lock()
			c.clearBarLocked()
			c.mu.Unlock()
			return
		case <-t.C:
			c.mu.Lock()
			fmt.Fprint(c.w, "\r\033[K"+progressLine(p, time.Since(start)))
			c.barShown = true
			c.mu.Unlock()
		}
	}
}

// progressLine renders one line, under 80 columns:
// [##########----------]  52%  1,042/2,000 files  512,300 events  148,000 ev/s
func progressLine(p *progress, elapsed time.Duration) string {
	const width = 20
	done, total := p.bytesDone.Load(), p.bytesTotal.Load()
	events := p.events.Load()
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(events) / s
	}
	var b strings.Builder
	if total > 0 {
		frac := float64(done) / float64(total)
		fill := int(frac * width)
		b.WriteString("[" + strings.Repeat("#", fill) + strings.Repeat("-", width-fill) + "]")
		fmt.Fprintf(&b, " %3.0f%%", 100*frac)
	}
	files := fmt.Sprintf("%s/%s", group(p.filesDone.Load()), group(p.filesTotal.Load()))
	if !p.walkingDone.Load() {
		files += "+"
	}
	fmt.Fprintf(&b, "  %s files  %s events  %s ev/s", files, group(events), group(int64(rate)))
	return b.String()
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + group(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
