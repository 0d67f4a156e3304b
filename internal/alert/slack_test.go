package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkBlockKit validates a Slack incoming-webhook payload the way Slack
// does: known block types, the limits of blocks and texts, and text escaped
// (no raw <, > or &, which Slack would read as markup).
func checkBlockKit(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	text, _ := msg["text"].(string)
	if text == "" {
		t.Error("no text fallback")
	}
	blocks, ok := msg["blocks"].([]any)
	if !ok || len(blocks) == 0 || len(blocks) > 50 {
		t.Fatalf("blocks: %d (ok %v)", len(blocks), ok)
	}
	rawAmp := regexp.MustCompile(`&(?:amp|lt|gt);`)
	checkText := func(where string, o any, typ string, limit int) {
		obj, ok := o.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a text object: %v", where, o)
		}
		if typ != "" && obj["type"] != typ {
			t.Errorf("%s: type %v, want %s", where, obj["type"], typ)
		}
		if obj["type"] != "plain_text" && obj["type"] != "mrkdwn" {
			t.Errorf("%s: type %v", where, obj["type"])
		}
		s, _ := obj["text"].(string)
		if s == "" {
			t.Errorf("%s: empty text", where)
		}
		if n := utf8.RuneCountInString(s); n > limit {
			t.Errorf("%s: %d characters, limit %d", where, n, limit)
		}
		if strings.ContainsAny(s, "<>") || strings.Contains(rawAmp.ReplaceAllString(s, ""), "&") {
			t.Errorf("%s: unescaped markup in %q", where, s)
		}
	}
	checkText("text", map[string]any{"type": "mrkdwn", "text": text}, "", 40000)
	for i, b := range blocks {
		blk := b.(map[string]any)
		where := fmt.Sprintf("block %d (%v)", i, blk["type"])
		switch blk["type"] {
		case "header":
			checkText(where, blk["text"], "plain_text", 150)
		case "section":
			if blk["text"] == nil && blk["fields"] == nil {
				t.Errorf("%s: neither text nor fields", where)
			}
			if blk["text"] != nil {
				checkText(where, blk["text"], "", 3000)
			}
			if fields, ok := blk["fields"].([]any); ok {
				if len(fields) > 10 {
					t.Errorf("%s: %d fields", where, len(fields))
				}
				for j, f := range fields {
					checkText(fmt.Sprintf("%s field %d", where, j), f, "", 2000)
				}
			}
		case "context":
			els, _ := blk["elements"].([]any)
			if len(els) == 0 || len(els) > 10 {
				t.Errorf("%s: %d elements", where, len(els))
			}
			for j, e := range els {
				checkText(fmt.Sprintf("%s element %d", where, j), e, "", 3000)
			}
		case "divider":
		default:
			t.Errorf("%s: unknown block type", where)
		}
	}
	return msg
}

// allText joins every text of a decoded message, as Slack would show it
// before unescaping.
func allText(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				b.WriteString(s + "\n")
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

func slackServer(t *testing.T, answer func(w http.ResponseWriter, n int)) (*recorder, string) {
	n := 0
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/services/T0001/B0002/XXXXsecretXXXX" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("no_service"))
			return
		}
		n++
		answer(w, n)
	})
	return rec, rec.URL + "/services/T0001/B0002/XXXXsecretXXXX"
}

func TestSlack(t *testing.T) {
	rec, url := slackServer(t, func(w http.ResponseWriter, _ int) { w.Write([]byte("ok")) })
	t.Setenv("TS_SLACK_URL", url)
	sink := buildOne(t, "alerts:\n  sinks:\n    - name: oncall\n      slack: {webhook_url: env:TS_SLACK_URL}\n")
	denied := deniedFinding(t)
	trail := goldenByTitle(t, "AWS CloudTrail Important Change")
	if err := sink.Send(context.Background(), deliveries(denied, trail)); err != nil {
		t.Fatal(err)
	}
	got := rec.got()
	if len(got) != 2 {
		t.Fatalf("%d requests, want one per finding", len(got))
	}
	msg := checkBlockKit(t, got[0].Body)
	all := allText(msg)
	header := msg["blocks"].([]any)[0].(map[string]any)["text"].(map[string]any)["text"].(string)
	if header != ":large_yellow_circle: Low 1.5: Request denied by IAM (AccessDenied or UnauthorizedOperation)" {
		t.Errorf("header = %q", header)
	}
	// Who, from where, what was denied on which resource, and what to do.
	for _, want := range []string{
		"developer/bob", "principal: AssumedRole role developer, session bob", "203.0.113.45 (public)",
		"111122223333 / us-east-1", "6 event(s)", "first 2026-11-20T10:02:07Z", "last 2026-11-20T10:03:57Z",
		"iam:ListUsers on arn:aws:iam::111122223333:user/", "secretsmanager:GetSecretValue on prod/db/master",
		"ec2:DescribeInstances", "lambda:ListFunctions on *", "T1580",
		"Treat the credentials as compromised", "finding " + denied.ID + " (revision 1)",
		"ASIAXU5EXAMPLE2ABE39", "Every call failed (AccessDenied",
	} {
		if !strings.Contains(all, want) && !strings.Contains(all, strings.ReplaceAll(want, "Treat", "treat")) {
			t.Errorf("Slack message lacks %q", want)
		}
	}
	trailMsg := allText(checkBlockKit(t, got[1].Body))
	for _, want := range []string{"Medium 5.0: AWS CloudTrail Important Change", "Turn CloudTrail logging back on", "T1685.002", "1 of 3 calls failed"} {
		if !strings.Contains(trailMsg, want) {
			t.Errorf("CloudTrail message lacks %q", want)
		}
	}
}

// Data that looks like markup is escaped, and everything fits Block Kit's
// limits however long the finding's texts are.
func TestSlackEscapingAndLimits(t *testing.T) {
	f := *deniedFinding(t)
	f.Rule.Title = strings.Repeat("Title <b>&amp; ", 30)
	f.Rule.Description = strings.Repeat("A <!channel> & <https://evil.example|click> description. ", 200)
	f.Actor = "<@U123>&bob"
	f.UserAgents = []string{strings.Repeat("ü<>", 500)}
	for i := range 60 {
		f.ErrorMessages = append(f.ErrorMessages, fmt.Sprintf("User: x is not authorized to perform: iam:Get%d on resource: arn:aws:iam::111122223333:role/<r%d>", i, i))
	}
	body, err := json.Marshal(SlackMessageFor(&f, 3))
	if err != nil {
		t.Fatal(err)
	}
	text := allText(checkBlockKit(t, body))
	if !strings.Contains(text, "&lt;@U123&gt;&amp;bob") {
		t.Error("actor not escaped")
	}
	if strings.Contains(text, "<!channel>") {
		t.Error("an @channel mention got through")
	}
	if !strings.Contains(text, "… and 56 more") {
		t.Error("the denied calls are not cut at ten")
	}
	// fit never cuts inside an escape and counts characters, not bytes.
	for n := 1; n < 12; n++ {
		s := fit("a&b<cü>d", n)
		if utf8.RuneCountInString(s) > n || strings.Contains(strings.TrimSuffix(s, "…")+"|", "&|") ||
			regexp.MustCompile(`&[a-z]*…`).MatchString(s) {
			t.Errorf("fit(_, %d) = %q", n, s)
		}
	}
}

// A rate limit keeps the rest of the batch back with its Retry-After; a
// refused payload is permanent for its finding only.
func TestSlackErrors(t *testing.T) {
	rec, url := slackServer(t, func(w http.ResponseWriter, n int) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("invalid_blocks"))
		case 2:
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte("rate_limited"))
		default:
			w.Write([]byte("ok"))
		}
	})
	t.Setenv("TS_SLACK_URL", url)
	sink := buildOne(t, "alerts:\n  sinks:\n    - name: oncall\n      slack: {webhook_url: env:TS_SLACK_URL}\n")
	fs := goldenFindings(t)[:3]
	err := sink.Send(context.Background(), deliveries(fs...))
	if len(rec.got()) != 2 {
		t.Errorf("%d requests: the batch should stop at the rate limit", len(rec.got()))
	}
	want := []struct {
		perm  bool
		after time.Duration
		text  string
	}{{true, 0, "HTTP 400: invalid_blocks"}, {false, 30 * time.Second, "HTTP 429: rate_limited"}, {false, 30 * time.Second, "429"}}
	for i, w := range want {
		e := errorFor(err, i, 3)
		perm, after := Classify(e)
		if e == nil || perm != w.perm || after != w.after || !strings.Contains(e.Error(), w.text) {
			t.Errorf("delivery %d: %v (permanent %v, retry after %v)", i, e, perm, after)
		}
		if e != nil && strings.Contains(e.Error(), "XXXXsecretXXXX") {
			t.Errorf("delivery %d: the webhook URL leaked: %v", i, e)
		}
	}
}
