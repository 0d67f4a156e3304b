package enrich

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// deniedCall is a failed call as CloudTrail records it: who (an IAM user or
// an assumed-role session), what, and the error CloudTrail copied from the
// service's response.
func deniedCall(identity, source, name, params, code, message string) string {
	msg, _ := json.Marshal(message)
	return `{"eventVersion":"1.10","userIdentity":` + identity + `,"eventTime":"2025-02-11T16:21:05Z","eventSource":"` + source + `","eventName":"` + name +
		`","awsRegion":"ap-southeast-2","sourceIPAddress":"203.0.113.40","userAgent":"Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.51",` +
		`"errorCode":"` + code + `","errorMessage":` + string(msg) + `,"requestParameters":` + params +
		`,"responseElements":null,"requestID":"e6f1f4a2-2f51-4c3b-9bde-3b3b6f0f2a11","eventID":"5c0f7a35-0a5e-4e2f-a7c0-0ad1a8e7b9d2","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"` + strings.TrimSuffix(source, ".amazonaws.com") + `.ap-southeast-2.amazonaws.com"}}`
}

const (
	devUser     = `{"type":"IAMUser","principalId":"AIDAXU5EXAMPLEDEV001","arn":"arn:aws:iam::111122223333:user/dev","accountId":"111122223333","accessKeyId":"AKIAXU5EXAMPLEDEV001","userName":"dev"}`
	roleSession = `{"type":"AssumedRole","principalId":"AROAXU5EXAMPLEAPP01:alice","arn":"arn:aws:sts::111122223333:assumed-role/app/alice","accountId":"111122223333","accessKeyId":"ASIAXU5EXAMPLEAPP001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAXU5EXAMPLEAPP01","arn":"arn:aws:iam::111122223333:role/app","accountId":"111122223333","userName":"app"},"attributes":{"creationDate":"2025-02-11T15:58:40Z","mfaAuthenticated":"false"}}}`
	webIdentity = `{"type":"WebIdentityUser","principalId":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:acme/web:ref:refs/heads/main","userName":"repo:acme/web:ref:refs/heads/main","identityProvider":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`
	encodedMsg  = "4pd2QrFdTK2hF-gAExPO9mPkeXqxbYgyL4A2m_T5o2YCDKPZbtmhaLMzU4yXqt7ZSjmMdIVMKD4nw1GBYBUMbqrxCIHsP8zZE0fEfu9iBCpRrdMGTpbqZ2T0QuDswf5a8iCz4BLS"
)

func TestDenialClassification(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	cases := []struct {
		name, record string
		want         Denial
		guardrail    bool
		missing      bool
	}{
		{"explicit deny in an SCP (EC2, with its encoded message)",
			deniedCall(roleSession, "ec2.amazonaws.com", "RunInstances", `{"instancesSet":{"items":[{"imageId":"ami-0abcdef1234567890","minCount":1,"maxCount":1}]},"instanceType":"p4d.24xlarge"}`,
				"Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:ap-southeast-2:111122223333:instance/* with an explicit deny in a service control policy. Encoded authorization failure message: "+encodedMsg),
			Denial{Denied: true, Code: "Client.UnauthorizedOperation", Kind: DenySCP, Explicit: true, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "ec2:RunInstances", Resource: "arn:aws:ec2:ap-southeast-2:111122223333:instance/*", Encoded: encodedMsg},
			true, false},
		{"explicit deny in an SCP that the message names",
			deniedCall(devUser, "cloudtrail.amazonaws.com", "StopLogging", `{"name":"org-trail"}`, "AccessDenied",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:ap-southeast-2:111122223333:trail/org-trail with an explicit deny in a service control policy: arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-examplepolicyid111"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenySCP, Explicit: true, Principal: "arn:aws:iam::111122223333:user/dev", Action: "cloudtrail:StopLogging", Resource: "arn:aws:cloudtrail:ap-southeast-2:111122223333:trail/org-trail", Policy: "arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-examplepolicyid111"},
			true, false},
		{"explicit deny in an RCP (S3, quoted resource)",
			deniedCall(roleSession, "s3.amazonaws.com", "GetObject", `{"bucketName":"data-bkt","key":"exports/q1 2025.csv"}`, "AccessDenied",
				`User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::data-bkt/exports/q1 2025.csv" with an explicit deny in a resource control policy`),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyRCP, Explicit: true, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "s3:GetObject", Resource: "arn:aws:s3:::data-bkt/exports/q1 2025.csv"},
			true, false},
		{"explicit deny in a permissions boundary",
			deniedCall(devUser, "iam.amazonaws.com", "CreateUser", `{"userName":"shadow"}`, "AccessDenied",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::111122223333:user/shadow with an explicit deny in a permissions boundary"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyBoundary, Explicit: true, Principal: "arn:aws:iam::111122223333:user/dev", Action: "iam:CreateUser", Resource: "arn:aws:iam::111122223333:user/shadow"},
			true, false},
		{"explicit deny in a session policy",
			deniedCall(roleSession, "secretsmanager.amazonaws.com", "GetSecretValue", `{"secretId":"prod/db"}`, "AccessDeniedException",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/db with an explicit deny in a session policy"),
			Denial{Denied: true, Code: "AccessDeniedException", Kind: DenySessionPolicy, Explicit: true, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "secretsmanager:GetSecretValue", Resource: "prod/db"},
			false, false},
		{"explicit deny in an identity-based policy, named",
			deniedCall(devUser, "cloudtrail.amazonaws.com", "DeleteTrail", `{"name":"org-trail"}`, "AccessDenied",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: cloudtrail:DeleteTrail on resource: arn:aws:cloudtrail:ap-southeast-2:111122223333:trail/org-trail with an explicit deny in an identity-based policy: arn:aws:iam::111122223333:policy/DenyTrailChanges"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyIdentityPolicy, Explicit: true, Principal: "arn:aws:iam::111122223333:user/dev", Action: "cloudtrail:DeleteTrail", Resource: "arn:aws:cloudtrail:ap-southeast-2:111122223333:trail/org-trail", Policy: "arn:aws:iam::111122223333:policy/DenyTrailChanges"},
			false, false},
		{"explicit deny in a resource-based policy",
			deniedCall(roleSession, "sqs.amazonaws.com", "SendMessage", `{"queueUrl":"https://sqs.ap-southeast-2.amazonaws.com/111122223333/orders"}`, "AccessDenied",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:ap-southeast-2:111122223333:orders with an explicit deny in a resource-based policy"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyResourcePolicy, Explicit: true, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "sqs:sendmessage", Resource: "arn:aws:sqs:ap-southeast-2:111122223333:orders"},
			false, false},
		{"explicit deny in a VPC endpoint policy",
			deniedCall(roleSession, "s3.amazonaws.com", "PutObject", `{"bucketName":"exfil-bkt","key":"dump.tar"}`, "AccessDenied",
				`User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::exfil-bkt/dump.tar" with an explicit deny in a VPC endpoint policy`),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyVPCEndpointPolicy, Explicit: true, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "s3:PutObject", Resource: "arn:aws:s3:::exfil-bkt/dump.tar"},
			true, false},
		{"no identity-based policy allows",
			deniedCall(devUser, "iam.amazonaws.com", "ListRoles", `null`, "AccessDenied",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::111122223333:role/ because no identity-based policy allows the iam:ListRoles action"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyIdentityPolicy, Principal: "arn:aws:iam::111122223333:user/dev", Action: "iam:ListRoles", Resource: "arn:aws:iam::111122223333:role/"},
			false, true},
		{"no identity-based policy allows, no resource",
			deniedCall(devUser, "codecommit.amazonaws.com", "ListRepositories", `null`, "AccessDeniedException",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: codecommit:ListRepositories because no identity-based policy allows the codecommit:ListRepositories action"),
			Denial{Denied: true, Code: "AccessDeniedException", Kind: DenyIdentityPolicy, Principal: "arn:aws:iam::111122223333:user/dev", Action: "codecommit:ListRepositories"},
			false, true},
		{"no service control policy allows",
			deniedCall(roleSession, "bedrock.amazonaws.com", "InvokeModel", `{"modelId":"anthropic.claude-3-sonnet-20240229-v1:0"}`, "AccessDeniedException",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:ap-southeast-2::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0 because no service control policy allows the bedrock:InvokeModel action"),
			Denial{Denied: true, Code: "AccessDeniedException", Kind: DenySCP, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "bedrock:InvokeModel", Resource: "arn:aws:bedrock:ap-southeast-2::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0"},
			true, false},
		{"no permissions boundary allows",
			deniedCall(devUser, "iam.amazonaws.com", "AttachUserPolicy", `{"userName":"dev","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`, "AccessDenied",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: iam:AttachUserPolicy on resource: user dev because no permissions boundary allows the iam:AttachUserPolicy action"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyBoundary, Principal: "arn:aws:iam::111122223333:user/dev", Action: "iam:AttachUserPolicy", Resource: "user dev"},
			true, false},
		{"no session policy allows",
			deniedCall(roleSession, "dynamodb.amazonaws.com", "DeleteTable", `{"tableName":"orders"}`, "AccessDeniedException",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: dynamodb:DeleteTable on resource: arn:aws:dynamodb:ap-southeast-2:111122223333:table/orders because no session policy allows the dynamodb:DeleteTable action"),
			Denial{Denied: true, Code: "AccessDeniedException", Kind: DenySessionPolicy, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "dynamodb:DeleteTable", Resource: "arn:aws:dynamodb:ap-southeast-2:111122223333:table/orders"},
			false, true},
		{"no resource-based policy allows (cross-account Lambda)",
			deniedCall(roleSession, "lambda.amazonaws.com", "Invoke", `{"functionName":"arn:aws:lambda:ap-southeast-2:444455556666:function:billing"}`, "AccessDeniedException",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:ap-southeast-2:444455556666:function:billing because no resource-based policy allows the lambda:InvokeFunction action"),
			Denial{Denied: true, Code: "AccessDeniedException", Kind: DenyResourcePolicy, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "lambda:InvokeFunction", Resource: "arn:aws:lambda:ap-southeast-2:444455556666:function:billing"},
			false, true},
		{"no VPC endpoint policy allows",
			deniedCall(roleSession, "s3.amazonaws.com", "ListObjects", `{"bucketName":"other-bkt"}`, "AccessDenied",
				`User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::other-bkt" because no VPC endpoint policy allows the s3:ListBucket action`),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyVPCEndpointPolicy, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "s3:ListBucket", Resource: "arn:aws:s3:::other-bkt"},
			true, false},
		{"older form without a reason (role trust)",
			deniedCall(devUser, "sts.amazonaws.com", "AssumeRole", `{"roleArn":"arn:aws:iam::444455556666:role/admin","roleSessionName":"dev"}`, "AccessDenied",
				"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/admin"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyUnknown, Principal: "arn:aws:iam::111122223333:user/dev", Action: "sts:AssumeRole", Resource: "arn:aws:iam::444455556666:role/admin"},
			false, false},
		{"S3 says only Access Denied",
			deniedCall(devUser, "s3.amazonaws.com", "GetBucketPolicy", `{"bucketName":"data-bkt","policy":""}`, "AccessDenied", "Access Denied"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyUnknown},
			false, false},
		{"EC2 with only the encoded message",
			deniedCall(devUser, "ec2.amazonaws.com", "TerminateInstances", `{"instancesSet":{"items":[{"instanceId":"i-0aaaaaaaaaaaaaaaa"}]}}`, "Client.UnauthorizedOperation",
				"You are not authorized to perform this operation. Encoded authorization failure message: "+encodedMsg),
			Denial{Denied: true, Code: "Client.UnauthorizedOperation", Kind: DenyUnknown, Encoded: encodedMsg},
			false, false},
		{"SNS AuthorizationError, upper-case service",
			deniedCall(roleSession, "sns.amazonaws.com", "Publish", `{"topicArn":"arn:aws:sns:ap-southeast-2:444455556666:alerts"}`, "AuthorizationError",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: SNS:Publish on resource: arn:aws:sns:ap-southeast-2:444455556666:alerts because no resource-based policy allows the SNS:Publish action"),
			Denial{Denied: true, Code: "AuthorizationError", Kind: DenyResourcePolicy, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "sns:Publish", Resource: "arn:aws:sns:ap-southeast-2:444455556666:alerts"},
			false, true},
		{"KMS: the key policy, one way or the other",
			deniedCall(roleSession, "kms.amazonaws.com", "Decrypt", `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`, "AccessDenied",
				"User: arn:aws:sts::111122223333:assumed-role/app/alice is not authorized to perform: kms:Decrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyResourcePolicy, Principal: "arn:aws:sts::111122223333:assumed-role/app/alice", Action: "kms:Decrypt"},
			false, true},
		{"web identity refused by the trust policy",
			deniedCall(webIdentity, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", `{"roleArn":"arn:aws:iam::111122223333:role/gha-deploy","roleSessionName":"GitHubActions"}`, "AccessDenied",
				"Not authorized to perform sts:AssumeRoleWithWebIdentity"),
			Denial{Denied: true, Code: "AccessDenied", Kind: DenyUnknown, Action: "sts:AssumeRoleWithWebIdentity"},
			false, false},
		{"API Gateway Forbidden, no message",
			deniedCall(devUser, "apigateway.amazonaws.com", "GetRestApis", `null`, "Forbidden", ""),
			Denial{Denied: true, Code: "Forbidden", Kind: DenyUnknown},
			false, false},
		{"not an authorization failure",
			deniedCall(devUser, "iam.amazonaws.com", "GetUser", `{"userName":"ghost"}`, "NoSuchEntityException", "The user with name ghost cannot be found."),
			Denial{}, false, false},
		{"a success", apiCall("iam.amazonaws.com", "GetUser", `{"userName":"dev"}`, ""), Denial{}, false, false},
	}
	for _, c := range cases {
		v.Reset(decode(t, c.record))
		d := v.Denial()
		if d != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, d, c.want)
		}
		if d.Guardrail() != c.guardrail || d.MissingPermission() != c.missing {
			t.Errorf("%s: guardrail %v missing %v, want %v %v", c.name, d.Guardrail(), d.MissingPermission(), c.guardrail, c.missing)
		}
	}
}

// Guardrails and missing permissions are told apart for the same call.
func TestDenialGuardrailVersusMissing(t *testing.T) {
	scp := ParseDenial("AccessDenied", "User: arn:aws:iam::111122223333:user/dev is not authorized to perform: s3:DeleteBucket on resource: \"arn:aws:s3:::logs\" with an explicit deny in a service control policy")
	own := ParseDenial("AccessDenied", "User: arn:aws:iam::111122223333:user/dev is not authorized to perform: s3:DeleteBucket on resource: \"arn:aws:s3:::logs\" because no identity-based policy allows the s3:DeleteBucket action")
	if !scp.Guardrail() || scp.MissingPermission() || own.Guardrail() || !own.MissingPermission() {
		t.Errorf("scp %+v guardrail=%v missing=%v; own %+v guardrail=%v missing=%v", scp, scp.Guardrail(), scp.MissingPermission(), own, own.Guardrail(), own.MissingPermission())
	}
	// A message in an SDK error wrapper still parses.
	d := ParseDenial("", "An error occurred (AccessDenied) when calling the ListBuckets operation: User: arn:aws:iam::111122223333:user/dev is not authorized to perform: s3:ListAllMyBuckets because no identity-based policy allows the s3:ListAllMyBuckets action")
	if !d.Denied || d.Action != "s3:ListAllMyBuckets" || d.Kind != DenyIdentityPolicy || d.Principal != "arn:aws:iam::111122223333:user/dev" {
		t.Errorf("wrapped: %+v", d)
	}
}

var denyKinds = []string{"", DenySCP, DenyRCP, DenyBoundary, DenySessionPolicy, DenyIdentityPolicy, DenyResourcePolicy, DenyVPCEndpointPolicy, DenyUnknown}

func FuzzParseDenial(f *testing.F) {
	f.Add("AccessDenied", `User: arn:aws:iam::111122223333:user/dev is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no identity-based policy allows the s3:GetObject action`)
	f.Add("Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: x is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:r:1:instance/* with an explicit deny in a service control policy: arn:aws:organizations::1:policy/p. Encoded authorization failure message: abc")
	f.Add("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	f.Add("AccessDenied", `is not authorized to perform: on resource: "`)
	f.Add("", "User: is not authorized to perform")
	f.Add("AuthorizationError", "explicit deny in a")
	f.Fuzz(func(t *testing.T, code, message string) {
		d := ParseDenial(code, message)
		if !d.Denied {
			if d != (Denial{}) {
				t.Fatalf("not denied but %+v", d)
			}
			return
		}
		if !slices.Contains(denyKinds, d.Kind) || d.Kind == "" {
			t.Fatalf("kind %q", d.Kind)
		}
		if d.Action != "" && (!isIAMAction(d.Action) || !strings.Contains(strings.ToLower(message), strings.ToLower(d.Action))) {
			t.Fatalf("action %q from %q", d.Action, message)
		}
		for _, s := range []string{d.Principal, d.Resource, d.Policy, d.Encoded} {
			if !strings.Contains(message, s) {
				t.Fatalf("%q is not in %q", s, message)
			}
		}
		if d.Explicit && d.Kind == "" {
			t.Fatal("explicit without a kind")
		}
	})
}
