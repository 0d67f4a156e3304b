package corpus

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// fileSpec is one log file of the corpus, decided before any is written.
type fileSpec struct {
	index   int
	account *account
	region  string
	start   time.Time // the file's window starts here
	events  int
	path    string // relative to Options.Dir, with forward slashes
	plants  []*plantedRecord
}

// plantedRecord is one attack record and the place it goes to.
type plantedRecord struct {
	attack  *attack
	step    int
	eventID string
}

func (p *plantedRecord) write(w *jsonWriter, c *call) {
	x := p.attack
	s := &x.scenario.steps[p.step]
	c.attack = x
	c.api = &s.api
	x.scenario.as(c, x)
	if s.setup != nil {
		s.setup(c, x)
	}
	writeRecord(w, c, p.eventID)
}

// plantedEvents is how many attack records a corpus of n events gets:
// about one per 20,000, at least 20 (one of every scenario) from 10,000
// events up, and one per 500 below that.
func plantedEvents(n int) int {
	switch {
	case n >= 10000:
		return max(20, n/20000)
	default:
		return n / 500
	}
}

// makePlan lays out the files (account, region, time window, name, event
// count) and places the attacks in them.
func makePlan(opt Options, est *estate) ([]*fileSpec, []Planted) {
	r := newRand(opt.Seed, 1<<41)

	accountCum := make([]int, len(est.accounts))
	total := 0
	for i := range est.accounts {
		total += len(est.accounts) - i // the first account is the busiest
		accountCum[i] = total
	}
	regionCum := make([]int, len(regions))
	rt := 0
	for i, rg := range regions {
		rt += rg.weight
		regionCum[i] = rt
	}

	files := make([]*fileSpec, opt.Files)
	step := opt.Span / time.Duration(opt.Files)
	for i := range files {
		a := est.accounts[searchInts(accountCum, r.IntN(total))]
		region := regions[searchInts(regionCum, r.IntN(rt))].name
		start := opt.Start.Add(step * time.Duration(i))
		if i > 0 && step > time.Second {
			start = start.Add(time.Duration(r.Int64N(int64(step / 2))))
		}
		start = start.Truncate(time.Second)
		delivered := start.Add(window).Truncate(time.Minute)
		n := opt.Events / opt.Files
		if i < opt.Events%opt.Files {
			n++
		}
		prefix := "AWSLogs/"
		if a.org {
			prefix += est.orgID + "/"
		}
		path := prefix + a.id + "/CloudTrail/" + region + "/" + delivered.Format("2006/01/02") + "/" +
			a.id + "_CloudTrail_" + region + "_" + delivered.Format("20060102T1504Z") + "_" +
			randomString(r, mixedAlnum, 16) + ".json.gz"
		files[i] = &fileSpec{index: i, account: a, region: region, start: start, events: n, path: path}
	}

	return files, plantAttacks(r, est, files, plantedEvents(opt.Events))
}

// plantAttacks places attack scenarios in files until want records are
// planted, cycling through the scenarios in order so that a corpus with at
// least one record per scenario covers them all. A scenario's records go to
// one file (one account), in order; scenarios on global services go to
// us-east-1 files when there are any. No file gets more than a quarter of
// its records replaced.
func plantAttacks(r *rand.Rand, est *estate, files []*fileSpec, want int) []Planted {
	if want == 0 {
		return nil
	}
	scenarios := newScenarios()
	for _, s := range scenarios {
		for i := range s.steps {
			s.steps[i].api.noErrors = true
			s.steps[i].api.derive()
		}
	}
	minimum := 0
	if want >= 20 {
		for _, s := range scenarios {
			minimum += len(s.steps)
		}
	}
	capacity := make([]int, len(files))
	for i, f := range files {
		capacity[i] = f.events / 4
	}

	var planted []Planted
	for k := 0; len(planted) < max(want, minimum); k++ {
		s := scenarios[k%len(scenarios)]
		f := chooseFile(r, files, capacity, s)
		if f == nil {
			if k > 4*len(scenarios) {
				break // the corpus is too small for more
			}
			continue
		}
		x := newAttack(r, est, s, f.account)
		capacity[f.index] -= len(s.steps)
		for i := range s.steps {
			id := newUUID(r)
			f.plants = append(f.plants, &plantedRecord{attack: x, step: i, eventID: id})
			st := &s.steps[i]
			technique := st.technique
			if technique == "" {
				technique = s.technique
			}
			planted = append(planted, Planted{
				EventID:     id,
				EventSource: st.api.source,
				EventName:   st.api.name,
				Technique:   technique,
				Description: s.title + ": " + st.description + " (from " + x.ip + ")",
				File:        f.path,
			})
		}
	}
	return planted
}

func chooseFile(r *rand.Rand, files []*fileSpec, capacity []int, s *scenario) *fileSpec {
	var fits, east []*fileSpec
	for i, f := range files {
		if capacity[i] < len(s.steps) {
			continue
		}
		fits = append(fits, f)
		if f.region == "us-east-1" {
			east = append(east, f)
		}
	}
	if s.global && len(east) > 0 {
		fits = east
	}
	if len(fits) == 0 {
		return nil
	}
	return fits[r.IntN(len(fits))]
}

// Attacker infrastructure: hosting and anonymizer ranges, not the
// organization's.
var attackerNets = []string{"185.220.101.", "45.155.205.", "193.142.146.", "5.188.10.", "103.251.167.", "91.219.236."}

func newAttack(r *rand.Rand, est *estate, s *scenario, a *account) *attack {
	x := &attack{
		scenario: s,
		acct:     a,
		ip:       attackerNets[r.IntN(len(attackerNets))] + strconv.Itoa(2+r.IntN(250)),
		agent:    agent{"aws-cli/2.15.30 Python/3.11.8 Linux/6.6.13-amd64 exe/x86_64.debian.12 prompt/off", tailCLI},
		newUser:  backdoorNames[r.IntN(len(backdoorNames))],
		newKey:   "AKIA" + randomString(r, iamAlphabet, 16),
		external: strconv.Itoa(100000000000 + r.IntN(899999999999)),
		bucket:   a.buckets[r.IntN(len(a.buckets))],
		group:    a.securityGroups[r.IntN(len(a.securityGroups))].id,
		instance: a.instances[r.IntN(len(a.instances))],
		snapshot: a.snapshots[r.IntN(len(a.snapshots))],
	}
	var leaked, people []*persona
	for _, p := range a.personas {
		switch {
		case p.user && p.kind == callerCI:
			leaked = append(leaked, p)
		case p.user && p.kind == callerHuman:
			people = append(people, p)
		}
	}
	x.leaked = leaked[r.IntN(len(leaked))]
	x.person = people[r.IntN(len(people))]
	x.session = a.personas[0] // the administrators' IAM Identity Center role
	x.sessionIndex = r.IntN(len(x.session.sessions))
	for _, p := range a.personas {
		if p.kind == callerInstance && !p.user && len(p.sessions) > 0 {
			x.instanceRole, x.instanceSess = p, r.IntN(len(p.sessions))
			break
		}
	}
	if x.instanceRole == nil {
		x.instanceRole, x.instanceSess = x.session, x.sessionIndex // an estate without instances
	}
	return x
}

var backdoorNames = []string{"backup-svc", "aws-support-tmp", "devops2", "s3-replication", "monitoring-agent", "terraform-ci"}
