package enrich

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// The action catalog: one line per CloudTrail event, tab-separated, with a
// header line. Columns:
//
//	event         service:eventName — the IAM service prefix and the event name
//	              as CloudTrail writes it (without an API-version suffix)
//	access_level  List, Read, Write, Permissions management or Tagging, as the
//	              AWS Service Authorization Reference gives for the IAM action
//	attack        ATT&CK technique ids the call is characteristic of, comma-separated
//	risks         risk categories (riskCategories in tables.go), comma-separated
//	iam_action    the IAM action when it is not service:eventName
//	              (s3:ListObjects is authorised by s3:ListBucket)
//
//go:embed actions.tsv
var actionsTSV string

// ATT&CK technique ids and names: every technique the catalog uses.
//
//go:embed techniques.tsv
var techniquesTSV string

// Action is what an API call is and can do. Actions from the catalog are
// shared by every event: do not modify one.
type Action struct {
	Service     string   // IAM service prefix: "iam", "s3", "cloudwatch"
	Event       string   // eventName without an API-version suffix: "CreateAccessKey"
	Name        string   // the IAM action: "iam:CreateAccessKey", "s3:ListBucket"
	AccessLevel string   // List, Read, Write, Permissions management, Tagging
	Techniques  []string // ATT&CK technique ids, e.g. "T1098.001"
	Risks       []string // risk categories, e.g. "privilege-escalation"

	// Guessed is set for an event the catalog does not know: Service and
	// Name are derived from eventSource and eventName, AccessLevel from the
	// verb the name starts with, and there are no techniques or risks.
	Guessed bool

	// JSON arrays of Techniques and Risks, made once for field lookups.
	techniquesJSON, risksJSON string
}

// HasRisk reports whether the action carries risk category r.
func (a *Action) HasRisk(r string) bool { return slices.Contains(a.Risks, r) }

type actionKey struct{ service, event string }

type catalog struct {
	actions    map[actionKey]*Action // by service and event
	bySource   map[actionKey]*Action // by eventSource and event: one lookup per event
	list       []*Action             // in file order
	techniques map[string]string     // id → name
	techOrder  []string              // in file order
	access     *accessTables         // iamactions.tsv, resources.tsv, unrecorded.tsv
}

// isTechniqueID reports whether s reads like an ATT&CK technique id: T1234
// or T1234.567.
func isTechniqueID(s string) bool {
	switch len(s) {
	case 5:
		return s[0] == 'T' && countDigits(s) == 4
	case 9:
		return s[0] == 'T' && countDigits(s[:5]) == 4 && s[5] == '.' && countDigits(s) == 3
	}
	return false
}

// parseCatalog reads actions.tsv and techniques.tsv, checking every value
// against the tables it may take.
func parseCatalog(actions, techniques string) (*catalog, error) {
	c := &catalog{actions: make(map[actionKey]*Action), bySource: make(map[actionKey]*Action), techniques: make(map[string]string)}
	err := eachRow("techniques.tsv", techniques, []string{"technique", "name"}, func(line int, f []string) error {
		if !isTechniqueID(f[0]) || f[1] == "" {
			return fmt.Errorf("bad technique %q %q", f[0], f[1])
		}
		if _, dup := c.techniques[f[0]]; dup {
			return fmt.Errorf("technique %s listed twice", f[0])
		}
		c.techniques[f[0]] = f[1]
		c.techOrder = append(c.techOrder, f[0])
		return nil
	})
	if err != nil {
		return nil, err
	}
	risks := make(map[string]bool)
	for _, r := range riskCategories {
		risks[r.Name] = true
	}
	header := []string{"event", "access_level", "attack", "risks", "iam_action"}
	err = eachRow("actions.tsv", actions, header, func(line int, f []string) error {
		service, name, ok := strings.Cut(f[0], ":")
		if !ok || service == "" || name == "" {
			return fmt.Errorf("event %q is not service:eventName", f[0])
		}
		a := &Action{Service: service, Event: name, Name: f[0], AccessLevel: f[1]}
		if !slices.Contains(accessLevels, a.AccessLevel) {
			return fmt.Errorf("%s: unknown access level %q", f[0], a.AccessLevel)
		}
		for _, t := range splitList(f[2]) {
			if _, ok := c.techniques[t]; !ok {
				return fmt.Errorf("%s: technique %q is not in techniques.tsv", f[0], t)
			}
			a.Techniques = append(a.Techniques, t)
		}
		for _, r := range splitList(f[3]) {
			if !risks[r] {
				return fmt.Errorf("%s: unknown risk category %q", f[0], r)
			}
			a.Risks = append(a.Risks, r)
		}
		if f[4] != "" {
			if s, n, ok := strings.Cut(f[4], ":"); !ok || s != service || n == "" {
				return fmt.Errorf("%s: IAM action %q is not %s:Action", f[0], f[4], service)
			}
			a.Name = f[4]
		}
		a.finish()
		k := actionKey{service, name}
		if _, dup := c.actions[k]; dup {
			return fmt.Errorf("%s listed twice", f[0])
		}
		c.actions[k] = a
		c.list = append(c.list, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Index the actions by every eventSource whose service they belong to.
	sources := map[string][]string{}
	for src, service := range serviceByEventSource {
		sources[service] = append(sources[service], src)
	}
	for k, a := range c.actions {
		if src := k.service + ".amazonaws.com"; ServiceOf(src) == k.service {
			c.bySource[actionKey{src, k.event}] = a
		}
		for _, src := range sources[k.service] {
			c.bySource[actionKey{src, k.event}] = a
		}
	}
	if c.access, err = parseAccess(iamActionsTSV, resourcesTSV, unrecordedTSV); err != nil {
		return nil, err
	}
	return c, nil
}

// eachRow calls f with the fields of every line after the header, which must
// read want. A row has exactly as many fields as the header.
func eachRow(file, text string, want []string, f func(line int, fields []string) error) error {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if got := strings.Split(lines[0], "\t"); !slices.Equal(got, want) {
		return fmt.Errorf("%s:1: header %q, want %q", file, got, want)
	}
	for i, l := range lines[1:] {
		fields := strings.Split(l, "\t")
		if len(fields) != len(want) {
			return fmt.Errorf("%s:%d: %d fields, want %d", file, i+2, len(fields), len(want))
		}
		if err := f(i+2, fields); err != nil {
			return fmt.Errorf("%s:%d: %w", file, i+2, err)
		}
	}
	return nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// finish makes the JSON forms of the lists, once.
func (a *Action) finish() {
	a.techniquesJSON = jsonList(a.Techniques)
	a.risksJSON = jsonList(a.Risks)
}

func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// Action returns what the event's API call is and can do: the catalog's
// entry, or a guessed one (Guessed set) for an event the catalog does not
// know. It is nil when the record names no eventSource or eventName.
func (v *View) Action() *Action {
	if v.once(partAction) {
		v.action = v.resolveAction()
	}
	return v.action
}

func (v *View) resolveAction() *Action {
	if v.ev == nil {
		return nil
	}
	src, name := v.ev.Str(event.EventSource), v.ev.Str(event.EventName)
	if src == "" || name == "" {
		return nil
	}
	name = trimAPIVersion(name)
	if a, ok := v.e.catalog.bySource[actionKey{src, name}]; ok {
		return a
	}
	k := actionKey{ServiceOf(src), name}
	if a, ok := v.guessed[k]; ok {
		return a
	}
	if len(v.guessed) >= cacheLimit {
		clear(v.guessed)
	}
	a := guessAction(k)
	v.guessed[actionKey{a.Service, a.Event}] = a
	return a
}

// guessAction builds the Action of an event the catalog does not know.
func guessAction(k actionKey) *Action {
	service, name := strings.Clone(k.service), strings.Clone(k.event) // not pinning the record
	a := &Action{
		Service:     service,
		Event:       name,
		Name:        service + ":" + name,
		AccessLevel: GuessAccessLevel(name),
		Guessed:     true,
	}
	a.finish()
	return a
}

// ServiceOf returns the IAM service prefix of an eventSource: the name before
// ".amazonaws.com" ("iam.amazonaws.com" → "iam") unless serviceByEventSource
// says otherwise ("monitoring.amazonaws.com" → "cloudwatch"). An eventSource
// that is not an amazonaws.com host is returned as is.
func ServiceOf(eventSource string) string {
	if s, ok := serviceByEventSource[eventSource]; ok {
		return s
	}
	host, ok := strings.CutSuffix(eventSource, ".amazonaws.com")
	if !ok {
		return eventSource
	}
	return host[strings.LastIndexByte(host, '.')+1:]
}

// trimAPIVersion drops the API version some services write into eventName:
// Lambda's "UpdateFunctionCode20150331v2", CloudFront's
// "UpdateDistribution2020_05_31".
func trimAPIVersion(name string) string {
	s := name
	if d := countDigits(s); d > 0 && d < len(s) && s[len(s)-d-1] == 'v' {
		s = s[:len(s)-d-1] // "…20150331v2" → "…20150331"
	}
	n := len(s)
	switch {
	case n > 8 && countDigits(s) == 8 && s[n-8:n-6] == "20": // …20150331
		return s[:n-8]
	case n > 10 && isUnderscoreDate(s[n-10:]): // …2020_05_31
		return s[:n-10]
	}
	return name
}

// isUnderscoreDate reports whether s reads 20YY_MM_DD.
func isUnderscoreDate(s string) bool {
	return s[:2] == "20" && s[4] == '_' && s[7] == '_' &&
		countDigits(s[:4]) == 4 && countDigits(s[5:7]) == 2 && countDigits(s[8:]) == 2
}

// countDigits counts the decimal digits at the end of s.
func countDigits(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] >= '0' && s[len(s)-1-n] <= '9' {
		n++
	}
	return n
}

// GuessAccessLevel guesses the access level of an action the catalog does
// not know from the verb its name starts with: List and Describe are List;
// Get, BatchGet, Head, Lookup, Search, Select, Query, Scan and Download are
// Read; Tag, Untag, AddTags, RemoveTags, CreateTags and DeleteTags are
// Tagging; a change to a policy, permission or grant (PutBucketPolicy,
// AddPermission, CreateGrant) or a Put of an ACL is Permissions management;
// anything else is Write.
func GuessAccessLevel(name string) string {
	verb, rest := splitVerb(name)
	switch verb {
	case "List", "Describe":
		return AccessList
	case "Get", "BatchGet", "Head", "Lookup", "Search", "Select", "Query", "Scan", "Download":
		return AccessRead
	case "Tag", "Untag":
		return AccessTagging
	case "Add", "Remove", "Create", "Delete":
		if strings.HasPrefix(rest, "Tags") {
			return AccessTagging
		}
	}
	switch verb {
	case "Put", "Attach", "Detach", "Create", "Delete", "Update", "Set", "Add", "Remove", "Modify", "Revoke", "Retire", "Replace":
		if strings.Contains(rest, "Policy") || strings.Contains(rest, "Permission") || strings.Contains(rest, "Grant") ||
			verb == "Put" && strings.HasSuffix(rest, "Acl") {
			return AccessPermissions
		}
	}
	return AccessWrite
}

// splitVerb splits "PutBucketPolicy" into "Put" and "BucketPolicy", and
// "BatchGetItem" into "BatchGet" and "Item".
func splitVerb(name string) (verb, rest string) {
	i := 1
	for i < len(name) && !(name[i] >= 'A' && name[i] <= 'Z') {
		i++
	}
	verb, rest = name[:i], name[i:]
	if verb == "Batch" {
		v2, r2 := splitVerb(rest)
		return verb + v2, r2
	}
	return verb, rest
}
