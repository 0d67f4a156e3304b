package detect

import (
	"fmt"
	"strings"
)

// This file implements the Sigma condition: a boolean expression over the
// detection's search identifiers.
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | ("1" | "all") "of" (pattern | "them") | identifier
//
// Precedence, loosest first: or, and, not, "x of", parentheses. Keywords are
// matched case-insensitively. `1 of them` / `all of them` range over every
// search identifier not starting with '_'; a pattern range over the
// identifiers it matches, '*' standing for any run of characters. A pattern
// that matches nothing is an error, as is a reference to an identifier the
// detection does not define. The pipe aggregations of Sigma 1.0
// (`| count() > 5`) are rejected: Sigma 2 expresses them as correlation
// rules.

// cond is a parsed condition.
type cond interface{ String() string }

type condIdent struct{ name string }
type condNot struct{ x cond }
type condAnd struct{ xs []cond }
type condOr struct{ xs []cond }
type condOf struct {
	all     bool   // "all of" rather than "1 of"
	pattern string // "them" or an identifier pattern
}

func (c condIdent) String() string { return c.name }
func (c condNot) String() string   { return "(not " + c.x.String() + ")" }
func (c condAnd) String() string   { return joinCond(c.xs, " and ") }
func (c condOr) String() string    { return joinCond(c.xs, " or ") }
func (c condOf) String() string {
	if c.all {
		return "(all of " + c.pattern + ")"
	}
	return "(1 of " + c.pattern + ")"
}

func joinCond(xs []cond, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// maxCondDepth bounds nesting so a hostile condition cannot exhaust the
// stack.
const maxCondDepth = 100

// parseCondition parses one condition string.
func parseCondition(s string) (cond, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks}
	c, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q after a complete expression", p.toks[p.pos])
	}
	return c, nil
}

// lexCondition splits a condition into parentheses and words.
func lexCondition(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '|':
			return nil, fmt.Errorf("aggregation expressions (%q) are not supported: write a correlation rule", strings.TrimSpace(s[i:]))
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

type condParser struct {
	toks []string
	pos  int
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) keyword(kw string) bool {
	if strings.EqualFold(p.peek(), kw) {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) expr(depth int) (cond, error) {
	if depth > maxCondDepth {
		return nil, fmt.Errorf("condition nested deeper than %d", maxCondDepth)
	}
	x, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	xs := []cond{x}
	for p.keyword("or") {
		y, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return condOr{xs}, nil
}

func (p *condParser) and(depth int) (cond, error) {
	x, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	xs := []cond{x}
	for p.keyword("and") {
		y, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return condAnd{xs}, nil
}

func (p *condParser) unary(depth int) (cond, error) {
	if p.keyword("not") {
		if depth > maxCondDepth {
			return nil, fmt.Errorf("condition nested deeper than %d", maxCondDepth)
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return condNot{x}, nil
	}
	return p.primary(depth)
}

func (p *condParser) primary(depth int) (cond, error) {
	tok := p.peek()
	switch {
	case tok == "":
		return nil, fmt.Errorf("condition ends where an identifier, 'not', '1 of', 'all of' or '(' was expected")
	case tok == "(":
		p.pos++
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			if p.peek() == "" {
				return nil, fmt.Errorf("missing ')'")
			}
			return nil, fmt.Errorf("unexpected %q where ')' was expected", p.peek())
		}
		p.pos++
		return x, nil
	case tok == ")":
		return nil, fmt.Errorf("unexpected ')'")
	case isOperator(tok):
		return nil, fmt.Errorf("unexpected %q where an identifier was expected", tok)
	}
	p.pos++
	if p.keyword("of") {
		all := strings.EqualFold(tok, "all")
		if !all && tok != "1" {
			return nil, fmt.Errorf("%q of: only '1 of' and 'all of' are defined", tok)
		}
		target := p.peek()
		if target == "" || target == "(" || target == ")" || isOperator(target) {
			return nil, fmt.Errorf("'%s of' needs 'them' or an identifier pattern", tok)
		}
		p.pos++
		if strings.EqualFold(target, "them") {
			target = "them"
		}
		return condOf{all: all, pattern: target}, nil
	}
	return condIdent{tok}, nil
}

func isOperator(tok string) bool {
	switch strings.ToLower(tok) {
	case "and", "or", "not", "of":
		return true
	}
	return false
}

// bind turns a parsed condition into a node tree over the compiled search
// identifiers (names in detection order).
func bind(c cond, names []string, sel map[string]node) (node, error) {
	switch c := c.(type) {
	case condIdent:
		n, ok := sel[c.name]
		if !ok {
			return nil, fmt.Errorf("condition references %q, which the detection does not define", c.name)
		}
		return n, nil
	case condNot:
		x, err := bind(c.x, names, sel)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case condAnd, condOr:
		var xs []cond
		if a, ok := c.(condAnd); ok {
			xs = a.xs
		} else {
			xs = c.(condOr).xs
		}
		ns := make([]node, 0, len(xs))
		for _, x := range xs {
			n, err := bind(x, names, sel)
			if err != nil {
				return nil, err
			}
			ns = append(ns, n)
		}
		sortByCost(ns)
		if _, ok := c.(condAnd); ok {
			return andNode(ns), nil
		}
		return orNode(ns), nil
	case condOf:
		var ns []node
		for _, name := range names {
			if c.pattern == "them" && !strings.HasPrefix(name, "_") || c.pattern != "them" && matchStar(c.pattern, name) {
				ns = append(ns, sel[name])
			}
		}
		if len(ns) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", c.String()[1:len(c.String())-1])
		}
		if len(ns) == 1 {
			return ns[0], nil
		}
		sortByCost(ns)
		if c.all {
			return andNode(ns), nil
		}
		return orNode(ns), nil
	}
	return nil, fmt.Errorf("internal: unknown condition %T", c)
}

// matchStar matches an identifier pattern in which '*' stands for any run of
// characters; everything else is literal.
func matchStar(pattern, name string) bool {
	segs := strings.Split(pattern, "*")
	if len(segs) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, segs[0]) {
		return false
	}
	name = name[len(segs[0]):]
	last := segs[len(segs)-1]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(name, seg)
		if i < 0 {
			return false
		}
		name = name[i+len(seg):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}
