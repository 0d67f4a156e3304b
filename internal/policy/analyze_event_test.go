package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

const adminSession = `{"type":"AssumedRole","principalId":"AROAXU5EXAMPLEADMIN01:mallory","arn":"arn:aws:sts::111122223333:assumed-role/Admin/mallory","accountId":"111122223333","accessKeyId":"ASIAXU5EXAMPLE583FC6","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAXU5EXAMPLEADMIN01","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},"attributes":{"creationDate":"2026-11-20T09:58:12Z","mfaAuthenticated":"true"}}}`

// iamCall is an IAM call as CloudTrail records it.
func iamCall(t testing.TB, name string, params any, extra string) *event.Event {
	t.Helper()
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"eventVersion":"1.09","userIdentity":` + adminSession + `,"eventTime":"2026-11-20T10:02:47Z","eventSource":"iam.amazonaws.com","eventName":"` + name +
		`","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.45","userAgent":"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0","requestParameters":` + string(p) + `,` + extra +
		`"responseElements":null,"requestID":"5263e72e-ecf3-4180-9d48-b574e3819535","eventID":"b4872a5f-07e8-4ce4-b246-87221107801e","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"iam.amazonaws.com"}}`
	ev, err := event.NewDecoder(strings.NewReader(rec)).Next()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestAnalyzeEvent(t *testing.T) {
	doc := func(stmts string) string { return `{"Version":"2012-10-17","Statement":[` + stmts + `]}` }
	cases := []struct {
		name    string
		event   string
		params  map[string]any
		want    []string // categories
		checkID string
	}{
		{"inline iam:* on a user", "PutUserPolicy",
			map[string]any{"userName": "svc", "policyName": "ops", "policyDocument": doc(`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`)},
			[]string{"privilege-escalation", "credentials-exposure"}, "iam-create-policy-version"},
		{"new default version: PassRole + RunInstances", "CreatePolicyVersion",
			map[string]any{"policyArn": "arn:aws:iam::111122223333:policy/dev", "setAsDefault": true,
				"policyDocument": doc(`{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}`)},
			[]string{"privilege-escalation"}, "passrole-ec2-run-instances"},
		{"a new managed policy with Action *", "CreatePolicy",
			map[string]any{"policyName": "ops", "policyDocument": doc(`{"Effect":"Allow","Action":"*","Resource":"*"}`)},
			[]string{"full-admin"}, "full-admin"},
		{"an inline role policy, URL-encoded", "PutRolePolicy",
			map[string]any{"roleName": "r", "policyName": "p", "policyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22iam%3AAttachRolePolicy%22%2C%22Resource%22%3A%22*%22%7D%5D%7D"},
			[]string{"privilege-escalation"}, "iam-attach-role-policy"},
		{"a scoped S3 policy", "PutRolePolicy",
			map[string]any{"roleName": "orders-export", "policyName": "exports", "policyDocument": doc(`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::orders-exports/*"}`)},
			nil, ""},
		{"a deny-all quarantine policy", "PutUserPolicy",
			map[string]any{"userName": "ci", "policyName": "quarantine", "policyDocument": doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`)},
			nil, ""},
		{"PassRole limited to Lambda roles, no compute", "PutGroupPolicy",
			map[string]any{"groupName": "devs", "policyName": "pass", "policyDocument": doc(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/service-role/lambda-*"}`)},
			nil, ""},
		{"AdministratorAccess attached", "AttachUserPolicy",
			map[string]any{"userName": "svc", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
			[]string{"full-admin"}, "attach-aws-managed-policy"},
		{"IAMFullAccess attached to a role", "AttachRolePolicy",
			map[string]any{"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"},
			[]string{"privilege-escalation"}, "attach-aws-managed-policy"},
		{"PowerUserAccess under a path attached to a group", "AttachGroupPolicy",
			map[string]any{"groupName": "g", "policyArn": "arn:aws:iam::aws:policy/job-function/PowerUserAccess"},
			[]string{"privilege-escalation"}, "attach-aws-managed-policy"},
		{"ReadOnlyAccess attached", "AttachGroupPolicy",
			map[string]any{"groupName": "auditors", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
			nil, ""},
		{"a customer policy named AdministratorAccess is not AWS's", "AttachUserPolicy",
			map[string]any{"userName": "svc", "policyArn": "arn:aws:iam::111122223333:policy/AdministratorAccess"},
			nil, ""},
		{"a document that does not parse", "PutUserPolicy",
			map[string]any{"userName": "svc", "policyName": "bad", "policyDocument": `{"Statement":[{"Effect":"allow"}]}`},
			nil, ""},
		{"a detach is no grant", "DetachUserPolicy",
			map[string]any{"userName": "svc", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
			nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := AnalyzeEvent(iamCall(t, c.event, c.params, ""))
			got := RiskCategories(rs)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("categories %v lack %s", got, w)
				}
			}
			if c.want == nil && len(rs) > 0 {
				t.Errorf("harmless, yet %v", rs)
			}
			if c.checkID != "" && !slices.ContainsFunc(rs, func(r Risk) bool { return r.Check == c.checkID }) {
				t.Errorf("no %s among %v", c.checkID, rs)
			}
			reasons := RiskReasons(rs)
			if len(reasons) != len(rs) {
				t.Fatalf("reasons: %v", reasons)
			}
			for i, r := range rs {
				if !strings.HasPrefix(reasons[i], r.Check+": ") || r.Reason == "" {
					t.Errorf("reason %q", reasons[i])
				}
			}
		})
	}
}

func TestFactsOf(t *testing.T) {
	ev := iamCall(t, "ListUsers", nil, `"vpcEndpointId":"vpce-0a1b2c3d",`)
	ctx := FactsOf(ev).Context()
	for k, want := range map[string]string{
		"aws:PrincipalArn":           "arn:aws:iam::111122223333:role/Admin",
		"aws:PrincipalType":          "AssumedRole",
		"aws:PrincipalAccount":       "111122223333",
		"aws:SourceIp":               "203.0.113.45",
		"aws:RequestedRegion":        "us-east-1",
		"aws:MultiFactorAuthPresent": "true",
		"aws:MultiFactorAuthAge":     "275",
		"aws:SecureTransport":        "true",
		"aws:SourceVpce":             "vpce-0a1b2c3d",
		"aws:CurrentTime":            "2026-11-20T10:02:47Z",
	} {
		if v, _ := ctx.Lookup(k); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %v, want %s", k, v, want)
		}
	}
	if _, ok := ctx.Lookup("aws:username"); ok {
		t.Error("aws:username is for IAM users only")
	}
	if g := Grantee(ev); g != "arn:aws:iam::111122223333:role/Admin" {
		t.Errorf("grantee %s", g)
	}
}

func TestCheckRefusal(t *testing.T) {
	acct := loadAccount(t)
	bob := "arn:aws:iam::111122223333:user/engineering/bob"
	set, err := acct.PolicySet(bob)
	if err != nil {
		t.Fatal(err)
	}
	ctx := Facts{PrincipalARN: bob, PrincipalType: "IAMUser", Account: "111122223333", UserName: "bob"}.Context()
	eval := func(action, resource string) Result {
		return Evaluate(Request{Principal: bob, Action: action, Resource: resource, Context: ctx}, set)
	}
	cases := []struct {
		name    string
		r       Result
		refusal *Refusal
		agrees  bool
	}{
		{"boundary denies StopLogging explicitly, as CloudTrail says", eval("cloudtrail:StopLogging", "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org"),
			&Refusal{Kind: "boundary", Explicit: true}, true},
		{"CloudTrail blames an SCP the set lacks", eval("cloudtrail:StopLogging", "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org"),
			&Refusal{Kind: "scp", Explicit: true}, false},
		{"no boundary allows iam:ListUsers (ReadOnlyAccess does)", eval("iam:ListUsers", "*"),
			&Refusal{Kind: "boundary"}, true},
		{"CloudTrail says identity, the evaluator says boundary", eval("iam:ListUsers", "*"),
			&Refusal{Kind: "identity-policy"}, false},
		{"no identity-based policy allows iam:CreateUser", eval("iam:CreateUser", "arn:aws:iam::111122223333:user/x"),
			&Refusal{Kind: "identity-policy"}, true},
		{"refused, but the set allows it", eval("lambda:ListFunctions", "*"),
			&Refusal{Kind: "identity-policy"}, false},
		{"refused without a reason, the set denies too", eval("iam:CreateUser", "arn:aws:iam::111122223333:user/x"),
			&Refusal{Kind: "unknown"}, true},
		{"succeeded and allowed", eval("lambda:ListFunctions", "*"), nil, true},
		{"succeeded, yet the set denies", eval("iam:CreateUser", "arn:aws:iam::111122223333:user/x"), nil, false},
	}
	for _, c := range cases {
		a := CheckRefusal(c.r, c.refusal)
		if a.Agrees != c.agrees || a.Note == "" {
			t.Errorf("%s: %+v (decision %s: %s)", c.name, a, c.r.Decision, c.r.Reason)
		}
	}
}

// FuzzAnalyzeEvent: no record, however malformed its policy, panics the
// detector's policy analysis.
func FuzzAnalyzeEvent(f *testing.F) {
	f.Add("PutUserPolicy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`)
	f.Add("CreatePolicyVersion", `%7B%22Statement%22%3A%5B%5D%7D`)
	f.Add("AttachRolePolicy", `arn:aws:iam::aws:policy/AdministratorAccess`)
	f.Add("AttachRolePolicy", `arn:aws`)
	f.Fuzz(func(t *testing.T, name, value string) {
		params := map[string]any{"policyDocument": value, "policyArn": value}
		p, _ := json.Marshal(params)
		rec := `{"eventVersion":"1.09","eventTime":"2026-11-20T10:02:47Z","eventSource":"iam.amazonaws.com","eventName":` + string(mustJSON(name)) +
			`,"eventID":"x","requestParameters":` + string(p) + `}`
		ev, err := event.NewDecoder(strings.NewReader(rec)).Next()
		if err != nil {
			return
		}
		for _, r := range AnalyzeEvent(ev) {
			if r.Check == "" || r.Category == "" || r.Reason == "" {
				t.Fatalf("incomplete risk %+v", r)
			}
		}
	})
}

func mustJSON(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
