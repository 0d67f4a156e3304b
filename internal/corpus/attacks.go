package corpus

// The planted attacks. Each scenario is a short sequence of records made by
// one attacker against one account: a leaked long-term access key, a stolen
// administrator session, a person's password, or the root user. Background
// traffic never makes these calls (no trail or detector tampering, no root,
// no MFA-less sign-in, no world-open security groups or bucket policies), so
// the ground truth is exactly the planted records.

// attack is one planted scenario instance, decided when the corpus is
// planned so that all its records agree.
type attack struct {
	scenario *scenario
	acct     *account
	ip       string
	agent    agent

	leaked       *persona // an IAM user whose access key leaked
	person       *persona // a person whose password is attacked
	session      *persona // the administrators' role, whose session is stolen
	sessionIndex int
	instanceRole *persona // an instance profile role, whose credentials are taken from an instance
	instanceSess int

	newUser  string // the backdoor user
	newKey   string // its access key
	external string // the attacker's own AWS account
	bucket   string
	group    string
	instance string
	snapshot string
}

// scenario is one kind of attack.
type scenario struct {
	technique string // MITRE ATT&CK technique
	title     string
	global    bool                 // it calls global services: plant it in us-east-1
	as        func(*call, *attack) // who makes the calls
	steps     []attackStep
}

// attackStep is one record of a scenario. The api carries the builders;
// setup may adjust the call (user agent, failure) after the scenario's
// identity is applied.
type attackStep struct {
	api         api
	technique   string // overrides the scenario's
	description string
	setup       func(*call, *attack)
}

// Who the attacker is.

func asLeakedKey(c *call, x *attack) {
	c.kind = idIAMUser
	c.who = x.leaked
	c.ip = x.ip
	c.agent = x.agent
}

func asStolenSession(c *call, x *attack) {
	c.kind = idAssumedRole
	c.who = x.session
	c.sess = &x.session.sessions[x.sessionIndex]
	c.ip = x.ip
	c.agent = x.agent
}

// asInstanceCredentials: an instance's role credentials, taken through the
// instance metadata service, used from the attacker's machine.
func asInstanceCredentials(c *call, x *attack) {
	c.kind = idAssumedRole
	c.who = x.instanceRole
	c.sess = &x.instanceRole.sessions[x.instanceSess]
	c.ip = x.ip
	c.agent = x.agent
}

func asPerson(c *call, x *attack) {
	c.kind = idIAMUser
	c.who = x.person
	c.ip = x.ip
	c.signin = true
	c.agentTx = browser[0]
}

func asRoot(c *call, x *attack) {
	c.kind = idRoot
	c.console = true
	c.ip = x.ip
	c.agentTx = browser[1]
}

func withAgent(text string, tail tailKind) func(*call, *attack) {
	return func(c *call, x *attack) { c.agent = agent{text, tail}; c.agentTx = "" }
}

func failing(code, message string) func(*call, *attack) {
	return func(c *call, x *attack) {
		c.errCode = code
		c.errMsg = message
		if code == "AccessDenied" {
			c.errMsg = "User: " + c.callerARN() + " is not authorized to perform: " + c.api.action +
				" because no identity-based policy allows the " + c.api.action + " action"
		}
	}
}

func signinDetails(mfa string) builder {
	return func(w *jsonWriter, c *call) {
		w.Str("LoginTo", "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_"+randomHex(c.r, 16))
		w.Str("MobileVersion", "No")
		w.Str("MFAUsed", mfa)
	}
}

func trailName(w *jsonWriter, c *call) {
	w.Cat("name", "arn:aws:cloudtrail:us-east-1:", c.acct.id, ":trail/", c.acct.trail)
}

const (
	kaliCLI = "aws-cli/2.13.4 Python/3.11.4 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off"
	pacuUA  = "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.51 Pacu/1.5.2"
)

func newScenarios() []*scenario {
	return []*scenario{
		{technique: "T1562.008", title: "CloudTrail logging stopped with a leaked access key", as: asLeakedKey,
			steps: []attackStep{{description: "StopLogging on the organization's management trail",
				api: api{svc: "cloudtrail", name: "StopLogging", req: trailName}}}},

		{technique: "T1562.008", title: "CloudTrail trail deleted from a stolen administrator session", as: asStolenSession,
			steps: []attackStep{{description: "DeleteTrail on the management trail",
				api: api{svc: "cloudtrail", name: "DeleteTrail", req: trailName}}}},

		{technique: "T1078.004", title: "Console sign-in without MFA from an unfamiliar address", global: true, as: asPerson,
			steps: []attackStep{{description: "successful ConsoleLogin with MFAUsed=No",
				api: api{svc: "signin", name: "ConsoleLogin", global: true, eventType: "AwsConsoleSignIn",
					resp: fixed("ConsoleLogin", "Success"), additional: signinDetails("No")}}}},

		{technique: "T1110.001", title: "Console password guessing", global: true, as: asPerson,
			steps: []attackStep{
				{description: "failed ConsoleLogin (Failed authentication)", setup: failing("", "Failed authentication"),
					api: api{svc: "signin", name: "ConsoleLogin", global: true, eventType: "AwsConsoleSignIn",
						resp: fixed("ConsoleLogin", "Failure"), additional: signinDetails("No")}},
				{description: "second failed ConsoleLogin (Failed authentication)", setup: failing("", "Failed authentication"),
					api: api{svc: "signin", name: "ConsoleLogin", global: true, eventType: "AwsConsoleSignIn",
						resp: fixed("ConsoleLogin", "Failure"), additional: signinDetails("No")}},
			}},

		{technique: "T1078.004", title: "Root user signs in and works in the console", global: true, as: asRoot,
			steps: []attackStep{
				{description: "root ConsoleLogin without MFA",
					setup: func(c *call, x *attack) { c.signin = true; c.console = false },
					api: api{svc: "signin", name: "ConsoleLogin", global: true, eventType: "AwsConsoleSignIn",
						resp: fixed("ConsoleLogin", "Success"), additional: signinDetails("No")}},
				{description: "root lists access keys",
					setup: func(c *call, x *attack) { c.agentTx = "AWS Internal" },
					api:   api{svc: "iam", name: "ListAccessKeys", global: true, readOnly: true}},
			}},

		{technique: "T1136.003", title: "Backdoor IAM user created with a leaked access key", global: true, as: asLeakedKey,
			steps: []attackStep{
				{description: "CreateUser for a new user",
					api: api{svc: "iam", name: "CreateUser", global: true,
						req: func(w *jsonWriter, c *call) { w.Str("userName", c.attack.newUser) },
						resp: func(w *jsonWriter, c *call) {
							w.Object("user")
							w.Str("path", "/")
							w.Str("userName", c.attack.newUser)
							w.Random("userId", "AIDA", c.r, iamAlphabet, 17)
							w.Cat("arn", "arn:aws:iam::", c.acct.id, ":user/", c.attack.newUser)
							w.Str("createDate", c.time.Format(consoleTime))
							w.End()
						}}},
				{description: "CreateAccessKey for the new user", technique: "T1098.001",
					api: api{svc: "iam", name: "CreateAccessKey", global: true,
						req: func(w *jsonWriter, c *call) { w.Str("userName", c.attack.newUser) },
						resp: func(w *jsonWriter, c *call) {
							w.Object("accessKey")
							w.Str("userName", c.attack.newUser)
							w.Str("accessKeyId", c.attack.newKey)
							w.Str("status", "Active")
							w.Str("createDate", c.time.Format(consoleTime))
							w.End()
						}}},
			}},

		{technique: "T1098.003", title: "AdministratorAccess attached to a compromised user", global: true, as: asLeakedKey,
			steps: []attackStep{{description: "AttachUserPolicy arn:aws:iam::aws:policy/AdministratorAccess",
				api: api{svc: "iam", name: "AttachUserPolicy", global: true,
					req: func(w *jsonWriter, c *call) {
						w.Str("userName", c.attack.leaked.name)
						w.Str("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")
					}}}}},

		{technique: "T1562.007", title: "SSH opened to the whole internet", as: asStolenSession,
			steps: []attackStep{{description: "AuthorizeSecurityGroupIngress tcp/22 from 0.0.0.0/0",
				api: api{svc: "ec2", name: "AuthorizeSecurityGroupIngress",
					req: func(w *jsonWriter, c *call) {
						writeIngress(w, c, c.attack.group, "tcp", 22, 22, "0.0.0.0/0", "")
					},
					resp: func(w *jsonWriter, c *call) {
						w.UUID("requestId", c.r)
						w.Bool("_return", true)
						w.Items("securityGroupRuleSet")
						w.Item()
						w.Str("groupOwnerId", c.acct.id)
						w.Str("groupId", c.attack.group)
						w.Str("securityGroupRuleId", awsID(c.r, "sgr"))
						w.Bool("isEgress", false)
						w.Str("ipProtocol", "tcp")
						w.Int("fromPort", 22)
						w.Int("toPort", 22)
						w.Str("cidrIpv4", "0.0.0.0/0")
						w.End()
						w.EndItems()
					}}}}},

		{technique: "T1530", title: "Bucket made public with a bucket policy", as: asStolenSession,
			steps: []attackStep{{description: `PutBucketPolicy granting s3:GetObject to Principal "*"`,
				api: api{svc: "s3", name: "PutBucketPolicy",
					req: func(w *jsonWriter, c *call) {
						c.bucket = c.attack.bucket
						c.host = c.bucket + ".s3." + c.region + ".amazonaws.com"
						writeBucketPolicy(w, c, `"*"`, "s3:GetObject")
					},
					additional: s3Transfer(false), resources: s3BucketResource}}}},

		{technique: "T1562.001", title: "GuardDuty detector deleted", as: asLeakedKey,
			steps: []attackStep{{description: "DeleteDetector",
				api: api{svc: "guardduty", name: "DeleteDetector",
					req: func(w *jsonWriter, c *call) { w.Str("detectorId", c.acct.detector) }}}}},

		{technique: "T1552", title: "Windows administrator password retrieved", as: asLeakedKey,
			steps: []attackStep{{description: "GetPasswordData for an instance",
				api: api{svc: "ec2", name: "GetPasswordData", readOnly: true,
					req: func(w *jsonWriter, c *call) { w.Str("instanceId", c.attack.instance) }}}}},

		{technique: "T1087.004", title: "IAM enumeration from Kali Linux", global: true, as: asLeakedKey,
			steps: []attackStep{
				{description: "ListUsers with a Kali Linux aws-cli user agent", setup: withAgent(kaliCLI, tailCLI),
					api: api{svc: "iam", name: "ListUsers", global: true, readOnly: true}},
				{description: "ListRoles with a Kali Linux aws-cli user agent", setup: withAgent(kaliCLI, tailCLI),
					api: api{svc: "iam", name: "ListRoles", global: true, readOnly: true}},
			}},

		{technique: "T1580", title: "Discovery with the Pacu exploitation framework", as: asLeakedKey,
			steps: []attackStep{
				{description: "GetCallerIdentity from Pacu", technique: "T1087.004", setup: withAgent(pacuUA, tailNone),
					api: api{svc: "sts", name: "GetCallerIdentity", readOnly: true}},
				{description: "ListBuckets from Pacu", technique: "T1619", setup: withAgent(pacuUA, tailNone),
					api: api{svc: "s3", name: "ListBuckets", readOnly: true,
						req: func(w *jsonWriter, c *call) {
							c.host = "s3.amazonaws.com"
							w.Str("Host", c.host)
						},
						additional: s3Transfer(false)}},
			}},

		{technique: "T1552.005", title: "EC2 instance credentials used from outside the instance", as: asInstanceCredentials,
			steps: []attackStep{
				{description: "GetCallerIdentity with an instance's role credentials from the attacker's address",
					api: api{svc: "sts", name: "GetCallerIdentity", readOnly: true}},
				{description: "ListBuckets with an instance's role credentials from the attacker's address", technique: "T1619",
					api: api{svc: "s3", name: "ListBuckets", readOnly: true,
						req: func(w *jsonWriter, c *call) {
							c.host = "s3.amazonaws.com"
							w.Str("Host", c.host)
						},
						additional: s3Transfer(false)}},
			}},

		{technique: "T1078.004", title: "Leaked key checked by TruffleHog", as: asLeakedKey,
			steps: []attackStep{{description: "GetCallerIdentity with the TruffleHog user agent", setup: withAgent("TruffleHog", tailNone),
				api: api{svc: "sts", name: "GetCallerIdentity", readOnly: true}}}},

		{technique: "T1562.008", title: "VPC flow logs deleted", as: asStolenSession,
			steps: []attackStep{{description: "DeleteFlowLogs",
				api: api{svc: "ec2", name: "DeleteFlowLogs",
					req: func(w *jsonWriter, c *call) {
						w.Object("DeleteFlowLogsRequest")
						w.Object("FlowLogId")
						w.Random("content", "fl-0", c.r, hexDigits, 16)
						w.Int("tag", 1)
						w.End()
						w.End()
					},
					resp: func(w *jsonWriter, c *call) {
						w.Object("DeleteFlowLogsResponse")
						w.Str("xmlns", "http://ec2.amazonaws.com/doc/2016-11-15/")
						w.UUID("requestId", c.r)
						w.Str("unsuccessful", "")
						w.End()
					}}}}},

		{technique: "T1562.008", title: "AWS Config recording stopped", as: asStolenSession,
			steps: []attackStep{{description: "StopConfigurationRecorder",
				api: api{svc: "config", name: "StopConfigurationRecorder",
					req: fixed("configurationRecorderName", "default")}}}},

		{technique: "T1537", title: "EBS snapshot shared with an outside account", as: asStolenSession,
			steps: []attackStep{{description: "ModifySnapshotAttribute adding createVolumePermission for an unknown account",
				api: api{svc: "ec2", name: "ModifySnapshotAttribute",
					req: func(w *jsonWriter, c *call) {
						w.Str("snapshotId", c.attack.snapshot)
						w.Str("attributeType", "CREATE_VOLUME_PERMISSION")
						w.Object("createVolumePermission")
						w.Items("add")
						w.Item()
						w.Str("userId", c.attack.external)
						w.End()
						w.EndItems()
						w.End()
					},
					resp: ec2Return}}}},

		{technique: "T1490", title: "Bucket versioning suspended", as: asStolenSession,
			steps: []attackStep{{description: "PutBucketVersioning with Status Suspended",
				api: api{svc: "s3", name: "PutBucketVersioning",
					req: func(w *jsonWriter, c *call) {
						c.bucket = c.attack.bucket
						c.host = c.bucket + ".s3." + c.region + ".amazonaws.com"
						w.Str("bucketName", c.bucket)
						w.Str("Host", c.host)
						w.Object("VersioningConfiguration")
						w.Str("Status", "Suspended")
						w.Str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
						w.End()
						w.Array("versioning")
						w.StrItem("")
						w.EndArray()
					},
					additional: s3Transfer(false), resources: s3BucketResource}}}},

		{technique: "T1580", title: "Permission probing with a leaked key", global: true, as: asLeakedKey,
			steps: []attackStep{
				{description: "ListRoles denied", technique: "T1087.004", setup: failing("AccessDenied", ""),
					api: api{svc: "iam", name: "ListRoles", global: true, readOnly: true}},
				{description: "ListSecrets denied", technique: "T1555.006", setup: failing("AccessDenied", ""),
					api: api{svc: "secretsmanager", name: "ListSecrets", readOnly: true}},
				{description: "DescribeInstances denied (Client.UnauthorizedOperation)",
					setup: failing("Client.UnauthorizedOperation", "You are not authorized to perform this operation."),
					api:   api{svc: "ec2", name: "DescribeInstances", readOnly: true}},
			}},
	}
}
