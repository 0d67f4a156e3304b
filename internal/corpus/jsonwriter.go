package corpus

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonWriter appends compact JSON to buf. It tracks only whether the next
// member of the current object or array needs a leading comma, which is all
// compact JSON needs: after a value or a closing bracket it does, after an
// opening bracket it does not. Callers are responsible for balancing
// Object/End and Array/EndArray.
type jsonWriter struct {
	buf   []byte
	comma bool
}

func (w *jsonWriter) sep() {
	if w.comma {
		w.buf = append(w.buf, ',')
	}
}

func (w *jsonWriter) key(k string) {
	w.sep()
	w.buf = appendQuoted(w.buf, k)
	w.buf = append(w.buf, ':')
}

// Str writes "k":"v".
func (w *jsonWriter) Str(k, v string) {
	w.key(k)
	w.buf = appendQuoted(w.buf, v)
	w.comma = true
}

// Cat writes "k":"<parts concatenated>" without building the string first.
func (w *jsonWriter) Cat(k string, parts ...string) {
	w.key(k)
	w.buf = append(w.buf, '"')
	for _, p := range parts {
		w.buf = appendEscaped(w.buf, p)
	}
	w.buf = append(w.buf, '"')
	w.comma = true
}

// Int writes "k":n.
func (w *jsonWriter) Int(k string, n int64) {
	w.key(k)
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.comma = true
}

// Bool writes "k":true or "k":false.
func (w *jsonWriter) Bool(k string, b bool) {
	w.key(k)
	w.buf = strconv.AppendBool(w.buf, b)
	w.comma = true
}

// Null writes "k":null.
func (w *jsonWriter) Null(k string) {
	w.key(k)
	w.buf = append(w.buf, "null"...)
	w.comma = true
}

// Time writes "k":"2006-01-02T15:04:05Z", the CloudTrail timestamp form.
func (w *jsonWriter) Time(k string, t time.Time) {
	w.key(k)
	w.buf = append(w.buf, '"')
	w.buf = appendTimestamp(w.buf, t)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// Object opens "k":{ ; close it with End.
func (w *jsonWriter) Object(k string) {
	w.key(k)
	w.buf = append(w.buf, '{')
	w.comma = false
}

// End closes an object.
func (w *jsonWriter) End() {
	w.buf = append(w.buf, '}')
	w.comma = true
}

// Empty writes "k":{}.
func (w *jsonWriter) Empty(k string) {
	w.key(k)
	w.buf = append(w.buf, '{', '}')
	w.comma = true
}

// Array opens "k":[ ; close it with EndArray.
func (w *jsonWriter) Array(k string) {
	w.key(k)
	w.buf = append(w.buf, '[')
	w.comma = false
}

// EndArray closes an array.
func (w *jsonWriter) EndArray() {
	w.buf = append(w.buf, ']')
	w.comma = true
}

// Item opens an object element of the current array; close it with End.
func (w *jsonWriter) Item() {
	w.sep()
	w.buf = append(w.buf, '{')
	w.comma = false
}

// StrItem writes a string element of the current array.
func (w *jsonWriter) StrItem(v string) {
	w.sep()
	w.buf = appendQuoted(w.buf, v)
	w.comma = true
}

// Items opens "k":{"items":[ , the list shape EC2 uses in its
// requestParameters and responseElements; close it with EndItems.
func (w *jsonWriter) Items(k string) {
	w.Object(k)
	w.Array("items")
}

// EndItems closes what Items opened.
func (w *jsonWriter) EndItems() {
	w.EndArray()
	w.End()
}

// appendQuoted appends s as a JSON string literal.
func appendQuoted(buf []byte, s string) []byte {
	buf = append(buf, '"')
	buf = appendEscaped(buf, s)
	return append(buf, '"')
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends the body of a JSON string literal for s, escaped the
// way encoding/json escapes with HTML escaping off: quote, backslash and
// control characters are escaped, invalid UTF-8 becomes U+FFFD, and U+2028
// and U+2029 are escaped so the output is also valid JavaScript.
func appendEscaped(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(buf, s[start:]...)
}

// appendTimestamp appends t in UTC as 2006-01-02T15:04:05Z.
func appendTimestamp(buf []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(buf, "2006-01-02T15:04:05Z")
}
