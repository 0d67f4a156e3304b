package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// This file holds the JSON scanning primitives the decoder and the path
// lookup share. They work on byte slices in place: no tokens, no maps, no
// reflection. Every function validates what it walks over, so a malformed
// record is reported instead of half-decoded.

// errShort means the input ended inside a value: with more bytes the value may
// still be complete. The stream decoder reads more and tries again; on a
// complete record it is a syntax error.
var errShort = errors.New("unexpected end of input")

// SyntaxError is malformed JSON at a byte offset of the record or stream.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset)
}

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the closing quote of the string that
// opens at b[i], and whether it contains escapes.
func stringEnd(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	for j < len(b) {
		// Eight bytes at a time to the next quote, backslash or control byte.
		for j+8 <= len(b) {
			if m := stringStops(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			break
		}
		c := b[j]
		switch {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return 0, false, errShort
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					return 0, false, errShort
				}
				for k := j + 2; k < j+6; k++ {
					if hexVal(b[k]) < 0 {
						return 0, false, syntaxErr(k, "invalid \\u escape in string")
					}
				}
				j += 6
			default:
				return 0, false, syntaxErr(j, "invalid escape '\\%c' in string", b[j+1])
			}
		case c < 0x20:
			return 0, false, syntaxErr(j, "control character 0x%02x in string", c)
		default:
			j++
		}
	}
	return 0, false, errShort
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// stringStops marks (with the byte's high bit) the bytes of x that end a run
// of plain string content: '"', '\\' and control bytes below 0x20. Marks
// above the first true one may be spurious; only the lowest is used.
func stringStops(x uint64) uint64 {
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote - ones) &^ quote & highs) | ((slash - ones) &^ slash & highs) | ((x - ones*0x20) &^ x & highs)
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unquote decodes the JSON string literal s (quotes included), whose escapes
// stringEnd has already validated.
func unquote(s []byte) string {
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				lo := rune(hex4(s[i+2:]))
				if lo >= 0xDC00 && lo < 0xE000 {
					r = (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, s[i+1])
		}
		i += 2
	}
	return string(out)
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// valueEnd validates the JSON value starting at b[i] (no leading space) and
// returns the index just past it.
func valueEnd(b []byte, i int, depth int) (int, error) {
	if i >= len(b) {
		return 0, errShort
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := stringEnd(b, i)
		return end, err
	case c == '{':
		return objectEnd(b, i, depth+1)
	case c == '[':
		return arrayEnd(b, i, depth+1)
	case c == 't':
		return literalEnd(b, i, "true")
	case c == 'f':
		return literalEnd(b, i, "false")
	case c == 'n':
		return literalEnd(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return numberEnd(b, i)
	default:
		return 0, syntaxErr(i, "invalid character %s looking for a value", quoteChar(c))
	}
}

func quoteChar(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("0x%02x", c)
}

func literalEnd(b []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) {
			return 0, errShort
		}
		if b[i+k] != lit[k] {
			return 0, syntaxErr(i+k, "invalid character %s in literal %s", quoteChar(b[i+k]), lit)
		}
	}
	return i + len(lit), nil
}

func numberEnd(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i >= len(b) {
		return 0, errShort
	}
	if b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, syntaxErr(i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			if i >= len(b) {
				return 0, errShort
			}
			return 0, syntaxErr(i, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			if i >= len(b) {
				return 0, errShort
			}
			return 0, syntaxErr(i, "invalid number")
		}
	}
	// A number at the very end of the buffer may continue in the next read.
	if i >= len(b) {
		return 0, errShort
	}
	return i, nil
}

func objectEnd(b []byte, i int, depth int) (int, error) {
	if depth > maxDepth {
		return 0, syntaxErr(i, "nesting deeper than %d", maxDepth)
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return 0, errShort
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] != '"' {
			return 0, syntaxErr(i, "invalid character %s looking for an object key", quoteChar(b[i]))
		}
		end, _, err := stringEnd(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] != ':' {
			return 0, syntaxErr(i, "invalid character %s after object key", quoteChar(b[i]))
		}
		i = skipSpace(b, i+1)
		if i, err = valueEnd(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errShort
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, syntaxErr(i, "invalid character %s after object value", quoteChar(b[i]))
		}
	}
}

func arrayEnd(b []byte, i int, depth int) (int, error) {
	if depth > maxDepth {
		return 0, syntaxErr(i, "nesting deeper than %d", maxDepth)
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return 0, errShort
	}
	if b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = valueEnd(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errShort
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, syntaxErr(i, "invalid character %s after array element", quoteChar(b[i]))
		}
	}
}

// kindOf tells the kind of the (valid) JSON value that starts at b[0].
func kindOf(b []byte) Kind {
	if len(b) == 0 {
		return Missing
	}
	switch b[0] {
	case '"':
		return String
	case '{':
		return Object
	case '[':
		return Array
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}

// skipValid returns the index just past the value at b[i], which is known to
// be valid JSON (an Event's Raw was validated when it was decoded). It only
// counts brackets and jumps over strings, several times faster than valueEnd.
func skipValid(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index just past the valid string opening at b[i].
func skipString(b []byte, i int) int {
	i++
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return len(b)
		}
		i += k
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}
