package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/trailsentry/trailsentry/internal/enrich"
)

// Rule is one Sigma detection rule, compiled. Its exported fields are the
// rule's metadata as written (Level normalised); its detection is compiled
// once at load and evaluated by Match.
type Rule struct {
	ID, Title, Description, Status, Author, Date, Modified string

	// Name is Sigma's optional unique name (used by correlation rules).
	Name string

	// Level is informational, low, medium, high or critical, lower-cased. A
	// rule that gives none is medium: Sigma makes level optional, and the
	// middle of the scale neither hides nor escalates what the author left
	// unrated.
	Level string

	Tags []string
	// Attack holds the ATT&CK technique IDs among the tags, attack.t1562.008
	// giving "T1562.008": upper-case, without duplicates, in tag order.
	// Tactic tags (attack.persistence) are not techniques and are left out.
	Attack         []string
	FalsePositives []string
	References     []string
	Logsource      Logsource

	// Source is where the rule was loaded from: a file path, or
	// "builtin:<path>" for the embedded pack (LoadFS's source:path).
	Source string

	// Tests are the examples the rule carries (its `tests` key).
	Tests []RuleTest

	// YAML is the rule's document, for showing it.
	YAML string

	// Shadow marks a rule being tried out (`shadow: true`): its findings
	// are counted, per rule and account, but not reported.
	Shadow bool

	// Dedup refines how the rule's matches become findings (`dedup:`):
	// nil keeps the default, one finding per account, region and actor.
	Dedup *Dedup

	cond node
}

// Logsource is the rule's logsource. Rules for other products and services
// than aws/cloudtrail load and evaluate like any other: the fields they name
// are looked up in the event as they are.
type Logsource struct{ Product, Service, Category string }

// Match reports whether the event matches the rule's detection.
func (r *Rule) Match(v *enrich.View) bool {
	ev := subjectOf(v)
	if r == nil || r.cond == nil || ev.Event == nil {
		return false
	}
	return r.cond.match(ev)
}

// label is how errors name the rule: its title, else its id.
func (r *Rule) label() string {
	if r.Title != "" {
		return r.Title
	}
	return r.ID
}

// LoadError is a rule (or a whole file) that could not be loaded. It prints
// as "<file>: <rule title or id>: <reason>", or "<file>: <reason>" when the
// file itself is at fault (unreadable, invalid YAML).
type LoadError struct {
	Source string // the file, or builtin:<path>
	Rule   string // the rule's title, else its id, else "document N"
	Err    error
}

func (e *LoadError) Error() string {
	if e.Rule == "" {
		return e.Source + ": " + e.Err.Error()
	}
	return e.Source + ": " + e.Rule + ": " + e.Err.Error()
}

func (e *LoadError) Unwrap() error { return e.Err }

// ErrUnsupported is wrapped by load errors for well-formed Sigma documents
// that trailsentry does not evaluate yet: filters, Sigma 1.0 rule
// collections (action: global), correlation constructs outside what
// correlation.go supports, and correlation rules met by ParseRules (which
// loads detection rules only; ParsePack loads both). A caller may report
// them as warnings rather than failures.
var ErrUnsupported = errors.New("not supported")

// ParseRules parses one file's content, which may hold several YAML
// documents: each is a rule. A document that cannot be compiled is reported,
// with the file and the rule's title (or id) and the reason, and the other
// documents still load. Invalid YAML ends the file (the parser cannot
// resynchronise); its error gives the line.
func ParseRules(data []byte, source string) ([]*Rule, []error) {
	rules, _, errs := parseDocuments(data, source, false)
	return rules, errs
}

// parseDocuments parses one file's documents. With correlations, a document
// with a `correlation` key is parsed as a correlation rule (ParsePack);
// without, it is reported as unsupported, as ParseRules has always done.
func parseDocuments(data []byte, source string, correlations bool) ([]*Rule, []*Correlation, []error) {
	var rules []*Rule
	var corrs []*Correlation
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, &LoadError{Source: source, Err: fmt.Errorf("invalid YAML: %w", err)})
			break
		}
		root := &doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue // an empty document, as after a trailing "---"
			}
			root = root.Content[0]
		}
		root = deref(root)
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue
		}
		if correlations && isCorrelationDoc(root) {
			c, err := parseCorrelation(root)
			if err != nil {
				label := fmt.Sprintf("document %d", n)
				if c != nil && c.label() != "" {
					label = c.label()
				}
				errs = append(errs, &LoadError{Source: source, Rule: label, Err: err})
				continue
			}
			c.Source = source
			if b, err := yaml.Marshal(root); err == nil {
				c.YAML = string(b)
			}
			corrs = append(corrs, c)
			continue
		}
		r, err := parseRule(root)
		if err != nil {
			label := fmt.Sprintf("document %d", n)
			if r != nil && r.label() != "" {
				label = r.label()
			}
			errs = append(errs, &LoadError{Source: source, Rule: label, Err: err})
			continue
		}
		r.Source = source
		if b, err := yaml.Marshal(root); err == nil {
			r.YAML = string(b)
		}
		rules = append(rules, r)
	}
	return rules, corrs, errs
}

// parseRule reads one document. On error it still returns the rule's
// metadata when it got that far, so the error can name the rule.
func parseRule(root *yaml.Node) (*Rule, error) {
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("a rule must be a YAML map (line %d)", root.Line)
	}
	m, keys, err := readMeta(root, "rule")
	r := &Rule{
		ID: m.ID, Title: m.Title, Name: m.Name, Status: m.Status, Description: m.Description,
		Author: m.Author, Date: m.Date, Modified: m.Modified, Level: m.Level,
		Tags: m.Tags, Attack: m.Attack, FalsePositives: m.FalsePositives, References: m.References,
	}
	switch {
	case err != nil && !errors.As(err, new(noTitle)):
		return r, err
	case keys["correlation"] != nil:
		return r, fmt.Errorf("correlation rules are %w yet", ErrUnsupported)
	case keys["action"] != nil:
		return r, fmt.Errorf("action: %s: Sigma 1.0 rule collections are %w; write each rule as a complete document", keys["action"].Value, ErrUnsupported)
	case keys["filter"] != nil && keys["detection"] == nil:
		return r, fmt.Errorf("sigma filters are %w yet", ErrUnsupported)
	case err != nil:
		return r, err
	}
	if ls := keys["logsource"]; ls != nil {
		if ls.Kind != yaml.MappingNode {
			return r, fmt.Errorf("logsource must be a map (line %d)", ls.Line)
		}
		for i := 0; i+1 < len(ls.Content); i += 2 {
			v := deref(ls.Content[i+1]).Value
			switch deref(ls.Content[i]).Value {
			case "product":
				r.Logsource.Product = v
			case "service":
				r.Logsource.Service = v
			case "category":
				r.Logsource.Category = v
			}
		}
	}
	if n := keys["shadow"]; n != nil {
		if err := n.Decode(&r.Shadow); err != nil {
			return r, fmt.Errorf("shadow must be true or false (line %d)", n.Line)
		}
	}
	if n := keys["dedup"]; n != nil {
		if r.Dedup, err = parseDedup(n); err != nil {
			return r, err
		}
	}
	if n := keys["tests"]; n != nil {
		if r.Tests, err = parseTests(n); err != nil {
			return r, err
		}
	}
	det := keys["detection"]
	if det == nil {
		return r, fmt.Errorf("the rule has no detection")
	}
	if r.cond, err = compileDetection(det); err != nil {
		return r, err
	}
	return r, nil
}

// meta is what rules and correlation rules alike say about themselves.
type meta struct {
	ID, Title, Name, Status, Description, Author, Date, Modified, Level string
	Tags, Attack, FalsePositives, References                            []string
}

// noTitle is a document without a title (whether it is what gets reported
// depends on what else is wrong with the document).
type noTitle struct{ what string }

func (e noTitle) Error() string { return "the " + e.what + " has no title" }

// readMeta reads a document's metadata and its top-level keys: strings and
// lists type-checked, authors joined, the level normalised (medium when
// absent), ATT&CK ids taken from the tags. what names the document in
// errors ("rule", "correlation").
func readMeta(root *yaml.Node, what string) (meta, map[string]*yaml.Node, error) {
	var m meta
	dupErr := duplicateKeys(root, 0)
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		keys[deref(root.Content[i]).Value] = deref(root.Content[i+1])
	}
	var err error
	str := func(key string, dst *string) {
		if n := keys[key]; n != nil && err == nil {
			*dst, err = stringOf(key, n)
		}
	}
	list := func(key string, dst *[]string) {
		if n := keys[key]; n != nil && err == nil {
			*dst, err = stringsOf(key, n)
		}
	}
	str("title", &m.Title)
	str("id", &m.ID)
	str("name", &m.Name)
	str("status", &m.Status)
	str("description", &m.Description)
	str("author", &m.Author)
	str("date", &m.Date)
	str("modified", &m.Modified)
	str("level", &m.Level)
	list("tags", &m.Tags)
	list("falsepositives", &m.FalsePositives)
	list("references", &m.References)
	if err != nil {
		return m, keys, err
	}
	if n := keys["author"]; n != nil && n.Kind == yaml.SequenceNode {
		authors, _ := stringsOf("author", n)
		m.Author = strings.Join(authors, ", ")
	}
	if dupErr != nil {
		return m, keys, dupErr
	}
	if m.Title == "" {
		return m, keys, noTitle{what}
	}
	switch m.Level = strings.ToLower(strings.TrimSpace(m.Level)); m.Level {
	case "":
		m.Level = "medium"
	case "informational", "low", "medium", "high", "critical":
	default:
		return m, keys, fmt.Errorf("level %q is not one of informational, low, medium, high, critical", m.Level)
	}
	m.Attack = attackIDs(m.Tags)
	return m, keys, nil
}

// duplicateKeys reports the first key defined twice in a map anywhere in
// the document. YAML forbids them, but the parser keeps both; in a
// selection the second would silently be ANDed with the first.
func duplicateKeys(n *yaml.Node, depth int) error {
	if depth > 100 {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if first, dup := seen[k.Value]; dup && k.Kind == yaml.ScalarNode {
				return fmt.Errorf("key %q is defined twice (line %d, first at line %d)", k.Value, k.Line, first)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := duplicateKeys(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func stringOf(key string, n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		if key == "author" {
			return "", nil // joined by the caller
		}
	}
	return "", fmt.Errorf("%s must be a string (line %d)", key, n.Line)
}

func stringsOf(key string, n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item = deref(item); item.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s must be a list of strings (line %d)", key, item.Line)
			}
			out = append(out, item.Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a list of strings (line %d)", key, n.Line)
}

// attackIDs picks the technique tags: attack.tNNNN or attack.tNNNN.NNN.
func attackIDs(tags []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tag := range tags {
		t := strings.ToLower(strings.TrimSpace(tag))
		id, ok := strings.CutPrefix(t, "attack.t")
		if !ok || !isTechnique(id) {
			continue
		}
		id = "T" + strings.ToUpper(id)
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// isTechnique reports whether s is NNNN or NNNN.NNN.
func isTechnique(s string) bool {
	digits := func(s string, n int) bool {
		if len(s) != n {
			return false
		}
		for i := 0; i < n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	main, sub, hasSub := strings.Cut(s, ".")
	return digits(main, 4) && (!hasSub || digits(sub, 3))
}

// LoadPath loads a rule file, or every *.yml and *.yaml file under a
// directory (recursively, in lexical order, skipping hidden directories).
// Rules with an id already loaded are reported and dropped (CheckDuplicates).
func LoadPath(path string) ([]*Rule, []error) {
	rules, _, errs := loadPath(path, false)
	return rules, errs
}

func loadPath(path string, correlations bool) ([]*Rule, []*Correlation, []error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, []error{&LoadError{Source: path, Err: err}}
	}
	if !info.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, []error{&LoadError{Source: path, Err: err}}
		}
		rules, corrs, errs := parseDocuments(data, path, correlations)
		rules, dups := CheckDuplicates(rules)
		return rules, corrs, append(errs, dups...)
	}
	var rules []*Rule
	var corrs []*Correlation
	var errs []error
	walkErr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &LoadError{Source: p, Err: err})
			return nil
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !isRuleFile(d.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, &LoadError{Source: p, Err: err})
			return nil
		}
		rs, cs, es := parseDocuments(data, p, correlations)
		rules, corrs, errs = append(rules, rs...), append(corrs, cs...), append(errs, es...)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, &LoadError{Source: path, Err: walkErr})
	}
	rules, dups := CheckDuplicates(rules)
	return rules, corrs, append(errs, dups...)
}

// LoadFS loads every *.yml and *.yaml file in fsys (the embedded rule pack);
// each rule's Source is source+":"+path. Duplicate ids are reported and
// dropped as in LoadPath.
func LoadFS(fsys fs.FS, source string) ([]*Rule, []error) {
	rules, _, errs := loadFS(fsys, source, false)
	return rules, errs
}

func loadFS(fsys fs.FS, source string, correlations bool) ([]*Rule, []*Correlation, []error) {
	var rules []*Rule
	var corrs []*Correlation
	var errs []error
	walkErr := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		name := source + ":" + p
		if err != nil {
			errs = append(errs, &LoadError{Source: name, Err: err})
			return nil
		}
		if d.IsDir() || !isRuleFile(d.Name()) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, &LoadError{Source: name, Err: err})
			return nil
		}
		rs, cs, es := parseDocuments(data, name, correlations)
		rules, corrs, errs = append(rules, rs...), append(corrs, cs...), append(errs, es...)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, &LoadError{Source: source, Err: walkErr})
	}
	rules, dups := CheckDuplicates(rules)
	return rules, corrs, append(errs, dups...)
}

func isRuleFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yml" || ext == ".yaml"
}

// CheckDuplicates drops every rule whose id an earlier rule already has,
// reporting each as a load error that names both sources. LoadPath and
// LoadFS apply it to what they load; a caller combining several sources (the
// built-in pack and the user's rules) calls it again on the union. Rules
// without an id are never duplicates.
func CheckDuplicates(rules []*Rule) ([]*Rule, []error) {
	var errs []error
	first := map[string]*Rule{}
	kept := make([]*Rule, 0, len(rules))
	for _, r := range rules {
		if r.ID == "" {
			kept = append(kept, r)
			continue
		}
		if f := first[r.ID]; f != nil {
			errs = append(errs, &LoadError{Source: r.Source, Rule: r.label(),
				Err: fmt.Errorf("duplicate rule id %s: already loaded from %s (%s)", r.ID, f.Source, f.label())})
			continue
		}
		first[r.ID] = r
		kept = append(kept, r)
	}
	return kept, errs
}
