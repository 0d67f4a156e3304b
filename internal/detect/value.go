package detect

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/event"
)

// This file holds the value matchers: what one rule value, after its
// modifiers, tests against one value reached in an event. They are built once
// at load; match must not allocate on the common path.
//
// What a matcher sees of an event value (valueText): a string as itself, a
// number or boolean as its JSON literal ("22", "true"), an object or array as
// its compact JSON text — SIEMs that keep requestParameters as a string
// compare against exactly that. A null matches nothing but the null matcher.

// matcher tests one event value. ev is there for fieldref, which reads
// another field of the same event, and for the time modifiers on eventTime.
type matcher interface {
	match(v event.Value, ev Subject) bool
}

// valueText is the text string matchers compare against; ok is false for a
// null or missing value.
func valueText(v event.Value) (string, bool) {
	switch v.Kind {
	case event.Missing, event.Null:
		return "", false
	case event.Object, event.Array:
		return v.Text(), true
	}
	return v.Str, true
}

// stringMatcher is a plain Sigma string: equality with wildcards.
//
// On an object or array it compares the compact JSON text, and a pattern
// free at both ends (contains, `*x*`) also searches the strings nested
// inside, decoded. CloudTrail embeds documents as JSON strings
// (requestParameters.policyDocument), whose quotes the JSON text escapes;
// SigmaHQ's `requestParameters|contains: '"s3:GetObject"'` means the policy
// text. Without escapes in the object, every nested string already appears
// verbatim in its text, so the second search is only made when the text
// holds a backslash.
type stringMatcher struct{ g *glob }

func (m *stringMatcher) match(v event.Value, _ Subject) bool {
	s, ok := valueText(v)
	if !ok {
		return false
	}
	if m.g.match(s) {
		return true
	}
	if (v.Kind == event.Object || v.Kind == event.Array) && m.g.floating() && strings.IndexByte(v.Str, '\\') >= 0 {
		return eachScalar(v.Str, func(w event.Value) bool { return w.Kind == event.String && m.g.match(w.Str) })
	}
	return false
}

// anyOf is one rule value that modifiers expanded into several (windash,
// base64offset): it matches when any of them does.
type anyOf []matcher

func (a anyOf) match(v event.Value, ev Subject) bool {
	for _, m := range a {
		if m.match(v, ev) {
			return true
		}
	}
	return false
}

// nullMatcher matches a JSON null. The field node also treats a missing
// field as matching `field: null`.
type nullMatcher struct{}

func (nullMatcher) match(v event.Value, _ Subject) bool { return v.Kind == event.Null }

// numberMatcher is a YAML number given without modifiers: it matches the
// same literal text (case-insensitively, for 0x1F) or, when the event value
// is a number or a numeric string, the same number (so 22 matches 22, "22"
// and 22.0).
type numberMatcher struct {
	text string // folded literal as written in the rule
	num  float64
}

func (m *numberMatcher) match(v event.Value, _ Subject) bool {
	switch v.Kind {
	case event.Number, event.String, event.Bool:
	default:
		return false
	}
	if equalFoldASCII(v.Str, m.text) {
		return true
	}
	n, ok := parseNumber(v)
	return ok && n == m.num
}

// parseNumber reads a number, or a string holding only a JSON-style number,
// without allocating (strconv's error values allocate, so the syntax is
// checked first).
func parseNumber(v event.Value) (float64, bool) {
	if v.Kind != event.Number && v.Kind != event.String {
		return 0, false
	}
	s := v.Str
	if !looksNumeric(s) {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	return n, err == nil
}

func looksNumeric(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// compareMatcher implements lt, lte, gt and gte: numeric comparison against a
// number or a numeric string. Anything else does not match.
type compareMatcher struct {
	op  string // "lt", "lte", "gt", "gte"
	num float64
}

func (m *compareMatcher) match(v event.Value, _ Subject) bool {
	n, ok := parseNumber(v)
	if !ok {
		return false
	}
	switch m.op {
	case "lt":
		return n < m.num
	case "lte":
		return n <= m.num
	case "gt":
		return n > m.num
	case "gte":
		return n >= m.num
	}
	return false
}

// regexMatcher implements re: an unanchored search (as SIEM regex searches
// are), case-sensitive unless re|i. A literal the regex cannot match without
// (for example ":assumed-role/aws:" in ".+:assumed-role/aws:.+") is checked
// first with a plain substring search, so most values are rejected without
// running the regex.
type regexMatcher struct {
	re      *regexp.Regexp
	needLit *glob // a literal every match contains, as a contains glob; nil if none
}

func (m *regexMatcher) match(v event.Value, _ Subject) bool {
	s, ok := valueText(v)
	if !ok {
		return false
	}
	if m.needLit != nil && !m.needLit.match(s) {
		return false
	}
	return m.re.MatchString(s)
}

// cidrMatcher implements cidr: the value is an IP address inside the prefix.
// IPv4-mapped IPv6 addresses count as IPv4.
type cidrMatcher struct{ prefix netip.Prefix }

func (m *cidrMatcher) match(v event.Value, _ Subject) bool {
	if v.Kind != event.String || !looksLikeIP(v.Str) {
		return false
	}
	a, err := netip.ParseAddr(v.Str)
	if err != nil {
		return false
	}
	return m.prefix.Contains(a.Unmap())
}

// looksLikeIP rejects, without allocating an error, the values CloudTrail
// puts in sourceIPAddress that are not addresses ("AWS Internal",
// "ec2.amazonaws.com").
func looksLikeIP(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '.', c == ':':
		case c == '%': // an IPv6 zone: anything may follow
			return i > 0
		default:
			return false
		}
	}
	return true
}

// timeMatcher implements the time modifiers (minute, hour, day, week,
// month, year): the field is read as an RFC 3339 timestamp in UTC and the
// part compared with the rule's number. eventTime uses the time the decoder
// already parsed.
type timeMatcher struct {
	part      string
	want      int
	eventTime bool // the field is eventTime
}

func (m *timeMatcher) match(v event.Value, ev Subject) bool {
	if v.Kind != event.String {
		return false
	}
	var t time.Time
	if m.eventTime && !ev.Time.IsZero() {
		t = ev.Time
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, v.Str); err != nil {
			return false
		}
		t = t.UTC()
	}
	return timePart(t, m.part) == m.want
}

func timePart(t time.Time, part string) int {
	switch part {
	case "minute":
		return t.Minute()
	case "hour":
		return t.Hour()
	case "day":
		return t.Day()
	case "week":
		_, w := t.ISOWeek()
		return w
	case "month":
		return int(t.Month())
	case "year":
		return t.Year()
	}
	return -1
}

// fieldrefMatcher implements fieldref: the value equals (or, with
// contains/startswith/endswith, contains, starts or ends with) the value of
// another field of the same event. It compares case-insensitively unless
// cased. A missing or null referenced field matches nothing.
type fieldrefMatcher struct {
	ref   *event.Path
	mode  globKind // globExact, globPrefix, globSuffix or globContains
	cased bool
}

func (m *fieldrefMatcher) match(v event.Value, ev Subject) bool {
	s, ok := valueText(v)
	if !ok {
		return false
	}
	return ev.Lookup(m.ref, func(w event.Value) bool {
		r, ok := valueText(w)
		return ok && m.compare(s, r)
	})
}

func (m *fieldrefMatcher) compare(s, r string) bool {
	if m.cased {
		switch m.mode {
		case globPrefix:
			return strings.HasPrefix(s, r)
		case globSuffix:
			return strings.HasSuffix(s, r)
		case globContains:
			return strings.Contains(s, r)
		}
		return s == r
	}
	switch m.mode {
	case globPrefix:
		return hasPrefixFold(s, r)
	case globSuffix:
		return hasSuffixFold(s, r)
	case globContains:
		return containsFold(s, r)
	}
	return strings.EqualFold(s, r)
}
