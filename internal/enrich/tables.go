package enrich

// This file holds every small data table enrichment reads, in one place, so a
// reader can review and amend them without reading code. The action catalog,
// being long, is the embedded file actions.tsv, with the ATT&CK technique
// names in techniques.tsv. docs/enrichment.md is generated from all of them.
// Nothing here is written after the program starts.

// Access levels, as the AWS Service Authorization Reference names them.
const (
	AccessList        = "List"
	AccessRead        = "Read"
	AccessWrite       = "Write"
	AccessPermissions = "Permissions management"
	AccessTagging     = "Tagging"
)

var accessLevels = []string{AccessList, AccessRead, AccessWrite, AccessPermissions, AccessTagging}

// Risk categories an action can carry: what a caller could do with it.
const (
	RiskPrivilegeEscalation = "privilege-escalation"
	RiskResourceExposure    = "resource-exposure"
	RiskDataExfiltration    = "data-exfiltration"
	RiskCredentialsExposure = "credentials-exposure"
	RiskInfrastructure      = "infrastructure-modification"
	RiskDefenseEvasion      = "defense-evasion"
)

// riskCategories defines each risk category; the catalog may use no other.
var riskCategories = []struct{ Name, Doc string }{
	{RiskPrivilegeEscalation, "Gives the caller, or a principal or compute it controls, permissions it did not have: attaching or writing policies, joining groups, changing trust, creating credentials for another principal, passing a role to code the caller writes."},
	{RiskResourceExposure, "Changes who can reach a resource: resource policies, ACLs, grants, sharing with other accounts, public-access settings, network ingress."},
	{RiskDataExfiltration, "Reads data out or moves it where the caller can take it: object and item reads, query results, log reads and exports, snapshot and image sharing or export, replication and traffic mirroring."},
	{RiskCredentialsExposure, "The response carries credentials or secrets: new access keys, temporary credentials, secret and parameter values, instance passwords, private keys, authorization tokens."},
	{RiskInfrastructure, "Creates, changes or deletes infrastructure: instances, networks and routes, security groups, databases, clusters, stacks, DNS, load balancers, functions."},
	{RiskDefenseEvasion, "Blinds or weakens detection and protection: stopping or deleting trails and logs, disabling GuardDuty, Security Hub, Config, Macie, Inspector or alarms, suppressing findings, removing MFA."},
}

// serviceByEventSource maps the eventSource hosts whose IAM service prefix is
// not simply the name before ".amazonaws.com" ("iam.amazonaws.com" → "iam").
var serviceByEventSource = map[string]string{
	"monitoring.amazonaws.com":       "cloudwatch",
	"email.amazonaws.com":            "ses",
	"sso-oidc.amazonaws.com":         "sso-oauth",
	"portal.sso.amazonaws.com":       "sso",
	"streams.dynamodb.amazonaws.com": "dynamodb",
	"tagging.amazonaws.com":          "tag",
	"models.lex.amazonaws.com":       "lex",
	"runtime.lex.amazonaws.com":      "lex",
	"cloudcontrolapi.amazonaws.com":  "cloudformation",
	"billingconsole.amazonaws.com":   "billing",
	"bedrock-runtime.amazonaws.com":  "bedrock",
	"ec2messages.amazonaws.com":      "ec2messages",
	"api.ecr.amazonaws.com":          "ecr",
	"data.iot.amazonaws.com":         "iot",
	"iot-data.amazonaws.com":         "iot",
}

// Identity types CloudTrail writes in userIdentity.type, and how the actor is
// named for each (rendered into docs/enrichment.md).
var identityTypes = []struct{ Type, Actor string }{
	{"Root", "`root`."},
	{"IAMUser", "The user name (`userIdentity.userName`, else the ARN's last segment: no IAM path)."},
	{"AssumedRole", "`<role>/<session>` from the assumed-role ARN (`web-role/i-0abc…` for an instance profile session: the instance id is kept). When a person stands behind the session it comes first, `<person> via <role>`: the session's `sourceIdentity`; else, for an Identity Center role `AWSReservedSSO_<permission set>_<16 hex>`, the session name, which is the user's (`alice@example.com via AWSReservedSSO_Admin`: the random suffix is dropped); else the Identity Center user id in `userIdentity.onBehalfOf.userId`."},
	{"Role", "The role name from the ARN."},
	{"FederatedUser", "The federated user's name, from `arn:aws:sts::<account>:federated-user/<name>`."},
	{"IdentityCenterUser", "`userIdentity.userName` when present, else `userIdentity.onBehalfOf.userId`."},
	{"AWSAccount", "`account <userIdentity.accountId>`: a principal of another account."},
	{"AWSService", "The service in `userIdentity.invokedBy`, e.g. `ec2.amazonaws.com`."},
	{"SAMLUser, WebIdentityUser, Directory, Unknown", "`userIdentity.userName` when present, else the ARN, else the principal id."},
}

// Where a call came from (sourceIPAddress).
const (
	SourceAWSService  = "aws-service"  // an AWS service name, e.g. "ec2.amazonaws.com"
	SourceAWSInternal = "aws-internal" // "AWS Internal"
	SourcePrivate     = "private"      // RFC 1918, loopback, link-local, CGNAT, ULA
	SourcePublic      = "public"       // any other address
	SourceUnknown     = "unknown"      // missing or neither a name nor an address
)

// privateRanges are the addresses classified SourcePrivate.
var privateRanges = []struct{ Prefix, Doc string }{
	{"10.0.0.0/8", "RFC 1918"},
	{"172.16.0.0/12", "RFC 1918"},
	{"192.168.0.0/16", "RFC 1918"},
	{"100.64.0.0/10", "RFC 6598 carrier-grade NAT"},
	{"127.0.0.0/8", "loopback"},
	{"169.254.0.0/16", "link-local"},
	{"::1/128", "loopback"},
	{"fe80::/10", "link-local"},
	{"fc00::/7", "unique local (ULA)"},
}

var sourceKinds = []struct{ Kind, Doc string }{
	{SourceAWSService, "An AWS service made the call for the caller: `sourceIPAddress` is a service name such as `ec2.amazonaws.com`."},
	{SourceAWSInternal, "`sourceIPAddress` is `AWS Internal`: AWS made the call itself, typically from the console or a service backend."},
	{SourcePrivate, "A private address (the ranges below): usually a call through a VPC endpoint."},
	{SourcePublic, "Any other IPv4 or IPv6 address."},
	{SourceUnknown, "Missing, or neither a service name nor an address."},
}

// uaRule recognises a user-agent family. Rules are tried in order and the
// first that matches wins, so the more specific come first: Terraform and the
// CLI embed an SDK's token, the console embeds aws-internal.
type uaRule struct {
	Family string
	Match  uaMatch
	Needle string
}

type uaMatch uint8

const (
	uaExact uaMatch = iota
	uaPrefix
	uaContains
	uaSuffix
)

func (m uaMatch) String() string {
	return [...]string{"is", "starts with", "contains", "ends with"}[m]
}

var userAgentRules = []uaRule{
	{"aws-internal", uaExact, "AWS Internal"},
	{"console", uaContains, "S3Console/"},
	{"console", uaPrefix, "console."}, // console.amazonaws.com, console.ec2.amazonaws.com, console.aws.amazon.com
	{"console", uaPrefix, "signin.amazonaws.com"},
	{"console", uaPrefix, "AWS Signin"},
	{"cloudshell", uaContains, "exec-env/CloudShell"},
	{"cloudformation", uaPrefix, "cloudformation.amazonaws.com"},
	{"aws-internal", uaPrefix, "aws-internal/"},
	{"terraform", uaContains, "Terraform/"},
	{"terraform", uaContains, "HashiCorp"},
	{"terraform", uaContains, "terraform-provider-aws"},
	{"pulumi", uaContains, "Pulumi"},
	{"cdk", uaContains, "aws-cdk/"},
	{"ansible", uaContains, "Ansible"},
	{"aws-cli", uaPrefix, "aws-cli/"},
	{"powershell", uaContains, "AWSPowerShell"},
	{"powershell", uaContains, "AWS.Tools."},
	{"sdk-python", uaContains, "Boto3/"},
	{"sdk-python", uaContains, "boto3/"},
	{"sdk-python", uaContains, "Botocore/"},
	{"sdk-python", uaContains, "botocore/"},
	{"sdk-go", uaContains, "aws-sdk-go"},
	{"sdk-java", uaContains, "aws-sdk-java"},
	{"sdk-javascript", uaContains, "aws-sdk-js"},
	{"sdk-javascript", uaContains, "aws-sdk-nodejs"},
	{"sdk-dotnet", uaContains, "aws-sdk-dotnet"},
	{"sdk-ruby", uaContains, "aws-sdk-ruby"},
	{"sdk-php", uaContains, "aws-sdk-php"},
	{"sdk-rust", uaContains, "aws-sdk-rust"},
	{"sdk-cpp", uaContains, "aws-sdk-cpp"},
	{"sdk-kotlin", uaContains, "aws-sdk-kotlin"},
	{"sdk-swift", uaContains, "aws-sdk-swift"},
	{"ssm-agent", uaContains, "amazon-ssm-agent"},
	{"aws-service", uaSuffix, ".amazonaws.com"},
	{"browser", uaPrefix, "Mozilla/"},
	{"http-client", uaPrefix, "curl/"},
	{"http-client", uaPrefix, "python-requests/"},
	{"http-client", uaPrefix, "Wget/"},
	{"http-client", uaPrefix, "Go-http-client/"},
	{"http-client", uaPrefix, "okhttp/"},
	{"http-client", uaPrefix, "PostmanRuntime/"},
	{"http-client", uaPrefix, "axios/"},
}

// FamilyOther is the family of a user agent no rule recognises.
const FamilyOther = "other"

// A browser user agent on a console sign-in or console action is the console.
const (
	familyBrowser = "browser"
	familyConsole = "console"
)

// toolSignature spots tooling in a user agent: Token is looked for
// case-insensitively, as a word (no letter right before or after it). The
// first signature that matches names the tooling, so offensive tooling wins
// over a generic client it runs on.
type toolSignature struct {
	Label string // "<category>:<tool>"
	Token string // lower case
}

// Tooling categories.
const (
	ToolingOffensive  = "offensive"  // penetration-testing distributions and attack tools
	ToolingAudit      = "audit"      // security assessment tools: expected from auditors only
	ToolingSuspicious = "suspicious" // generic clients rarely used against the AWS API by legitimate automation
)

var toolSignatures = []toolSignature{
	{"offensive:kali", "kali"},
	{"offensive:parrot", "parrot"},
	{"offensive:pentoo", "pentoo"},
	{"offensive:blackarch", "blackarch"},
	{"offensive:pacu", "pacu"},
	{"offensive:trufflehog", "trufflehog"},
	{"offensive:cloudbrute", "cloudbrute"},
	{"offensive:weirdaal", "weirdaal"},
	{"offensive:cloudfox", "cloudfox"},
	{"offensive:stratus-red-team", "stratus-red-team"},
	{"offensive:nmap", "nmap"},
	{"offensive:sqlmap", "sqlmap"},
	{"offensive:nuclei", "nuclei"},
	{"audit:prowler", "prowler"},
	{"audit:scoutsuite", "scout suite"},
	{"audit:scoutsuite", "scoutsuite"},
	{"audit:cloudmapper", "cloudmapper"},
	{"audit:cloudsploit", "cloudsploit"},
	{"audit:pmapper", "pmapper"},
	{"suspicious:s3-browser", "s3 browser"},
	{"suspicious:rclone", "rclone"},
	{"suspicious:cyberduck", "cyberduck"},
	{"suspicious:python-requests", "python-requests"},
	{"suspicious:curl", "curl"},
	{"suspicious:wget", "wget"},
	{"suspicious:go-http-client", "go-http-client"},
	{"suspicious:postman", "postmanruntime"},
}

var toolingCategories = []struct{ Name, Doc string }{
	{ToolingOffensive, "Penetration-testing distributions (Kali, Parrot, Pentoo, BlackArch) and attack tools (Pacu, TruffleHog, CloudBrute, WeirdAAL, CloudFox, Stratus Red Team, nmap, sqlmap, nuclei)."},
	{ToolingAudit, "Security assessment tools (Prowler, ScoutSuite, CloudMapper, CloudSploit, PMapper): expected from your auditors, and from nobody else."},
	{ToolingSuspicious, "Clients rarely used against the AWS API by legitimate automation, and common in intrusions: S3 Browser, rclone, Cyberduck (bulk copying out), raw HTTP clients (python-requests, curl, wget, Go's net/http, Postman)."},
}
