package detect

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// This file and profile_eval.go are the detections that ask "has this been
// seen before, and from where?" rather than "does this event match?":
// first-seen baselines per principal and per account, where credentials are
// used compared with where they were issued, a new IAM user's key put to use,
// and each actor's risk tier. docs/profiles.md describes them for users.
//
// They run in two steps, so that their findings are a function of the state
// alone — the same for one batch as for shuffled pieces across invocations:
//
//  1. Per event, a worker's ProfileBatch gathers observations (State's
//     Observation: kind, scope, value, first and last sighting, count),
//     merged in memory so that a million events of one principal cost one
//     row per distinct value; Flush writes them with Tx.Observe.
//  2. Evaluate reads the baselines of the principals, accounts and keys a
//     run touched and derives the findings from them: a value is new when
//     its first sighting comes after the scope's learning period, which
//     starts at the scope's own first sighting.
//
// A finding can therefore change as older logs arrive (an earlier sighting
// moves a value into the learning period); it is derived again from the state
// each time, never accumulated.

// Profile kinds: what is observed, and whose baseline it joins.
type profileKind uint8

const (
	kindActivePrincipal profileKind = iota // "active", "principals", principal ARN
	kindActiveAccount                      // "active", "accounts", account id
	kindActiveKey                          // "active", "keys", access key id
	kindAPI                                // "api", "principal:<arn>", IAM action
	kindAPIAccount                         // "api", "account:<id>", IAM action
	kindService                            // "service", "principal:<arn>", service prefix
	kindServiceAccount                     // "service", "account:<id>", service prefix
	kindClient                             // "client", "principal:<arn>", user-agent family
	kindRegion                             // "region", "principal:<arn>", region
	kindRegionAccount                      // "region", "account:<id>", region
	kindNetwork                            // "network", "principal:<arn>", network (see networkOf)
	kindNetworkAccount                     // "network", "account:<id>", network
	kindCountry                            // "country", "principal:<arn>", ISO country code
	kindCountryAccount                     // "country", "account:<id>", ISO country code
	kindKeyNetwork                         // "network", "key:<id>", network an access key was used from
	kindKeyIssued                          // "issued", "key:<id>", network temporary credentials were issued to
	kindKeySession                         // "session", "key:<id>", "<principal ARN> <session name>"
	kindKeyCreated                         // "created", "key:<id>", user name the key was created for
	kindUserCreated                        // "user-created", "account:<id>", user name
	kindRisk                               // "risk", "actor:<account> <actor>", risk category
	numKinds
)

// profileKinds names each kind's Observation Kind and the prefix of its
// Scope; for the "active" kinds the scope is fixed and the subject is the
// value, so that Evaluate can list every principal, account or key.
var profileKinds = [numKinds]struct{ kind, scope string }{
	kindActivePrincipal: {"active", "principals"},
	kindActiveAccount:   {"active", "accounts"},
	kindActiveKey:       {"active", "keys"},
	kindAPI:             {"api", "principal:"},
	kindAPIAccount:      {"api", "account:"},
	kindService:         {"service", "principal:"},
	kindServiceAccount:  {"service", "account:"},
	kindClient:          {"client", "principal:"},
	kindRegion:          {"region", "principal:"},
	kindRegionAccount:   {"region", "account:"},
	kindNetwork:         {"network", "principal:"},
	kindNetworkAccount:  {"network", "account:"},
	kindCountry:         {"country", "principal:"},
	kindCountryAccount:  {"country", "account:"},
	kindKeyNetwork:      {"network", "key:"},
	kindKeyIssued:       {"issued", "key:"},
	kindKeySession:      {"session", "key:"},
	kindKeyCreated:      {"created", "key:"},
	kindUserCreated:     {"user-created", "account:"},
	kindRisk:            {"risk", "actor:"},
}

func (k profileKind) active() bool { return k <= kindActiveKey }

// baselineKey returns the state's key for a kind, subject and value.
func (k profileKind) baselineKey(subject, value string) BaselineKey {
	pk := profileKinds[k]
	if k.active() {
		return BaselineKey{Kind: pk.kind, Scope: pk.scope, Value: subject}
	}
	return BaselineKey{Kind: pk.kind, Scope: pk.scope + subject, Value: value}
}

// ProfileOptions configure the profile detections.
type ProfileOptions struct {
	// Learning is how long after a principal, account or key is first seen
	// its values are only learnt, not reported. Zero means
	// DefaultLearning.
	Learning time.Duration
}

// DefaultLearning is the learning period of the profile detections.
const DefaultLearning = 7 * 24 * time.Hour

// Profiler derives profile observations from events and findings from the
// state. It is immutable: safe for many workers.
type Profiler struct {
	learning time.Duration
}

// NewProfiler returns a Profiler.
func NewProfiler(o ProfileOptions) *Profiler {
	if o.Learning <= 0 {
		o.Learning = DefaultLearning
	}
	return &Profiler{learning: o.Learning}
}

// Learning is the learning period in force.
func (p *Profiler) Learning() time.Duration { return p.learning }

// profileKey is one baseline entry in a batch. Subject and value are kept
// apart from the kind's scope prefix so that looking an entry up builds no
// string; net carries a network value until Flush spells it.
type profileKey struct {
	kind    profileKind
	subject string
	value   string
	extra   string // appended to value after a space: a session's name
	net     network
}

type profileAgg struct {
	first, last Sighting
	count       int64
}

// ProfileBatch is one worker's observations not yet written to the state.
// It is not safe for concurrent use; give each worker its own.
type ProfileBatch struct {
	p       *Profiler
	entries map[profileKey]*profileAgg
	// touched lists the subjects seen since the batch was made (not reset
	// by Flush): what Evaluate looks at.
	touched Touched
}

// Touched is the principals, accounts, keys and actors whose profiles a run
// fed, for Evaluate to derive their findings.
type Touched struct {
	Principals, Accounts, Keys map[string]bool
}

func newTouched() Touched {
	return Touched{Principals: map[string]bool{}, Accounts: map[string]bool{}, Keys: map[string]bool{}}
}

// Merge adds o's subjects to t.
func (t *Touched) Merge(o Touched) {
	if t.Principals == nil {
		*t = newTouched()
	}
	for k := range o.Principals {
		t.Principals[k] = true
	}
	for k := range o.Accounts {
		t.Accounts[k] = true
	}
	for k := range o.Keys {
		t.Keys[k] = true
	}
}

// NewBatch returns an empty batch.
func (p *Profiler) NewBatch() *ProfileBatch {
	return &ProfileBatch{p: p, entries: map[profileKey]*profileAgg{}, touched: newTouched()}
}

// Len is the number of distinct entries waiting to be flushed.
func (b *ProfileBatch) Len() int { return len(b.entries) }

// Touched returns the subjects the batch has seen.
func (b *ProfileBatch) Touched() Touched { return b.touched }

// add records one sighting. Strings are cloned only when the entry is new:
// they may point into an event the decoder reuses.
func (b *ProfileBatch) add(k profileKey, s Sighting) {
	if a := b.entries[k]; a != nil {
		if s.Before(a.first) {
			a.first = Sighting{s.Time, strings.Clone(s.EventID)}
		}
		if a.last.Before(s) {
			a.last = Sighting{s.Time, strings.Clone(s.EventID)}
		}
		a.count++
		return
	}
	k.subject, k.value, k.extra = strings.Clone(k.subject), strings.Clone(k.value), strings.Clone(k.extra)
	s.EventID = strings.Clone(s.EventID)
	b.entries[k] = &profileAgg{first: s, last: s, count: 1}
	switch k.kind {
	case kindActivePrincipal:
		b.touched.Principals[k.subject] = true
	case kindActiveAccount:
		b.touched.Accounts[k.subject] = true
	case kindActiveKey:
		b.touched.Keys[k.subject] = true
	}
}

// Observe adds what the event in v tells the profiles. Events without a
// time, and calls made by AWS services on their own, tell nothing.
func (b *ProfileBatch) Observe(v *enrich.View) {
	ev := v.Event()
	if ev == nil || ev.Time.IsZero() {
		return
	}
	s := Sighting{ev.Time, ev.Str(event.EventID)}
	account := ev.Account()
	principal := principalOf(ev)
	failed := ev.Str(event.ErrorCode) != ""
	net, netOK := networkOf(v)
	region := ev.Str(event.AWSRegion)
	country, countryOK := v.Country()

	if account != "" {
		b.add(profileKey{kind: kindActiveAccount, subject: account}, s)
		if region != "" {
			b.add(profileKey{kind: kindRegionAccount, subject: account, value: region}, s)
		}
		if netOK {
			b.add(profileKey{kind: kindNetworkAccount, subject: account, net: net}, s)
		}
		if countryOK {
			b.add(profileKey{kind: kindCountryAccount, subject: account, value: country}, s)
		}
	}
	if principal != "" {
		b.add(profileKey{kind: kindActivePrincipal, subject: principal}, s)
		if !failed {
			// What a principal can do is learnt from what succeeded:
			// refused calls are the reconnaissance rules' business.
			if a := v.Action(); a != nil && a.Name != "" {
				b.add(profileKey{kind: kindAPI, subject: principal, value: a.Name}, s)
				b.add(profileKey{kind: kindService, subject: principal, value: a.Service}, s)
				if account != "" {
					b.add(profileKey{kind: kindAPIAccount, subject: account, value: a.Name}, s)
					b.add(profileKey{kind: kindServiceAccount, subject: account, value: a.Service}, s)
				}
				if len(a.Risks) > 0 && account != "" {
					actor := account + " " + v.Actor()
					for _, r := range a.Risks {
						b.add(profileKey{kind: kindRisk, subject: actor, value: r}, s)
					}
				}
			}
		}
		if f := v.UserAgentFamily(); f != "" {
			b.add(profileKey{kind: kindClient, subject: principal, value: f}, s)
		}
		if region != "" {
			b.add(profileKey{kind: kindRegion, subject: principal, value: region}, s)
		}
		if netOK {
			b.add(profileKey{kind: kindNetwork, subject: principal, net: net}, s)
		}
		if countryOK {
			b.add(profileKey{kind: kindCountry, subject: principal, value: country}, s)
		}
	}
	if key := ev.Str(event.IdentityAccessKeyID); isAccessKeyID(key) {
		b.add(profileKey{kind: kindActiveKey, subject: key}, s)
		if netOK {
			b.add(profileKey{kind: kindKeyNetwork, subject: key, net: net}, s)
		}
		if principal != "" {
			// Whose key it is, and for a role the session's name: an
			// instance profile's sessions are named after the instance.
			b.add(profileKey{kind: kindKeySession, subject: key, value: principal, extra: v.Session()}, s)
		}
	}
	if !failed {
		b.observeIssue(v, ev, s, account, net, netOK)
	}
}

// observeIssue records where credentials came from: the network the
// temporary credentials an STS call returned were issued to, the user an
// access key was created for, the users created.
func (b *ProfileBatch) observeIssue(v *enrich.View, ev *event.Event, s Sighting, account string, net network, netOK bool) {
	switch ev.Str(event.EventSource) {
	case "sts.amazonaws.com":
		key := ev.First(pathIssuedKey).Text()
		if !strings.HasPrefix(key, "ASIA") {
			return
		}
		switch {
		case netOK:
			b.add(profileKey{kind: kindKeyIssued, subject: key, net: net}, s)
		case v.SourceKind() == enrich.SourceAWSService:
			// An AWS service assumed the role for its workload (EC2 for an
			// instance profile, Lambda for a function): where they are used
			// is the workload's network, not the caller's.
			b.add(profileKey{kind: kindKeyIssued, subject: key, value: "service:" + ev.Str(event.SourceIPAddress)}, s)
		}
	case "iam.amazonaws.com":
		switch ev.Str(event.EventName) {
		case "CreateAccessKey":
			key := ev.First(pathCreatedKey).Text()
			if user := ev.First(pathCreatedKeyUser).Text(); isAccessKeyID(key) && user != "" {
				b.add(profileKey{kind: kindKeyCreated, subject: key, value: user}, s)
			}
		case "CreateUser":
			if user := ev.First(pathUserName).Text(); user != "" && account != "" {
				b.add(profileKey{kind: kindUserCreated, subject: account, value: user}, s)
			}
		}
	}
}

var (
	pathIssuedKey      = event.ParsePath("responseElements.credentials.accessKeyId")
	pathCreatedKey     = event.ParsePath("responseElements.accessKey.accessKeyId")
	pathCreatedKeyUser = event.ParsePath("responseElements.accessKey.userName")
	pathUserName       = event.ParsePath("requestParameters.userName")
)

// principalOf is the principal a profile belongs to: the IAM user or root
// (its ARN), the role behind an assumed-role session (the role's ARN: a
// role's sessions share one profile), a federated user's ARN. Calls made by
// AWS services and by principals of other accounts named only by account
// have none.
func principalOf(ev *event.Event) string {
	switch ev.Str(event.IdentityType) {
	case "AssumedRole":
		if arn := ev.Str(event.SessionIssuerARN); arn != "" {
			return arn
		}
	case "AWSService", "AWSAccount", "":
		return ""
	}
	return ev.Str(event.IdentityARN)
}

// isAccessKeyID reports whether s looks like an AWS access key id.
func isAccessKeyID(s string) bool {
	return len(s) >= 16 && len(s) <= 128 && (strings.HasPrefix(s, "AKIA") || strings.HasPrefix(s, "ASIA"))
}

// network is where a call came from, as profiles compare it: the caller's
// autonomous system when an ASN database is configured, else the public
// address's /24 (IPv4) or /48 (IPv6).
type network struct {
	asn    uint32
	prefix netip.Prefix
}

func (n network) valid() bool { return n.asn != 0 || n.prefix.IsValid() }

func (n network) String() string {
	if n.asn != 0 {
		return "AS" + strconv.FormatUint(uint64(n.asn), 10)
	}
	return n.prefix.String()
}

// networkOf is the network of the call in v. Private addresses (a VPC
// endpoint, inside a VPC) and AWS services have none: a workload's own
// calls through its VPC are not a new place.
func networkOf(v *enrich.View) (network, bool) {
	if v.SourceKind() != enrich.SourcePublic {
		return network{}, false
	}
	if asn, _, ok := v.ASN(); ok {
		return network{asn: asn}, true
	}
	a := v.SourceAddr()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	return network{prefix: p}, err == nil
}

// Observations turns the batch into observations for Tx.Observe and empties
// it. Each entry becomes its first sighting carrying the whole count but
// one, and its last sighting carrying one, so Observe's merge keeps both
// ends and the count.
func (b *ProfileBatch) Observations() []Observation {
	out := make([]Observation, 0, 2*len(b.entries))
	for k, a := range b.entries {
		value := k.value
		switch {
		case k.net.valid():
			value = k.net.String()
		case k.kind == kindKeySession:
			value += " " + k.extra
		}
		key := k.kind.baselineKey(k.subject, value)
		first := Observation{Kind: key.Kind, Scope: key.Scope, Value: key.Value, Time: a.first.Time, EventID: a.first.EventID, Count: a.count}
		if a.count > 1 {
			first.Count = a.count - 1
			out = append(out, first)
			first.Time, first.EventID, first.Count = a.last.Time, a.last.EventID, 1
		}
		out = append(out, first)
	}
	clear(b.entries)
	return out
}

// Flush writes the batch to the state in one transaction.
func (b *ProfileBatch) Flush(ctx context.Context, st State) error {
	if len(b.entries) == 0 {
		return nil
	}
	obs := b.Observations()
	return st.Update(ctx, func(tx Tx) error {
		_, err := tx.Observe(ctx, obs)
		return err
	})
}

// TouchedSet gathers the subjects of many batches, safely from many
// goroutines.
type TouchedSet struct {
	mu sync.Mutex
	t  Touched
}

// Add merges t in.
func (s *TouchedSet) Add(t Touched) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Merge(t)
}

// Get returns what was gathered.
func (s *TouchedSet) Get() Touched {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.Principals == nil {
		return newTouched()
	}
	return s.t
}
