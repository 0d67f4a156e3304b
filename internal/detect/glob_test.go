package detect

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// globRegexp is the reference the glob matcher is checked against: the same
// pattern as an anchored regular expression ((?i) folds exactly as Sigma's
// case-insensitive matching is specified here: Unicode simple folding).
func globRegexp(parts sigmaString, cased bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?s)")
	if !cased {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for _, p := range parts {
		switch p.wild {
		case wildStar:
			b.WriteString(".*")
		case wildOne:
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(p.text))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// TestGlobAgainstRegexp compares the glob matcher, on all its paths (fast
// ASCII kinds, general byte-wise and rune-wise), with the regexp reference
// over random patterns and subjects drawn from an alphabet of tricky
// characters.
func TestGlobAgainstRegexp(t *testing.T) {
	alphabet := []string{"a", "A", "b", "k", "K", "\u212A", "s", "S", "\u017F", "ä", "Ä", "σ", "Σ", "ς", "-", ".", "\n", "\xff"}
	rng := rand.New(rand.NewPCG(1, 2))
	randomString := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	checked := 0
	for i := 0; i < 4000; i++ {
		var parts sigmaString
		for j, n := 0, rng.IntN(5); j < n; j++ {
			switch rng.IntN(4) {
			case 0:
				parts = append(parts, part{wild: wildStar})
			case 1:
				parts = append(parts, part{wild: wildOne})
			default:
				parts = append(parts, part{text: strings.ReplaceAll(randomString(1+rng.IntN(3)), "\xff", "")})
			}
		}
		for _, cased := range []bool{false, true} {
			g := newGlob(parts, cased)
			re := globRegexp(parts, cased)
			for k := 0; k < 8; k++ {
				s := randomString(rng.IntN(7))
				if k%2 == 0 { // plain ASCII subjects take the fast paths
					s = strings.Map(func(r rune) rune {
						if r < 0x80 {
							return r
						}
						return 'b'
					}, s)
				}
				if got, want := g.match(s), re.MatchString(s); got != want {
					t.Fatalf("pattern %q (cased %v, kind %d) on %q: glob %v, regexp %v", re, cased, g.kind, s, got, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d comparisons", checked)
}

func TestGlobKinds(t *testing.T) {
	for _, c := range []struct {
		value string
		kind  globKind
		lit   string
	}{
		{"CreateUser", globExact, "createuser"},
		{"Create*", globPrefix, "create"},
		{"*User", globSuffix, "user"},
		{"*eat*", globContains, "eat"},
		{"*", globAny, ""},
		{"**", globAny, ""},
		{"a*b", globGeneral, ""},
		{"a?", globGeneral, ""},
		{`a\*`, globExact, "a*"},
	} {
		g := newGlob(parseSigmaString(c.value), false)
		if g.kind != c.kind || g.lit != c.lit {
			t.Errorf("%q: kind %d lit %q, want %d %q", c.value, g.kind, g.lit, c.kind, c.lit)
		}
	}
}

func TestFoldHelpers(t *testing.T) {
	for _, c := range []struct {
		s, sub                   string
		prefix, suffix, contains bool
	}{
		{"arn:aws:iam::1:user/Admin", "ARN:", true, false, true},
		{"arn:aws:iam::1:user/Admin", "/admin", false, true, true},
		{"arn:aws:iam::1:user/Admin", "IAM::1", false, false, true},
		{"arn:aws:iam::1:user/Admin", "root", false, false, false},
		{"\u212Aelvin", "kel", true, false, true},
		{"straße", "SSE", false, false, false}, // ß does not simply fold to ss
		{"", "", true, true, true},
		{"x", "", true, true, true},
		{"", "x", false, false, false},
	} {
		if got := hasPrefixFold(c.s, c.sub); got != c.prefix {
			t.Errorf("hasPrefixFold(%q, %q) = %v", c.s, c.sub, got)
		}
		if got := hasSuffixFold(c.s, c.sub); got != c.suffix {
			t.Errorf("hasSuffixFold(%q, %q) = %v", c.s, c.sub, got)
		}
		if got := containsFold(c.s, c.sub); got != c.contains {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"CreateUser", "createuser"},
		{"\u212Aelvin", "kelvin"},
		{"ÄNDERUNG", "änderung"},
		{"ΣΟΦΟΣ", "σοφοσ"},
		{"ſ", "s"},
	} {
		if got := foldString(c.in); got != c.want {
			t.Errorf("foldString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseSigmaString(t *testing.T) {
	for _, c := range []struct {
		in   string
		want sigmaString
	}{
		{`abc`, sigmaString{{text: "abc"}}},
		{`a*b?c`, sigmaString{{text: "a"}, {wild: wildStar}, {text: "b"}, {wild: wildOne}, {text: "c"}}},
		{`a\*b`, sigmaString{{text: "a*b"}}},
		{`a\?`, sigmaString{{text: "a?"}}},
		{`C:\Windows`, sigmaString{{text: `C:\Windows`}}},
		{`C:\\Windows`, sigmaString{{text: `C:\Windows`}}},
		{`\\*`, sigmaString{{text: `\`}, {wild: wildStar}}},
		{`\\\*`, sigmaString{{text: `\*`}}},
		{`\\\\`, sigmaString{{text: `\\`}}},
		{`\\\`, sigmaString{{text: `\\`}}},
		{`end\`, sigmaString{{text: `end\`}}},
		{``, nil},
	} {
		if got := parseSigmaString(c.in); !slices.Equal(got, c.want) {
			t.Errorf("parseSigmaString(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestBase64Offsets(t *testing.T) {
	// pySigma's own example values.
	if got, want := base64Offsets("foobar"), []string{"Zm9vYmFy", "Zvb2Jhc", "mb29iYX"}; !slices.Equal(got, want) {
		t.Errorf("base64Offsets(foobar) = %v, want %v", got, want)
	}
	if got, want := base64Offsets("/bin/bash"), []string{"L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"}; !slices.Equal(got, want) {
		t.Errorf("base64Offsets(/bin/bash) = %v, want %v", got, want)
	}
}

func TestWindashExpansion(t *testing.T) {
	got := windash(parseSigmaString("-a /b c-d"))
	if len(got) != 25 {
		t.Fatalf("%d variants, want 25 (two word-initial dashes, five characters each)", len(got))
	}
	var texts []string
	for _, v := range got {
		texts = append(texts, v.plain())
	}
	for _, want := range []string{"-a /b c-d", "/a -b c-d", "\u2013a \u2015b c-d"} {
		if !slices.Contains(texts, want) {
			t.Errorf("missing variant %q", want)
		}
	}
	for _, t2 := range texts {
		if !strings.HasSuffix(t2, " c-d") {
			t.Errorf("variant %q changed a dash inside a word", t2)
		}
	}
}

func TestLooksNumeric(t *testing.T) {
	for s, want := range map[string]bool{"22": true, "-1.5": true, "1e3": true, "+7": true, "0.25": true,
		"": false, "-": false, "1e": false, "0x10": false, "inf": false, "NaN": false, "1.2.3": false, "22 ": false, ".5": true} {
		if got := looksNumeric(s); got != want {
			t.Errorf("looksNumeric(%q) = %v", s, got)
		}
	}
}

// TestRegexMatcherAgainstPlainRegexp checks that the regex matcher's
// speed-ups (the required-literal prefilter, dropping outer .* and .+) never
// change a result: random subjects against the plain compiled expression.
func TestRegexMatcherAgainstPlainRegexp(t *testing.T) {
	exprs := []struct{ flags, expr string }{
		{"", `.+:assumed-role/aws:.+`},
		{"i", `.+:ASSUMED-role/aws:.+`},
		{"", `.*ab`},
		{"", `ab.*`},
		{"", `.+ab.+`},
		{"s", `.+ab.+`},
		{"", `.+`},
		{"", `.*`},
		{"m", `^ab.+$`},
		{"", `(ab)+c.*`},
		{"i", `k.+s`},
		{"", `a.{2,}b`},
		{"", `.*?a+?.+?`},
	}
	alphabet := []string{"a", "b", "c", "A", "B", "k", "\u212A", "s", "\u017F", "\n", ":", "aws:", ":assumed-role/", "x"}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range exprs {
		s := &spec{kind: kindRegex, typeName: "re", reFlags: c.flags}
		m, err := s.compileRegex(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		prefix := ""
		if c.flags != "" {
			prefix = "(?" + c.flags + ")"
		}
		ref := regexp.MustCompile(prefix + c.expr)
		for i := 0; i < 3000; i++ {
			var b strings.Builder
			for j, n := 0, rng.IntN(8); j < n; j++ {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			v := event.Value{Kind: event.String, Str: b.String()}
			if got, want := m.match(v, Subject{}), ref.MatchString(v.Str); got != want {
				t.Fatalf("re %q (flags %q) on %q: %v, plain regexp %v", c.expr, c.flags, v.Str, got, want)
			}
		}
	}
}
