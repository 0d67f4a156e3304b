package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/trailsentry/trailsentry/internal/corpus"
)

const corpusSynopsis = `Usage: trailsentry corpus --out DIR [flags]

Writes a realistic CloudTrail corpus in the S3 layout (gzip log files under
DIR/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/), with attack events
planted among ordinary traffic and their ground truth in DIR/.ground-truth.json (hidden, so a scan of DIR leaves it out).`

func runCorpus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("corpus", stderr, corpusSynopsis)
	out := fs.String("out", "", "output folder (created if missing)")
	events := fs.Int("events", 10000, "number of events")
	files := fs.Int("files", 20, "number of gzip log files")
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same corpus")
	start := fs.String("start", "2024-03-11T00:00:00Z", "time of the first event (RFC 3339)")
	spanFlag := fs.String("span", "72h", "time the files cover (72h, 30d)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(rest) > 0 {
		return usageError(stderr, fmt.Errorf("corpus takes no arguments, got %q", rest))
	}
	if *out == "" {
		fs.Usage()
		return usageError(stderr, errors.New("corpus needs --out DIR"))
	}
	if *events < 1 || *files < 1 || *files > *events {
		return usageError(stderr, errors.New("need --events >= --files >= 1"))
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--start: %w", err))
	}
	span, err := parseSpan(*spanFlag)
	if err != nil || span <= 0 {
		return usageError(stderr, fmt.Errorf("--span %q: want a positive duration such as 72h or 30d", *spanFlag))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "trailsentry: %v\n", err)
		return ExitUsage
	}
	con := newConsole(stderr, isTerminal(stderr))
	began := time.Now()
	planted, err := corpus.Generate(ctx, corpus.Options{
		Dir: *out, Events: *events, Files: *files, Seed: *seed, Start: t0, Span: span,
	}, nil)
	if err != nil {
		fmt.Fprintf(stderr, "trailsentry: corpus: %v\n", err)
		return ExitUsage
	}
	con.info("corpus written", "dir", *out, "events", *events, "files", *files,
		"planted", len(planted), "seconds", fmt.Sprintf("%.1f", time.Since(began).Seconds()))
	return ExitOK
}
