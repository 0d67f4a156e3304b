package detect

import (
	"sort"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// This file holds the compiled form of a rule's detection: a tree of nodes
// that the condition's and/or/not join and whose leaves test fields
// (fieldNode) or the whole event (keywordNode). Nodes are immutable after
// load, so one rule may be matched from many goroutines at once.
//
// Field semantics (Sigma leaves these to the backend; these are ours):
//
//   - A dotted name is a path into the event's JSON. An array met on the way
//     fans out, and an array at the end is tried element by element and then
//     as a whole (its compact JSON text), so a list in the event matches when
//     any element does.
//   - Several values are ORed; with `all` each value must match some element
//     (not necessarily the same one).
//   - `field: null` matches when the path reaches nothing or reaches a null.
//   - `exists: true` matches when the path reaches anything, null included
//     (the specification: presence only, "be it empty or null");
//     `exists: false` is its exact negation.
//   - `neq` matches when the field reaches at least one non-null value and
//     none of the values it reaches equals any of the rule's values: "the
//     field is different from the specified values". A missing field is not
//     different from anything, so it does not match.

type node interface {
	match(ev Subject) bool
}

type andNode []node

func (a andNode) match(ev Subject) bool {
	for _, n := range a {
		if !n.match(ev) {
			return false
		}
	}
	return true
}

type orNode []node

func (o orNode) match(ev Subject) bool {
	for _, n := range o {
		if n.match(ev) {
			return true
		}
	}
	return false
}

type notNode struct{ x node }

func (n notNode) match(ev Subject) bool { return !n.x.match(ev) }

// fieldOp is how a field node combines its values.
type fieldOp uint8

const (
	opAny    fieldOp = iota // some value matches (the default)
	opAll                   // every value matches (all)
	opExists                // the field is present, or absent (exists)
	opNeq                   // the field differs from every value (neq)
)

// fieldNode is one `field|modifiers: values` item of a selection.
type fieldNode struct {
	path    *event.Path
	derived *enrich.FieldRef // a trailsentry.* field: read from the enrichment view
	hot     event.Field      // when isHot: read with ev.Get, no JSON walk
	isHot   bool
	op      fieldOp
	values  []matcher
	hasNull bool // a null among the values: a missing field matches too
	exists  bool // opExists: true or false
	cost    int  // a rough evaluation cost, to order AND and OR
}

func newFieldNode(path *event.Path, op fieldOp, values []matcher, hasNull bool) *fieldNode {
	f := &fieldNode{path: path, op: op, values: values, hasNull: hasNull}
	if ref, err := enrich.CompileField(path.Text); err == nil {
		f.derived = &ref
	}
	f.hot, f.isHot = path.Hot()
	f.cost = f.estimateCost()
	return f
}

func (f *fieldNode) match(ev Subject) bool {
	switch f.op {
	case opExists:
		return f.present(ev) == f.exists
	case opAll:
		for _, m := range f.values {
			if !f.some(ev, m) {
				return false
			}
		}
		return true
	case opNeq:
		present, equal := false, false
		f.each(ev, func(v event.Value) bool {
			if v.Kind != event.Null {
				present = true
			}
			equal = f.any(v, ev)
			return equal
		})
		return present && !equal
	}
	if f.isHot {
		// The common case: a decoded scalar field, tested without closures.
		if v := ev.Get(f.hot); v.Kind != event.Array {
			if v.Kind == event.Missing {
				return f.hasNull
			}
			return f.any(v, ev)
		}
	}
	if f.each(ev, func(v event.Value) bool { return f.any(v, ev) }) {
		return true
	}
	return f.hasNull && !f.present(ev)
}

// any reports whether v matches one of the node's values.
func (f *fieldNode) any(v event.Value, ev Subject) bool {
	for _, m := range f.values {
		if m.match(v, ev) {
			return true
		}
	}
	return false
}

// some reports whether one value the path reaches matches m; for null, a
// missing field counts.
func (f *fieldNode) some(ev Subject, m matcher) bool {
	if f.each(ev, func(v event.Value) bool { return m.match(v, ev) }) {
		return true
	}
	_, isNull := m.(nullMatcher)
	return isNull && !f.present(ev)
}

// each visits the values the path reaches until visit returns true.
func (f *fieldNode) each(ev Subject, visit func(event.Value) bool) bool {
	if f.derived != nil {
		return ev.View != nil && ev.View.Lookup(*f.derived, visit)
	}
	if f.isHot {
		if v := ev.Get(f.hot); v.Kind != event.Array {
			return v.Kind != event.Missing && visit(v)
		}
	}
	return ev.Lookup(f.path, visit)
}

func (f *fieldNode) present(ev Subject) bool {
	if f.derived != nil {
		return f.each(ev, func(event.Value) bool { return true })
	}
	if f.isHot {
		return ev.Get(f.hot).Kind != event.Missing
	}
	return ev.Lookup(f.path, func(event.Value) bool { return true })
}

func (f *fieldNode) estimateCost() int {
	c := 1
	if !f.isHot {
		c = 10 // a walk through the raw JSON
	}
	for _, m := range f.values {
		switch m.(type) {
		case *regexMatcher:
			c += 20
		case *fieldrefMatcher:
			c += 20
		default:
			c++
		}
	}
	return c
}

// keywordNode matches values anywhere in the event: every string, number
// and boolean value at any depth (not object keys). A keyword without an
// explicit contains/startswith/endswith is a substring search — "keywords"
// in Sigma are full-text search terms — so it matches when it appears inside
// any value, case-insensitively unless cased.
type keywordNode struct {
	values []matcher
	all    bool
}

func (k *keywordNode) match(ev Subject) bool {
	if !k.all {
		return eachScalar(rawText(ev.Raw), func(v event.Value) bool {
			for _, m := range k.values {
				if m.match(v, ev) {
					return true
				}
			}
			return false
		})
	}
	for _, m := range k.values {
		if !eachScalar(rawText(ev.Raw), func(v event.Value) bool { return m.match(v, ev) }) {
			return false
		}
	}
	return true
}

// cost estimates how expensive a node is to evaluate, so that AND and OR try
// the cheap, selective tests (decoded hot fields) first. Order never changes
// the result: nodes have no side effects.
func cost(n node) int {
	switch n := n.(type) {
	case *fieldNode:
		return n.cost
	case *keywordNode:
		return 1000
	case notNode:
		return cost(n.x)
	case andNode:
		return sumCost(n)
	case orNode:
		return sumCost(n)
	}
	return 100
}

func sumCost(ns []node) int {
	c := 0
	for _, n := range ns {
		c += cost(n)
	}
	return c
}

func sortByCost(ns []node) {
	sort.SliceStable(ns, func(i, j int) bool { return cost(ns[i]) < cost(ns[j]) })
}
