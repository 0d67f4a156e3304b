package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

const sugRole = "arn:aws:iam::111122223333:role/app"
const sugSession = "arn:aws:sts::111122223333:assumed-role/app/alice"

func refused(id, action string, resources []string, kind string, explicit bool) Call {
	return Call{EventID: id, Time: time.Date(2025, 2, 11, 16, 0, 0, 0, time.UTC), Principal: sugRole, Caller: sugSession,
		Needs: []Need{{Action: action, Resources: resources, From: FromRequest}}, Error: "AccessDenied",
		Refusal: &Refusal{Kind: kind, Explicit: explicit, Action: action, Code: "AccessDenied"}}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		kind     string
		explicit bool
		want     Class
	}{
		{"scp", true, Guardrail}, {"scp", false, Guardrail},
		{"rcp", true, Guardrail}, {"boundary", true, Guardrail}, {"boundary", false, Guardrail},
		{"session-policy", true, Guardrail}, {"session-policy", false, Guardrail},
		{"vpc-endpoint-policy", true, Guardrail},
		{"identity-policy", false, MissingPermission}, {"identity-policy", true, DenyStatement},
		{"resource-policy", false, ResourcePolicyMissing}, {"resource-policy", true, DenyStatement},
		{"unknown", false, Unclassified}, {"", false, Unclassified}, {"unknown", true, DenyStatement},
	}
	for _, c := range cases {
		if got := Classify(&Refusal{Kind: c.kind, Explicit: c.explicit}); got != c.want {
			t.Errorf("Classify(%s, explicit %v) = %s, want %s", c.kind, c.explicit, got, c.want)
		}
	}
	if Guardrail.Grantable() || DenyStatement.Grantable() || ResourcePolicyMissing.Grantable() || !MissingPermission.Grantable() || !Unclassified.Grantable() {
		t.Error("only missing permissions and unclassified refusals are grantable")
	}
}

// TestSuggestExample checks one principal's suggestion whole: grouping,
// guardrails left out, evidence, notes, valid IAM JSON.
func TestSuggestExample(t *testing.T) {
	calls := []Call{
		refused("e1", "s3:GetObject", []string{"arn:aws:s3:::data-bkt/exports/q1.csv"}, "identity-policy", false),
		refused("e2", "s3:GetObject", []string{"arn:aws:s3:::data-bkt/exports/q2.csv"}, "identity-policy", false),
		refused("e3", "s3:PutObject", []string{"arn:aws:s3:::data-bkt/exports/q1.csv", "arn:aws:s3:::data-bkt/exports/q2.csv"}, "identity-policy", false),
		refused("e4", "dynamodb:DeleteTable", []string{"arn:aws:dynamodb:ap-southeast-2:111122223333:table/orders"}, "scp", true),
		refused("e5", "sqs:ListQueues", []string{"*"}, "identity-policy", false),
		refused("e6", "kms:Decrypt", []string{"*"}, "unknown", false),
		{EventID: "e7", Principal: sugRole, Caller: sugSession, NoPermission: "the role's trust policy authorises it", Refusal: &Refusal{Kind: "unknown", Action: "sts:AssumeRoleWithWebIdentity"}},
		refused("e8", "lambda:InvokeFunction", []string{"arn:aws:lambda:ap-southeast-2:444455556666:function:billing"}, "resource-policy", false),
		{EventID: "ok", Principal: sugRole, Caller: sugSession, Needs: []Need{{Action: "s3:ListBucket", Resources: []string{"arn:aws:s3:::x"}}}},
	}
	calls[5].Needs[0].From = FromNone
	sugs := Suggest(calls, SuggestOptions{})
	if len(sugs) != 1 || sugs[0].Principal != sugRole {
		t.Fatalf("suggestions: %+v", sugs)
	}
	s := sugs[0]
	doc, err := json.Marshal(s.Policy)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"AllowKmsDecryptAnd1More","Effect":"Allow","Action":["kms:Decrypt","sqs:ListQueues"],"Resource":["*"]},` +
		`{"Sid":"AllowS3GetObjectAnd1More","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::data-bkt/exports/q1.csv","arn:aws:s3:::data-bkt/exports/q2.csv"]}]}`
	if string(doc) != want {
		t.Errorf("policy\n got %s\nwant %s", doc, want)
	}
	if _, err := s.Policy.Parse(); err != nil {
		t.Errorf("the document does not parse: %v", err)
	}
	if got := s.Grants[1].Evidence; !slices.Equal(got, []string{"e1", "e2", "e3"}) {
		t.Errorf("evidence of the S3 statement: %v", got)
	}
	if n := strings.Join(s.Grants[0].Notes, ";"); !strings.Contains(n, "nothing in the records names the resource") {
		t.Errorf("kms:Decrypt on * must say nothing named the resource: %q", n)
	}
	if n := strings.Join(s.Grants[0].Notes, ";"); !strings.Contains(n, "no resource-level permissions") {
		t.Errorf("sqs:ListQueues on * must say it has no resource-level permissions: %q", n)
	}
	classes := map[string]Class{}
	granted := map[string]bool{}
	for _, d := range s.Denies {
		classes[d.EventID], granted[d.EventID] = d.Class, d.Granted
	}
	wantClass := map[string]Class{"e1": MissingPermission, "e4": Guardrail, "e6": Unclassified, "e8": ResourcePolicyMissing}
	for id, c := range wantClass {
		if classes[id] != c {
			t.Errorf("%s classified %s, want %s", id, classes[id], c)
		}
	}
	if granted["e4"] || granted["e7"] || granted["e8"] || !granted["e1"] || !granted["e6"] {
		t.Errorf("granted: %v", granted)
	}
	if _, ok := classes["ok"]; ok {
		t.Error("a call that succeeded is not a refusal")
	}
}

// TestSuggestProperty is the bar: over generated refusals, the suggested
// policy allows exactly the refused (action, resource) pairs that are missing
// permissions, and denies their neighbours — other resources, other actions
// of the service, the refused pairs of guardrails.
func TestSuggestProperty(t *testing.T) {
	type service struct {
		actions  []string
		resource func(r *rand.Rand) string
	}
	name := func(r *rand.Rand) string {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_./*?$ {}"
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	plain := func(r *rand.Rand) string {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789-"
		b := make([]byte, 3+r.IntN(8))
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	services := []service{
		{[]string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging"}, func(r *rand.Rand) string {
			return "arn:aws:s3:::" + plain(r) + "/" + name(r)
		}},
		{[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteTable"}, func(r *rand.Rand) string {
			return "arn:aws:dynamodb:eu-west-1:111122223333:table/" + plain(r)
		}},
		{[]string{"iam:PassRole", "iam:GetRole", "iam:PutRolePolicy"}, func(r *rand.Rand) string {
			return "arn:aws:iam::111122223333:role/" + plain(r)
		}},
		{[]string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, func(r *rand.Rand) string {
			return "arn:aws:secretsmanager:eu-west-1:111122223333:secret:" + plain(r) + "-AbCdEf"
		}},
	}
	kinds := []struct {
		kind     string
		explicit bool
	}{{"identity-policy", false}, {"identity-policy", false}, {"identity-policy", false}, {"scp", true}, {"boundary", false}, {"identity-policy", true}, {"resource-policy", false}}

	type pair struct{ action, resource string }
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		var calls []Call
		want := map[pair]bool{}
		var actions, resources []string
		for i := range 1 + r.IntN(8) {
			svc := services[r.IntN(len(services))]
			action := svc.actions[r.IntN(len(svc.actions))]
			var res []string
			for range 1 + r.IntN(2) {
				res = append(res, svc.resource(r))
			}
			k := kinds[r.IntN(len(kinds))]
			calls = append(calls, refused(fmt.Sprintf("e%d", i), action, res, k.kind, k.explicit))
			for _, x := range res {
				if k.kind == "identity-policy" && !k.explicit {
					want[pair{strings.ToLower(action), x}] = true
				}
				resources = append(resources, x, x+"x", x[:len(x)-1])
			}
			actions = append(actions, svc.actions...)
		}
		sugs := Suggest(calls, SuggestOptions{})
		if len(sugs) != 1 {
			t.Fatalf("seed %d: %d suggestions", seed, len(sugs))
		}
		s := sugs[0]
		if len(want) == 0 {
			if s.Policy != nil {
				t.Fatalf("seed %d: nothing to grant, yet a policy: %+v", seed, s.Policy)
			}
			continue
		}
		p, err := s.Policy.Parse()
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, st := range s.Policy.Statement {
			for _, a := range st.Action {
				if strings.ContainsAny(a, "*?") {
					t.Fatalf("seed %d: wildcard action %q", seed, a)
				}
			}
			if slices.Contains(st.Resource, "*") {
				t.Fatalf("seed %d: Resource * though every resource was named", seed)
			}
		}
		set := Set{Identity: []*Policy{p}}
		for _, a := range actions {
			for _, x := range resources {
				got := Evaluate(Request{Principal: sugSession, Action: a, Resource: x}, set).Decision == Allowed
				if got != want[pair{strings.ToLower(a), x}] {
					doc, _ := json.Marshal(s.Policy)
					t.Fatalf("seed %d: %s on %q allowed=%v, want %v\npolicy %s", seed, a, x, got, !got, doc)
				}
			}
		}
	}
}

func TestSuggestGroup(t *testing.T) {
	calls := []Call{
		refused("e1", "s3:GetObject", []string{"arn:aws:s3:::data-bkt/exports/q1.csv"}, "identity-policy", false),
		refused("e2", "s3:GetObjectTagging", []string{"arn:aws:s3:::data-bkt/exports/q2.csv"}, "identity-policy", false),
		refused("e3", "dynamodb:GetItem", []string{"arn:aws:dynamodb:eu-west-1:111122223333:table/orders"}, "identity-policy", false),
		refused("e4", "dynamodb:Query", []string{"arn:aws:dynamodb:eu-west-1:111122223333:table/invoices"}, "identity-policy", false),
	}
	narrow := Suggest(calls, SuggestOptions{})[0]
	wide := Suggest(calls, SuggestOptions{Group: true})[0]
	if len(narrow.Policy.Statement) != 4 {
		t.Errorf("without --group: %d statements, want 4", len(narrow.Policy.Statement))
	}
	doc, _ := json.Marshal(wide.Policy)
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"AllowDynamodbGetItem","Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":["arn:aws:dynamodb:eu-west-1:111122223333:table/orders"]},` +
		`{"Sid":"AllowDynamodbQuery","Effect":"Allow","Action":["dynamodb:Query"],"Resource":["arn:aws:dynamodb:eu-west-1:111122223333:table/invoices"]},` +
		`{"Sid":"AllowS3Get","Effect":"Allow","Action":["s3:Get*"],"Resource":["arn:aws:s3:::data-bkt/exports/*"]}]}`
	if string(doc) != want {
		t.Errorf("--group\n got %s\nwant %s", doc, want)
	}
	// Two tables never widen to table/*: that is every table.
	if !strings.Contains(strings.Join(wide.Grants[2].Notes, ";"), "--group widened") {
		t.Errorf("the widening must be said: %v", wide.Grants[2].Notes)
	}
}

// TestSuggestDecidedByEvaluator: with the account's policies, a refusal
// whose message says nothing is decided by the evaluator.
func TestSuggestDecidedByEvaluator(t *testing.T) {
	acct := loadAccount(t)
	role := "arn:aws:iam::111122223333:role/app-server"
	session := "arn:aws:sts::111122223333:assumed-role/app-server/i-0abc"
	call := func(id, action, resource string) Call {
		return Call{EventID: id, Principal: role, Caller: session, Error: "AccessDenied",
			Needs:   []Need{{Action: action, Resources: []string{resource}, From: FromRequest}},
			Refusal: &Refusal{Kind: "unknown", Code: "AccessDenied", Message: "Access Denied"}}
	}
	calls := []Call{
		call("own", "s3:GetObject", "arn:aws:s3:::example-app-assets/logo.png"),
		call("other", "s3:GetObject", "arn:aws:s3:::finance-reports/2024.csv"),
	}
	sugs := Suggest(calls, SuggestOptions{PolicySet: func(p string) (Set, bool) {
		s, err := acct.PolicySet(p)
		return s, err == nil
	}})
	if len(sugs) != 1 {
		t.Fatalf("%d suggestions", len(sugs))
	}
	d := sugs[0].Denies
	if d[0].Class != Unclassified || d[0].Granted || !strings.Contains(d[0].Reason, "allow the call") {
		t.Errorf("a call the role's policies allow is not granted: %+v", d[0])
	}
	if d[1].Class != MissingPermission || !d[1].Granted {
		t.Errorf("a call no policy of the role allows is a missing permission: %+v", d[1])
	}
	if st := sugs[0].Policy.Statement; len(st) != 1 || st[0].Resource[0] != "arn:aws:s3:::finance-reports/2024.csv" {
		t.Errorf("statements: %+v", st)
	}
}

func TestEscapeResource(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:s3:::b/plain":     "arn:aws:s3:::b/plain",
		"arn:aws:s3:::b/a*b?c":     "arn:aws:s3:::b/a${*}b${?}c",
		"arn:aws:s3:::b/${x}":      "arn:aws:s3:::b/${$}{x}",
		"arn:aws:s3:::b/price$5.0": "arn:aws:s3:::b/price${$}5.0",
	} {
		if got := EscapeResource(in); got != want {
			t.Errorf("EscapeResource(%q) = %q, want %q", in, got, want)
		}
	}
}

// What a principal was refused from a network it never worked from, or to
// offensive tooling, looks like its credentials in someone else's hands:
// listed as unfamiliar-caller, not granted unless asked.
func TestSuggestUnfamiliarCaller(t *testing.T) {
	worked := Call{EventID: "ok1", Principal: sugRole, Caller: sugSession, Network: "192.0.2.0/24",
		Needs: []Need{{Action: "s3:GetObject", Resources: []string{"arn:aws:s3:::app/a"}, From: FromRequest}}}
	home := refused("d1", "s3:PutObject", []string{"arn:aws:s3:::app/b"}, "identity-policy", false)
	home.Network = "192.0.2.0/24"
	away := refused("d2", "secretsmanager:ListSecrets", []string{"*"}, "identity-policy", false)
	away.Network = "203.0.113.0/24"
	tool := refused("d3", "iam:ListRoles", []string{"*"}, "identity-policy", false)
	tool.Network, tool.Tooling = "192.0.2.0/24", "offensive:pacu"
	calls := []Call{worked, home, away, tool}

	classes := func(s []Suggestion) map[string]Refused {
		out := map[string]Refused{}
		for _, d := range s[0].Denies {
			out[d.EventID] = d
		}
		return out
	}
	got := classes(Suggest(calls, SuggestOptions{}))
	if d := got["d1"]; d.Class != MissingPermission || !d.Granted {
		t.Errorf("refusal from where it works: %+v", d)
	}
	for _, id := range []string{"d2", "d3"} {
		if d := got[id]; d.Class != Unfamiliar || d.Granted || d.Reason == "" {
			t.Errorf("%s: %+v, want unfamiliar-caller, not granted", id, d)
		}
	}
	if got := classes(Suggest(calls, SuggestOptions{GrantUnfamiliar: true})); !got["d2"].Granted || !got["d3"].Granted {
		t.Errorf("GrantUnfamiliar: %+v", got)
	}
	// A principal with no successful call in the data: nothing to compare.
	if got := classes(Suggest([]Call{away}, SuggestOptions{})); !got["d2"].Granted {
		t.Errorf("no baseline: %+v", got["d2"])
	}
}
