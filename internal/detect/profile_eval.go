package detect

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// ProfileDetector is one of the profile detections, as findings name it.
type ProfileDetector struct {
	ID          string
	Title       string
	Level       string // the level when the hit does not set its own
	Description string
	Attack      []string
}

// The profile detections.
var (
	ProfileNewAPI = &ProfileDetector{
		ID: "trailsentry-profile-new-api", Title: "Principal calls an API it has never called", Level: "low",
		Description: "After its learning period, a principal successfully called IAM actions it had never called before. " +
			"How rare they are in the account is the rarity: unseen (no principal of the account had called them), " +
			"rare (under 0.1% of the account's calls) or infrequent (under 1%). Stolen credentials are put to uses their owner never had.",
		Attack: []string{"T1078.004"},
	}
	ProfileNewService = &ProfileDetector{
		ID: "trailsentry-profile-new-service", Title: "Principal uses an AWS service it has never used", Level: "low",
		Description: "After its learning period, a principal successfully used AWS services it had never used before.",
		Attack:      []string{"T1078.004"},
	}
	ProfileNewClient = &ProfileDetector{
		ID: "trailsentry-profile-new-client", Title: "Principal calls from a kind of client it has never used", Level: "low",
		Description: "After its learning period, a principal's calls came from a user-agent family it had never used (a role that only Terraform used, now called from the AWS CLI or a Python SDK).",
		Attack:      []string{"T1078.004"},
	}
	ProfileNewRegion = &ProfileDetector{
		ID: "trailsentry-profile-new-region", Title: "Principal acts in a region it has never used", Level: "low",
		Description: "After its learning period, a principal made calls in an AWS region it had never used.",
		Attack:      []string{"T1535"},
	}
	ProfileAccountNewRegion = &ProfileDetector{
		ID: "trailsentry-profile-account-new-region", Title: "Account used in a region it has never used", Level: "medium",
		Description: "After the account's learning period, calls were made in an AWS region the account had never used: attackers mine or hide in regions nobody watches.",
		Attack:      []string{"T1535"},
	}
	ProfileNewNetwork = &ProfileDetector{
		ID: "trailsentry-profile-new-network", Title: "Principal calls from a network it has never used", Level: "low",
		Description: "After its learning period, a principal's calls came from a network it had never called from: its autonomous system when an ASN database is configured, else a /24 (a /48 for IPv6). " +
			"Unseen: no principal of the account had called from it.",
		Attack: []string{"T1078.004"},
	}
	ProfileNewCountry = &ProfileDetector{
		ID: "trailsentry-profile-new-country", Title: "Principal calls from a country it has never called from", Level: "low",
		Description: "After its learning period, a principal's calls came from a country it had never called from (needs a MaxMind country or city database). " +
			"Unseen: no principal of the account had called from it.",
		Attack: []string{"T1078.004"},
	}
	ProfileKeyNewNetwork = &ProfileDetector{
		ID: "trailsentry-key-new-network", Title: "Long-term access key used from a new network", Level: "medium",
		Description: "After its learning period, an IAM user's or root's long-term access key (AKIA…) was used from a public network it had never been used from: leaked keys are used from the attacker's machine.",
		Attack:      []string{"T1078.004", "T1552.001"},
	}
	ProfileTempKeyOtherNetwork = &ProfileDetector{
		ID: "trailsentry-key-temporary-other-network", Title: "Temporary credentials used from another network than they were issued to", Level: "high",
		Description: "Temporary credentials (ASIA…) were used from a public network other than the one the STS call that issued them came from: a session's credentials were copied elsewhere.",
		Attack:      []string{"T1550.001", "T1078.004"},
	}
	ProfileInstanceKeyOtherNetwork = &ProfileDetector{
		ID: "trailsentry-key-instance-credentials-other-network", Title: "EC2 instance credentials used from another network", Level: "high",
		Description: "An EC2 instance profile's credentials (the session is named after the instance) were used from a public network other than the one the instance first used them from: " +
			"credentials taken through the instance metadata service (SSRF, a compromised workload) and used elsewhere.",
		Attack: []string{"T1552.005", "T1078.004"},
	}
	ProfileNewUserKeyUsed = &ProfileDetector{
		ID: "trailsentry-seq-new-user-key-used", Title: "New IAM user's access key created and used", Level: "high",
		Description: "An IAM user was created, an access key was created for it, and the key was used, all within 24 hours: a persistence foothold put to work.",
		Attack:      []string{"T1136.003", "T1098.001"},
	}
)

var ProfileTrailStoppedActivity = &ProfileDetector{
	ID: "trailsentry-seq-trail-stopped-activity", Title: "CloudTrail logging stopped, then risky calls by the same actor within the hour", Level: "high",
	Description: "An actor stopped or deleted a trail (or an event data store), and within the hour made successful calls whose actions carry a risk category " +
		"(privilege escalation, credentials, exposure, exfiltration, infrastructure changes): what an intruder does once it thinks it is no longer logged. " +
		"These calls were still recorded, by another trail or another region's. Restart logging, then treat the actor's credentials as compromised and review each call listed.",
	Attack: []string{"T1562.008"},
}

// ProfileDetectors lists every profile detection.
var ProfileDetectors = []*ProfileDetector{
	ProfileNewAPI, ProfileNewService, ProfileNewClient, ProfileNewRegion, ProfileAccountNewRegion,
	ProfileNewNetwork, ProfileNewCountry, ProfileKeyNewNetwork, ProfileTempKeyOtherNetwork, ProfileInstanceKeyOtherNetwork,
	ProfileNewUserKeyUsed, ProfileTrailStoppedActivity,
}

// Rarity of a value a principal used for the first time, by how the account
// as a whole uses it.
const (
	RarityUnseen     = "unseen"     // no principal of the account had used it
	RarityRare       = "rare"       // under 0.1% of the account's calls
	RarityInfrequent = "infrequent" // under 1% of the account's calls
)

// ProfileHit is one profile finding: a detection, whose profile (a
// principal, account or access key) and what was new or out of place in it.
type ProfileHit struct {
	Detector *ProfileDetector
	Level    string // the detector's, or one set by the rarity
	Account  string
	// Subject is whose profile: a principal ARN, an account id, an access
	// key id.
	Subject string
	// Actor names who acted, when the subject does not say it as a person
	// would: the user or role session an access key belongs to.
	Actor  string
	Rarity string // for first-seen detections; "" otherwise
	// Values are what was new (API names, regions, networks, ...), each
	// with the time it was first seen, earliest first.
	Values []Stamp
	// Evidence are the events the values were first seen in.
	Evidence    []Stamp
	First, Last time.Time
	// Detail says what the values are measured against ("issued to
	// 198.51.100.0/24"), for the description.
	Detail string
}

// RiskTier ranks an actor by the riskiest calls it made.
type RiskTier struct {
	Tier       string   // "high", "medium" or "low"
	Categories []string // the risk categories of its calls, sorted
}

// tierOf ranks risk categories: calls that can take over the account or
// hide what is done in it rank high; those that read secrets, expose or
// copy data or change infrastructure — what applications do every day too —
// medium.
func tierOf(categories []string) string {
	tier := "low"
	for _, c := range categories {
		switch c {
		case "privilege-escalation", "defense-evasion":
			return "high"
		case "credentials-exposure", "resource-exposure", "data-exfiltration", "infrastructure-modification":
			tier = "medium"
		}
	}
	return tier
}

// RiskTiers returns the risk tier of each actor ("<account> <actor>", as
// findings name them) that made calls with a risk category; the others have
// none.
func (p *Profiler) RiskTiers(ctx context.Context, r Reader, actors []string) (map[string]RiskTier, error) {
	keys := make([]BaselineKey, 0, len(actors))
	for _, a := range actors {
		keys = append(keys, kindRisk.baselineKey(a, ""))
	}
	got, err := r.Baselines(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("profiles: read risk: %w", err)
	}
	cats := map[string][]string{}
	prefix := profileKinds[kindRisk].scope
	for _, b := range got {
		a := strings.TrimPrefix(b.Scope, prefix)
		cats[a] = append(cats[a], b.Value)
	}
	out := make(map[string]RiskTier, len(cats))
	for a, c := range cats {
		slices.Sort(c)
		out[a] = RiskTier{Tier: tierOf(c), Categories: c}
	}
	return out, nil
}

// AllTouched returns every principal, account and key the state holds a
// profile of: to derive the findings of the whole state.
func AllTouched(ctx context.Context, r Reader) (Touched, error) {
	t := newTouched()
	got, err := r.Baselines(ctx, []BaselineKey{
		kindActivePrincipal.baselineKey("", ""), kindActiveAccount.baselineKey("", ""), kindActiveKey.baselineKey("", ""),
		kindActiveStopper.baselineKey("", ""),
	})
	if err != nil {
		return t, fmt.Errorf("profiles: list: %w", err)
	}
	for _, b := range got {
		switch b.Scope {
		case profileKinds[kindActivePrincipal].scope:
			t.Principals[b.Value] = true
		case profileKinds[kindActiveAccount].scope:
			t.Accounts[b.Value] = true
		case profileKinds[kindActiveKey].scope:
			t.Keys[b.Value] = true
		case profileKinds[kindActiveStopper].scope:
			t.Stoppers[b.Value] = true
		}
	}
	return t, nil
}

// evaluation is one Evaluate's reads.
type evaluation struct {
	p   *Profiler
	ctx context.Context
	r   Reader
}

// read returns the baselines for the keys, grouped by kind and scope.
func (e *evaluation) read(keys []BaselineKey) (map[BaselineKey][]Baseline, error) {
	got, err := e.r.Baselines(e.ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("profiles: read baselines: %w", err)
	}
	out := map[BaselineKey][]Baseline{}
	for _, b := range got {
		k := BaselineKey{Kind: b.Kind, Scope: b.Scope}
		out[k] = append(out[k], b)
	}
	return out, nil
}

// chunk is how many subjects one read asks about.
const profileChunk = 256

// Evaluate derives the profile findings of the touched principals, accounts
// and keys from the state, sorted by detector, account and subject. The
// answer depends only on what the state holds.
func (p *Profiler) Evaluate(ctx context.Context, r Reader, t Touched) ([]ProfileHit, error) {
	e := &evaluation{p: p, ctx: ctx, r: r}
	var hits []ProfileHit
	for _, batch := range chunks(sortedKeys(t.Accounts), profileChunk) {
		h, err := e.accounts(batch)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	for _, batch := range chunks(sortedKeys(t.Principals), profileChunk) {
		h, err := e.principals(batch)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	for _, batch := range chunks(sortedKeys(t.Keys), profileChunk) {
		h, err := e.keys(batch)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	for _, batch := range chunks(sortedKeys(t.Stoppers), profileChunk) {
		h, err := e.stoppers(batch)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	slices.SortFunc(hits, func(a, b ProfileHit) int {
		return cmp.Or(strings.Compare(a.Detector.ID, b.Detector.ID), strings.Compare(a.Account, b.Account),
			strings.Compare(a.Subject, b.Subject), strings.Compare(a.Rarity, b.Rarity))
	})
	return hits, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func chunks(s []string, n int) [][]string {
	var out [][]string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}

// starts returns the first sighting of each subject of an "active" kind.
func (e *evaluation) starts(kind profileKind, subjects []string) (map[string]Baseline, error) {
	keys := make([]BaselineKey, len(subjects))
	for i, s := range subjects {
		keys[i] = kind.baselineKey(s, "") // a point query: the subject is the value
	}
	got, err := e.r.Baselines(e.ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("profiles: read activity: %w", err)
	}
	out := make(map[string]Baseline, len(got))
	for _, b := range got {
		out[b.Value] = b
	}
	return out, nil
}

// newValues returns the baselines first seen after the learning period that
// starts at start.
func (e *evaluation) newValues(list []Baseline, start Baseline) []Baseline {
	if start.Count == 0 {
		return nil
	}
	end := start.First.Time.Add(e.p.learning)
	var out []Baseline
	for _, b := range list {
		if b.First.Time.After(end) {
			out = append(out, b)
		}
	}
	return out
}

// hit builds a finding from new values, earliest first.
func hit(d *ProfileDetector, level, account, subject, rarity string, vals []Baseline) ProfileHit {
	slices.SortFunc(vals, func(a, b Baseline) int {
		return cmp.Or(compareSightings(a.First, b.First), strings.Compare(a.Value, b.Value))
	})
	h := ProfileHit{Detector: d, Level: cmp.Or(level, d.Level), Account: account, Subject: subject, Rarity: rarity}
	for _, b := range vals {
		h.Values = append(h.Values, Stamp{b.First.Time, b.Value})
		h.Evidence = append(h.Evidence, Stamp{b.First.Time, b.First.EventID})
	}
	h.First, h.Last = vals[0].First.Time, vals[len(vals)-1].First.Time
	slices.SortFunc(h.Evidence, compareStamps)
	h.Evidence = slices.Compact(h.Evidence)
	return h
}

// withLast adds to a hit's evidence the latest event of each value: for an
// access key used from elsewhere, the attacker's calls go on after the first.
func withLast(h ProfileHit, vals []Baseline) ProfileHit {
	for _, b := range vals {
		h.Evidence = append(h.Evidence, Stamp{b.Last.Time, b.Last.EventID})
		h.Last = maxTime(h.Last, b.Last.Time)
	}
	slices.SortFunc(h.Evidence, compareStamps)
	h.Evidence = slices.Compact(h.Evidence)
	return h
}

// accounts derives the account-wide first-seen findings: new regions.
func (e *evaluation) accounts(accounts []string) ([]ProfileHit, error) {
	start, err := e.starts(kindActiveAccount, accounts)
	if err != nil {
		return nil, err
	}
	var keys []BaselineKey
	for _, a := range accounts {
		keys = append(keys, kindRegionAccount.baselineKey(a, ""))
	}
	got, err := e.read(keys)
	if err != nil {
		return nil, err
	}
	var hits []ProfileHit
	for _, a := range accounts {
		if vals := e.newValues(got[kindRegionAccount.baselineKey(a, "")], start[a]); len(vals) > 0 {
			hits = append(hits, hit(ProfileAccountNewRegion, "", a, a, RarityUnseen, vals))
		}
	}
	return hits, nil
}

// principalAccount is the account in a principal's ARN.
func principalAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// principals derives each principal's first-seen findings, graded by how
// the principal's account uses the values.
func (e *evaluation) principals(principals []string) ([]ProfileHit, error) {
	start, err := e.starts(kindActivePrincipal, principals)
	if err != nil {
		return nil, err
	}
	kinds := []profileKind{kindAPI, kindService, kindClient, kindRegion, kindNetwork, kindCountry}
	var keys []BaselineKey
	accounts := map[string]bool{}
	for _, p := range principals {
		for _, k := range kinds {
			keys = append(keys, k.baselineKey(p, ""))
		}
		if a := principalAccount(p); a != "" {
			accounts[a] = true
		}
	}
	got, err := e.read(keys)
	if err != nil {
		return nil, err
	}

	// The account side, for rarity: its activity, and its baselines of the
	// values principals used for the first time.
	acctList := sortedKeys(accounts)
	acctStart, err := e.starts(kindActiveAccount, acctList)
	if err != nil {
		return nil, err
	}
	type newOf struct {
		p    string
		kind profileKind
		vals []Baseline
	}
	var found []newOf
	var acctKeys []BaselineKey
	accountKind := map[profileKind]profileKind{kindAPI: kindAPIAccount, kindService: kindServiceAccount, kindRegion: kindRegionAccount, kindNetwork: kindNetworkAccount, kindCountry: kindCountryAccount}
	for _, p := range principals {
		for _, k := range kinds {
			vals := e.newValues(got[k.baselineKey(p, "")], start[p])
			if len(vals) == 0 {
				continue
			}
			found = append(found, newOf{p, k, vals})
			if ak, ok := accountKind[k]; ok {
				for _, v := range vals {
					acctKeys = append(acctKeys, ak.baselineKey(principalAccount(p), v.Value))
				}
			}
		}
	}
	acctBase := map[BaselineKey]Baseline{}
	if len(acctKeys) > 0 {
		list, err := e.r.Baselines(e.ctx, acctKeys)
		if err != nil {
			return nil, fmt.Errorf("profiles: read account baselines: %w", err)
		}
		for _, b := range list {
			acctBase[b.BaselineKey] = b
		}
	}
	detectors := map[profileKind]*ProfileDetector{
		kindAPI: ProfileNewAPI, kindService: ProfileNewService, kindClient: ProfileNewClient,
		kindRegion: ProfileNewRegion, kindNetwork: ProfileNewNetwork, kindCountry: ProfileNewCountry,
	}
	var hits []ProfileHit
	for _, f := range found {
		account := principalAccount(f.p)
		byRarity := map[string][]Baseline{}
		for _, v := range f.vals {
			rarity := RarityUnseen
			if ak, ok := accountKind[f.kind]; ok {
				ab := acctBase[ak.baselineKey(account, v.Value)]
				as := acctStart[account]
				switch {
				case ab.Count == 0 || ab.First == v.First:
					rarity = RarityUnseen
					if f.kind == kindRegion && ab.First.Time.After(as.First.Time.Add(e.p.learning)) && as.Count > 0 {
						continue // the account's own new region: reported once, for the account
					}
				case as.Count > 0 && ab.Count*1000 < as.Count:
					rarity = RarityRare
				case as.Count > 0 && ab.Count*100 < as.Count:
					rarity = RarityInfrequent
				default:
					continue // common in the account: a principal taking up what others do
				}
			}
			byRarity[rarity] = append(byRarity[rarity], v)
		}
		for _, rarity := range []string{RarityUnseen, RarityRare, RarityInfrequent} {
			if vals := byRarity[rarity]; len(vals) > 0 {
				hits = append(hits, hit(detectors[f.kind], rarityLevel(detectors[f.kind], rarity), account, f.p, rarity, vals))
			}
		}
	}
	return hits, nil
}

// rarityLevel grades a first-seen finding: what nobody in the account did
// before ranks a step above the detector's level, what some do rarely stays,
// and what is merely infrequent is informational.
func rarityLevel(d *ProfileDetector, rarity string) string {
	switch rarity {
	case RarityUnseen:
		if d.Level == "low" {
			return "medium"
		}
	case RarityInfrequent:
		return "informational"
	}
	return d.Level
}

var instanceSession = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// keys derives the access-key findings: a long-term key from a new network,
// temporary credentials away from where they were issued, instance
// credentials away from the instance, a new user's key put to use.
func (e *evaluation) keys(keys []string) ([]ProfileHit, error) {
	start, err := e.starts(kindActiveKey, keys)
	if err != nil {
		return nil, err
	}
	var q []BaselineKey
	for _, k := range keys {
		q = append(q, kindKeyNetwork.baselineKey(k, ""), kindKeyIssued.baselineKey(k, ""),
			kindKeySession.baselineKey(k, ""), kindKeyCreated.baselineKey(k, ""))
	}
	got, err := e.read(q)
	if err != nil {
		return nil, err
	}
	var hits []ProfileHit
	var created []struct {
		key  string
		user Baseline
	}
	for _, k := range keys {
		nets := got[kindKeyNetwork.baselineKey(k, "")]
		sessions := got[kindKeySession.baselineKey(k, "")]
		account, owner := "", ""
		if len(sessions) > 0 {
			principal, session, _ := strings.Cut(sessions[0].Value, " ")
			account = principalAccount(principal)
			owner = principal[strings.LastIndexByte(principal, '/')+1:]
			if session != "" {
				owner += "/" + session
			}
		}
		before := len(hits)
		switch {
		case strings.HasPrefix(k, "AKIA"):
			if vals := e.newValues(nets, start[k]); len(vals) > 0 {
				hits = append(hits, withLast(hit(ProfileKeyNewNetwork, "", account, k, RarityUnseen, vals), vals))
			}
		case strings.HasPrefix(k, "ASIA"):
			issued := got[kindKeyIssued.baselineKey(k, "")]
			if h, ok := tempKeyHit(k, account, issued, nets); ok {
				hits = append(hits, h)
			} else if h, ok := instanceKeyHit(k, account, sessions, issued, nets); ok {
				hits = append(hits, h)
			}
		}
		for i := before; i < len(hits); i++ {
			hits[i].Actor = owner
		}
		for _, c := range got[kindKeyCreated.baselineKey(k, "")] {
			created = append(created, struct {
				key  string
				user Baseline
			}{k, c})
		}
	}
	if len(created) > 0 {
		h, err := e.newUserKeys(created, start)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	return hits, nil
}

// tempKeyHit: temporary credentials issued to a caller on a public network
// and used from other public networks.
func tempKeyHit(key, account string, issued, used []Baseline) (ProfileHit, bool) {
	from := map[string]bool{}
	for _, b := range issued {
		if strings.HasPrefix(b.Value, "service:") {
			return ProfileHit{}, false // issued to an AWS service's workload
		}
		from[b.Value] = true
	}
	if len(from) == 0 {
		return ProfileHit{}, false // where they were issued is not in the logs
	}
	var away []Baseline
	for _, b := range used {
		if !from[b.Value] {
			away = append(away, b)
		}
	}
	if len(away) == 0 {
		return ProfileHit{}, false
	}
	h := withLast(hit(ProfileTempKeyOtherNetwork, "", account, key, "", away), away)
	h.Detail = "issued to " + strings.Join(slices.Sorted(mapKeys(from)), ", ")
	return h, true
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// instanceKeyHit: an instance profile's credentials used from a public
// network other than the first one the instance used them from.
func instanceKeyHit(key, account string, sessions, issued, used []Baseline) (ProfileHit, bool) {
	instance := false
	for _, s := range sessions {
		_, session, _ := strings.Cut(s.Value, " ")
		instance = instance || instanceSession.MatchString(session)
	}
	if !instance || len(used) < 2 {
		return ProfileHit{}, false
	}
	for _, b := range issued {
		if !strings.HasPrefix(b.Value, "service:") {
			return ProfileHit{}, false // issued to a caller, not to EC2: tempKeyHit's case
		}
	}
	used = slices.Clone(used)
	slices.SortFunc(used, func(a, b Baseline) int { return compareSightings(a.First, b.First) })
	h := withLast(hit(ProfileInstanceKeyOtherNetwork, "", account, key, "", used[1:]), used[1:])
	h.Detail = "first used from " + used[0].Value
	return h, true
}

// newUserKeys: a user created, a key created for it, and the key used, all
// within a day.
func (e *evaluation) newUserKeys(created []struct {
	key  string
	user Baseline
}, firstUse map[string]Baseline) ([]ProfileHit, error) {
	// Which account created the user is not in the key's baselines: look
	// the user up in every account its key's creation could be in — the
	// accounts the state knows.
	all, err := AllTouched(e.ctx, e.r)
	if err != nil {
		return nil, err
	}
	var q []BaselineKey
	for _, a := range sortedKeys(all.Accounts) {
		for _, c := range created {
			q = append(q, kindUserCreated.baselineKey(a, c.user.Value))
		}
	}
	users, err := e.r.Baselines(e.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("profiles: read created users: %w", err)
	}
	const within = 24 * time.Hour
	var hits []ProfileHit
	for _, c := range created {
		use, ok := firstUse[c.key]
		if !ok {
			continue
		}
		for _, u := range users {
			if u.Value != c.user.Value {
				continue
			}
			made, keyAt, usedAt := u.First, c.user.First, use.First
			if made.Time.After(keyAt.Time) || keyAt.Time.After(usedAt.Time) || usedAt.Time.Sub(made.Time) > within {
				continue
			}
			account := strings.TrimPrefix(u.Scope, profileKinds[kindUserCreated].scope)
			h := ProfileHit{
				Detector: ProfileNewUserKeyUsed, Level: ProfileNewUserKeyUsed.Level, Account: account, Subject: c.key,
				Values:   []Stamp{{made.Time, "user " + u.Value + " created"}, {keyAt.Time, "key " + c.key + " created"}, {usedAt.Time, "key " + c.key + " used"}},
				Evidence: []Stamp{{made.Time, made.EventID}, {keyAt.Time, keyAt.EventID}, {usedAt.Time, usedAt.EventID}},
				First:    made.Time, Last: usedAt.Time,
			}
			slices.SortFunc(h.Evidence, compareStamps)
			h.Evidence = slices.Compact(h.Evidence)
			hits = append(hits, h)
			break
		}
	}
	return hits, nil
}

// stoppers derives "trail stopped, then risky calls within the hour". For a
// stop at T, a risky call in (T, T+1h] lies in T's hour after T (that hour's
// last call is at or after T) or in the next hour (its first call is at or
// before T+1h): exact from the hourly first and last sightings. Of several
// stops of one trail only the first and the last are kept; any stop between
// them is less than an hour from one of the two windows' union, which covers
// its own window.
func (e *evaluation) stoppers(actors []string) ([]ProfileHit, error) {
	var q []BaselineKey
	for _, a := range actors {
		q = append(q, kindTrailStop.baselineKey(a, ""), kindRiskHour.baselineKey(a, ""))
	}
	got, err := e.read(q)
	if err != nil {
		return nil, err
	}
	var hits []ProfileHit
	for _, a := range actors {
		stops := got[kindTrailStop.baselineKey(a, "")]
		hours := map[string][]Baseline{}
		for _, b := range got[kindRiskHour.baselineKey(a, "")] {
			hour, _, _ := strings.Cut(b.Value, " ")
			hours[hour] = append(hours[hour], b)
		}
		var vals []Stamp
		var evidence []Stamp
		seen := map[string]bool{}
		note := func(st Stamp, ev Stamp) {
			if !seen[st.Value] {
				seen[st.Value] = true
				vals = append(vals, st)
			}
			evidence = append(evidence, ev)
		}
		for _, stop := range stops {
			for _, at := range []Sighting{stop.First, stop.Last} {
				h := unixHour(at.Time)
				found := false
				for _, b := range hours[hourName(h)] {
					if !b.Last.Time.Before(at.Time) {
						_, cat, _ := strings.Cut(b.Value, " ")
						note(Stamp{b.Last.Time, cat}, Stamp{b.Last.Time, b.Last.EventID})
						found = true
					}
				}
				for _, b := range hours[hourName(h+1)] {
					if !b.First.Time.After(at.Time.Add(time.Hour)) {
						_, cat, _ := strings.Cut(b.Value, " ")
						note(Stamp{b.First.Time, cat}, Stamp{b.First.Time, b.First.EventID})
						found = true
					}
				}
				if found {
					note(Stamp{at.Time, stop.Value}, Stamp{at.Time, at.EventID})
				}
			}
		}
		if len(vals) == 0 {
			continue
		}
		slices.SortFunc(vals, compareStamps)
		slices.SortFunc(evidence, compareStamps)
		evidence = slices.Compact(evidence)
		account, actor, _ := strings.Cut(a, " ")
		hits = append(hits, ProfileHit{
			Detector: ProfileTrailStoppedActivity, Level: ProfileTrailStoppedActivity.Level, Account: account, Subject: actor,
			Values: vals, Evidence: evidence, First: evidence[0].Time, Last: evidence[len(evidence)-1].Time,
		})
	}
	return hits, nil
}

// ExpireHorizon is how long after its last sighting an access key, an hour
// of risky calls or a trail stop can still matter: temporary credentials
// last at most 36 hours (a federation token; a role session 12), and the
// trail-stopped window is an hour.
const ExpireHorizon = 36 * time.Hour

// Expire keeps a run's in-memory state bounded: it derives the findings of
// the temporary access keys last used before cutoff, then drops those keys'
// baselines, those of temporary credentials issued before cutoff and not
// used (they never will be: they last ExpireHorizon at most), and the hours
// of risky calls last seen before cutoff but those a trail stop's window
// needs. Trail stops, a long-term key, a principal, an account keep their
// baselines: stoppers are judged at the end, on the same baselines as
// without expiry (judging them at each pass made the evidence depend on
// when passes fell). The caller merges the hits returned with those of
// later Expire and Evaluate calls (MergeProfileHits). Events older than
// cutoff that arrive later are judged without what was dropped, as
// correlation windows are past their lateness.
func (p *Profiler) Expire(ctx context.Context, m *MemoryState, cutoff time.Time) ([]ProfileHit, int, error) {
	var hits []ProfileHit
	expired, used := map[string]bool{}, map[string]bool{}
	stopHours := map[string]bool{} // "<account> <actor> <hour>" of a stop, and the hour after
	err := m.View(ctx, func(r Reader) error {
		all, err := AllTouched(ctx, r)
		if err != nil {
			return err
		}
		var q []BaselineKey
		for a := range all.Stoppers {
			q = append(q, kindTrailStop.baselineKey(a, ""))
		}
		stops, err := r.Baselines(ctx, q)
		if err != nil {
			return err
		}
		for _, b := range stops {
			a := strings.TrimPrefix(b.Scope, profileKinds[kindTrailStop].scope)
			for _, at := range []time.Time{b.First.Time, b.Last.Time} {
				h := unixHour(at)
				stopHours[a+" "+hourName(h)], stopHours[a+" "+hourName(h+1)] = true, true
			}
		}
		keys, err := r.Baselines(ctx, []BaselineKey{kindActiveKey.baselineKey("", "")})
		if err != nil {
			return err
		}
		t := newTouched()
		for _, k := range keys {
			if !strings.HasPrefix(k.Value, "ASIA") {
				continue
			}
			used[k.Value] = true
			if k.Last.Time.Before(cutoff) {
				t.Keys[k.Value] = true
				expired[k.Value] = true
			}
		}
		hits, err = p.Evaluate(ctx, r, t)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	keyScope := profileKinds[kindKeyNetwork].scope // "key:"
	tempKeyScope := keyScope + "ASIA"
	activeKeys := profileKinds[kindActiveKey]
	n := m.DropBaselines(func(b Baseline) bool {
		switch {
		case b.Kind == activeKeys.kind && b.Scope == activeKeys.scope:
			return expired[b.Value]
		case strings.HasPrefix(b.Scope, tempKeyScope):
			// Credentials issued before cutoff and not used yet never will
			// be: they last ExpireHorizon at most.
			k := strings.TrimPrefix(b.Scope, keyScope)
			return expired[k] || (b.Kind == profileKinds[kindKeyIssued].kind && !used[k] && b.Last.Time.Before(cutoff))
		case b.Kind == profileKinds[kindRiskHour].kind:
			// Trail stops stay (there are few) and so do the hours their
			// windows need: a stopper is judged at the end of the run, on
			// the same baselines as without expiry.
			hour, _, _ := strings.Cut(b.Value, " ")
			return b.Last.Time.Before(cutoff) && !stopHours[strings.TrimPrefix(b.Scope, profileKinds[kindRiskHour].scope)+" "+hour]
		}
		return false
	})
	return hits, n, nil
}

// MergeProfileHits merges hits of the same detection, account, subject and
// rarity (from several Expire and Evaluate calls): values and evidence are
// united, earliest first.
func MergeProfileHits(lists ...[]ProfileHit) []ProfileHit {
	type key struct{ d, account, subject, rarity string }
	byKey := map[key]*ProfileHit{}
	var order []key
	for _, list := range lists {
		for _, h := range list {
			k := key{h.Detector.ID, h.Account, h.Subject, h.Rarity}
			prev := byKey[k]
			if prev == nil {
				h := h
				byKey[k] = &h
				order = append(order, k)
				continue
			}
			prev.Values = unionStamps(prev.Values, h.Values, true)
			prev.Evidence = unionStamps(prev.Evidence, h.Evidence, false)
			prev.First, prev.Last = minTime(prev.First, h.First), maxTime(prev.Last, h.Last)
			prev.Detail = cmp.Or(prev.Detail, h.Detail)
		}
	}
	out := make([]ProfileHit, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	slices.SortFunc(out, func(a, b ProfileHit) int {
		return cmp.Or(strings.Compare(a.Detector.ID, b.Detector.ID), strings.Compare(a.Account, b.Account),
			strings.Compare(a.Subject, b.Subject), strings.Compare(a.Rarity, b.Rarity))
	})
	return out
}

// unionStamps unites two sorted stamp lists, by value (each value once, at
// its earliest time) or as stamps.
func unionStamps(a, b []Stamp, byValue bool) []Stamp {
	out := append(slices.Clone(a), b...)
	if byValue {
		slices.SortFunc(out, func(x, y Stamp) int { return cmp.Or(strings.Compare(x.Value, y.Value), x.Time.Compare(y.Time)) })
		out = slices.CompactFunc(out, func(x, y Stamp) bool { return x.Value == y.Value })
	}
	slices.SortFunc(out, compareStamps)
	return slices.Compact(out)
}
