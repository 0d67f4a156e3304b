package enrich

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trailsentry/trailsentry/internal/event"
)

// callRecord is an AssumedRole call with the given parameters, as CloudTrail
// writes it.
func callRecord(source, name, params string) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:ops","arn":"arn:aws:sts::111122223333:assumed-role/Ops/ops","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEOPS00001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Ops","accountId":"111122223333","userName":"Ops"},"attributes":{"creationDate":"2024-05-01T09:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-05-01T10:00:00Z","eventSource":"%s","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"aws-cli/2.15.30","requestParameters":%s,"responseElements":null,"eventID":"0a1b2c3d-0000-4000-8000-000000000001","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, source, name, params)
}

func ingress(perms string) string {
	return callRecord("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", `{"groupId":"sg-0123456789abcdef0","ipPermissions":{"items":[`+perms+`]}}`)
}

func TestWorldOpen(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	cases := []struct {
		name  string
		rec   string
		open  bool
		ports []string
	}{
		{"ssh to the world", ingress(`{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}`), true, []string{"22"}},
		{"any prefix-0 spelling", ingress(`{"ipProtocol":"tcp","fromPort":3389,"toPort":3389,"ipRanges":{"items":[{"cidrIp":"10.1.2.3/0"}]}}`), true, []string{"3389"}},
		{"ipv6 world, port range", ingress(`{"ipProtocol":"tcp","fromPort":3300,"toPort":5500,"ipRanges":{},"ipv6Ranges":{"items":[{"cidrIpv6":"::/0"}]}}`), true, []string{"3306", "3389", "5432"}},
		{"all traffic", ingress(`{"ipProtocol":"-1","ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}`), true, []string{"all"}},
		{"https to the world: open, no admin port", ingress(`{"ipProtocol":"tcp","fromPort":443,"toPort":443,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}`), true, nil},
		{"ssh from the office", ingress(`{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"198.51.100.0/24"}]}}`), false, nil},
		{"text that only looks open", ingress(`{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/01"},{"cidrIp":"10.0.0.0/8","description":"not 0.0.0.0/0"}]}}`), false, nil},
		{"second permission open", ingress(`{"ipProtocol":"tcp","fromPort":443,"toPort":443,"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}},{"ipProtocol":"tcp","fromPort":6379,"toPort":6379,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}`), true, []string{"6379"}},
		{"modified rule opened to the world", callRecord("ec2.amazonaws.com", "ModifySecurityGroupRules", `{"ModifySecurityGroupRulesRequest":{"GroupId":"sg-0123456789abcdef0","SecurityGroupRule":{"SecurityGroupRuleId":"sgr-0abc","SecurityGroupRule":{"Description":"","FromPort":3389,"ToPort":3389,"IpProtocol":"tcp","CidrIpv4":"0.0.0.0/0"},"tag":1}}}`), true, []string{"3389"}},
		{"modified rule to an office range", callRecord("ec2.amazonaws.com", "ModifySecurityGroupRules", `{"ModifySecurityGroupRulesRequest":{"GroupId":"sg-0123456789abcdef0","SecurityGroupRule":[{"SecurityGroupRuleId":"sgr-0abc","SecurityGroupRule":{"FromPort":22,"ToPort":22,"IpProtocol":"tcp","CidrIpv4":"198.51.100.0/24"}}]}}`), false, nil},
		{"nacl allow ssh", callRecord("ec2.amazonaws.com", "CreateNetworkAclEntry", `{"networkAclId":"acl-0123","ruleNumber":100,"egress":false,"ruleAction":"allow","icmpTypeCode":{},"protocol":"6","portRange":{"from":22,"to":22},"cidrBlock":"0.0.0.0/0"}`), true, []string{"22"}},
		{"nacl deny is not an opening", callRecord("ec2.amazonaws.com", "CreateNetworkAclEntry", `{"networkAclId":"acl-0123","ruleNumber":90,"egress":false,"ruleAction":"deny","protocol":"6","portRange":{"from":22,"to":22},"cidrBlock":"0.0.0.0/0"}`), false, nil},
		{"db security group", callRecord("rds.amazonaws.com", "AuthorizeDBSecurityGroupIngress", `{"dBSecurityGroupName":"default","cIDRIP":"0.0.0.0/0"}`), true, []string{"all"}},
		{"no parameters", callRecord("ec2.amazonaws.com", "DescribeInstances", `null`), false, nil},
	}
	for _, c := range cases {
		v.Reset(decode(t, c.rec))
		open, ports := v.WorldOpen()
		if open != c.open || !slices.Equal(ports, c.ports) {
			t.Errorf("%s: open %v ports %v, want %v %v", c.name, open, ports, c.open, c.ports)
		}
		// The rule-facing field agrees.
		var seen []string
		ref, _ := CompileField(Prefix + "request.worldOpenPorts")
		v.Lookup(ref, func(val event.Value) bool {
			if val.Kind == event.String {
				seen = append(seen, val.Str)
			}
			return false
		})
		if !slices.Equal(seen, c.ports) {
			t.Errorf("%s: field visits %v, want %v", c.name, seen, c.ports)
		}
	}
}

func TestPolicyExposure(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	bucketPolicy := func(stmt string) string {
		return callRecord("s3.amazonaws.com", "PutBucketPolicy", `{"bucketName":"reports","bucketPolicy":{"Version":"2012-10-17","Statement":`+stmt+`},"Host":"reports.s3.amazonaws.com","policy":""}`)
	}
	cases := []struct {
		name     string
		rec      string
		exposure string
		accounts []string
	}{
		{"public bucket", bucketPolicy(`[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]`), ExposurePublic, nil},
		{"public as AWS star", bucketPolicy(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:*","Resource":"arn:aws:s3:::reports/*"}`), ExposurePublic, nil},
		{"public but only from the VPC endpoint", bucketPolicy(`[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0123"}}}]`), ExposureConditional, nil},
		{"external account", bucketPolicy(`[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:role/Ops"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]`), ExposureExternal, []string{"444455556666"}},
		{"own account and a service", bucketPolicy(`[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root","Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::reports/*"}]`), "", nil},
		{"deny star is not a grant", bucketPolicy(`[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::reports/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]`), "", nil},
		{"role trust as a JSON string", callRecord("iam.amazonaws.com", "UpdateAssumeRolePolicy", `{"roleName":"Ops","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"999988887777\"},\"Action\":\"sts:AssumeRole\"}]}"}`), ExposureExternal, []string{"999988887777"}},
		{"role trust with external id", callRecord("iam.amazonaws.com", "UpdateAssumeRolePolicy", `{"roleName":"Ops","policyDocument":"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::999988887777:root\"},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"sts:ExternalId\":\"x\"}}}]}"}`), ExposureConditional, nil},
		{"lambda public permission", callRecord("lambda.amazonaws.com", "AddPermission20150331v2", `{"functionName":"exporter","statementId":"open","action":"lambda:InvokeFunction","principal":"*"}`), ExposurePublic, nil},
		{"lambda permission for S3 with a source", callRecord("lambda.amazonaws.com", "AddPermission20150331v2", `{"functionName":"exporter","statementId":"s3","action":"lambda:InvokeFunction","principal":"s3.amazonaws.com","sourceArn":"arn:aws:s3:::reports"}`), "", nil},
		{"lambda for another account", callRecord("lambda.amazonaws.com", "AddPermission20150331v2", `{"functionName":"exporter","statementId":"x","action":"lambda:InvokeFunction","principal":"444455556666"}`), ExposureExternal, []string{"444455556666"}},
		{"layer shared with the organization only", callRecord("lambda.amazonaws.com", "AddLayerVersionPermission20181031", `{"layerName":"common","versionNumber":3,"statementId":"org","action":"lambda:GetLayerVersion","principal":"*","organizationId":"o-a1b2c3d4e5"}`), ExposureConditional, nil},
		{"kms key policy string", callRecord("kms.amazonaws.com", "PutKeyPolicy", `{"keyId":"k","policyName":"default","policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"}`), ExposurePublic, nil},
		{"not a policy", callRecord("ec2.amazonaws.com", "DescribeInstances", `{"maxResults":5}`), "", nil},
		{"malformed policy text", callRecord("iam.amazonaws.com", "UpdateAssumeRolePolicy", `{"roleName":"Ops","policyDocument":"{not json"}`), "", nil},
	}
	for _, c := range cases {
		v.Reset(decode(t, c.rec))
		exp, accts := v.PolicyExposure()
		if exp != c.exposure || !slices.Equal(accts, c.accounts) {
			t.Errorf("%s: %q %v, want %q %v", c.name, exp, accts, c.exposure, c.accounts)
		}
		if got, _ := v.Field(Prefix + "request.policyExposure"); got.Str != c.exposure {
			t.Errorf("%s: field %q", c.name, got.Str)
		}
	}
	if ref, err := Reference(); err != nil || !strings.Contains(ref, "policyExposure") {
		t.Errorf("reference lacks the field: %v", err)
	}
}
