package detect

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// This file compiles a rule's detection section: each search identifier
// into a node, then the condition over them.
//
// A search identifier is
//
//   - a map: its field items are ANDed;
//   - a list: its items are ORed; an item is a map (as above) or a plain
//     value, which is a keyword;
//   - a plain value: a single keyword.
//
// A field item's value is a plain value or a list of them (ORed, ANDed with
// |all). An item whose field name is empty (`'|all': [...]`) holds keywords
// with modifiers. Values may be strings, numbers, booleans or null.

// compileDetection builds the rule's condition node.
func compileDetection(det *yaml.Node) (node, error) {
	det = deref(det)
	if det.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("detection must be a map of search identifiers and a condition (line %d)", det.Line)
	}
	var names []string
	sel := map[string]node{}
	var condNode *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		k, v := deref(det.Content[i]), deref(det.Content[i+1])
		name := k.Value
		switch name {
		case "condition":
			condNode = v
			continue
		case "timeframe":
			continue // meaningful only with the Sigma 1.0 aggregations, which are rejected
		}
		n, err := compileSearch(v)
		if err != nil {
			return nil, fmt.Errorf("search identifier %q: %w", name, err)
		}
		names = append(names, name)
		sel[name] = n
	}
	if condNode == nil {
		return nil, fmt.Errorf("detection has no condition")
	}
	var conds []string
	switch condNode.Kind {
	case yaml.ScalarNode:
		conds = []string{condNode.Value}
	case yaml.SequenceNode:
		for _, c := range condNode.Content {
			if c = deref(c); c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("condition list must hold strings (line %d)", c.Line)
			}
			conds = append(conds, c.Value)
		}
	default:
		return nil, fmt.Errorf("condition must be a string or a list of strings (line %d)", condNode.Line)
	}
	if len(conds) == 0 {
		return nil, fmt.Errorf("detection has an empty condition list")
	}
	// A list of conditions is ORed.
	var ns []node
	for _, s := range conds {
		c, err := parseCondition(s)
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w (line %d)", s, err, condNode.Line)
		}
		n, err := bind(c, names, sel)
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w (line %d)", s, err, condNode.Line)
		}
		ns = append(ns, n)
	}
	if len(ns) == 1 {
		return ns[0], nil
	}
	return orNode(ns), nil
}

// compileSearch compiles one search identifier.
func compileSearch(v *yaml.Node) (node, error) {
	switch v.Kind {
	case yaml.MappingNode:
		return compileMap(v)
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, fmt.Errorf("empty list (line %d)", v.Line)
		}
		var keywords []scalar
		var ns []node
		for _, item := range v.Content {
			switch item = deref(item); item.Kind {
			case yaml.MappingNode:
				n, err := compileMap(item)
				if err != nil {
					return nil, err
				}
				ns = append(ns, n)
			case yaml.ScalarNode:
				keywords = append(keywords, toScalar(item))
			default:
				return nil, fmt.Errorf("a list item must be a map or a plain value (line %d)", item.Line)
			}
		}
		if len(keywords) > 0 {
			n, err := compileKeywords(keywords, nil)
			if err != nil {
				return nil, err
			}
			ns = append(ns, n)
		}
		if len(ns) == 1 {
			return ns[0], nil
		}
		sortByCost(ns)
		return orNode(ns), nil
	case yaml.ScalarNode:
		s := toScalar(v)
		if s.tag == tagNull {
			return nil, fmt.Errorf("empty search identifier (line %d)", v.Line)
		}
		return compileKeywords([]scalar{s}, nil)
	}
	return nil, fmt.Errorf("unexpected YAML node (line %d)", v.Line)
}

// compileMap compiles a map of field items, ANDed.
func compileMap(m *yaml.Node) (node, error) {
	if len(m.Content) == 0 {
		return nil, fmt.Errorf("empty map (line %d)", m.Line)
	}
	var ns []node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), deref(m.Content[i+1])
		n, err := compileItem(k.Value, v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w (line %d)", k.Value, err, k.Line)
		}
		ns = append(ns, n)
	}
	if len(ns) == 1 {
		return ns[0], nil
	}
	sortByCost(ns)
	return andNode(ns), nil
}

// compileItem compiles `field|modifiers: value(s)`.
func compileItem(key string, v *yaml.Node) (node, error) {
	field, modText, _ := strings.Cut(key, "|")
	var mods []string
	if strings.Contains(key, "|") {
		mods = strings.Split(modText, "|")
	}
	values, err := itemValues(v)
	if err != nil {
		return nil, err
	}
	if field == "" {
		if len(mods) == 0 {
			return nil, fmt.Errorf("empty field name")
		}
		return compileKeywords(values, mods)
	}
	s, err := parseModifiers(mods)
	if err != nil {
		return nil, err
	}
	if enrich.IsField(field) {
		if _, err := enrich.CompileField(field); err != nil {
			return nil, err
		}
	}
	path := event.ParsePath(field)
	if s.kind == kindExists {
		if len(values) != 1 || values[0].tag != tagBool {
			return nil, fmt.Errorf("exists takes one boolean, true or false")
		}
		n := newFieldNode(path, opExists, nil, false)
		n.exists = strings.EqualFold(values[0].text, "true")
		return n, nil
	}
	ms, hasNull, err := s.compile(values, field)
	if err != nil {
		return nil, err
	}
	op := opAny
	switch {
	case s.neq:
		op = opNeq
	case s.all:
		op = opAll
	}
	return newFieldNode(path, op, ms, hasNull), nil
}

// compileKeywords compiles keyword values (with the modifiers of an
// empty-field item such as '|all'). A plain keyword is a substring search.
func compileKeywords(values []scalar, mods []string) (node, error) {
	s, err := parseModifiers(mods)
	if err != nil {
		return nil, err
	}
	switch s.kind {
	case kindString, kindRegex, kindCIDR:
	default:
		return nil, fmt.Errorf("keywords cannot use %s: it needs a field", s.typeName)
	}
	if s.neq {
		return nil, fmt.Errorf("keywords cannot use neq: it needs a field")
	}
	if s.kind == kindString {
		explicit := false
		for _, t := range s.transforms {
			explicit = explicit || isAffix(t)
		}
		if !explicit {
			s.transforms = append([]string{"contains"}, s.transforms...)
		}
	}
	for i, v := range values {
		if v.tag == tagNull {
			return nil, fmt.Errorf("a keyword cannot be null (line %d)", v.line)
		}
		if v.tag != tagString {
			values[i].tag = tagString // a number keyword is searched as text
		}
	}
	ms, _, err := s.compile(values, "")
	if err != nil {
		return nil, err
	}
	return &keywordNode{values: ms, all: s.all}, nil
}

// itemValues reads a field item's value: one scalar or a list of them.
func itemValues(v *yaml.Node) ([]scalar, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return []scalar{toScalar(v)}, nil
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, fmt.Errorf("empty value list")
		}
		out := make([]scalar, 0, len(v.Content))
		for _, item := range v.Content {
			if item = deref(item); item.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("a value list must hold plain values, not maps or lists")
			}
			out = append(out, toScalar(item))
		}
		return out, nil
	case yaml.MappingNode:
		return nil, fmt.Errorf("a value cannot be a map: use a dotted field name (parent.child) instead")
	}
	return nil, fmt.Errorf("unexpected value")
}

func toScalar(n *yaml.Node) scalar {
	s := scalar{text: n.Value, line: n.Line}
	switch n.ShortTag() {
	case "!!int", "!!float":
		s.tag = tagNumber
	case "!!bool":
		s.tag = tagBool
	case "!!null":
		s.tag = tagNull
	}
	return s
}

// deref follows YAML aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}
