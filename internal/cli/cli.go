// Package cli holds trailsentry's subcommands, their flags and exit codes.
// main calls Run and nothing else, so every command runs in-process in tests.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Exit codes, documented in README.md.
const (
	ExitOK       = 0 // no finding at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitUsage    = 2 // bad usage, or input that could not be read
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

const usage = `trailsentry reads AWS CloudTrail and reports what attackers do.

Usage:
  trailsentry scan [flags] PATH...     scan files, folders (the S3 layout) or - for stdin
  trailsentry rules list|show|test|stats  list the rules, show one, run their examples, measure their volume
  trailsentry watch --state DSN --sqs-queue URL...  watch CloudTrail as it is delivered, alert through the sinks of --config
  trailsentry lambda                   the watch pipeline as an AWS Lambda function (configured by the environment)
  trailsentry findings --state DSN     list every finding a state holds, profile findings derived anew
  trailsentry verify [flags] PATH      prove a trail's log files were not altered, deleted or cut off
  trailsentry policy explain|suggest|generate|diff|analyze  least privilege from CloudTrail and IAM policies
  trailsentry corpus [flags]           generate a realistic CloudTrail corpus for trials and benchmarks
  trailsentry version                  print the version

Run "trailsentry COMMAND -h" for a command's flags.
Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 bad usage or unreadable input.
`

// Run runs one trailsentry command line and returns its exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
			// Deployed as a Lambda function's bootstrap: run its handler.
			return runLambda(ctx, nil, stdout, stderr)
		}
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "scan":
		return runScan(ctx, rest, stdin, stdout, stderr)
	case "corpus":
		return runCorpus(ctx, rest, stdout, stderr)
	case "rules":
		return runRules(ctx, rest, stdin, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "findings":
		return runFindings(ctx, rest, stdout, stderr)
	case "watch":
		return runWatch(ctx, rest, stdout, stderr)
	case "lambda":
		return runLambda(ctx, rest, stdout, stderr)
	case "policy":
		return runPolicy(ctx, rest, stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "trailsentry %s\n", Version)
		return ExitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "trailsentry: unknown command %q\n\n%s", cmd, usage)
	return ExitUsage
}

// parseFlags parses flags that may come before, between or after the
// positional arguments ("scan ./logs --format json"), and returns the
// positional ones. "--" ends flag parsing.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// usageError prints a usage problem and returns ExitUsage; -h is not one.
func usageError(stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil && !strings.Contains(err.Error(), "flag provided but not defined") {
		fmt.Fprintf(stderr, "trailsentry: %v\n", err)
	}
	return ExitUsage
}

// listFlag is a repeatable flag; each use may also hold a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth is w's width in columns, or def when unknown.
func terminalWidth(w io.Writer, def int) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return def
}
