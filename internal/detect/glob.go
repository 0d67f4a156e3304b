package detect

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file implements Sigma's plain string values: '*' matches any run of
// characters, '?' exactly one character, and matching ignores case unless the
// value carries the cased modifier.
//
// Case-insensitive means Unicode simple case folding, the same equivalence
// strings.EqualFold and regexp's (?i) use: two characters match when they are
// in the same fold orbit (so 'K', 'k' and the Kelvin sign 'K' all match).
// Patterns are folded once at load into a canonical form (canonRune); the
// event side is folded on the fly without allocating. When both the pattern
// and the event string are ASCII, matching works on bytes: exact, prefix,
// suffix and contains patterns — nearly all of them — take dedicated fast
// paths, and anything else runs a small backtracking glob matcher, never a
// regular expression.

// canonRune maps r to the representative of its case-fold orbit: the lower
// case of the orbit's lowest rune when that is in the orbit (so 'K', 'k'
// and the Kelvin sign all give 'k', 'Σ', 'σ' and 'ς' give 'σ'), else the
// lowest rune itself.
func canonRune(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(lowerASCII(byte(r)))
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	l := unicode.ToLower(m)
	for f := unicode.SimpleFold(m); f != m; f = unicode.SimpleFold(f) {
		if f == l {
			return l
		}
	}
	return m
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// appendCanon appends the canonical folded form of s to dst: ASCII
// lower-cased byte by byte, other runes through canonRune. Invalid UTF-8
// bytes become U+FFFD, exactly as the glob matcher decodes them.
func appendCanon(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, lowerASCII(c))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, canonRune(r))
		i += size
	}
	return dst
}

// foldString returns the canonical folded form of s.
func foldString(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	return string(appendCanon(make([]byte, 0, len(s)), s))
}

// Byte-level helpers for ASCII subjects and ASCII lower-case patterns.

func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

func indexFoldASCII(s, lower string) int {
	n := len(lower)
	if n == 0 {
		return 0
	}
	c0, c1 := lower[0], upperASCII(lower[0])
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; c != c0 && c != c1 {
			continue
		}
		if equalFoldASCII(s[i+1:i+n], lower[1:]) {
			return i
		}
	}
	return -1
}

// Rune-level helpers for any two runtime strings (fieldref compares field
// against field, so neither side is known at load).

// prefixFold reports whether s begins with prefix under case folding, and
// how many bytes of s the prefix covered.
func prefixFold(s, prefix string) (int, bool) {
	i, j := 0, 0
	for j < len(prefix) {
		if i >= len(s) {
			return 0, false
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		p, m := utf8.DecodeRuneInString(prefix[j:])
		if r != p && canonRune(r) != canonRune(p) {
			return 0, false
		}
		i, j = i+n, j+m
	}
	return i, true
}

func hasPrefixFold(s, prefix string) bool {
	_, ok := prefixFold(s, prefix)
	return ok
}

func hasSuffixFold(s, suffix string) bool {
	for i := 0; i <= len(s); {
		if n, ok := prefixFold(s[i:], suffix); ok && i+n == len(s) {
			return true
		}
		if i == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return false
}

func containsFold(s, sub string) bool {
	for i := 0; i <= len(s); {
		if hasPrefixFold(s[i:], sub) {
			return true
		}
		if i == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return false
}

// Pattern elements: a rune (canonical when folding) or one of the wildcards.
const (
	wildStar rune = -1 // '*': any run of characters, possibly empty
	wildOne  rune = -2 // '?': exactly one character
)

type globKind uint8

const (
	globExact    globKind = iota // lit
	globPrefix                   // lit*
	globSuffix                   // *lit
	globContains                 // *lit*
	globAny                      // *
	globGeneral                  // anything else: ? or an inner *
)

// glob is a compiled Sigma string value.
type glob struct {
	kind globKind
	fold bool   // case-insensitive (no cased modifier)
	lit  string // the literal of the fast kinds; canonical when fold
	// litASCII: lit and pat hold only ASCII, so an ASCII subject can be
	// matched byte by byte.
	litASCII bool
	// bytewise: the value is not UTF-8 text (utf16 output): elements are
	// bytes, folding is ASCII-only, and '?' matches one byte.
	bytewise bool
	pat      []rune // the whole pattern
}

// part is one piece of a Sigma string value: literal text or a wildcard.
type part struct {
	text string
	wild rune // 0 for text, else wildStar or wildOne
}

// newGlob compiles a value (a sequence of parts) into a matcher.
func newGlob(parts []part, cased bool) *glob {
	g := &glob{fold: !cased}
	for _, p := range parts {
		if p.wild == 0 && !utf8.ValidString(p.text) {
			g.bytewise = true
		}
	}
	for _, p := range parts {
		if p.wild != 0 {
			if p.wild == wildStar && len(g.pat) > 0 && g.pat[len(g.pat)-1] == wildStar {
				continue // "**" is "*"
			}
			g.pat = append(g.pat, p.wild)
			continue
		}
		if g.bytewise {
			for i := 0; i < len(p.text); i++ {
				c := p.text[i]
				if g.fold {
					c = lowerASCII(c)
				}
				g.pat = append(g.pat, rune(c))
			}
			continue
		}
		for _, r := range p.text {
			if g.fold {
				r = canonRune(r)
			}
			g.pat = append(g.pat, r)
		}
	}
	g.classify()
	return g
}

func (g *glob) classify() {
	pat := g.pat
	lead := len(pat) > 0 && pat[0] == wildStar
	if lead {
		pat = pat[1:]
	}
	trail := len(pat) > 0 && pat[len(pat)-1] == wildStar
	if trail {
		pat = pat[:len(pat)-1]
	}
	g.litASCII = true
	var lit []byte
	for _, r := range pat {
		if r < 0 {
			g.kind = globGeneral
			g.litASCII = g.allASCII()
			return
		}
		if g.bytewise {
			lit = append(lit, byte(r))
		} else {
			lit = utf8.AppendRune(lit, r)
		}
		if r >= utf8.RuneSelf {
			g.litASCII = false
		}
	}
	g.lit = string(lit)
	switch {
	case lead && len(pat) == 0:
		g.kind = globAny
	case lead && trail:
		g.kind = globContains
	case lead:
		g.kind = globSuffix
	case trail:
		g.kind = globPrefix
	default:
		g.kind = globExact
	}
}

func (g *glob) allASCII() bool {
	for _, r := range g.pat {
		if r >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// floating reports whether the pattern is free at both ends (*x*), so
// that it may match inside a longer text.
func (g *glob) floating() bool {
	n := len(g.pat)
	return g.kind == globContains || g.kind == globAny ||
		(g.kind == globGeneral && n > 1 && g.pat[0] == wildStar && g.pat[n-1] == wildStar)
}

// exact returns the literal of a pattern without wildcards.
func (g *glob) exact() (string, bool) { return g.lit, g.kind == globExact }

// match reports whether s matches the pattern.
func (g *glob) match(s string) bool {
	if g.kind == globAny {
		return true
	}
	if !g.fold {
		switch g.kind {
		case globExact:
			return s == g.lit
		case globPrefix:
			return strings.HasPrefix(s, g.lit)
		case globSuffix:
			return strings.HasSuffix(s, g.lit)
		case globContains:
			return strings.Contains(s, g.lit)
		}
		return matchGlob(g.pat, s, false, g.bytewise || isASCII(s))
	}
	if g.bytewise {
		return g.matchFoldASCII(s)
	}
	if !g.litASCII {
		return matchGlob(g.pat, s, true, false)
	}
	// An ASCII pattern: the byte-wise comparison decides, unless the part
	// of s that could match holds a non-ASCII rune that folds to ASCII
	// (the Kelvin sign, the long s). Those take 2 or 3 bytes for one
	// ASCII letter, so n pattern letters match between n and 3n bytes.
	n := len(g.lit)
	switch g.kind {
	case globExact:
		if len(s) == n {
			return equalFoldASCII(s, g.lit)
		}
		if len(s) < n || len(s) > 3*n || isASCII(s) {
			return false
		}
	case globPrefix:
		if len(s) >= n && equalFoldASCII(s[:n], g.lit) {
			return true
		}
		if len(s) < n || isASCII(s[:min(len(s), 3*n)]) {
			return false
		}
	case globSuffix:
		if len(s) >= n && equalFoldASCII(s[len(s)-n:], g.lit) {
			return true
		}
		if len(s) < n || isASCII(s[len(s)-min(len(s), 3*n):]) {
			return false
		}
	case globContains:
		if indexFoldASCII(s, g.lit) >= 0 {
			return true
		}
		if len(s) < n || isASCII(s) {
			return false
		}
	default:
		if isASCII(s) {
			return matchGlob(g.pat, s, true, true)
		}
	}
	return matchGlob(g.pat, s, true, false)
}

// matchFoldASCII matches with ASCII-only folding, byte by byte.
func (g *glob) matchFoldASCII(s string) bool {
	n := len(g.lit)
	switch g.kind {
	case globExact:
		return equalFoldASCII(s, g.lit)
	case globPrefix:
		return len(s) >= n && equalFoldASCII(s[:n], g.lit)
	case globSuffix:
		return len(s) >= n && equalFoldASCII(s[len(s)-n:], g.lit)
	case globContains:
		return indexFoldASCII(s, g.lit) >= 0
	}
	return matchGlob(g.pat, s, true, true)
}

// matchGlob is the general matcher: the classic backtracking walk that
// remembers the last '*' and lets it absorb one more character on a
// mismatch. bytewise steps through s a byte at a time (ASCII subjects and
// non-UTF-8 patterns); otherwise it steps a rune at a time.
func matchGlob(pat []rune, s string, fold, bytewise bool) bool {
	next := func(i int) (rune, int) {
		if c := s[i]; bytewise || c < utf8.RuneSelf {
			if fold {
				c = lowerASCII(c)
			}
			return rune(c), 1
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if fold {
			r = canonRune(r)
		}
		return r, n
	}
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pat) {
			switch pr := pat[p]; pr {
			case wildStar:
				starP, starI = p, i
				p++
				continue
			case wildOne:
				_, n := next(i)
				p, i = p+1, i+n
				continue
			default:
				if r, n := next(i); r == pr {
					p, i = p+1, i+n
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := next(starI)
		starI += n
		p, i = starP+1, starI
	}
	for p < len(pat) && pat[p] == wildStar {
		p++
	}
	return p == len(pat)
}
