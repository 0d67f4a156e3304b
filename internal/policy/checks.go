package policy

import "slices"

// Category is the kind of harm a risk enables.
type Category string

// The risk categories. They match the risk categories of the action catalog
// in internal/enrich where the two overlap, plus full-admin.
const (
	PrivilegeEscalation Category = "privilege-escalation"
	ResourceExposure    Category = "resource-exposure"
	DataExfiltration    Category = "data-exfiltration"
	CredentialsExposure Category = "credentials-exposure"
	Infrastructure      Category = "infrastructure-modification"
	FullAdmin           Category = "full-admin"
)

// Severity is a risk's severity, named as the bands of GuardDuty's scale the
// findings use.
type Severity string

// The severities, lowest first.
const (
	Low      Severity = "Low"
	Medium   Severity = "Medium"
	High     Severity = "High"
	Critical Severity = "Critical"
)

// Score places the severity on GuardDuty's 1.0–10.0 scale, at the points
// finding.SeverityFor gives the Sigma levels of the same names.
func (s Severity) Score() float64 {
	switch s {
	case Low:
		return 2.0
	case Medium:
		return 5.0
	case High:
		return 8.0
	case Critical:
		return 9.5
	}
	return 0
}

// lower is the next band down, for grants that hold only under conditions.
func (s Severity) lower() Severity {
	switch s {
	case Critical:
		return High
	case High:
		return Medium
	}
	return Low
}

// Check is one dangerous capability the analysis looks for: every action in
// Actions allowed on any resource of the type each acts on (see Probe).
type Check struct {
	ID       string
	Category Category
	Severity Severity
	Actions  []string
	Reason   string
	// OnSelf asks about the principal's own user rather than another one.
	OnSelf bool
}

// checks is the table the analysis runs, as data: privilege-escalation paths
// first (docs/policy.md lists them, generated from here), then the other
// categories. Each is decided by the evaluator, so Deny statements,
// NotAction, NotResource and boundaries are honoured.
var checks = []Check{
	{"full-admin", FullAdmin, Critical,
		[]string{"*", "iam:CreateUser", "iam:PutRolePolicy", "organizations:LeaveOrganization", "ec2:RunInstances", "s3:PutBucketPolicy", "kms:ScheduleKeyDeletion", "cloudtrail:StopLogging"},
		"allows every action on every resource: full administrator", false},

	// Privilege escalation: the documented IAM escalation paths.
	{"iam-create-policy-version", PrivilegeEscalation, Critical,
		[]string{"iam:CreatePolicyVersion"},
		"can write a new default version of a customer managed policy, including one attached to itself, granting any permission", false},
	{"iam-set-default-policy-version", PrivilegeEscalation, High,
		[]string{"iam:SetDefaultPolicyVersion"},
		"can make an older, broader version of a managed policy the default one", false},
	{"iam-attach-user-policy", PrivilegeEscalation, Critical,
		[]string{"iam:AttachUserPolicy"},
		"can attach any managed policy, AdministratorAccess included, to a user — itself or another", false},
	{"iam-attach-group-policy", PrivilegeEscalation, Critical,
		[]string{"iam:AttachGroupPolicy"},
		"can attach any managed policy to a group, including a group it belongs to", false},
	{"iam-attach-role-policy", PrivilegeEscalation, Critical,
		[]string{"iam:AttachRolePolicy"},
		"can attach any managed policy to a role, including the role it runs as or one it can assume", false},
	{"iam-put-user-policy", PrivilegeEscalation, Critical,
		[]string{"iam:PutUserPolicy"},
		"can write an inline policy granting anything into a user — itself or another", false},
	{"iam-put-group-policy", PrivilegeEscalation, Critical,
		[]string{"iam:PutGroupPolicy"},
		"can write an inline policy granting anything into a group, including one it belongs to", false},
	{"iam-put-role-policy", PrivilegeEscalation, Critical,
		[]string{"iam:PutRolePolicy"},
		"can write an inline policy granting anything into a role, including the role it runs as", false},
	{"iam-add-user-to-group", PrivilegeEscalation, High,
		[]string{"iam:AddUserToGroup"},
		"can add a user, itself included, to any group and so gain the group's permissions", false},
	{"iam-create-access-key", PrivilegeEscalation, High,
		[]string{"iam:CreateAccessKey"},
		"can create access keys for other users and act as them", false},
	{"iam-create-login-profile", PrivilegeEscalation, High,
		[]string{"iam:CreateLoginProfile"},
		"can set a console password for a user that has none and sign in as them", false},
	{"iam-update-login-profile", PrivilegeEscalation, High,
		[]string{"iam:UpdateLoginProfile"},
		"can change another user's console password and sign in as them", false},
	{"iam-update-assume-role-policy", PrivilegeEscalation, High,
		[]string{"iam:UpdateAssumeRolePolicy", "sts:AssumeRole"},
		"can rewrite a role's trust policy to trust itself, then assume the role", false},
	{"sts-assume-any-role", PrivilegeEscalation, High,
		[]string{"sts:AssumeRole"},
		"can assume any role whose trust policy trusts its account", false},
	{"passrole-ec2-run-instances", PrivilegeEscalation, High,
		[]string{"iam:PassRole", "ec2:RunInstances"},
		"can start an instance with a more privileged role and read the role's credentials from the instance", false},
	{"passrole-lambda-create-invoke", PrivilegeEscalation, High,
		[]string{"iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"},
		"can create a Lambda function running as a more privileged role and invoke it", false},
	{"passrole-lambda-event-source", PrivilegeEscalation, High,
		[]string{"iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"},
		"can create a Lambda function running as a more privileged role and have an event source trigger it", false},
	{"passrole-cloudformation-create-stack", PrivilegeEscalation, High,
		[]string{"iam:PassRole", "cloudformation:CreateStack"},
		"can create a CloudFormation stack that runs as a more privileged role and creates anything that role can", false},
	{"passrole-glue-dev-endpoint", PrivilegeEscalation, High,
		[]string{"iam:PassRole", "glue:CreateDevEndpoint"},
		"can create a Glue development endpoint with a more privileged role and log in to it over SSH", false},
	{"passrole-datapipeline", PrivilegeEscalation, High,
		[]string{"iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition", "datapipeline:ActivatePipeline"},
		"can run a Data Pipeline whose resources act as a more privileged role and execute commands", false},
	{"lambda-update-function-code", PrivilegeEscalation, High,
		[]string{"lambda:UpdateFunctionCode"},
		"can replace the code of existing Lambda functions and act as their roles", false},
	{"ssm-send-command", PrivilegeEscalation, High,
		[]string{"ssm:SendCommand"},
		"can run commands on managed instances and use their instance roles", false},
	{"ssm-start-session", PrivilegeEscalation, High,
		[]string{"ssm:StartSession"},
		"can open a shell on managed instances and use their instance roles", false},
	{"ec2-instance-connect", PrivilegeEscalation, High,
		[]string{"ec2-instance-connect:SendSSHPublicKey"},
		"can push an SSH key to instances, log in and use their instance roles", false},

	// Data exfiltration.
	{"s3-read-all-objects", DataExfiltration, Medium,
		[]string{"s3:GetObject"},
		"can read every object of every bucket that does not deny it", false},
	{"secretsmanager-read-all-secrets", DataExfiltration, High,
		[]string{"secretsmanager:GetSecretValue"},
		"can read the value of every secret in Secrets Manager", false},
	{"ssm-read-all-parameters", DataExfiltration, Medium,
		[]string{"ssm:GetParameter"},
		"can read every SSM parameter, SecureString values included when the key allows", false},
	{"ssm-read-parameters-by-path", DataExfiltration, Medium,
		[]string{"ssm:GetParametersByPath"},
		"can read SSM parameters in bulk, by path", false},
	{"kms-decrypt-any-key", DataExfiltration, Medium,
		[]string{"kms:Decrypt"},
		"can decrypt with any KMS key whose key policy defers to IAM", false},
	{"dynamodb-scan-all-tables", DataExfiltration, Medium,
		[]string{"dynamodb:Scan"},
		"can read whole DynamoDB tables", false},
	{"ebs-snapshot-share", DataExfiltration, High,
		[]string{"ec2:ModifySnapshotAttribute"},
		"can share EBS snapshots with another account", false},
	{"rds-snapshot-share", DataExfiltration, High,
		[]string{"rds:ModifyDBSnapshotAttribute"},
		"can share database snapshots with another account", false},

	// Credentials exposure.
	{"iam-create-own-access-key", CredentialsExposure, Medium,
		[]string{"iam:CreateAccessKey"},
		"can create long-term access keys for itself, which outlive any session", true},
	{"sts-get-federation-token", CredentialsExposure, Medium,
		[]string{"sts:GetFederationToken"},
		"can mint federated-user credentials that survive the deletion of the key that made them", false},
	{"iam-service-specific-credential", CredentialsExposure, Medium,
		[]string{"iam:CreateServiceSpecificCredential"},
		"can create CodeCommit or Keyspaces passwords for users", false},
	{"ec2-get-password-data", CredentialsExposure, Medium,
		[]string{"ec2:GetPasswordData"},
		"can read the encrypted administrator password of Windows instances", false},

	// Resource exposure capabilities (policies granting to others are checked
	// in the resource-based policies themselves).
	{"s3-put-bucket-policy", ResourceExposure, Medium,
		[]string{"s3:PutBucketPolicy"},
		"can rewrite any bucket's policy, e.g. to make it public", false},
	{"s3-delete-public-access-block", ResourceExposure, Medium,
		[]string{"s3:PutBucketPublicAccessBlock"},
		"can turn off the public access block of any bucket", false},
	{"kms-put-key-policy", ResourceExposure, Medium,
		[]string{"kms:PutKeyPolicy"},
		"can rewrite any KMS key's policy", false},

	// Infrastructure modification, defense evasion included.
	{"cloudtrail-stop-logging", Infrastructure, High,
		[]string{"cloudtrail:StopLogging"},
		"can stop any CloudTrail trail: later activity goes unrecorded", false},
	{"cloudtrail-delete-trail", Infrastructure, High,
		[]string{"cloudtrail:DeleteTrail"},
		"can delete any CloudTrail trail", false},
	{"cloudtrail-change-selectors", Infrastructure, Medium,
		[]string{"cloudtrail:PutEventSelectors"},
		"can change which events trails record", false},
	{"config-stop-recorder", Infrastructure, Medium,
		[]string{"config:StopConfigurationRecorder"},
		"can stop AWS Config recording configuration changes", false},
	{"guardduty-delete-detector", Infrastructure, High,
		[]string{"guardduty:DeleteDetector"},
		"can delete GuardDuty detectors and their findings", false},
	{"ec2-open-security-groups", Infrastructure, Medium,
		[]string{"ec2:AuthorizeSecurityGroupIngress"},
		"can open any security group to any address", false},
	{"ec2-terminate-instances", Infrastructure, Medium,
		[]string{"ec2:TerminateInstances"},
		"can terminate any instance", false},
	{"kms-schedule-key-deletion", Infrastructure, High,
		[]string{"kms:ScheduleKeyDeletion"},
		"can schedule the deletion of any KMS key, making its data unreadable", false},
}

// Checks returns the table of checks the analysis runs, in order.
func Checks() []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		c.Actions = append([]string(nil), c.Actions...)
		out[i] = c
	}
	return out
}

// Probe is the resource a check asks about for an action: for actions on
// users, groups, roles and policies, one of that type that is not the
// principal itself (so that `user/${aws:username}` grants on oneself do not
// count as a grant on others); "*" for the rest. A statement limited to named
// resources does not pass: the checks ask about any resource of the type.
func Probe(action, account string) string {
	return probeARN(probeKind(action), account)
}

type probeType uint8

const (
	probeAny probeType = iota
	probeUser
	probeGroup
	probeRole
	probePolicy
	probeSelf // the principal's own user (Check.OnSelf)
	probeTypes
)

func probeKind(action string) probeType {
	switch action {
	case "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
		"iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:CreateServiceSpecificCredential":
		return probeUser
	case "iam:AttachGroupPolicy", "iam:PutGroupPolicy", "iam:AddUserToGroup":
		return probeGroup
	case "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole", "sts:AssumeRole":
		return probeRole
	case "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion":
		return probePolicy
	}
	return probeAny
}

func probeARN(k probeType, account string) string {
	switch k {
	case probeUser:
		return "arn:aws:iam::" + account + ":user/trailsentry-probe-other-user"
	case probeGroup:
		return "arn:aws:iam::" + account + ":group/trailsentry-probe-group"
	case probeRole:
		return "arn:aws:iam::" + account + ":role/trailsentry-probe-role"
	case probePolicy:
		return "arn:aws:iam::" + account + ":policy/trailsentry-probe-policy"
	}
	return "*"
}

// probe is one (action, resource type) the checks ask about; checkProbes
// indexes the table's probes once, so that an analysis asks each once and
// keeps the answers in a slice rather than a map.
type probe struct {
	action string
	kind   probeType
}

type probeIndex struct {
	probes  []probe
	byCheck [][]int // for each check, the indexes of its probes
}

var checkProbes = indexProbes()

func indexProbes() probeIndex {
	var ix probeIndex
	for _, c := range checks {
		var ids []int
		for _, a := range c.Actions {
			p := probe{a, probeKind(a)}
			if c.OnSelf {
				p.kind = probeSelf
			}
			i := slices.Index(ix.probes, p)
			if i < 0 {
				i = len(ix.probes)
				ix.probes = append(ix.probes, p)
			}
			ids = append(ids, i)
		}
		ix.byCheck = append(ix.byCheck, ids)
	}
	return ix
}
