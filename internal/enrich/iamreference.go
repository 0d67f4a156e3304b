package enrich

import (
	"fmt"
	"strings"
)

// IAMReference renders docs/iam-actions.md from iamactions.tsv,
// resources.tsv, unrecorded.tsv, the catalog's renamed actions and the deny
// tables, so the documentation cannot drift from what the code does.
func IAMReference() (string, error) {
	cat, err := parseCatalog(actionsTSV, techniquesTSV)
	if err != nil {
		return "", err
	}
	t := cat.access
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cell := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
	}

	w(`# IAM actions, resources and denials

<!-- Generated from internal/enrich (iamactions.tsv, resources.tsv, unrecorded.tsv, actions.tsv, deny.go);
     do not edit. Regenerate with: go test ./internal/enrich/ -run TestIAMReference -update -->

A CloudTrail record names the API call (` + "`eventName`" + `), not the IAM permissions it needed, and
rarely the ARNs of the resources it touched. trailsentry works both out from the record, for
least-privilege work (turning AccessDenied events into policy suggestions, comparing what
principals use with what they are granted) and for findings that name resources:

- the **IAM actions** a call needed: usually one, named like the call or not (` + "`ListObjects`" + ` is
  ` + "`s3:ListBucket`" + `); sometimes several (a ` + "`CopyObject`" + ` reads one object and writes another), some
  only when the request carries a parameter (a ` + "`RunInstances`" + ` that attaches an instance profile
  also passes a role); sometimes none that a policy grants (a web identity federation);
- the **resources** each action was authorised against, as ARNs rebuilt from
  ` + "`requestParameters`" + ` and the event's partition, region and account;
- for a refused call, **what refused it**: an SCP, RCP or permissions boundary working as intended,
  or a permission the principal simply lacks.

For a denied call the AccessDenied message is authoritative: when it names the action and the
resource that were checked, those come first, before what the tables below say.

## What a call needs

Each call needs one of:

| need | meaning |
| --- | --- |
| ` + "`iam`" + ` | the caller's policies must allow the actions below (resource policies, SCPs, RCPs, boundaries and session policies may also have a say) |
| ` + "`none`" + ` | no identity-based permission: the call is authorised by something else (a role's trust policy, a password, an Identity Center token), or it is an ` + "`AwsServiceEvent`" + ` (something a service did, not a caller's request) |
| ` + "`unknown`" + ` | AWS does not say, or the record does not show, which permission the call needed |

A call that the table below does not list needs the catalog's IAM action (` + "`actions.tsv`" + `, see
[enrichment](enrichment.md#catalog)); a call outside the catalog, ` + "`<service>:<eventName>`" + `, a guess.

### Calls that need more, other or no actions

The file is ` + "`internal/enrich/iamactions.tsv`" + `. A line without a condition is needed by every
call; a line with one (a ` + "`requestParameters`" + ` path, present and not empty, ` + "`path~text`" + ` when its
value must contain the text) only when the request carries it, in place of the action in the
*instead of* column when there is one, else as well. A resource given here replaces the action's
templates of the next section for this call. ` + "`-`" + ` is a call that needs no identity permission,
` + "`?`" + ` one whose need is unknown.

| event | when | IAM action | instead of | resource | note |
| --- | --- | --- | --- | --- | --- |
`)
	for _, r := range t.ruleList {
		action := r.action
		switch r.need {
		case NeedNone:
			action = "- (none)"
		case NeedUnknown:
			action = "? (unknown)"
		}
		w("| `%s:%s` | %s | %s | %s | %s | %s |\n", r.event.service, r.event.event, cell(r.when), cell(action), cell(r.replaces), cell(r.resText), r.note)
	}

	w("\n### Calls whose action has another name\n\nFrom the catalog (`actions.tsv`, column `iam_action`):\n\n| event | IAM action |\n| --- | --- |\n")
	for _, a := range cat.list {
		if a.Name != a.Service+":"+a.Event {
			w("| `%s:%s` | `%s` |\n", a.Service, a.Event, a.Name)
		}
	}
	w(`
An API version in `+"`eventName`"+` is dropped before the lookup: Lambda's `+"`Invoke20150331`"+`,
`+"`UpdateFunctionCode20150331v2`"+`, `+"`GetFunction20150331v2`"+`, `+"`AddPermission20150331v2`"+` and
`+"`CreateFunction20150331`"+`, CloudFront's `+"`UpdateDistribution2020_05_31`"+`. The service prefix comes from
`+"`eventSource`"+` ([service prefixes](enrichment.md#service-prefixes)): `+"`monitoring.amazonaws.com`"+` is
`+"`cloudwatch`"+`, `+"`email.amazonaws.com`"+` is `+"`ses`"+`, `+"`portal.sso.amazonaws.com`"+` is `+"`sso`"+`;
`+"`identitystore`"+`, `+"`elasticloadbalancing`"+` (both load balancer APIs) and `+"`es`"+` (OpenSearch) are
their hosts' names.

## Resources

The file is `+"`internal/enrich/resources.tsv`"+`: ARN templates per IAM action, a comma-separated list
of actions, or `+"`service:*`"+` for the service's actions no line names. For each action trailsentry
tries, in order:

1. the AccessDenied message's resource, for a denied call whose message names one as an ARN;
2. the call's own templates (iamactions.tsv), else the action's, else its service's;
3. the ARNs of the record's `+"`resources[]`"+` that belong to the action's service (CloudTrail names the
   key of a KMS `+"`Decrypt`"+`, the tables of a DynamoDB batch);
4. `+"`*`"+`, flagged as a wildcard: nothing in the record names the resource.

A template is an ARN with placeholders in braces. A placeholder names a `+"`requestParameters`"+` path
(`+"`{bucketName}`"+`; an array on the way yields one ARN per element, at most %d); a path from the record's
top when it starts with `+"`responseElements.`"+`, `+"`additionalEventData.`"+` or `+"`userIdentity.`"+`; or
`+"`partition`"+` (from the caller's ARN, else the region: `+"`aws-cn`"+`, `+"`aws-us-gov`"+`...), `+"`region`"+`
(`+"`awsRegion`"+`) or `+"`account`"+`: the account that owns the resource when the record says
(`+"`resources[].accountId`"+`), else `+"`recipientAccountId`"+`, else the caller's. `+"`{a,b}`"+` takes the first
alternative with a value; a template with a placeholder that has none does not apply. A template
that is only `+"`*`"+` says the action takes no resource: `+"`*`"+` is then exact, not a fallback. A
template yields only ARNs. A modifier follows a bar:

| modifier | meaning |
| --- | --- |
`, maxARNs)
	for _, m := range templateModifiers {
		w("| `%s` | %s |\n", m.Name, m.Doc)
	}
	w(`
A resource that is a pattern is flagged as a wildcard. The patterns are deliberate:

- **Secrets Manager**: a secret named by name gets ` + "`secret:<name>-??????`" + `: its ARN ends in six random
  characters the request does not show, and ` + "`??????`" + ` (not ` + "`*`" + `) matches exactly those, never
  ` + "`<name>-other`" + `. A secret named by ARN is that ARN.
- **KMS**: a key named by id or ARN is ` + "`key/<id>`" + `; a key named by alias is ` + "`key/*`" + `, because key
  policies and IAM policies match the key the alias points to, which the record does not name
  (its ` + "`resources[]`" + ` often does, for the data-key calls).
- **IAM paths**: requests name users, roles and groups without their path, so
  ` + "`user/<name>`" + ` misses a path such as ` + "`user/ops/<name>`" + `. A denied call's message names the
  exact ARN.
- **Roles passed by instance profile** (` + "`RunInstances`" + `, ` + "`AssociateIamInstanceProfile`" + `): the request
  names the profile, not the role: ` + "`role/*`" + `.
- **Batches the record does not list**: ` + "`DeleteObjects`" + ` is ` + "`<bucket>/*`" + `; ` + "`RunInstances`" + ` creates
  ` + "`instance/*`" + `.

| IAM actions | templates |
| --- | --- |
`)
	for _, r := range t.resRows {
		actions := strings.Split(r.actions, ",")
		for i := range actions {
			actions[i] = "`" + actions[i] + "`"
		}
		var tmpls []string
		for _, x := range strings.Fields(r.templates) {
			tmpls = append(tmpls, cell(x))
		}
		w("| %s | %s |\n", strings.Join(actions, ", "), strings.Join(tmpls, " "))
	}

	w(`
## Actions CloudTrail does not show

Comparing what a principal was granted with what it used needs to know which uses CloudTrail
can show. Some actions are never logged as events of their own; others only as data events, which
a trail logs only when configured to. For these an unused grant is *unknown*, not *unused*. The
file is ` + "`internal/enrich/unrecorded.tsv`" + `; any other action is taken to be logged as a management
event.

| IAM action | recorded | note |
| --- | --- | --- |
`)
	for _, r := range t.recRows {
		w("| `%s` | %s | %s |\n", r.action, r.how, r.note)
	}

	w(`
## Denials

A call refused for lack of permission has one of these `+"`errorCode`"+`s, or a message that reads
"is not authorized to perform":

%s

Its `+"`errorMessage`"+`, for most services, names the principal (`+"`User: <arn>`"+`), the action
(`+"`is not authorized to perform: <action>`"+`; SNS's upper-case `+"`SNS:`"+` is lower-cased), the resource
(`+"`on resource: <arn>`"+`, quoted or not) and the kind of policy that refused it:

- `+"`with an explicit deny in a <policy>`"+`: a Deny statement (*explicit*), perhaps followed by the
  policy's ARN, which is kept;
- `+"`because no <policy> allows the <action> action`"+`: no Allow (*implicit*).

| policy in the message | kind |
| --- | --- |
`, codeList())
	for _, p := range denyPolicies {
		w("| %s… | `%s` |\n", p.Phrase, p.Kind)
	}
	w(`
A message without a reason (older messages, ` + "`Access Denied`" + ` from S3,
` + "`Not authorized to perform sts:AssumeRoleWithWebIdentity`" + `) has kind ` + "`unknown`" + `, with whatever it does name. KMS's "the resource does
not exist in this Region, no resource-based policies allow access, or a resource-based policy
explicitly denies access" is ` + "`resource-policy`" + `, not explicit. EC2 appends an
` + "`Encoded authorization failure message`" + `: it is kept, for ` + "`aws sts decode-authorization-message`" + `.

Two verdicts follow:

- **guardrail**: an SCP, RCP, permissions boundary or VPC endpoint policy refused the call, by a Deny
  or by allowing only a list of actions. Granting the principal more would not help: the control
  is working as intended (or is wrong, which is a different conversation).
- **missing permission**: no identity-based, session or resource-based policy allowed the call, and
  nothing denied it explicitly: a policy suggestion can fix it.

An explicit deny in the principal's own identity-based or session policy is neither: someone
chose to deny it.
`)
	return b.String(), nil
}

func codeList() string {
	var out []string
	for _, c := range denyCodes {
		out = append(out, "`"+c+"`")
	}
	return strings.Join(out, ", ")
}
