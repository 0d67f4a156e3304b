package policy

import (
	"slices"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// AnalyzeEvent is the risk analysis of a policy change as CloudTrail records
// it, for the detector: a Sigma rule cannot parse a policy, so enrichment
// calls this and exposes the result as trailsentry.request.policyRisks.
//
//   - CreatePolicy, CreatePolicyVersion, PutUserPolicy, PutGroupPolicy and
//     PutRolePolicy carry the document in requestParameters.policyDocument:
//     it is parsed and analysed as AnalyzeDocument does;
//   - AttachUserPolicy, AttachGroupPolicy and AttachRolePolicy name a
//     managed policy by ARN: the well-known AWS managed policies that grant
//     administrator rights or a way to them are a table (ManagedPolicyRisks),
//     since the record does not carry the document.
//
// Any other event, a document that does not parse and a harmless document
// give nil. The analysis is of the request: whether the call succeeded is
// the rule's business (errorCode).

var policyDocumentPath = event.ParsePath("requestParameters.policyDocument")
var policyARNPath = event.ParsePath("requestParameters.policyArn")

// ManagedPolicyRisk is what attaching an AWS managed policy grants.
type ManagedPolicyRisk struct {
	Name     string // the policy's name: arn:aws:iam::aws:policy/[path/]Name
	Category Category
	Severity Severity
	Reason   string
}

// managedPolicyRisks are AWS managed policies whose attachment is a risk,
// from what their documents grant (as AWS publishes them).
var managedPolicyRisks = []ManagedPolicyRisk{
	{"AdministratorAccess", FullAdmin, Critical, "AdministratorAccess allows every action on every resource: full administrator"},
	{"IAMFullAccess", PrivilegeEscalation, Critical, "IAMFullAccess allows iam:*: the holder can attach or write any policy, AdministratorAccess included, to itself"},
	{"PowerUserAccess", PrivilegeEscalation, High, "PowerUserAccess allows every action outside IAM and Organizations: ssm:SendCommand, lambda:UpdateFunctionCode and the like reach more privileged instance and function roles"},
	{"AWSLambda_FullAccess", PrivilegeEscalation, High, "AWSLambda_FullAccess allows lambda:* and iam:PassRole to Lambda: the holder can run code as any role Lambda may assume"},
	{"AmazonSSMFullAccess", PrivilegeEscalation, High, "AmazonSSMFullAccess allows ssm:* (SendCommand, StartSession) and iam:PassRole to SSM: the holder can run commands as the managed instances' roles"},
	{"AWSCloudFormationFullAccess", Infrastructure, Medium, "AWSCloudFormationFullAccess allows cloudformation:*: stacks create whatever their service role may"},
	{"AmazonEC2FullAccess", Infrastructure, Medium, "AmazonEC2FullAccess allows ec2:*: instances, security groups open to the world, snapshot sharing"},
	{"AmazonS3FullAccess", DataExfiltration, Medium, "AmazonS3FullAccess allows s3:*: every object of every bucket that does not deny it, and bucket policies"},
	{"SecretsManagerReadWrite", DataExfiltration, High, "SecretsManagerReadWrite allows reading every secret's value"},
	{"AWSOrganizationsFullAccess", Infrastructure, High, "AWSOrganizationsFullAccess allows organizations:*: SCPs, accounts leaving the organization"},
}

// ManagedPolicyRisks returns the table of AWS managed policies AnalyzeEvent
// knows.
func ManagedPolicyRisks() []ManagedPolicyRisk { return slices.Clone(managedPolicyRisks) }

// AnalyzeEvent reports the risks of the policy a CloudTrail record writes or
// attaches.
func AnalyzeEvent(ev *event.Event) []Risk {
	if ev == nil || ev.Str(event.EventSource) != "iam.amazonaws.com" {
		return nil
	}
	switch ev.Str(event.EventName) {
	case "CreatePolicy", "CreatePolicyVersion", "PutUserPolicy", "PutGroupPolicy", "PutRolePolicy":
		v := ev.First(policyDocumentPath)
		var doc []byte
		switch v.Kind {
		case event.String:
			doc = []byte(v.Str)
		case event.Object:
			doc = []byte(v.Str)
		default:
			return nil
		}
		p, err := ParseDocument(doc)
		if err != nil {
			return nil
		}
		for i := range p.Statements {
			if p.Statements[i].Principal != nil {
				return nil // not an identity-based policy: IAM would refuse it here
			}
		}
		if a := ev.Account(); a != "" && p.Account == "" {
			p.Account = a
		}
		return AnalyzeDocument(p)
	case "AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy":
		arn := ev.First(policyARNPath)
		if arn.Kind != event.String {
			return nil
		}
		rest, ok := strings.CutPrefix(arn.Str, "arn:")
		if !ok {
			return nil
		}
		// arn:<partition>:iam::aws:policy/[path/]Name
		if _, rest, ok = strings.Cut(rest, ":"); !ok || !strings.HasPrefix(rest, "iam::aws:policy/") {
			return nil
		}
		name := rest[strings.LastIndexByte(rest, '/')+1:]
		for _, m := range managedPolicyRisks {
			if m.Name == name {
				return []Risk{{Check: "attach-aws-managed-policy", Category: m.Category, Severity: m.Severity,
					Policies: []string{strings.Clone(arn.Str)}, Actions: []string{"iam:" + ev.Str(event.EventName)}, Reason: m.Reason}}
			}
		}
	}
	return nil
}

// RiskCategories are the distinct categories of risks, most severe risk
// first: the values of trailsentry.request.policyRisks.
func RiskCategories(rs []Risk) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, string(r.Category)) {
			out = append(out, string(r.Category))
		}
	}
	return out
}

// RiskReasons are the risks as "check: reason" lines, most severe first: the
// values of trailsentry.request.policyRiskReasons.
func RiskReasons(rs []Risk) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		s := r.Check + ": " + r.Reason
		if r.Conditional {
			s += " (when its conditions hold)"
		}
		out = append(out, s)
	}
	return out
}
