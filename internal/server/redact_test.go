package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"unicode"
)

// Real-looking secrets (made up, in the formats the services issue).
const (
	slackWebhook  = "https://hooks.slack.com/services/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"
	slackSecret   = "q8W2eR4tY6uI8oP0aS2dF4gH"
	splunkToken   = "7f3c2a9e-5b1d-4c8e-9a6f-2d4b8e1c3a5f"
	pgPassword    = "Xk9-pq2Lm_77"
	slackBotToken = "xoxb-2840174462-5938201746380-Hf8sKq2LmN4pR7tVwXyZ1aB3"
	hmacSecret    = "whsec_9f86d081884c7d659a2feaa0c55ad015"
)

func TestRedactString(t *testing.T) {
	r := NewRedactor("https://siem.example.com/ingest/8c1f2e6d4b", hmacSecret, "abc") // "abc": too short to be hidden
	for _, c := range []struct {
		name, in, want string
		secrets        []string // must not survive
	}{
		{"slack webhook", slackWebhook, "https://hooks.slack.com/services/REDACTED", []string{slackSecret, "B06H3JV8RLT"}},
		{"slack webhook in a Go error",
			`slack: Post "` + slackWebhook + `": dial tcp 34.194.6.3:443: i/o timeout`,
			`slack: Post "https://hooks.slack.com/services/REDACTED": dial tcp 34.194.6.3:443: i/o timeout`, []string{slackSecret}},
		{"splunk HEC header", "Authorization: Splunk " + splunkToken, "Authorization: Splunk REDACTED", []string{splunkToken}},
		{"splunk HEC token in query", "https://splunk.example.com:8088/services/collector/event?token=" + splunkToken + "&channel=FE0ECFAD",
			"https://splunk.example.com:8088/services/collector/event?token=REDACTED&channel=FE0ECFAD", []string{splunkToken}},
		{"splunk token pair", `hec token=` + splunkToken + ` sink=splunk`, `hec token=REDACTED sink=splunk`, []string{splunkToken}},
		{"postgres URL", "postgres://trailsentry:" + pgPassword + "@db.internal:5432/trailsentry?sslmode=verify-full",
			"postgres://trailsentry:REDACTED@db.internal:5432/trailsentry?sslmode=verify-full", []string{pgPassword}},
		{"postgres URL password parameter", "postgresql://db.internal/ts?user=ts&password=" + pgPassword,
			"postgresql://db.internal/ts?user=ts&password=REDACTED", []string{pgPassword}},
		{"postgres keyword DSN", "host=db.internal port=5432 user=trailsentry password=" + pgPassword + " dbname=ts sslmode=require",
			"host=db.internal port=5432 user=trailsentry password=REDACTED dbname=ts sslmode=require", []string{pgPassword}},
		{"postgres keyword DSN, quoted", "host=db user=ts password='" + pgPassword + " x' dbname=ts",
			"host=db user=ts password='REDACTED' dbname=ts", []string{pgPassword}},
		{"URL with a lone user (a token)", "https://ghp_R4nd0mT0k3nV4lu3xxxxxxxxxxxx@github.com/acme/rules.git",
			"https://REDACTED@github.com/acme/rules.git", []string{"ghp_R4nd0mT0k3n"}},
		{"unparsable URL with a password", "postgres://ts:p#ss/w?rd@db/ts", "postgres://REDACTED", []string{"p#ss"}},
		{"JSON pair", `{"sink":"webhook","token":"s3cr3t-t0ken-value","n":1}`, `{"sink":"webhook","token":"REDACTED","n":1}`, []string{"s3cr3t"}},
		{"JSON pair with an escaped quote", `{"api_key":"ab\"cd3f9x"}`, `{"api_key":"REDACTED"}`, []string{"cd3f9x"}},
		{"YAML pair", `hec_token: ` + splunkToken, `hec_token: REDACTED`, []string{splunkToken}},
		{"bearer", "authorization failed: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "authorization failed: Bearer REDACTED", []string{"eyJhbGci"}},
		{"slack bot token", "token " + slackBotToken + " rejected", "token REDACTED rejected", []string{"Hf8sKq2LmN4pR7tVwXyZ1aB3"}},
		{"literal webhook URL", "webhook https://siem.example.com/ingest/8c1f2e6d4b returned 500", "webhook https://siem.example.com/REDACTED returned 500", []string{"8c1f2e6d4b"}},
		{"literal HMAC secret", "signing with " + hmacSecret, "signing with REDACTED", []string{hmacSecret}},
		{"AWS signed URL", "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=4f2a9c&X-Amz-Security-Token=IQoJb3JpZ2lu",
			"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED", []string{"4f2a9c", "IQoJb3JpZ2lu"}},
		{"token in a fragment", "https://app.example.com/cb#access_token=ya29.a0Af&type=bearer", "https://app.example.com/cb#REDACTED", []string{"ya29"}},
		// What is not a secret stays, whole.
		{"CloudTrail identifiers", "access_key_id=AKIAIOSFODNN7EXAMPLE eventID=3038ebd2-c98a-4c65-9b6e-e22506292313 dedup_key=ct:stop:1",
			"access_key_id=AKIAIOSFODNN7EXAMPLE eventID=3038ebd2-c98a-4c65-9b6e-e22506292313 dedup_key=ct:stop:1", nil},
		{"queue and bucket URLs", "receive https://sqs.eu-central-1.amazonaws.com/739402185563/trail-notifications from s3://trail-bucket/AWSLogs/o-a1b2c3/",
			"receive https://sqs.eu-central-1.amazonaws.com/739402185563/trail-notifications from s3://trail-bucket/AWSLogs/o-a1b2c3/", nil},
		{"prose", "Token validation failed for role abc; 3 tokens left", "Token validation failed for role abc; 3 tokens left", nil},
		{"slack host without a path", "posting to https://hooks.slack.com/", "posting to https://hooks.slack.com/", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := r.String(c.in)
			if got != c.want {
				t.Errorf("\n in: %s\ngot: %s\nwant %s", c.in, got, c.want)
			}
			for _, sec := range c.secrets {
				if strings.Contains(got, sec) {
					t.Errorf("%q survived in %q", sec, got)
				}
			}
			if again := r.String(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestRedactorNil(t *testing.T) {
	var r *Redactor
	if got := r.String(slackWebhook); got != "https://hooks.slack.com/services/REDACTED" {
		t.Errorf("nil redactor: %q", got)
	}
}

func TestSecretKey(t *testing.T) {
	for _, k := range []string{"password", "PGPASSWORD", "hec_token", "token", "X-Splunk-Token", "webhook_url", "WebhookURL", "api-key", "apiKey", "Authorization",
		"aws_secret_access_key", "sessionToken", "client_secret", "signing_key", "hmac_key", "Cookie", "pwd"} {
		if !SecretKey(k) {
			t.Errorf("SecretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"access_key_id", "accessKeyId", "event_id", "dedup_key", "rule", "url", "sink", "queue", "source", "err", "count"} {
		if SecretKey(k) {
			t.Errorf("SecretKey(%q) = true", k)
		}
	}
}

func TestLoggerRedacts(t *testing.T) {
	var buf bytes.Buffer
	r := NewRedactor()
	log, err := NewLogger(&buf, LogOptions{Format: LogJSON, Redactor: r})
	if err != nil {
		t.Fatal(err)
	}
	r.AddSecret(hmacSecret) // added after the logger was made: still hidden
	u, _ := url.Parse("postgres://ts:" + pgPassword + "@db.internal/ts")
	var nilURL *url.URL
	log = log.With("authorization", "Splunk "+splunkToken, "sink", "splunk")
	log.Warn("delivery to "+slackWebhook+" failed",
		"webhook_url", slackWebhook,
		"hec_token", splunkToken,
		"err", fmt.Errorf("send: %w", errors.New(`Post "`+slackWebhook+`": EOF`)),
		"dsn", u,
		"nil_url", nilURL,
		"body", []byte(`{"token":"`+slackBotToken+`"}`),
		"retry", 3,
		slog.Group("webhook", "url", "https://siem.example.com/ingest", "secret", hmacSecret, "note", "signed with "+hmacSecret),
		"event_id", "3038ebd2-c98a-4c65-9b6e-e22506292313",
	)
	out := buf.String()
	for _, sec := range []string{slackSecret, splunkToken, pgPassword, hmacSecret, "Hf8sKq2LmN4pR7tVwXyZ1aB3"} {
		if strings.Contains(out, sec) {
			t.Errorf("%q in log line: %s", sec, out)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, out)
	}
	want := map[string]any{
		"msg":           "delivery to https://hooks.slack.com/services/REDACTED failed",
		"authorization": "REDACTED",
		"sink":          "splunk",
		"webhook_url":   "https://hooks.slack.com/REDACTED",
		"hec_token":     "REDACTED",
		"err":           `send: Post "https://hooks.slack.com/services/REDACTED": EOF`,
		"dsn":           "postgres://ts:REDACTED@db.internal/ts",
		"nil_url":       "<nil>",
		"body":          `{"token":"REDACTED"}`,
		"retry":         float64(3),
		"event_id":      "3038ebd2-c98a-4c65-9b6e-e22506292313",
		"webhook":       map[string]any{"url": "https://siem.example.com/ingest", "secret": "REDACTED", "note": "signed with REDACTED"},
	}
	for k, w := range want {
		if fmt.Sprint(rec[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, rec[k], w)
		}
	}
}

func TestLoggerFormats(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, LogOptions{Format: LogText})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("poison message moved to the dead-letter queue", "queue", "trail-notifications", "receives", 5, "token", "x1y2z3w4")
	line := buf.String()
	if !strings.Contains(line, `msg="poison message moved to the dead-letter queue"`) || !strings.Contains(line, "token=REDACTED") || strings.Contains(line, "x1y2z3w4") {
		t.Errorf("text line: %s", line)
	}

	// Auto: a pipe or a buffer is not a terminal, so JSON.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	log, err = NewLogger(pw, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden at the default level")
	log.Info("started", "addr", DefaultAddr)
	pw.Close()
	var rec map[string]any
	if err := json.NewDecoder(pr).Decode(&rec); err != nil || rec["msg"] != "started" || rec["addr"] != DefaultAddr {
		t.Errorf("auto format to a pipe: %v %v", rec, err)
	}

	buf.Reset()
	log, _ = NewLogger(&buf, LogOptions{Level: slog.LevelDebug})
	log.Debug("shown")
	if !json.Valid(buf.Bytes()) || !strings.Contains(buf.String(), `"level":"DEBUG"`) {
		t.Errorf("debug level, auto to a buffer: %s", buf.String())
	}

	if _, err := NewLogger(&buf, LogOptions{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("unknown format: %v", err)
	}
}

// FuzzRedact: no input panics, redacting twice changes nothing, and a
// password planted in a postgres URL, a key=value pair or behind a
// Bearer scheme never survives.
func FuzzRedact(f *testing.F) {
	f.Add("postgres://u:", "Pa55word9", "@h/db")
	f.Add(`Post "`, "T0/B0/xyz12345", `": EOF`)
	f.Add("a=b&token=", "tok3n-value", " end")
	f.Add("", "q8W2eR4tY6uI8oP0", "")
	f.Add("https://[::1]:80/", "x%zz9", "?sig=1#tok")
	r := NewRedactor()
	f.Fuzz(func(t *testing.T, prefix, secret, suffix string) {
		for _, s := range []string{prefix + secret + suffix, prefix, secret} {
			once := r.String(s)
			if twice := r.String(once); twice != once {
				t.Fatalf("not idempotent:\n%q\n%q\n%q", s, once, twice)
			}
		}
		if len(secret) < 6 || !isAlnum(secret) || strings.Contains(prefix+suffix, secret) || strings.Contains(Redacted, secret) {
			return
		}
		for _, planted := range []string{
			"postgres://user:" + secret + "@db.internal:5432/ts",
			" password=" + secret + " ",
			" Authorization: Bearer 12" + secret + " ", // 8 characters at least, as tokens are
			"https://hooks.slack.com/services/T1/B2/" + secret,
		} {
			in := prefix + " " + planted + " " + suffix
			if out := r.String(in); strings.Contains(out, secret) {
				t.Fatalf("%q survived:\n in: %q\nout: %q", secret, in, out)
			}
		}
	})
}

func isAlnum(s string) bool {
	for _, c := range s {
		if c > unicode.MaxASCII || !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}
