package enrich

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Field is one enrichment field a rule can address: the table below drives
// rule lookups, the Summary that findings show, and docs/enrichment.md.
type Field struct {
	Path string // full name, starting with Prefix
	Type string // "string", "bool" or "list" (of strings)
	Doc  string
	get  func(*View) event.Value
	list func(*View) []string // the elements of a list field
}

// fields is the field table. A missing string is Missing (a Sigma rule's
// `field: null` matches it); bools are always present once there is an event.
var fields = []Field{
	{Prefix + "actor", "string", "Who made the call, as a person would name them: `root`, the IAM user, `<role>/<session>`, `<person> via <role>`, the federated user, `account <id>`, the AWS service (see *Actor* below).", func(v *View) event.Value { return str(v.Actor()) }, nil},
	{Prefix + "identity.type", "string", "`userIdentity.type`: Root, IAMUser, AssumedRole, Role, FederatedUser, IdentityCenterUser, AWSAccount, AWSService, SAMLUser, WebIdentityUser, Unknown.", func(v *View) event.Value { return str(v.IdentityType()) }, nil},
	{Prefix + "identity.role", "string", "The role behind an assumed-role session (`Admin`, `AWSReservedSSO_ReadOnly_0123456789abcdef`).", func(v *View) event.Value { return str(v.Role()) }, nil},
	{Prefix + "identity.session", "string", "The role session name: a person, an instance id (`i-0abc…`) for an instance profile, a service for a service role.", func(v *View) event.Value { return str(v.Session()) }, nil},
	{Prefix + "identity.human", "string", "The person behind a session when the record names one: the session's source identity, the Identity Center user (session name of an `AWSReservedSSO_*` role, or `userIdentity.onBehalfOf.userId`), the federated or SAML user.", func(v *View) event.Value { return str(v.Human()) }, nil},
	{Prefix + "identity.keyType", "string", "`long-term` (an AKIA access key: IAM user or root) or `temporary` (ASIA: STS credentials); missing when the record has no key.", func(v *View) event.Value { return str(v.KeyType()) }, nil},
	{Prefix + "identity.mfa", "bool", "The caller authenticated with MFA: an MFA-authenticated session, or a console sign-in with `MFAUsed: Yes`.", func(v *View) event.Value { return boolean(v.MFA()) }, nil},
	{Prefix + "identity.console", "bool", "The call came from the AWS Management Console: a console sign-in or action, a session whose credentials the console issued (`sessionCredentialFromConsole`), or a console user agent.", func(v *View) event.Value { return boolean(v.Console()) }, nil},
	{Prefix + "identity.crossAccount", "bool", "The caller's credentials belong to another account (`userIdentity.accountId` differs from `recipientAccountId`).", func(v *View) event.Value { return boolean(v.CrossAccount()) }, nil},
	{Prefix + "action.service", "string", "The IAM service prefix of `eventSource` (`monitoring.amazonaws.com` → `cloudwatch`).", func(v *View) event.Value {
		return actionField(v, func(a *Action) event.Value { return str(a.Service) })
	}, nil},
	{Prefix + "action.name", "string", "The IAM action that authorises the call: `iam:CreateAccessKey`; `s3:ListBucket` for ListObjects.", func(v *View) event.Value { return actionField(v, func(a *Action) event.Value { return str(a.Name) }) }, nil},
	{Prefix + "action.accessLevel", "string", "List, Read, Write, Permissions management or Tagging (AWS Service Authorization Reference); guessed from the verb for actions outside the catalog.", func(v *View) event.Value {
		return actionField(v, func(a *Action) event.Value { return str(a.AccessLevel) })
	}, nil},
	{Prefix + "action.techniques", "list", "MITRE ATT&CK technique ids the call is characteristic of (`T1562.008`).",
		func(v *View) event.Value {
			return actionField(v, func(a *Action) event.Value { return event.Value{Kind: event.Array, Str: a.techniquesJSON} })
		},
		func(v *View) []string { return actionList(v, func(a *Action) []string { return a.Techniques }) }},
	{Prefix + "action.risks", "list", "Risk categories of the call: privilege-escalation, resource-exposure, data-exfiltration, credentials-exposure, infrastructure-modification, defense-evasion.",
		func(v *View) event.Value {
			return actionField(v, func(a *Action) event.Value { return event.Value{Kind: event.Array, Str: a.risksJSON} })
		},
		func(v *View) []string { return actionList(v, func(a *Action) []string { return a.Risks }) }},
	{Prefix + "action.guessed", "bool", "The action is not in the catalog: service and name come from `eventSource` and `eventName`, the access level from the verb, and it has no techniques or risks.", func(v *View) event.Value {
		return actionField(v, func(a *Action) event.Value { return boolean(a.Guessed) })
	}, nil},
	{Prefix + "network.sourceKind", "string", "Where the call came from: `aws-service`, `aws-internal`, `private`, `public` or `unknown`.", func(v *View) event.Value { return str(v.SourceKind()) }, nil},
	{Prefix + "client.family", "string", "The client family of the user agent: `console`, `aws-cli`, `sdk-python`, `terraform`, `cloudformation`, ... or `other`.", func(v *View) event.Value { return str(v.UserAgentFamily()) }, nil},
	{Prefix + "client.tooling", "string", "Offensive, audit or suspicious tooling in the user agent: `offensive:kali`, `offensive:pacu`, `audit:prowler`, `suspicious:curl`; missing when none.", func(v *View) event.Value { return str(v.Tooling()) }, nil},
	{Prefix + "intel.threatList", "string", "The threat list (file name) holding the caller's address; missing when none does.", func(v *View) event.Value { l, _ := v.ThreatListed(); return str(l) }, nil},
	{Prefix + "request.worldOpen", "bool", "The request allows traffic from (or to) a range of prefix length 0 — `0.0.0.0/0`, `::/0` or any other spelling, the CIDR parsed, not compared as text — in a security-group permission, an allowing network ACL entry or a DB security group ingress.", func(v *View) event.Value { open, _ := v.WorldOpen(); return boolean(open) }, nil},
	{Prefix + "request.worldOpenPorts", "list", "The administrative and database ports such a world-open rule covers, from: 21, 22, 23, 135, 139, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5601, 5900, 5985, 5986, 6379, 6443, 9200, 9300, 10250, 11211, 27017; `all` when every port is (protocol -1, or the full range).",
		func(v *View) event.Value { _, ports := v.WorldOpen(); return listValue(ports) },
		func(v *View) []string { _, ports := v.WorldOpen(); return ports }},
	{Prefix + "request.policyExposure", "string", "What the resource or trust policy the request sets grants (bucket, role trust, KMS key, Lambda permission, ECR, SNS, SQS, Secrets Manager policies): `public` (Principal `*` with no Condition), `external` (another account with no Condition), `conditional` (either, under a Condition); missing when it grants neither.", func(v *View) event.Value { e, _ := v.PolicyExposure(); return str(e) }, nil},
	{Prefix + "request.externalAccounts", "list", "The other accounts that policy grants access to, without a Condition.",
		func(v *View) event.Value { _, a := v.PolicyExposure(); return listValue(a) },
		func(v *View) []string { _, a := v.PolicyExposure(); return a }},
	{Prefix + "intel.trusted", "bool", "The caller's address is on a trusted list.", func(v *View) event.Value { return boolean(v.Trusted()) }, nil},
	{Prefix + "network.asn", "string", "The autonomous system the caller's address is announced from, as a decimal number (`16509`), by the MaxMind ASN database (GeoLite2-ASN or an ISP database), when one is configured; missing without one, for an address it does not hold, and for AWS service names and `AWS Internal`.", func(v *View) event.Value { v.resolveGeo(); return str(v.geo.asnText) }, nil},
	{Prefix + "network.asnOrg", "string", "The organisation of that autonomous system, as the database names it (`AMAZON-02`).", func(v *View) event.Value { _, org, _ := v.ASN(); return str(org) }, nil},
	{Prefix + "network.country", "string", "The ISO 3166-1 alpha-2 code of the country of the caller's address (`DE`), by the MaxMind Country or City database, when one is configured: the record's `country`, else its `registered_country`; missing as for `network.asn`.", func(v *View) event.Value { c, _ := v.Country(); return str(c) }, nil},
	{Prefix + "request.policyRisks", "list", "The risk categories of the IAM policy the request writes (`CreatePolicy`, `CreatePolicyVersion`, `PutUserPolicy`, `PutGroupPolicy`, `PutRolePolicy`: the document is analysed as `trailsentry policy analyze` does) or attaches (`Attach{User,Group,Role}Policy` of a well-known AWS managed policy such as AdministratorAccess or IAMFullAccess): privilege-escalation, full-admin, data-exfiltration, credentials-exposure, resource-exposure, infrastructure-modification; missing for a harmless policy or another request.",
		func(v *View) event.Value { r, _ := v.PolicyRisks(); return listValue(r) },
		func(v *View) []string { r, _ := v.PolicyRisks(); return r }},
	{Prefix + "request.policyRiskReasons", "list", "Why, one line per risk: `<check>: <reason>` (`passrole-ec2-run-instances: can start an instance with a more privileged role...`), most severe first.",
		func(v *View) event.Value { _, r := v.PolicyRisks(); return listValue(r) },
		func(v *View) []string { _, r := v.PolicyRisks(); return r }},
}

// listValue is a list field's whole value: its JSON text (elements are
// visited one by one through the field's list function).
func listValue(l []string) event.Value {
	if len(l) == 0 {
		return event.Value{}
	}
	return event.Value{Kind: event.Array, Str: jsonList(l)}
}

func str(s string) event.Value {
	if s == "" {
		return event.Value{}
	}
	return event.Value{Kind: event.String, Str: s}
}

func boolean(b bool) event.Value {
	if b {
		return event.Value{Kind: event.Bool, Str: "true"}
	}
	return event.Value{Kind: event.Bool, Str: "false"}
}

func actionList(v *View, f func(*Action) []string) []string {
	if a := v.Action(); a != nil {
		return f(a)
	}
	return nil
}

func actionField(v *View, f func(*Action) event.Value) event.Value {
	if a := v.Action(); a != nil {
		return f(a)
	}
	return event.Value{}
}

// Fields returns the field table.
func Fields() []Field { return slices.Clone(fields) }

// IsField reports whether path is under Prefix: enrichment's to resolve,
// whether or not such a field exists.
func IsField(path string) bool { return strings.HasPrefix(path, Prefix) }

// FieldRef is a compiled enrichment field: the detect engine compiles each
// rule path once, then reads it from every event's View in O(1).
type FieldRef uint8

// CompileField compiles an enrichment field path. It fails for a path not
// under Prefix and for an unknown field, listing the known ones.
func CompileField(path string) (FieldRef, error) {
	if !IsField(path) {
		return 0, fmt.Errorf("%q is not an enrichment field (they start with %q)", path, Prefix)
	}
	for i, f := range fields {
		if f.Path == path {
			return FieldRef(i), nil
		}
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Path
	}
	return 0, fmt.Errorf("unknown enrichment field %q; the fields are %s", path, strings.Join(names, ", "))
}

// Path returns the field's full name.
func (r FieldRef) Path() string { return fields[r].Path }

// Get returns the field's value for the View's event: a String, a Bool, an
// Array (JSON text, for list fields) or Missing.
func (v *View) Get(r FieldRef) event.Value { return fields[r].get(v) }

// Lookup calls visit with each value the field holds, as
// event.Event.Lookup does for a record's own fields: a list's elements one by
// one, then the list whole; a missing field visits nothing. It stops when
// visit returns true and reports whether one did.
func (v *View) Lookup(r FieldRef, visit func(event.Value) bool) bool {
	f := &fields[r]
	val := f.get(v)
	if val.Kind == event.Missing {
		return false
	}
	if f.list != nil {
		for _, s := range f.list(v) {
			if visit(event.Value{Kind: event.String, Str: s}) {
				return true
			}
		}
	}
	return visit(val)
}

// Field returns the value of the enrichment field named path; ok is false
// for an unknown field. Rules should compile the path once with CompileField.
func (v *View) Field(path string) (val event.Value, ok bool) {
	for _, f := range fields {
		if f.Path == path {
			return f.get(v), true
		}
	}
	return event.Value{}, false
}
