package enrich

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Every field of the table is reachable by name and by compiled reference,
// agrees with the View's methods (through Summary, whose JSON follows the
// field names), and lists fan out like a record's lists.
func TestFieldTable(t *testing.T) {
	dir := t.TempDir()
	threat := writeFile(t, dir, "bad-ips.txt", "203.0.113.77\n")
	trusted := writeFile(t, dir, "corp.txt", "10.0.0.0/8\n")
	e := newEnricher(t, Options{ThreatLists: []string{threat}, TrustedLists: []string{trusted}})
	v := e.NewView()
	for _, rec := range allRecords {
		v.Reset(decode(t, rec.record))
		b, err := json.Marshal(v.Summary())
		if err != nil {
			t.Fatal(err)
		}
		var summary map[string]any
		if err := json.Unmarshal(b, &summary); err != nil {
			t.Fatal(err)
		}
		for _, f := range Fields() {
			ref, err := CompileField(f.Path)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if ref.Path() != f.Path {
				t.Errorf("%s: ref path %s", f.Path, ref.Path())
			}
			got := v.Get(ref)
			if byName, ok := v.Field(f.Path); !ok || byName != got {
				t.Errorf("%s %s: Field %v %v, Get %v", rec.name, f.Path, byName, ok, got)
			}
			want := summaryValue(summary, strings.TrimPrefix(f.Path, Prefix))
			if got.Kind != want.Kind || got.Str != want.Str {
				t.Errorf("%s %s: Get %v %q, Summary %v %q", rec.name, f.Path, got.Kind, got.Str, want.Kind, want.Str)
			}
			var typ string
			switch got.Kind {
			case event.String:
				typ = "string"
			case event.Bool:
				typ = "bool"
			case event.Array:
				typ = "list"
			}
			if typ != "" && typ != f.Type {
				t.Errorf("%s: a %s value in a %s field", f.Path, typ, f.Type)
			}
		}
	}
}

// summaryValue reads a dotted path from Summary's JSON as an event.Value.
func summaryValue(m map[string]any, path string) event.Value {
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return event.Value{}
		}
		if cur, ok = obj[seg]; !ok {
			return event.Value{}
		}
	}
	switch x := cur.(type) {
	case string:
		return event.Value{Kind: event.String, Str: x}
	case bool:
		if x {
			return event.Value{Kind: event.Bool, Str: "true"}
		}
		return event.Value{Kind: event.Bool, Str: "false"}
	case []any:
		b, _ := json.Marshal(x)
		return event.Value{Kind: event.Array, Str: string(b)}
	}
	return event.Value{}
}

func TestFieldValues(t *testing.T) {
	dir := t.TempDir()
	threat := writeFile(t, dir, "bad-ips.txt", "203.0.113.77\n")
	e := newEnricher(t, Options{ThreatLists: []string{threat}})
	v := e.NewView()
	v.Reset(decode(t, iamUserKaliCreateKey))
	want := map[string]event.Value{
		"trailsentry.actor":                     {Kind: event.String, Str: "dev-deploy"},
		"trailsentry.identity.type":             {Kind: event.String, Str: "IAMUser"},
		"trailsentry.identity.role":             {},
		"trailsentry.identity.session":          {},
		"trailsentry.identity.human":            {},
		"trailsentry.identity.keyType":          {Kind: event.String, Str: "long-term"},
		"trailsentry.identity.mfa":              {Kind: event.Bool, Str: "false"},
		"trailsentry.identity.console":          {Kind: event.Bool, Str: "false"},
		"trailsentry.identity.crossAccount":     {Kind: event.Bool, Str: "false"},
		"trailsentry.action.service":            {Kind: event.String, Str: "iam"},
		"trailsentry.action.name":               {Kind: event.String, Str: "iam:CreateAccessKey"},
		"trailsentry.action.accessLevel":        {Kind: event.String, Str: "Write"},
		"trailsentry.action.techniques":         {Kind: event.Array, Str: `["T1098.001"]`},
		"trailsentry.action.risks":              {Kind: event.Array, Str: `["privilege-escalation","credentials-exposure"]`},
		"trailsentry.action.guessed":            {Kind: event.Bool, Str: "false"},
		"trailsentry.network.sourceKind":        {Kind: event.String, Str: "public"},
		"trailsentry.client.family":             {Kind: event.String, Str: "aws-cli"},
		"trailsentry.client.tooling":            {Kind: event.String, Str: "offensive:kali"},
		"trailsentry.intel.threatList":          {Kind: event.String, Str: "bad-ips.txt"},
		"trailsentry.intel.trusted":             {Kind: event.Bool, Str: "false"},
		"trailsentry.request.worldOpen":         {Kind: event.Bool, Str: "false"},
		"trailsentry.request.worldOpenPorts":    {},
		"trailsentry.request.policyExposure":    {},
		"trailsentry.request.externalAccounts":  {},
		"trailsentry.network.asn":               {}, // no MaxMind databases: see geo_test.go
		"trailsentry.network.asnOrg":            {},
		"trailsentry.network.country":           {},
		"trailsentry.request.policyRisks":       {}, // not a policy change: see policyrisk_test.go
		"trailsentry.request.policyRiskReasons": {},
	}
	if len(want) != len(Fields()) {
		t.Errorf("%d fields checked, %d in the table", len(want), len(Fields()))
	}
	for path, w := range want {
		got, ok := v.Field(path)
		if !ok || got != w {
			t.Errorf("%s: %v %q (%v), want %v %q", path, got.Kind, got.Str, ok, w.Kind, w.Str)
		}
	}

	// A list field visits its elements, then itself, like a record's list.
	ref, _ := CompileField("trailsentry.action.risks")
	var seen []string
	v.Lookup(ref, func(val event.Value) bool { seen = append(seen, val.Kind.String()+":"+val.Str); return false })
	wantSeen := []string{"string:privilege-escalation", "string:credentials-exposure", `array:["privilege-escalation","credentials-exposure"]`}
	if !slices.Equal(seen, wantSeen) {
		t.Errorf("Lookup visited %q, want %q", seen, wantSeen)
	}
	// Stopping early.
	n := 0
	if !v.Lookup(ref, func(val event.Value) bool { n++; return val.Str == "privilege-escalation" }) || n != 1 {
		t.Errorf("Lookup did not stop at the first match (%d visits)", n)
	}
	// A missing field visits nothing; a scalar visits itself.
	role, _ := CompileField("trailsentry.identity.role")
	if v.Lookup(role, func(event.Value) bool { t.Error("visited a missing field"); return true }) {
		t.Error("missing field reported a match")
	}
	actor, _ := CompileField("trailsentry.actor")
	if !v.Lookup(actor, func(val event.Value) bool { return val.Str == "dev-deploy" }) {
		t.Error("actor not visited")
	}
	// An empty list still visits itself: [] is what a rule sees.
	techniques, _ := CompileField("trailsentry.action.techniques")
	v.Reset(decode(t, `{"eventVersion":"1.09","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}`))
	v.Reset(decode(t, `{"eventVersion":"1.09","eventSource":"iam.amazonaws.com","eventName":"DeleteGroup"}`))
	seen = nil
	v.Lookup(techniques, func(val event.Value) bool { seen = append(seen, val.Kind.String()+":"+val.Str); return false })
	if !slices.Equal(seen, []string{"array:[]"}) {
		t.Errorf("empty list visited %q", seen)
	}
	// No action at all: the action fields are missing.
	v.Reset(decode(t, `{"eventVersion":"1.09"}`))
	if v.Lookup(techniques, func(event.Value) bool { return true }) {
		t.Error("techniques of an event without an action")
	}
	// A View pointing at nothing answers with zero values.
	v.Reset(nil)
	for _, f := range Fields() {
		got, _ := v.Field(f.Path)
		if f.Path == Prefix+"network.sourceKind" && got.Str == SourceUnknown {
			continue
		}
		if got.Kind != event.Missing && got != (event.Value{Kind: event.Bool, Str: "false"}) {
			t.Errorf("nil event: %s = %v %q", f.Path, got.Kind, got.Str)
		}
	}
}

func TestCompileField(t *testing.T) {
	for _, p := range []string{"trailsentry.actor", "trailsentry.action.risks", "trailsentry.intel.trusted"} {
		if _, err := CompileField(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := CompileField("trailsentry.actr"); err == nil || !strings.Contains(err.Error(), `unknown enrichment field "trailsentry.actr"`) || !strings.Contains(err.Error(), "trailsentry.actor") {
		t.Errorf("typo: %v", err)
	}
	if _, err := CompileField("userIdentity.type"); err == nil || !strings.Contains(err.Error(), "not an enrichment field") {
		t.Errorf("CloudTrail field: %v", err)
	}
	if !IsField("trailsentry.anything") || IsField("userIdentity.type") || IsField("trailsentryx") {
		t.Error("IsField")
	}
	if _, ok := newEnricher(t, Options{}).NewView().Field("trailsentry.nope"); ok {
		t.Error("Field of an unknown name")
	}
	// Every field is under the prefix, once.
	seen := map[string]bool{}
	for _, f := range Fields() {
		if !IsField(f.Path) || seen[f.Path] || f.Doc == "" {
			t.Errorf("field %q: prefix, duplicate or undocumented", f.Path)
		}
		seen[f.Path] = true
	}
}
