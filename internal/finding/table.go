package finding

import (
	"github.com/trailsentry/trailsentry/internal/enrich"

	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// WriteTable writes findings for a person at a terminal: grouped by severity,
// most severe first, one compact block per finding, then a totals line. No
// line is wider than opts.Width (DefaultWidth if unset): long values are cut
// with an ellipsis. Values from events are shown with control and other
// non-printing characters escaped, so a crafted user agent cannot drive the
// terminal. With opts.Color, labels and titles are coloured with ANSI codes.
func WriteTable(w io.Writer, findings []*Finding, sum *Summary, opts Options) error {
	width := opts.Width
	if width <= 0 {
		width = DefaultWidth
	}
	t := &table{w: bufio.NewWriter(w), width: width, color: opts.Color}
	if len(findings) == 0 {
		t.line(span{"No findings.", styleBold})
	}
	for i, f := range findings {
		if i == 0 || f.Severity.Label != findings[i-1].Severity.Label {
			if i > 0 {
				t.blank()
			}
			t.groupHeader(f.Severity.Label, countLabel(findings[i:], f.Severity.Label))
		}
		t.blank()
		t.block(f)
	}
	t.blank()
	t.totals(findings, sum)
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// countLabel counts the leading findings that have label l.
func countLabel(findings []*Finding, l Label) int {
	n := 0
	for n < len(findings) && findings[n].Severity.Label == l {
		n++
	}
	return n
}

// style is an ANSI SGR parameter list; "" is plain text.
type style string

const (
	stylePlain style = ""
	styleBold  style = "1"
	styleDim   style = "2"
)

func labelStyle(l Label) style {
	switch l {
	case Critical:
		return "1;97;41" // bold white on red
	case High:
		return "1;31"
	case Medium:
		return "1;33"
	case Low:
		return "36"
	}
	return styleDim
}

// span is a piece of a line with its style.
type span struct {
	text  string
	style style
}

type table struct {
	w     *bufio.Writer
	width int
	color bool
}

// line writes spans as one line, cut to the table's width.
func (t *table) line(spans ...span) {
	for _, s := range fit(spans, t.width) {
		if t.color && s.style != stylePlain && s.text != "" {
			t.w.WriteString("\x1b[" + string(s.style) + "m" + s.text + "\x1b[0m")
		} else {
			t.w.WriteString(s.text)
		}
	}
	t.w.WriteByte('\n')
}

func (t *table) blank() { t.w.WriteByte('\n') }

func (t *table) groupHeader(l Label, n int) {
	count := " · " + plural(int64(n), "finding") + " "
	fill := ""
	if rest := t.width - textWidth("── "+string(l)+count); rest > 0 {
		fill = strings.Repeat("─", rest)
	}
	t.line(span{"── ", styleDim}, span{string(l), labelStyle(l)}, span{count, stylePlain}, span{fill, styleDim})
}

// keyWidth is the width of a detail line's key column, indent included.
const keyWidth = 11

func (t *table) block(f *Finding) {
	label := fmt.Sprintf("%-8s ", strings.ToUpper(string(f.Severity.Label)))
	count := plural(f.Count, "event")
	switch {
	case f.Rarity != "":
		count = plural(f.Count, "new value") // a first-seen finding counts what was new
	case f.Subject != "":
		count = plural(f.Count, "value")
	}
	title := clean(f.Rule.Title)
	// Right-align the count, cutting the title to make room for it.
	room := t.width - textWidth(label) - textWidth(count) - 2
	if room > 0 {
		title = cut(title, room)
		gap := strings.Repeat(" ", t.width-textWidth(label)-textWidth(title)-textWidth(count))
		t.line(span{label, labelStyle(f.Severity.Label)}, span{title, styleBold}, span{gap, stylePlain}, span{count, stylePlain})
	} else {
		t.line(span{label, labelStyle(f.Severity.Label)}, span{title, styleBold}, span{"  " + count, stylePlain})
	}

	// An ARN's end (role and session name) says most: cut actors in the middle.
	t.line(t.key("actor"), span{cutMiddle(clean(orNone(f.Actor)), t.width-keyWidth), stylePlain})
	if who := identityText(f.Context); who != "" {
		t.detail("identity", who)
	}
	if f.Subject != "" && f.Subject != f.Actor {
		t.detail("profile", f.Subject)
	}
	if f.ActorRisk != nil {
		t.detail("risk", f.ActorRisk.Tier+" tier: "+strings.Join(f.ActorRisk.Categories, ", "))
	}
	t.detail("account", orNone(f.Account)+" / "+orNone(f.Region))
	t.detail("seen", seenText(f.FirstSeen, f.LastSeen))
	if f.Suppressed {
		t.detail("silenced", "suppressed: "+f.SuppressedReason)
	}
	switch f.Outcome {
	case OutcomeFailed:
		t.detail("outcome", "failed: every call returned an error (an attempt; severity scaled down)")
	case OutcomeMixed:
		t.detail("outcome", fmt.Sprintf("%d of %d calls failed", f.FailedCount, f.Count))
	}
	t.list("att&ck", f.Attack, ", ", "")
	// The calls, and the services they went to when all of that fits.
	services := " · " + clean(strings.Join(f.EventSources, ", "))
	if calls := clean(strings.Join(f.EventNames, ", ")); len(f.EventSources) > 0 && textWidth(calls+services) <= t.width-keyWidth {
		t.list("calls", f.EventNames, ", ", services)
	} else {
		t.list("calls", f.EventNames, ", ", "")
	}
	t.list("from", f.SourceIPAddresses, ", ", "")
	t.list("agent", f.UserAgents, " | ", "")
	if c := f.Context; c != nil && c.Client.Tooling != "" {
		t.detail("tooling", c.Client.Tooling)
	}
	if c := f.Context; c != nil && c.Intel.ThreatList != "" {
		t.detail("intel", "source address is on threat list "+c.Intel.ThreatList)
	}
	t.list("errors", f.ErrorCodes, ", ", "")
	if len(f.ErrorMessages) > 0 {
		t.detail("message", cut(clean(f.ErrorMessages[0]), t.width-keyWidth))
	}
	values := "values"
	if f.Subject != "" {
		values = "new"
		if f.Rarity != "" {
			values = f.Rarity
		}
	}
	t.list(values, f.CorrelatedValues, ", ", "")
	if f.Detail != "" {
		t.detail("against", f.Detail)
	}
	if f.DedupKey != "" {
		t.detail("key", f.DedupKey)
	}
	t.list("events", f.EventIDs, ", ", "")
	t.list("files", f.Files, ", ", "")
	t.list("keys", f.AccessKeyIDs, ", ", "")
	rule := orNone(f.Rule.ID)
	if f.Rule.Source != "" {
		rule += " · " + f.Rule.Source
	}
	t.detail("rule", rule)
	t.detail("finding", f.ID)
}

// detail writes an indented "key  value" line. The value is cleaned here.
func (t *table) detail(key, value string) {
	t.line(t.key(key), span{clean(value), stylePlain})
}

// list writes a detail line of values (nothing when there are none),
// followed by suffix. When they do not all fit, it shows as many whole values
// as fit and says how many more there are; if not even one fits, the first is
// cut.
func (t *table) list(key string, values []string, sep, suffix string) {
	if len(values) == 0 {
		return
	}
	cleaned := make([]string, len(values))
	for i, v := range values {
		cleaned[i] = clean(v)
	}
	room := t.width - keyWidth - textWidth(suffix)
	text := strings.Join(cleaned, sep)
	for n := len(cleaned) - 1; textWidth(text) > room && n >= 1; n-- {
		text = strings.Join(cleaned[:n], sep) + sep + fmt.Sprintf("+%d more", len(cleaned)-n)
	}
	if textWidth(text) > room {
		more := ""
		if len(cleaned) > 1 {
			more = fmt.Sprintf(" +%d more", len(cleaned)-1)
		}
		text = cut(cleaned[0], room-len(more)) + more
	}
	t.line(t.key(key), span{text + suffix, stylePlain})
}

func (t *table) key(key string) span {
	return span{fmt.Sprintf("  %-*s", keyWidth-2, key), styleDim}
}

func (t *table) totals(findings []*Finding, sum *Summary) {
	c := CountBySeverity(findings)
	var matched int64
	for _, f := range findings {
		matched += f.Count
	}
	if c.Total() > 0 { // else "No findings." was said at the top
		var parts []string
		for _, l := range Labels() {
			if n := c.Of(l); n > 0 {
				parts = append(parts, thousands(int64(n))+" "+strings.ToLower(string(l)))
			}
		}
		t.line(span{plural(int64(c.Total()), "finding") + " (" + strings.Join(parts, ", ") + ") from " +
			plural(matched, "matching event"), styleBold})
	}
	if sum == nil {
		return
	}
	t.line(span{"Scanned " + plural(sum.EventsDecoded, "event") + " from " + plural(int64(sum.FilesScanned), "file") +
		" with " + plural(int64(sum.RulesLoaded), "rule") + " in " + sum.Duration.Round(time.Millisecond).String() +
		" (" + thousands(int64(sum.EventsPerSecond)) + " events/s)", stylePlain})

	var notes []string
	if n := sum.FilesSkippedTotal(); n > 0 {
		notes = append(notes, "skipped "+plural(int64(n), "file")+" ("+skippedKinds(sum.FilesSkipped)+")")
	}
	if sum.EventsFiltered > 0 {
		notes = append(notes, plural(sum.EventsFiltered, "event")+" filtered out")
	}
	if sum.BadRecords > 0 {
		notes = append(notes, plural(sum.BadRecords, "bad record"))
	}
	if sum.RuleLoadErrors > 0 {
		notes = append(notes, plural(int64(sum.RuleLoadErrors), "rule")+" failed to load")
	}
	if len(notes) > 0 {
		t.line(span{strings.Join(notes, " · "), stylePlain})
	}
}

// skippedKinds writes "1 digest, 2 insights", kinds in name order.
func skippedKinds(m map[string]int) string {
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if m[k] > 0 {
			parts = append(parts, thousands(int64(m[k]))+" "+clean(k))
		}
	}
	return strings.Join(parts, ", ")
}

func seenText(first, last time.Time) string {
	if first.IsZero() {
		return "no event time"
	}
	const day, clock = "2006-01-02 ", "15:04:05"
	a := first.UTC().Format(day + clock)
	switch {
	case last.Equal(first):
		return a + " UTC"
	case last.UTC().Format(day) == first.UTC().Format(day):
		return a + " → " + last.UTC().Format(clock) + " UTC"
	}
	return a + " → " + last.UTC().Format(day+clock) + " UTC"
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plural writes "1 event", "1,234 events".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// thousands writes n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// clean escapes what a terminal would not print as-is: control characters
// (ESC above all), invisible formatting characters such as bidi overrides,
// and invalid UTF-8.
func clean(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune(r)
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// fit cuts spans to width columns, ending with an ellipsis when anything was
// cut.
func fit(spans []span, width int) []span {
	total := 0
	for _, s := range spans {
		total += textWidth(s.text)
	}
	if total <= width {
		return spans
	}
	budget := max(width-1, 0)
	out := make([]span, 0, len(spans))
	for _, s := range spans {
		if w := textWidth(s.text); w <= budget {
			out = append(out, s)
			budget -= w
			continue
		}
		text := cutTo(s.text, budget)
		if width > 0 {
			text += "…"
		}
		out = append(out, span{text, s.style})
		break
	}
	return out
}

// cut shortens s to width columns, with an ellipsis when it was cut.
func cut(s string, width int) string {
	if textWidth(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	return cutTo(s, width-1) + "…"
}

// cutMiddle shortens s to width columns by replacing its middle with an
// ellipsis, keeping a little more of the end than of the start.
func cutMiddle(s string, width int) string {
	if textWidth(s) <= width {
		return s
	}
	if width <= 2 {
		return cut(s, width)
	}
	head := cutTo(s, (width-1)*2/5)
	tail := ""
	room := width - 1 - textWidth(head)
	for i := len(s); i > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if room -= runeWidth(r); room < 0 {
			break
		}
		i -= size
		tail = s[i:]
	}
	return head + "…" + tail
}

// cutTo returns the longest prefix of s that fits in width columns.
func cutTo(s string, width int) string {
	used := 0
	for i, r := range s {
		if used += runeWidth(r); used > width {
			return s[:i]
		}
	}
	return s
}

func textWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// runeWidth is the columns a rune takes on a terminal: 2 for East Asian wide
// and full-width characters and emoji, 1 for everything else. Counting
// zero-width characters as 1 only makes lines shorter than they could be.
func runeWidth(r rune) int {
	switch {
	case r < 0x1100:
		return 1
	case r <= 0x115F, // Hangul Jamo
		0x2E80 <= r && r <= 0x303E, // CJK radicals, punctuation
		0x3041 <= r && r <= 0x33FF, // kana, CJK compatibility
		0x3400 <= r && r <= 0x4DBF, // CJK extension A
		0x4E00 <= r && r <= 0x9FFF, // CJK unified ideographs
		0xA000 <= r && r <= 0xA4CF, // Yi
		0xAC00 <= r && r <= 0xD7A3, // Hangul syllables
		0xF900 <= r && r <= 0xFAFF, // CJK compatibility ideographs
		0xFE30 <= r && r <= 0xFE4F, // CJK compatibility forms
		0xFF00 <= r && r <= 0xFF60, // full-width forms
		0xFFE0 <= r && r <= 0xFFE6,
		0x1F300 <= r && r <= 0x1F64F, // emoji
		0x1F900 <= r && r <= 0x1F9FF,
		0x20000 <= r && r <= 0x3FFFD: // CJK extensions B and beyond
		return 2
	}
	return 1
}

// identityText sums up who acted: identity type, key type, MFA, console,
// cross-account — what tells a stolen key from a person at a desk.
func identityText(c *enrich.Summary) string {
	if c == nil || c.Identity.Type == "" {
		return ""
	}
	parts := []string{c.Identity.Type}
	if c.Identity.KeyType != "" {
		parts = append(parts, c.Identity.KeyType+" key")
	}
	if c.Identity.MFA {
		parts = append(parts, "MFA")
	}
	if c.Identity.Console {
		parts = append(parts, "console")
	}
	if c.Identity.CrossAccount {
		parts = append(parts, "cross-account")
	}
	if c.Network.SourceKind != "" {
		parts = append(parts, c.Network.SourceKind+" address")
	}
	return strings.Join(parts, ", ")
}
