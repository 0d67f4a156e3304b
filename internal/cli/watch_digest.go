package cli

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/integrity"
)

// digestChecker verifies CloudTrail digest files as watch receives them —
// the same checks as `verify`, one digest at a time: its signature (from
// the object's metadata) with the key its fingerprint names, the hash of
// every log file it lists, and its link to the previous digest of its
// chain, kept in the state. Chains whose digests stop coming while they
// were being delivered live raise a finding after the grace period.
type digestChecker struct {
	s3    *ingest.S3
	keys  integrity.KeySet
	fetch bool // ask ListPublicKeys for keys not given
	aws   aws.Config
	grace time.Duration
	now   func() time.Time

	mu   sync.Mutex
	live map[string]*liveChain // chains delivered live, by checkpoint key
}

// liveChain is a chain whose latest digest arrived within two hours of its
// end: one being delivered as it happens, whose silence means something.
type liveChain struct {
	account, region, trail string
	end                    time.Time // the latest digest's end
	reported               time.Time // the missing-digest finding raised for end (zero: none)
}

// chainLink is what the state keeps of a chain's latest digest.
type chainLink struct {
	Key       string    `json:"key"`
	Signature string    `json:"signature"`
	End       time.Time `json:"end"`
}

func chainKey(bucket string, n integrity.DigestName) string {
	return "watch:digest:" + bucket + "/" + n.Account + "/" + n.Region + "/" + n.Trail
}

// check verifies one digest object. It returns the problems found and the
// chain's checkpoint to write with them (nil when the digest is older than
// the one the state holds).
func (c *digestChecker) check(ctx context.Context, st detect.State, obj ingest.Object) ([]integrity.Problem, *detect.Checkpoint, error) {
	bucket, key := splitS3(obj.Name)
	name, ok := integrity.ParseDigestName(path.Base(key))
	if !ok {
		return nil, nil, nil // not a digest file name: nothing to verify
	}
	problem := func(rule, detail string, start, end time.Time, files ...string) integrity.Problem {
		return integrity.Problem{Rule: rule, Account: name.Account, Region: name.Region, Trail: name.Trail,
			Files: append([]string{obj.Name}, files...), Start: start, End: end, Detail: detail}
	}
	rc, meta, err := ingest.OpenStored(obj)
	if err != nil {
		return nil, nil, err
	}
	stored, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", obj.Name, err)
	}
	d, err := integrity.ReadDigest(obj.Name, stored)
	if err != nil {
		return []integrity.Problem{problem(integrity.RuleDigestInvalid, err.Error(), name.End.Add(-time.Hour), name.End)}, nil, nil
	}
	var out []integrity.Problem

	// The signature, from the object's metadata.
	sig := strings.ToLower(strings.TrimSpace(meta["signature"]))
	switch k, known := c.key(ctx, d); {
	case sig == "":
		out = append(out, problem(integrity.RuleSignatureUnchecked, "the digest object has no x-amz-meta-signature", d.Start, d.End))
	case !known:
		out = append(out, problem(integrity.RuleKeyUnknown, "no public key with fingerprint "+d.PublicKeyFingerprint, d.Start, d.End))
	default:
		if err := integrity.VerifySignature(k, d, sig); err != nil {
			out = append(out, problem(integrity.RuleSignatureInvalid, err.Error(), d.Start, d.End))
		}
	}

	// The log files it lists.
	for _, lf := range d.LogFiles {
		logObj := c.s3.Object(ctx, lf.S3Bucket, lf.S3Object)
		sum, err := storedSHA256(logObj)
		switch {
		case ingest.IsNotFound(err):
			out = append(out, problem(integrity.RuleLogMissing, "listed by the digest, not in the bucket", d.Start, d.End, logObj.Name))
		case err != nil:
			return nil, nil, err
		case !strings.EqualFold(sum, lf.HashValue):
			out = append(out, problem(integrity.RuleLogModified, "SHA-256 "+sum+", the digest recorded "+lf.HashValue, d.Start, d.End, logObj.Name))
		}
	}

	// The chain: the previous digest's signature as this one records it.
	ck := chainKey(bucket, name)
	var prev *chainLink
	err = st.View(ctx, func(r detect.Reader) error {
		cps, err := r.Checkpoints(ctx, []string{ck})
		if err == nil && len(cps) == 1 {
			var l chainLink
			if json.Unmarshal([]byte(cps[0].Value), &l) == nil {
				prev = &l
			}
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if prev != nil && d.PreviousS3Object == prev.Key && !strings.EqualFold(d.PreviousSignature, prev.Signature) {
		out = append(out, problem(integrity.RuleDigestModified, "the previous digest "+prev.Key+" was delivered with another signature than this digest records", d.Start, d.End))
	}
	var cp *detect.Checkpoint
	if prev == nil || d.End.After(prev.End) {
		v, _ := json.Marshal(chainLink{Key: key, Signature: sig, End: d.End})
		cp = &detect.Checkpoint{Key: ck, Value: string(v)}
	}
	c.arrived(ck, name, d.End)
	return out, cp, nil
}

// key finds the public key a digest names, asking ListPublicKeys when
// allowed and not known yet.
func (c *digestChecker) key(ctx context.Context, d *integrity.StoredDigest) (k *rsa.PublicKey, known bool) {
	c.mu.Lock()
	pk, ok := c.keys[d.PublicKeyFingerprint]
	c.mu.Unlock()
	if ok {
		return pk.Key, true
	}
	if !c.fetch {
		return nil, false
	}
	region := regionOfDigest(d)
	fetched, err := integrity.FetchPublicKeys(ctx, c.aws, []string{region}, d.Start.Add(-time.Hour), d.End.Add(time.Hour))
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys.Add(fetched...)
	pk, ok = c.keys[d.PublicKeyFingerprint]
	return pk.Key, ok
}

// arrived notes a chain's digest, for the missing-digest check.
func (c *digestChecker) arrived(ck string, n integrity.DigestName, end time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.live[ck]
	if c.now().Sub(end) > 2*time.Hour {
		return // a backfill or a replay: its silence afterwards means nothing
	}
	if l == nil {
		l = &liveChain{account: n.Account, region: n.Region, trail: n.Trail}
		c.live[ck] = l
	}
	if end.After(l.end) {
		l.end = end
	}
}

// missing returns a problem for each live chain whose next digest is more
// than an hour and the grace period late, once per late digest.
func (c *digestChecker) missing() []integrity.Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	keys := make([]string, 0, len(c.live))
	for k := range c.live {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []integrity.Problem
	for _, k := range keys {
		l := c.live[k]
		if now.Sub(l.end) <= time.Hour+c.grace || l.reported.Equal(l.end) {
			continue
		}
		l.reported = l.end
		out = append(out, integrity.Problem{Rule: integrity.RuleDigestMissing, Account: l.account, Region: l.region, Trail: l.trail,
			Start: l.end, End: now, Detail: fmt.Sprintf("no digest since the one ending %s (expected hourly; grace %s)", l.end.Format(time.RFC3339), c.grace)})
	}
	return out
}

// storedSHA256 hashes an object's bytes as stored.
func storedSHA256(obj ingest.Object) (string, error) {
	rc, _, err := ingest.OpenStored(obj)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// splitS3 splits s3://bucket/key.
func splitS3(name string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(name, "s3://"), "/")
	return bucket, key
}

// regionOfDigest is the region a digest's name says it is of.
func regionOfDigest(d *integrity.StoredDigest) string {
	if n, ok := integrity.ParseDigestName(path.Base(d.S3Object)); ok {
		return n.Region
	}
	return "us-east-1"
}
