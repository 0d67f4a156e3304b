package detect

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// RuleTest is one example a rule carries: a CloudTrail record and whether
// the rule must match it. Rules keep their examples beside their detection,
// under a top-level `tests` key (a custom attribute, which other Sigma tools
// ignore):
//
//	tests:
//	  - name: StopLogging by an assumed role
//	    match: true
//	    event: {"eventVersion": "1.09", "eventSource": "cloudtrail.amazonaws.com", ...}
//	  - name: the Terraform role reading the trail
//	    match: false
//	    event:
//	      eventSource: cloudtrail.amazonaws.com
//	      eventName: GetTrailStatus
//
// The event is a YAML map (JSON flow style works as it is) holding one
// CloudTrail record. Examples run with a threat list holding
// ExampleThreatIP and a trusted list holding ExampleTrustedIP.
type RuleTest struct {
	Name  string
	Match bool
	Event []byte // the record as JSON
	Line  int    // where the test starts in the rule file
}

// parseTests reads a rule's `tests` list.
func parseTests(n *yaml.Node) ([]RuleTest, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("tests must be a list (line %d)", n.Line)
	}
	var out []RuleTest
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("test %d must be a map with name, match and event (line %d)", i+1, item.Line)
		}
		t := RuleTest{Line: item.Line}
		var matchSet, eventSet bool
		for k := 0; k+1 < len(item.Content); k += 2 {
			key, val := deref(item.Content[k]).Value, deref(item.Content[k+1])
			switch key {
			case "name":
				t.Name = val.Value
			case "match":
				if err := val.Decode(&t.Match); err != nil {
					return nil, fmt.Errorf("test %d: match must be true or false (line %d)", i+1, val.Line)
				}
				matchSet = true
			case "event":
				var rec any
				if err := val.Decode(&rec); err != nil {
					return nil, fmt.Errorf("test %d: event: %v (line %d)", i+1, err, val.Line)
				}
				if _, ok := rec.(map[string]any); !ok {
					return nil, fmt.Errorf("test %d: event must be a map holding one CloudTrail record (line %d)", i+1, val.Line)
				}
				b, err := json.Marshal(rec)
				if err != nil {
					return nil, fmt.Errorf("test %d: event: %v (line %d)", i+1, err, val.Line)
				}
				t.Event, eventSet = b, true
			default:
				return nil, fmt.Errorf("test %d: unknown key %q (line %d): want name, match, event", i+1, key, item.Content[k].Line)
			}
		}
		if !matchSet || !eventSet {
			return nil, fmt.Errorf("test %d needs both match and event (line %d)", i+1, item.Line)
		}
		if t.Name == "" {
			t.Name = fmt.Sprintf("test %d", i+1)
		}
		out = append(out, t)
	}
	return out, nil
}
