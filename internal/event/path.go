package event

import (
	"bytes"
	"strconv"
	"strings"
	"unsafe"
)

// Path is a compiled dotted field path such as
// "requestParameters.ipPermissions.items.0.fromPort". Compile it once, look it
// up in every event.
type Path struct {
	Text  string
	segs  []string
	index []int // index[i] >= 0 when segs[i] is an array index
	hot   Field // numFields when the path is not a hot field
}

// ParsePath compiles a dotted path. A numeric segment indexes an array.
func ParsePath(s string) *Path {
	p := &Path{Text: s, hot: numFields}
	for f, info := range Fields {
		if info.Path == s {
			p.hot = Field(f)
		}
	}
	p.segs = strings.Split(s, ".")
	p.index = make([]int, len(p.segs))
	for i, seg := range p.segs {
		p.index[i] = -1
		if n, err := strconv.Atoi(seg); err == nil && n >= 0 && seg == strconv.Itoa(n) {
			p.index[i] = n
		}
	}
	return p
}

// Hot reports whether the path is one of the decoded hot fields.
func (p *Path) Hot() (Field, bool) { return p.hot, p.hot != numFields }

// Lookup calls visit with each value the path reaches and stops early when
// visit returns true; it reports whether one did. An array met on the way
// fans out: the rest of the path is looked up in each element. An array at
// the end of the path is visited element by element, then whole. A path that
// reaches nothing visits nothing.
func (e *Event) Lookup(p *Path, visit func(Value) bool) bool {
	if p.hot != numFields {
		v := e.hot[p.hot]
		if v.Kind == Missing {
			return false
		}
		if v.Kind == Array {
			return visitArray(unsafe.Slice(unsafe.StringData(v.Str), len(v.Str)), visit)
		}
		return visit(v)
	}
	for _, m := range e.members {
		if string(e.Raw[m.keyStart:m.keyEnd]) == p.segs[0] {
			return walk(e.Raw, int(m.start), p, 1, visit)
		}
	}
	if len(e.Raw) == 0 || !e.escapedKeys {
		return false
	}
	return walk(e.Raw, 0, p, 0, visit)
}

// First returns the first value the path reaches, Missing if none.
func (e *Event) First(p *Path) Value {
	var out Value
	e.Lookup(p, func(v Value) bool { out = v; return true })
	return out
}

// walk looks up p.segs[si:] in the (valid) JSON value at b[i].
func walk(b []byte, i int, p *Path, si int, visit func(Value) bool) bool {
	if si == len(p.segs) {
		return emit(b, i, visit)
	}
	switch b[i] {
	case '{':
		seg := p.segs[si]
		found := false
		stop := eachMember(b, i, func(key []byte, escaped bool, vs int) bool {
			if found || !keyEquals(key, escaped, seg) {
				return false
			}
			found = true
			return walk(b, vs, p, si+1, visit)
		})
		return stop
	case '[':
		if idx := p.index[si]; idx >= 0 {
			n := -1
			return eachElement(b, i, func(vs int) bool {
				if n++; n == idx {
					return walk(b, vs, p, si+1, visit)
				}
				return false
			})
		}
		return eachElement(b, i, func(vs int) bool { return walk(b, vs, p, si, visit) })
	}
	return false
}

func keyEquals(key []byte, escaped bool, seg string) bool {
	if escaped {
		return unquote(append(append([]byte{'"'}, key...), '"')) == seg
	}
	return string(key) == seg
}

// emit visits the value at b[i]; an array's elements first, then the array.
func emit(b []byte, i int, visit func(Value) bool) bool {
	raw := b[i:skipValid(b, i)]
	v := Value{Kind: kindOf(raw)}
	switch {
	case v.Kind == String:
		if strings.IndexByte(view(raw), '\\') >= 0 {
			v.Str = unquote(raw)
		} else {
			v.Str = view(raw[1 : len(raw)-1])
		}
	default:
		v.Str = view(raw)
	}
	if v.Kind == Array {
		return visitArray(raw, visit)
	}
	return visit(v)
}

// visitArray visits the elements of the array raw, then the array itself.
func visitArray(raw []byte, visit func(Value) bool) bool {
	if eachElement(raw, 0, func(vs int) bool { return emit(raw, vs, visit) }) {
		return true
	}
	return visit(Value{Kind: Array, Str: view(raw)})
}

// eachMember calls f for each member of the (valid) object at b[i] until f
// returns true.
func eachMember(b []byte, i int, f func(key []byte, escaped bool, vs int) bool) bool {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return false
	}
	for i < len(b) {
		kend := skipString(b, i)
		key := b[i+1 : kend-1]
		esc := bytes.IndexByte(key, '\\') >= 0
		vs := skipSpace(b, skipSpace(b, kend)+1)
		if f(key, esc, vs) {
			return true
		}
		i = skipSpace(b, skipValid(b, vs))
		if i >= len(b) || b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
	return false
}

// eachElement calls f for each element of the (valid) array at b[i] until f
// returns true.
func eachElement(b []byte, i int, f func(vs int) bool) bool {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return false
	}
	for i < len(b) {
		if f(i) {
			return true
		}
		i = skipSpace(b, skipValid(b, i))
		if i >= len(b) || b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
	return false
}
