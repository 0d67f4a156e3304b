package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/policy"
)

// The account of internal/policy/testdata/authorization-details.json:
// app-server (S3 on example-app-assets, one secret), the Lambda role of the
// orders table, bob (developers, DeveloperBoundary), alice (admins, MFA).
const authDetails = "../policy/testdata/authorization-details.json"

const (
	appServer = `{"type":"AssumedRole","principalId":"AROAXU5EXAMPLEAPPSV1:i-0a1b2c3d4e5f67890","arn":"arn:aws:sts::111122223333:assumed-role/app-server/i-0a1b2c3d4e5f67890","accountId":"111122223333","accessKeyId":"ASIAXU5EXAMPLEAPPSV1","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAXU5EXAMPLEAPPSV1","arn":"arn:aws:iam::111122223333:role/app-server","accountId":"111122223333","userName":"app-server"},"attributes":{"creationDate":"2025-02-11T15:58:40Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}}`
	ordersFn  = `{"type":"AssumedRole","principalId":"AROAXU5EXAMPLEORDER1:lambda-orders-processor","arn":"arn:aws:sts::111122223333:assumed-role/lambda-orders-processor/lambda-orders-processor","accountId":"111122223333","accessKeyId":"ASIAXU5EXAMPLEORDER1","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAXU5EXAMPLEORDER1","arn":"arn:aws:iam::111122223333:role/service-role/lambda-orders-processor","accountId":"111122223333","userName":"lambda-orders-processor"},"attributes":{"creationDate":"2025-02-11T15:00:00Z","mfaAuthenticated":"false"}},"invokedBy":"lambda.amazonaws.com"}`
	bobUser   = `{"type":"IAMUser","principalId":"AIDAQEXAMPLEBOB00002","arn":"arn:aws:iam::111122223333:user/engineering/bob","accountId":"111122223333","accessKeyId":"AKIAQEXAMPLEBOBKEY01","userName":"bob"}`
)

// ctRecord is a CloudTrail record; errorCode and errorMessage are left out
// when code is "".
func ctRecord(id, at, identity, source, name, params, code, message string) string {
	errPart := ""
	if code != "" {
		m, _ := json.Marshal(message)
		errPart = `"errorCode":"` + code + `","errorMessage":` + string(m) + `,`
	}
	return `{"eventVersion":"1.10","userIdentity":` + identity + `,"eventTime":"` + at + `","eventSource":"` + source + `","eventName":"` + name +
		`","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.40","userAgent":"Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.210 lang/python#3.12.2 Botocore/1.34.51",` + errPart +
		`"requestParameters":` + params + `,"responseElements":null,"requestID":"req-` + id + `","eventID":"` + id + `","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"` + strings.TrimSuffix(source, ".amazonaws.com") + `.eu-west-1.amazonaws.com"}}`
}

var policyEvents = []string{
	// app-server: an S3 object of another bucket, refused for a missing permission.
	ctRecord("d-s3", "2025-02-11T16:00:00Z", appServer, "s3.amazonaws.com", "GetObject", `{"bucketName":"finance-reports","key":"2024/q4 summary.csv","Host":"finance-reports.s3.eu-west-1.amazonaws.com"}`,
		"AccessDenied", `User: arn:aws:sts::111122223333:assumed-role/app-server/i-0a1b2c3d4e5f67890 is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::finance-reports/2024/q4 summary.csv" because no identity-based policy allows the s3:GetObject action`),
	// the same object again, and a second one: one statement, two resources.
	ctRecord("d-s3b", "2025-02-11T16:01:00Z", appServer, "s3.amazonaws.com", "GetObject", `{"bucketName":"finance-reports","key":"2024/q3 summary.csv"}`,
		"AccessDenied", `User: arn:aws:sts::111122223333:assumed-role/app-server/i-0a1b2c3d4e5f67890 is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::finance-reports/2024/q3 summary.csv" because no identity-based policy allows the s3:GetObject action`),
	// app-server: a GPU instance refused by an SCP: a guardrail.
	ctRecord("d-scp", "2025-02-11T16:02:00Z", appServer, "ec2.amazonaws.com", "RunInstances", `{"instancesSet":{"items":[{"imageId":"ami-0abcdef1234567890","minCount":1,"maxCount":1}]},"instanceType":"p4d.24xlarge"}`,
		"Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/app-server/i-0a1b2c3d4e5f67890 is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:eu-west-1:111122223333:instance/* with an explicit deny in a service control policy. Encoded authorization failure message: 4pd2QrFdTK2hF-gAExPO9mPkeXqxbYgyL4A2m"),
	// app-server: a secret it may not read, the message names the action only.
	ctRecord("d-secret", "2025-02-11T16:03:00Z", appServer, "secretsmanager.amazonaws.com", "GetSecretValue", `{"secretId":"arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/payments-Ab12Cd"}`,
		"AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/app-server/i-0a1b2c3d4e5f67890 is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/payments-Ab12Cd because no identity-based policy allows the secretsmanager:GetSecretValue action"),
	// app-server: S3 says only "Access Denied" on its own bucket: its policies allow it.
	ctRecord("d-unknown", "2025-02-11T16:04:00Z", appServer, "s3.amazonaws.com", "GetObject", `{"bucketName":"example-app-assets","key":"logo.png"}`,
		"AccessDenied", "Access Denied"),
	// the Lambda role's successful calls, and one it has no policy for.
	ctRecord("ok-get", "2025-02-11T16:05:00Z", ordersFn, "dynamodb.amazonaws.com", "GetItem", `{"tableName":"orders","key":{"id":{"S":"o-1"}}}`, "", ""),
	ctRecord("ok-query", "2025-02-11T16:06:00Z", ordersFn, "dynamodb.amazonaws.com", "Query", `{"tableName":"orders","keyConditionExpression":"id = :id"}`, "", ""),
	ctRecord("ok-scan", "2025-02-11T16:07:00Z", ordersFn, "dynamodb.amazonaws.com", "Scan", `{"tableName":"orders"}`, "", ""),
	ctRecord("ok-late", "2025-02-12T09:00:00Z", ordersFn, "dynamodb.amazonaws.com", "PutItem", `{"tableName":"orders","item":{"id":{"S":"o-2"}}}`, "", ""),
	// bob: stopping a trail, refused by his boundary's Deny.
	ctRecord("d-bob", "2025-02-11T16:08:00Z", bobUser, "cloudtrail.amazonaws.com", "StopLogging", `{"name":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"}`,
		"AccessDenied", "User: arn:aws:iam::111122223333:user/engineering/bob is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail with an explicit deny in a permissions boundary"),
}

func policyTrail(t *testing.T) string {
	dir := t.TempDir()
	day := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "eu-west-1", "2025", "02", "11")
	writeFile(t, filepath.Join(day, "111122223333_CloudTrail_eu-west-1_20250211T1600Z_a.json.gz"),
		gzipBytes(t, `{"Records":[`+strings.Join(policyEvents, ",")+`]}`))
	return dir
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPolicySuggestCLI(t *testing.T) {
	dir := policyTrail(t)
	code, out, stderr := runCLI(t, "policy", "suggest", "--format", "json", "--authorization-details", authDetails, dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sugs []policy.Suggestion
	if err := json.Unmarshal([]byte(out), &sugs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byPrincipal := map[string]policy.Suggestion{}
	for _, s := range sugs {
		byPrincipal[s.Principal] = s
	}
	app, ok := byPrincipal["arn:aws:iam::111122223333:role/app-server"]
	if !ok {
		t.Fatalf("no suggestion for the app-server role: %s", out)
	}
	doc, _ := json.Marshal(app.Policy)
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"AllowS3GetObject","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::finance-reports/2024/q3 summary.csv","arn:aws:s3:::finance-reports/2024/q4 summary.csv"]},` +
		`{"Sid":"AllowSecretsmanagerGetSecretValue","Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":["arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/payments-Ab12Cd"]}]}`
	if string(doc) != want {
		t.Errorf("app-server policy\n got %s\nwant %s", doc, want)
	}
	if !slices.Equal(slices.Sorted(slices.Values(app.Grants[0].Evidence)), []string{"d-s3", "d-s3b"}) {
		t.Errorf("evidence: %v", app.Grants[0].Evidence)
	}
	classes := map[string]policy.Refused{}
	for _, d := range app.Denies {
		classes[d.EventID] = d
	}
	if d := classes["d-scp"]; d.Class != policy.Guardrail || d.Granted || d.DeniedBy != "scp" || !d.Explicit {
		t.Errorf("the SCP refusal: %+v", d)
	}
	if d := classes["d-unknown"]; d.Class != policy.Unclassified || d.Granted {
		t.Errorf("Access Denied on a bucket the role's policies allow is not granted: %+v", d)
	}
	bob := byPrincipal["arn:aws:iam::111122223333:user/engineering/bob"]
	if bob.Policy != nil || len(bob.Denies) != 1 || bob.Denies[0].Class != policy.Guardrail {
		t.Errorf("bob's boundary deny is a guardrail, nothing granted: %+v", bob)
	}
	// The policy is valid IAM JSON as printed.
	p, err := app.Policy.Parse()
	if err != nil {
		t.Fatal(err)
	}
	set := policy.Set{Identity: []*policy.Policy{p}}
	allowed := policy.Evaluate(policy.Request{Principal: "arn:aws:sts::111122223333:assumed-role/app-server/x", Action: "s3:GetObject", Resource: "arn:aws:s3:::finance-reports/2024/q4 summary.csv"}, set)
	other := policy.Evaluate(policy.Request{Principal: "arn:aws:sts::111122223333:assumed-role/app-server/x", Action: "s3:GetObject", Resource: "arn:aws:s3:::finance-reports/2024/q1 summary.csv"}, set)
	if allowed.Decision != policy.Allowed || other.Decision == policy.Allowed {
		t.Errorf("the suggestion allows the refused object (%s) and not its neighbour (%s)", allowed.Decision, other.Decision)
	}

	// The table names the principal, the policy, and what was not granted.
	code, out, _ = runCLI(t, "policy", "suggest", "--format", "table", "--principal", "arn:aws:iam::111122223333:role/app-server", dir)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"Principal arn:aws:iam::111122223333:role/app-server", `"s3:GetObject"`, "Not granted:", "d-scp", "[guardrail]", "explicit deny in a service control policy"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "engineering/bob") {
		t.Error("--principal keeps only that principal")
	}
}

func TestPolicyGenerateAndDiffCLI(t *testing.T) {
	dir := policyTrail(t)
	role := "arn:aws:iam::111122223333:role/service-role/lambda-orders-processor"
	code, out, stderr := runCLI(t, "policy", "generate", "--principal", role, "--until", "2025-02-12", "--format", "json", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var g policy.Generated
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(g.Policy)
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"AllowDynamodbGetItemAnd2More","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:Scan"],"Resource":["arn:aws:dynamodb:eu-west-1:111122223333:table/orders"]}]}`
	if string(doc) != want || g.Calls != 3 {
		t.Errorf("generated (%d calls)\n got %s\nwant %s", g.Calls, doc, want)
	}

	code, out, stderr = runCLI(t, "policy", "diff", "--principal", role, "--authorization-details", authDetails, "--format", "json", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var d policy.DiffResult
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	names := func(l []policy.GrantedAction) []string {
		var out []string
		for _, g := range l {
			out = append(out, g.Action)
		}
		return out
	}
	if len(d.UsedNotGranted) != 1 || d.UsedNotGranted[0].Action != "dynamodb:Scan" || d.UsedNotGranted[0].Evidence[0] != "ok-scan" {
		t.Errorf("used but not granted: %+v", d.UsedNotGranted)
	}
	// DynamoDB item calls are data events: granted and unseen is "unknown",
	// not "unused"; what was used (PutItem, the next day) is neither.
	if got := names(d.Unknown); !slices.Contains(got, "dynamodb:UpdateItem") || slices.Contains(got, "dynamodb:PutItem") || slices.Contains(got, "dynamodb:GetItem") {
		t.Errorf("unknown: %v", got)
	}
	if got := names(d.GrantedUnused); !slices.Contains(got, "logs:CreateLogStream") || slices.Contains(got, "dynamodb:UpdateItem") {
		t.Errorf("granted but unused: %v", got)
	}

	code, out, _ = runCLI(t, "policy", "diff", "--principal", role, "--authorization-details", authDetails, "--format", "table", dir)
	if code != ExitOK || !strings.Contains(out, "Used but not granted (1):") || !strings.Contains(out, "dynamodb:Scan") {
		t.Errorf("diff table (exit %d):\n%s", code, out)
	}
}

func TestPolicyExplainCLI(t *testing.T) {
	dir := policyTrail(t)
	code, out, stderr := runCLI(t, "policy", "explain", "--authorization-details", authDetails, "--event-id", "d-bob", "--format", "json", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ex []explained
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex) != 1 || ex[0].Decision != "ExplicitDeny" || ex[0].Agrees == nil || !*ex[0].Agrees {
		t.Fatalf("bob's StopLogging: %s", out)
	}
	if s := ex[0].Statements; len(s) == 0 || s[0].Kind != "permissions boundary" || s[0].Statement != `"NoTrailTampering"` {
		t.Errorf("statements: %+v", s)
	}

	// An SCP refusal the export cannot explain: the evaluator disagrees,
	// until the SCP is given.
	code, out, _ = runCLI(t, "policy", "explain", "--authorization-details", authDetails, "--event-id", "d-scp", "--format", "table", dir)
	if code != ExitOK || !strings.Contains(out, "DISAGREES") {
		t.Errorf("without the SCP (exit %d):\n%s", code, out)
	}
	scp := filepath.Join(t.TempDir(), "scp.json")
	os.WriteFile(scp, []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoGPUs","Effect":"Deny","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringLike":{"ec2:InstanceType":"p*"}}}]}`), 0o644)
	code, out, _ = runCLI(t, "policy", "explain", "--authorization-details", authDetails, "--scp", scp, "--event-id", "d-scp", "--format", "table", dir)
	// ec2:InstanceType is not in the record's context: the Deny's condition
	// does not hold, so the evaluator still disagrees, and says so.
	if code != ExitOK || !strings.Contains(out, "ec2:RunInstances on arn:aws:ec2:eu-west-1:111122223333:instance/*") {
		t.Errorf("with the SCP (exit %d):\n%s", code, out)
	}

	// A request by hand.
	code, out, stderr = runCLI(t, "policy", "explain", "--authorization-details", authDetails, "--principal", "arn:aws:sts::111122223333:assumed-role/app-server/i-1",
		"--action", "secretsmanager:GetSecretValue", "--resource", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/db-x1Y2z3", "--format", "table")
	if code != ExitOK || !strings.Contains(out, `Allow: allowed by identity-based policy "app-data"`) || !strings.Contains(out, `"AppSecret"`) {
		t.Errorf("by hand (exit %d): %s %s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "policy", "explain", "--authorization-details", authDetails, "--principal", "arn:aws:iam::111122223333:user/alice",
		"--action", "s3:ListAllMyBuckets", "--context", "aws:MultiFactorAuthPresent=false", "--format", "table")
	if code != ExitOK || !strings.Contains(out, "ExplicitDeny") || !strings.Contains(out, `"DenyWithoutMFA"`) {
		t.Errorf("alice without MFA (exit %d): %s", code, out)
	}

	for _, bad := range [][]string{
		{"policy", "explain", dir},
		{"policy", "explain", "--authorization-details", authDetails, "--principal", "arn:aws:iam::111122223333:user/alice"},
		{"policy", "explain", "--authorization-details", authDetails, "--event-id", "nope", dir},
		{"policy", "explain", "--authorization-details", authDetails, "--principal", "arn:aws:iam::111122223333:user/alice", "--action", "s3:X", "--context", "novalue"},
		{"policy", "explain", "--authorization-details", "missing.json", dir},
	} {
		if code, _, stderr := runCLI(t, bad...); code != ExitUsage || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, stderr)
		}
	}
}

func TestPolicyAnalyzeCLI(t *testing.T) {
	code, out, stderr := runCLI(t, "policy", "analyze", "--format", "json", "--fail-on", "critical", authDetails)
	if code != ExitFindings {
		t.Fatalf("the export holds full admins: exit %d, %s", code, stderr)
	}
	var risks []analyzedRisk
	if err := json.Unmarshal([]byte(out), &risks); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range risks {
		found[r.Principal+" "+r.Check] = true
	}
	for _, want := range []string{
		"arn:aws:iam::111122223333:role/OrganizationAccountAccessRole full-admin",
		"arn:aws:iam::111122223333:user/ci-deployer passrole-cloudformation-create-stack",
	} {
		if !found[want] {
			t.Errorf("no %s among %v", want, found)
		}
	}

	dir := t.TempDir()
	harmless := filepath.Join(dir, "harmless.json")
	os.WriteFile(harmless, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}`), 0o644)
	escalating := filepath.Join(dir, "escalating.json")
	os.WriteFile(escalating, []byte(`"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"iam:PassRole\",\"ec2:RunInstances\"],\"Resource\":\"*\"}]}"`), 0o644)
	if code, out, _ := runCLI(t, "policy", "analyze", "--format", "table", harmless); code != ExitOK || !strings.Contains(out, "No risks found.") {
		t.Errorf("harmless: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "policy", "analyze", "--format", "table", "--fail-on", "high", harmless, escalating)
	if code != ExitFindings || !strings.Contains(out, "passrole-ec2-run-instances") || !strings.Contains(out, escalating) {
		t.Errorf("escalating: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "policy", "analyze", "--fail-on", "none", escalating); code != ExitOK {
		t.Errorf("--fail-on none: exit %d", code)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}]\n}"), 0o644)
	code, _, stderr = runCLI(t, "policy", "analyze", bad)
	if code != ExitUsage || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "Effect") {
		t.Errorf("a bad document: exit %d, %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "policy", "nosuch"); code != ExitUsage {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
