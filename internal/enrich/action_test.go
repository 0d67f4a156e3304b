package enrich

import (
	"slices"
	"strings"
	"testing"
)

func TestCatalogSize(t *testing.T) {
	e := newEnricher(t, Options{})
	services := map[string]int{}
	for _, a := range e.Catalog() {
		services[a.Service]++
	}
	if n := len(e.Catalog()); n < 300 {
		t.Errorf("catalog has %d actions, want at least 300", n)
	}
	if len(services) < 40 {
		t.Errorf("catalog covers %d services, want at least 40", len(services))
	}
}

func TestActionCatalogLookups(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	cases := []struct {
		source, event string
		name, access  string
		techniques    []string
		risks         []string
	}{
		{"cloudtrail.amazonaws.com", "StopLogging", "cloudtrail:StopLogging", AccessWrite, []string{"T1562.008"}, []string{RiskDefenseEvasion}},
		{"iam.amazonaws.com", "CreateAccessKey", "iam:CreateAccessKey", AccessWrite, []string{"T1098.001"}, []string{RiskPrivilegeEscalation, RiskCredentialsExposure}},
		{"iam.amazonaws.com", "CreateUser", "iam:CreateUser", AccessWrite, []string{"T1136.003"}, nil},
		{"iam.amazonaws.com", "AttachUserPolicy", "iam:AttachUserPolicy", AccessPermissions, []string{"T1098.003"}, []string{RiskPrivilegeEscalation}},
		{"iam.amazonaws.com", "ListUsers", "iam:ListUsers", AccessList, []string{"T1087.004"}, nil},
		{"iam.amazonaws.com", "TagUser", "iam:TagUser", AccessTagging, nil, nil},
		{"s3.amazonaws.com", "GetObject", "s3:GetObject", AccessRead, []string{"T1530"}, []string{RiskDataExfiltration}},
		{"s3.amazonaws.com", "PutBucketPolicy", "s3:PutBucketPolicy", AccessPermissions, nil, []string{RiskResourceExposure}},
		{"s3.amazonaws.com", "ListObjects", "s3:ListBucket", AccessList, []string{"T1619"}, nil},
		{"s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets", AccessList, []string{"T1580"}, nil},
		{"s3.amazonaws.com", "PutBucketLifecycle", "s3:PutLifecycleConfiguration", AccessWrite, []string{"T1485.001"}, nil},
		{"ec2.amazonaws.com", "DescribeInstances", "ec2:DescribeInstances", AccessList, []string{"T1580"}, nil},
		{"ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress", AccessWrite, []string{"T1562.007"}, []string{RiskResourceExposure, RiskInfrastructure}},
		{"ec2.amazonaws.com", "ModifySnapshotAttribute", "ec2:ModifySnapshotAttribute", AccessWrite, []string{"T1537"}, []string{RiskResourceExposure, RiskDataExfiltration}},
		{"sts.amazonaws.com", "GetCallerIdentity", "sts:GetCallerIdentity", AccessRead, []string{"T1087.004"}, nil},
		{"kms.amazonaws.com", "ScheduleKeyDeletion", "kms:ScheduleKeyDeletion", AccessWrite, []string{"T1485"}, nil},
		{"lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "lambda:UpdateFunctionCode", AccessWrite, []string{"T1648"}, []string{RiskPrivilegeEscalation, RiskInfrastructure}},
		{"lambda.amazonaws.com", "AddPermission20150331v2", "lambda:AddPermission", AccessPermissions, nil, []string{RiskResourceExposure}},
		{"lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction", AccessWrite, []string{"T1648"}, nil},
		{"cloudfront.amazonaws.com", "UpdateDistribution2020_05_31", "cloudfront:UpdateDistribution", AccessWrite, nil, []string{RiskInfrastructure}},
		{"monitoring.amazonaws.com", "DeleteAlarms", "cloudwatch:DeleteAlarms", AccessWrite, []string{"T1562.001"}, []string{RiskDefenseEvasion}},
		{"guardduty.amazonaws.com", "DeleteDetector", "guardduty:DeleteDetector", AccessWrite, []string{"T1562.001"}, []string{RiskDefenseEvasion}},
		{"secretsmanager.amazonaws.com", "GetSecretValue", "secretsmanager:GetSecretValue", AccessRead, []string{"T1555.006"}, []string{RiskCredentialsExposure}},
		{"ssm.amazonaws.com", "SendCommand", "ssm:SendCommand", AccessWrite, []string{"T1651"}, []string{RiskPrivilegeEscalation}},
		{"signin.amazonaws.com", "ConsoleLogin", "signin:ConsoleLogin", AccessWrite, []string{"T1078.004"}, nil},
		{"organizations.amazonaws.com", "LeaveOrganization", "organizations:LeaveOrganization", AccessWrite, []string{"T1666"}, []string{RiskDefenseEvasion}},
		{"bedrock.amazonaws.com", "Converse", "bedrock:InvokeModel", AccessRead, []string{"T1496.004"}, nil},
		{"apigateway.amazonaws.com", "GetApiKeys", "apigateway:GET", AccessRead, nil, []string{RiskCredentialsExposure}},
	}
	for _, c := range cases {
		v.Reset(decode(t, `{"eventVersion":"1.09","eventSource":"`+c.source+`","eventName":"`+c.event+`"}`))
		a := v.Action()
		if a == nil {
			t.Errorf("%s %s: no action", c.source, c.event)
			continue
		}
		if a.Guessed || a.Name != c.name || a.AccessLevel != c.access || !slices.Equal(a.Techniques, c.techniques) || !slices.Equal(a.Risks, c.risks) {
			t.Errorf("%s %s: got %s %q %v %v guessed=%v\nwant %s %q %v %v", c.source, c.event,
				a.Name, a.AccessLevel, a.Techniques, a.Risks, a.Guessed, c.name, c.access, c.techniques, c.risks)
		}
		if a != v.Action() {
			t.Errorf("%s %s: a second ask gave another Action", c.source, c.event)
		}
	}
}

func TestActionGuessed(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	cases := []struct{ source, event, service, name, access string }{
		{"qbusiness.amazonaws.com", "ListConversations", "qbusiness", "qbusiness:ListConversations", AccessList},
		{"widgets.amazonaws.com", "PutWidgetPolicy", "widgets", "widgets:PutWidgetPolicy", AccessPermissions},
		{"widgets.amazonaws.com", "GetWidget", "widgets", "widgets:GetWidget", AccessRead},
		{"widgets.amazonaws.com", "TagWidget", "widgets", "widgets:TagWidget", AccessTagging},
		{"widgets.amazonaws.com", "StartWidget", "widgets", "widgets:StartWidget", AccessWrite},
		{"monitoring.amazonaws.com", "PutCompositeAlarm", "cloudwatch", "cloudwatch:PutCompositeAlarm", AccessWrite},
		{"lambda.amazonaws.com", "GetFunctionCodeSigningConfig20150331v2", "lambda", "lambda:GetFunctionCodeSigningConfig", AccessRead},
		{"custom-source", "DoThing", "custom-source", "custom-source:DoThing", AccessWrite},
	}
	for _, c := range cases {
		v.Reset(decode(t, `{"eventVersion":"1.09","eventSource":"`+c.source+`","eventName":"`+c.event+`"}`))
		a := v.Action()
		if a == nil || !a.Guessed || a.Service != c.service || a.Name != c.name || a.AccessLevel != c.access || len(a.Techniques)+len(a.Risks) != 0 {
			t.Errorf("%s %s: got %+v, want guessed %s %s %s", c.source, c.event, a, c.service, c.name, c.access)
		}
	}
	// No eventSource or eventName: no action.
	for _, rec := range []string{`{"eventVersion":"1.09","eventName":"X"}`, `{"eventVersion":"1.09","eventSource":"iam.amazonaws.com"}`} {
		v.Reset(decode(t, rec))
		if a := v.Action(); a != nil {
			t.Errorf("%s: action %+v, want nil", rec, a)
		}
	}
	// A guessed action is reused for the same call, and not shared with the catalog.
	v.Reset(decode(t, `{"eventVersion":"1.09","eventSource":"widgets.amazonaws.com","eventName":"GetWidget"}`))
	first := v.Action()
	v.Reset(decode(t, `{"eventVersion":"1.09","eventSource":"widgets.amazonaws.com","eventName":"GetWidget"}`))
	if v.Action() != first {
		t.Error("guessed action not cached")
	}
}

func TestGuessAccessLevel(t *testing.T) {
	for name, want := range map[string]string{
		"ListThings":              AccessList,
		"DescribeThings":          AccessList,
		"GetThing":                AccessRead,
		"BatchGetThings":          AccessRead,
		"HeadThing":               AccessRead,
		"SearchThings":            AccessRead,
		"TagThing":                AccessTagging,
		"UntagThing":              AccessTagging,
		"AddTagsToThing":          AccessTagging,
		"RemoveTagsFromThing":     AccessTagging,
		"PutThingPolicy":          AccessPermissions,
		"AttachThingPolicy":       AccessPermissions,
		"DeleteThingPolicy":       AccessPermissions,
		"AddPermission":           AccessPermissions,
		"CreateGrant":             AccessPermissions,
		"PutThingAcl":             AccessPermissions,
		"AttachVolume":            AccessWrite, // Attach without a policy is a plain write
		"CreateNetworkAcl":        AccessWrite, // an ACL is only permissions on Put
		"GetThingPolicy":          AccessRead,  // reading a policy is a read
		"Targets":                 AccessWrite, // "Tag" must be a whole verb
		"Listen":                  AccessWrite, // so must "List"
		"BatchDeleteThings":       AccessWrite,
		"StartThing":              AccessWrite,
		"UpdateAccountPassPolicy": AccessPermissions,
	} {
		if got := GuessAccessLevel(name); got != want {
			t.Errorf("GuessAccessLevel(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestServiceOf(t *testing.T) {
	for src, want := range map[string]string{
		"iam.amazonaws.com":                  "iam",
		"s3.amazonaws.com":                   "s3",
		"monitoring.amazonaws.com":           "cloudwatch",
		"email.amazonaws.com":                "ses",
		"signin.amazonaws.com":               "signin",
		"sso.amazonaws.com":                  "sso",
		"portal.sso.amazonaws.com":           "sso",
		"sso-oidc.amazonaws.com":             "sso-oauth",
		"elasticloadbalancing.amazonaws.com": "elasticloadbalancing",
		"ec2-instance-connect.amazonaws.com": "ec2-instance-connect",
		"streams.dynamodb.amazonaws.com":     "dynamodb",
		"cloudcontrolapi.amazonaws.com":      "cloudformation",
		"access-analyzer.amazonaws.com":      "access-analyzer",
		"bedrock-runtime.amazonaws.com":      "bedrock",
		"other.example.com":                  "other.example.com",
	} {
		if got := ServiceOf(src); got != want {
			t.Errorf("ServiceOf(%q) = %q, want %q", src, got, want)
		}
	}
}

func TestTrimAPIVersion(t *testing.T) {
	for in, want := range map[string]string{
		"UpdateFunctionCode20150331v2": "UpdateFunctionCode",
		"CreateFunction20150331":       "CreateFunction",
		"GetPolicy20150331v2":          "GetPolicy",
		"UpdateDistribution2020_05_31": "UpdateDistribution",
		"ListObjectsV2":                "ListObjectsV2",
		"DescribeInstances":            "DescribeInstances",
		"Foo12345678":                  "Foo12345678", // not a 20YYMMDD date
		"Bar2":                         "Bar2",
		"v2":                           "v2",
		"20150331":                     "20150331", // nothing left before the date
	} {
		if got := trimAPIVersion(in); got != want {
			t.Errorf("trimAPIVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// The catalog's access levels must agree with the verbs of the names: a typo
// such as "Write" for a List* action fails here. The exceptions are the
// Service Authorization Reference's own.
func TestCatalogAccessLevelsAgreeWithVerbs(t *testing.T) {
	exceptions := map[string]string{
		"cognito-identity:GetId":           AccessWrite,
		"redshift:GetClusterCredentials":   AccessWrite,
		"iam:GetAccountSummary":            AccessList,
		"s3:HeadBucket":                    AccessList,
		"ec2:DescribeInstanceAttribute":    AccessList,
		"ec2:DescribeSnapshotAttribute":    AccessList,
		"rds:DescribeDBSnapshotAttributes": AccessList,
	}
	e := newEnricher(t, Options{})
	for _, a := range e.Catalog() {
		key := a.Service + ":" + a.Event
		if want, ok := exceptions[key]; ok {
			if a.AccessLevel != want {
				t.Errorf("%s: %s, want %s", key, a.AccessLevel, want)
			}
			continue
		}
		switch guess := GuessAccessLevel(a.Event); guess {
		case AccessList, AccessRead:
			if a.AccessLevel != AccessList && a.AccessLevel != AccessRead {
				t.Errorf("%s: %s for a %s verb", key, a.AccessLevel, guess)
			}
		case AccessTagging:
			if a.AccessLevel != AccessTagging {
				t.Errorf("%s: %s for a tagging verb", key, a.AccessLevel)
			}
		}
		if strings.HasPrefix(a.Event, "Get") && a.AccessLevel == AccessWrite {
			t.Errorf("%s: Write", key)
		}
	}
}

// Every technique and risk category is used, every technique is named: no
// dead rows in the tables.
func TestCatalogTablesUsed(t *testing.T) {
	e := newEnricher(t, Options{})
	usedT, usedR := map[string]bool{}, map[string]bool{}
	for _, a := range e.Catalog() {
		for _, x := range a.Techniques {
			usedT[x] = true
		}
		for _, x := range a.Risks {
			usedR[x] = true
		}
	}
	for _, id := range e.catalog.techOrder {
		if !usedT[id] {
			t.Errorf("technique %s is named but no action uses it", id)
		}
		if e.TechniqueName(id) == "" {
			t.Errorf("technique %s has no name", id)
		}
	}
	for _, r := range riskCategories {
		if !usedR[r.Name] {
			t.Errorf("risk category %s is not used", r.Name)
		}
	}
}

func TestParseCatalogErrors(t *testing.T) {
	const header = "event\taccess_level\tattack\trisks\tiam_action\n"
	const techniques = "technique\tname\nT1098.001\tAccount Manipulation: Additional Cloud Credentials\n"
	cases := []struct{ actions, want string }{
		{header + "iam:CreateAccessKey\tWrite\tT1098.001\tprivilege-escalation\t\n", ""},
		{"event\taccess\n", "actions.tsv:1: header"},
		{header + "iam:CreateAccessKey\tWrite\tT1098.001\n", "actions.tsv:2: 3 fields, want 5"},
		{header + "CreateAccessKey\tWrite\t\t\t\n", "actions.tsv:2: event \"CreateAccessKey\" is not service:eventName"},
		{header + "iam:CreateAccessKey\tWrites\t\t\t\n", "actions.tsv:2: iam:CreateAccessKey: unknown access level \"Writes\""},
		{header + "iam:CreateAccessKey\tWrite\tT9999\t\t\n", "actions.tsv:2: iam:CreateAccessKey: technique \"T9999\" is not in techniques.tsv"},
		{header + "iam:CreateAccessKey\tWrite\t\tevil\t\n", "actions.tsv:2: iam:CreateAccessKey: unknown risk category \"evil\""},
		{header + "s3:ListObjects\tList\t\t\tiam:ListBucket\n", "actions.tsv:2: s3:ListObjects: IAM action \"iam:ListBucket\" is not s3:Action"},
		{header + "iam:CreateUser\tWrite\t\t\t\niam:CreateUser\tWrite\t\t\t\n", "actions.tsv:3: iam:CreateUser listed twice"},
	}
	for _, c := range cases {
		_, err := parseCatalog(c.actions, techniques)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.actions, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.actions, err, c.want)
		}
	}
	if _, err := parseCatalog(header, "technique\tname\nT12\tBad\n"); err == nil || !strings.Contains(err.Error(), "techniques.tsv:2") {
		t.Errorf("bad technique id: %v", err)
	}
}

// Every catalog action is reachable from an eventSource: a catalog service
// without one (a typo, or a service whose eventSource differs and is missing
// from serviceByEventSource) would never match an event.
func TestCatalogReachable(t *testing.T) {
	e := newEnricher(t, Options{})
	reached := map[*Action]bool{}
	for k, a := range e.catalog.bySource {
		if ServiceOf(k.service) != a.Service {
			t.Errorf("eventSource %s indexed for %s", k.service, a.Name)
		}
		reached[a] = true
	}
	for _, a := range e.Catalog() {
		if !reached[a] {
			t.Errorf("%s:%s is reached by no eventSource", a.Service, a.Event)
		}
	}
}
