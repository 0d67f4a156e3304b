package integrity_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/integrity"
	"github.com/trailsentry/trailsentry/internal/integrity/integritytest"
)

// Keys take a moment to generate: one for CloudTrail and one for the
// attacker, shared by every test.
var (
	cloudTrailKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey() })
	attackerKey   = sync.OnceValue(func() *rsa.PrivateKey { return mustKey() })
)

func mustKey() *rsa.PrivateKey {
	k, err := integritytest.NewKey()
	if err != nil {
		panic(err)
	}
	return k
}

// writeTrail writes a trail signed with CloudTrail's key in a fresh folder.
func writeTrail(t *testing.T, o integritytest.Options) *integritytest.Trail {
	t.Helper()
	o.Key = cloudTrailKey()
	tr, err := integritytest.Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// verify runs Collect and Verify on the trail's folder as a user would: the
// public key from its PEM file, the signatures from signatures.json found
// beside AWSLogs/.
func verify(t *testing.T, tr *integritytest.Trail) *integrity.Report {
	t.Helper()
	keys, err := integrity.LoadPublicKeys(tr.PublicKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return verifyWith(t, tr.Dir, keys)
}

func verifyWith(t *testing.T, dir string, keys []integrity.PublicKey) *integrity.Report {
	t.Helper()
	ctx := context.Background()
	inv, err := integrity.Collect(ctx, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	sigs := integrity.Signatures{}
	for _, p := range inv.Signatures {
		s, err := integrity.LoadSignatures(p)
		if err != nil {
			t.Fatal(err)
		}
		sigs.Add(s)
	}
	ks := integrity.KeySet{}
	ks.Add(keys...)
	rep, err := integrity.Verify(ctx, inv, integrity.Options{Keys: ks, Signatures: sigs})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unreadable) > 0 {
		t.Fatalf("unreadable: %v", rep.Unreadable)
	}
	return rep
}

// problems lists the report's problems as "rule file" lines, sorted.
func problems(rep *integrity.Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Rule+" "+strings.Join(p.Files, " "))
	}
	slices.Sort(out)
	return out
}

func wantProblems(t *testing.T, rep *integrity.Report, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := problems(rep); !slices.Equal(got, want) {
		t.Errorf("problems:\n  got  %q\n  want %q", got, want)
		for _, p := range rep.Problems {
			t.Logf("%s: %s", p.Rule, p.Detail)
		}
	}
}

func s3(tr *integritytest.Trail, key string) string { return "s3://trail-bucket/" + key }

func TestVerifyValidChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts integritytest.Options
	}{
		{"account trail", integritytest.Options{}},
		{"organization trail under a prefix", integritytest.Options{Org: "o-a1b2c3d4e5", Prefix: "audit/trails/"}},
		{"hours without activity", integritytest.Options{EmptyHours: []int{0, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := writeTrail(t, tc.opts)
			rep := verify(t, tr)
			wantProblems(t, rep)
			if rep.Digests != 6 || rep.SignaturesValid != 6 {
				t.Errorf("digests %d, signatures verified %d; want 6 and 6", rep.Digests, rep.SignaturesValid)
			}
			if n := tr.LogCount(); rep.LogsListed != n || rep.LogsValid != n || rep.LogsLocal != n || n == 0 {
				t.Errorf("logs listed %d, valid %d, local %d; want %d each", rep.LogsListed, rep.LogsValid, rep.LogsLocal, n)
			}
			if len(rep.Notes) != 0 {
				t.Errorf("notes: %q", rep.Notes)
			}
		})
	}
}

func TestVerifyModifiedLog(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	victim := tr.Digests[2].Logs[1]
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	// Drop a record, the way one hides a call: still valid gzip JSON.
	content := gunzip(t, data)
	edited := bytes.Replace(content, []byte(`"eventName":"`), []byte(`"eventName":"X`), 1)
	if err := os.WriteFile(victim, gz(t, edited), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, tr)
	wantProblems(t, rep, integrity.RuleLogModified+" "+victim)
	if p := rep.Problems[0]; !strings.Contains(p.Detail, tr.Digests[2].Path) || p.Account != "111122223333" || p.Region != "us-east-1" || p.Trail != "management_events" {
		t.Errorf("problem: %+v", p)
	}
}

func TestVerifyDecompressedLogSaysSo(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	victim := tr.Digests[0].Logs[0]
	data, _ := os.ReadFile(victim)
	os.WriteFile(victim, gunzip(t, data), 0o644)
	rep := verify(t, tr)
	wantProblems(t, rep, integrity.RuleLogModified+" "+victim)
	if !strings.Contains(rep.Problems[0].Detail, "not gzip") {
		t.Errorf("detail does not say the copy is decompressed: %s", rep.Problems[0].Detail)
	}
}

func TestVerifyDeletedLog(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{Prefix: "audit/"})
	victim := tr.Digests[4].Logs[0]
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, tr)
	rel, _ := filepath.Rel(tr.Dir, victim)
	wantProblems(t, rep, integrity.RuleLogMissing+" "+s3(tr, "audit/"+filepath.ToSlash(rel)))
}

func TestVerifyDeletedDigest(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	gone := tr.Digests[3]
	if err := os.Remove(gone.Path); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, tr)
	want := []string{
		// The chain break, naming the deleted digest.
		integrity.RuleDigestMissing + " " + s3(tr, gone.Key),
		// Its predecessor's signature was only in the deleted digest.
		integrity.RuleSignatureUnchecked + " " + tr.Digests[2].Path,
	}
	// The log files it listed are now vouched for by no digest.
	for _, l := range gone.Logs {
		want = append(want, integrity.RuleLogUnlisted+" "+l)
	}
	wantProblems(t, rep, want...)
}

func TestVerifyTwoDeletedDigestsAreAGapToo(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{EmptyHours: []int{2, 3}})
	os.Remove(tr.Digests[2].Path)
	os.Remove(tr.Digests[3].Path)
	rep := verify(t, tr)
	wantProblems(t, rep,
		integrity.RuleDigestMissing+" "+s3(tr, tr.Digests[3].Key),
		integrity.RuleSignatureUnchecked+" "+tr.Digests[1].Path,
		integrity.RuleGap+" "+tr.Digests[1].Path+" "+tr.Digests[4].Path,
	)
}

func TestVerifyModifiedDigest(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	hidden := tr.Digests[1].Logs[2]
	// Drop a log file from the digest's list, without CloudTrail's key to sign it.
	if err := tr.Tamper(1, func(d *integritytest.DigestDoc) { d.LogFiles = d.LogFiles[:2] }); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, tr)
	wantProblems(t, rep,
		integrity.RuleDigestModified+" "+tr.Digests[1].Path,
		integrity.RuleLogUnlisted+" "+hidden,
	)
}

func TestVerifyForgedSignatures(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	// The attacker deletes a log file, drops it from its digest and re-signs
	// that digest and every later one with a key of their own, keeping the
	// chain's hashes consistent.
	hidden := tr.Digests[3].Logs[0]
	os.Remove(hidden)
	err := tr.Forge(3, attackerKey(), func(d *integritytest.DigestDoc) { d.LogFiles = d.LogFiles[1:] })
	if err != nil {
		t.Fatal(err)
	}
	rep := verify(t, tr)
	wantProblems(t, rep,
		integrity.RuleSignatureInvalid+" "+tr.Digests[3].Path,
		integrity.RuleSignatureInvalid+" "+tr.Digests[4].Path,
		integrity.RuleSignatureInvalid+" "+tr.Digests[5].Path,
	)
	if rep.SignaturesValid != 3 {
		t.Errorf("signatures verified: %d, want the 3 genuine ones", rep.SignaturesValid)
	}
}

func TestVerifyForgedNewestSignature(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	newest := tr.Newest()
	// A signature that is hex, the right length, and wrong.
	forged := strings.Repeat("ab", len(newest.Signature)/2)
	os.WriteFile(tr.SignaturesFile, []byte(`{"`+newest.Key+`": "`+forged+`"}`), 0o644)
	rep := verify(t, tr)
	wantProblems(t, rep, integrity.RuleSignatureInvalid+" "+newest.Path)
	if !strings.Contains(rep.Problems[0].Detail, "signatures file") {
		t.Errorf("detail does not say where the signature came from: %s", rep.Problems[0].Detail)
	}
}

func TestVerifyGap(t *testing.T) {
	// Logging stopped for hours 2 and 3: no digest, and the chain starts anew.
	tr := writeTrail(t, integritytest.Options{Hours: 7, Skip: []int{2, 3}})
	rep := verify(t, tr)
	before, after := tr.Digests[1], tr.Digests[2]
	wantProblems(t, rep, integrity.RuleGap+" "+before.Path+" "+after.Path)
	p := rep.Problems[0]
	wantStart := time.Date(2024, 5, 1, 2, 1, 31, 0, time.UTC)
	if !p.Start.Equal(wantStart) || !p.End.Equal(wantStart.Add(2*time.Hour)) {
		t.Errorf("gap %s to %s, want %s to %s", p.Start, p.End, wantStart, wantStart.Add(2*time.Hour))
	}
	if !strings.Contains(p.Detail, "starts anew") {
		t.Errorf("detail: %s", p.Detail)
	}
	if rep.SignaturesValid != 5 {
		t.Errorf("signatures verified: %d, want 5 (the end of the first chain from signatures.json)", rep.SignaturesValid)
	}
}

func TestVerifyUnlistedLog(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	planted := filepath.Join(tr.Dir, filepath.FromSlash(tr.LogKey(time.Date(2024, 5, 1, 2, 30, 0, 0, time.UTC), "PLANTEDxxxxxxxxx")))
	// Before the first digest's period: nothing in the copy could list it.
	older := filepath.Join(tr.Dir, filepath.FromSlash(tr.LogKey(time.Date(2024, 4, 30, 23, 55, 0, 0, time.UTC), "OLDERxxxxxxxxxxx")))
	// Named within the delivery delay of the newest digest's end: its digest may come later.
	late := filepath.Join(tr.Dir, filepath.FromSlash(tr.LogKey(time.Date(2024, 5, 1, 5, 55, 0, 0, time.UTC), "LATExxxxxxxxxxxx")))
	for _, p := range []string{planted, older, late} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, gz(t, []byte(`{"Records":[]}`)), 0o644)
	}
	rep := verify(t, tr)
	wantProblems(t, rep, integrity.RuleLogUnlisted+" "+planted)
}

func TestVerifyKeys(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{Hours: 3})
	other := filepath.Join(t.TempDir(), "other.pem")
	if err := integritytest.WritePublicKey(other, &attackerKey().PublicKey); err != nil {
		t.Fatal(err)
	}
	otherKeys, err := integrity.LoadPublicKeys(other)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range tr.Digests {
		want = append(want, integrity.RuleKeyUnknown+" "+d.Path)
	}
	t.Run("wrong key", func(t *testing.T) {
		rep := verifyWith(t, tr.Dir, otherKeys)
		wantProblems(t, rep, want...)
		if !strings.Contains(rep.Problems[0].Detail, integritytest.FingerprintOf(&cloudTrailKey().PublicKey)) {
			t.Errorf("detail does not name the fingerprint wanted: %s", rep.Problems[0].Detail)
		}
	})
	t.Run("no key", func(t *testing.T) {
		wantProblems(t, verifyWith(t, tr.Dir, nil), want...)
	})
}

func TestVerifyNewestWithoutSignatures(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	os.Remove(tr.SignaturesFile)
	rep := verify(t, tr)
	wantProblems(t, rep, integrity.RuleSignatureUnchecked+" "+tr.Newest().Path)
	if !strings.Contains(rep.Problems[0].Detail, "newest") {
		t.Errorf("detail: %s", rep.Problems[0].Detail)
	}
	fs := rep.Findings()
	if len(fs) != 1 || fs[0].Severity.Label != finding.Info {
		t.Fatalf("findings: %+v", fs)
	}
	if finding.CountAtOrAbove(fs, 1.0) != 0 {
		t.Error("an unchecked newest signature must not count as a problem at the default threshold")
	}
}

func TestVerifyMovedDigest(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{Hours: 3})
	// An old digest copied over the newest one's name: genuine, but out of place.
	data, _ := os.ReadFile(tr.Digests[0].Path)
	os.WriteFile(tr.Digests[2].Path, data, 0o644)
	rep := verify(t, tr)
	wantProblems(t, rep,
		integrity.RuleDigestInvalid+" "+tr.Digests[2].Path,
		// The replaced digest carried its predecessor's signature.
		integrity.RuleSignatureUnchecked+" "+tr.Digests[1].Path,
		// It was the only one listing its log files.
		integrity.RuleLogUnlisted+" "+tr.Digests[2].Logs[0],
		integrity.RuleLogUnlisted+" "+tr.Digests[2].Logs[1],
		integrity.RuleLogUnlisted+" "+tr.Digests[2].Logs[2],
	)
}

func TestVerifyCopyStartingMidChain(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	// A copy of the later hours only: the first digest's predecessor was never copied.
	os.Remove(tr.Digests[0].Path)
	for _, l := range tr.Digests[0].Logs {
		os.Remove(l)
	}
	rep := verify(t, tr)
	wantProblems(t, rep)
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], tr.Digests[1].Path) {
		t.Errorf("notes: %q", rep.Notes)
	}
}

func TestFindingsAggregate(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{Hours: 8, Skip: []int{2, 5}})
	for _, d := range tr.Digests[:2] {
		os.Remove(d.Logs[0])
	}
	rep := verify(t, tr)
	fs := rep.Findings()
	byRule := map[string][]*finding.Finding{}
	for _, f := range fs {
		byRule[f.Rule.ID] = append(byRule[f.Rule.ID], f)
		if f.Account != "111122223333" || f.Region != "us-east-1" || f.Rule.Source != integrity.RuleSource || f.EventIDs == nil {
			t.Errorf("finding %s: %+v", f.Rule.ID, f)
		}
	}
	missing := byRule[integrity.RuleLogMissing]
	if len(missing) != 1 || missing[0].Count != 2 || len(missing[0].Files) != 2 || missing[0].Severity.Label != finding.High {
		t.Errorf("missing logs: want one high finding listing 2 files, got %+v", missing)
	}
	if slices.Compare(missing[0].Attack, []string{"T1070"}) != 0 {
		t.Errorf("attack: %v", missing[0].Attack)
	}
	gaps := byRule[integrity.RuleGap]
	if len(gaps) != 2 || gaps[0].ID == gaps[1].ID || gaps[0].Severity.Label != finding.Medium {
		t.Errorf("gaps: want two medium findings, one per gap, got %+v", gaps)
	}
	if len(fs) != 3 {
		t.Errorf("findings: %d, want 3", len(fs))
	}
	// Ids are stable across runs.
	again := verify(t, tr).Findings()
	for i := range fs {
		if fs[i].ID != again[i].ID {
			t.Errorf("finding %d id changed between runs", i)
		}
	}
}

func TestRulesAreDescribed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range integrity.Rules() {
		if seen[r.ID] || !strings.HasPrefix(r.ID, "trailsentry-integrity-") || r.Title == "" || r.Description == "" {
			t.Errorf("rule %+v", r)
		}
		seen[r.ID] = true
		if s := finding.SeverityFor(r.Level); r.Level != strings.ToLower(r.Level) || (s.Score == 5.0 && r.Level != "medium") {
			t.Errorf("rule %s: level %q", r.ID, r.Level)
		}
	}
	for _, id := range []string{integrity.RuleLogModified, integrity.RuleLogMissing, integrity.RuleLogUnlisted,
		integrity.RuleDigestModified, integrity.RuleDigestMissing, integrity.RuleDigestInvalid, integrity.RuleSignatureInvalid,
		integrity.RuleKeyUnknown, integrity.RuleGap, integrity.RuleSignatureUnchecked} {
		if !seen[id] {
			t.Errorf("rule %s has no description", id)
		}
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyBackfillDigest(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{})
	bf, err := tr.Backfill(2)
	if err != nil {
		t.Fatal(err)
	}
	// Listed by the backfill digest, whose signature comes from signatures.json.
	rep := verify(t, tr)
	wantProblems(t, rep)
	if rep.Digests != 7 || rep.SignaturesValid != 7 || rep.LogsValid != tr.LogCount()+1 {
		t.Errorf("digests %d, signatures %d, logs %d", rep.Digests, rep.SignaturesValid, rep.LogsValid)
	}
	// Its log file modified is caught like any other.
	data, _ := os.ReadFile(bf.Logs[0])
	data[20] ^= 1
	os.WriteFile(bf.Logs[0], data, 0o644)
	wantProblems(t, verify(t, tr), integrity.RuleLogModified+" "+bf.Logs[0])
}

func TestVerifyFileGoneMidRunIsUnreadable(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{Hours: 2})
	ctx := context.Background()
	inv, err := integrity.Collect(ctx, []string{tr.Dir})
	if err != nil {
		t.Fatal(err)
	}
	gone := tr.Digests[1].Logs[0]
	os.Remove(gone)
	rep, err := integrity.Verify(ctx, inv, integrity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unreadable) != 1 || !strings.Contains(rep.Unreadable[0].Error(), gone) {
		t.Errorf("unreadable: %v, want %s", rep.Unreadable, gone)
	}
}

func TestVerifyChainEndsWithoutSignatures(t *testing.T) {
	// Two chains (logging stopped in hour 2): without signatures.json, the
	// last digest of each goes unchecked, and each says why.
	tr := writeTrail(t, integritytest.Options{Skip: []int{2}})
	os.Remove(tr.SignaturesFile)
	rep := verify(t, tr)
	wantProblems(t, rep,
		integrity.RuleSignatureUnchecked+" "+tr.Digests[1].Path,
		integrity.RuleSignatureUnchecked+" "+tr.Newest().Path,
		integrity.RuleGap+" "+tr.Digests[1].Path+" "+tr.Digests[2].Path,
	)
	for _, p := range rep.Problems {
		switch {
		case p.Rule != integrity.RuleSignatureUnchecked:
		case p.Files[0] == tr.Digests[1].Path && !strings.Contains(p.Detail, "starts anew"),
			p.Files[0] == tr.Newest().Path && !strings.Contains(p.Detail, "newest"):
			t.Errorf("%s: %s", p.Files[0], p.Detail)
		}
	}
}

func TestVerifyOddDigestNameAndOverlappingPaths(t *testing.T) {
	tr := writeTrail(t, integritytest.Options{Hours: 3})
	// A digest under a name CloudTrail does not use still takes part: it is
	// valid, but out of place, and its successor's predecessor is gone.
	odd := filepath.Join(filepath.Dir(tr.Digests[1].Path), "renamed.json.gz")
	if err := os.Rename(tr.Digests[1].Path, odd); err != nil {
		t.Fatal(err)
	}
	keys, _ := integrity.LoadPublicKeys(tr.PublicKeyFile)
	ctx := context.Background()
	inv, err := integrity.Collect(ctx, []string{tr.Dir, filepath.Join(tr.Dir, "AWSLogs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Digests) != 3 || len(inv.Logs) != 9 {
		t.Fatalf("overlapping paths counted twice: %d digests, %d logs", len(inv.Digests), len(inv.Logs))
	}
	ks := integrity.KeySet{}
	ks.Add(keys...)
	sigs, _ := integrity.LoadSignatures(tr.SignaturesFile)
	rep, err := integrity.Verify(ctx, inv, integrity.Options{Keys: ks, Signatures: sigs})
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep,
		integrity.RuleDigestInvalid+" "+odd,
		integrity.RuleDigestMissing+" "+s3(tr, tr.Digests[1].Key),
		integrity.RuleSignatureUnchecked+" "+tr.Digests[0].Path,
		integrity.RuleLogUnlisted+" "+tr.Digests[1].Logs[0],
		integrity.RuleLogUnlisted+" "+tr.Digests[1].Logs[1],
		integrity.RuleLogUnlisted+" "+tr.Digests[1].Logs[2],
	)
}
