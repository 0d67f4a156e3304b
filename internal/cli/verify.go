package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/integrity"
)

const verifySynopsis = `Usage: trailsentry verify [--public-key FILE] [flags] PATH...

Proves that a CloudTrail trail — in S3 (s3://bucket/prefix) or a local copy
as "aws s3 sync" leaves it (AWSLogs/<account>/CloudTrail/ and
CloudTrail-Digest/) — was not altered, deleted or cut off: every digest's
signature and link to the previous one, every listed log file's SHA-256, log
files no digest lists, and hours without a digest. Problems are findings.

Keys: --public-key files; without any, CloudTrail's ListPublicKeys is asked
for the keys of the digests' regions and period (also with --fetch-keys).
A digest's own signature is in its S3 object metadata, read when verifying
from S3; for a local copy, give the newest digest's in a signatures.json
beside AWSLogs/ or with --signatures. See docs/verify.md.`

type verifyOptions struct {
	publicKeys listFlag
	fetchKeys  bool
	pathStyle  bool
	signatures string
	format     string
	failOn     string
	workers    int
	color      string
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o verifyOptions
	fs := newFlagSet("verify", stderr, verifySynopsis)
	fs.Var(&o.publicKeys, "public-key", "CloudTrail public key `FILE`: PEM, or the JSON output of aws cloudtrail list-public-keys (repeatable: keys of every region and period)")
	fs.BoolVar(&o.fetchKeys, "fetch-keys", false, "also fetch CloudTrail's public keys with ListPublicKeys (the default when no --public-key is given)")
	fs.BoolVar(&o.pathStyle, "s3-path-style", false, "address S3 buckets path-style (http://host/bucket/key), for S3-compatible servers given with AWS_ENDPOINT_URL_S3")
	fs.StringVar(&o.signatures, "signatures", "", "JSON `FILE` of digest key to hex signature (x-amz-meta-signature), for the newest digests (default: signatures.json in PATH, or beside it)")
	fs.StringVar(&o.format, "format", "", "output: table, json, jsonl or ocsf (default table on a terminal, json otherwise)")
	fs.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a finding is at or above: info, low, medium, high, critical, or none")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files read in parallel")
	fs.StringVar(&o.color, "color", "auto", "colour in the table: auto, always, never")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(paths) == 0 {
		fs.Usage()
		return usageError(stderr, errors.New("verify needs a PATH: the trail in S3 (s3://bucket/prefix) or a local copy"))
	}
	if err := ingest.CheckPaths(paths); err != nil {
		return usageError(stderr, err)
	}
	keys := integrity.KeySet{}
	for _, p := range o.publicKeys {
		ks, err := integrity.LoadPublicKeys(p)
		if err != nil {
			return usageError(stderr, fmt.Errorf("--public-key: %w", err))
		}
		keys.Add(ks...)
	}
	threshold, err := finding.ParseThreshold(o.failOn)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--fail-on: %w", err))
	}
	write, err := findingWriter(o.format, stdout)
	if err != nil {
		return usageError(stderr, err)
	}
	if o.workers < 1 {
		return usageError(stderr, errors.New("--workers must be at least 1"))
	}

	con := newConsole(stderr, isTerminal(stderr))
	s3src, err := newS3Source(ctx, paths, o.pathStyle, ingest.Selection{})
	if err != nil {
		return usageError(stderr, err)
	}
	inv, err := integrity.CollectFrom(ctx, paths, s3src)
	if err != nil {
		return usageError(stderr, err)
	}
	for _, err := range inv.Unreadable {
		con.warn(err.Error())
	}
	sigs, err := loadSignatures(o.signatures, inv.Signatures)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(inv.Digests) == 0 {
		return usageError(stderr, fmt.Errorf("no CloudTrail digest files under %s: is log file validation on for the trail, and was AWSLogs/<account>/CloudTrail-Digest/ copied?", strings.Join(paths, ", ")))
	}
	if o.fetchKeys || len(o.publicKeys) == 0 {
		fetched, err := fetchKeys(ctx, con, inv)
		if err != nil {
			return usageError(stderr, err)
		}
		keys.Add(fetched...)
	}

	rep, err := integrity.Verify(ctx, inv, integrity.Options{Keys: keys, Signatures: sigs, Workers: o.workers})
	if err != nil {
		return usageError(stderr, err)
	}
	for _, n := range rep.Notes {
		con.info(n)
	}
	reportProblems(con, rep.Problems)
	for _, err := range rep.Unreadable {
		con.warn(err.Error())
	}

	findings := rep.Findings()
	sum := &finding.Summary{FilesScanned: rep.Digests + rep.LogsLocal, RulesLoaded: len(integrity.Rules())}
	if inv.Other > 0 {
		sum.FilesSkipped = map[string]int{"not_digest_or_log": inv.Other}
	}
	sum.Finish(findings, rep.Duration)
	color := o.color == "always" || (o.color == "auto" && isTerminal(stdout) && os.Getenv("NO_COLOR") == "")
	opts := finding.Options{Width: terminalWidth(stdout, finding.DefaultWidth), Color: color, Version: Version}
	written := sum
	if o.format == "table" {
		written = nil // its totals line speaks of events and rules; the console summary below fits verification
	}
	if err := write(stdout, findings, written, opts); err != nil {
		fmt.Fprintf(stderr, "trailsentry: write findings: %v\n", err)
		return ExitUsage
	}
	printVerifySummary(con, rep, sum)

	switch {
	case ctx.Err() != nil:
		return ExitUsage
	case len(inv.Unreadable)+len(rep.Unreadable) > 0:
		return ExitUsage
	case finding.CountAtOrAbove(findings, threshold) > 0:
		return ExitFindings
	}
	return ExitOK
}

// fetchKeys gets CloudTrail's public keys for the digests' regions and
// period with ListPublicKeys, saying so: verify calls AWS for keys only when
// no key file was given, or when asked with --fetch-keys.
func fetchKeys(ctx context.Context, con *console, inv *integrity.Inventory) ([]integrity.PublicKey, error) {
	regions, start, end := inv.DigestPeriod()
	con.info("fetching CloudTrail's public keys with ListPublicKeys", "regions", strings.Join(regions, ","),
		"from", start.Format(time.RFC3339), "to", end.Format(time.RFC3339))
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration, to fetch CloudTrail's public keys: %w (or give them with --public-key, see docs/verify.md)", err)
	}
	keys, err := integrity.FetchPublicKeys(ctx, cfg, regions, start, end)
	if err != nil {
		return nil, fmt.Errorf("%w (or give the keys with --public-key, see docs/verify.md)", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("ListPublicKeys returned no key for %s from %s to %s", strings.Join(regions, ", "), start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return keys, nil
}

// loadSignatures merges the signatures files found in the trail with the
// one given by --signatures, which wins.
func loadSignatures(given string, found []string) (integrity.Signatures, error) {
	sigs := integrity.Signatures{}
	for _, p := range found {
		s, err := integrity.LoadSignatures(p)
		if err != nil {
			return nil, err
		}
		sigs.Add(s)
	}
	if given != "" {
		s, err := integrity.LoadSignatures(given)
		if err != nil {
			return nil, fmt.Errorf("--signatures: %w", err)
		}
		sigs.Add(s)
	}
	return sigs, nil
}

// reportProblems names each problem on the console, with the detail a
// finding has no room for (which hash was expected, which digest said so).
func reportProblems(con *console, problems []integrity.Problem) {
	titles := map[string]string{}
	levels := map[string]string{}
	for _, r := range integrity.Rules() {
		titles[r.ID], levels[r.ID] = r.Title, r.Level
	}
	for _, p := range problems {
		args := []any{"file", strings.Join(p.Files, " "), "detail", p.Detail}
		if levels[p.Rule] == "informational" {
			con.info(titles[p.Rule], args...)
		} else {
			con.warn(titles[p.Rule], args...)
		}
	}
}

// printVerifySummary ends the run on stderr, like scan's summary.
func printVerifySummary(con *console, rep *integrity.Report, s *finding.Summary) {
	sev := s.FindingsBySeverity
	if !con.tty {
		con.info("summary", "digests", rep.Digests, "signatures_verified", rep.SignaturesValid,
			"logs_listed", rep.LogsListed, "logs_verified", rep.LogsValid, "logs_local", rep.LogsLocal,
			"seconds", fmt.Sprintf("%.3f", rep.Duration.Seconds()),
			"critical", sev.Critical, "high", sev.High, "medium", sev.Medium, "low", sev.Low, "info", sev.Info)
		return
	}
	con.info(fmt.Sprintf("Verified %s digests (%s signatures) and %s of %s listed log files (%s in the copy) in %s.",
		group(int64(rep.Digests)), group(int64(rep.SignaturesValid)), group(int64(rep.LogsValid)),
		group(int64(rep.LogsListed)), group(int64(rep.LogsLocal)), rep.Duration.Round(time.Millisecond)))
	con.info(fmt.Sprintf("Findings: %d critical, %d high, %d medium, %d low, %d info.",
		sev.Critical, sev.High, sev.Medium, sev.Low, sev.Info))
}
