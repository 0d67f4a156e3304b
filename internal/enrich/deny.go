package enrich

import (
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Deny classification. When AWS refuses a call for lack of permission, the
// record's errorCode says so (AccessDenied, AccessDeniedException,
// Client.UnauthorizedOperation, SNS's AuthorizationError...) and, for most
// services, errorMessage says who was refused what, on which resource, and
// which kind of policy refused it:
//
//	User: arn:aws:iam::111122223333:user/dev is not authorized to perform:
//	s3:GetObject on resource: "arn:aws:s3:::bucket/key" with an explicit deny
//	in a service control policy
//
// "with an explicit deny in a <policy>" is a Deny statement: a guardrail
// working as intended when the policy is an SCP, RCP or permissions
// boundary. "because no <policy> allows" is the absence of an Allow: for an
// identity-based policy, a permission the principal lacks. Older messages,
// and services that say less ("Access Denied"), give no reason: the kind is
// unknown.

// Deny kinds: the kind of policy an AccessDenied message blames.
const (
	DenySCP               = "scp"                 // an AWS Organizations service control policy
	DenyRCP               = "rcp"                 // an AWS Organizations resource control policy
	DenyBoundary          = "boundary"            // the principal's permissions boundary
	DenySessionPolicy     = "session-policy"      // the session policy passed when the session was created
	DenyIdentityPolicy    = "identity-policy"     // the principal's own (identity-based) policies
	DenyResourcePolicy    = "resource-policy"     // the resource's policy (bucket, key, queue, trust policy...)
	DenyVPCEndpointPolicy = "vpc-endpoint-policy" // the policy of the VPC endpoint the call went through
	DenyUnknown           = "unknown"             // the message does not say
)

// denyPolicies maps the policy names AccessDenied messages use to deny
// kinds, in the order they are tried (a name must not be found inside an
// earlier one). The generated docs list them.
var denyPolicies = []struct{ Phrase, Kind string }{
	{"service control polic", DenySCP},
	{"resource control polic", DenyRCP},
	{"permissions boundar", DenyBoundary},
	{"session polic", DenySessionPolicy},
	{"identity-based polic", DenyIdentityPolicy},
	{"resource-based polic", DenyResourcePolicy},
	{"VPC endpoint polic", DenyVPCEndpointPolicy},
}

// denyCodes are the errorCodes of an authorization failure. A message that
// reads "is not authorized to perform" is one whatever its code.
var denyCodes = []string{
	"AccessDenied",
	"AccessDeniedException",
	"Client.UnauthorizedOperation",
	"UnauthorizedOperation",
	"Client.AccessDenied",
	"AuthorizationError",          // SNS
	"AuthorizationErrorException", // SNS, JSON protocol
	"Forbidden",
	"ForbiddenException",
	"UnauthorizedAccess",
	"UnauthorizedException",
	"AccessDeniedFault",
	"NotAuthorized",
}

// Denial is what an event's error says about a refused call.
type Denial struct {
	Denied    bool   // the errorCode (or message) is an authorization failure
	Code      string // errorCode
	Kind      string // Deny* kind; "" when not Denied
	Explicit  bool   // a Deny statement refused the call, not the lack of an Allow
	Principal string // the principal the message names ("arn:aws:iam::111122223333:user/dev")
	Action    string // the IAM action the message names: authoritative for what was checked
	Resource  string // the resource the message names, "" when none
	Policy    string // the ARN of the denying policy, when the message names it
	Encoded   string // an encoded authorization message (decode with sts:DecodeAuthorizationMessage)
}

// Guardrail reports whether an organisation or perimeter control refused the
// call: an SCP, RCP, permissions boundary or VPC endpoint policy, explicitly
// or by allowing only a list of actions. Granting the principal more would
// not help; the control is working as intended unless it is wrong.
func (d Denial) Guardrail() bool {
	switch d.Kind {
	case DenySCP, DenyRCP, DenyBoundary, DenyVPCEndpointPolicy:
		return true
	}
	return false
}

// MissingPermission reports whether the call failed for lack of an Allow the
// principal's side can add: no identity-based, session or resource-based
// policy allowed it, and nothing denied it explicitly.
func (d Denial) MissingPermission() bool {
	if !d.Denied || d.Explicit {
		return false
	}
	switch d.Kind {
	case DenyIdentityPolicy, DenySessionPolicy, DenyResourcePolicy:
		return true
	}
	return false
}

// Denial classifies the event's error. It is the zero Denial for a call
// that succeeded or failed for another reason.
func (v *View) Denial() Denial {
	if v.ev == nil {
		return Denial{}
	}
	code := v.ev.Str(event.ErrorCode)
	if code == "" {
		return Denial{}
	}
	d := ParseDenial(code, v.ev.Str(event.ErrorMessage))
	// The strings point into the record: copy them so a Denial may outlive it.
	d.Code, d.Kind = strings.Clone(d.Code), strings.Clone(d.Kind)
	d.Principal, d.Action, d.Resource = strings.Clone(d.Principal), strings.Clone(d.Action), strings.Clone(d.Resource)
	d.Policy, d.Encoded = strings.Clone(d.Policy), strings.Clone(d.Encoded)
	return d
}

// ParseDenial classifies an errorCode and errorMessage. It never fails: what
// the message does not say is left empty, and Kind is DenyUnknown.
func ParseDenial(code, message string) Denial {
	d := Denial{Code: code}
	for _, c := range denyCodes {
		if code == c {
			d.Denied = true
			break
		}
	}
	perform := notAuthorized(message)
	if !d.Denied && perform < 0 {
		return Denial{}
	}
	d.Denied, d.Kind = true, DenyUnknown

	if i := strings.Index(message, "Encoded authorization failure message:"); i >= 0 {
		rest := strings.TrimSpace(message[i+len("Encoded authorization failure message:"):])
		if j := strings.IndexAny(rest, " \t\r\n"); j >= 0 {
			rest = rest[:j]
		}
		d.Encoded = rest
		message = message[:i]
	}
	if perform < 0 {
		return d
	}
	// The principal: "User: <arn> is not authorized".
	if i := strings.LastIndex(message[:perform], "User: "); i >= 0 {
		d.Principal = strings.TrimSpace(message[i+len("User: ") : perform])
	}
	rest := message[perform:]
	rest = rest[strings.Index(rest, "perform")+len("perform"):]
	rest = strings.TrimLeft(strings.TrimPrefix(rest, ":"), " ")
	end := strings.IndexAny(rest, " \t\r\n")
	if end < 0 {
		end = len(rest)
	}
	if a := strings.TrimRight(rest[:end], ".,;"); isIAMAction(a) {
		d.Action = normalizeAction(a)
	}
	rest = rest[end:]

	// The resource: `on resource: "<arn>"`, `on resource: <arn>`.
	if i := strings.Index(rest, "on resource"); i >= 0 {
		r := strings.TrimLeft(rest[i+len("on resource"):], "(s): ")
		if strings.HasPrefix(r, `"`) {
			if j := strings.IndexByte(r[1:], '"'); j >= 0 {
				d.Resource, rest = r[1:1+j], r[2+j:]
			}
		} else {
			j := len(r)
			for _, stop := range []string{" because ", " with an explicit ", " with ", ". ", "\n"} {
				if k := strings.Index(r, stop); k >= 0 && k < j {
					j = k
				}
			}
			d.Resource, rest = strings.TrimRight(r[:j], ".,;"), r[j:]
		}
	}
	d.Resource = strings.TrimSpace(d.Resource)

	// The reason.
	if i := strings.Index(rest, "explicit deny in a"); i >= 0 {
		d.Explicit = true
		after := rest[i+len("explicit deny in a"):]
		after = strings.TrimPrefix(strings.TrimPrefix(after, "n"), " ")
		d.Kind = denyKind(after)
		// Newer messages name the policy: "...in a service control policy: arn:...".
		if j := strings.Index(after, ": arn:"); j >= 0 && j < 40 {
			p := after[j+2:]
			if k := strings.IndexAny(p, " \t\r\n"); k >= 0 {
				p = p[:k]
			}
			d.Policy = strings.TrimRight(p, ".,;")
		}
	} else if i := strings.Index(rest, "because no "); i >= 0 {
		d.Kind = denyKind(rest[i+len("because no "):])
	} else if i := strings.Index(rest, "no resource-based policies allow"); i >= 0 {
		// KMS: "...because the resource does not exist in this Region, no
		// resource-based policies allow access, or a resource-based policy
		// explicitly denies access": the key policy, one way or the other.
		d.Kind = DenyResourcePolicy
	}
	return d
}

// notAuthorized returns where "is not authorized to perform" or "Not
// authorized to perform" starts in message, -1 when it is not there.
func notAuthorized(message string) int {
	for _, s := range []string{"is not authorized to perform", "Not authorized to perform", "not authorized to perform"} {
		if i := strings.Index(message, s); i >= 0 {
			if strings.HasPrefix(message[i+len(s):], " this operation") {
				return -1 // EC2's "You are not authorized to perform this operation."
			}
			return i
		}
	}
	return -1
}

// denyKind names the policy at the start of s.
func denyKind(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	for _, p := range denyPolicies {
		if strings.HasPrefix(s, p.Phrase) {
			return p.Kind
		}
	}
	return DenyUnknown
}

// normalizeAction lowercases the service prefix: SNS writes "SNS:Publish",
// IAM policies and the catalog say "sns:Publish".
func normalizeAction(a string) string {
	svc, name, _ := strings.Cut(a, ":")
	for i := 0; i < len(svc); i++ {
		if svc[i] >= 'A' && svc[i] <= 'Z' {
			return strings.ToLower(svc) + ":" + name
		}
	}
	return a
}
