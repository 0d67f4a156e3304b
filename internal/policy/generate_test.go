package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

var lambdaRole = "arn:aws:iam::111122223333:role/service-role/lambda-orders-processor"

func used(id string, at int, action string, resources ...string) Call {
	return Call{EventID: id, Time: time.Date(2025, 3, 1, at, 0, 0, 0, time.UTC), Principal: lambdaRole,
		Caller: "arn:aws:sts::111122223333:assumed-role/lambda-orders-processor/orders",
		Needs:  []Need{{Action: action, Resources: resources, From: FromRequest}}}
}

func TestGenerate(t *testing.T) {
	table := "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"
	calls := []Call{
		used("g1", 1, "dynamodb:GetItem", table),
		used("g2", 2, "dynamodb:PutItem", table),
		used("g3", 3, "dynamodb:GetItem", table),
		used("g4", 4, "s3:GetObject", "arn:aws:s3:::orders-in/2025/03/01.json"),
		{EventID: "g5", Time: time.Date(2025, 3, 1, 5, 0, 0, 0, time.UTC), Principal: lambdaRole, Error: "ConditionalCheckFailedException",
			Needs: []Need{{Action: "dynamodb:DeleteItem", Resources: []string{table}}}},
		used("g6", 9, "dynamodb:DeleteTable", table), // outside the period
		{EventID: "g7", Time: time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC), Principal: "arn:aws:iam::111122223333:user/alice",
			Needs: []Need{{Action: "iam:CreateUser", Resources: []string{"*"}}}},
	}
	// The role's ARN without its path names it as well.
	g := Generate("arn:aws:iam::111122223333:role/lambda-orders-processor", calls, GenerateOptions{Until: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)})
	if g.Calls != 4 {
		t.Errorf("calls: %d, want 4 (failed, late and other principals' left out)", g.Calls)
	}
	doc, _ := json.Marshal(g.Policy)
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"AllowDynamodbGetItemAnd1More","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem"],"Resource":["arn:aws:dynamodb:eu-west-1:111122223333:table/orders"]},` +
		`{"Sid":"AllowS3GetObject","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::orders-in/2025/03/01.json"]}]}`
	if string(doc) != want {
		t.Errorf("generated\n got %s\nwant %s", doc, want)
	}
	if ev := slices.Sorted(slices.Values(g.Grants[0].Evidence)); !slices.Equal(ev, []string{"g1", "g2", "g3"}) {
		t.Errorf("evidence: %v", g.Grants[0].Evidence)
	}
	if _, err := g.Policy.Parse(); err != nil {
		t.Error(err)
	}
	if g.First.Hour() != 1 || g.Last.Hour() != 4 {
		t.Errorf("period used: %v .. %v", g.First, g.Last)
	}
}

func TestDiff(t *testing.T) {
	acct := loadAccount(t)
	set, err := acct.PolicySet(lambdaRole)
	if err != nil {
		t.Fatal(err)
	}
	table := "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"
	calls := []Call{
		used("d1", 1, "dynamodb:GetItem", table),
		used("d2", 2, "dynamodb:Query", table),
		used("d3", 3, "dynamodb:Scan", table), // not granted: the role has GetItem, PutItem, UpdateItem, Query
		used("d4", 4, "logs:PutLogEvents", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/lambda-orders-processor:log-stream:2025/03/01"),
	}
	recorded := func(a string) (string, string) {
		if a == "logs:PutLogEvents" || a == "logs:CreateLogStream" {
			return "data-event", "CloudWatch Logs data events"
		}
		return "recorded", ""
	}
	d := Diff(lambdaRole, set, calls, DiffOptions{Catalog: []string{"dynamodb:GetItem", "dynamodb:DeleteTable", "s3:GetObject"}, RecordedAs: recorded})
	if d.Calls != 4 {
		t.Errorf("calls: %d", d.Calls)
	}
	var notGranted []string
	for _, u := range d.UsedNotGranted {
		notGranted = append(notGranted, u.Action)
	}
	if !slices.Equal(notGranted, []string{"dynamodb:Scan"}) {
		t.Errorf("used but not granted: %v", notGranted)
	}
	if !strings.Contains(d.UsedNotGranted[0].Reason, "no identity-based policy allows") {
		t.Errorf("reason: %q", d.UsedNotGranted[0].Reason)
	}
	var unused, unknown []string
	for _, g := range d.GrantedUnused {
		unused = append(unused, g.Action)
		if g.Action == "dynamodb:PutItem" && (!slices.Equal(g.Resources, []string{table}) || !slices.Equal(g.Policies, []string{"orders-table"})) {
			t.Errorf("PutItem granted on %v by %v", g.Resources, g.Policies)
		}
	}
	for _, g := range d.Unknown {
		unknown = append(unknown, g.Action)
	}
	if want := []string{"dynamodb:PutItem", "dynamodb:UpdateItem"}; !slices.Equal(unused, want) {
		t.Errorf("granted but unused: %v, want %v", unused, want)
	}
	if want := []string{"logs:CreateLogStream"}; !slices.Equal(unknown, want) {
		t.Errorf("unknown: %v, want %v", unknown, want)
	}
}

// TestDiffConditional: alice's policies allow everything only with MFA (a
// Deny without it): granted, conditional.
func TestDiffConditional(t *testing.T) {
	acct := loadAccount(t)
	alice := "arn:aws:iam::111122223333:user/alice"
	set, err := acct.PolicySet(alice)
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(alice, set, nil, DiffOptions{Catalog: []string{"s3:CreateBucket", "iam:ChangePassword"}})
	got := map[string]bool{}
	for _, g := range d.GrantedUnused {
		got[g.Action] = g.Conditional
	}
	if c, ok := got["s3:CreateBucket"]; !ok || !c {
		t.Errorf("s3:CreateBucket must be granted under conditions (MFA): %v", got)
	}
	if c, ok := got["iam:ChangePassword"]; !ok || c {
		t.Errorf("iam:ChangePassword is exempt from the MFA deny: granted outright: %v", got)
	}
}
