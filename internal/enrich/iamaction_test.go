package enrich

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// apiCall is a CloudTrail record of a call by the IAM user dev of account
// 111122223333 in eu-west-1, shaped as CloudTrail writes it. params is the
// requestParameters JSON; extra, when not empty, is more top-level members
// ("resources":[...], "additionalEventData":{...}, "errorCode":...).
func apiCall(source, name, params, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAXU5EXAMPLEDEV001","arn":"arn:aws:iam::111122223333:user/dev","accountId":"111122223333","accessKeyId":"AKIAXU5EXAMPLEDEV001","userName":"dev"},` +
		`"eventTime":"2024-05-02T10:00:00Z","eventSource":"` + source + `","eventName":"` + name + `","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7",` +
		`"userAgent":"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9 md/arch#x86_64 lang/python#3.11.8","requestParameters":` + params +
		`,"responseElements":null,"requestID":"7f3c0a1e-5b2d-4c8e-9f1a-2b3c4d5e6f70","eventID":"0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"` +
		extra + `}`
}

// show renders an Authorization's actions one a line:
// "action resource,resource", with " (wildcard)" and the source when not
// the request.
func show(a Authorization) []string {
	var out []string
	for _, x := range a.Actions {
		s := x.Action + " " + strings.Join(x.Resources, ",")
		if x.Wildcard {
			s += " (wildcard)"
		}
		if x.From != "request" {
			s += " [" + x.From + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestIAMActionMapping(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	const (
		s3    = "s3.amazonaws.com"
		iam   = "iam.amazonaws.com"
		ec2   = "ec2.amazonaws.com"
		kms   = "kms.amazonaws.com"
		lmb   = "lambda.amazonaws.com"
		sts   = "sts.amazonaws.com"
		ddb   = "dynamodb.amazonaws.com"
		acct  = "111122223333"
		other = "444455556666"
	)
	cases := []struct {
		source, name, params, extra string
		need                        string // NeedIAM when empty
		want                        []string
	}{
		// S3: list calls are authorised on the bucket.
		{s3, "ListObjects", `{"bucketName":"logs-bkt","Host":"logs-bkt.s3.eu-west-1.amazonaws.com","prefix":"","delimiter":"/"}`, "", "",
			[]string{"s3:ListBucket arn:aws:s3:::logs-bkt"}},
		{s3, "ListObjectsV2", `{"bucketName":"logs-bkt","Host":"logs-bkt.s3.eu-west-1.amazonaws.com","list-type":"2"}`, "", "",
			[]string{"s3:ListBucket arn:aws:s3:::logs-bkt"}},
		{s3, "ListObjectVersions", `{"bucketName":"logs-bkt","versions":"","Host":"logs-bkt.s3.eu-west-1.amazonaws.com"}`, "", "",
			[]string{"s3:ListBucketVersions arn:aws:s3:::logs-bkt"}},
		{s3, "ListBuckets", `{"Host":"s3.eu-west-1.amazonaws.com"}`, "", "",
			[]string{"s3:ListAllMyBuckets *"}},
		// Objects: reads, versions, heads.
		{s3, "GetObject", `{"bucketName":"data-bkt","Host":"data-bkt.s3.eu-west-1.amazonaws.com","key":"reports/2024/q1.csv"}`, "", "",
			[]string{"s3:GetObject arn:aws:s3:::data-bkt/reports/2024/q1.csv"}},
		{s3, "GetObject", `{"bucketName":"data-bkt","key":"reports/q1.csv","versionId":"3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"}`, "", "",
			[]string{"s3:GetObjectVersion arn:aws:s3:::data-bkt/reports/q1.csv"}},
		{s3, "HeadObject", `{"bucketName":"data-bkt","key":"a b/c.txt"}`, "", "",
			[]string{"s3:GetObject arn:aws:s3:::data-bkt/a b/c.txt"}},
		{s3, "HeadObject", `{"bucketName":"data-bkt","key":"c.txt","versionId":"null"}`, "", "",
			[]string{"s3:GetObjectVersion arn:aws:s3:::data-bkt/c.txt"}},
		{s3, "DeleteObject", `{"bucketName":"data-bkt","key":"c.txt","versionId":"QUpfdndhfd8438MNFDN93jdnJFkdmqnh893"}`, "", "",
			[]string{"s3:DeleteObjectVersion arn:aws:s3:::data-bkt/c.txt"}},
		// Writes that carry an ACL, tags or a KMS key need more.
		{s3, "PutObject", `{"bucketName":"web-bkt","key":"index.html","x-amz-acl":"public-read","Host":"web-bkt.s3.amazonaws.com"}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::web-bkt/index.html", "s3:PutObjectAcl arn:aws:s3:::web-bkt/index.html"}},
		{s3, "PutObject", `{"bucketName":"web-bkt","key":"index.html","x-amz-tagging":"team=web","x-amz-grant-read":"uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::web-bkt/index.html", "s3:PutObjectAcl arn:aws:s3:::web-bkt/index.html", "s3:PutObjectTagging arn:aws:s3:::web-bkt/index.html"}},
		{s3, "PutObject", `{"bucketName":"sec-bkt","key":"k","x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::sec-bkt/k", "kms:GenerateDataKey arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{s3, "PutObject", `{"bucketName":"web-bkt","key":"index.html","x-amz-acl":null}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::web-bkt/index.html"}},
		// Copies read one object and write another.
		{s3, "CopyObject", `{"bucketName":"dst-bkt","Host":"dst-bkt.s3.eu-west-1.amazonaws.com","x-amz-copy-source":"src-bkt/path/orig%20file.txt","key":"copy.txt"}`, "", "",
			[]string{"s3:GetObject arn:aws:s3:::src-bkt/path/orig file.txt", "s3:PutObject arn:aws:s3:::dst-bkt/copy.txt"}},
		{s3, "CopyObject", `{"bucketName":"dst-bkt","x-amz-copy-source":"/src-bkt/orig.txt?versionId=L4kqtJlcpXroDTDmpUMLUo","key":"copy.txt","x-amz-acl":"bucket-owner-full-control"}`, "", "",
			[]string{"s3:GetObjectVersion arn:aws:s3:::src-bkt/orig.txt", "s3:PutObject arn:aws:s3:::dst-bkt/copy.txt", "s3:PutObjectAcl arn:aws:s3:::dst-bkt/copy.txt"}},
		{s3, "UploadPartCopy", `{"bucketName":"dst-bkt","key":"big.bin","partNumber":"2","uploadId":"VXBsb2FkIElE","x-amz-copy-source":"src-bkt/big.bin"}`, "", "",
			[]string{"s3:GetObject arn:aws:s3:::src-bkt/big.bin", "s3:PutObject arn:aws:s3:::dst-bkt/big.bin"}},
		// Multipart uploads are authorised as PutObject.
		{s3, "CreateMultipartUpload", `{"bucketName":"up-bkt","key":"big.bin","uploads":""}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::up-bkt/big.bin"}},
		{s3, "UploadPart", `{"bucketName":"up-bkt","key":"big.bin","partNumber":"1","uploadId":"VXBsb2FkIElE"}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::up-bkt/big.bin"}},
		{s3, "CompleteMultipartUpload", `{"bucketName":"up-bkt","key":"big.bin","uploadId":"VXBsb2FkIElE"}`, "", "",
			[]string{"s3:PutObject arn:aws:s3:::up-bkt/big.bin"}},
		{s3, "ListParts", `{"bucketName":"up-bkt","key":"big.bin","uploadId":"VXBsb2FkIElE"}`, "", "",
			[]string{"s3:ListMultipartUploadParts arn:aws:s3:::up-bkt/big.bin"}},
		{s3, "DeleteObjects", `{"bucketName":"data-bkt","Host":"data-bkt.s3.eu-west-1.amazonaws.com","delete":""}`, "", "",
			[]string{"s3:DeleteObject arn:aws:s3:::data-bkt/* (wildcard)"}},
		// Bucket configuration.
		{s3, "GetBucketPolicy", `{"bucketName":"data-bkt","policy":"","Host":"data-bkt.s3.amazonaws.com"}`, "", "",
			[]string{"s3:GetBucketPolicy arn:aws:s3:::data-bkt"}},
		{s3, "PutBucketPublicAccessBlock", `{"bucketName":"data-bkt","publicAccessBlock":"","PublicAccessBlockConfiguration":{"BlockPublicAcls":false}}`, "", "",
			[]string{"s3:PutBucketPublicAccessBlock arn:aws:s3:::data-bkt"}},
		{s3, "DeleteBucketPublicAccessBlock", `{"bucketName":"data-bkt","publicAccessBlock":""}`, "", "",
			[]string{"s3:PutBucketPublicAccessBlock arn:aws:s3:::data-bkt"}},
		{s3, "GetBucketLifecycleConfiguration", `{"bucketName":"data-bkt","lifecycle":""}`, "", "",
			[]string{"s3:GetLifecycleConfiguration arn:aws:s3:::data-bkt"}},
		{s3, "PutBucketReplication", `{"bucketName":"data-bkt","replication":"","ReplicationConfiguration":{"Role":"arn:aws:iam::111122223333:role/s3-replication","Rule":{"Status":"Enabled"}}}`, "", "",
			[]string{"s3:PutReplicationConfiguration arn:aws:s3:::data-bkt", "iam:PassRole arn:aws:iam::111122223333:role/s3-replication"}},
		// Lambda: API-version suffixes, function names in every form.
		{lmb, "Invoke", `{"functionName":"arn:aws:lambda:eu-west-1:111122223333:function:billing","invocationType":"RequestResponse"}`, "", "",
			[]string{"lambda:InvokeFunction arn:aws:lambda:eu-west-1:111122223333:function:billing"}},
		{lmb, "Invoke20150331", `{"functionName":"billing"}`, "", "",
			[]string{"lambda:InvokeFunction arn:aws:lambda:eu-west-1:111122223333:function:billing"}},
		{lmb, "UpdateFunctionCode20150331v2", `{"functionName":"billing","publish":false,"dryRun":false}`, "", "",
			[]string{"lambda:UpdateFunctionCode arn:aws:lambda:eu-west-1:111122223333:function:billing"}},
		{lmb, "GetFunction20150331v2", `{"functionName":"444455556666:function:shared"}`, "", "",
			[]string{"lambda:GetFunction arn:aws:lambda:eu-west-1:444455556666:function:shared"}},
		{lmb, "AddPermission20150331v2", `{"functionName":"billing","statementId":"public","action":"lambda:InvokeFunction","principal":"*"}`, "", "",
			[]string{"lambda:AddPermission arn:aws:lambda:eu-west-1:111122223333:function:billing"}},
		{lmb, "CreateFunction20150331", `{"functionName":"exfil","runtime":"python3.12","role":"arn:aws:iam::111122223333:role/lambda-admin","handler":"index.handler","code":{},"layers":["arn:aws:lambda:eu-west-1:444455556666:layer:tools:3"]}`, "", "",
			[]string{"lambda:CreateFunction arn:aws:lambda:eu-west-1:111122223333:function:exfil", "iam:PassRole arn:aws:iam::111122223333:role/lambda-admin", "lambda:GetLayerVersion arn:aws:lambda:eu-west-1:444455556666:layer:tools:3"}},
		// CloudFront and Route 53.
		{"cloudfront.amazonaws.com", "UpdateDistribution2020_05_31", `{"id":"E2QWRUHEXAMPLE","ifMatch":"E1"}`, "", "",
			[]string{"cloudfront:UpdateDistribution arn:aws:cloudfront::111122223333:distribution/E2QWRUHEXAMPLE"}},
		{"cloudfront.amazonaws.com", "CreateDistributionWithTags2020_05_31", `{"distributionConfigWithTags":{"tags":{"items":[]}}}`, "", "",
			[]string{"cloudfront:CreateDistribution arn:aws:cloudfront::111122223333:distribution/* (wildcard)", "cloudfront:TagResource arn:aws:cloudfront::111122223333:distribution/* (wildcard)"}},
		{"route53.amazonaws.com", "ChangeResourceRecordSets", `{"hostedZoneId":"/hostedzone/Z0123456789ABCDEFGHIJ","changeBatch":{"changes":[]}}`, "", "",
			[]string{"route53:ChangeResourceRecordSets arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"}},
		// STS: federation needs no identity permission; tags need TagSession.
		{sts, "AssumeRoleWithWebIdentity", `{"roleArn":"arn:aws:iam::111122223333:role/gha","roleSessionName":"gha"}`, "", NeedNone, nil},
		{sts, "AssumeRoleWithSAML", `{"roleArn":"arn:aws:iam::111122223333:role/okta","principalArn":"arn:aws:iam::111122223333:saml-provider/okta"}`, "", NeedNone, nil},
		{sts, "GetCallerIdentity", `null`, "", NeedNone, nil},
		{sts, "AssumeRole", `{"roleArn":"arn:aws:iam::444455556666:role/audit","roleSessionName":"alice","tags":[{"key":"team","value":"sec"}],"sourceIdentity":"alice"}`, "", "",
			[]string{"sts:AssumeRole arn:aws:iam::444455556666:role/audit", "sts:TagSession arn:aws:iam::444455556666:role/audit", "sts:SetSourceIdentity arn:aws:iam::444455556666:role/audit"}},
		// KMS: key ids, aliases, ARNs; Decrypt names its key only in resources[].
		{kms, "Decrypt", `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:lambda:FunctionArn":"arn:aws:lambda:eu-west-1:111122223333:function:billing"}}`,
			`"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]`, "",
			[]string{"kms:Decrypt arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab [record]"}},
		{kms, "ScheduleKeyDeletion", `{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","pendingWindowInDays":7}`, "", "",
			[]string{"kms:ScheduleKeyDeletion arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{kms, "DescribeKey", `{"keyId":"alias/prod-data"}`, "", "",
			[]string{"kms:DescribeKey arn:aws:kms:eu-west-1:111122223333:key/* (wildcard)"}},
		{kms, "CreateAlias", `{"aliasName":"alias/prod-data","targetKeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`, "", "",
			[]string{"kms:CreateAlias arn:aws:kms:eu-west-1:111122223333:alias/prod-data,arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{kms, "ReEncrypt", `{"sourceKeyId":"arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-12ab-34cd-56ef-1234567890ab","destinationKeyId":"2222bbbb-12ab-34cd-56ef-1234567890ab"}`, "", "",
			[]string{"kms:ReEncryptFrom arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-12ab-34cd-56ef-1234567890ab", "kms:ReEncryptTo arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-12ab-34cd-56ef-1234567890ab"}},
		// DynamoDB: tables by name, batches from resources[], the owner's account.
		{ddb, "GetItem", `{"tableName":"orders","key":{"pk":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`, "", "",
			[]string{"dynamodb:GetItem arn:aws:dynamodb:eu-west-1:111122223333:table/orders"}},
		{ddb, "GetItem", `{"tableName":"orders","key":{"pk":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`,
			`"resources":[{"accountId":"444455556666","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:eu-west-1:444455556666:table/orders"}]`, "",
			[]string{"dynamodb:GetItem arn:aws:dynamodb:eu-west-1:444455556666:table/orders"}},
		{ddb, "BatchGetItem", `{"requestItems":{"orders":{"keys":[]},"users":{"keys":[]}}}`,
			`"resources":[{"accountId":"111122223333","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:eu-west-1:111122223333:table/orders"},{"accountId":"111122223333","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:eu-west-1:111122223333:table/users"}]`, "",
			[]string{"dynamodb:BatchGetItem arn:aws:dynamodb:eu-west-1:111122223333:table/orders,arn:aws:dynamodb:eu-west-1:111122223333:table/users [record]"}},
		{ddb, "TransactGetItems", `{"transactItems":[]}`, "", "",
			[]string{"dynamodb:GetItem * (wildcard) [none]"}},
		{ddb, "ExecuteStatement", `{"statement":"***"}`, "", NeedUnknown, nil},
		// EC2: instance profiles pass a role, tags at launch need CreateTags.
		{ec2, "RunInstances", `{"instancesSet":{"items":[{"imageId":"ami-0abcdef1234567890","minCount":1,"maxCount":1}]},"instanceType":"t3.micro","iamInstanceProfile":{"arn":"arn:aws:iam::111122223333:instance-profile/web"},"tagSpecificationSet":{"items":[{"resourceType":"instance","tags":[{"key":"Name","value":"web"}]}]}}`, "", "",
			[]string{"ec2:RunInstances *", "iam:PassRole arn:aws:iam::111122223333:role/* (wildcard)", "ec2:CreateTags arn:aws:ec2:eu-west-1:111122223333:instance/* (wildcard)"}},
		{ec2, "RunInstances", `{"instancesSet":{"items":[{"imageId":"ami-0abcdef1234567890","minCount":1,"maxCount":1}]},"instanceType":"t3.micro"}`, "", "",
			[]string{"ec2:RunInstances *"}},
		{ec2, "StopInstances", `{"instancesSet":{"items":[{"instanceId":"i-0aaaaaaaaaaaaaaaa"},{"instanceId":"i-0bbbbbbbbbbbbbbbb"}]},"force":false}`, "", "",
			[]string{"ec2:StopInstances arn:aws:ec2:eu-west-1:111122223333:instance/i-0aaaaaaaaaaaaaaaa,arn:aws:ec2:eu-west-1:111122223333:instance/i-0bbbbbbbbbbbbbbbb"}},
		{ec2, "AuthorizeSecurityGroupIngress", `{"groupId":"sg-0123456789abcdef0","ipPermissions":{"items":[]}}`, "", "",
			[]string{"ec2:AuthorizeSecurityGroupIngress arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123456789abcdef0"}},
		{ec2, "ModifySnapshotAttribute", `{"snapshotId":"snap-0123456789abcdef0","createVolumePermission":{"add":{"items":[{"userId":"444455556666"}]}},"attributeType":"CREATE_VOLUME_PERMISSION"}`, "", "",
			[]string{"ec2:ModifySnapshotAttribute arn:aws:ec2:eu-west-1::snapshot/snap-0123456789abcdef0"}},
		// IAM: users, the caller itself, roles, groups, policies, tags at creation.
		{iam, "CreateLoginProfile", `{"userName":"alice","passwordResetRequired":false}`, "", "",
			[]string{"iam:CreateLoginProfile arn:aws:iam::111122223333:user/alice"}},
		{iam, "CreateAccessKey", `null`, "", "",
			[]string{"iam:CreateAccessKey arn:aws:iam::111122223333:user/dev"}},
		{iam, "AttachRolePolicy", `{"roleName":"ci","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`, "", "",
			[]string{"iam:AttachRolePolicy arn:aws:iam::111122223333:role/ci"}},
		{iam, "AddUserToGroup", `{"groupName":"admins","userName":"alice"}`, "", "",
			[]string{"iam:AddUserToGroup arn:aws:iam::111122223333:group/admins"}},
		{iam, "CreatePolicyVersion", `{"policyArn":"arn:aws:iam::111122223333:policy/ci-deploy","policyDocument":"{}","setAsDefault":true}`, "", "",
			[]string{"iam:CreatePolicyVersion arn:aws:iam::111122223333:policy/ci-deploy"}},
		{iam, "CreateRole", `{"roleName":"backdoor","assumeRolePolicyDocument":"{}","tags":[{"key":"owner","value":"x"}]}`, "", "",
			[]string{"iam:CreateRole arn:aws:iam::111122223333:role/backdoor", "iam:TagRole arn:aws:iam::111122223333:role/backdoor"}},
		{iam, "AddRoleToInstanceProfile", `{"instanceProfileName":"web","roleName":"admin"}`, "", "",
			[]string{"iam:AddRoleToInstanceProfile arn:aws:iam::111122223333:instance-profile/web", "iam:PassRole arn:aws:iam::111122223333:role/admin"}},
		// Sign-in.
		{"signin.amazonaws.com", "ConsoleLogin", `null`, `"additionalEventData":{"MFAUsed":"Yes"}`, NeedNone, nil},
		{"signin.amazonaws.com", "SwitchRole", `null`, `"additionalEventData":{"RedirectTo":"https://console.aws.amazon.com/","SwitchTo":"arn:aws:iam::444455556666:role/admin"}`, "",
			[]string{"sts:AssumeRole arn:aws:iam::444455556666:role/admin"}},
		// SES, SNS, SQS.
		{"ses.amazonaws.com", "SendBulkEmail", `{"fromEmailAddress":"x@example.com"}`, "", "",
			[]string{"ses:SendBulkTemplatedEmail * (wildcard) [none]"}},
		{"sns.amazonaws.com", "PublishBatch", `{"topicArn":"arn:aws:sns:eu-west-1:111122223333:alerts"}`, "", "",
			[]string{"sns:Publish arn:aws:sns:eu-west-1:111122223333:alerts"}},
		{"sns.amazonaws.com", "CreateTopic", `{"name":"alerts"}`, "", "",
			[]string{"sns:CreateTopic arn:aws:sns:eu-west-1:111122223333:alerts"}},
		{"sqs.amazonaws.com", "SendMessageBatch", `{"queueUrl":"https://sqs.us-east-2.amazonaws.com/444455556666/orders"}`, "", "",
			[]string{"sqs:SendMessage arn:aws:sqs:us-east-2:444455556666:orders"}},
		{"sqs.amazonaws.com", "SetQueueAttributes", `{"queueUrl":"https://eu-west-1.queue.amazonaws.com/111122223333/jobs","attributes":{"Policy":"{}"}}`, "", "",
			[]string{"sqs:SetQueueAttributes arn:aws:sqs:eu-west-1:111122223333:jobs"}},
		// CloudWatch Logs and CloudWatch (monitoring.amazonaws.com).
		{"logs.amazonaws.com", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/billing"}`, "", "",
			[]string{"logs:DeleteLogGroup arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/billing"}},
		{"monitoring.amazonaws.com", "DeleteAlarms", `{"alarmNames":["root-login","cloudtrail-changes"]}`, "", "",
			[]string{"cloudwatch:DeleteAlarms arn:aws:cloudwatch:eu-west-1:111122223333:alarm:cloudtrail-changes,arn:aws:cloudwatch:eu-west-1:111122223333:alarm:root-login"}},
		// Identity Center: admin API, identity store, portal.
		{"sso.amazonaws.com", "CreateAccountAssignment", `{"instanceArn":"arn:aws:sso:::instance/ssoins-1111111111111111","targetId":"111122223333","permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-2222222222222222"}`, "", "",
			[]string{"sso:CreateAccountAssignment * (wildcard) [none]"}},
		{"identitystore.amazonaws.com", "CreateUser", `{"identityStoreId":"d-1234567890","userName":"mallory"}`, "", "",
			[]string{"identitystore:CreateUser * (wildcard) [none]"}},
		{"portal.sso.amazonaws.com", "GetRoleCredentials", `{"roleName":"AdministratorAccess","accountId":"111122223333"}`, "", NeedNone, nil},
		// Load balancers, OpenSearch, Secrets Manager, SSM, CloudTrail, ECR.
		{"elasticloadbalancing.amazonaws.com", "DeleteLoadBalancer", `{"loadBalancerArn":"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188"}`, "", "",
			[]string{"elasticloadbalancing:DeleteLoadBalancer arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188"}},
		{"es.amazonaws.com", "UpdateDomainConfig", `{"domainName":"logs","accessPolicies":"{}"}`, "", "",
			[]string{"es:UpdateDomainConfig arn:aws:es:eu-west-1:111122223333:domain/logs"}},
		{"secretsmanager.amazonaws.com", "GetSecretValue", `{"secretId":"prod/db"}`, "", "",
			[]string{"secretsmanager:GetSecretValue arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-?????? (wildcard)"}},
		{"secretsmanager.amazonaws.com", "GetSecretValue", `{"secretId":"arn:aws:secretsmanager:eu-west-1:444455556666:secret:shared-AbCdEf"}`, "", "",
			[]string{"secretsmanager:GetSecretValue arn:aws:secretsmanager:eu-west-1:444455556666:secret:shared-AbCdEf"}},
		{"ssm.amazonaws.com", "GetParameters", `{"names":["/prod/db/password","api-key"],"withDecryption":true}`, "", "",
			[]string{"ssm:GetParameters arn:aws:ssm:eu-west-1:111122223333:parameter/api-key,arn:aws:ssm:eu-west-1:111122223333:parameter/prod/db/password"}},
		{"cloudtrail.amazonaws.com", "StopLogging", `{"name":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"}`, "", "",
			[]string{"cloudtrail:StopLogging arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"}},
		{"cloudtrail.amazonaws.com", "DeleteTrail", `{"name":"org-trail"}`, "", "",
			[]string{"cloudtrail:DeleteTrail arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"}},
		{"ecr.amazonaws.com", "SetRepositoryPolicy", `{"repositoryName":"app","registryId":"444455556666","policyText":"{}"}`, "", "",
			[]string{"ecr:SetRepositoryPolicy arn:aws:ecr:eu-west-1:444455556666:repository/app"}},
		{"ecs.amazonaws.com", "RegisterTaskDefinition", `{"family":"web","taskRoleArn":"arn:aws:iam::111122223333:role/web-task","executionRoleArn":"arn:aws:iam::111122223333:role/ecs-exec"}`, "", "",
			[]string{"ecs:RegisterTaskDefinition * (wildcard) [none]", "iam:PassRole arn:aws:iam::111122223333:role/ecs-exec,arn:aws:iam::111122223333:role/web-task"}},
		// A service event is not a caller's call.
		{ec2, "SharedSnapshotCopyInitiated", `null`, `"serviceEventDetails":{"snapshotId":"snap-1"},"eventType":"AwsServiceEvent"`, NeedNone, nil},
	}
	for _, c := range cases {
		rec := apiCall(c.source, c.name, c.params, c.extra)
		if strings.Contains(c.extra, `"eventType"`) {
			rec = strings.Replace(rec, `"eventType":"AwsApiCall",`, "", 1)
		}
		v.Reset(decode(t, rec))
		a := v.Authorization()
		need := c.need
		if need == "" {
			need = NeedIAM
		}
		got := show(a)
		if a.Need != need || !slices.Equal(got, c.want) {
			t.Errorf("%s %s %s:\n got %s %q\nwant %s %q", c.source, c.name, c.params, a.Need, got, need, c.want)
		}
		if need != NeedIAM && a.Note == "" {
			t.Errorf("%s %s: need %s without a note", c.source, c.name, a.Need)
		}
		names := v.IAMActions()
		if len(names) != len(c.want) {
			t.Errorf("%s %s: IAMActions %q", c.source, c.name, names)
		}
		for i, n := range names {
			if !strings.HasPrefix(c.want[i], n+" ") {
				t.Errorf("%s %s: IAMActions[%d] = %s, want %s", c.source, c.name, i, n, c.want[i])
			}
		}
	}
	if len(cases) < 40 {
		t.Errorf("%d cases, want at least 40", len(cases))
	}
}

// The partition comes from the caller's ARN (or the region): China and
// GovCloud ARNs are not aws.
func TestIAMActionPartition(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	rec := apiCall("iam.amazonaws.com", "CreateUser", `{"userName":"ops"}`, "")
	rec = strings.ReplaceAll(rec, "arn:aws:iam::111122223333:user/dev", "arn:aws-cn:iam::111122223333:user/dev")
	rec = strings.Replace(rec, `"awsRegion":"eu-west-1"`, `"awsRegion":"cn-north-1"`, 1)
	v.Reset(decode(t, rec))
	if got := show(v.Authorization()); !slices.Equal(got, []string{"iam:CreateUser arn:aws-cn:iam::111122223333:user/ops"}) {
		t.Errorf("got %q", got)
	}
	for region, want := range map[string]string{"us-gov-west-1": "aws-us-gov", "cn-northwest-1": "aws-cn", "eu-west-1": "aws", "": "aws"} {
		if got := partitionOf("", region); got != want {
			t.Errorf("partitionOf(%q) = %s, want %s", region, got, want)
		}
	}
}

// A denied call's message names the action that was checked and its
// resource: it comes first, and the catalog's other actions follow.
func TestIAMActionFromDenial(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	deny := `"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::data-bkt/reports/q1.csv\" because no identity-based policy allows the s3:GetObject action"`
	v.Reset(decode(t, apiCall("s3.amazonaws.com", "CopyObject", `{"bucketName":"dst-bkt","key":"copy.csv","x-amz-copy-source":"data-bkt/reports/q1.csv"}`, deny)))
	want := []string{"s3:GetObject arn:aws:s3:::data-bkt/reports/q1.csv [error-message]", "s3:PutObject arn:aws:s3:::dst-bkt/copy.csv"}
	if got := show(v.Authorization()); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// The message's action wins over the catalog's; without a resource in
	// the message, the request's templates give it.
	deny = `"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: iam:ListAccessKeys because no identity-based policy allows the iam:ListAccessKeys action"`
	v.Reset(decode(t, apiCall("iam.amazonaws.com", "ListAccessKeys", `{"userName":"alice"}`, deny)))
	want = []string{"iam:ListAccessKeys arn:aws:iam::111122223333:user/alice"}
	if got := show(v.Authorization()); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPermission(t *testing.T) {
	e := newEnricher(t, Options{})
	p := e.Permission("s3.amazonaws.com", "CopyObject")
	if p.Need != NeedIAM || !slices.Equal(p.Actions, []string{"s3:GetObject", "s3:PutObject"}) || p.Guessed {
		t.Errorf("CopyObject: %+v", p)
	}
	if !slices.Contains(p.Conditional, ConditionalAction{When: "x-amz-copy-source~versionId=", Action: "s3:GetObjectVersion", Replaces: "s3:GetObject"}) {
		t.Errorf("CopyObject conditional: %+v", p.Conditional)
	}
	if p := e.Permission("lambda.amazonaws.com", "Invoke20150331"); !slices.Equal(p.Actions, []string{"lambda:InvokeFunction"}) || p.Event != "lambda:Invoke" {
		t.Errorf("Invoke20150331: %+v", p)
	}
	if p := e.Permission("sts.amazonaws.com", "AssumeRoleWithWebIdentity"); p.Need != NeedNone || len(p.Actions) != 0 || !strings.Contains(p.Note, "trust policy") {
		t.Errorf("AssumeRoleWithWebIdentity: %+v", p)
	}
	if p := e.Permission("ec2.amazonaws.com", "RunInstances"); !slices.ContainsFunc(p.Conditional, func(c ConditionalAction) bool { return c.Action == "iam:PassRole" && c.When == "iamInstanceProfile" }) {
		t.Errorf("RunInstances: %+v", p)
	}
	if p := e.Permission("widgets.amazonaws.com", "GetWidget"); !p.Guessed || !slices.Equal(p.Actions, []string{"widgets:GetWidget"}) {
		t.Errorf("guessed: %+v", p)
	}
	for action, want := range map[string]string{
		"iam:PassRole":          NotRecorded,
		"s3:GetObject":          RecordedAsDataEvent,
		"lambda:InvokeFunction": RecordedAsDataEvent,
		"execute-api:Invoke":    NotRecorded,
		"iam:CreateUser":        Recorded,
	} {
		if how, note := e.RecordedAs(action); how != want || (how != Recorded) != (note != "") {
			t.Errorf("RecordedAs(%s) = %s %q, want %s", action, how, note, want)
		}
	}
}

// Every event iamactions.tsv names is in the catalog, every action it and
// resources.tsv name reads service:Action, and every catalog event's
// actions are resolvable.
func TestAccessTablesConsistent(t *testing.T) {
	e := newEnricher(t, Options{})
	for _, r := range e.catalog.access.ruleList {
		if _, ok := e.catalog.actions[r.event]; !ok {
			t.Errorf("iamactions.tsv: %s:%s is not in actions.tsv", r.event.service, r.event.event)
		}
	}
	// Each catalog event is resolved without a panic on an empty request.
	v := e.NewView()
	for _, a := range e.Catalog() {
		src := a.Service + ".amazonaws.com"
		for s, svc := range serviceByEventSource {
			if svc == a.Service {
				src = s
				break
			}
		}
		v.Reset(decode(t, apiCall(src, a.Event, `{}`, "")))
		auth := v.Authorization()
		if auth.Need == NeedIAM && len(auth.Actions) == 0 {
			t.Errorf("%s:%s: no action", a.Service, a.Event)
		}
		for _, x := range auth.Actions {
			if !isIAMAction(x.Action) || len(x.Resources) == 0 {
				t.Errorf("%s:%s: %+v", a.Service, a.Event, x)
			}
		}
	}
}

func TestParseAccessErrors(t *testing.T) {
	const ia = "event\twhen\tiam_action\treplaces\tresource\tnote\n"
	const res = "iam_action\tresource\n"
	const unrec = "iam_action\trecorded\tnote\n"
	cases := []struct{ ia, res, unrec, want string }{
		{ia, res, unrec, ""},
		{ia + "s3:GetObject\tversionId\ts3:GetObjectVersion\ts3:GetObject\t\t\n", res, unrec, ""},
		{ia + "GetObject\t\ts3:GetObject\t\t\t\n", res, unrec, `iamactions.tsv:2: event "GetObject" is not service:eventName`},
		{ia + "s3:GetObject\t\tGetObject\t\t\t\n", res, unrec, `iamactions.tsv:2: s3:GetObject: IAM action "GetObject" is not service:Action`},
		{ia + "s3:GetObject\t\ts3:GetObjectVersion\ts3:GetObject\t\t\n", res, unrec, "iamactions.tsv:2: s3:GetObject: replaces"},
		{ia + "sts:X\t\t-\t\t\t\n", res, unrec, "iamactions.tsv:2: sts:X: a line without an IAM action"},
		{ia + "s3:GetObject\ta b\ts3:X\t\t\t\n", res, unrec, `iamactions.tsv:2: s3:GetObject: bad condition "a b"`},
		{ia + "s3:GetObject\t\ts3:X\t\tarn:{partition:s3\t\n", res, unrec, "iamactions.tsv:2: s3:GetObject: template"},
		{ia + "s3:GetObject\t\ts3:X\t\t{key|upper}\t\n", res, unrec, `unknown modifier "upper"`},
		{ia + "s3:GetObject\t\ts3:X\t\t\t\ns3:GetObject\t\ts3:X\t\t\t\n", res, unrec, "iamactions.tsv:3: s3:GetObject: s3:X listed twice"},
		{ia, res + "s3:GetObject\tbucket/{key}\n", unrec, "resources.tsv:2: template \"bucket/{key}\": neither an ARN nor a placeholder"},
		{ia, res + "s3:Get*\tarn:x\n", unrec, `resources.tsv:2: "s3:Get*" is neither`},
		{ia, res + "s3:GetObject\t\n", unrec, "resources.tsv:2: s3:GetObject: no template"},
		{ia, res + "s3:A\t*\ns3:A\t*\n", unrec, "resources.tsv:3: s3:A listed twice"},
		{ia, res, unrec + "s3:GetObject\tsometimes\tx\n", `unrecorded.tsv:2: s3:GetObject: recorded is "sometimes"`},
		{ia, res, unrec + "s3:GetObject\tnever\t\n", "unrecorded.tsv:2: s3:GetObject: no note"},
		{ia, res, "iam_action\tnote\n", "unrecorded.tsv:1: header"},
	}
	for _, c := range cases {
		_, err := parseAccess(c.ia, c.res, c.unrec)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.ia+c.res+c.unrec, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.ia+c.res+c.unrec, err, c.want)
		}
	}
}

func BenchmarkAuthorization(b *testing.B) {
	e := newEnricher(b, Options{})
	v := e.NewView()
	evs := []string{
		apiCall("s3.amazonaws.com", "CopyObject", `{"bucketName":"dst-bkt","key":"copy.txt","x-amz-copy-source":"src-bkt/orig.txt","x-amz-acl":"private"}`, ""),
		apiCall("ec2.amazonaws.com", "StopInstances", `{"instancesSet":{"items":[{"instanceId":"i-0aaaaaaaaaaaaaaaa"}]}}`, ""),
		apiCall("iam.amazonaws.com", "AttachRolePolicy", `{"roleName":"ci","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`, ""),
	}
	for i, rec := range evs {
		ev := decode(b, rec)
		b.Run(fmt.Sprint(i), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.Reset(ev)
				if len(v.Authorization().Actions) == 0 {
					b.Fatal("no actions")
				}
			}
		})
	}
}

func TestIAMReference(t *testing.T) {
	want := checkGenerated(t, "../../docs/iam-actions.md", "TestIAMReference", IAMReference)
	// Every line of the tables is documented.
	e := newEnricher(t, Options{})
	for _, r := range e.catalog.access.ruleList {
		if !strings.Contains(want, "| `"+r.event.service+":"+r.event.event+"` |") {
			t.Errorf("%s:%s is not documented", r.event.service, r.event.event)
		}
	}
	for _, r := range e.catalog.access.recRows {
		if !strings.Contains(want, "| `"+r.action+"` |") {
			t.Errorf("%s is not documented", r.action)
		}
	}
	for _, p := range denyPolicies {
		if !strings.Contains(want, "`"+p.Kind+"`") {
			t.Errorf("deny kind %s is not documented", p.Kind)
		}
	}
}

// A call the catalog cannot settle is settled by its refusal's message.
func TestIAMActionUnknownSettledByDenial(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	deny := `"errorCode":"AccessDeniedException","errorMessage":"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: dynamodb:PartiQLDelete on resource: arn:aws:dynamodb:eu-west-1:111122223333:table/orders because no identity-based policy allows the dynamodb:PartiQLDelete action"`
	v.Reset(decode(t, apiCall("dynamodb.amazonaws.com", "ExecuteStatement", `{"statement":"***"}`, deny)))
	a := v.Authorization()
	want := []string{"dynamodb:PartiQLDelete arn:aws:dynamodb:eu-west-1:111122223333:table/orders [error-message]"}
	if a.Need != NeedIAM || !slices.Equal(show(a), want) {
		t.Errorf("got %s %q, want %q", a.Need, show(a), want)
	}
	// Refused federation stays a call that needs no identity permission.
	deny = `"errorCode":"AccessDenied","errorMessage":"Not authorized to perform sts:AssumeRoleWithWebIdentity"`
	v.Reset(decode(t, apiCall("sts.amazonaws.com", "AssumeRoleWithWebIdentity", `{"roleArn":"arn:aws:iam::111122223333:role/gha"}`, deny)))
	if a := v.Authorization(); a.Need != NeedNone || len(a.Actions) != 0 || v.Denial().Action != "sts:AssumeRoleWithWebIdentity" {
		t.Errorf("web identity: %+v %+v", a, v.Denial())
	}
}

// A message's resource that is not an ARN gives way to the request's.
func TestIAMActionDenialResourceNotARN(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	deny := `"errorCode":"AccessDeniedException","errorMessage":"User: arn:aws:iam::111122223333:user/dev is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/db with an explicit deny in a session policy"`
	v.Reset(decode(t, apiCall("secretsmanager.amazonaws.com", "GetSecretValue", `{"secretId":"prod/db"}`, deny)))
	want := []string{"secretsmanager:GetSecretValue arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-?????? (wildcard)"}
	if got := show(v.Authorization()); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
