package policy

import (
	"strings"
	"unicode/utf8"
)

// glob reports whether s matches pattern p, where * matches any run of
// characters (also none) and ? exactly one. With fold, ASCII letters match
// either case (IAM action names). With esc, a backslash makes the next byte
// literal: expanded policy variables use it so that ${*} and substituted
// values cannot act as wildcards.
func glob(p, s string, fold, esc bool) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; {
			case c == '*':
				starP, starS = px, sx
				px++
				continue
			case c == '?':
				if sx < len(s) {
					_, w := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += w
					continue
				}
			default:
				w := 1
				if esc && c == '\\' && px+1 < len(p) {
					c, w = p[px+1], 2
				}
				if sx < len(s) && sameByte(c, s[sx], fold) {
					px += w
					sx++
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			_, w := utf8.DecodeRuneInString(s[starS:])
			starS += w
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

func sameByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lowerASCII(a) == lowerASCII(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// matchARN matches an ARN against a pattern the way IAM matches the Resource
// element and the Arn* condition operators: case-sensitively, each of the six
// colon-separated components on its own (so a wildcard does not reach across
// a colon into the next component, while the last component — the resource —
// keeps any colons it has). A pattern without six components, or a value that
// is not an ARN, is matched as a whole string.
func matchARN(p, s string, esc bool) bool {
	if !strings.HasPrefix(p, "arn:") || !strings.HasPrefix(s, "arn:") || strings.Count(p, ":") < 5 {
		return glob(p, s, false, esc)
	}
	for i := 0; i < 5; i++ {
		pi := strings.IndexByte(p, ':')
		si := strings.IndexByte(s, ':')
		if si < 0 {
			return false
		}
		if !glob(p[:pi], s[:si], false, esc) {
			return false
		}
		p, s = p[pi+1:], s[si+1:]
	}
	return glob(p, s, false, esc)
}

// expand substitutes policy variables in a pattern from the request context:
// ${aws:username}, ${aws:PrincipalTag/team}, ${key, 'default'}, and the
// escapes ${*}, ${?} and ${$}. With escape, the result is a pattern for glob
// with esc set: substituted text and the escapes are backslash-escaped so they
// match only themselves. ok is false when a variable names a key the context
// lacks (or holds several values for) and has no default: IAM then treats the
// element as not matching.
func expand(pattern string, ctx Context, escape bool) (out string, ok bool) {
	if !strings.Contains(pattern, "${") {
		return pattern, true
	}
	var b strings.Builder
	rest := pattern
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		writeLiteral(&b, rest[:i], escape)
		name := rest[i+2 : i+j]
		rest = rest[i+j+1:]
		var val string
		switch name {
		case "*", "?", "$":
			val = name
		default:
			key, def, hasDef := strings.Cut(name, ",")
			key = strings.TrimSpace(key)
			vals, present := ctx.Lookup(key)
			switch {
			case present && len(vals) == 1:
				val = vals[0]
			case hasDef:
				def = strings.TrimSpace(def)
				if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
					return "", false
				}
				val = def[1 : len(def)-1]
			default:
				return "", false
			}
		}
		if escape {
			for k := 0; k < len(val); k++ {
				if c := val[k]; c == '*' || c == '?' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(val[k])
			}
		} else {
			b.WriteString(val)
		}
	}
	writeLiteral(&b, rest, escape)
	return b.String(), true
}

// writeLiteral writes the policy's own text around variables: it keeps its
// wildcards, and only a backslash is escaped, since esc mode gives it a
// meaning.
func writeLiteral(b *strings.Builder, s string, escape bool) {
	if !escape {
		b.WriteString(s)
		return
	}
	for k := 0; k < len(s); k++ {
		if s[k] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[k])
	}
}
