package detect

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/trailsentry/trailsentry/internal/event"
)

// This file implements Sigma value modifiers (`field|mod1|mod2: value`): it
// reads the chain once at load, checks that the combination means something,
// and turns each rule value into a matcher (value.go).
//
// Modifiers fall in four groups:
//
//   - flags that change how values combine or compare: all (values ANDed
//     instead of ORed), cased (case-sensitive), neq (the field must differ);
//   - string transformations, applied in the order written: contains,
//     startswith, endswith (add '*' wildcards), base64, base64offset,
//     utf16le/wide, utf16be, utf16 (encode), windash (expand dashes);
//   - a type that replaces string matching: re (with the flags i, m, s and
//     their long names ignorecase, multiline, dotall), cidr, exists,
//     fieldref, lt/lte/gt/gte, and the time parts minute, hour, day, week,
//     month, year;
//   - expand, whose %placeholders% need a value source trailsentry does not
//     have: a rule using it is rejected at load, as the specification asks of
//     tools that cannot resolve placeholders.
//
// As in pySigma, re and cidr take the value as written (no transformation
// may come before them) and the encoders refuse values with wildcards.

// valueKind is how a field item's values are matched.
type valueKind uint8

const (
	kindString   valueKind = iota // plain Sigma strings (and numbers, booleans, null)
	kindRegex                     // re
	kindCIDR                      // cidr
	kindExists                    // exists
	kindFieldref                  // fieldref
	kindCompare                   // lt, lte, gt, gte
	kindTime                      // minute, hour, day, week, month, year
)

// spec is a parsed modifier chain.
type spec struct {
	kind       valueKind
	typeName   string   // the modifier that set kind ("re", "gte", "hour"...)
	all        bool     // all: every value must match
	cased      bool     // cased: compare case-sensitively
	neq        bool     // neq: the field must differ from every value
	reFlags    string   // re: some of "i", "m", "s"
	transforms []string // string transformations, in order
}

// parseModifiers reads the modifiers of one field item (what follows the
// field name, split on '|').
func parseModifiers(mods []string) (*spec, error) {
	s := &spec{}
	for _, m := range mods {
		switch m {
		case "all":
			s.all = true
		case "cased":
			s.cased = true
		case "neq":
			s.neq = true
		case "contains", "startswith", "endswith", "base64", "base64offset",
			"utf16le", "utf16be", "utf16", "wide", "windash":
			if s.kind != kindString && !(isAffix(m) && (s.kind == kindRegex || s.kind == kindFieldref)) {
				return nil, fmt.Errorf("modifier %s cannot follow %s", m, s.typeName)
			}
			s.transforms = append(s.transforms, m)
		case "re", "cidr", "exists", "fieldref", "lt", "lte", "gt", "gte",
			"minute", "hour", "day", "week", "month", "year":
			if s.kind != kindString {
				return nil, fmt.Errorf("modifiers %s and %s cannot be combined", s.typeName, m)
			}
			if len(s.transforms) > 0 {
				return nil, fmt.Errorf("modifier %s must come before %s: it applies to the value as written", m, s.transforms[0])
			}
			s.kind, s.typeName = typeOf(m), m
		case "i", "ignorecase", "m", "multiline", "s", "dotall":
			if s.kind != kindRegex {
				return nil, fmt.Errorf("modifier %s is a regular expression flag and needs re before it", m)
			}
			s.reFlags += m[:1]
		case "expand":
			return nil, fmt.Errorf("modifier expand needs placeholder values, and trailsentry has no placeholder source")
		case "":
			return nil, fmt.Errorf("empty modifier (two '|' in a row)")
		default:
			return nil, fmt.Errorf("unknown modifier %q", m)
		}
	}
	return s, s.check()
}

func isAffix(m string) bool { return m == "contains" || m == "startswith" || m == "endswith" }

func typeOf(m string) valueKind {
	switch m {
	case "re":
		return kindRegex
	case "cidr":
		return kindCIDR
	case "exists":
		return kindExists
	case "fieldref":
		return kindFieldref
	case "lt", "lte", "gt", "gte":
		return kindCompare
	}
	return kindTime
}

// check rejects combinations that have no meaning.
func (s *spec) check() error {
	switch s.kind {
	case kindExists:
		if s.all || s.cased || s.neq {
			return fmt.Errorf("exists takes no other modifier")
		}
	case kindCIDR, kindCompare, kindTime:
		if s.cased {
			return fmt.Errorf("cased has no meaning with %s", s.typeName)
		}
		if s.kind == kindCompare && s.neq {
			return fmt.Errorf("neq cannot be combined with %s", s.typeName)
		}
	case kindRegex:
		if s.cased && strings.Contains(s.reFlags, "i") {
			return fmt.Errorf("cased contradicts the regular expression flag i")
		}
	}
	return nil
}

// compile turns the values of one field item into matchers. field is the
// item's field path ("" for keywords); it is only consulted by the time
// modifiers, which read eventTime from the decoded event.
func (s *spec) compile(values []scalar, field string) (ms []matcher, hasNull bool, err error) {
	if s.kind == kindExists {
		return nil, false, fmt.Errorf("internal: exists is compiled by the field node")
	}
	for _, v := range values {
		if v.tag == tagNull {
			if s.kind != kindString || len(s.transforms) > 0 || s.cased || field == "" {
				return nil, false, fmt.Errorf("null cannot be matched with modifiers (only `field: null` and `field|neq: null`)")
			}
			hasNull = true
			ms = append(ms, nullMatcher{})
			continue
		}
		m, err := s.compileValue(v, field)
		if err != nil {
			return nil, false, err
		}
		ms = append(ms, m)
	}
	return ms, hasNull, nil
}

func (s *spec) compileValue(v scalar, field string) (matcher, error) {
	switch s.kind {
	case kindRegex:
		return s.compileRegex(v.text)
	case kindCIDR:
		return compileCIDR(v.text)
	case kindFieldref:
		return s.compileFieldref(v.text)
	case kindCompare:
		n, ok := v.number()
		if !ok {
			return nil, fmt.Errorf("%s needs a number, got %q", s.typeName, v.text)
		}
		return &compareMatcher{op: s.typeName, num: n}, nil
	case kindTime:
		return compileTime(s.typeName, v, field)
	}
	if len(s.transforms) == 0 && v.tag == tagNumber {
		n, ok := v.number()
		if !ok {
			n = math.NaN() // .inf, .nan: equal to no number, only to their text
		}
		return &numberMatcher{text: strings.ToLower(v.text), num: n}, nil
	}
	text := v.text
	if v.tag == tagBool {
		text = strings.ToLower(text)
	}
	vals := []sigmaString{parseSigmaString(text)}
	for _, t := range s.transforms {
		var err error
		if vals, err = transform(t, vals); err != nil {
			return nil, err
		}
	}
	out := make(anyOf, 0, len(vals))
	for _, sv := range vals {
		out = append(out, &stringMatcher{g: newGlob(sv, s.cased)})
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

// sigmaString is a string value as a sequence of literal text and
// wildcards.
type sigmaString []part

// parseSigmaString reads wildcards and escapes as the specification defines
// them: '*' and '?' are wildcards; a backslash escapes '*', '?' and itself;
// any other backslash is a literal backslash (so `\\` and `\` before a letter
// both give one backslash, and `\\*` is a backslash then a wildcard).
func parseSigmaString(s string) sigmaString {
	var out sigmaString
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, part{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			w := wildStar
			if c == '?' {
				w = wildOne
			}
			out = append(out, part{wild: w})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

func (s sigmaString) hasWildcards() bool {
	for _, p := range s {
		if p.wild != 0 {
			return true
		}
	}
	return false
}

func (s sigmaString) plain() string {
	var b strings.Builder
	for _, p := range s {
		b.WriteString(p.text)
	}
	return b.String()
}

func (s sigmaString) startsWithStar() bool { return len(s) > 0 && s[0].wild == wildStar }
func (s sigmaString) endsWithStar() bool   { return len(s) > 0 && s[len(s)-1].wild == wildStar }

// maxExpansion bounds the values windash and base64offset may expand one
// rule value into.
const maxExpansion = 4096

// transform applies one string transformation to every value.
func transform(name string, vals []sigmaString) ([]sigmaString, error) {
	var out []sigmaString
	for _, v := range vals {
		switch name {
		case "contains", "startswith", "endswith":
			if name != "startswith" && !v.startsWithStar() {
				v = append(sigmaString{{wild: wildStar}}, v...)
			}
			if name != "endswith" && !v.endsWithStar() {
				v = append(v[:len(v):len(v)], part{wild: wildStar}) // a copy: v may share its array
			}
			out = append(out, v)
		case "base64", "base64offset":
			if v.hasWildcards() {
				return nil, fmt.Errorf("%s cannot encode a value with wildcards", name)
			}
			if name == "base64" {
				out = append(out, sigmaString{{text: base64.StdEncoding.EncodeToString([]byte(v.plain()))}})
				continue
			}
			for _, enc := range base64Offsets(v.plain()) {
				out = append(out, sigmaString{{text: enc}})
			}
		case "utf16le", "wide", "utf16be", "utf16":
			out = append(out, encodeUTF16(name, v))
		case "windash":
			out = append(out, windash(v)...)
		}
		if len(out) > maxExpansion {
			return nil, fmt.Errorf("%s expands the value into more than %d values", name, maxExpansion)
		}
	}
	return out, nil
}

// base64Offsets returns the three forms a string takes inside base64 text,
// depending on its offset modulo 3, with the characters that depend on the
// neighbouring bytes cut off (pySigma's base64offset).
func base64Offsets(s string) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2} // characters to cut at the end, by (len+shift)%3
	out := make([]string, 0, 3)
	for shift := 0; shift < 3; shift++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", shift) + s))
		end := len(enc) - ends[(len(s)+shift)%3]
		if starts[shift] > end {
			continue
		}
		out = append(out, enc[starts[shift]:end])
	}
	return out
}

// encodeUTF16 encodes the text parts; a utf16 value starts with the
// little-endian byte order mark.
func encodeUTF16(name string, v sigmaString) sigmaString {
	out := make(sigmaString, 0, len(v)+1)
	if name == "utf16" {
		out = append(out, part{text: "\xff\xfe"})
	}
	for _, p := range v {
		if p.wild != 0 {
			out = append(out, p)
			continue
		}
		var b []byte
		for _, u := range utf16.Encode([]rune(p.text)) {
			if name == "utf16be" {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		out = append(out, part{text: string(b)})
	}
	return out
}

// windashChars are what windash puts in place of a leading '-' or '/'.
const windashChars = "-/\u2013\u2014\u2015" // hyphen, slash, en dash, em dash, horizontal bar

// windash expands every '-' or '/' that starts a word (not preceded by a
// word character, followed by one: pySigma's `\B[-/]\b`) into each of the
// five dash characters, giving every combination.
func windash(v sigmaString) []sigmaString {
	out := []sigmaString{nil}
	for _, p := range v {
		if p.wild != 0 {
			for i := range out {
				out[i] = append(out[i], p)
			}
			continue
		}
		for _, piece := range splitWindash(p.text) {
			if piece != "-" && piece != "/" {
				for i := range out {
					out[i] = append(out[i], part{text: piece})
				}
				continue
			}
			var next []sigmaString
			for _, o := range out {
				for _, d := range windashChars {
					n := append(append(sigmaString(nil), o...), part{text: string(d)})
					next = append(next, n)
				}
			}
			out = next
			if len(out) > maxExpansion {
				return out
			}
		}
	}
	return out
}

// splitWindash cuts s around the dashes windash expands; each such dash is
// its own piece.
func splitWindash(s string) []string {
	var pieces []string
	start := 0
	prevWord := false
	for i, r := range s {
		if r == '-' || r == '/' {
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if !prevWord && i+1 < len(s) && isWordRune(next) {
				if start < i {
					pieces = append(pieces, s[start:i])
				}
				pieces = append(pieces, s[i:i+1])
				start = i + 1
			}
		}
		prevWord = isWordRune(r)
	}
	if start < len(s) {
		pieces = append(pieces, s[start:])
	}
	return pieces
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// compileRegex compiles an re value. Flags become (?i), (?m), (?s);
// startswith and endswith after re anchor the search at the start or end of
// the value, contains leaves it unanchored (it already is).
func (s *spec) compileRegex(expr string) (matcher, error) {
	orig := expr
	for _, t := range s.transforms {
		switch t {
		case "startswith":
			expr = `\A(?:` + expr + `)`
		case "endswith":
			expr = `(?:` + expr + `)\z`
		}
	}
	if s.reFlags != "" {
		expr = "(?" + dedupFlags(s.reFlags) + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", orig, err)
	}
	m := &regexMatcher{re: re}
	if parsed, err := syntax.Parse(expr, syntax.Perl); err == nil {
		parsed = parsed.Simplify()
		if lit, fold := requiredLiteral(parsed); lit != "" {
			m.needLit = newGlob(sigmaString{{wild: wildStar}, {text: lit}, {wild: wildStar}}, !fold)
		}
		if trimmed, ok := trimDotStars(parsed); ok {
			if fast, err := regexp.Compile(trimmed.String()); err == nil {
				m.re = fast
			}
		}
	}
	return m, nil
}

// trimDotStars rewrites a search regex with the same matches-anywhere
// meaning but cheaper to run: a leading or trailing `.*` can match the
// empty string, so it is dropped, and `.+` only needs its one character
// next to the rest (".+:assumed-role/aws:.+" searches as
// ".:assumed-role/aws:."). It reports whether it changed anything.
func trimDotStars(re *syntax.Regexp) (*syntax.Regexp, bool) {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return re, false
	}
	subs := slices.Clone(re.Sub)
	changed := false
	trim := func(i int) bool {
		s := subs[i]
		if (s.Op != syntax.OpStar && s.Op != syntax.OpPlus) || len(s.Sub) != 1 {
			return false
		}
		if op := s.Sub[0].Op; op != syntax.OpAnyCharNotNL && op != syntax.OpAnyChar {
			return false
		}
		if s.Op == syntax.OpStar {
			subs[i] = nil
		} else {
			subs[i] = s.Sub[0]
		}
		return true
	}
	changed = trim(0)
	changed = trim(len(subs)-1) || changed
	if !changed {
		return re, false
	}
	out := &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags}
	for _, s := range subs {
		if s != nil {
			out.Sub = append(out.Sub, s)
		}
	}
	if len(out.Sub) == 0 {
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}, true
	}
	return out, true
}

func dedupFlags(f string) string {
	var out []byte
	for _, c := range []byte("ims") {
		if strings.IndexByte(f, c) >= 0 {
			out = append(out, c)
		}
	}
	return string(out)
}

// requiredLiteral finds the longest literal every match of re contains, and
// whether it is matched case-insensitively.
func requiredLiteral(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), re.Flags&syntax.FoldCase != 0
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		best, bestFold := "", false
		for _, sub := range re.Sub {
			if lit, fold := requiredLiteral(sub); len(lit) > len(best) {
				best, bestFold = lit, fold
			}
		}
		return best, bestFold
	}
	return "", false
}

// compileCIDR reads a prefix (or a single address, as /32 or /128); host
// bits are ignored. An IPv4-mapped IPv6 prefix is read as IPv4, like the
// addresses it is compared with.
func compileCIDR(text string) (matcher, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(text))
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSpace(text))
		if aerr != nil {
			return nil, fmt.Errorf("invalid CIDR %q: %v", text, err)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return nil, fmt.Errorf("invalid CIDR %q: an IPv4-mapped prefix needs at least 96 bits", text)
		}
		p = netip.PrefixFrom(a.Unmap(), bits)
	}
	return &cidrMatcher{prefix: p.Masked()}, nil
}

func (s *spec) compileFieldref(text string) (matcher, error) {
	sv := parseSigmaString(text)
	if sv.hasWildcards() {
		return nil, fmt.Errorf("fieldref %q: a field name cannot hold wildcards", text)
	}
	name := sv.plain()
	if name == "" {
		return nil, fmt.Errorf("fieldref needs a field name")
	}
	m := &fieldrefMatcher{ref: event.ParsePath(name), mode: globExact, cased: s.cased}
	prefix, suffix := false, false
	for _, t := range s.transforms {
		switch t {
		case "contains":
			prefix, suffix = true, true
		case "startswith":
			prefix = true
		case "endswith":
			suffix = true
		}
	}
	switch {
	case prefix && suffix:
		m.mode = globContains
	case prefix:
		m.mode = globPrefix
	case suffix:
		m.mode = globSuffix
	}
	return m, nil
}

func compileTime(part string, v scalar, field string) (matcher, error) {
	n, ok := v.number()
	if !ok || n != float64(int(n)) {
		return nil, fmt.Errorf("%s needs a whole number, got %q", part, v.text)
	}
	lo, hi := 0, 0
	switch part {
	case "minute":
		lo, hi = 0, 59
	case "hour":
		lo, hi = 0, 23
	case "day":
		lo, hi = 1, 31
	case "week":
		lo, hi = 1, 53
	case "month":
		lo, hi = 1, 12
	case "year":
		lo, hi = 1, 9999
	}
	if int(n) < lo || int(n) > hi {
		return nil, fmt.Errorf("%s must be between %d and %d, got %v", part, lo, hi, v.text)
	}
	return &timeMatcher{part: part, want: int(n), eventTime: field == event.Fields[event.EventTime].Path}, nil
}

// scalar is one YAML value of a detection item with its resolved type.
type scalar struct {
	tag  scalarTag
	text string // as written (the YAML scalar's text)
	line int
}

type scalarTag uint8

const (
	tagString scalarTag = iota
	tagNumber
	tagBool
	tagNull
)

func (v scalar) number() (float64, bool) {
	if v.tag != tagNumber && v.tag != tagString {
		return 0, false
	}
	t := strings.TrimSpace(v.text)
	if looksNumeric(t) {
		n, err := strconv.ParseFloat(t, 64)
		return n, err == nil
	}
	if v.tag != tagNumber {
		return 0, false
	}
	// YAML's other integer forms: 0x17, 0o17, 1_000.
	if n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 0, 64); err == nil {
		return float64(n), true
	}
	return 0, false
}
