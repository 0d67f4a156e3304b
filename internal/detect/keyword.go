package detect

import (
	"encoding/json"
	"strings"
	"unsafe"

	"github.com/trailsentry/trailsentry/internal/event"
)

// eachScalar calls visit with every string, number and boolean value in the
// JSON text b, at any depth, until visit returns true; object keys are
// skipped (a string followed by ':' is a key). It reads the event's Raw,
// which the decoder has validated, but stays in bounds whatever b holds.
func eachScalar(b string, visit func(event.Value) bool) bool {
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			end, escaped := stringEnd(b, i)
			if end < 0 {
				return false
			}
			j := end
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
				j++
			}
			if j < len(b) && b[j] == ':' {
				i = j + 1 // a key
				continue
			}
			var s string
			if escaped {
				if json.Unmarshal([]byte(b[i:end]), &s) != nil {
					return false
				}
			} else if end-i > 2 {
				s = b[i+1 : end-1]
			}
			if visit(event.Value{Kind: event.String, Str: s}) {
				return true
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(b) && isNumberByte(b[j]) {
				j++
			}
			if visit(event.Value{Kind: event.Number, Str: b[i:j]}) {
				return true
			}
			i = j
		case c == 't' && hasLiteral(b[i:], "true"), c == 'f' && hasLiteral(b[i:], "false"):
			n := 4
			if c == 'f' {
				n = 5
			}
			if visit(event.Value{Kind: event.Bool, Str: b[i : i+n]}) {
				return true
			}
			i += n
		default:
			i++ // structure, whitespace, null
		}
	}
	return false
}

// stringEnd returns the index just past the string opening at b[i] and
// whether it holds escapes; -1 when it does not close.
func stringEnd(b string, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, false
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func hasLiteral(b, lit string) bool { return strings.HasPrefix(b, lit) }

// rawText views an event's Raw as a string without copying: Raw is never
// written after the event is decoded.
func rawText(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	return unsafe.String(&raw[0], len(raw))
}
