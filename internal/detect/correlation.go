package detect

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file holds Sigma correlation rules (the Sigma correlation rules
// specification v2): the Correlation type, its parser (ParsePack, LoadPackPath,
// LoadPackFS) and Link, which resolves the rules a correlation refers to.
// correlation_eval.go evaluates linked correlations on a State; the
// semantics and choices are in docs/correlation.md.

// The correlation types trailsentry evaluates.
const (
	CorrelationEventCount      = "event_count"
	CorrelationValueCount      = "value_count"
	CorrelationValueSum        = "value_sum"
	CorrelationTemporal        = "temporal"
	CorrelationTemporalOrdered = "temporal_ordered"
)

// Correlation is one Sigma correlation rule, parsed. The metadata is as
// written (Level normalised, as for rules); Rules is filled by Link.
type Correlation struct {
	ID, Name, Title, Description, Status, Author, Date, Modified string

	// Level is informational, low, medium, high or critical; medium when the
	// rule gives none.
	Level string

	Tags           []string
	Attack         []string // ATT&CK technique IDs among the tags, as Rule.Attack
	FalsePositives []string
	References     []string

	// Source is the file the correlation was loaded from; YAML its document.
	Source, YAML string

	// Type is one of the Correlation* constants.
	Type string
	// RuleRefs are the `rules` entries: names or ids of base rules, in order
	// (the order matters for temporal_ordered).
	RuleRefs []string
	// GroupBy are the `group-by` entries: field paths or alias names.
	GroupBy []string
	// Timespan is the window length (`timespan`, or `timeframe`).
	Timespan time.Duration
	// Field is the condition's field: the values counted (value_count) or
	// summed (value_sum); "" for the other types. It may be an alias.
	Field string
	// Condition is the condition's criteria as written, all of which must
	// hold. For temporal types without a condition it is {gte: len(RuleRefs)}.
	Condition []CorrelationCriterion
	// Aliases maps an alias name to the field it stands for in the events of
	// each referenced rule: alias -> rule name (or id) -> field.
	Aliases map[string]map[string]string
	// Generate is the `generate` flag: when true, the referenced rules still
	// produce their own findings.
	Generate bool

	// Rules are the referenced rules, parallel to RuleRefs; nil until Link
	// resolves every reference (and left nil when it cannot).
	Rules []*Rule

	// min is the smallest count (or sum) the condition accepts, and strict
	// whether it must be exceeded rather than reached.
	min    float64
	strict bool
}

// CorrelationCriterion is one `op: value` of a condition.
type CorrelationCriterion struct {
	Op    string // gt, gte, lt, lte or eq
	Value float64
}

// Stream is the name the correlation's occurrences are stored under: its
// id, else its name, else its title.
func (c *Correlation) Stream() string {
	switch {
	case c.ID != "":
		return c.ID
	case c.Name != "":
		return c.Name
	}
	return c.Title
}

// holds reports whether a window's count (or sum) satisfies the condition.
func (c *Correlation) holds(x float64) bool {
	if c.strict {
		return x > c.min
	}
	return x >= c.min
}

// label is how errors name the correlation: its title, else its id.
func (c *Correlation) label() string {
	if c.Title != "" {
		return c.Title
	}
	return c.ID
}

// ParsePack parses one file's content like ParseRules, and also the
// correlation rules among its documents, which ParseRules reports as
// unsupported. The correlations still need Link.
func ParsePack(data []byte, source string) ([]*Rule, []*Correlation, []error) {
	return parseDocuments(data, source, true)
}

// LoadPackPath loads rules and correlation rules from a file or a directory,
// as LoadPath loads rules. Duplicate rule ids are dropped as there; duplicate
// correlations are reported by Link.
func LoadPackPath(path string) ([]*Rule, []*Correlation, []error) {
	return loadPath(path, true)
}

// LoadPackFS loads rules and correlation rules from fsys, as LoadFS loads
// rules.
func LoadPackFS(fsys fs.FS, source string) ([]*Rule, []*Correlation, []error) {
	return loadFS(fsys, source, true)
}

func isCorrelationDoc(root *yaml.Node) bool {
	if root.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if deref(root.Content[i]).Value == "correlation" {
			return true
		}
	}
	return false
}

// notMonotone explains why conditions that can become false again as
// events arrive are refused.
const notMonotone = "with sliding event-time windows evaluated in any order, only conditions that stay true as events are added (gt, gte) give the same findings whatever the order events arrive in"

// parseCorrelation reads one correlation document. On error it still
// returns what it read, so the error can name the correlation.
func parseCorrelation(root *yaml.Node) (*Correlation, error) {
	m, keys, err := readMeta(root, "correlation")
	c := &Correlation{
		ID: m.ID, Title: m.Title, Name: m.Name, Status: m.Status, Description: m.Description,
		Author: m.Author, Date: m.Date, Modified: m.Modified, Level: m.Level,
		Tags: m.Tags, Attack: m.Attack, FalsePositives: m.FalsePositives, References: m.References,
	}
	if err != nil {
		return c, err
	}
	if keys["detection"] != nil {
		return c, fmt.Errorf("a document has either detection or correlation, not both")
	}
	if n := keys["generate"]; n != nil { // top level in spec 2.0.2's text
		if c.Generate, err = boolOf("generate", n); err != nil {
			return c, err
		}
	}

	sec := keys["correlation"]
	if sec.Kind != yaml.MappingNode {
		return c, fmt.Errorf("correlation must be a map (line %d)", sec.Line)
	}
	var cond *yaml.Node
	for i := 0; i+1 < len(sec.Content); i += 2 {
		k, v := deref(sec.Content[i]).Value, deref(sec.Content[i+1])
		switch k {
		case "type":
			c.Type, err = stringOf(k, v)
		case "rules":
			c.RuleRefs, err = stringsOf(k, v)
		case "group-by":
			c.GroupBy, err = stringsOf(k, v)
		case "timespan", "timeframe":
			if c.Timespan != 0 {
				return c, fmt.Errorf("correlation: give timespan or timeframe, not both")
			}
			var s string
			if s, err = stringOf(k, v); err == nil {
				c.Timespan, err = parseTimespan(s)
			}
		case "condition":
			cond = v
		case "aliases":
			c.Aliases, err = parseAliases(v)
		case "generate":
			c.Generate, err = boolOf(k, v)
		default:
			return c, fmt.Errorf("correlation: unknown key %q (line %d)", k, sec.Content[i].Line)
		}
		if err != nil {
			return c, fmt.Errorf("correlation: %w", err)
		}
	}

	switch c.Type {
	case "":
		return c, fmt.Errorf("correlation: type is missing (event_count, value_count, value_sum, temporal, temporal_ordered)")
	case CorrelationEventCount, CorrelationValueCount, CorrelationValueSum, CorrelationTemporal, CorrelationTemporalOrdered:
	case "value_avg", "value_percentile", "value_median":
		return c, fmt.Errorf("correlation type %s is %w: an average or percentile can fall again as events are added, and %s", c.Type, ErrUnsupported, notMonotone)
	default:
		return c, fmt.Errorf("correlation: unknown type %q (event_count, value_count, value_sum, temporal, temporal_ordered)", c.Type)
	}
	if len(c.RuleRefs) == 0 {
		return c, fmt.Errorf("correlation: rules is missing: name the rules (by name or id) it correlates")
	}
	seen := map[string]bool{}
	for _, ref := range c.RuleRefs {
		if ref == "" {
			return c, fmt.Errorf("correlation: rules has an empty entry")
		}
		if seen[ref] {
			return c, fmt.Errorf("correlation: rule %q is listed twice", ref)
		}
		seen[ref] = true
	}
	for _, g := range c.GroupBy {
		if g == "" {
			return c, fmt.Errorf("correlation: group-by has an empty entry")
		}
	}
	if c.Timespan == 0 {
		return c, fmt.Errorf("correlation: timespan is missing (a number and s, m, h or d: 10m)")
	}
	if err := c.parseCondition(cond); err != nil {
		return c, fmt.Errorf("correlation: condition: %w", err)
	}
	return c, nil
}

// parseTimespan reads "30s", "10m", "1h", "2d".
func parseTimespan(s string) (time.Duration, error) {
	bad := fmt.Errorf("timespan %q is not a positive number followed by s, m, h or d (e.g. 10m)", s)
	if len(s) < 2 {
		return 0, bad
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if unit == 0 || err != nil || n <= 0 || s[0] == '+' || n > int64(math.MaxInt64/unit)/4 {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

func boolOf(key string, n *yaml.Node) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		if b, err := strconv.ParseBool(n.Value); err == nil && n.ShortTag() == "!!bool" {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s must be true or false (line %d)", key, n.Line)
}

func parseAliases(n *yaml.Node) (map[string]map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("aliases must be a map of alias -> rule -> field (line %d)", n.Line)
	}
	out := map[string]map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		alias, m := deref(n.Content[i]).Value, deref(n.Content[i+1])
		if m.Kind != yaml.MappingNode || len(m.Content) == 0 {
			return nil, fmt.Errorf("alias %q must map rule names to fields (line %d)", alias, m.Line)
		}
		out[alias] = map[string]string{}
		for j := 0; j+1 < len(m.Content); j += 2 {
			rule, field := deref(m.Content[j]), deref(m.Content[j+1])
			if field.Kind != yaml.ScalarNode || field.Value == "" {
				return nil, fmt.Errorf("alias %q: the field for rule %q must be a field name (line %d)", alias, rule.Value, field.Line)
			}
			out[alias][rule.Value] = field.Value
		}
	}
	return out, nil
}

// parseCondition reads the condition map and derives min and strict. Only
// gt and gte are accepted (and eq where it means "all", for the temporal
// types); see notMonotone.
func (c *Correlation) parseCondition(n *yaml.Node) error {
	temporal := c.Type == CorrelationTemporal || c.Type == CorrelationTemporalOrdered
	all := float64(len(c.RuleRefs))
	if n == nil {
		if !temporal {
			return fmt.Errorf("missing: %s needs one (e.g. gte: 10)", c.Type)
		}
		c.Condition = []CorrelationCriterion{{"gte", all}}
		c.min = all
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("must be a map such as {gte: 10} (line %d)", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]).Value, deref(n.Content[i+1])
		if k == "field" {
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return fmt.Errorf("field must be a field name (line %d)", v.Line)
			}
			c.Field = v.Value
			continue
		}
		switch k {
		case "gt", "gte", "lt", "lte", "eq":
		default:
			return fmt.Errorf("unknown operator %q (gt, gte, lt, lte, eq, and field)", k)
		}
		x, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return fmt.Errorf("%s: %q is not a non-negative number (line %d)", k, v.Value, v.Line)
		}
		if c.Type != CorrelationValueSum && x != math.Trunc(x) {
			return fmt.Errorf("%s: %v is not a whole number: %s counts", k, x, c.Type)
		}
		c.Condition = append(c.Condition, CorrelationCriterion{k, x})
	}
	switch c.Type {
	case CorrelationValueCount, CorrelationValueSum:
		if c.Field == "" {
			return fmt.Errorf("%s needs the field whose values it %s (field: ...)", c.Type, map[bool]string{true: "counts", false: "sums"}[c.Type == CorrelationValueCount])
		}
	default:
		if c.Field != "" {
			return fmt.Errorf("field is only for value_count and value_sum, not %s", c.Type)
		}
	}
	if len(c.Condition) == 0 {
		return fmt.Errorf("no criterion: give gt or gte (e.g. gte: 10)")
	}
	c.min, c.strict = -1, false
	for _, cr := range c.Condition {
		min, strict := cr.Value, cr.Op == "gt"
		switch cr.Op {
		case "lt", "lte":
			return fmt.Errorf("%s is %w: it holds while events are missing, and %s", cr.Op, ErrUnsupported, notMonotone)
		case "eq":
			if !temporal || cr.Value != all {
				return fmt.Errorf("eq is %w here: a sliding window that holds more than %v also holds exactly %v at some point, so eq would mean gte; write gte: %v", ErrUnsupported, cr.Value, cr.Value, cr.Value)
			}
			strict = false
		}
		// Keep the most demanding criterion: every one must hold.
		if min > c.min || min == c.min && strict {
			c.min, c.strict = min, strict
		}
	}
	if !c.strict && c.min == 0 {
		return fmt.Errorf("gte 0 holds without any event: give gte: 1 or gt: 0 at least")
	}
	if temporal {
		switch {
		case c.min > all || c.strict && c.min >= all:
			return fmt.Errorf("%s can never hold: there are only %d referenced rules", c.describe(), len(c.RuleRefs))
		case c.Type == CorrelationTemporalOrdered && !(c.min == all || c.strict && c.min == all-1):
			return fmt.Errorf("temporal_ordered needs every referenced rule, in order: leave the condition out or write gte: %d", len(c.RuleRefs))
		}
	}
	return nil
}

func (c *Correlation) describe() string {
	var parts []string
	for _, cr := range c.Condition {
		parts = append(parts, fmt.Sprintf("%s %v", cr.Op, cr.Value))
	}
	return strings.Join(parts, " and ")
}

// ErrUnknownRule is wrapped by Link's errors for references to no loaded rule.
var ErrUnknownRule = errors.New("unknown rule")

// Link resolves each correlation's references (a rule's name or id, as the
// specification allows) and checks what needs the rules to be known: aliases
// and the uniqueness of correlation ids. A correlation that cannot be linked
// is reported (a *LoadError naming its file and title) and left with nil
// Rules; NewCorrelator leaves it out. Correlations referring to other
// correlations (chaining) are reported as ErrUnsupported.
//
// Which referenced rules still produce findings of their own is decided by
// the Correlator built from the linked correlations (Correlator.Generates).
func Link(rules []*Rule, corrs []*Correlation) []error {
	var errs []error
	byID := map[string]*Rule{}
	byName := map[string][]*Rule{}
	for _, r := range rules {
		if r == nil {
			continue
		}
		if r.ID != "" {
			if _, dup := byID[r.ID]; !dup {
				byID[r.ID] = r
			}
		}
		if r.Name != "" {
			byName[r.Name] = append(byName[r.Name], r)
		}
	}
	corrNames := map[string]bool{}
	for _, c := range corrs {
		if c.ID != "" {
			corrNames[c.ID] = true
		}
		if c.Name != "" {
			corrNames[c.Name] = true
		}
	}
	streams := map[string]*Correlation{}
	for _, c := range corrs {
		c.Rules = nil
		fail := func(err error) { errs = append(errs, &LoadError{Source: c.Source, Rule: c.label(), Err: err}) }
		if f := streams[c.Stream()]; f != nil {
			fail(fmt.Errorf("duplicate correlation id %s: already loaded from %s (%s)", c.Stream(), f.Source, f.label()))
			continue
		}
		streams[c.Stream()] = c
		if r := byID[c.ID]; c.ID != "" && r != nil {
			fail(fmt.Errorf("id %s is also the id of rule %q (%s)", c.ID, r.label(), r.Source))
			continue
		}
		resolved := make([]*Rule, len(c.RuleRefs))
		ok := true
		for i, ref := range c.RuleRefs {
			r := byID[ref]
			if r == nil {
				switch named := byName[ref]; {
				case len(named) == 1:
					r = named[0]
				case len(named) > 1:
					fail(fmt.Errorf("rule name %q is ambiguous: %d rules have it (%s, %s)", ref, len(named), named[0].Source, named[1].Source))
					ok = false
					continue
				}
			}
			if r == nil {
				if corrNames[ref] {
					fail(fmt.Errorf("rule %q is a correlation: chaining correlations is %w yet", ref, ErrUnsupported))
				} else {
					fail(fmt.Errorf("%w %q: no loaded rule has this name or id", ErrUnknownRule, ref))
				}
				ok = false
				continue
			}
			resolved[i] = r
		}
		if !ok {
			continue
		}
		for i := range resolved {
			for j := range i {
				if resolved[i] == resolved[j] {
					fail(fmt.Errorf("%q and %q are the same rule", c.RuleRefs[j], c.RuleRefs[i]))
					ok = false
				}
			}
		}
		if ok {
			if err := c.checkAliases(resolved); err != nil {
				fail(err)
				ok = false
			}
		}
		if ok {
			c.Rules = resolved
		}
	}
	return errs
}

// checkAliases checks that every alias names referenced rules only, and
// that an alias used in group-by or as the field maps every referenced rule.
func (c *Correlation) checkAliases(rules []*Rule) error {
	for alias, m := range c.Aliases {
		for key := range m {
			if c.refIndex(rules, key) < 0 {
				return fmt.Errorf("alias %q maps rule %q, which the correlation does not reference", alias, key)
			}
		}
	}
	used := append([]string(nil), c.GroupBy...)
	if c.Field != "" {
		used = append(used, c.Field)
	}
	for _, name := range used {
		if c.Aliases[name] == nil {
			continue
		}
		for i := range rules {
			if _, ok := c.aliasField(name, i, rules); !ok {
				return fmt.Errorf("alias %q has no field for rule %q", name, c.RuleRefs[i])
			}
		}
	}
	return nil
}

// refIndex returns the index of the referenced rule key names (a reference
// as written, or the rule's name or id); -1 when none.
func (c *Correlation) refIndex(rules []*Rule, key string) int {
	for i, ref := range c.RuleRefs {
		if ref == key || rules[i].Name != "" && rules[i].Name == key || rules[i].ID != "" && rules[i].ID == key {
			return i
		}
	}
	return -1
}

// aliasField returns the field alias stands for in the events of the i-th
// referenced rule.
func (c *Correlation) aliasField(alias string, i int, rules []*Rule) (string, bool) {
	m := c.Aliases[alias]
	for _, key := range []string{c.RuleRefs[i], rules[i].Name, rules[i].ID} {
		if f, ok := m[key]; ok && key != "" {
			return f, true
		}
	}
	return "", false
}
