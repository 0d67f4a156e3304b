package enrich

import (
	"bytes"
	"strings"

	"github.com/trailsentry/trailsentry/internal/event"
)

// Key types: what kind of access key signed the request.
const (
	KeyLongTerm  = "long-term" // AKIA…: an IAM user's or the root user's access key
	KeyTemporary = "temporary" // ASIA…: STS credentials (role sessions, session tokens, console sessions)
)

// identity is who is acting, worked out once per event.
type identity struct {
	actor   string // the most human name available
	role    string // the role behind an assumed-role session (or the Role)
	session string // the role session name
	human   string // the person behind a session, when the record names one
}

// Actor is the most human name for who made the call. See identityTypes in
// tables.go (and docs/enrichment.md) for how each identity type is named.
func (v *View) Actor() string { return v.identity().actor }

// IdentityType is userIdentity.type: Root, IAMUser, AssumedRole,
// FederatedUser, AWSAccount, AWSService, IdentityCenterUser, ...
func (v *View) IdentityType() string {
	if v.ev == nil {
		return ""
	}
	return v.ev.Str(event.IdentityType)
}

// Role is the IAM role behind an assumed-role session ("" for other
// identities).
func (v *View) Role() string { return v.identity().role }

// Session is the role session name of an assumed-role session: often a
// person's name or e-mail, an instance id (i-0abc…) for an instance profile,
// a service's name for a service role.
func (v *View) Session() string { return v.identity().session }

// Human is the person behind a session when the record names one: the
// session's source identity, the Identity Center user, the federated user.
func (v *View) Human() string { return v.identity().human }

// KeyType tells the access key that signed the request: KeyLongTerm (AKIA),
// KeyTemporary (ASIA), or "" when the record has no key or another kind.
func (v *View) KeyType() string {
	if v.ev == nil {
		return ""
	}
	switch k := v.ev.Str(event.IdentityAccessKeyID); {
	case strings.HasPrefix(k, "AKIA"):
		return KeyLongTerm
	case strings.HasPrefix(k, "ASIA"):
		return KeyTemporary
	}
	return ""
}

// MFA reports whether the caller authenticated with MFA: the session was
// MFA-authenticated, or the console sign-in used MFA.
func (v *View) MFA() bool {
	if v.once(partMFA) {
		v.mfa = v.resolveMFA()
	}
	return v.mfa
}

func (v *View) resolveMFA() bool {
	ev := v.ev
	if ev == nil {
		return false
	}
	if ev.Str(event.SessionMFAAuthenticated) == "true" {
		return true
	}
	if ev.Str(event.EventType) == "AwsConsoleSignIn" {
		return ev.First(v.e.mfaUsed).Str == "Yes"
	}
	return false
}

// Console reports whether the call came from the AWS Management Console: a
// console sign-in or action, a session whose credentials the console issued,
// or a console user agent.
func (v *View) Console() bool {
	if v.once(partConsole) {
		v.console = v.resolveConsole()
	}
	return v.console
}

func (v *View) resolveConsole() bool {
	ev := v.ev
	if ev == nil {
		return false
	}
	switch ev.Str(event.EventType) {
	case "AwsConsoleSignIn", "AwsConsoleAction":
		return true
	}
	// Long-term keys are never the console's: no need to look.
	if v.KeyType() != KeyLongTerm && ev.First(v.e.consoleCredential).Str == "true" {
		return true
	}
	return v.UserAgentFamily() == familyConsole
}

// CrossAccount reports whether the caller's credentials belong to another
// account than the one that received the event.
func (v *View) CrossAccount() bool {
	if v.ev == nil {
		return false
	}
	caller, recipient := v.ev.Str(event.IdentityAccountID), v.ev.Str(event.RecipientAccountID)
	return caller != "" && recipient != "" && caller != recipient
}

func (v *View) identity() *identity {
	if v.once(partIdentity) {
		v.id = identity{}
		if v.ev != nil {
			v.resolveIdentity(v.ev)
		}
	}
	return &v.id
}

func (v *View) resolveIdentity(ev *event.Event) {
	id := &v.id
	switch ev.Str(event.IdentityType) {
	case "Root":
		id.actor = "root"
	case "IAMUser":
		id.actor = firstOf(ev.Str(event.IdentityUserName), lastSegment(arnResource(ev.Str(event.IdentityARN), "user/")))
	case "AssumedRole":
		v.resolveAssumedRole(ev)
	case "Role":
		id.role = lastSegment(arnResource(ev.Str(event.IdentityARN), "role/"))
		id.actor = id.role
	case "FederatedUser":
		name := arnResource(ev.Str(event.IdentityARN), "federated-user/")
		if name == "" {
			name = afterColon(ev.Str(event.IdentityPrincipalID))
		}
		id.human, id.actor = name, name
	case "IdentityCenterUser":
		name := ev.Str(event.IdentityUserName)
		if name == "" {
			name = v.onBehalfOf(ev)
		}
		id.human, id.actor = name, name
	case "AWSAccount":
		if acct := ev.Str(event.IdentityAccountID); acct != "" {
			id.actor = v.join("account", " ", acct)
		}
	case "AWSService":
		id.actor = ev.Str(event.IdentityInvokedBy)
	case "SAMLUser":
		id.human = ev.Str(event.IdentityUserName)
		id.actor = id.human
	default: // WebIdentityUser, Directory, Unknown
		id.actor = ev.Str(event.IdentityUserName)
	}
	if id.actor == "" {
		id.actor = ev.Actor()
	}
}

// resolveAssumedRole names a role session: "<role>/<session>", or
// "<person> via <role>" when a person stands behind it.
func (v *View) resolveAssumedRole(ev *event.Event) {
	id := &v.id
	// arn:aws:sts::111122223333:assumed-role/RoleName/SessionName
	pair := arnResource(ev.Str(event.IdentityARN), "assumed-role/")
	role, session, _ := strings.Cut(pair, "/")
	whole := role != "" && session != "" // pair itself reads <role>/<session>
	if role == "" {
		role = ev.Str(event.SessionIssuerUserName)
	}
	if session == "" {
		session = afterColon(ev.Str(event.IdentityPrincipalID)) // AROA…:SessionName
	}
	id.role, id.session = role, session

	human := ev.Str(event.SessionSourceIdentity)
	if human == "" && strings.HasPrefix(role, ssoRolePrefix) {
		human = session // Identity Center names the session after the user
	}
	if human == "" {
		human = v.onBehalfOf(ev)
	}
	id.human = human
	switch {
	case human != "":
		id.actor = v.join(human, " via ", ssoRoleName(role))
	case whole:
		id.actor = pair // a substring of the ARN: nothing to build
	case role != "" && session != "":
		id.actor = v.join(role, "/", session)
	default:
		id.actor = role
	}
}

// onBehalfOf returns userIdentity.onBehalfOf.userId, the Identity Center user
// behind an identity-enhanced session. The key is rare: a byte search rules
// it out before walking the record. The needle starts with 'B', a rare byte
// in CloudTrail JSON, which makes the search several times faster than one
// for `"onBehalfOf"` (quotes are everywhere).
func (v *View) onBehalfOf(ev *event.Event) string {
	if !bytes.Contains(ev.Raw, []byte("BehalfOf")) {
		return ""
	}
	if u := ev.First(v.e.onBehalfOf); u.Kind == event.String {
		return u.Str
	}
	return ""
}

// Identity Center's roles are named AWSReservedSSO_<permission set>_<16 hex>.
const ssoRolePrefix = "AWSReservedSSO_"

// ssoRoleName drops the random suffix of an Identity Center role, which tells
// a reader nothing: AWSReservedSSO_Admin_0123456789abcdef → AWSReservedSSO_Admin.
func ssoRoleName(role string) string {
	if !strings.HasPrefix(role, ssoRolePrefix) {
		return role
	}
	i := strings.LastIndexByte(role, '_')
	if i < len(ssoRolePrefix) || len(role)-i-1 != 16 {
		return role
	}
	for _, c := range []byte(role[i+1:]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return role
		}
	}
	return role[:i]
}

// arnResource returns what follows kind in an ARN's resource part:
// arnResource("arn:aws:iam::1:user/dev/bob", "user/") = "dev/bob".
func arnResource(arn, kind string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	// The resource is after the fifth colon.
	rest := arn
	for range 5 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	r, ok := strings.CutPrefix(rest, kind)
	if !ok {
		return ""
	}
	return r
}

// lastSegment is what follows the last '/': IAM paths are not part of a name.
func lastSegment(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}

func afterColon(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[i+1:]
	}
	return ""
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
