package enrich

import "testing"

func TestIdentity(t *testing.T) {
	type want struct {
		typ, actor, role, session, human, key string
		mfa, console, cross                   bool
	}
	cases := []struct {
		name, record string
		want         want
	}{
		{"root console sign-in with MFA", rootConsoleLogin,
			want{typ: "Root", actor: "root", mfa: true, console: true}},
		{"IAM user console sign-in without MFA", iamUserConsoleNoMFA,
			want{typ: "IAMUser", actor: "bob", console: true}},
		{"IAM user with a long-term key", iamUserKaliCreateKey,
			want{typ: "IAMUser", actor: "dev-deploy", key: KeyLongTerm}},
		{"assumed role", assumedRoleTerraform,
			want{typ: "AssumedRole", actor: "deploy-role/gitlab-ci-1234", role: "deploy-role", session: "gitlab-ci-1234", key: KeyTemporary}},
		{"instance profile session keeps the instance id", instanceRoleGetObject,
			want{typ: "AssumedRole", actor: "web-server-role/i-0abc123def4567890", role: "web-server-role", session: "i-0abc123def4567890", key: KeyTemporary}},
		{"Identity Center session, from the console", ssoConsoleStopLogging,
			want{typ: "AssumedRole", actor: "alice@example.com via AWSReservedSSO_AdministratorAccess", role: "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
				session: "alice@example.com", human: "alice@example.com", key: KeyTemporary, console: true}},
		{"source identity", sourceIdentityRole,
			want{typ: "AssumedRole", actor: "bob@example.com via DataScientist", role: "DataScientist", session: "analysis", human: "bob@example.com", key: KeyTemporary, mfa: true}},
		{"identity-enhanced session (onBehalfOf)", onBehalfOfRole,
			want{typ: "AssumedRole", actor: "94482488-3041-7026-18f3-be45837cd0e4 via QBusinessWebRole", role: "QBusinessWebRole", session: "qbusiness-session",
				human: "94482488-3041-7026-18f3-be45837cd0e4", key: KeyTemporary}},
		{"Identity Center user", identityCenterUser,
			want{typ: "IdentityCenterUser", actor: "544894e8-80c1-707f-60e3-3ba6510dfac1", human: "544894e8-80c1-707f-60e3-3ba6510dfac1"}},
		{"federated user", federatedUser,
			want{typ: "FederatedUser", actor: "carol", human: "carol", key: KeyTemporary}},
		{"another account", crossAccountGetObject,
			want{typ: "AWSAccount", actor: "account 444455556666", cross: true}},
		{"AWS service", awsServiceKMS,
			want{typ: "AWSService", actor: "cloudtrail.amazonaws.com"}},
		{"SAML user", samlUser,
			want{typ: "SAMLUser", actor: "SamlExample", human: "SamlExample"}},
		{"web identity user", webIdentityUser,
			want{typ: "WebIdentityUser", actor: "123456789012345678901"}},
		{"IAM user with session credentials and MFA", sessionTokenUser,
			want{typ: "IAMUser", actor: "erin", key: KeyTemporary, mfa: true}},
		{"root access key", rootAccessKey,
			want{typ: "Root", actor: "root", key: KeyLongTerm}},
		{"role of another account", unknownServiceCall,
			want{typ: "AssumedRole", actor: "OrganizationAccountAccessRole/ops", role: "OrganizationAccountAccessRole", session: "ops", key: KeyTemporary, cross: true}},
	}
	e := newEnricher(t, Options{})
	v := e.NewView() // one View for all: Reset must forget the previous event
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v.Reset(decode(t, c.record))
			got := want{
				typ: v.IdentityType(), actor: v.Actor(), role: v.Role(), session: v.Session(), human: v.Human(),
				key: v.KeyType(), mfa: v.MFA(), console: v.Console(), cross: v.CrossAccount(),
			}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			// Asked again, the same answers.
			if v.Actor() != got.actor || v.MFA() != got.mfa || v.Console() != got.console {
				t.Error("a second ask changed the answer")
			}
		})
	}
}

func TestIdentityFallbacks(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	cases := []struct{ name, identity, want string }{
		// No ARN: the issuer's name and the session from the principal id.
		{"assumed role without ARN", `{"type":"AssumedRole","principalId":"AROAEXAMPLE:sess-1","sessionContext":{"sessionIssuer":{"type":"Role","userName":"Builder"}}}`, "Builder/sess-1"},
		// IAM user without userName: the ARN's last segment, not the path.
		{"IAM user without userName", `{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/division/team/frank"}`, "frank"},
		{"federated user without ARN", `{"type":"FederatedUser","principalId":"111122223333:gina"}`, "gina"},
		{"Identity Center user with userName", `{"type":"IdentityCenterUser","userName":"hank","onBehalfOf":{"userId":"0000"}}`, "hank"},
		{"role", `{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/service/Runner"}`, "Runner"},
		{"unknown with userName", `{"type":"Unknown","principalId":"111122223333","userName":"ivy"}`, "ivy"},
		// Nothing to build a name from: the record's own best name.
		{"AWSAccount without account", `{"type":"AWSAccount","principalId":"AIDAOTHER"}`, "AIDAOTHER"},
		{"no identity at all", `{}`, ""},
		// An SSO-looking role whose suffix is not 16 hex digits keeps its name.
		{"SSO role with odd suffix", `{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_xyz/jo"}`, "jo via AWSReservedSSO_Admin_xyz"},
		// onBehalfOf inside requestParameters is not the caller's.
		{"onBehalfOf elsewhere", `{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s"},"requestParameters":{"onBehalfOf":{"userId":"nobody"}}`, "R/s"},
	}
	for _, c := range cases {
		ev := decode(t, `{"eventVersion":"1.09","userIdentity":`+c.identity+`,"eventTime":"2024-03-12T20:01:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","recipientAccountId":"111122223333"}`)
		v.Reset(ev)
		if got := v.Actor(); got != c.want {
			t.Errorf("%s: actor %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSSORoleName(t *testing.T) {
	for in, want := range map[string]string{
		"AWSReservedSSO_AdministratorAccess_0123456789abcdef": "AWSReservedSSO_AdministratorAccess",
		"AWSReservedSSO_Read_Only_fedcba9876543210":           "AWSReservedSSO_Read_Only",
		"AWSReservedSSO_Admin_0123456789ABCDEF":               "AWSReservedSSO_Admin_0123456789ABCDEF", // AWS writes lower-case hex
		"AWSReservedSSO_0123456789abcdef":                     "AWSReservedSSO_0123456789abcdef",
		"Admin_0123456789abcdef":                              "Admin_0123456789abcdef",
	} {
		if got := ssoRoleName(in); got != want {
			t.Errorf("ssoRoleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestARNResource(t *testing.T) {
	cases := []struct{ arn, kind, want string }{
		{"arn:aws:sts::111122223333:assumed-role/R/s", "assumed-role/", "R/s"},
		{"arn:aws-us-gov:sts::111122223333:federated-user/x", "federated-user/", "x"},
		{"arn:aws:iam::111122223333:user/a/b", "user/", "a/b"},
		{"arn:aws:iam::111122223333:user/a/b", "role/", ""},
		{"arn:aws:iam::111122223333", "user/", ""},
		{"not an arn", "user/", ""},
	}
	for _, c := range cases {
		if got := arnResource(c.arn, c.kind); got != c.want {
			t.Errorf("arnResource(%q, %q) = %q, want %q", c.arn, c.kind, got, c.want)
		}
	}
}

// A built actor must not share memory with the record: findings keep it
// long after the event is gone.
func TestBuiltActorDoesNotPinRecord(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	ev := decode(t, ssoConsoleStopLogging)
	v.Reset(ev)
	actor := v.Actor()
	for i := range ev.Raw {
		ev.Raw[i] = 'x'
	}
	if actor != "alice@example.com via AWSReservedSSO_AdministratorAccess" {
		t.Errorf("actor changed with the record: %q", actor)
	}
	// And the cache still answers correctly for the next event of that person.
	v.Reset(decode(t, ssoConsoleStopLogging))
	if got := v.Actor(); got != "alice@example.com via AWSReservedSSO_AdministratorAccess" {
		t.Errorf("cached actor %q", got)
	}
}
