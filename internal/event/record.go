package event

import (
	"bytes"
	"time"
	"unsafe"
)

// keyNode is one level of the hot-field tree built from Fields: the decoder
// walks a record's objects alongside it, decoding the values the tree names
// and skipping everything else without looking inside.
type keyNode struct {
	name     string
	field    Field // numFields when the key is only a parent
	children []*keyNode
}

// child finds the child named key. A short list compared by length first
// beats hashing the key.
func (n *keyNode) child(key []byte) *keyNode {
	for _, c := range n.children {
		if len(c.name) == len(key) && c.name == string(key) {
			return c
		}
	}
	return nil
}

func buildKeyTree() *keyNode {
	root := &keyNode{field: numFields}
	for f, info := range Fields {
		n := root
		for _, seg := range bytes.Split([]byte(info.Path), []byte(".")) {
			child := n.child(seg)
			if child == nil {
				child = &keyNode{name: string(seg), field: numFields}
				n.children = append(n.children, child)
			}
			n = child
		}
		n.field = Field(f)
	}
	return root
}

// span locates a hot value inside the buffer being decoded.
type span struct {
	start, end int32
	kind       Kind
	escaped    bool
}

// member locates one top-level key of a record and its value, so a path
// lookup starts at the right value instead of skipping over the others.
type member struct {
	keyStart, keyEnd, start, end int32
}

// recordParser decodes one record object. It is reused across records: the
// spans are scratch space, and only the finished Event is allocated.
type recordParser struct {
	tree        *keyNode
	spans       [numFields]span
	seen        uint64   // bit f set when spans[f] holds a value
	members     []member // the record's own keys and where their values are
	escapedKeys bool

	// What the top-level keys say the object is.
	records    span // "Records": a CloudTrail log file
	detail     span // "detail": an EventBridge envelope
	detailType string
	digest     bool // digest-file keys seen
}

func newRecordParser() *recordParser { return &recordParser{tree: buildKeyTree()} }

// topKeys the parser notes besides hot fields.
const (
	keyRecords    = "Records"
	keyDetail     = "detail"
	keyDetailType = "detail-type"
)

// parseObject walks the object starting at b[i], noting hot values and, when
// top is set, the keys that say what kind of object it is. It returns the
// index just past the object.
func (p *recordParser) parseObject(b []byte, i int, node *keyNode, depth int, top bool) (int, error) {
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
		kend, kesc, err := stringEnd(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : kend-1]
		if kesc {
			key = []byte(unquote(b[i:kend]))
		}
		i = skipSpace(b, kend)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] != ':' {
			return 0, syntaxErr(i, "invalid character %s after object key", quoteChar(b[i]))
		}
		vs := skipSpace(b, i+1)
		if vs >= len(b) {
			return 0, errShort
		}
		child := node.child(key)
		memberAt := len(p.members)
		if depth == 1 && kesc {
			p.escapedKeys = true
		}
		if depth == 1 && !kesc {
			p.members = append(p.members, member{keyStart: int32(kend - 1 - len(key)), keyEnd: int32(kend - 1), start: int32(vs)})
		}
		switch {
		case child != nil && child.field != numFields:
			i, err = p.parseHot(b, vs, child.field, depth)
		case child != nil && b[vs] == '{':
			i, err = p.parseObject(b, vs, child, depth+1, false)
		case top && isTopKey(key):
			i, err = p.parseTopKey(b, vs, string(key), depth)
		default:
			i, err = valueEnd(b, vs, depth)
		}
		if err != nil {
			return 0, err
		}
		if memberAt < len(p.members) {
			p.members[memberAt].end = int32(i)
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

func (p *recordParser) parseHot(b []byte, vs int, f Field, depth int) (int, error) {
	if p.seen&(1<<f) != 0 { // a duplicate key: the first one counts, as in path lookups
		return valueEnd(b, vs, depth)
	}
	var end int
	var esc bool
	var err error
	if b[vs] == '"' {
		end, esc, err = stringEnd(b, vs)
	} else {
		end, err = valueEnd(b, vs, depth)
	}
	if err != nil {
		return 0, err
	}
	p.spans[f] = span{start: int32(vs), end: int32(end), kind: kindOf(b[vs:]), escaped: esc}
	p.seen |= 1 << f
	return end, nil
}

// Digest files carry these keys; no CloudTrail event does at top level.
func isTopKey(k []byte) bool {
	switch string(k) {
	case keyRecords, keyDetail, keyDetailType, "digestStartTime", "digestEndTime", "logFiles", "digestS3Object":
		return true
	}
	return false
}

func (p *recordParser) parseTopKey(b []byte, vs int, key string, depth int) (int, error) {
	end, err := valueEnd(b, vs, depth)
	if err != nil {
		return 0, err
	}
	sp := span{start: int32(vs), end: int32(end), kind: kindOf(b[vs:])}
	switch key {
	case keyRecords:
		p.records = sp
	case keyDetail:
		p.detail = sp
	case keyDetailType:
		if sp.kind == String {
			p.detailType = unquote(b[vs:end])
		}
	default:
		p.digest = true
	}
	return end, nil
}

func (p *recordParser) reset() {
	p.seen = 0
	p.members = p.members[:0]
	p.escapedKeys = false
	p.records, p.detail = span{}, span{}
	p.detailType = ""
	p.digest = false
}

// parse decodes the object at b[i] with its top-level keys noted. It returns
// the index just past the object.
func (p *recordParser) parse(b []byte, i int) (int, error) {
	p.reset()
	return p.parseObject(b, i, p.tree, 1, true)
}

// reparse decodes the object spanning b[start:end] as a plain CloudTrail
// record: used for the record inside an EventBridge envelope.
func (p *recordParser) reparse(b []byte, start int) error {
	p.seen = 0
	p.members = p.members[:0]
	p.escapedKeys = false
	_, err := p.parseObject(b, start, p.tree, 1, false)
	return err
}

// event builds the Event for the record spanning b[start:end] from the spans
// the last parse noted. Raw is a copy, and every string of the event is a view
// into it.
//
// When reuse is not nil, it is filled instead of a new Event, its Raw and
// members buffers reused: the previous event it held is gone.
func (p *recordParser) event(b []byte, start, end int, reuse *Event) *Event {
	var ev *Event
	if reuse != nil {
		raw, members := append(reuse.Raw[:0], b[start:end]...), reuse.members[:0]
		*reuse = Event{Raw: raw, members: append(members, make([]member, len(p.members))...), escapedKeys: p.escapedKeys}
		ev = reuse
	} else {
		ev = &Event{Raw: bytes.Clone(b[start:end]), members: make([]member, len(p.members)), escapedKeys: p.escapedKeys}
	}
	raw := ev.Raw
	for k, m := range p.members {
		off := int32(start)
		ev.members[k] = member{keyStart: m.keyStart - off, keyEnd: m.keyEnd - off, start: m.start - off, end: m.end - off}
	}
	for f := Field(0); f < numFields; f++ {
		if p.seen&(1<<f) == 0 {
			continue
		}
		sp := p.spans[f]
		s, e := int(sp.start)-start, int(sp.end)-start
		v := Value{Kind: sp.kind}
		switch {
		case sp.kind == String && sp.escaped:
			v.Str = unquote(raw[s:e])
		case sp.kind == String:
			v.Str = view(raw[s+1 : e-1])
		default:
			v.Str = view(raw[s:e])
		}
		ev.hot[f] = v
	}
	if t := ev.hot[EventTime]; t.Kind == String {
		ev.Time = parseTime(t.Str)
	}
	return ev
}

// view returns a string sharing b's memory. Only used on an Event's Raw,
// which nothing writes after the event is built.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseTime reads CloudTrail's "2006-01-02T15:04:05Z" without the general
// parser, and anything else RFC 3339 with it. Unparseable times are zero.
func parseTime(s string) time.Time {
	if len(s) == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z' {
		n := func(a, b int) int {
			v := 0
			for i := a; i < b; i++ {
				c := s[i]
				if c < '0' || c > '9' {
					return -1
				}
				v = v*10 + int(c-'0')
			}
			return v
		}
		y, mo, d, h, mi, se := n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19)
		if y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 && se >= 0 && se < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
			if t.Day() == d { // not normalised from a day the month lacks
				return t
			}
		}
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
