package policy

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseGrammar(t *testing.T) {
	doc := `{
  "Version": "2012-10-17",
  "Id": "bucket-policy-1",
  "Statement": [
    {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*"},
    {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"], "Service": "cloudtrail.amazonaws.com",
       "Federated": "cognito-identity.amazonaws.com", "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
     "NotAction": ["s3:Get*", "s3:List*"], "NotResource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"],
     "Condition": {"NumericLessThan": {"s3:max-keys": 10}, "Bool": {"aws:SecureTransport": false}, "ForAnyValue:StringLike": {"aws:TagKeys": ["a*", "b?"]}}}
  ]
}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "2012-10-17" || p.ID != "bucket-policy-1" || len(p.Statements) != 2 {
		t.Fatalf("%+v", p)
	}
	s0, s1 := p.Statements[0], p.Statements[1]
	if s0.Sid != "Public" || s0.Effect != Allow || !s0.Principal.All || s0.NotPrincipal || s0.Actions[0] != "s3:GetObject" {
		t.Errorf("statement 0: %+v", s0)
	}
	if s1.Effect != Deny || !s1.NotPrincipal || !s1.NotAction || !s1.NotResource || len(s1.Actions) != 2 || len(s1.Resources) != 2 {
		t.Errorf("statement 1: %+v", s1)
	}
	pr := s1.Principal
	if len(pr.AWS) != 2 || pr.Service[0] != "cloudtrail.amazonaws.com" || pr.Federated[0] != "cognito-identity.amazonaws.com" || len(pr.CanonicalUser) != 1 {
		t.Errorf("principal: %+v", pr)
	}
	want := []Condition{
		{Operator: "Bool", Key: "aws:SecureTransport", Values: []string{"false"}},
		{Operator: "ForAnyValue:StringLike", Key: "aws:TagKeys", Values: []string{"a*", "b?"}},
		{Operator: "NumericLessThan", Key: "s3:max-keys", Values: []string{"10"}},
	}
	if len(s1.Conditions) != len(want) {
		t.Fatalf("conditions: %+v", s1.Conditions)
	}
	for i, c := range s1.Conditions {
		if c.Operator != want[i].Operator || c.Key != want[i].Key || strings.Join(c.Values, ",") != strings.Join(want[i].Values, ",") {
			t.Errorf("condition %d: %+v, want %+v", i, c, want[i])
		}
	}

	// Statement as a lone object, no Version (defaults to 2008 rules).
	p, err = Parse([]byte(`{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"}}}`))
	if err != nil || len(p.Statements) != 1 || p.Statements[0].Resources != nil || p.Version != "" {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\",, }\n  ]\n}", "policy line 4 column 24: invalid character ','"},
		{`[1,2]`, "policy line 1 column 1: expected a JSON object"},
		{`{"Version":"2012-10-17"}`, "no Statement element"},
		{`{"Version":"2012-10-18","Statement":[]}`, `Version "2012-10-18" is not`},
		{`{"Statement":[],"Extra":1}`, `unknown element "Extra"`},
		{`{"Statement":"x"}`, "Statement is not an object or an array"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*"},{"Sid":"Two","Effect":"allow","Action":"s3:*"}]}`, `statement 1 (Sid "Two"): Effect: "allow" is not Allow or Deny`},
		{`{"Statement":[{"Sid":"NoAction","Effect":"Allow","Resource":"*"}]}`, `statement 0 (Sid "NoAction"): no Action or NotAction element`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*"}]}`, "both Action and NotAction"},
		{`{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, "Action: empty array"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":[1]}]}`, "Resource: expected a string or an array of strings"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Principal":"arn:aws:iam::111122223333:root"}]}`, `a string principal must be "*"`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Principal":{"IAM":"x"}}]}`, `unknown principal type "IAM"`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"StringEqual":{"k":"v"}}}]}`, `unknown condition operator "StringEqual"`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"NullIfExists":{"k":"true"}}}]}`, "Null takes no IfExists"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"StringEquals":{"k":null}}}]}`, "is not a string, number or boolean"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"StringEquals":{"k":{"a":1}}}}]}`, "is not a string, number or boolean"},
		{`{"Statement":[{"Effect":"Allow","Actions":"s3:*"}]}`, `unknown element "Actions"`},
	} {
		_, err := Parse([]byte(tc.doc))
		var se *SyntaxError
		if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestParseDocumentForms: the same policy as an object, as CloudTrail's JSON
// string, URL-encoded as IAM returns it, and URL-encoded inside a JSON string.
func TestParseDocumentForms(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"Tagged","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"a+b c"}}}]}`
	quoted, _ := json.Marshal(doc)
	encoded := url.PathEscape(doc)
	encodedQuoted, _ := json.Marshal(encoded)
	for name, form := range map[string]string{"object": doc, "cloudtrail string": string(quoted), "url-encoded": encoded, "url-encoded string": string(encodedQuoted)} {
		p, err := ParseDocument([]byte(form))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c := p.Statements[0].Conditions[0]; c.Values[0] != "a+b c" || p.Statements[0].Sid != "Tagged" {
			t.Errorf("%s: %+v", name, p.Statements[0])
		}
	}
	// A CloudTrail event's requestParameters carries the document as a string.
	var rp struct {
		PolicyDocument json.RawMessage `json:"policyDocument"`
	}
	if err := json.Unmarshal([]byte(`{"policyName":"x","policyDocument":"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"iam:*\", \"Resource\": \"*\"}]\n}"}`), &rp); err != nil {
		t.Fatal(err)
	}
	if p, err := ParseDocument(rp.PolicyDocument); err != nil || p.Statements[0].Actions[0] != "iam:*" {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := ParseDocument([]byte("%7B%ZZ")); err == nil || !strings.Contains(err.Error(), "URL-encoded") {
		t.Errorf("bad escape: %v", err)
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s      string
		fold, esc bool
		want      bool
	}{
		{"*", "", false, false, true},
		{"a*b*c", "aXbYc", false, false, true},
		{"a*b*c", "aXbY", false, false, false},
		{"*a", "bbba", false, false, true},
		{"?", "é", false, false, true},
		{"??", "é", false, false, false},
		{"S3:GET*", "s3:getobject", true, false, true},
		{"S3:GET*", "s3:getobject", false, false, false},
		{`a\*`, "a*", false, true, true},
		{`a\*`, "ab", false, true, false},
		{`a\\`, `a\`, false, true, true},
	} {
		if got := glob(tc.p, tc.s, tc.fold, tc.esc); got != tc.want {
			t.Errorf("glob(%q, %q, %v, %v) = %v", tc.p, tc.s, tc.fold, tc.esc, got)
		}
	}
}

// FuzzParse: no input makes the parser (or evaluating what it accepts) panic,
// and what parses evaluates to a decision with a reason.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
		`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"NotAction":"s3:*","NotResource":"arn:aws:s3:::b/${aws:username}","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
		`%7B%22Statement%22%3A%5B%5D%7D`,
		`"{\"Statement\":[]}"`,
		`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"DateLessThan":{"aws:CurrentTime":"2024-01-01"}}}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:PrincipalTag/t, 'd'}/${*}"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseDocument(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		ctx := Context{"aws:username": {"alice"}, "aws:SourceIp": {"10.1.2.3"}, "aws:TagKeys": {"ab"}, "aws:CurrentTime": {"2023-06-01T00:00:00Z"}}
		for _, req := range []Request{
			{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice", Context: ctx},
			{Principal: "", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice"},
			{Principal: appSess, Action: "sts:AssumeRole", Resource: appRole, ResourceAccount: other, Context: ctx},
		} {
			r := Evaluate(req, Set{Identity: []*Policy{p}, Resource: []*Policy{p}, Boundary: p, SCP: [][]*Policy{{p}}})
			if r.Reason == "" {
				t.Fatalf("no reason for %s", r.Decision)
			}
		}
		AnalyzeDocument(p)
	})
}
