// Package policy models AWS IAM policies and decides requests against them the
// way AWS documents its policy evaluation logic: the policy grammar and its
// parser (including the URL-encoded documents IAM returns), an evaluator that
// explains its decision (which policy and statement allowed or denied, which
// layer lacked an allow), the account model read from `aws iam
// get-account-authorization-details`, and a risk analysis that finds
// privilege-escalation paths and other dangerous grants by asking the
// evaluator, so that Deny statements and NotAction are honoured.
//
// The flow: Parse (or ParseDocument) gives a *Policy; policies are grouped in
// a Set by the role they play for a request (identity-based, resource-based,
// permissions boundary, session, SCP and RCP levels); Evaluate decides a
// Request against a Set. ParseAuthorizationDetails reads an account export
// whose PolicySet gives a principal's Set. AnalyzeDocument, AnalyzeSet and
// Account.Analyze report Risks. docs/policy.md describes what is modelled and
// what is not.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Effect is a statement's Effect.
type Effect uint8

// The two effects. The zero Effect is invalid: Parse never produces it.
const (
	Allow Effect = iota + 1
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "invalid"
}

// Policy is one IAM policy document, with where it came from. Name, Source and
// Account are not part of the document: whoever builds the Policy sets them so
// that explanations and risks can name it.
type Policy struct {
	Name    string // e.g. "AdministratorAccess", or an inline policy's name
	Source  string // e.g. a managed policy's ARN, or "inline policy of user/alice"
	Account string // the account the policy belongs to, when known (foreign-account checks need it)

	Version    string // "2012-10-17", "2008-10-17" or "" (policy variables need 2012-10-17)
	ID         string
	Statements []Statement
}

// Label names the policy for people: its name, else its source, else "policy".
func (p *Policy) Label() string {
	switch {
	case p == nil:
		return "policy"
	case p.Name != "":
		return p.Name
	case p.Source != "":
		return p.Source
	}
	return "policy"
}

// Statement is one statement of a policy. Actions, Resources and Principal
// keep the text of the document; matching folds case where IAM does (action
// names) and nowhere else.
type Statement struct {
	Sid    string
	Effect Effect

	Actions   []string // the Action element, or NotAction when NotAction is set
	NotAction bool

	// Resources is the Resource element, or NotResource when NotResource is
	// set. Both empty: the statement has no Resource element (trust policies
	// and other resource-based policies may omit it), and it applies to any
	// resource.
	Resources   []string
	NotResource bool

	// Principal is the Principal element, or NotPrincipal when NotPrincipal is
	// set; nil when the statement has neither (identity-based policies, SCPs).
	Principal    *Principal
	NotPrincipal bool

	// Conditions are the Condition element, one entry per operator and key;
	// all must hold.
	Conditions []Condition
}

// Label names the statement for people: `"Sid"` or `#index`.
func (s *Statement) Label(index int) string {
	if s.Sid != "" {
		return fmt.Sprintf("%q", s.Sid)
	}
	return fmt.Sprintf("#%d", index)
}

// Principal is a Principal or NotPrincipal element. `"Principal": "*"` sets
// All; `{"AWS": "*"}` is kept as written and means the same.
type Principal struct {
	All           bool
	AWS           []string // account IDs, account root ARNs, user, role and assumed-role session ARNs, or "*"
	Service       []string // service principals: "ec2.amazonaws.com"
	Federated     []string // identity providers: "cognito-identity.amazonaws.com", SAML provider ARNs
	CanonicalUser []string // S3 canonical user IDs
}

// Condition is one operator and key of a Condition element, with its values
// as text (JSON numbers and booleans as written: 10, true).
type Condition struct {
	Operator string // as written: "StringEquals", "ForAnyValue:StringLike", "NumericLessThanIfExists"
	Key      string // as written; keys match context keys case-insensitively
	Values   []string

	op operator // Operator parsed; the zero value until Parse or the first evaluation
}

// SyntaxError is a policy that is not valid JSON or not valid policy grammar.
// Line and Column (1-based) are set when the position is known; Statement is
// the 0-based index of the statement at fault, or -1.
type SyntaxError struct {
	Line, Column int
	Statement    int
	Sid          string
	Msg          string
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("policy")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d column %d", e.Line, e.Column)
	}
	if e.Statement >= 0 {
		fmt.Fprintf(&b, " statement %d", e.Statement)
		if e.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", e.Sid)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ParseDocument parses a policy document in any of the forms AWS hands them
// out: a JSON object; a JSON string holding the policy (CloudTrail's
// requestParameters.policyDocument); or the policy URL-encoded as RFC 3986
// says (IAM's GetAccountAuthorizationDetails, GetPolicyVersion,
// GetRolePolicy...), bare or as a JSON string.
func ParseDocument(doc []byte) (*Policy, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) > 0 && doc[0] == '"' {
		var s string
		if err := json.Unmarshal(doc, &s); err != nil {
			return nil, &SyntaxError{Statement: -1, Msg: "policy document string: " + err.Error()}
		}
		doc = bytes.TrimSpace([]byte(s))
	}
	if len(doc) > 0 && doc[0] == '%' {
		s, err := url.PathUnescape(string(doc))
		if err != nil {
			return nil, &SyntaxError{Statement: -1, Msg: "URL-encoded policy document: " + err.Error()}
		}
		doc = []byte(s)
	}
	return Parse(doc)
}

// Parse parses a policy document given as JSON. Errors are *SyntaxError,
// naming the line and column of a JSON error, or the statement (index and
// Sid) and element at fault. Unknown elements are errors, as IAM rejects them.
func Parse(doc []byte) (*Policy, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, jsonError(doc, err, -1, "")
	}
	if top == nil {
		return nil, &SyntaxError{Statement: -1, Msg: "policy is not a JSON object"}
	}
	p := &Policy{}
	for k, v := range top {
		var err error
		switch k {
		case "Version":
			err = json.Unmarshal(v, &p.Version)
			if err == nil && p.Version != "2012-10-17" && p.Version != "2008-10-17" {
				err = fmt.Errorf("Version %q is not 2012-10-17 or 2008-10-17", p.Version)
			}
		case "Id":
			err = json.Unmarshal(v, &p.ID)
		case "Statement":
			continue
		default:
			err = fmt.Errorf("unknown element %q", k)
		}
		if err != nil {
			return nil, &SyntaxError{Statement: -1, Msg: elementError(k, err)}
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, &SyntaxError{Statement: -1, Msg: "no Statement element"}
	}
	var list []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		list = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return nil, &SyntaxError{Statement: -1, Msg: "Statement is not an object or an array of objects"}
	}
	p.Statements = make([]Statement, len(list))
	for i, r := range list {
		if err := parseStatement(r, &p.Statements[i]); err != nil {
			err.Statement = i
			err.Sid = p.Statements[i].Sid
			return nil, err
		}
	}
	return p, nil
}

// jsonError turns an encoding/json error into a SyntaxError with a line and
// column when the error carries an offset.
func jsonError(doc []byte, err error, stmt int, sid string) *SyntaxError {
	e := &SyntaxError{Statement: stmt, Sid: sid, Msg: err.Error()}
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		e.Msg = fmt.Sprintf("expected a JSON object, found %s", te.Value)
	}
	// encoding/json's offsets count the bytes read, the offending one
	// included: step back onto it.
	if off > 0 {
		off--
	}
	if off >= 0 && off <= int64(len(doc)) {
		before := doc[:off]
		e.Line = bytes.Count(before, []byte{'\n'}) + 1
		e.Column = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	}
	return e
}

func elementError(element string, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: expected %s, found %s", element, te.Type, te.Value)
	}
	if strings.HasPrefix(err.Error(), element) || strings.HasPrefix(err.Error(), "unknown element") {
		return err.Error()
	}
	return element + ": " + err.Error()
}

func parseStatement(raw json.RawMessage, st *Statement) *SyntaxError {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return &SyntaxError{Msg: "statement is not a JSON object"}
	}
	// Sid first, so that every later error can name it.
	if v, ok := m["Sid"]; ok {
		if err := json.Unmarshal(v, &st.Sid); err != nil {
			return &SyntaxError{Msg: elementError("Sid", err)}
		}
	}
	fail := func(element string, err error) *SyntaxError {
		return &SyntaxError{Msg: elementError(element, err)}
	}
	for k, v := range m {
		var err error
		switch k {
		case "Sid":
		case "Effect":
			var e string
			if err = json.Unmarshal(v, &e); err == nil {
				switch e {
				case "Allow":
					st.Effect = Allow
				case "Deny":
					st.Effect = Deny
				default:
					err = fmt.Errorf("%q is not Allow or Deny", e)
				}
			}
		case "Action", "NotAction":
			if st.Actions != nil {
				return &SyntaxError{Msg: "both Action and NotAction"}
			}
			st.Actions, err = stringList(v)
			st.NotAction = k == "NotAction"
		case "Resource", "NotResource":
			if st.Resources != nil {
				return &SyntaxError{Msg: "both Resource and NotResource"}
			}
			st.Resources, err = stringList(v)
			st.NotResource = k == "NotResource"
		case "Principal", "NotPrincipal":
			if st.Principal != nil {
				return &SyntaxError{Msg: "both Principal and NotPrincipal"}
			}
			st.Principal, err = parsePrincipal(v)
			st.NotPrincipal = k == "NotPrincipal"
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			err = fmt.Errorf("unknown element %q", k)
		}
		if err != nil {
			return fail(k, err)
		}
	}
	switch {
	case st.Effect == 0:
		return &SyntaxError{Msg: "no Effect element"}
	case st.Actions == nil:
		return &SyntaxError{Msg: "no Action or NotAction element"}
	}
	return nil
}

// stringList decodes a string or a non-empty array of strings.
func stringList(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil || l == nil {
		return nil, errors.New("expected a string or an array of strings")
	}
	if len(l) == 0 {
		return nil, errors.New("empty array")
	}
	return l, nil
}

func parsePrincipal(raw json.RawMessage) (*Principal, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if s != "*" {
			return nil, fmt.Errorf("%q: a string principal must be \"*\"; name others as {\"AWS\": ...}", s)
		}
		return &Principal{All: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New(`expected "*" or an object of AWS, Service, Federated, CanonicalUser`)
	}
	p := &Principal{}
	for k, v := range m {
		l, err := stringList(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "AWS":
			p.AWS = l
		case "Service":
			p.Service = l
		case "Federated":
			p.Federated = l
		case "CanonicalUser":
			p.CanonicalUser = l
		default:
			return nil, fmt.Errorf("unknown principal type %q", k)
		}
	}
	return p, nil
}

func parseConditions(raw json.RawMessage) ([]Condition, error) {
	var ops map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil || ops == nil {
		return nil, errors.New("expected an object of operator to {key: value}")
	}
	var out []Condition
	for name, keys := range ops {
		op, err := parseOperator(name)
		if err != nil {
			return nil, err
		}
		if keys == nil {
			return nil, fmt.Errorf("%s: expected an object of key to value", name)
		}
		for key, v := range keys {
			vals, err := conditionValues(v)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, key, err)
			}
			out = append(out, Condition{Operator: name, Key: key, Values: vals, op: op})
		}
	}
	// Map iteration order is random; keep explanations and tests stable.
	sortConditions(out)
	return out, nil
}

// conditionValues decodes a condition value: a string, number or boolean, or
// an array of them, each kept as its text.
func conditionValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) == 0 {
			return nil, errors.New("empty value")
		}
		switch c := it[0]; {
		case c == '"':
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return nil, err
			}
			out = append(out, s)
		case c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
			out = append(out, string(it)) // true, false, or a number as written
		default:
			return nil, fmt.Errorf("value %s is not a string, number or boolean", it)
		}
	}
	return out, nil
}
