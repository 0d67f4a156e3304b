package policy

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func loadAccount(t testing.TB) *Account {
	t.Helper()
	f, err := os.Open("testdata/authorization-details.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := ParseAuthorizationDetails(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func labels(ps []*Policy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Label())
	}
	return out
}

func TestParseAuthorizationDetails(t *testing.T) {
	a := loadAccount(t)
	if a.ID != acct || len(a.Users) != 3 || len(a.Groups) != 2 || len(a.Roles) != 4 || len(a.Policies) != 6 || len(a.Unresolved) != 0 {
		t.Fatalf("account %s: %d users, %d groups, %d roles, %d policies, unresolved %v", a.ID, len(a.Users), len(a.Groups), len(a.Roles), len(a.Policies), a.Unresolved)
	}
	deploy := a.Policy("arn:aws:iam::111122223333:policy/DeployPolicy")
	if deploy == nil || deploy.DefaultVersion != "v2" || len(deploy.Versions) != 2 || deploy.Document != deploy.Versions["v2"] || deploy.AWSManaged() {
		t.Fatalf("DeployPolicy: %+v", deploy)
	}
	if got := deploy.Versions["v1"].Statements[0].Actions; got[0] != "*" {
		t.Errorf("DeployPolicy v1 actions %v", got)
	}
	if !a.Policy("arn:aws:iam::aws:policy/ReadOnlyAccess").AWSManaged() {
		t.Error("ReadOnlyAccess not AWS managed")
	}
	r := a.Role("arn:aws:sts::111122223333:assumed-role/lambda-orders-processor/orders-fn")
	if r == nil || r.Path != "/service-role/" || r.Trust == nil || r.Trust.Statements[0].Principal.Service[0] != "lambda.amazonaws.com" {
		t.Fatalf("role by session ARN: %+v", r)
	}
	if app := a.Role("app-server"); len(app.InstanceProfiles) != 1 || app.Tags["app"] != "shop" {
		t.Errorf("app-server: %+v", app)
	}

	s, err := a.PolicySet("arn:aws:iam::111122223333:user/engineering/bob")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(labels(s.Identity), ","); got != "self-service-keys,ReadOnlyAccess,DeveloperAccess" {
		t.Errorf("bob's identity policies: %s", got)
	}
	if s.Boundary == nil || s.Boundary.Name != "DeveloperBoundary" {
		t.Errorf("bob's boundary: %v", s.Boundary)
	}
	if s.Identity[0].Source != "inline policy of arn:aws:iam::111122223333:user/engineering/bob" {
		t.Errorf("inline source %q", s.Identity[0].Source)
	}
	s, err = a.PolicySet("arn:aws:sts::111122223333:assumed-role/github-deploy/gha-run-42")
	if err != nil || strings.Join(labels(s.Identity), ",") != "DeployPolicy" || s.Boundary.Name != "DeveloperBoundary" {
		t.Fatalf("github-deploy session: %v %v", labels(s.Identity), err)
	}
	for _, bad := range []string{"arn:aws:iam::111122223333:user/nobody", "arn:aws:iam::111122223333:group/admins", "alice"} {
		if _, err := a.PolicySet(bad); err == nil {
			t.Errorf("PolicySet(%s): no error", bad)
		}
	}
}

// TestAccountEvaluate decides requests of the fixture's principals the way
// `trailsentry policy explain` will.
func TestAccountEvaluate(t *testing.T) {
	a := loadAccount(t)
	bobARN := "arn:aws:iam::111122223333:user/engineering/bob"
	bobCtx := Context{"aws:username": {"bob"}}
	gh := "arn:aws:sts::111122223333:assumed-role/github-deploy/gha-run-42"
	for _, tc := range []struct {
		principal, action, resource string
		ctx                         Context
		want                        Decision
		reason                      string
	}{
		{bobARN, "lambda:CreateFunction", "arn:aws:lambda:eu-west-1:111122223333:function:orders", bobCtx, Allowed, `"DeveloperAccess"`},
		{bobARN, "iam:CreateUser", "arn:aws:iam::111122223333:user/eve", bobCtx, ImplicitDeny, "no identity-based policy"},
		{bobARN, "cloudtrail:StopLogging", "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main", bobCtx, ExplicitDeny, `"NoTrailTampering"`},
		{bobARN, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/bob", bobCtx, Allowed, `"self-service-keys"`},
		{bobARN, "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/alice", bobCtx, ImplicitDeny, "no identity-based policy"},
		{bobARN, "iam:GetRole", "arn:aws:iam::111122223333:role/app-server", bobCtx, ImplicitDeny, "permissions boundary"},
		{"arn:aws:iam::111122223333:user/alice", "ec2:RunInstances", "*", Context{"aws:MultiFactorAuthPresent": {"true"}}, Allowed, `"AdministratorAccess"`},
		{"arn:aws:iam::111122223333:user/alice", "ec2:RunInstances", "*", Context{}, ExplicitDeny, `"DenyWithoutMFA"`},
		{gh, "iam:PassRole", "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole", Context{"aws:PrincipalArn": {"arn:aws:iam::111122223333:role/github-deploy"}}, ImplicitDeny, "permissions boundary"},
		{gh, "iam:PassRole", "arn:aws:iam::111122223333:role/service-role/lambda-orders-processor", nil, Allowed, `"DeployPolicy"`},
	} {
		s, err := a.PolicySet(tc.principal)
		if err != nil {
			t.Fatal(err)
		}
		r := Evaluate(Request{Principal: tc.principal, Action: tc.action, Resource: tc.resource, Context: tc.ctx}, s)
		if r.Decision != tc.want || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("%s %s %s: %s", tc.principal, tc.action, tc.resource, r.Explain())
		}
	}
}

// TestAuthorizationDetailsDecodedForm: the AWS CLI prints the documents
// decoded, as JSON objects; both forms give the same account.
func TestAuthorizationDetailsDecodedForm(t *testing.T) {
	raw, err := os.ReadFile("testdata/authorization-details.json")
	if err != nil {
		t.Fatal(err)
	}
	decoded := decodeDocuments(t, raw)
	b, err := ParseAuthorizationDetails(strings.NewReader(decoded))
	if err != nil {
		t.Fatal(err)
	}
	a := loadAccount(t)
	for _, u := range a.Users {
		sa, _ := a.PolicySet(u.ARN)
		sb, _ := b.PolicySet(u.ARN)
		if len(sa.Identity) != len(sb.Identity) || len(sa.Identity[0].Statements) != len(sb.Identity[0].Statements) {
			t.Errorf("%s: sets differ", u.Name)
		}
	}
	if !slices.EqualFunc(a.Analyze(), b.Analyze(), func(x, y Risk) bool { return x.String() == y.String() }) {
		t.Error("analyses differ between the encoded and decoded forms")
	}
}
