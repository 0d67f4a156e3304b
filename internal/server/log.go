package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"golang.org/x/term"
)

// Log formats for LogOptions.Format.
const (
	LogAuto = "auto" // text on a terminal, JSON otherwise
	LogJSON = "json"
	LogText = "text"
)

// LogOptions tune NewLogger.
type LogOptions struct {
	Format string       // LogAuto (default), LogJSON or LogText
	Level  slog.Leveler // default slog.LevelInfo
	// Redactor hides secrets; nil redacts by form and by key only. Give
	// watch's loaded secrets (webhook URLs, tokens) to it with AddSecret.
	Redactor *Redactor
}

// NewLogger makes watch's logger: JSON lines to w when w is not a
// terminal (a service manager, a container log collector), text when it is
// (a person watching), behind a RedactHandler so that no secret is written.
func NewLogger(w io.Writer, opts LogOptions) (*slog.Logger, error) {
	ho := &slog.HandlerOptions{Level: opts.Level}
	var h slog.Handler
	switch opts.Format {
	case "", LogAuto:
		if isTerminal(w) {
			h = slog.NewTextHandler(w, ho)
		} else {
			h = slog.NewJSONHandler(w, ho)
		}
	case LogJSON:
		h = slog.NewJSONHandler(w, ho)
	case LogText:
		h = slog.NewTextHandler(w, ho)
	default:
		return nil, fmt.Errorf("log format %q: want %s, %s or %s", opts.Format, LogAuto, LogJSON, LogText)
	}
	return slog.New(NewRedactHandler(h, opts.Redactor)), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// RedactHandler wraps a slog.Handler and hides secrets before it sees a
// record: the whole value of an attribute whose key names a secret
// (SecretKey), and secrets by form (Redactor.String) in the message, in
// string values, in errors and in fmt.Stringer values (a *url.URL among
// them), at any depth of groups. Other values (numbers, times, structs
// handed to the JSON encoder) pass unchanged: log a struct that holds a
// secret through a slog.LogValuer that leaves it out.
type RedactHandler struct {
	next slog.Handler
	r    *Redactor
}

// NewRedactHandler wraps next; r may be nil.
func NewRedactHandler(next slog.Handler, r *Redactor) *RedactHandler {
	return &RedactHandler{next: next, r: r}
}

// Enabled implements slog.Handler.
func (h *RedactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *RedactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &RedactHandler{next: h.next.WithAttrs(clean), r: h.r}
}

// WithGroup implements slog.Handler.
func (h *RedactHandler) WithGroup(name string) slog.Handler {
	return &RedactHandler{next: h.next.WithGroup(name), r: h.r}
}

// attr is a with its secrets hidden.
func (h *RedactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	}
	if SecretKey(a.Key) {
		return slog.String(a.Key, redactValue(v))
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.String(textOf(x.Error)))
		case fmt.Stringer:
			return slog.String(a.Key, h.r.String(textOf(x.String)))
		case []byte:
			return slog.String(a.Key, h.r.String(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactValue is what stays of a secret key's value: a URL's scheme and
// host (which endpoint a webhook points at helps a reader; its path is the
// secret), otherwise nothing.
func redactValue(v slog.Value) string {
	if v.Kind() == slog.KindString {
		return redactLiteral(v.String())
	}
	if u, ok := v.Any().(*url.URL); ok && u != nil {
		return redactLiteral(u.String())
	}
	return Redacted
}

// textOf calls an Error or String method, which may panic on a nil
// receiver; a log line must never take the process down.
func textOf(f func() string) (s string) {
	defer func() {
		if recover() != nil {
			s = "<nil>"
		}
	}()
	return f()
}
