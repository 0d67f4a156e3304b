// Package deploy holds the CloudFormation templates that wire a CloudTrail
// bucket to trailsentry (deploy/cloudformation) and the tests that check
// them: the templates are decoded and checked as CloudFormation would
// (template_test.go), deployed on paper for example parameter values, and the
// IAM policies that come out are decided by trailsentry's own evaluator
// (internal/policy): the role is allowed what the tool needs and denied its
// neighbours, and the queues accept only the intended service.
package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trailsentry/trailsentry/internal/policy"
)

const (
	mainTemplate   = "cloudformation/trailsentry.yaml"
	lambdaTemplate = "cloudformation/trailsentry-lambda.yaml"
)

// The example deployment: an organization trail with a key prefix, SSE-KMS,
// two alert secrets and an SNS topic, in account 111122223333, eu-west-1 (the
// account and region deploy uses).
const (
	account    = "111122223333"
	region     = "eu-west-1"
	bucket     = "example-org-trail-111122223333"
	prefix     = "audit"
	orgID      = "o-a1b2c3d4e5"
	keyARN     = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	slackARN   = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailsentry/slack-AbCdEf"
	hecARN     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trailsentry/hec-GhIjKl"
	topicARN   = "arn:aws:sns:eu-west-1:111122223333:security-alerts"
	otherAcct  = "444455556666"
	logDay     = "2026/11/23"
	logName    = "111122223333_CloudTrail_eu-west-1_20261123T1005Z_kXbQ4mcTFaB2ZcmD.json.gz"
	digestName = "111122223333_CloudTrail-Digest_eu-west-1_trail_us-east-1_20261123T100000Z.json.gz"
)

// fullParams is the example deployment with every option set.
func fullParams() map[string]string {
	return map[string]string{
		"TrailBucketName": bucket, "TrailPrefix": prefix, "OrganizationId": orgID,
		"TrailKmsKeyArn": keyARN, "AlertSecretArns": slackARN + "," + hecARN, "AlertTopicArn": topicARN,
	}
}

// lambdaParams adds what the Lambda template needs.
func lambdaParams(p map[string]string) map[string]string {
	p["CodeS3Bucket"] = "example-artifacts"
	p["CodeS3Key"] = "trailsentry/bootstrap.zip"
	p["StateDsn"] = "postgres://trailsentry@db.internal:5432/trailsentry"
	return p
}

func loadTemplate(t testing.TB, path string) *template {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := newTemplate(filepath.Base(path), data)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func deployTemplate(t testing.TB, tm *template, params map[string]string) *stack {
	t.Helper()
	s, err := tm.deploy(params)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTemplatesCheck checks both templates as CloudFormation reads them.
func TestTemplatesCheck(t *testing.T) {
	for _, path := range []string{mainTemplate, lambdaTemplate} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tm := loadTemplate(t, path)
			for _, err := range tm.check() {
				t.Error(err)
			}
			for _, n := range sortedKeys(tm.resources) {
				if _, ok := resourceTypes[tm.resources[n]["Type"].(string)]; !ok {
					t.Errorf("%s: %v", n, tm.resources[n]["Type"])
				}
			}
		})
	}
}

// TestCheckFindsMistakes: each mistake in a small template is reported, by
// where it is.
func TestCheckFindsMistakes(t *testing.T) {
	const good = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name: {Type: String, Default: x}
Conditions:
  IsX: !Equals [!Ref Name, x]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Condition: IsX
    Properties:
      VisibilityTimeout: 30
  Policy:
    Type: AWS::SQS::QueuePolicy
    Condition: IsX
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: s3.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
            Condition: {ArnEquals: {"aws:SourceArn": !Sub "arn:${AWS::Partition}:s3:::${Name}"}}
Outputs:
  Url: {Value: !Ref Queue, Condition: IsX}
`
	tm, err := newTemplate("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if errs := tm.check(); len(errs) != 0 {
		t.Fatalf("the good template: %v", errs)
	}
	cases := []struct{ old, new, want string }{
		{"!Ref Queue]", "!Ref Queue2]", `Resources.Policy.Properties.Queues[0].Ref: Ref to "Queue2", which is no parameter or resource`},
		{"!GetAtt Queue.Arn", "!GetAtt Queue.Url", `Resources.Policy.Properties.PolicyDocument.Statement[0].Resource.Fn::GetAtt: Fn::GetAtt: AWS::SQS::Queue has no attribute "Url"`},
		{"${Name}", "${Nmae}", `Fn::Sub: Ref to "Nmae"`},
		{"Type: AWS::SQS::Queue", "Type: AWS::SQS::Queeu", `Resources.Queue: unknown resource type "AWS::SQS::Queeu"`},
		{"VisibilityTimeout: 30", "VisibiltyTimeout: 30", `Resources.Queue.Properties: AWS::SQS::Queue has no property "VisibiltyTimeout"`},
		{"      Queues: [!Ref Queue]\n", "", "Resources.Policy: AWS::SQS::QueuePolicy needs the property Queues"},
		{"Condition: IsX\n    Properties:\n      Vis", "Condition: IsY\n    Properties:\n      Vis", "Resources.Queue.Condition: no condition IsY"},
		{"Parameters:\n", "Parameters:\n  Unused: {Type: String, Default: u}\n", "Parameters.Unused: never used"},
		{"Name: {Type: String, Default: x}", "Name: {Type: String, Default: x, AllowedValues: [y]}", `Parameters.Name: the default: Name: "x" is not one of [y]`},
		{"!Equals [!Ref Name, x]", "!Equals [!Ref Queue, x]", `Conditions.IsX.Fn::Equals[0].Ref: Ref to "Queue", which is no parameter`},
	}
	for _, c := range cases {
		if !strings.Contains(good, c.old) {
			t.Fatalf("%q is not in the template", c.old)
		}
		bad := strings.Replace(good, c.old, c.new, 1)
		tm, err := newTemplate("bad.yaml", []byte(bad))
		if err != nil {
			t.Fatalf("%s: %v", c.want, err)
		}
		errs := tm.check()
		if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), c.want) }) {
			t.Errorf("replacing %q: want an error containing %q, got %v", c.old, c.want, errs)
		}
	}
	for _, c := range []struct{ doc, want string }{
		{"Resources:\n  Q: !Bogus x\n", "bad.yaml:2:6: unknown tag !Bogus"},
		{"Resources:\n  Q: {Type: AWS::SQS::Queue}\n  Q: {Type: AWS::SQS::Queue}\n", `bad.yaml:3:3: duplicate key "Q"`},
		{"Resources:\n  Q: &a {Type: AWS::SQS::Queue}\n  R: *a\n", "bad.yaml:3:6: aliases are not CloudFormation"},
		{"Resources:\n  Q: !GetAtt Queue\n", `bad.yaml:2:6: !GetAtt "Queue" is not Resource.Attribute`},
		{"- a\n", "bad.yaml:1:1: a template is a mapping"},
		{"Resources: {}\nOutput: {}\n", `unknown top-level section "Output"`},
	} {
		_, err := newTemplate("bad.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want an error containing %q, got %v", c.doc, c.want, err)
		}
	}
	// Deploying names a Ref to a resource its condition leaves out.
	tm, _ = newTemplate("bad.yaml", []byte(strings.Replace(good, "Url: {Value: !Ref Queue, Condition: IsX}", "Url: {Value: !Ref Queue}", 1)))
	if _, err := tm.deploy(map[string]string{"Name": "y"}); err == nil || !strings.Contains(err.Error(), "Outputs.Url.Value.Ref: resource Queue is left out (condition IsX is false)") {
		t.Errorf("deploy with the queue left out: %v", err)
	}
	if _, err := tm.deploy(map[string]string{"Nmae": "y"}); err == nil || !strings.Contains(err.Error(), "no parameter Nmae") {
		t.Errorf("deploy with an unknown parameter: %v", err)
	}
}

// choices are the values of each choice parameter, to deploy every
// combination.
var choices = map[string][]string{
	"NotificationRoute": {"EventBridge", "S3Notification"},
	"CreateApiCallPath": {"true", "false"},
	"ApiCallEvents":     {"Default", "ManagementWrites", "AllManagement"},
	"RolePrincipal":     {"ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "lambda.amazonaws.com"},
	"MoveDeadLetters":   {"true", "false"},
}

// combinations lists every combination of the choices the template has, with
// the optional values all set and all left empty.
func combinations(tm *template, base func() map[string]string) []map[string]string {
	out := []map[string]string{base()}
	for _, name := range sortedKeys(choices) {
		if tm.parameters[name] == nil {
			continue
		}
		var next []map[string]string
		for _, p := range out {
			for _, v := range choices[name] {
				q := map[string]string{}
				for k, x := range p {
					q[k] = x
				}
				q[name] = v
				next = append(next, q)
			}
		}
		out = next
	}
	var all []map[string]string
	for _, p := range out {
		all = append(all, p)
		bare := map[string]string{}
		for k, v := range p {
			bare[k] = v
		}
		for _, k := range []string{"TrailPrefix", "OrganizationId", "TrailKmsKeyArn", "AlertSecretArns", "AlertTopicArn"} {
			delete(bare, k)
		}
		all = append(all, bare)
	}
	return all
}

// TestDeployEveryCombination deploys both templates for every combination of
// their choices: no reference may name a resource its condition leaves out,
// the role's policy must parse and grant nothing dangerous, the queue
// policies must name only their service.
func TestDeployEveryCombination(t *testing.T) {
	for _, c := range []struct {
		path string
		base func() map[string]string
	}{
		{mainTemplate, fullParams},
		{lambdaTemplate, func() map[string]string { return lambdaParams(fullParams()) }},
	} {
		tm := loadTemplate(t, c.path)
		combos := combinations(tm, c.base)
		for _, p := range combos {
			s, err := tm.deploy(p)
			if err != nil {
				t.Errorf("%v: %v", p, err)
				continue
			}
			doc := rolePolicy(t, s)
			if risks := policy.AnalyzeDocument(doc); len(risks) != 0 {
				t.Errorf("%s %v: the role's policy has risks: %v", c.path, p, risks)
			}
			for _, q := range []string{"LogQueuePolicy", "ApiCallQueuePolicy"} {
				if _, ok := s.Resources[q]; !ok {
					continue
				}
				qp := queuePolicy(t, s, q)
				if risks := policy.AnalyzeDocument(qp); len(risks) != 0 {
					t.Errorf("%s %v: %s has risks: %v", c.path, p, q, risks)
				}
			}
			_, api := s.Resources["ApiCallQueue"]
			if api != (p["CreateApiCallPath"] == "true") {
				t.Errorf("%s %v: API-call queue present: %v", c.path, p, api)
			}
		}
		t.Logf("%s: %d combinations deployed", c.path, len(combos))
	}
}

// rolePolicy is the role's inline policy, parsed by internal/policy.
func rolePolicy(t testing.TB, s *stack) *policy.Policy {
	t.Helper()
	role, ok := s.Resources["Role"]
	if !ok {
		t.Fatal("no Role")
	}
	pols := asList(role.Properties["Policies"])
	if len(pols) != 1 {
		t.Fatalf("the role has %d inline policies, want 1", len(pols))
	}
	pm, _ := pols[0].(map[string]any)
	return parsePolicy(t, pm["PolicyDocument"], "trailsentry", "inline policy of role/"+s.physicalName("Role"))
}

func queuePolicy(t testing.TB, s *stack, name string) *policy.Policy {
	t.Helper()
	return parsePolicy(t, s.Resources[name].Properties["PolicyDocument"], name, "queue policy "+name)
}

func parsePolicy(t testing.TB, doc any, name, source string) *policy.Policy {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.ParseDocument(data)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, data)
	}
	p.Name, p.Source = name, source
	return p
}

// grantedActions lists every action the policy's Allow statements name.
func grantedActions(p *policy.Policy) []string {
	var out []string
	for _, st := range p.Statements {
		if st.Effect == policy.Allow && !st.NotAction {
			out = append(out, st.Actions...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ask is one request to decide for the role.
type ask struct {
	action, resource string
	ctx              policy.Context
}

func (a ask) String() string {
	if len(a.ctx) == 0 {
		return a.action + " on " + a.resource
	}
	return fmt.Sprintf("%s on %s with %v", a.action, a.resource, a.ctx)
}

// asRole decides requests of one of the role's sessions against its policy.
func asRole(s *stack, p *policy.Policy) func(ask) policy.Result {
	roleName := s.physicalName("Role")
	roleARN := "arn:aws:iam::" + account + ":role/" + roleName
	session := "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/i-0123456789abcdef0"
	return func(a ask) policy.Result {
		ctx := policy.Context{"aws:PrincipalArn": {roleARN}, "aws:PrincipalAccount": {account}}
		for k, v := range a.ctx {
			ctx[k] = v
		}
		return policy.Evaluate(policy.Request{Principal: session, Action: a.action, Resource: a.resource, Context: ctx},
			policy.Set{Identity: []*policy.Policy{p}})
	}
}

func expect(t *testing.T, decide func(ask) policy.Result, allowed, denied []ask) {
	t.Helper()
	for _, a := range allowed {
		if r := decide(a); r.Decision != policy.Allowed {
			t.Errorf("want allowed: %s: %s", a, r.Reason)
		}
	}
	for _, a := range denied {
		if r := decide(a); r.Decision == policy.Allowed {
			t.Errorf("want denied: %s: %s", a, r.Explain())
		}
	}
}

func s3Object(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// TestRolePolicy decides, with internal/policy, what the role of the main
// template may do in the example deployment: each action the tool needs on
// the right resources, and none of their neighbours.
func TestRolePolicy(t *testing.T) {
	tm := loadTemplate(t, mainTemplate)
	params := fullParams()
	params["MoveDeadLetters"] = "true"
	s := deployTemplate(t, tm, params)
	doc := rolePolicy(t, s)
	decide := asRole(s, doc)
	q := func(name string) string { v, _ := s.attr(name, "Arn"); return v.(string) }
	logRoot := prefix + "/AWSLogs/" + orgID + "/" + account + "/"
	logKey := logRoot + "CloudTrail/" + region + "/" + logDay + "/" + logName
	digestKey := logRoot + "CloudTrail-Digest/" + region + "/" + logDay + "/" + digestName
	viaS3 := policy.Context{"kms:ViaService": {"s3." + region + ".amazonaws.com"}}

	allowed := []ask{
		{action: "s3:GetObject", resource: s3Object(bucket, logKey)},
		{action: "s3:GetObject", resource: s3Object(bucket, digestKey)},
		{action: "s3:GetObject", resource: s3Object(bucket, prefix+"/AWSLogs/"+orgID+"/"+otherAcct+"/CloudTrail/us-east-1/"+logDay+"/x.json.gz")},
		{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {logRoot + "CloudTrail/"}}},
		{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {prefix + "/AWSLogs/" + orgID + "/"}}},
		{action: "kms:Decrypt", resource: keyARN, ctx: viaS3},
		{action: "cloudtrail:LookupEvents", resource: "*"},
		{action: "cloudtrail:ListPublicKeys", resource: "*"},
		{action: "secretsmanager:GetSecretValue", resource: slackARN},
		{action: "secretsmanager:GetSecretValue", resource: hecARN},
		{action: "sns:Publish", resource: topicARN},
		{action: "sqs:SendMessage", resource: q("LogDeadLetterQueue")},
		{action: "sqs:SendMessage", resource: q("ApiCallDeadLetterQueue")},
	}
	for _, queue := range []string{"LogQueue", "ApiCallQueue"} {
		for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"} {
			allowed = append(allowed, ask{action: a, resource: q(queue)})
		}
	}
	otherQueue := "arn:aws:sqs:" + region + ":" + account + ":payments-orders"
	denied := []ask{
		// The bucket beyond the trail's logs, and other buckets.
		{action: "s3:GetObject", resource: s3Object(bucket, "AWSLogs/"+account+"/CloudTrail/"+region+"/"+logDay+"/"+logName)},
		{action: "s3:GetObject", resource: s3Object(bucket, prefix+"/AWSLogs/o-zzzzzzzzzz/"+account+"/CloudTrail/"+region+"/"+logDay+"/"+logName)},
		{action: "s3:GetObject", resource: s3Object(bucket, prefix+"/AWSLogs/"+account+"/CloudTrail/"+region+"/"+logDay+"/"+logName)},
		{action: "s3:GetObject", resource: s3Object(bucket, prefix+"/exports/customers.csv")},
		{action: "s3:GetObject", resource: s3Object(bucket, "secrets.txt")},
		{action: "s3:GetObject", resource: s3Object("another-bucket", logKey)},
		{action: "s3:GetObject", resource: s3Object(bucket+"-replica", logKey)},
		{action: "s3:GetObjectAcl", resource: s3Object(bucket, logKey)},
		{action: "s3:GetObjectVersion", resource: s3Object(bucket, logKey)},
		// Nothing that writes, deletes or reconfigures.
		{action: "s3:PutObject", resource: s3Object(bucket, logKey)},
		{action: "s3:DeleteObject", resource: s3Object(bucket, logKey)},
		{action: "s3:DeleteObjectVersion", resource: s3Object(bucket, logKey)},
		{action: "s3:PutBucketNotification", resource: "arn:aws:s3:::" + bucket},
		{action: "s3:PutBucketPolicy", resource: "arn:aws:s3:::" + bucket},
		{action: "s3:PutLifecycleConfiguration", resource: "arn:aws:s3:::" + bucket},
		// Listing only below the logs.
		{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket},
		{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {""}}},
		{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {prefix + "/"}}},
		{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {prefix + "/exports/"}}},
		{action: "s3:ListBucket", resource: "arn:aws:s3:::another-bucket", ctx: policy.Context{"s3:prefix": {logRoot}}},
		{action: "s3:ListAllMyBuckets", resource: "*"},
		// The queues: consume, never send to the main queues, nothing else.
		{action: "sqs:SendMessage", resource: q("LogQueue")},
		{action: "sqs:SendMessage", resource: q("ApiCallQueue")},
		{action: "sqs:ReceiveMessage", resource: q("LogDeadLetterQueue")},
		{action: "sqs:DeleteMessage", resource: q("LogDeadLetterQueue")},
		{action: "sqs:ReceiveMessage", resource: otherQueue},
		{action: "sqs:DeleteMessage", resource: otherQueue},
		{action: "sqs:SendMessage", resource: otherQueue},
		{action: "sqs:PurgeQueue", resource: q("LogQueue")},
		{action: "sqs:DeleteQueue", resource: q("LogQueue")},
		{action: "sqs:SetQueueAttributes", resource: q("LogQueue")},
		{action: "sqs:ListQueues", resource: "*"},
		// The key only as S3 uses it, only to decrypt.
		{action: "kms:Decrypt", resource: keyARN},
		{action: "kms:Decrypt", resource: keyARN, ctx: policy.Context{"kms:ViaService": {"s3.us-east-1.amazonaws.com"}}},
		{action: "kms:Decrypt", resource: keyARN, ctx: policy.Context{"kms:ViaService": {"secretsmanager." + region + ".amazonaws.com"}}},
		{action: "kms:Decrypt", resource: "arn:aws:kms:" + region + ":" + account + ":key/ffffffff-0000-0000-0000-000000000000", ctx: viaS3},
		{action: "kms:Encrypt", resource: keyARN, ctx: viaS3},
		{action: "kms:GenerateDataKey", resource: keyARN, ctx: viaS3},
		{action: "kms:ScheduleKeyDeletion", resource: keyARN},
		// CloudTrail: read the lookup API, never touch the trail.
		{action: "cloudtrail:StopLogging", resource: "arn:aws:cloudtrail:" + region + ":" + account + ":trail/org-trail"},
		{action: "cloudtrail:DeleteTrail", resource: "arn:aws:cloudtrail:" + region + ":" + account + ":trail/org-trail"},
		{action: "cloudtrail:PutEventSelectors", resource: "arn:aws:cloudtrail:" + region + ":" + account + ":trail/org-trail"},
		{action: "cloudtrail:UpdateTrail", resource: "*"},
		// Secrets and topic: only those named, only read and publish.
		{action: "secretsmanager:GetSecretValue", resource: "arn:aws:secretsmanager:" + region + ":" + account + ":secret:prod/db/master-XyZ123"},
		{action: "secretsmanager:PutSecretValue", resource: slackARN},
		{action: "secretsmanager:ListSecrets", resource: "*"},
		{action: "sns:Publish", resource: "arn:aws:sns:" + region + ":" + account + ":other-topic"},
		{action: "sns:Subscribe", resource: topicARN},
		// Nothing of IAM, STS or anything else.
		{action: "iam:PassRole", resource: "arn:aws:iam::" + account + ":role/" + s.physicalName("Role")},
		{action: "iam:PutRolePolicy", resource: "arn:aws:iam::" + account + ":role/" + s.physicalName("Role")},
		{action: "iam:CreateUser", resource: "arn:aws:iam::" + account + ":user/backdoor"},
		{action: "iam:CreateAccessKey", resource: "arn:aws:iam::" + account + ":user/alice"},
		{action: "sts:AssumeRole", resource: "arn:aws:iam::" + account + ":role/OrganizationAccountAccessRole"},
		{action: "ec2:DescribeInstances", resource: "*"},
		{action: "logs:PutLogEvents", resource: "*"},
	}
	expect(t, decide, allowed, denied)

	want := []string{
		"cloudtrail:ListPublicKeys", "cloudtrail:LookupEvents", "kms:Decrypt", "s3:GetObject", "s3:ListBucket",
		"secretsmanager:GetSecretValue", "sns:Publish", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
		"sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage",
	}
	if got := grantedActions(doc); !slices.Equal(got, want) {
		t.Errorf("granted actions:\n got %v\nwant %v", got, want)
	}
	for _, st := range doc.Statements {
		if slices.Contains(st.Resources, "*") && !slices.Equal(st.Actions, []string{"cloudtrail:LookupEvents", "cloudtrail:ListPublicKeys"}) {
			t.Errorf("statement %s grants %v on *", st.Sid, st.Actions)
		}
	}
}

// TestRolePolicyOptionsOff: with the defaults (no prefix, no organization,
// no key, no secrets, no topic, the redrive policy setting messages aside)
// the optional grants are gone, not widened.
func TestRolePolicyOptionsOff(t *testing.T) {
	tm := loadTemplate(t, mainTemplate)
	s := deployTemplate(t, tm, map[string]string{"TrailBucketName": bucket, "CreateApiCallPath": "false"})
	doc := rolePolicy(t, s)
	decide := asRole(s, doc)
	logQueue, _ := s.attr("LogQueue", "Arn")
	dlq, _ := s.attr("LogDeadLetterQueue", "Arn")
	logKey := "AWSLogs/" + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName
	expect(t, decide,
		[]ask{
			{action: "s3:GetObject", resource: s3Object(bucket, logKey)},
			{action: "s3:GetObject", resource: s3Object(bucket, "AWSLogs/"+orgID+"/"+account+"/CloudTrail/"+region+"/"+logDay+"/"+logName)},
			{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {"AWSLogs/"}}},
			{action: "sqs:ReceiveMessage", resource: logQueue.(string)},
		},
		[]ask{
			{action: "s3:GetObject", resource: s3Object(bucket, "other/"+logKey)},
			{action: "s3:ListBucket", resource: "arn:aws:s3:::" + bucket, ctx: policy.Context{"s3:prefix": {"other/"}}},
			{action: "sqs:SendMessage", resource: dlq.(string)},
			{action: "kms:Decrypt", resource: keyARN, ctx: policy.Context{"kms:ViaService": {"s3." + region + ".amazonaws.com"}}},
			{action: "kms:Decrypt", resource: "*", ctx: policy.Context{"kms:ViaService": {"s3." + region + ".amazonaws.com"}}},
			{action: "secretsmanager:GetSecretValue", resource: slackARN},
			{action: "secretsmanager:GetSecretValue", resource: "*"},
			{action: "sns:Publish", resource: topicARN},
			{action: "sns:Publish", resource: "*"},
		})
	want := []string{
		"cloudtrail:ListPublicKeys", "cloudtrail:LookupEvents", "s3:GetObject", "s3:ListBucket",
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
	}
	if got := grantedActions(doc); !slices.Equal(got, want) {
		t.Errorf("granted actions:\n got %v\nwant %v", got, want)
	}
	if _, ok := s.Resources["InstanceProfile"]; ok {
		t.Error("an instance profile for an ECS task role")
	}
}

// TestTrustPolicy: the role can be assumed by the chosen service only, and
// ECS tasks only from this account.
func TestTrustPolicy(t *testing.T) {
	tm := loadTemplate(t, mainTemplate)
	for _, svc := range choices["RolePrincipal"] {
		t.Run(svc, func(t *testing.T) {
			p := fullParams()
			p["RolePrincipal"] = svc
			s := deployTemplate(t, tm, p)
			trust := parsePolicy(t, s.Resources["Role"].Properties["AssumeRolePolicyDocument"], "trust", "trust policy")
			if risks := policy.AnalyzeDocument(trust); len(risks) != 0 {
				t.Errorf("trust policy risks: %v", risks)
			}
			roleARN, _ := s.attr("Role", "Arn")
			assume := func(principal string, ctx policy.Context) policy.Decision {
				return policy.Evaluate(policy.Request{Principal: principal, Action: "sts:AssumeRole", Resource: roleARN.(string), Context: ctx},
					policy.Set{Resource: []*policy.Policy{trust}}).Decision
			}
			own := policy.Context{"aws:SourceAccount": {account}}
			if d := assume(svc, own); d != policy.Allowed {
				t.Errorf("%s from this account: %v", svc, d)
			}
			if d := assume(svc, policy.Context{"aws:SourceAccount": {otherAcct}}); (d == policy.Allowed) == (svc == "ecs-tasks.amazonaws.com") {
				t.Errorf("%s for another account's task: %v", svc, d)
			}
			for _, other := range choices["RolePrincipal"] {
				if other != svc {
					if d := assume(other, own); d == policy.Allowed {
						t.Errorf("%s may assume a role for %s", other, svc)
					}
				}
			}
			if d := assume("arn:aws:iam::"+otherAcct+":root", nil); d == policy.Allowed {
				t.Error("another account may assume the role")
			}
			if d := assume("arn:aws:iam::"+account+":user/alice", nil); d == policy.Allowed {
				t.Error("a user of the account may assume the role by its trust policy alone")
			}
			_, profile := s.Resources["InstanceProfile"]
			if profile != (svc == "ec2.amazonaws.com") {
				t.Errorf("instance profile: %v", profile)
			}
		})
	}
}

// TestQueuePolicies: each queue accepts SendMessage from its one service,
// only from the bucket or rule that feeds it, and nothing from anyone else.
func TestQueuePolicies(t *testing.T) {
	for _, path := range []string{mainTemplate, lambdaTemplate} {
		tm := loadTemplate(t, path)
		for _, route := range choices["NotificationRoute"] {
			t.Run(filepath.Base(path)+"/"+route, func(t *testing.T) {
				p := lambdaParams(fullParams())
				if path == mainTemplate {
					p = fullParams()
				}
				p["NotificationRoute"] = route
				s := deployTemplate(t, tm, p)
				logQueue, _ := s.attr("LogQueue", "Arn")
				apiQueue, _ := s.attr("ApiCallQueue", "Arn")
				apiRule, _ := s.attr("ApiCallRule", "Arn")
				bucketARN := "arn:aws:s3:::" + bucket
				otherRule := "arn:aws:events:" + region + ":" + account + ":rule/someone-elses-rule"

				type send struct {
					principal, action string
					ctx               policy.Context
					want              bool
				}
				check := func(queue, name string, cases []send) {
					qp := queuePolicy(t, s, name)
					if len(qp.Statements) != 1 {
						t.Errorf("%s: %d statements, want 1", name, len(qp.Statements))
					}
					for _, c := range cases {
						r := policy.Evaluate(policy.Request{Principal: c.principal, Action: c.action, Resource: queue, Context: c.ctx},
							policy.Set{Resource: []*policy.Policy{qp}})
						if (r.Decision == policy.Allowed) != c.want {
							t.Errorf("%s: %s %s with %v: %s, want allowed %v", name, c.principal, c.action, c.ctx, r.Decision, c.want)
						}
					}
				}
				var logCases []send
				if route == "EventBridge" {
					rule, _ := s.attr("LogObjectCreatedRule", "Arn")
					logCases = []send{
						{"events.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {rule.(string)}}, true},
						{"events.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {otherRule}}, false},
						{"events.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {apiRule.(string)}}, false},
						{"events.amazonaws.com", "sqs:SendMessage", nil, false},
						{"s3.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}, "aws:SourceAccount": {account}}, false},
						{"events.amazonaws.com", "sqs:ReceiveMessage", policy.Context{"aws:SourceArn": {rule.(string)}}, false},
					}
				} else {
					logCases = []send{
						{"s3.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}, "aws:SourceAccount": {account}}, true},
						{"s3.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {"arn:aws:s3:::another-bucket"}, "aws:SourceAccount": {account}}, false},
						{"s3.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}, "aws:SourceAccount": {otherAcct}}, false},
						{"s3.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}}, false},
						{"s3.amazonaws.com", "sqs:SendMessage", nil, false},
						{"events.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {otherRule}}, false},
						{"s3.amazonaws.com", "sqs:DeleteMessage", policy.Context{"aws:SourceArn": {bucketARN}, "aws:SourceAccount": {account}}, false},
					}
				}
				logCases = append(logCases,
					send{"", "sqs:SendMessage", nil, false},
					send{"sns.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}, "aws:SourceAccount": {account}}, false},
					send{"arn:aws:iam::" + otherAcct + ":root", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}}, false},
					send{"arn:aws:iam::" + otherAcct + ":user/mallory", "sqs:ReceiveMessage", nil, false},
				)
				check(logQueue.(string), "LogQueuePolicy", logCases)
				check(apiQueue.(string), "ApiCallQueuePolicy", []send{
					{"events.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {apiRule.(string)}}, true},
					{"events.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {otherRule}}, false},
					{"events.amazonaws.com", "sqs:SendMessage", nil, false},
					{"s3.amazonaws.com", "sqs:SendMessage", policy.Context{"aws:SourceArn": {bucketARN}, "aws:SourceAccount": {account}}, false},
					{"arn:aws:iam::" + otherAcct + ":root", "sqs:SendMessage", nil, false},
				})
			})
		}
	}
}

// TestQueues: both queues are encrypted, redrive to their dead-letter queue
// after MaxReceiveCount (5) receives, and the dead-letter queues keep
// messages longer than the queues.
func TestQueues(t *testing.T) {
	for _, path := range []string{mainTemplate, lambdaTemplate} {
		tm := loadTemplate(t, path)
		p := fullParams()
		if path == lambdaTemplate {
			p = lambdaParams(p)
		}
		s := deployTemplate(t, tm, p)
		for _, q := range []string{"LogQueue", "ApiCallQueue", "LogDeadLetterQueue", "ApiCallDeadLetterQueue"} {
			props := s.Resources[q].Properties
			if props["SqsManagedSseEnabled"] != true {
				t.Errorf("%s %s: SqsManagedSseEnabled %v", path, q, props["SqsManagedSseEnabled"])
			}
			if strings.HasSuffix(q, "DeadLetterQueue") {
				if _, ok := props["RedrivePolicy"]; ok {
					t.Errorf("%s %s: a dead-letter queue with a redrive policy", path, q)
				}
				if got := number(props["MessageRetentionPeriod"]); got != 1209600 {
					t.Errorf("%s %s: retention %v, want 14 days", path, q, got)
				}
				continue
			}
			rp, _ := props["RedrivePolicy"].(map[string]any)
			dlq, _ := s.attr(strings.TrimSuffix(q, "Queue")+"DeadLetterQueue", "Arn")
			if rp["deadLetterTargetArn"] != dlq || scalarText(rp["maxReceiveCount"]) != "5" {
				t.Errorf("%s %s: redrive policy %v, want %s after 5", path, q, rp, dlq)
			}
			if number(props["VisibilityTimeout"]) < 30 {
				t.Errorf("%s %s: visibility timeout %v", path, q, props["VisibilityTimeout"])
			}
		}
	}
}

// s3Event is an EventBridge "Object Created" event of the S3 service.
func s3Event(bucketName, key string) map[string]any {
	return map[string]any{
		"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
		"source": "aws.s3", "account": account, "time": "2026-11-23T10:05:31Z", "region": region,
		"resources": []any{"arn:aws:s3:::" + bucketName},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]any{"name": bucketName},
			"object":     map[string]any{"key": key, "size": 1843.0, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08299329D189"},
			"request-id": "N4N7GDK58NMKJ12R", "requester": account, "reason": "PutObject",
		},
	}
}

// apiCallEvent is EventBridge's copy of a CloudTrail record.
func apiCallEvent(source, name string, readOnly bool, category string) map[string]any {
	return map[string]any{
		"version": "0", "id": "6f87d04b-9f74-4f04-a780-7acf4b0a9b38", "detail-type": "AWS API Call via CloudTrail",
		"source": "aws." + strings.TrimSuffix(source, ".amazonaws.com"), "account": account, "time": "2026-11-23T10:02:07Z",
		"region": region, "resources": []any{},
		"detail": map[string]any{
			"eventVersion": "1.09", "eventTime": "2026-11-23T10:02:07Z", "eventSource": source, "eventName": name,
			"awsRegion": region, "sourceIPAddress": "203.0.113.45", "readOnly": readOnly, "eventCategory": category,
			"eventType": "AwsApiCall", "managementEvent": category == "Management", "recipientAccountId": account,
			"userIdentity": map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/developer/bob"},
		},
	}
}

func rulePattern(t *testing.T, s *stack, rule string) map[string]any {
	t.Helper()
	r, ok := s.Resources[rule]
	if !ok {
		t.Fatalf("no %s", rule)
	}
	p, ok := r.Properties["EventPattern"].(map[string]any)
	if !ok {
		t.Fatalf("%s: EventPattern is %T", rule, r.Properties["EventPattern"])
	}
	targets := asList(r.Properties["Targets"])
	if len(targets) != 1 {
		t.Fatalf("%s: %d targets", rule, len(targets))
	}
	return p
}

func matches(t *testing.T, pattern, event map[string]any) bool {
	t.Helper()
	m, err := eventMatches(pattern, event)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestObjectCreatedRule: the rule takes the trail's log files and digests,
// and no other object, in no other bucket.
func TestObjectCreatedRule(t *testing.T) {
	tm := loadTemplate(t, mainTemplate)
	for _, c := range []struct {
		name   string
		params map[string]string
		root   string
		others []string // keys of the same bucket it must leave
	}{
		{"account trail", map[string]string{"TrailBucketName": bucket}, "AWSLogs/" + account + "/",
			[]string{"audit/AWSLogs/" + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName}},
		{"organization trail with a prefix", fullParams(), prefix + "/AWSLogs/" + orgID + "/" + account + "/",
			[]string{
				prefix + "/AWSLogs/" + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName,
				"AWSLogs/" + orgID + "/" + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName,
				"x" + prefix + "/AWSLogs/" + orgID + "/" + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := deployTemplate(t, tm, c.params)
			p := rulePattern(t, s, "LogObjectCreatedRule")
			target := asList(s.Resources["LogObjectCreatedRule"].Properties["Targets"])[0].(map[string]any)
			if q, _ := s.attr("LogQueue", "Arn"); target["Arn"] != q {
				t.Errorf("target %v, want the log queue %v", target["Arn"], q)
			}
			logKey := c.root + "CloudTrail/" + region + "/" + logDay + "/" + logName
			for _, key := range []string{logKey, c.root + "CloudTrail-Digest/" + region + "/" + logDay + "/" + digestName} {
				if !matches(t, p, s3Event(bucket, key)) {
					t.Errorf("%s is not taken", key)
				}
			}
			leave := append([]string{
				c.root + "CloudTrail/" + region + "/" + logDay + "/" + strings.TrimSuffix(logName, ".gz"),
				"exports/customers.json.gz",
			}, c.others...)
			for _, key := range leave {
				if matches(t, p, s3Event(bucket, key)) {
					t.Errorf("%s is taken", key)
				}
			}
			if matches(t, p, s3Event("another-bucket", logKey)) {
				t.Error("another bucket's log file is taken")
			}
			deleted := s3Event(bucket, logKey)
			deleted["detail-type"] = "Object Deleted"
			if matches(t, p, deleted) {
				t.Error("a deletion is taken")
			}
			if matches(t, p, apiCallEvent("s3.amazonaws.com", "PutObject", false, "Data")) {
				t.Error("an API call is taken")
			}
		})
	}
}

// TestApiCallRule: the near-real-time rule for each choice of ApiCallEvents.
func TestApiCallRule(t *testing.T) {
	tm := loadTemplate(t, mainTemplate)
	write := apiCallEvent("iam.amazonaws.com", "CreateAccessKey", false, "Management")
	read := apiCallEvent("iam.amazonaws.com", "ListUsers", true, "Management")
	data := apiCallEvent("s3.amazonaws.com", "GetObject", true, "Data")
	object := s3Event(bucket, "AWSLogs/"+account+"/CloudTrail/"+region+"/"+logDay+"/"+logName)
	for _, c := range []struct {
		events string
		state  string
		take   []map[string]any
		leave  []map[string]any
	}{
		{"Default", "ENABLED", []map[string]any{write, read, data}, []map[string]any{object}},
		{"AllManagement", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", []map[string]any{write, read, data}, []map[string]any{object}},
		{"ManagementWrites", "ENABLED", []map[string]any{write}, []map[string]any{read, data, object}},
	} {
		t.Run(c.events, func(t *testing.T) {
			s := deployTemplate(t, tm, map[string]string{"TrailBucketName": bucket, "ApiCallEvents": c.events})
			p := rulePattern(t, s, "ApiCallRule")
			if st := s.Resources["ApiCallRule"].Properties["State"]; st != c.state {
				t.Errorf("state %v, want %s", st, c.state)
			}
			for i, ev := range c.take {
				if !matches(t, p, ev) {
					t.Errorf("event %d (%v) not taken", i, ev["detail"].(map[string]any)["eventName"])
				}
			}
			for i, ev := range c.leave {
				if matches(t, p, ev) {
					t.Errorf("event %d (%v) taken", i, ev["detail-type"])
				}
			}
		})
	}
}

// TestPatternMatcher pins the matcher the rule tests rely on.
func TestPatternMatcher(t *testing.T) {
	ev := map[string]any{"a": "AWSLogs/1/x.json.gz", "b": map[string]any{"c": false, "d": []any{"x", "y"}}}
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`{"a": [{"wildcard": "AWSLogs/*.json.gz"}]}`, true},
		{`{"a": [{"wildcard": "AWSLogs/*.json"}]}`, false},
		{`{"a": [{"prefix": "AWSLogs/"}], "b": {"c": [false]}}`, true},
		{`{"b": {"c": [true]}}`, false},
		{`{"b": {"d": ["y"]}}`, true},
		{`{"b": {"e": [{"exists": false}]}}`, true},
		{`{"b": {"e": ["x"]}}`, false},
		{`{"a": [{"anything-but": "z"}]}`, true},
		{`{"a": [{"suffix": ".gz"}]}`, true},
		{`{"z": {"y": ["x"]}}`, false},
	} {
		var p map[string]any
		if err := json.Unmarshal([]byte(c.pattern), &p); err != nil {
			t.Fatal(err)
		}
		if got := matches(t, p, ev); got != c.want {
			t.Errorf("%s: %v, want %v", c.pattern, got, c.want)
		}
	}
	if _, err := eventMatches(map[string]any{"a": []any{map[string]any{"numeric": []any{">", 0.0}}}}, ev); err == nil {
		t.Error("an unmodelled filter is not an error")
	}
}

// notification is the configuration a put-bucket-notification-configuration
// command output gives, decoded from its JSON.
type notification struct {
	QueueConfigurations []struct {
		ID       string   `json:"Id"`
		QueueArn string   `json:"QueueArn"`
		Events   []string `json:"Events"`
		Filter   struct {
			Key struct {
				FilterRules []struct{ Name, Value string } `json:"FilterRules"`
			} `json:"Key"`
		} `json:"Filter"`
	} `json:"QueueConfigurations"`
	EventBridgeConfiguration *struct{} `json:"EventBridgeConfiguration"`
}

// commandJSON is the quoted JSON argument of a command output.
func commandJSON(t *testing.T, cmd string) string {
	t.Helper()
	i, j := strings.Index(cmd, "'"), strings.LastIndex(cmd, "'")
	if i < 0 || j <= i {
		t.Fatalf("no quoted argument in %q", cmd)
	}
	return cmd[i+1 : j]
}

// TestNotificationCommand: the S3 route's command sends exactly the log
// files the role may read to the log queue.
func TestNotificationCommand(t *testing.T) {
	for _, path := range []string{mainTemplate, lambdaTemplate} {
		tm := loadTemplate(t, path)
		p := fullParams()
		if path == lambdaTemplate {
			p = lambdaParams(p)
		}
		p["NotificationRoute"] = "S3Notification"
		s := deployTemplate(t, tm, p)
		if _, ok := s.Resources["LogObjectCreatedRule"]; ok {
			t.Errorf("%s: the EventBridge rule is deployed on the S3 route", path)
		}
		if _, ok := s.Outputs["EventBridgeCommand"]; ok {
			t.Errorf("%s: EventBridgeCommand output on the S3 route", path)
		}
		cmd, _ := s.Outputs["NotificationCommand"].(string)
		if !strings.HasPrefix(cmd, "aws s3api put-bucket-notification-configuration --bucket "+bucket+" --notification-configuration '") {
			t.Fatalf("%s: command %q", path, cmd)
		}
		var n notification
		if err := json.Unmarshal([]byte(commandJSON(t, cmd)), &n); err != nil {
			t.Fatalf("%s: %v in %s", path, err, cmd)
		}
		if len(n.QueueConfigurations) != 1 {
			t.Fatalf("%s: %+v", path, n)
		}
		qc := n.QueueConfigurations[0]
		logQueue, _ := s.attr("LogQueue", "Arn")
		if qc.QueueArn != logQueue || !slices.Equal(qc.Events, []string{"s3:ObjectCreated:*"}) {
			t.Errorf("%s: %+v", path, qc)
		}
		rules := map[string]string{}
		for _, r := range qc.Filter.Key.FilterRules {
			rules[r.Name] = r.Value
		}
		wantPrefix := prefix + "/AWSLogs/" + orgID + "/"
		if len(rules) != 2 || rules["prefix"] != wantPrefix || rules["suffix"] != ".json.gz" {
			t.Errorf("%s: filter %v, want prefix %s and suffix .json.gz", path, rules, wantPrefix)
		}
		// What the notification announces, the role may read.
		decide := asRole(s, rolePolicy(t, s))
		key := wantPrefix + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName
		if r := decide(ask{action: "s3:GetObject", resource: s3Object(bucket, key)}); r.Decision != policy.Allowed {
			t.Errorf("%s: the role may not read %s: %s", path, key, r.Reason)
		}
	}
}

// TestWatchOutputs: the outputs name the queues trailsentry watch is to use.
func TestWatchOutputs(t *testing.T) {
	tm := loadTemplate(t, mainTemplate)
	for _, api := range []string{"true", "false"} {
		s := deployTemplate(t, tm, map[string]string{"TrailBucketName": bucket, "CreateApiCallPath": api})
		logURL, _ := s.ref("LogQueue")
		flags, _ := s.Outputs["WatchFlags"].(string)
		env, _ := s.Outputs["WatchEnvironment"].(string)
		want := "--sqs-queue " + logURL.(string)
		wantEnv := "TRAILSENTRY_SQS_QUEUE=" + logURL.(string)
		if api == "true" {
			apiURL, _ := s.ref("ApiCallQueue")
			want += " --sqs-queue " + apiURL.(string)
			wantEnv += "," + apiURL.(string)
		}
		if flags != want {
			t.Errorf("WatchFlags %q, want %q", flags, want)
		}
		if !strings.Contains(env, wantEnv) || !strings.Contains(env, "AWS_REGION="+region) {
			t.Errorf("WatchEnvironment %q, want %q", env, wantEnv)
		}
		if !strings.HasPrefix(logURL.(string), "https://sqs."+region+".amazonaws.com/"+account+"/") {
			t.Errorf("queue URL %v", logURL)
		}
		for _, o := range []string{"LogQueueUrl", "LogDeadLetterQueueUrl", "RoleArn", "EventBridgeCommand"} {
			if _, ok := s.Outputs[o]; !ok {
				t.Errorf("no output %s", o)
			}
		}
		if _, ok := s.Outputs["ApiCallQueueUrl"]; ok != (api == "true") {
			t.Errorf("ApiCallQueueUrl output present: %v", ok)
		}
	}
}

// TestLambda: the function, its mappings with partial batch failures, queues
// whose visibility outlasts an invocation, and the same least privilege
// (without the polling sources' CloudTrail actions) plus its own logs.
func TestLambda(t *testing.T) {
	tm := loadTemplate(t, lambdaTemplate)
	s := deployTemplate(t, tm, lambdaParams(fullParams()))
	fn := s.Resources["Function"].Properties
	if fn["Runtime"] != "provided.al2023" || fn["Handler"] != "bootstrap" {
		t.Errorf("runtime %v, handler %v", fn["Runtime"], fn["Handler"])
	}
	if role, _ := s.attr("Role", "Arn"); fn["Role"] != role {
		t.Errorf("function role %v", fn["Role"])
	}
	code, _ := fn["Code"].(map[string]any)
	if code["S3Bucket"] != "example-artifacts" || code["S3Key"] != "trailsentry/bootstrap.zip" {
		t.Errorf("code %v", code)
	}
	if _, ok := code["S3ObjectVersion"]; ok {
		t.Error("an empty S3ObjectVersion is passed on")
	}
	env, _ := fn["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if vars["TRAILSENTRY_STATE"] != "postgres://trailsentry@db.internal:5432/trailsentry" || vars["TRAILSENTRY_CONFIG"] != "/var/task/trailsentry.yaml" {
		t.Errorf("environment %v", vars)
	}
	if tm.parameters["StateDsn"]["NoEcho"] != true {
		t.Error("StateDsn is echoed")
	}
	timeout := number(fn["Timeout"])
	for _, m := range []struct{ mapping, queue string }{{"LogQueueMapping", "LogQueue"}, {"ApiCallQueueMapping", "ApiCallQueue"}} {
		props := s.Resources[m.mapping].Properties
		q, _ := s.attr(m.queue, "Arn")
		fnName, _ := s.ref("Function")
		if props["EventSourceArn"] != q || props["FunctionName"] != fnName {
			t.Errorf("%s: source %v, function %v", m.mapping, props["EventSourceArn"], props["FunctionName"])
		}
		if got := asList(props["FunctionResponseTypes"]); len(got) != 1 || got[0] != "ReportBatchItemFailures" {
			t.Errorf("%s: FunctionResponseTypes %v", m.mapping, got)
		}
		if b := number(props["BatchSize"]); b < 1 || b > 10 && number(props["MaximumBatchingWindowInSeconds"]) < 1 {
			t.Errorf("%s: batch size %v without a batching window", m.mapping, b)
		}
		if vt := number(s.Resources[m.queue].Properties["VisibilityTimeout"]); vt < timeout {
			t.Errorf("%s: visibility timeout %v below the function timeout %v", m.queue, vt, timeout)
		}
	}
	if err := tm.admits("FunctionTimeout", "901"); err == nil {
		t.Error("a timeout over Lambda's 900 s is admitted")
	}

	doc := rolePolicy(t, s)
	decide := asRole(s, doc)
	logGroup, _ := s.attr("FunctionLogGroup", "Arn")
	logStream := strings.TrimSuffix(logGroup.(string), "*") + "log-stream:2026/11/23/[$LATEST]0123456789abcdef"
	logQueue, _ := s.attr("LogQueue", "Arn")
	dlq, _ := s.attr("LogDeadLetterQueue", "Arn")
	key := prefix + "/AWSLogs/" + orgID + "/" + account + "/CloudTrail/" + region + "/" + logDay + "/" + logName
	expect(t, decide,
		[]ask{
			{action: "sqs:ReceiveMessage", resource: logQueue.(string)},
			{action: "sqs:DeleteMessage", resource: logQueue.(string)},
			{action: "sqs:GetQueueAttributes", resource: logQueue.(string)},
			{action: "s3:GetObject", resource: s3Object(bucket, key)},
			{action: "kms:Decrypt", resource: keyARN, ctx: policy.Context{"kms:ViaService": {"s3." + region + ".amazonaws.com"}}},
			{action: "secretsmanager:GetSecretValue", resource: slackARN},
			{action: "sns:Publish", resource: topicARN},
			{action: "logs:CreateLogStream", resource: logStream},
			{action: "logs:PutLogEvents", resource: logStream},
		},
		[]ask{
			{action: "sqs:SendMessage", resource: logQueue.(string)},
			{action: "sqs:SendMessage", resource: dlq.(string)},
			{action: "sqs:ChangeMessageVisibility", resource: logQueue.(string)},
			{action: "s3:GetObject", resource: s3Object(bucket, "exports/customers.csv")},
			{action: "s3:PutObject", resource: s3Object(bucket, key)},
			{action: "kms:Decrypt", resource: keyARN},
			{action: "cloudtrail:LookupEvents", resource: "*"},
			{action: "logs:CreateLogGroup", resource: "*"},
			{action: "logs:PutLogEvents", resource: "arn:aws:logs:" + region + ":" + account + ":log-group:/aws/lambda/other:log-stream:x"},
			{action: "logs:DeleteLogGroup", resource: logGroup.(string)},
			{action: "lambda:UpdateFunctionCode", resource: "*"},
			{action: "iam:PassRole", resource: "*"},
		})
	want := []string{
		"kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket",
		"secretsmanager:GetSecretValue", "sns:Publish", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
	}
	if got := grantedActions(doc); !slices.Equal(got, want) {
		t.Errorf("granted actions:\n got %v\nwant %v", got, want)
	}
	trust := parsePolicy(t, s.Resources["Role"].Properties["AssumeRolePolicyDocument"], "trust", "trust policy")
	roleARN, _ := s.attr("Role", "Arn")
	for svc, want := range map[string]policy.Decision{"lambda.amazonaws.com": policy.Allowed, "ecs-tasks.amazonaws.com": policy.ImplicitDeny} {
		r := policy.Evaluate(policy.Request{Principal: svc, Action: "sts:AssumeRole", Resource: roleARN.(string)}, policy.Set{Resource: []*policy.Policy{trust}})
		if r.Decision != want {
			t.Errorf("%s assumes the role: %v, want %v", svc, r.Decision, want)
		}
	}
}

// TestSameGrantsInBothTemplates: the statements the two roles share are the
// same, so that a fix to one cannot silently miss the other.
func TestSameGrantsInBothTemplates(t *testing.T) {
	main := rolePolicy(t, deployTemplate(t, loadTemplate(t, mainTemplate), fullParams()))
	lambda := rolePolicy(t, deployTemplate(t, loadTemplate(t, lambdaTemplate), lambdaParams(fullParams())))
	bySid := func(p *policy.Policy) map[string]policy.Statement {
		m := map[string]policy.Statement{}
		for _, st := range p.Statements {
			m[st.Sid] = st
		}
		return m
	}
	lm := bySid(lambda)
	for _, sid := range []string{"ReadTrailLogFiles", "ListTrailLogFolders", "DecryptTrailLogFiles", "ReadAlertSecrets", "PublishAlerts"} {
		a, ok := bySid(main)[sid]
		b, ok2 := lm[sid]
		if !ok || !ok2 {
			t.Errorf("%s: in main %v, in lambda %v", sid, ok, ok2)
			continue
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s differs:\n main   %s\n lambda %s", sid, ja, jb)
		}
	}
}

// awsCLI is the AWS CLI to run, or "" (the test skips, or fails under CI).
func awsCLI(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TRAILSENTRY_TEST_AWSCLI")
	if path == "" {
		path = "/usr/bin/aws"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the AWS CLI is needed under CI: %v", err)
		}
		t.Skipf("no AWS CLI at %s", path)
	}
	return path
}

// TestCommandsWithAWSCLI runs the commands the outputs print, as a user
// would, through the real AWS CLI against a local S3 endpoint on loopback:
// the CLI must accept the JSON (it validates it against the API model) and
// send the bucket the notification configuration the test expects.
func TestCommandsWithAWSCLI(t *testing.T) {
	t.Parallel()
	aws := awsCLI(t)
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+"\n"+string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	run := func(cmd string) {
		t.Helper()
		rest, ok := strings.CutPrefix(cmd, "aws ")
		if !ok {
			t.Fatalf("not an aws command: %s", cmd)
		}
		sh := exec.Command("/bin/sh", "-c", aws+" --endpoint-url "+srv.URL+" "+rest)
		sh.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			"AWS_DEFAULT_REGION="+region, "AWS_REGION="+region, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	tm := loadTemplate(t, mainTemplate)
	p := fullParams()
	p["NotificationRoute"] = "S3Notification"
	s := deployTemplate(t, tm, p)
	run(s.Outputs["NotificationCommand"].(string))
	s = deployTemplate(t, tm, fullParams())
	run(s.Outputs["EventBridgeCommand"].(string))

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d requests: %v", len(got), got)
	}
	logQueue, _ := s.attr("LogQueue", "Arn")
	for _, want := range []string{
		"PUT /" + bucket + "?notification",
		"<QueueConfiguration><Id>trailsentry</Id><Queue>" + logQueue.(string) + "</Queue><Event>s3:ObjectCreated:*</Event>",
		"<FilterRule><Name>prefix</Name><Value>" + prefix + "/AWSLogs/" + orgID + "/</Value></FilterRule>",
		"<FilterRule><Name>suffix</Name><Value>.json.gz</Value></FilterRule>",
	} {
		if !strings.Contains(got[0], want) {
			t.Errorf("the notification request lacks %q:\n%s", want, got[0])
		}
	}
	if !strings.Contains(got[1], "PUT /"+bucket+"?notification") || !strings.Contains(got[1], "<EventBridgeConfiguration") || strings.Contains(got[1], "<QueueConfiguration") {
		t.Errorf("the EventBridge request:\n%s", got[1])
	}
}

// cfnLint finds cfn-lint and a Python that imports its package: on PATH,
// else in pyenv's shims (pip installs it there on this project's machines),
// or where $TRAILSENTRY_TEST_CFNLINT says. Without it the test skips, or
// fails under CI.
func cfnLint(t *testing.T) (lint, python string) {
	t.Helper()
	home, _ := os.UserHomeDir()
	shims := filepath.Join(home, ".pyenv", "shims")
	for _, c := range []string{os.Getenv("TRAILSENTRY_TEST_CFNLINT"), "cfn-lint", filepath.Join(shims, "cfn-lint")} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			lint = p
			break
		}
	}
	for _, c := range []string{filepath.Join(filepath.Dir(lint), "python3"), "python3", filepath.Join(shims, "python3")} {
		if p, err := exec.LookPath(c); err == nil && exec.Command(p, "-c", "import cfnlint").Run() == nil {
			python = p
			break
		}
	}
	if lint == "" || python == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("cfn-lint is needed under CI (found %q, a Python with cfnlint %q)", lint, python)
		}
		t.Skip("no cfn-lint")
	}
	return lint, python
}

// TestCfnLint runs cfn-lint, which checks the templates against
// CloudFormation's registry schemas of every region.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	lint, _ := cfnLint(t)
	out, err := exec.Command(lint, "--regions", "us-east-1", "eu-west-1", "--", mainTemplate, lambdaTemplate).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}

// TestTypesAgreeWithSchemas compares resourceTypes with the registry
// schemas cfn-lint ships: every property listed exists and is writable, the
// required ones are the schema's, and every attribute exists.
func TestTypesAgreeWithSchemas(t *testing.T) {
	t.Parallel()
	_, python := cfnLint(t)
	const script = `
import json, sys
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER as m
out = {}
for t in json.load(sys.stdin):
    s = m.get_resource_schema("us-east-1", t)
    ro = [p.split("/")[-1] for p in s.schema.get("readOnlyProperties", [])]
    out[t] = {"required": sorted(s.schema.get("required", [])),
              "properties": sorted(p for p in s.schema["properties"] if p not in ro),
              "attributes": sorted(s.get_atts.keys())}
json.dump(out, sys.stdout)
`
	cmd := exec.Command(python, "-c", script)
	in, _ := json.Marshal(sortedKeys(resourceTypes))
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("reading cfn-lint's schemas: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var schemas map[string]struct{ Required, Properties, Attributes []string }
	if err := json.Unmarshal(out, &schemas); err != nil {
		t.Fatal(err)
	}
	for _, typ := range sortedKeys(resourceTypes) {
		rt, sc := resourceTypes[typ], schemas[typ]
		req := slices.Clone(rt.required)
		slices.Sort(req)
		if !slices.Equal(req, sc.Required) {
			t.Errorf("%s: required %v, the schema's %v", typ, req, sc.Required)
		}
		for _, p := range rt.properties {
			if !slices.Contains(sc.Properties, p) {
				t.Errorf("%s: property %s is not a writable property of the schema", typ, p)
			}
		}
		for _, a := range rt.attributes {
			if !slices.Contains(sc.Attributes, a) {
				t.Errorf("%s: attribute %s is not in the schema", typ, a)
			}
		}
	}
}

// FuzzDecodeTemplate: no input makes the decoder, the checks or a deployment
// panic; what decodes is checked and deployed like a template.
func FuzzDecodeTemplate(f *testing.F) {
	for _, path := range []string{mainTemplate, lambdaTemplate} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub '${AWS::StackName}-${Q.Arn}'}}\n"))
	f.Add([]byte("Conditions:\n  A: !Not [!Condition A]\nResources:\n  Q: {Type: AWS::SQS::Queue, Condition: A}\n"))
	f.Add([]byte("Resources: !If [a, b, c]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, err := newTemplate("fuzz.yaml", data)
		if err != nil {
			return
		}
		_ = tm.check()
		_, _ = tm.deploy(nil)
	})
}
