package detect

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/event"
)

// act is one API call for the profile tests, written out as CloudTrail
// records it.
type act struct {
	at        time.Duration // after t0
	user      string        // an IAM user; "" with role
	role      string        // an assumed role's name
	session   string        // its session name
	key       string        // userIdentity.accessKeyId
	source    string        // eventSource
	name      string        // eventName
	region    string        // awsRegion; us-east-1 when ""
	ip        string        // sourceIPAddress; 192.0.2.10 when ""
	agent     string        // userAgent; the AWS CLI when ""
	denied    bool
	request   string // requestParameters JSON; null when ""
	response  string // responseElements JSON; null when ""
	account   string // recipientAccountId; 123456789012 when ""
	invokedBy string // an AWS service calling on its own
	data      bool   // a data event (eventCategory Data)
}

func (a act) record(i int) string {
	account := cmpOr(a.account, "123456789012")
	var identity string
	switch {
	case a.invokedBy != "":
		identity = fmt.Sprintf(`{"type":"AWSService","invokedBy":%q}`, a.invokedBy)
	case a.role != "":
		identity = fmt.Sprintf(`{"type":"AssumedRole","principalId":"AROA3EXAMPLE:%[2]s","arn":"arn:aws:sts::123456789012:assumed-role/%[1]s/%[2]s","accountId":"123456789012","accessKeyId":%[3]q,"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA3EXAMPLE","arn":"arn:aws:iam::123456789012:role/%[1]s","accountId":"123456789012","userName":%[1]q},"attributes":{"creationDate":"2024-05-01T00:00:00Z","mfaAuthenticated":"false"}}}`, a.role, a.session, a.key)
	default:
		identity = fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDA3EXAMPLE%[2]s","arn":"arn:aws:iam::123456789012:user/%[1]s","accountId":"123456789012","accessKeyId":%[3]q,"userName":%[1]q}`, a.user, strings.ToUpper(a.user), a.key)
	}
	category := "Management"
	if a.data {
		category = "Data"
	}
	errPart := ""
	if a.denied {
		errPart = `"errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation",`
	}
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":%q,"eventSource":%q,"eventName":%q,"awsRegion":%q,"sourceIPAddress":%q,"userAgent":%q,%s"requestParameters":%s,"responseElements":%s,"requestID":"r-%d","eventID":"ev-%05d","readOnly":false,"eventType":"AwsApiCall","managementEvent":%t,"recipientAccountId":%q,"eventCategory":%q}`,
		identity, t0.Add(a.at).Format(time.RFC3339), cmpOr(a.source, "ec2.amazonaws.com"), a.name, cmpOr(a.region, "us-east-1"),
		cmpOr(a.ip, "192.0.2.10"), cmpOr(a.agent, "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64 prompt/off"), errPart,
		cmpOr(a.request, "null"), cmpOr(a.response, "null"), i, i, !a.data, account, category)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

const day = 24 * time.Hour

// routine is alice's and the deploy role's ordinary life over the first
// ten days: the learning period and past it.
func routine() []act {
	var out []act
	for d := range 10 {
		at := time.Duration(d) * day
		out = append(out,
			act{at: at + time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", name: "DescribeInstances"},
			act{at: at + 2*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", source: "s3.amazonaws.com", name: "ListBuckets"},
			act{at: at + 3*time.Hour, role: "Deploy", session: "gh-actions", key: "ASIA3EXAMPLEDEPLOY1", name: "RunInstances", ip: "198.51.100.20", agent: "Terraform/1.7.5"},
		)
	}
	return out
}

// profile feeds events to a fresh memory state in batches of n events (all
// at once when n <= 0) and evaluates everything touched.
func profile(t testing.TB, acts []act, n int, order []int) []ProfileHit {
	t.Helper()
	p := NewProfiler(ProfileOptions{})
	st := NewMemoryState()
	ctx := context.Background()
	if n <= 0 {
		n = len(acts)
	}
	var touched TouchedSet
	b := p.NewBatch()
	for i, j := range order {
		b.Observe(testView(decode(t, acts[j].record(j))))
		if (i+1)%n == 0 {
			if err := b.Flush(ctx, st); err != nil {
				t.Fatal(err)
			}
			touched.Add(b.Touched())
			b = p.NewBatch()
		}
	}
	if err := b.Flush(ctx, st); err != nil {
		t.Fatal(err)
	}
	touched.Add(b.Touched())
	var hits []ProfileHit
	err := st.View(ctx, func(r Reader) error {
		var err error
		hits, err = p.Evaluate(ctx, r, touched.Get())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func inOrder(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func hitsOf(hits []ProfileHit, d *ProfileDetector) []ProfileHit {
	var out []ProfileHit
	for _, h := range hits {
		if h.Detector == d {
			out = append(out, h)
		}
	}
	return out
}

func values(h ProfileHit) []string {
	var out []string
	for _, v := range h.Values {
		out = append(out, v.Value)
	}
	return out
}

func TestProfileRoutineIsQuiet(t *testing.T) {
	if hits := profile(t, routine(), 0, inOrder(len(routine()))); len(hits) != 0 {
		t.Errorf("routine activity made findings: %+v", hits)
	}
}

func TestProfileFirstSeenAfterLearning(t *testing.T) {
	acts := append(routine(),
		// Day 9: alice, past her learning period, lists IAM users for the
		// first time (no one in the account ever did: unseen), from
		// another region and from a Python script.
		act{at: 9*day + 5*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", source: "iam.amazonaws.com", name: "ListUsers",
			region: "ap-southeast-3", agent: "Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux#6.1.0 lang/python#3.12.3 Botocore/1.34.90"},
		// Day 2: inside the learning period, a new API is only learnt.
		act{at: 2*day + 5*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", name: "DescribeVolumes"},
		// A refused call is not something alice can do: not learnt, not
		// reported.
		act{at: 9*day + 6*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", source: "iam.amazonaws.com", name: "CreateUser", denied: true},
	)
	hits := profile(t, acts, 0, inOrder(len(acts)))

	api := hitsOf(hits, ProfileNewAPI)
	if len(api) != 1 || api[0].Subject != "arn:aws:iam::123456789012:user/alice" || api[0].Rarity != RarityUnseen ||
		!reflect.DeepEqual(values(api[0]), []string{"iam:ListUsers"}) || api[0].Level != "medium" {
		t.Errorf("new API: %+v", api)
	}
	if len(api) == 1 && (len(api[0].Evidence) != 1 || api[0].Evidence[0].Value != fmt.Sprintf("ev-%05d", 30)) {
		t.Errorf("evidence %+v, want the ListUsers event", api[0].Evidence)
	}
	if svc := hitsOf(hits, ProfileNewService); len(svc) != 1 || !reflect.DeepEqual(values(svc[0]), []string{"iam"}) {
		t.Errorf("new service: %+v", svc)
	}
	if cl := hitsOf(hits, ProfileNewClient); len(cl) != 1 || !reflect.DeepEqual(values(cl[0]), []string{"sdk-python"}) {
		t.Errorf("new client: %+v", cl)
	}
	// The region is new to the whole account: one account finding, not
	// one per principal too.
	if reg := hitsOf(hits, ProfileAccountNewRegion); len(reg) != 1 || reg[0].Subject != "123456789012" || !reflect.DeepEqual(values(reg[0]), []string{"ap-southeast-3"}) {
		t.Errorf("account new region: %+v", reg)
	}
	if reg := hitsOf(hits, ProfileNewRegion); len(reg) != 0 {
		t.Errorf("principal new region repeated the account's: %+v", reg)
	}
}

func TestProfileRarityFromTheAccount(t *testing.T) {
	acts := routine()
	// bob starts on day 0 and calls only GetCallerIdentity until day 9,
	// when he describes instances, as alice does every day: 11 of the
	// account's ~2,050 calls, infrequent.
	for d := range 10 {
		acts = append(acts, act{at: time.Duration(d)*day + 30*time.Minute, user: "bob", key: "AKIA3EXAMPLEBOB0001", source: "sts.amazonaws.com", name: "GetCallerIdentity"})
	}
	acts = append(acts, act{at: 9*day + 4*time.Hour, user: "bob", key: "AKIA3EXAMPLEBOB0001", name: "DescribeInstances"})
	// 2,000 calls of background make alice's rare API, called once on day
	// 1, rare in the account (under 0.1%), when bob takes it up on day 9;
	// and the background's own API common, when bob takes that up too.
	for i := range 2000 {
		acts = append(acts, act{at: 5*day + time.Duration(i)*time.Second, role: "Deploy", session: "gh-actions", key: "ASIA3EXAMPLEDEPLOY1", name: "DescribeTags", ip: "198.51.100.20", agent: "Terraform/1.7.5"})
	}
	acts = append(acts,
		act{at: 1 * day, user: "alice", key: "AKIA3EXAMPLEALICE01", name: "GetPasswordData"},
		act{at: 9*day + 5*time.Hour, user: "bob", key: "AKIA3EXAMPLEBOB0001", name: "GetPasswordData"},
		act{at: 9*day + 6*time.Hour, user: "bob", key: "AKIA3EXAMPLEBOB0001", name: "DescribeTags"},
	)
	hits := profile(t, acts, 0, inOrder(len(acts)))
	api := hitsOf(hits, ProfileNewAPI)
	var bob []ProfileHit
	for _, h := range api {
		if strings.HasSuffix(h.Subject, "user/bob") {
			bob = append(bob, h)
		}
	}
	// Sorted by rarity: infrequent, then rare; DescribeTags, common, is
	// not reported.
	if len(bob) != 2 || bob[0].Rarity != RarityInfrequent || !reflect.DeepEqual(values(bob[0]), []string{"ec2:DescribeInstances"}) || bob[0].Level != "informational" ||
		bob[1].Rarity != RarityRare || !reflect.DeepEqual(values(bob[1]), []string{"ec2:GetPasswordData"}) || bob[1].Level != "low" {
		t.Errorf("bob's new APIs: %+v", bob)
	}
}

func TestProfileSameFindingsInAnyOrderAndBatching(t *testing.T) {
	acts := append(routine(),
		act{at: 9*day + 5*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", source: "iam.amazonaws.com", name: "ListUsers", region: "eu-north-1"},
		act{at: 8*day + 5*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", name: "DescribeInstances", ip: "203.0.113.9"},
	)
	want := profile(t, acts, 0, inOrder(len(acts)))
	if len(want) < 3 {
		t.Fatalf("only %d hits: %+v", len(want), want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 7} {
		order := inOrder(len(acts))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if got := profile(t, acts, n, order); !reflect.DeepEqual(got, want) {
			t.Errorf("batches of %d, shuffled:\n got  %+v\n want %+v", n, got, want)
		}
	}
}

func TestProfileLongTermKeyNewNetwork(t *testing.T) {
	acts := append(routine(),
		// Day 9: alice's key from a network it never came from.
		act{at: 9*day + 7*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", name: "DescribeInstances", ip: "203.0.113.200"},
		// A private address (a VPC endpoint) is no new place.
		act{at: 9*day + 8*time.Hour, user: "alice", key: "AKIA3EXAMPLEALICE01", name: "DescribeInstances", ip: "10.1.2.3"},
	)
	hits := profile(t, acts, 0, inOrder(len(acts)))
	k := hitsOf(hits, ProfileKeyNewNetwork)
	if len(k) != 1 || k[0].Subject != "AKIA3EXAMPLEALICE01" || !reflect.DeepEqual(values(k[0]), []string{"203.0.113.0/24"}) || k[0].Account != "123456789012" {
		t.Errorf("key from a new network: %+v", k)
	}
	if n := hitsOf(hits, ProfileNewNetwork); len(n) != 1 || n[0].Rarity != RarityUnseen {
		t.Errorf("principal from a new network: %+v", n)
	}
}

// assumeRole is an STS AssumeRole call returning key, made from ip (or by an
// AWS service when ip names one).
func assumeRole(at time.Duration, ip, role, session, key string) act {
	a := act{at: at, user: "alice", key: "AKIA3EXAMPLEALICE01", source: "sts.amazonaws.com", name: "AssumeRole", ip: ip,
		request:  fmt.Sprintf(`{"roleArn":"arn:aws:iam::123456789012:role/%s","roleSessionName":%q}`, role, session),
		response: fmt.Sprintf(`{"credentials":{"accessKeyId":%q,"sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"May 1, 2024, 12:00:00 PM"},"assumedRoleUser":{"assumedRoleId":"AROA3EXAMPLE:%s","arn":"arn:aws:sts::123456789012:assumed-role/%s/%s"}}`, key, session, role, session)}
	if strings.HasSuffix(ip, ".amazonaws.com") {
		a.user, a.key, a.invokedBy = "", "", ip
	}
	return a
}

func TestProfileTemporaryCredentialsAwayFromIssue(t *testing.T) {
	acts := []act{
		assumeRole(time.Hour, "192.0.2.10", "Admin", "alice", "ASIA3EXAMPLESTOLEN1"),
		{at: time.Hour + time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLESTOLEN1", name: "DescribeInstances", ip: "192.0.2.11"},
		{at: time.Hour + 20*time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLESTOLEN1", source: "iam.amazonaws.com", name: "ListUsers", ip: "203.0.113.66"},
		// Another session used where it was issued: quiet.
		assumeRole(2*time.Hour, "192.0.2.10", "Admin", "alice", "ASIA3EXAMPLEHONEST1"),
		{at: 2*time.Hour + time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLEHONEST1", name: "DescribeInstances", ip: "192.0.2.10"},
	}
	hits := profile(t, acts, 0, inOrder(len(acts)))
	k := hitsOf(hits, ProfileTempKeyOtherNetwork)
	if len(k) != 1 || k[0].Subject != "ASIA3EXAMPLESTOLEN1" || !reflect.DeepEqual(values(k[0]), []string{"203.0.113.0/24"}) || k[0].Detail != "issued to 192.0.2.0/24" {
		t.Errorf("temporary key away from issue: %+v", k)
	}
}

func TestProfileInstanceCredentialsElsewhere(t *testing.T) {
	const session = "i-0abc123def4567890"
	acts := []act{
		assumeRole(0, "ec2.amazonaws.com", "web", session, "ASIA3EXAMPLEIMDS001"),
		{at: time.Minute, role: "web", session: session, key: "ASIA3EXAMPLEIMDS001", source: "s3.amazonaws.com", name: "GetObject", ip: "198.51.100.201"},
		{at: 2 * time.Minute, role: "web", session: session, key: "ASIA3EXAMPLEIMDS001", source: "s3.amazonaws.com", name: "GetObject", ip: "10.0.3.4"},
		{at: 3 * time.Hour, role: "web", session: session, key: "ASIA3EXAMPLEIMDS001", source: "s3.amazonaws.com", name: "ListBuckets", ip: "203.0.113.250"},
		{at: 4 * time.Hour, role: "web", session: session, key: "ASIA3EXAMPLEIMDS001", source: "s3.amazonaws.com", name: "ListObjects", ip: "203.0.113.251"},
		// Another instance's key only ever used from its instance: quiet.
		assumeRole(0, "ec2.amazonaws.com", "web", "i-0fedcba9876543210", "ASIA3EXAMPLEIMDS002"),
		{at: time.Minute, role: "web", session: "i-0fedcba9876543210", key: "ASIA3EXAMPLEIMDS002", name: "DescribeTags", ip: "198.51.100.202"},
		{at: time.Hour, role: "web", session: "i-0fedcba9876543210", key: "ASIA3EXAMPLEIMDS002", name: "DescribeTags", ip: "198.51.100.202"},
	}
	hits := profile(t, acts, 0, inOrder(len(acts)))
	k := hitsOf(hits, ProfileInstanceKeyOtherNetwork)
	if len(k) != 1 || k[0].Subject != "ASIA3EXAMPLEIMDS001" || !reflect.DeepEqual(values(k[0]), []string{"203.0.113.0/24"}) || k[0].Detail != "first used from 198.51.100.0/24" {
		t.Errorf("instance credentials elsewhere: %+v", k)
	}
	// The evidence holds the first and the latest call from there.
	if len(k) == 1 && (len(k[0].Evidence) != 2 || k[0].Actor != "web/"+session) {
		t.Errorf("instance credentials evidence %+v, actor %q", k[0].Evidence, k[0].Actor)
	}
	if k := hitsOf(hits, ProfileTempKeyOtherNetwork); len(k) != 0 {
		t.Errorf("instance credentials judged as a caller's: %+v", k)
	}
}

func TestProfileNewUserKeyUsed(t *testing.T) {
	createUser := act{at: time.Hour, user: "admin", key: "AKIA3EXAMPLEADMIN01", source: "iam.amazonaws.com", name: "CreateUser",
		request: `{"userName":"backup-svc"}`, response: `{"user":{"userName":"backup-svc","arn":"arn:aws:iam::123456789012:user/backup-svc"}}`}
	createKey := act{at: time.Hour + 2*time.Minute, user: "admin", key: "AKIA3EXAMPLEADMIN01", source: "iam.amazonaws.com", name: "CreateAccessKey",
		request: `{"userName":"backup-svc"}`, response: `{"accessKey":{"accessKeyId":"AKIA3EXAMPLEBACKUP1","status":"Active","userName":"backup-svc"}}`}
	use := act{at: 5 * time.Hour, user: "backup-svc", key: "AKIA3EXAMPLEBACKUP1", source: "s3.amazonaws.com", name: "ListBuckets", ip: "203.0.113.9"}

	hits := profile(t, []act{use, createKey, createUser}, 0, []int{0, 1, 2})
	k := hitsOf(hits, ProfileNewUserKeyUsed)
	if len(k) != 1 || k[0].Subject != "AKIA3EXAMPLEBACKUP1" || len(k[0].Evidence) != 3 || k[0].Account != "123456789012" {
		t.Fatalf("new user's key used: %+v", k)
	}
	if got := values(k[0]); !reflect.DeepEqual(got, []string{"user backup-svc created", "key AKIA3EXAMPLEBACKUP1 created", "key AKIA3EXAMPLEBACKUP1 used"}) {
		t.Errorf("steps %q", got)
	}
	// Used two days later: no longer the sequence.
	use.at = 50 * time.Hour
	if k := hitsOf(profile(t, []act{createUser, createKey, use}, 0, []int{0, 1, 2}), ProfileNewUserKeyUsed); len(k) != 0 {
		t.Errorf("key used two days later still matched: %+v", k)
	}
}

func TestProfileRiskTiers(t *testing.T) {
	acts := []act{
		{at: time.Hour, user: "admin", key: "AKIA3EXAMPLEADMIN01", source: "iam.amazonaws.com", name: "AttachUserPolicy", request: `{"userName":"x","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`},
		{at: time.Hour, user: "reader", key: "AKIA3EXAMPLEREADER1", name: "DescribeInstances"},
		{at: time.Hour, user: "bucketeer", key: "AKIA3EXAMPLEBUCKET1", source: "s3.amazonaws.com", name: "PutBucketPolicy", request: `{"bucketName":"b"}`},
	}
	p := NewProfiler(ProfileOptions{})
	st := NewMemoryState()
	ctx := context.Background()
	b := p.NewBatch()
	for i, a := range acts {
		b.Observe(testView(decode(t, a.record(i))))
	}
	if err := b.Flush(ctx, st); err != nil {
		t.Fatal(err)
	}
	var tiers map[string]RiskTier
	err := st.View(ctx, func(r Reader) error {
		var err error
		tiers, err = p.RiskTiers(ctx, r, []string{"123456789012 admin", "123456789012 reader", "123456789012 bucketeer"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tiers["123456789012 admin"].Tier != "high" || tiers["123456789012 bucketeer"].Tier != "medium" {
		t.Errorf("tiers %+v", tiers)
	}
	if _, ok := tiers["123456789012 reader"]; ok {
		t.Errorf("a reader has a tier: %+v", tiers)
	}
}

// Observing is on the hot path: one event, two shape lookups, no
// allocation once the values are known.
func BenchmarkProfileObserve(b *testing.B) {
	acts := routine()
	events := make([]*event.Event, len(acts))
	for i, a := range acts {
		events[i] = decode(b, a.record(i))
	}
	p := NewProfiler(ProfileOptions{})
	batch := p.NewBatch()
	v := testView(events[0])
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v.Reset(events[i%len(events)])
		batch.Observe(v)
	}
}

func TestProfileTrailStoppedThenActivity(t *testing.T) {
	mallory := func(at time.Duration, source, name string) act {
		return act{at: at, role: "Admin", session: "mallory", key: "ASIA3EXAMPLEMALLORY", source: source, name: name,
			request: `{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events","userName":"svc-backup"}`}
	}
	stop := mallory(0, "cloudtrail.amazonaws.com", "StopLogging")
	key := func(at time.Duration) act { return mallory(at, "iam.amazonaws.com", "CreateAccessKey") }
	cases := []struct {
		name string
		acts []act
		want bool
	}{
		{"trail stopped, access key created", []act{stop, key(5 * time.Minute)}, true},
		{"trail stopped, instances launched the same second", []act{stop, mallory(0, "ec2.amazonaws.com", "RunInstances")}, true},
		{"a call exactly an hour later", []act{stop, key(time.Hour)}, true},
		{"a call 61 minutes later", []act{stop, key(61 * time.Minute)}, false},
		{"the risky call before the stop", []act{key(0), func() act { s := stop; s.at = time.Minute; return s }()}, false},
		{"trail stopped, nothing else", []act{stop}, false},
		{"stopped, started, stopped (CloudTrail's calls are not activity)", []act{stop, mallory(3*time.Minute, "cloudtrail.amazonaws.com", "StartLogging"),
			mallory(4*time.Minute, "cloudtrail.amazonaws.com", "StopLogging")}, false},
		{"trail stopped, then discovery only", []act{stop, mallory(2*time.Minute, "ec2.amazonaws.com", "DescribeInstances")}, false},
		{"key created by another actor", []act{stop, func() act { k := key(5 * time.Minute); k.session = "alice"; return k }()}, false},
		{"the same actor in another account", []act{stop, func() act { k := key(5 * time.Minute); k.account = "444455556666"; return k }()}, false},
		{"the stop was denied", []act{func() act { s := stop; s.denied = true; return s }(), key(5 * time.Minute)}, false},
		{"the risky call was denied", []act{stop, func() act { k := key(5 * time.Minute); k.denied = true; return k }()}, false},
		{"an S3 object read (a data event)", []act{stop, func() act {
			g := mallory(2*time.Minute, "s3.amazonaws.com", "GetObject")
			g.data, g.request = true, `{"bucketName":"prod-reports","key":"q3.xlsx"}`
			return g
		}()}, false},
		// Stops at 10:00 and 10:50, activity at 11:45: within the second
		// stop's hour only — the last stop is kept beside the first.
		{"two stops, activity after the second's start", []act{stop, mallory(50*time.Minute, "cloudtrail.amazonaws.com", "StopLogging"), key(105 * time.Minute)}, true},
	}
	for _, tc := range cases {
		for _, order := range [][]int{inOrder(len(tc.acts)), reversed(len(tc.acts))} {
			hits := hitsOf(profile(t, tc.acts, 1, order), ProfileTrailStoppedActivity)
			if got := len(hits) == 1; got != tc.want || len(hits) > 1 {
				t.Errorf("%s (order %v): %d hits %+v, want %t", tc.name, order, len(hits), hits, tc.want)
				continue
			}
			if tc.want {
				h := hits[0]
				if h.Subject != "Admin/mallory" || h.Account != "123456789012" || len(h.Evidence) < 2 {
					t.Errorf("%s: hit %+v", tc.name, h)
				}
			}
		}
	}
}

func reversed(n int) []int {
	out := inOrder(n)
	slices.Reverse(out)
	return out
}

// Expire derives the findings of what it drops: expired keys' and trail
// stops' findings, merged with a final Evaluate, are those of never
// expiring; the dropped baselines are gone.
func TestProfileExpireKeepsFindings(t *testing.T) {
	acts := []act{
		assumeRole(time.Hour, "192.0.2.10", "Admin", "alice", "ASIA3EXAMPLESTOLEN1"),
		{at: time.Hour + time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLESTOLEN1", name: "DescribeInstances", ip: "192.0.2.11"},
		{at: time.Hour + 20*time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLESTOLEN1", source: "iam.amazonaws.com", name: "CreateAccessKey", ip: "203.0.113.66"},
		{at: 2 * time.Hour, role: "Admin", session: "alice", key: "ASIA3EXAMPLESTOLEN1", source: "cloudtrail.amazonaws.com", name: "StopLogging", ip: "203.0.113.66"},
		{at: 2*time.Hour + 5*time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLESTOLEN1", source: "iam.amazonaws.com", name: "CreateAccessKey", ip: "203.0.113.66"},
		// Issued before the cutoff, never used: gone at expiry.
		assumeRole(2*day, "192.0.2.10", "Admin", "bob", "ASIA3EXAMPLEUNUSED1"),
		// Issued before the cutoff, in use after it: kept.
		assumeRole(2*day+12*time.Hour, "192.0.2.10", "Admin", "carol", "ASIA3EXAMPLEINUSE01"),
		{at: 3*day + 6*time.Hour, role: "Admin", session: "carol", key: "ASIA3EXAMPLEINUSE01", name: "DescribeInstances", ip: "192.0.2.10"},
		// Days later: still in memory at expiry.
		assumeRole(5*day, "192.0.2.10", "Admin", "alice", "ASIA3EXAMPLELATER01"),
		{at: 5*day + time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLELATER01", name: "DescribeInstances", ip: "198.51.100.9"},
		// A stop after the cutoff: its window is judged at the end, not at
		// expiry, when more of its hour may still be on its way.
		{at: 5*day + 2*time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLELATER01", source: "cloudtrail.amazonaws.com", name: "StopLogging", ip: "198.51.100.9"},
		{at: 5*day + 3*time.Minute, role: "Admin", session: "alice", key: "ASIA3EXAMPLELATER01", source: "iam.amazonaws.com", name: "CreateAccessKey", ip: "198.51.100.9"},
	}
	want := profile(t, acts, 0, inOrder(len(acts)))
	if len(hitsOf(want, ProfileTempKeyOtherNetwork)) != 2 || len(hitsOf(want, ProfileTrailStoppedActivity)) != 1 {
		t.Fatalf("without expiry: %+v", want)
	}

	p := NewProfiler(ProfileOptions{})
	st := NewMemoryState()
	ctx := context.Background()
	b := p.NewBatch()
	for i, a := range acts {
		b.Observe(testView(decode(t, a.record(i))))
	}
	if err := b.Flush(ctx, st); err != nil {
		t.Fatal(err)
	}
	before := st.BaselineCount()
	expired, dropped, err := p.Expire(ctx, st, t0.Add(3*day))
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 || st.BaselineCount() != before-dropped {
		t.Errorf("dropped %d of %d baselines, %d left", dropped, before, st.BaselineCount())
	}
	// Stoppers are judged at the end, on the hours their windows need,
	// which expiry keeps; the other hours of risky calls go.
	if h := hitsOf(expired, ProfileTrailStoppedActivity); len(h) != 0 {
		t.Errorf("expiry judged a stopper: %+v", h)
	}
	err = st.View(ctx, func(r Reader) error {
		got, err := r.Baselines(ctx, []BaselineKey{kindRiskHour.baselineKey("123456789012 Admin/alice", "")})
		var hours []string
		for _, b := range got {
			hours = append(hours, b.Value)
		}
		// 11:20's call is in no window: it goes. 12:05's is in the 12:00
		// stop's: it stays, as do day 6's, after the cutoff.
		want := []string{"2024-05-01T12 credentials-exposure", "2024-05-01T12 privilege-escalation",
			"2024-05-06T10 credentials-exposure", "2024-05-06T10 privilege-escalation"}
		if !slices.Equal(hours, want) {
			t.Errorf("hours of risky calls kept: %v, want %v", hours, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var final []ProfileHit
	err = st.View(ctx, func(r Reader) error {
		var err error
		final, err = p.Evaluate(ctx, r, b.Touched())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := MergeProfileHits(expired, final); !reflect.DeepEqual(got, want) {
		t.Errorf("with expiry:\n got  %+v\n want %+v", got, want)
	}
	// The expired key's baselines are gone; the later key's are not.
	err = st.View(ctx, func(r Reader) error {
		var q []BaselineKey
		for _, k := range []string{"ASIA3EXAMPLESTOLEN1", "ASIA3EXAMPLEUNUSED1", "ASIA3EXAMPLEINUSE01", "ASIA3EXAMPLELATER01"} {
			q = append(q, kindKeyIssued.baselineKey(k, ""))
		}
		got, err := r.Baselines(ctx, q)
		var left []string
		for _, b := range got {
			left = append(left, b.Scope)
		}
		if want := []string{"key:ASIA3EXAMPLEINUSE01", "key:ASIA3EXAMPLELATER01"}; !slices.Equal(left, want) {
			t.Errorf("issued baselines left: %v, want %v", left, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
