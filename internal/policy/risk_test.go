package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func riskIDs(rs []Risk) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Check)
	}
	return out
}

func findRisk(rs []Risk, id string) (Risk, bool) {
	for _, r := range rs {
		if r.Check == id {
			return r, true
		}
	}
	return Risk{}, false
}

func quoteAll(actions []string) string {
	q := make([]string, len(actions))
	for i, a := range actions {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestEscalationPaths: every check of the table fires on a policy allowing its
// actions, and is removed by a Deny of one of them and by a NotAction that
// leaves one out.
func TestEscalationPaths(t *testing.T) {
	for _, c := range Checks() {
		if c.Category == FullAdmin {
			continue
		}
		t.Run(c.ID, func(t *testing.T) {
			allow := `{"Sid":"Grant","Effect":"Allow","Action":` + quoteAll(c.Actions) + `,"Resource":"*"}`
			pos := must("grant", `{"Version":"2012-10-17","Statement":[`+allow+`]}`)
			r, ok := findRisk(AnalyzeDocument(pos), c.ID)
			if !ok {
				t.Fatalf("not found in %v", riskIDs(AnalyzeDocument(pos)))
			}
			if r.Severity != c.Severity || r.Category != c.Category || r.Conditional || r.Policies[0] != "grant" || !slices.Equal(r.Actions, c.Actions) {
				t.Errorf("risk %+v", r)
			}
			last := c.Actions[len(c.Actions)-1]
			deny := must("with-deny", `{"Version":"2012-10-17","Statement":[`+allow+`,{"Effect":"Deny","Action":"`+last+`","Resource":"*"}]}`)
			if _, ok := findRisk(AnalyzeDocument(deny), c.ID); ok {
				t.Errorf("found despite a Deny of %s", last)
			}
			// NotAction listing the last action: everything else is allowed.
			notAction := must("not-action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"`+last+`","Resource":"*"}}`)
			if _, ok := findRisk(AnalyzeDocument(notAction), c.ID); ok {
				t.Errorf("found though NotAction leaves out %s", last)
			}
			// A boundary that does not allow the last action removes it too.
			bnd := must("boundary", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"`+last+`","Resource":"*"}}`)
			if _, ok := findRisk(AnalyzeSet(alice, Set{Identity: []*Policy{pos}, Boundary: bnd}), c.ID); ok {
				t.Errorf("found though the boundary leaves out %s", last)
			}
		})
	}
}

func TestAnalyzeDocument(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string // checks that must be found
		not       []string // checks that must not
	}{
		{"Action * on * is full admin and nothing else",
			allowStmt("*", "*"), []string{"full-admin"}, []string{"iam-put-user-policy", "s3-read-all-objects"}},
		{"iam:* gives every IAM path but is not full admin",
			allowStmt("iam:*", "*"), []string{"iam-create-policy-version", "iam-attach-role-policy", "iam-create-access-key", "iam-add-user-to-group"}, []string{"full-admin", "passrole-ec2-run-instances", "sts-assume-any-role"}},
		{"PowerUserAccess: NotAction iam/organizations/account is not full admin and cannot pass roles",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions"],"Resource":"*"}]}`,
			[]string{"lambda-update-function-code", "ssm-send-command", "ec2-instance-connect", "secretsmanager-read-all-secrets", "cloudtrail-stop-logging"},
			[]string{"full-admin", "passrole-ec2-run-instances", "iam-put-role-policy"}},
		{"own access keys only: no escalation through other users' keys",
			allowStmt("iam:CreateAccessKey", "arn:aws:iam::111122223333:user/${aws:username}"), []string{"iam-create-own-access-key"}, []string{"iam-create-access-key"}},
		{"PassRole on one named role does not count as passing any role",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/web-server"}]}`,
			nil, []string{"passrole-ec2-run-instances"}},
		{"PassRole on every role of the account counts",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/*"}]}`,
			[]string{"passrole-ec2-run-instances"}, nil},
		{"lambda create and invoke with PassRole, no event source",
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}}`,
			[]string{"passrole-lambda-create-invoke"}, []string{"passrole-lambda-event-source"}},
		{"a read-only S3 policy on one bucket is harmless",
			allowStmt("s3:GetObject", "arn:aws:s3:::reports/*"), nil, []string{"s3-read-all-objects"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := riskIDs(AnalyzeDocument(must("doc", tc.doc)))
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s in %v", w, got)
				}
			}
			for _, n := range tc.not {
				if slices.Contains(got, n) {
					t.Errorf("unexpected %s in %v", n, got)
				}
			}
		})
	}
}

func TestConditionalRisk(t *testing.T) {
	mfa := must("mfa-iam", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`)
	r, ok := findRisk(AnalyzeDocument(mfa), "iam-attach-user-policy")
	if !ok || !r.Conditional || r.Severity != High || !strings.Contains(r.String(), "when its conditions hold") {
		t.Fatalf("%+v", r)
	}
	// A Deny that holds unless MFA is used makes admin conditional, not absent.
	guarded := []*Policy{fullAccess, must("require-mfa", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:ChangePassword","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}`)}
	rs := AnalyzeSet(alice, Set{Identity: guarded})
	if len(rs) != 1 || rs[0].Check != "full-admin" || !rs[0].Conditional || rs[0].Severity != High {
		t.Fatalf("%v", rs)
	}
}

func TestResourceExposure(t *testing.T) {
	for _, tc := range []struct {
		name, doc, account string
		want               string
		sev                Severity
	}{
		{"public bucket read", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}`, "", "public-resource-policy", High},
		{"public bucket write is critical", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::site/*"}}`, "", "public-resource-policy", Critical},
		{"role trusting everyone", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}`, acct, "public-resource-policy", Critical},
		{"Principal * limited to the organization is fine", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}}`, "", "", ""},
		{"Principal * with only a TLS condition is still public", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`, "", "public-resource-policy", High},
		{"Principal * with a SourceIp of the whole internet is still public", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}}`, "", "public-resource-policy", High},
		{"a foreign account", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject","Resource":"*"}}`, acct, "cross-account-resource-policy", Medium},
		{"the own account is no exposure", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}}`, acct, "", ""},
		{"a Deny with Principal * exposes nothing", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`, "", "", ""},
		{"GitHub OIDC trust without sub", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}}`, acct, "oidc-trust-without-subject", Critical},
		{"GitHub OIDC trust with sub", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:example/app:ref:refs/heads/main"}}}}`, acct, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := must("resource-policy", tc.doc)
			p.Account = tc.account
			rs := AnalyzeDocument(p)
			if tc.want == "" {
				if len(rs) != 0 {
					t.Fatalf("unexpected %v", rs)
				}
				return
			}
			if len(rs) != 1 || rs[0].Check != tc.want || rs[0].Severity != tc.sev || rs[0].Category != ResourceExposure {
				t.Fatalf("got %v, want %s %s", rs, tc.want, tc.sev)
			}
		})
	}
}

func TestAccountAnalyze(t *testing.T) {
	rs := loadAccount(t).Analyze()
	want := []string{
		"full-admin arn:aws:iam::111122223333:role/OrganizationAccountAccessRole Critical AdministratorAccess",
		"oidc-trust-without-subject arn:aws:iam::111122223333:role/github-deploy Critical trust policy statement #0",
		"full-admin arn:aws:iam::111122223333:user/alice High AdministratorAccess",
		"passrole-cloudformation-create-stack arn:aws:iam::111122223333:user/ci-deployer High DeployPolicy",
		"lambda-update-function-code arn:aws:iam::111122223333:user/engineering/bob High DeveloperAccess",
		"cross-account-resource-policy arn:aws:iam::111122223333:role/OrganizationAccountAccessRole Medium trust policy statement #0",
		"ssm-read-all-parameters arn:aws:iam::111122223333:role/app-server Medium AmazonSSMManagedInstanceCore",
		"s3-read-all-objects arn:aws:iam::111122223333:role/github-deploy Medium DeployPolicy",
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s %s %s %s", r.Check, r.Principal, r.Severity, strings.Join(r.Policies, ",")))
	}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("got\n%s\nwant first\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// github-deploy's policy passes any role, but its boundary allows passing
	// only lambda-* roles: no PassRole path for it.
	for _, r := range rs {
		if r.Principal == "arn:aws:iam::111122223333:role/github-deploy" && strings.HasPrefix(r.Check, "passrole-") {
			t.Errorf("boundary ignored: %s", r)
		}
	}
}

// TestAnalyzeDocumentAllocations keeps the detector's path light: a harmless
// document costs a handful of allocations, whatever the table's size.
func TestAnalyzeDocumentAllocations(t *testing.T) {
	p := must("harmless", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}`)
	n := testing.AllocsPerRun(100, func() { AnalyzeDocument(p) })
	if n > 12 {
		t.Errorf("%.0f allocations per AnalyzeDocument", n)
	}
}
