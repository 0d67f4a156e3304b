package integrity

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options tune Verify.
type Options struct {
	Keys       KeySet     // CloudTrail public keys by fingerprint
	Signatures Signatures // digest signatures from S3 metadata (signatures.json)
	Workers    int        // files read in parallel; < 1 means GOMAXPROCS

	// GapTolerance is how much of a break between one digest's end and the
	// next one's start is not a gap; 0 means DefaultGapTolerance.
	GapTolerance time.Duration
	// DeliveryDelay is how long after the time in its name a log file may be
	// delivered, and so listed in a later digest: log files named within it
	// of the newest digest's end are not called unlisted. 0 means
	// DefaultDeliveryDelay.
	DeliveryDelay time.Duration
}

// Defaults of Options. CloudTrail's digests follow each other without a
// break (one ends when the next starts), and it delivers log files within
// about 15 minutes.
const (
	DefaultGapTolerance  = 5 * time.Minute
	DefaultDeliveryDelay = 15 * time.Minute
)

// Problem is one thing found wrong: a file modified, missing or unlisted, a
// signature that fails, a gap. Report.Findings turns problems into findings.
type Problem struct {
	Rule    string // one of the Rule* ids
	Account string
	Region  string
	Trail   string   // the trail's name, from the digest file name; empty for unlisted log files
	Files   []string // local paths; s3://bucket/key for files that are not in the copy
	// Start and End bound the period the problem concerns: the events of a
	// log file, the hour of a digest, the hours of a gap.
	Start, End time.Time
	Detail     string // for a person: what was expected and what was found
}

// Report is what Verify found.
type Report struct {
	Problems []Problem
	// Notes are worth saying but are no problem, such as a chain that begins
	// before the copy does.
	Notes      []string
	Unreadable []error // files that could not be read: their checks are missing

	Digests         int // digest files read
	SignaturesValid int // digests whose signature verified
	LogsListed      int // log files the digests list
	LogsValid       int // listed log files present with the recorded SHA-256
	LogsLocal       int // log files in the copy
	Duration        time.Duration
}

// entry is one digest file of the copy during verification.
type entry struct {
	File
	*StoredDigest // nil when the file is not a valid digest
	name          DigestName
	named         bool

	sig, sigFrom string // its signature as its successor (or the signatures file) gives it, and which
	// metaSig and metaAlg are its own signature and algorithm from its S3
	// object's user metadata (x-amz-meta-signature,
	// x-amz-meta-signature-algorithm), when read from S3.
	metaSig, metaAlg string
	modified         bool // its successor recorded another hash
	missingPrev      bool // it names a predecessor the copy lacks
}

func (e *entry) trail() string { return e.name.Trail }

// chain is the digests of one trail in one account and region, the unit the
// chain and gap checks work on.
type chain struct {
	scope
	trail, home string
}

func (e *entry) chain() chain { return chain{e.scope(), e.name.Trail, e.name.HomeRegion} }

// Verify checks a local copy of a trail: every digest's place, signature and
// link to its predecessor, the hours they cover, and every log file's SHA-256
// against the digest that lists it. Files it cannot read are in
// Report.Unreadable; the error is only for a cancelled context.
func Verify(ctx context.Context, inv *Inventory, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Workers < 1 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.GapTolerance <= 0 {
		opts.GapTolerance = DefaultGapTolerance
	}
	if opts.DeliveryDelay <= 0 {
		opts.DeliveryDelay = DefaultDeliveryDelay
	}
	v := &verifier{opts: opts, rep: &Report{}}
	entries := v.readDigests(ctx, inv.Digests)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	byKey, invalid := v.place(entries)
	byChain := chains(entries)
	v.link(entries, byChain, byKey, invalid)
	v.checkSignatures(entries, byChain)
	v.findGaps(byChain)
	if err := v.checkLogs(ctx, entries, inv.Logs); err != nil {
		return nil, err
	}
	slices.SortStableFunc(v.rep.Problems, func(a, b Problem) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Rule, b.Rule), slices.Compare(a.Files, b.Files))
	})
	v.rep.Duration = time.Since(start)
	return v.rep, nil
}

type verifier struct {
	opts Options
	rep  *Report
	mu   sync.Mutex // guards rep while files are read in parallel
}

func (v *verifier) problem(p Problem) {
	v.mu.Lock()
	v.rep.Problems = append(v.rep.Problems, p)
	v.mu.Unlock()
}

func (v *verifier) unreadable(err error) {
	v.mu.Lock()
	v.rep.Unreadable = append(v.rep.Unreadable, err)
	v.mu.Unlock()
}

// readDigests reads and parses every digest file, in parallel. A file that
// is not a valid digest is a problem (CloudTrail writes none); one that
// cannot be read is unreadable.
func (v *verifier) readDigests(ctx context.Context, files []File) []*entry {
	entries := make([]*entry, len(files))
	forEach(ctx, len(files), v.opts.Workers, func(i int) {
		f := files[i]
		e := &entry{File: f}
		e.name, e.named = ParseDigestName(f.Name)
		entries[i] = e
		data, meta, err := readStored(f)
		if err != nil {
			v.unreadable(fmt.Errorf("digest %s: %w", f.Path, err))
			return
		}
		e.metaSig, e.metaAlg = strings.ToLower(strings.TrimSpace(meta["signature"])), meta["signature-algorithm"]
		sd, err := ReadDigest(f.Path, data)
		if err != nil {
			v.problem(Problem{Rule: RuleDigestInvalid, Account: f.Account, Region: f.Region, Trail: e.trail(),
				Files: []string{f.Path}, Start: e.name.End, End: e.name.End, Detail: err.Error()})
			return
		}
		e.StoredDigest = sd
	})
	v.rep.Digests = len(files)
	return entries
}

// place checks that each digest is where it says it belongs, and indexes the
// valid ones by key. invalid holds the keys of digest files present but not
// usable, so that their successors do not call them missing.
func (v *verifier) place(entries []*entry) (byKey map[string]*entry, invalid map[string]bool) {
	byKey = make(map[string]*entry, len(entries))
	invalid = make(map[string]bool)
	for _, e := range entries {
		if e.StoredDigest == nil {
			invalid[e.Key] = true
			continue
		}
		if said := objectKey(e.S3Object); said != e.Key {
			v.problem(Problem{Rule: RuleDigestInvalid, Account: e.Account, Region: e.Region, Trail: e.trail(),
				Files: []string{e.Path}, Start: e.Start, End: e.End,
				Detail: fmt.Sprintf("the digest says it is s3://%s/%s, but it is stored as %s", e.S3Bucket, e.S3Object, e.Key)})
			e.StoredDigest = nil
			invalid[e.Key] = true
			continue
		}
		byKey[e.Key] = e
	}
	return byKey, invalid
}

// link follows each digest to its predecessor: the predecessor's stored bytes
// must have the SHA-256 the digest recorded, and the signature the digest
// carries for it is the one to check. A predecessor the copy lacks is a
// deleted digest, unless the digest is the oldest of its chain in the copy:
// then the copy merely begins mid-chain.
func (v *verifier) link(entries []*entry, byChain map[chain][]*entry, byKey map[string]*entry, invalid map[string]bool) {
	for _, e := range entries {
		if e.StoredDigest == nil || e.IsStart() {
			continue
		}
		prevKey := objectKey(e.PreviousS3Object)
		p := byKey[prevKey]
		switch {
		case p == nil && invalid[prevKey]:
			e.missingPrev = true // reported as invalid already
		case p == nil && isOldest(byChain, e):
			v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s is the oldest digest of its chain in the copy: its predecessor %s is not in the copy, so verification starts here", e.Path, prevKey))
		case p == nil:
			e.missingPrev = true
			when := e.Start
			if n, ok := ParseDigestName(path.Base(prevKey)); ok {
				when = n.End
			}
			v.problem(Problem{Rule: RuleDigestMissing, Account: e.Account, Region: e.Region, Trail: e.trail(),
				Files: []string{"s3://" + e.PreviousS3Bucket + "/" + e.PreviousS3Object}, Start: when, End: when,
				Detail: "named as the previous digest by " + e.Path})
		case !strings.EqualFold(p.StoredSHA256, e.PreviousHashValue):
			p.modified = true
			detail := fmt.Sprintf("its SHA-256 is %s, but %s recorded %s", p.StoredSHA256, e.Path, e.PreviousHashValue)
			if !p.Gzipped {
				detail += " (this copy is not gzip-compressed: a decompressed copy cannot match)"
			}
			v.problem(Problem{Rule: RuleDigestModified, Account: p.Account, Region: p.Region, Trail: p.trail(),
				Files: []string{p.Path}, Start: p.Start, End: p.End, Detail: detail})
		default:
			p.sig, p.sigFrom = strings.ToLower(e.PreviousSignature), "the next digest, "+e.Path
		}
	}
}

// isOldest reports whether e is the first digest file of its chain.
func isOldest(byChain map[chain][]*entry, e *entry) bool {
	ds := byChain[e.chain()]
	return len(ds) > 0 && ds[0] == e
}

// chains groups the digest files of the copy, valid or not, by chain, each
// in the order of the times in their names. Backfill digests, and files whose
// names are not digest names, are in none.
func chains(entries []*entry) map[chain][]*entry {
	m := make(map[chain][]*entry)
	for _, e := range entries {
		if e.named && !e.name.Backfill {
			m[e.chain()] = append(m[e.chain()], e)
		}
	}
	for _, ds := range m {
		slices.SortFunc(ds, func(a, b *entry) int { return a.name.End.Compare(b.name.End) })
	}
	return m
}

// checkSignatures verifies each digest's signature with the key its
// fingerprint names. The signature comes from the next digest or, for the
// newest, from the signatures file.
func (v *verifier) checkSignatures(entries []*entry, byChain map[chain][]*entry) {
	next := make(map[*entry]*entry) // the next digest file of the same chain
	for _, ds := range byChain {
		for i := 1; i < len(ds); i++ {
			next[ds[i-1]] = ds[i]
		}
	}
	for _, e := range entries {
		if e.StoredDigest == nil || e.modified {
			continue // a modified digest cannot verify; that problem is reported
		}
		p := Problem{Account: e.Account, Region: e.Region, Trail: e.trail(), Files: []string{e.Path}, Start: e.Start, End: e.End}
		sigs := v.signatures(e, p)
		if len(sigs) == 0 {
			p.Rule = RuleSignatureUnchecked
			n := next[e]
			switch {
			case e.inS3():
				p.Detail = "its S3 object has no signature in its metadata (x-amz-meta-signature), as CloudTrail writes, and no later digest carries it"
			case e.named && !e.name.Backfill && n == nil:
				p.Detail = "the newest digest of its chain: its signature is only in S3 object metadata (x-amz-meta-signature); give it in signatures.json or with --signatures, under the key " + e.Key
			case n != nil && n.StoredDigest != nil && n.IsStart():
				p.Detail = "the last digest before its chain starts anew (logging or validation was off): its signature is only in S3 object metadata; give it in signatures.json under the key " + e.Key
			case e.name.Backfill:
				p.Detail = "a backfill digest: its signature is only in S3 object metadata; give it in signatures.json under the key " + e.Key
			default:
				p.Detail = "no later digest in the copy carries its signature (the next one is missing or altered), and the signatures file has none for " + e.Key
			}
			v.problem(p)
			continue
		}
		key, ok := v.opts.Keys[strings.ToLower(e.PublicKeyFingerprint)]
		if !ok {
			p.Rule = RuleKeyUnknown
			p.Detail = fmt.Sprintf("signed with the key of fingerprint %s; the keys given are %s", e.PublicKeyFingerprint, v.keyList())
			v.problem(p)
			continue
		}
		valid := true
		for _, sig := range sigs {
			if err := VerifySignature(key.Key, e.StoredDigest, sig.sig); err != nil {
				p.Rule = RuleSignatureInvalid
				p.Detail = fmt.Sprintf("%v with the key of fingerprint %s (%s); the signature came from %s", err, key.Fingerprint, key.Source, sig.from)
				v.problem(p)
				valid = false
			}
		}
		if valid {
			v.rep.SignaturesValid++
		}
	}
}

// signedBy is a digest's signature and where it was found.
type signedBy struct{ sig, from string }

// signatures gathers what is known of a digest's signature: its S3
// metadata, and the copy its successor carries (or the signatures file's,
// when neither is there). They should be one and the same; each different
// one is checked, so a forged metadata signature is caught even when the
// successor vouches for the digest. A metadata signature with an algorithm
// other than SHA256withRSA is a problem of its own.
func (v *verifier) signatures(e *entry, p Problem) []signedBy {
	var sigs []signedBy
	if e.metaSig != "" {
		if e.metaAlg != "" && e.metaAlg != SignatureAlgorithm {
			p.Rule = RuleSignatureInvalid
			p.Detail = fmt.Sprintf("its S3 object metadata says x-amz-meta-signature-algorithm %q: only %s is known", e.metaAlg, SignatureAlgorithm)
			v.problem(p)
		} else {
			sigs = append(sigs, signedBy{e.metaSig, "its S3 object metadata (x-amz-meta-signature)"})
		}
	}
	if e.sig == "" && len(sigs) == 0 {
		if sig, ok := v.opts.Signatures[e.Key]; ok {
			e.sig, e.sigFrom = sig, "the signatures file"
		}
	}
	if e.sig != "" {
		if len(sigs) > 0 && strings.EqualFold(sigs[0].sig, e.sig) {
			sigs[0].from += " and " + e.sigFrom
		} else {
			sigs = append(sigs, signedBy{e.sig, e.sigFrom})
		}
	}
	return sigs
}

func (v *verifier) keyList() string {
	if len(v.opts.Keys) == 0 {
		return "none"
	}
	fps := make([]string, 0, len(v.opts.Keys))
	for fp := range v.opts.Keys {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	return strings.Join(fps, ", ")
}

// findGaps looks for hours no digest covers, chain by chain. A break that a
// deleted digest (reported as such) explains is not a gap; a longer one is.
func (v *verifier) findGaps(byChain map[chain][]*entry) {
	for _, all := range byChain {
		var ds []*entry // the valid ones
		for _, e := range all {
			if e.StoredDigest != nil {
				ds = append(ds, e)
			}
		}
		if len(ds) == 0 {
			continue
		}
		slices.SortFunc(ds, func(a, b *entry) int { return cmp.Or(a.Start.Compare(b.Start), a.End.Compare(b.End)) })
		spans := make([]time.Duration, len(ds))
		for i, d := range ds {
			spans[i] = d.End.Sub(d.Start)
		}
		slices.Sort(spans)
		typical := spans[len(spans)/2] // the usual length of one digest's period
		for i := 1; i < len(ds); i++ {
			a, b := ds[i-1], ds[i]
			hole := b.Start.Sub(a.End)
			if hole <= v.opts.GapTolerance || b.missingPrev && hole <= typical+v.opts.GapTolerance {
				continue
			}
			detail := fmt.Sprintf("no digest from %s to %s (%s), between %s and %s", a.EndTime, b.StartTime, hole, a.Path, b.Path)
			switch {
			case b.IsStart():
				detail += "; the chain starts anew after it: logging or log file validation was off"
			case b.missingPrev:
				detail += "; more is missing than the one deleted digest"
			}
			v.problem(Problem{Rule: RuleGap, Account: b.Account, Region: b.Region, Trail: b.trail(),
				Files: []string{a.Path, b.Path}, Start: a.End, End: b.Start, Detail: detail})
		}
	}
}

// listing is a log file as one digest lists it.
type listing struct {
	digest *entry
	log    LogFile
}

// checkLogs checks the log files: each one listed must be in the copy with
// the SHA-256 recorded; each one in the copy, within the period the digests
// of its account and region cover, must be listed.
func (v *verifier) checkLogs(ctx context.Context, entries []*entry, logs []File) error {
	listed := make(map[string][]listing)
	for _, e := range entries {
		if e.StoredDigest == nil {
			continue
		}
		for _, lf := range e.LogFiles {
			k := objectKey(lf.S3Object)
			listed[k] = append(listed[k], listing{e, lf})
			v.rep.LogsListed++
		}
	}
	covered := coverage(entries)
	local := make(map[string]File, len(logs))
	for _, f := range logs {
		local[f.Key] = f
	}
	v.rep.LogsLocal = len(local)

	var toHash []File
	for k, ls := range listed {
		if f, ok := local[k]; ok {
			toHash = append(toHash, f)
			continue
		}
		for _, l := range ls {
			start, end := logPeriod(l)
			v.problem(Problem{Rule: RuleLogMissing, Account: l.digest.Account, Region: l.digest.Region, Trail: l.digest.trail(),
				Files: []string{"s3://" + l.log.S3Bucket + "/" + l.log.S3Object}, Start: start, End: end,
				Detail: "listed by " + l.digest.Path})
		}
	}
	forEach(ctx, len(toHash), v.opts.Workers, func(i int) {
		f := toHash[i]
		sum, gzipped, err := hashStored(f)
		if err != nil {
			v.unreadable(fmt.Errorf("log file %s: %w", f.Path, err))
			return
		}
		valid := true
		for _, l := range listed[f.Key] {
			if strings.EqualFold(sum, l.log.HashValue) {
				continue
			}
			valid = false
			detail := fmt.Sprintf("its SHA-256 is %s, but %s recorded %s", sum, l.digest.Path, l.log.HashValue)
			if !gzipped {
				detail += " (this copy is not gzip-compressed: a decompressed copy cannot match)"
			}
			start, end := logPeriod(l)
			v.problem(Problem{Rule: RuleLogModified, Account: f.Account, Region: f.Region, Trail: l.digest.trail(),
				Files: []string{f.Path}, Start: start, End: end, Detail: detail})
		}
		if valid {
			v.mu.Lock()
			v.rep.LogsValid++
			v.mu.Unlock()
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}

	for k, f := range local {
		if _, ok := listed[k]; ok {
			continue
		}
		c, ok := covered[f.scope()]
		if !ok {
			continue // no digest of this account and region: nothing to hold it to
		}
		t, named := logNameTime(f.Name)
		if named && (t.Before(c[0]) || !t.Before(c[1].Add(-v.opts.DeliveryDelay))) {
			continue // outside the period the digests in the copy cover
		}
		detail := fmt.Sprintf("no digest lists it, and the digests of %s/%s cover %s to %s",
			f.Account, f.Region, c[0].Format(time.RFC3339), c[1].Format(time.RFC3339))
		if !named {
			detail += "; its name is not a CloudTrail log file name"
		}
		v.problem(Problem{Rule: RuleLogUnlisted, Account: f.Account, Region: f.Region,
			Files: []string{f.Path}, Start: t, End: t, Detail: detail})
	}
	return nil
}

// coverage is, for each account and region, the period from the earliest
// digest's start to the latest one's end. A digest file that is not valid
// still shows that the copy reaches the time in its name.
func coverage(entries []*entry) map[scope][2]time.Time {
	covered := make(map[scope][2]time.Time)
	for _, e := range entries {
		if e.StoredDigest == nil {
			continue
		}
		c, ok := covered[e.scope()]
		if !ok || e.Start.Before(c[0]) {
			c[0] = e.Start
		}
		if !ok || e.End.After(c[1]) {
			c[1] = e.End
		}
		covered[e.scope()] = c
	}
	for _, e := range entries {
		if c, ok := covered[e.scope()]; ok && e.StoredDigest == nil && e.named && e.name.End.After(c[1]) {
			c[1] = e.name.End
			covered[e.scope()] = c
		}
	}
	return covered
}

// logPeriod is the span of a listed log file's events, or its digest's
// period when the digest does not say.
func logPeriod(l listing) (time.Time, time.Time) {
	start, err1 := time.Parse(time.RFC3339, l.log.OldestEventTime)
	end, err2 := time.Parse(time.RFC3339, l.log.NewestEventTime)
	if err1 != nil || err2 != nil {
		return l.digest.Start, l.digest.End
	}
	return start.UTC(), end.UTC()
}

// readStored reads a file's stored bytes, with its S3 user metadata.
func readStored(file File) ([]byte, map[string]string, error) {
	r, meta, err := file.open()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return data, meta, err
}

// hashStored returns the hex SHA-256 of a file's stored bytes (for S3, the
// object's bytes as CloudTrail delivered them, gzip) and whether they are
// gzip.
func hashStored(file File) (sum string, gzipped bool, err error) {
	f, _, err := file.open()
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	h := sha256.New()
	var head [2]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", false, err
	}
	h.Write(head[:n])
	if _, err := io.Copy(h, f); err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), n == 2 && head[0] == 0x1f && head[1] == 0x8b, nil
}

// pathless drops the path from an *fs.PathError, for messages that name the
// file already.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// forEach calls fn(i) for i in [0, n) on up to workers goroutines, and stops
// handing out work when ctx is done.
func forEach(ctx context.Context, n, workers int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
