package policy

import (
	"strings"
	"testing"
	"time"
)

// must parses a policy for a test table, naming it.
func must(name, doc string) *Policy {
	p, err := Parse([]byte(doc))
	if err != nil {
		panic(name + ": " + err.Error())
	}
	p.Name = name
	return p
}

// allowAll and friends are the statements the tables use most.
func allowStmt(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}}`
}

func denyStmt(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"` + action + `","Resource":"` + resource + `"}}`
}

const (
	acct     = "111122223333"
	other    = "444455556666"
	alice    = "arn:aws:iam::111122223333:user/alice"
	bob      = "arn:aws:iam::111122223333:user/bob"
	appRole  = "arn:aws:iam::111122223333:role/app"
	appSess  = "arn:aws:sts::111122223333:assumed-role/app/i-0abc123"
	mallory  = "arn:aws:iam::444455556666:user/mallory"
	rootUser = "arn:aws:iam::111122223333:root"
	bucket   = "arn:aws:s3:::example-bucket"
	object   = "arn:aws:s3:::example-bucket/reports/2024.csv"
)

var (
	fullAccess = must("FullAWSAccess", allowStmt("*", "*"))
	s3Read     = must("s3-read", allowStmt("s3:Get*", "*"))
	s3All      = must("s3-all", allowStmt("s3:*", "*"))
)

type evalCase struct {
	name    string // the documented rule the case checks
	req     Request
	set     Set
	want    Decision
	lacking Kind // for ImplicitDeny: the layer reported
	level   int
	reason  string // a fragment the Reason must hold
}

func bucketPolicy(principal string, effect string) *Policy {
	return must("bucket-policy", `{"Version":"2012-10-17","Statement":[{"Sid":"BucketGrant","Effect":"`+effect+`","Principal":`+principal+`,"Action":"s3:*","Resource":["arn:aws:s3:::example-bucket","arn:aws:s3:::example-bucket/*"]}]}`)
}

func cond(effect, condition string) *Policy {
	return must("conditional", `{"Version":"2012-10-17","Statement":{"Sid":"Cond","Effect":"`+effect+`","Action":"*","Resource":"*","Condition":`+condition+`}}`)
}

// condCase is a case whose identity policy allows everything under a
// condition, decided against a context.
func condCase(name, condition string, ctx Context, want Decision) evalCase {
	return evalCase{name: name, req: Request{Principal: alice, Action: "s3:GetObject", Resource: object, Context: ctx},
		set: Set{Identity: []*Policy{cond("Allow", condition)}}, want: want}
}

func evalCases() []evalCase {
	get := func(p string, ctx Context) Request {
		return Request{Principal: p, Action: "s3:GetObject", Resource: object, Context: ctx}
	}
	// S3 ARNs name no account: a cross-account request says whose bucket it is.
	xget := func(p string) Request {
		return Request{Principal: p, Action: "s3:GetObject", Resource: object, ResourceAccount: acct}
	}
	sessCtx := Context{"aws:PrincipalArn": {appRole}}
	return []evalCase{
		// --- Basics, explicit and implicit deny.
		{name: "an Allow in an identity-based policy allows", req: get(alice, nil), set: Set{Identity: []*Policy{s3Read}}, want: Allowed, reason: `"s3-read"`},
		{name: "by default every request is implicitly denied", req: get(alice, nil), set: Set{}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "an explicit Deny overrides an Allow in the same policy", req: get(alice, nil),
			set:  Set{Identity: []*Policy{must("mixed", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoReports","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/reports/*"}]}`)}},
			want: ExplicitDeny, reason: `"NoReports"`},
		{name: "an explicit Deny in any policy overrides an Allow in another", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3All, must("deny", denyStmt("s3:*", "*"))}}, want: ExplicitDeny},
		{name: "action names match case-insensitively", req: Request{Principal: alice, Action: "S3:getobject", Resource: object},
			set: Set{Identity: []*Policy{must("p", allowStmt("s3:GetObject", "*"))}}, want: Allowed},
		{name: "* in an action matches any run of characters", req: Request{Principal: alice, Action: "s3:GetObjectAcl", Resource: object},
			set: Set{Identity: []*Policy{s3Read}}, want: Allowed},
		{name: "an action outside the pattern is not allowed", req: Request{Principal: alice, Action: "s3:PutObject", Resource: object},
			set: Set{Identity: []*Policy{s3Read}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "? in an action matches exactly one character", req: Request{Principal: alice, Action: "ec2:StopInstances", Resource: "*"},
			set: Set{Identity: []*Policy{must("p", allowStmt("ec2:St??Instances", "*"))}}, want: Allowed},
		{name: "? does not match two characters", req: Request{Principal: alice, Action: "ec2:StartInstances", Resource: "*"},
			set: Set{Identity: []*Policy{must("p", allowStmt("ec2:St??Instances", "*"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "resource ARNs match case-sensitively", req: get(alice, nil),
			set: Set{Identity: []*Policy{must("p", allowStmt("s3:GetObject", "arn:aws:s3:::Example-Bucket/*"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "* in the resource part of an ARN spans slashes", req: get(alice, nil),
			set: Set{Identity: []*Policy{must("p", allowStmt("s3:GetObject", "arn:aws:s3:::example-bucket/*"))}}, want: Allowed},
		{name: "* in one ARN component matches within that component", req: Request{Principal: alice, Action: "ec2:StopInstances", Resource: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"},
			set: Set{Identity: []*Policy{must("p", allowStmt("ec2:StopInstances", "arn:aws:ec2:*:111122223333:instance/*"))}}, want: Allowed},
		{name: "an ARN component pattern does not match another region", req: Request{Principal: alice, Action: "ec2:StopInstances", Resource: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"},
			set: Set{Identity: []*Policy{must("p", allowStmt("ec2:StopInstances", "arn:aws:ec2:us-*:111122223333:instance/*"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "NotAction with Allow allows every action but those listed", req: get(alice, nil),
			set: Set{Identity: []*Policy{must("power-user", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}}`)}}, want: Allowed},
		{name: "NotAction with Allow does not allow the listed actions", req: Request{Principal: alice, Action: "iam:CreateUser", Resource: "arn:aws:iam::111122223333:user/x"},
			set: Set{Identity: []*Policy{must("power-user", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}}`)}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "NotResource with Allow allows every resource but those listed", req: get(alice, nil),
			set: Set{Identity: []*Policy{must("p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret-bucket/*"}}`)}}, want: Allowed},
		{name: "NotResource with Allow does not allow the listed resources", req: Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::secret-bucket/key"},
			set: Set{Identity: []*Policy{must("p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret-bucket/*"}}`)}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "Deny with NotAction denies every action but those listed", req: Request{Principal: alice, Action: "ec2:RunInstances", Resource: "*"},
			set: Set{Identity: []*Policy{fullAccess, must("only-s3", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}}`)}}, want: ExplicitDeny},
		{name: "Deny with NotAction leaves the listed actions to the allows", req: get(alice, nil),
			set: Set{Identity: []*Policy{fullAccess, must("only-s3", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}}`)}}, want: Allowed},

		// --- Permissions boundaries.
		{name: "identity allow within the boundary is allowed", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3All}, Boundary: s3Read}, want: Allowed, reason: `"s3-all"`},
		{name: "an implicit deny in the boundary denies what identity policies allow", req: Request{Principal: alice, Action: "s3:PutObject", Resource: object},
			set: Set{Identity: []*Policy{s3All}, Boundary: s3Read}, want: ImplicitDeny, lacking: PermissionsBoundary, reason: "permissions boundary"},
		{name: "a boundary alone grants nothing", req: get(alice, nil),
			set: Set{Boundary: s3All}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "an explicit Deny in the boundary denies", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3All}, Boundary: must("b", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}`)}, want: ExplicitDeny},

		// --- Session policies.
		{name: "a session policy limits the role's identity-based permissions", req: Request{Principal: appSess, Action: "s3:PutObject", Resource: object, Context: sessCtx},
			set: Set{Identity: []*Policy{s3All}, Session: []*Policy{s3Read}}, want: ImplicitDeny, lacking: SessionPolicy, reason: "session policy"},
		{name: "an action allowed by identity and session policies is allowed", req: get(appSess, sessCtx),
			set: Set{Identity: []*Policy{s3All}, Session: []*Policy{s3Read}}, want: Allowed},
		{name: "a session policy grants nothing by itself", req: get(appSess, sessCtx),
			set: Set{Session: []*Policy{s3All}}, want: ImplicitDeny, lacking: IdentityPolicy},

		// --- SCPs at several levels.
		{name: "every SCP level must allow: an OU without the action denies", req: Request{Principal: alice, Action: "iam:CreateUser", Resource: "*"},
			set:  Set{Identity: []*Policy{fullAccess}, SCP: [][]*Policy{{fullAccess}, {must("ou-allow-list", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","ec2:*"],"Resource":"*"}}`)}, {fullAccess}}},
			want: ImplicitDeny, lacking: SCP, level: 2, reason: "no SCP at level 2 allows"},
		{name: "all SCP levels allowing and an identity allow is allowed", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3Read}, SCP: [][]*Policy{{fullAccess}, {s3All}, {fullAccess}}}, want: Allowed},
		{name: "an explicit Deny in an SCP denies", req: Request{Principal: alice, Action: "cloudtrail:StopLogging", Resource: "*"},
			set: Set{Identity: []*Policy{fullAccess}, SCP: [][]*Policy{{fullAccess, must("protect-trail", denyStmt("cloudtrail:StopLogging", "*"))}}}, want: ExplicitDeny, reason: "SCP at level 1"},
		{name: "an SCP level with no policy allows nothing", req: get(alice, nil),
			set: Set{Identity: []*Policy{fullAccess}, SCP: [][]*Policy{{fullAccess}, {}}}, want: ImplicitDeny, lacking: SCP, level: 2},
		{name: "SCPs grant nothing: an identity allow is still needed", req: get(alice, nil),
			set: Set{SCP: [][]*Policy{{fullAccess}}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "SCPs do not apply to service principals", req: Request{Principal: "cloudtrail.amazonaws.com", Action: "s3:PutObject", Resource: object},
			set: Set{Resource: []*Policy{bucketPolicy(`{"Service":"cloudtrail.amazonaws.com"}`, "Allow")}, SCP: [][]*Policy{{s3Read}}}, want: Allowed},
		{name: "SCPs limit the member account's root user", req: Request{Principal: rootUser, Action: "iam:CreateUser", Resource: "*"},
			set: Set{SCP: [][]*Policy{{s3All}}}, want: ImplicitDeny, lacking: SCP, level: 1},
		{name: "the root user is allowed what no policy denies", req: Request{Principal: rootUser, Action: "iam:CreateUser", Resource: "*"},
			set: Set{}, want: Allowed, reason: "root"},

		// --- RCPs.
		{name: "an explicit Deny in an RCP denies even a cross-account grant", req: xget(mallory),
			set:  Set{Identity: []*Policy{s3All}, Resource: []*Policy{bucketPolicy(`{"AWS":"444455556666"}`, "Allow")}, RCP: [][]*Policy{{fullAccess, must("org-only", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-abc123"}}}}`)}}},
			want: ExplicitDeny, reason: "RCP"},
		{name: "every RCP level must allow", req: get(alice, nil),
			set:  Set{Identity: []*Policy{s3All}, RCP: [][]*Policy{{must("rcp-full", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`)}, {must("rcp-kms", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`)}}},
			want: ImplicitDeny, lacking: RCP, level: 2},

		// --- Resource-based policies within one account.
		{name: "a resource-based policy naming an IAM user allows without an identity allow", req: get(alice, nil),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+alice+`"}`, "Allow")}}, want: Allowed, reason: "names the caller"},
		{name: "a boundary's implicit deny does not limit a resource-based grant to the user ARN", req: get(alice, nil),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+alice+`"}`, "Allow")}, Boundary: must("ec2-only", allowStmt("ec2:*", "*"))}, want: Allowed},
		{name: "a resource-based policy naming the role session ARN allows despite the session policy", req: get(appSess, sessCtx),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+appSess+`"}`, "Allow")}, Session: []*Policy{must("ec2-only", allowStmt("ec2:*", "*"))}}, want: Allowed},
		{name: "a resource-based policy naming the role ARN acts as an identity allow for its sessions", req: get(appSess, sessCtx),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+appRole+`"}`, "Allow")}}, want: Allowed, reason: "role"},
		{name: "a grant to the role ARN is limited by the role's boundary", req: get(appSess, sessCtx),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+appRole+`"}`, "Allow")}, Boundary: must("ec2-only", allowStmt("ec2:*", "*"))}, want: ImplicitDeny, lacking: PermissionsBoundary},
		{name: "a grant to the role ARN is limited by the session policy", req: get(appSess, sessCtx),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+appRole+`"}`, "Allow")}, Session: []*Policy{must("ec2-only", allowStmt("ec2:*", "*"))}}, want: ImplicitDeny, lacking: SessionPolicy},
		{name: "a role ARN with a path in Principal matches the session of that role", req: get("arn:aws:sts::111122223333:assumed-role/deploy/ci", nil),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:role/service-role/deploy"}`, "Allow")}}, want: Allowed},
		{name: "a same-account grant to the account root delegates to identity policies", req: get(alice, nil),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:root"}`, "Allow")}}, want: ImplicitDeny, lacking: IdentityPolicy, reason: "names only the account"},
		{name: "a same-account grant to the account allows with an identity allow", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3Read}, Resource: []*Policy{bucketPolicy(`{"AWS":"111122223333"}`, "Allow")}}, want: Allowed},
		{name: "a Deny in a resource-based policy overrides an identity allow", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3All}, Resource: []*Policy{bucketPolicy(`{"AWS":"`+alice+`"}`, "Deny")}}, want: ExplicitDeny, reason: "resource-based policy"},
		{name: "a resource-based Deny naming someone else does not apply", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3All}, Resource: []*Policy{bucketPolicy(`{"AWS":"`+bob+`"}`, "Deny")}}, want: Allowed},
		{name: "Principal * lets anonymous callers in", req: get("", nil),
			set: Set{Resource: []*Policy{bucketPolicy(`"*"`, "Allow")}}, want: Allowed},
		{name: "anonymous callers need a resource-based allow", req: get("", nil),
			set: Set{Identity: []*Policy{fullAccess}}, want: ImplicitDeny, lacking: ResourcePolicy},
		{name: "a service principal named in the resource-based policy is allowed", req: Request{Principal: "cloudtrail.amazonaws.com", Action: "s3:PutObject", Resource: object},
			set: Set{Resource: []*Policy{bucketPolicy(`{"Service":"cloudtrail.amazonaws.com"}`, "Allow")}}, want: Allowed},
		{name: "a service principal not named is implicitly denied", req: Request{Principal: "config.amazonaws.com", Action: "s3:PutObject", Resource: object},
			set: Set{Resource: []*Policy{bucketPolicy(`{"Service":"cloudtrail.amazonaws.com"}`, "Allow")}}, want: ImplicitDeny, lacking: ResourcePolicy, reason: "config.amazonaws.com"},

		// --- Cross-account.
		{name: "cross-account: identity allow and a resource grant to the caller's account allow", req: xget(mallory),
			set: Set{Identity: []*Policy{s3Read}, Resource: []*Policy{bucketPolicy(`{"AWS":"arn:aws:iam::444455556666:root"}`, "Allow")}}, want: Allowed, reason: "both sides"},
		{name: "cross-account: without a resource-based allow the request is denied", req: Request{Principal: mallory, Action: "s3:GetObject", Resource: object, ResourceAccount: acct},
			set: Set{Identity: []*Policy{s3Read}}, want: ImplicitDeny, lacking: ResourcePolicy, reason: "cross-account"},
		{name: "cross-account: a resource grant to the caller's ARN still needs an identity allow", req: xget(mallory),
			set: Set{Resource: []*Policy{bucketPolicy(`{"AWS":"`+mallory+`"}`, "Allow")}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "cross-account: the caller's boundary limits the trusting side's grant", req: xget(mallory),
			set: Set{Identity: []*Policy{s3All}, Boundary: must("ec2-only", allowStmt("ec2:*", "*")), Resource: []*Policy{bucketPolicy(`{"AWS":"`+mallory+`"}`, "Allow")}}, want: ImplicitDeny, lacking: PermissionsBoundary},
		{name: "cross-account: the resource account comes from the ARN", req: Request{Principal: mallory, Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"},
			set: Set{Identity: []*Policy{fullAccess}}, want: ImplicitDeny, lacking: ResourcePolicy},

		// --- NotPrincipal.
		{name: "Deny with NotPrincipal denies everyone not listed", req: get(bob, nil),
			set: Set{Identity: []*Policy{s3All}, Resource: []*Policy{must("np", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["`+alice+`"]},"Action":"s3:*","Resource":"*"}}`)}}, want: ExplicitDeny},
		{name: "Deny with NotPrincipal spares the principals listed", req: get(alice, nil),
			set: Set{Identity: []*Policy{s3All}, Resource: []*Policy{must("np", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["`+alice+`"]},"Action":"s3:*","Resource":"*"}}`)}}, want: Allowed},
		{name: "NotPrincipal naming only the role does not spare its sessions", req: get(appSess, sessCtx),
			set: Set{Identity: []*Policy{s3All}, Resource: []*Policy{must("np", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["`+appRole+`"]},"Action":"s3:*","Resource":"*"}}`)}}, want: ExplicitDeny},
		{name: "NotPrincipal naming the session ARN spares the session", req: get(appSess, sessCtx),
			set: Set{Identity: []*Policy{s3All}, Resource: []*Policy{must("np", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["`+appRole+`","`+appSess+`"]},"Action":"s3:*","Resource":"*"}}`)}}, want: Allowed},

		// --- Condition operators.
		condCase("StringEquals matches the exact value", `{"StringEquals":{"aws:PrincipalTag/team":"orders"}}`, Context{"aws:PrincipalTag/team": {"orders"}}, Allowed),
		condCase("StringEquals is case-sensitive", `{"StringEquals":{"aws:PrincipalTag/team":"orders"}}`, Context{"aws:PrincipalTag/team": {"Orders"}}, ImplicitDeny),
		condCase("StringEqualsIgnoreCase ignores case", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"orders"}}`, Context{"aws:PrincipalTag/team": {"ORDERS"}}, Allowed),
		condCase("StringNotEqualsIgnoreCase is false for a value equal but for case", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"orders"}}`, Context{"aws:PrincipalTag/team": {"ORDERS"}}, ImplicitDeny),
		condCase("a condition's values are ORed", `{"StringEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}`, Context{"aws:RequestedRegion": {"eu-central-1"}}, Allowed),
		condCase("operators and keys in a Condition are ANDed", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"},"Bool":{"aws:SecureTransport":"true"}}`, Context{"aws:RequestedRegion": {"eu-west-1"}, "aws:SecureTransport": {"false"}}, ImplicitDeny),
		condCase("a positive operator on a missing key is false", `{"StringEquals":{"aws:PrincipalTag/team":"orders"}}`, Context{}, ImplicitDeny),
		condCase("a negated operator on a missing key is true", `{"StringNotEquals":{"aws:PrincipalTag/team":"orders"}}`, Context{}, Allowed),
		condCase("StringLike takes * and ? wildcards", `{"StringLike":{"aws:userid":"AROA*:alice?"}}`, Context{"aws:userid": {"AROAEXAMPLEID:alice1"}}, Allowed),
		condCase("StringNotLike is false when the pattern matches", `{"StringNotLike":{"aws:UserAgent":"*kali*"}}`, Context{"aws:UserAgent": {"aws-cli/2.15 linux/6.6.9-kali"}}, ImplicitDeny),
		condCase("NumericLessThan compares numbers", `{"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}`, Context{"aws:MultiFactorAuthAge": {"600"}}, Allowed),
		condCase("NumericLessThan is false at a larger number", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, Context{"aws:MultiFactorAuthAge": {"7200"}}, ImplicitDeny),
		condCase("NumericGreaterThanEquals includes equality", `{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}`, Context{"s3:max-keys": {"10"}}, Allowed),
		condCase("NumericNotEquals with an equal number is false", `{"NumericNotEquals":{"s3:max-keys":"10.0"}}`, Context{"s3:max-keys": {"10"}}, ImplicitDeny),
		condCase("NumericLessThanIfExists holds when the key is missing", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}`, Context{}, Allowed),
		condCase("DateGreaterThan compares ISO 8601 times", `{"DateGreaterThan":{"aws:CurrentTime":"2024-05-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"2024-05-02T10:00:00Z"}}, Allowed),
		condCase("DateLessThan takes epoch seconds", `{"DateLessThan":{"aws:EpochTime":"1714521600"}}`, Context{"aws:EpochTime": {"1714608000"}}, ImplicitDeny),
		condCase("DateEquals compares instants across notations", `{"DateEquals":{"aws:CurrentTime":"2024-05-01T00:00:00Z"}}`, Context{"aws:CurrentTime": {"1714521600"}}, Allowed),
		condCase("Bool compares true and false", `{"Bool":{"aws:SecureTransport":true}}`, Context{"aws:SecureTransport": {"true"}}, Allowed),
		condCase("Bool on a missing key is false (long-term keys carry no MFA key)", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, Context{}, ImplicitDeny),
		condCase("BoolIfExists holds on a missing key", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, Context{}, Allowed),
		condCase("BoolIfExists checks a present key", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, Context{"aws:MultiFactorAuthPresent": {"false"}}, ImplicitDeny),
		condCase("BinaryEquals compares base64 values", `{"BinaryEquals":{"example:blob":"QmluYXJ5VmFsdWU="}}`, Context{"example:blob": {"QmluYXJ5VmFsdWU="}}, Allowed),
		condCase("IpAddress matches an IPv4 CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, Context{"aws:SourceIp": {"203.0.113.77"}}, Allowed),
		condCase("IpAddress does not match outside the CIDR", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.7/32"]}}`, Context{"aws:SourceIp": {"198.51.100.8"}}, ImplicitDeny),
		condCase("IpAddress matches an IPv6 CIDR", `{"IpAddress":{"aws:SourceIp":"2001:db8:1234::/48"}}`, Context{"aws:SourceIp": {"2001:db8:1234:5::1"}}, Allowed),
		condCase("NotIpAddress is true outside every CIDR", `{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`, Context{"aws:SourceIp": {"192.0.2.10"}}, Allowed),
		condCase("ArnLike matches each ARN component with wildcards", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, Context{"aws:PrincipalArn": {"arn:aws:iam::111122223333:role/admin-breakglass"}}, Allowed),
		condCase("ArnEquals is case-sensitive", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:eu-west-1:111122223333:Alerts"}}`, Context{"aws:SourceArn": {"arn:aws:sns:eu-west-1:111122223333:alerts"}}, ImplicitDeny),
		condCase("ArnNotLike on a missing key is true", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:*"}}`, Context{}, Allowed),
		condCase("Null true holds when the key is missing", `{"Null":{"aws:TokenIssueTime":"true"}}`, Context{}, Allowed),
		condCase("Null false holds when the key is present", `{"Null":{"aws:TokenIssueTime":"false"}}`, Context{"aws:TokenIssueTime": {"2024-05-01T10:00:00Z"}}, Allowed),
		condCase("Null true fails when the key is present", `{"Null":{"aws:TokenIssueTime":"true"}}`, Context{"aws:TokenIssueTime": {"2024-05-01T10:00:00Z"}}, ImplicitDeny),
		condCase("ForAnyValue holds when one value matches", `{"ForAnyValue:StringEquals":{"aws:CalledVia":"athena.amazonaws.com"}}`, Context{"aws:CalledVia": {"cloudformation.amazonaws.com", "athena.amazonaws.com"}}, Allowed),
		condCase("ForAnyValue on a missing key is false", `{"ForAnyValue:StringEquals":{"aws:CalledVia":"athena.amazonaws.com"}}`, Context{}, ImplicitDeny),
		condCase("ForAnyValue on an empty set is false", `{"ForAnyValue:StringLike":{"aws:TagKeys":"*"}}`, Context{"aws:TagKeys": {}}, ImplicitDeny),
		condCase("ForAllValues holds when every value is listed", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}`, Context{"aws:TagKeys": {"env", "team"}}, Allowed),
		condCase("ForAllValues fails when a value is not listed", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}`, Context{"aws:TagKeys": {"env", "owner"}}, ImplicitDeny),
		condCase("ForAllValues on a missing key is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}`, Context{}, Allowed),
		condCase("ForAllValues on an empty set is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}`, Context{"aws:TagKeys": {}}, Allowed),
		condCase("ForAllValues with a negated operator: no value may be listed", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["owner"]}}`, Context{"aws:TagKeys": {"env", "owner"}}, ImplicitDeny),
		condCase("ForAnyValue...IfExists holds on a missing key", `{"ForAnyValue:StringEqualsIfExists":{"aws:CalledVia":"athena.amazonaws.com"}}`, Context{}, Allowed),
		condCase("condition keys match case-insensitively", `{"IpAddress":{"AWS:SOURCEIP":"203.0.113.0/24"}}`, Context{"aws:SourceIp": {"203.0.113.9"}}, Allowed),
		{name: "a Deny conditioned on a missing negated key applies (StringNotEquals on absent region)", req: get(alice, Context{}),
			set: Set{Identity: []*Policy{s3All, cond("Deny", `{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}`)}}, want: ExplicitDeny},
		{name: "a Deny whose condition fails does not apply", req: get(alice, Context{"aws:RequestedRegion": {"eu-west-1"}}),
			set: Set{Identity: []*Policy{s3All, cond("Deny", `{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}`)}}, want: Allowed},

		// --- Policy variables.
		{name: "${aws:username} in a resource matches the caller's own user", req: Request{Principal: alice, Action: "iam:CreateAccessKey", Resource: alice, Context: Context{"aws:username": {"alice"}}},
			set: Set{Identity: []*Policy{must("own-keys", allowStmt("iam:CreateAccessKey", "arn:aws:iam::111122223333:user/${aws:username}"))}}, want: Allowed},
		{name: "${aws:username} does not match another user", req: Request{Principal: alice, Action: "iam:CreateAccessKey", Resource: bob, Context: Context{"aws:username": {"alice"}}},
			set: Set{Identity: []*Policy{must("own-keys", allowStmt("iam:CreateAccessKey", "arn:aws:iam::111122223333:user/${aws:username}"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "a variable whose key is missing matches nothing", req: Request{Principal: appSess, Action: "iam:CreateAccessKey", Resource: "arn:aws:iam::111122223333:user/", Context: sessCtx},
			set: Set{Identity: []*Policy{must("own-keys", allowStmt("iam:CreateAccessKey", "arn:aws:iam::111122223333:user/${aws:username}"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "a variable's default value is used when the key is missing", req: Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::data/shared/a.txt", Context: Context{}},
			set: Set{Identity: []*Policy{must("team-prefix", allowStmt("s3:GetObject", "arn:aws:s3:::data/${aws:PrincipalTag/team, 'shared'}/*"))}}, want: Allowed},
		{name: "${aws:PrincipalTag/team} in a resource takes the tag's value", req: Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::data/orders/a.txt", Context: Context{"aws:PrincipalTag/team": {"orders"}}},
			set: Set{Identity: []*Policy{must("team-prefix", allowStmt("s3:GetObject", "arn:aws:s3:::data/${aws:PrincipalTag/team}/*"))}}, want: Allowed},
		{name: "a substituted value's * is literal, not a wildcard", req: Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::data/orders/a.txt", Context: Context{"aws:PrincipalTag/team": {"*"}}},
			set: Set{Identity: []*Policy{must("team-prefix", allowStmt("s3:GetObject", "arn:aws:s3:::data/${aws:PrincipalTag/team}/*"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "${*} is a literal asterisk", req: Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::data/*weird", Context: Context{}},
			set: Set{Identity: []*Policy{must("literal", allowStmt("s3:GetObject", "arn:aws:s3:::data/${*}weird"))}}, want: Allowed},
		{name: "${*} does not act as a wildcard", req: Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::data/xweird", Context: Context{}},
			set: Set{Identity: []*Policy{must("literal", allowStmt("s3:GetObject", "arn:aws:s3:::data/${*}weird"))}}, want: ImplicitDeny, lacking: IdentityPolicy},
		{name: "policy variables are literal text in a 2008-10-17 policy", req: Request{Principal: alice, Action: "iam:CreateAccessKey", Resource: alice, Context: Context{"aws:username": {"alice"}}},
			set: Set{Identity: []*Policy{must("old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::111122223333:user/${aws:username}"}}`)}}, want: ImplicitDeny, lacking: IdentityPolicy},
		condCase("variables work in condition values", `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, Context{"aws:ResourceTag/owner": {"alice"}, "aws:username": {"alice"}}, Allowed),
	}
}

func TestEvaluate(t *testing.T) {
	cases := evalCases()
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.req, tc.set)
			if got.Decision != tc.want {
				t.Fatalf("decision %s, want %s\n%s", got.Decision, tc.want, got.Explain())
			}
			if tc.want == ImplicitDeny && tc.lacking != 0 && (got.Lacking != tc.lacking || got.LackingLevel != tc.level) {
				t.Errorf("lacking %s level %d, want %s level %d (%s)", got.Lacking, got.LackingLevel, tc.lacking, tc.level, got.Reason)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", got.Reason, tc.reason)
			}
			if got.Reason == "" {
				t.Error("empty reason")
			}
			if got.Decision != ImplicitDeny && len(got.Matches) == 0 && !strings.Contains(got.Reason, "root") {
				t.Errorf("no statements named for %s", got.Decision)
			}
		})
	}
}

// TestExplain checks what `trailsentry policy explain` prints: the decision,
// the reason and every statement involved.
func TestExplain(t *testing.T) {
	set := Set{
		Identity: []*Policy{must("s3-all", allowStmt("s3:*", "*"))},
		Boundary: must("Boundary", `{"Version":"2012-10-17","Statement":{"Sid":"S3Only","Effect":"Allow","Action":"s3:*","Resource":"*"}}`),
		SCP:      [][]*Policy{{fullAccess}, {must("deny-trail", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"ProtectTrail","Effect":"Deny","Action":"cloudtrail:*","Resource":"*"}]}`)}},
	}
	set.Identity[0].Source = "arn:aws:iam::111122223333:policy/s3-all"
	got := Evaluate(Request{Principal: alice, Action: "s3:GetObject", Resource: object}, set).Explain()
	want := `Allow: allowed by identity-based policy "s3-all" (arn:aws:iam::111122223333:policy/s3-all) statement #0
  SCP at level 1 "FullAWSAccess" statement #0 allows
  SCP at level 2 "deny-trail" statement #0 allows
  identity-based policy "s3-all" (arn:aws:iam::111122223333:policy/s3-all) statement #0 allows
  permissions boundary "Boundary" statement "S3Only" allows
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = Evaluate(Request{Principal: alice, Action: "cloudtrail:StopLogging", Resource: "*"}, set).Explain()
	want = `ExplicitDeny: explicitly denied by SCP at level 2 "deny-trail" statement "ProtectTrail"
  SCP at level 2 "deny-trail" statement "ProtectTrail" denies
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFactsContext(t *testing.T) {
	f := Facts{
		PrincipalARN: appRole, PrincipalType: "AssumedRole", Account: acct, UserID: "AROAEXAMPLE:i-0abc123",
		SourceIP: "203.0.113.7", UserAgent: "aws-cli/2.15.0", Region: "eu-west-1",
		Time:             mustTime("2024-05-01T10:00:00Z"),
		SessionCreated:   mustTime("2024-05-01T09:30:00Z"),
		MFAAuthenticated: "true", SecureTransport: "true",
		CalledVia:     []string{"cloudformation.amazonaws.com"},
		PrincipalTags: map[string]string{"team": "orders"},
	}
	c := f.Context()
	want := map[string]string{
		"aws:principalarn": appRole, "aws:PrincipalType": "AssumedRole", "aws:PrincipalAccount": acct,
		"aws:userid": "AROAEXAMPLE:i-0abc123", "aws:SourceIp": "203.0.113.7", "aws:RequestedRegion": "eu-west-1",
		"aws:CurrentTime": "2024-05-01T10:00:00Z", "aws:EpochTime": "1714557600", "aws:MultiFactorAuthPresent": "true",
		"aws:MultiFactorAuthAge": "1800", "aws:SecureTransport": "true", "aws:ViaAWSService": "false",
		"aws:CalledViaFirst": "cloudformation.amazonaws.com", "aws:principaltag/TEAM": "orders",
	}
	for k, v := range want {
		got, ok := c.Lookup(k)
		if !ok || len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	if _, ok := c.Lookup("aws:username"); ok {
		t.Error("aws:username set for a role session")
	}
	// Long-term keys: no MFA key at all, so BoolIfExists-guarded Denies apply
	// and plain Bool conditions fail.
	if _, ok := (Facts{SourceIP: "cloudformation.amazonaws.com"}).Context().Lookup("aws:MultiFactorAuthPresent"); ok {
		t.Error("MFA key set without session facts")
	}
	if _, ok := (Facts{SourceIP: "cloudformation.amazonaws.com"}).Context().Lookup("aws:SourceIp"); ok {
		t.Error("a service name taken as aws:SourceIp")
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
