package sqstest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Client returns a real aws-sdk-go-v2 SQS client for the server: static
// credentials, region us-east-1, BaseEndpoint pointed at the server, and
// nothing read from the environment or ~/.aws. The SDK speaks JSON 1.0.
// ctx is not used today; it is there so that a later change to load more
// configuration (which takes a context) keeps this signature.
func (s *Server) Client(ctx context.Context) *sqs.Client {
	_ = ctx
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "sqstest"}, nil
		}),
	})
}

// AWSCLIPath is the awscli that AWSCLI runs: $TRAILSENTRY_TEST_AWSCLI (set
// by .ci/run), else Debian's /usr/bin/aws; "" if neither is there. Debian's
// awscli 2.9 speaks the query protocol to SQS, so it exercises the other
// half of the server. (An awscli found elsewhere on PATH is not used: it may
// be another version with other behaviour.)
func AWSCLIPath() string {
	for _, p := range []string{os.Getenv("TRAILSENTRY_TEST_AWSCLI"), "/usr/bin/aws"} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// AWSCLI runs awscli against the server with args (for example "sqs",
// "create-queue", "--queue-name", "q") and returns its standard output; the
// test fails if it exits non-zero. Output is JSON (--output json). See
// RunAWSCLI for how it is run and when the test is skipped.
func (s *Server) AWSCLI(t testing.TB, args ...string) []byte {
	t.Helper()
	out, stderr, err := s.RunAWSCLI(t, args...)
	if err != nil {
		t.Fatalf("aws %v: %v\nstderr: %s", args, err, stderr)
	}
	return out
}

// RunAWSCLI runs awscli like AWSCLI and returns its standard output and
// error and its exit error, for tests that expect it to fail. It skips the
// test when no awscli is installed, unless CI is set: then it fails it.
//
// awscli sees --endpoint-url pointing at the server, static credentials in
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, and
// AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE and HOME in an empty
// temporary folder, so no real configuration or credentials are read; its
// environment holds nothing else but PATH.
func (s *Server) RunAWSCLI(t testing.TB, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	bin := AWSCLIPath()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("awscli not found ($TRAILSENTRY_TEST_AWSCLI or /usr/bin/aws) and CI is set: .ci/run installs it")
		}
		t.Skip("awscli not found ($TRAILSENTRY_TEST_AWSCLI or /usr/bin/aws)")
	}
	home := t.TempDir()
	config := filepath.Join(home, "config")
	creds := filepath.Join(home, "credentials")
	for _, f := range []string{config, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, append([]string{"--endpoint-url", s.URL(), "--output", "json", "--no-cli-pager"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"LC_ALL=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_CONFIG_FILE=" + config,
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %s: %v", bin, err)
	}
	return out.Bytes(), errOut.Bytes(), err
}
