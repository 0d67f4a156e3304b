package detect

import (
	"github.com/trailsentry/trailsentry/internal/enrich"
	"slices"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Engine matches events against a set of rules. It indexes the rules so
// that an event is only tested against those that could match it:
//
//   - From each rule's compiled condition it derives the eventName values
//     the rule can possibly match: an exact (wildcard-free) positive
//     eventName test constrains the rule; AND keeps the intersection of its
//     constrained operands (the others only narrow further); OR needs every
//     operand constrained and takes the union; anything under `not`, and any
//     pattern, regex or other modifier, constrains nothing.
//   - A rule without an eventName constraint is indexed the same way by
//     eventSource when it can be.
//   - Rules with neither are evaluated for every event.
//
// The index maps the case-folded value to its rules, so a lookup is one map
// access on the event's eventName folded into a stack buffer. The index is
// only ever a superset: a rule is still evaluated in full before it is
// reported, so indexing never changes what matches (engine_test.go checks
// this against brute force over every rule).
//
// An Engine is immutable once built: Match is safe from many goroutines.
type Engine struct {
	rules []*Rule

	byName   map[string][]*Rule // folded eventName -> rules constrained by it
	bySource map[string][]*Rule // folded eventSource -> rules constrained by it
	named    []*Rule            // every rule in byName, for events whose eventName is not a scalar
	sourced  []*Rule            // every rule in bySource, likewise
	always   []*Rule            // rules evaluated for every event
}

// NewEngine indexes rules. Rules without a compiled detection (not built by
// this package's loaders) are kept in Rules but never match.
func NewEngine(rules []*Rule) *Engine {
	e := &Engine{
		rules:    slices.Clone(rules),
		byName:   map[string][]*Rule{},
		bySource: map[string][]*Rule{},
	}
	for _, r := range rules {
		if r == nil || r.cond == nil {
			continue
		}
		if names, ok := constraint(r.cond, event.EventName); ok {
			for _, n := range names {
				e.byName[n] = append(e.byName[n], r)
			}
			e.named = append(e.named, r)
			continue
		}
		if sources, ok := constraint(r.cond, event.EventSource); ok {
			for _, s := range sources {
				e.bySource[s] = append(e.bySource[s], r)
			}
			e.sourced = append(e.sourced, r)
			continue
		}
		e.always = append(e.always, r)
	}
	return e
}

// Rules returns the rules the engine was built with, in their order.
func (e *Engine) Rules() []*Rule { return slices.Clone(e.rules) }

// Unindexed returns the rules evaluated for every event: those whose
// condition pins neither eventName nor eventSource.
func (e *Engine) Unindexed() []*Rule { return slices.Clone(e.always) }

// Match calls fn for each rule that matches ev: first those indexed by
// eventName, then by eventSource, then the unindexed, each group in load
// order. It does not allocate.
func (e *Engine) Match(v *enrich.View, fn func(*Rule)) {
	ev := subjectOf(v)
	if ev.Event == nil {
		return
	}
	matchIndexed(ev, event.EventName, e.byName, e.named, fn)
	matchIndexed(ev, event.EventSource, e.bySource, e.sourced, fn)
	for _, r := range e.always {
		if r.cond.match(ev) {
			fn(r)
		}
	}
}

func matchIndexed(ev Subject, f event.Field, index map[string][]*Rule, all []*Rule, fn func(*Rule)) {
	if len(all) == 0 {
		return
	}
	var candidates []*Rule
	switch v := ev.Get(f); v.Kind {
	case event.Missing, event.Null:
		return // an exact match needs a value
	case event.Object, event.Array:
		candidates = all // never seen in CloudTrail: test every indexed rule
	default:
		var buf [128]byte
		candidates = index[string(appendCanon(buf[:0], v.Str))]
	}
	for _, r := range candidates {
		if r.cond.match(ev) {
			fn(r)
		}
	}
}

// constraint returns the folded values of hot field f that every event the
// node matches must have, sorted; ok is false when the node does not
// constrain f.
func constraint(n node, f event.Field) ([]string, bool) {
	switch n := n.(type) {
	case *fieldNode:
		if !n.isHot || n.hot != f || n.hasNull || (n.op != opAny && n.op != opAll) {
			return nil, false
		}
		var set []string
		for i, m := range n.values {
			lits, ok := exactLiterals(m)
			if !ok {
				return nil, false
			}
			switch {
			case n.op == opAny || i == 0:
				set = union(set, lits)
			default: // opAll: every value must equal the same field value
				set = intersect(set, lits)
			}
		}
		return set, true
	case andNode:
		var set []string
		found := false
		for _, x := range n {
			s, ok := constraint(x, f)
			switch {
			case !ok:
			case !found:
				set, found = s, true
			default:
				set = intersect(set, s)
			}
		}
		return set, found
	case orNode:
		var set []string
		for _, x := range n {
			s, ok := constraint(x, f)
			if !ok {
				return nil, false
			}
			set = union(set, s)
		}
		return set, true
	}
	return nil, false // not, keywords
}

// exactLiterals returns the folded literal(s) of a wildcard-free string
// matcher.
func exactLiterals(m matcher) ([]string, bool) {
	switch m := m.(type) {
	case *stringMatcher:
		lit, ok := m.g.exact()
		if !ok || m.g.bytewise {
			return nil, false
		}
		if !m.g.fold {
			lit = foldString(lit)
		}
		return []string{lit}, true
	case anyOf:
		var out []string
		for _, x := range m {
			lits, ok := exactLiterals(x)
			if !ok {
				return nil, false
			}
			out = union(out, lits)
		}
		return out, true
	}
	return nil, false
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
