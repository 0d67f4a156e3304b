package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The receiver checks each request as docs/alerts.md tells receivers to:
// Verify with the shared key, then decode.
func TestWebhookSignedAndVerified(t *testing.T) {
	key := []byte("9b1f0c2e-receiver-shared-key")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var payloads []WebhookPayload
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if err := Verify(key, r.Header, body, now.Add(20*time.Second), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		payloads = append(payloads, p)
		w.WriteHeader(http.StatusAccepted)
	})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "hmac.key")
	if err := os.WriteFile(keyFile, append(key, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TS_HOOK_URL", rec.URL+"/hooks/trailsentry?token=abc123")
	c, err := LoadConfig([]byte(`alerts:
  sinks:
    - name: soar
      webhook: {url: env:TS_HOOK_URL, hmac_key: "file:`+keyFile+`"}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), c, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	fs := goldenFindings(t)[:3]
	if err := set.Sinks[0].Send(context.Background(), deliveries(fs...)); err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 1 || len(payloads[0].Alerts) != 3 {
		t.Fatalf("payloads: %+v", payloads)
	}
	a := payloads[0].Alerts[0]
	if a.AlertID != fs[0].ID+"/1" || a.Finding.ID != fs[0].ID || a.Finding.Rule.Title != fs[0].Rule.Title ||
		a.Finding.Severity != fs[0].Severity || !payloads[0].SentAt.Equal(now) || payloads[0].Source != "trailsentry" {
		t.Errorf("alert = %+v", a)
	}
	got := rec.got()[0]
	if got.Header.Get(HeaderTimestamp) != strconv.FormatInt(now.Unix(), 10) ||
		!strings.HasPrefix(got.Header.Get(HeaderSignature), "sha256=") || len(got.Header.Get(HeaderSignature)) != 7+64 {
		t.Errorf("headers: %v", got.Header)
	}

	// What a receiver must refuse.
	h := got.Header.Clone()
	for name, tc := range map[string]struct {
		key  []byte
		body []byte
		now  time.Time
		edit func(http.Header)
	}{
		"a changed body":      {key, append([]byte(" "), got.Body...), now, nil},
		"another key":         {[]byte("wrong"), got.Body, now, nil},
		"a replay an hour on": {key, got.Body, now.Add(time.Hour), nil},
		"a changed timestamp": {key, got.Body, now, func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)) }},
		"no signature":        {key, got.Body, now, func(h http.Header) { h.Del(HeaderSignature) }},
		"a garbage timestamp": {key, got.Body, now, func(h http.Header) { h.Set(HeaderTimestamp, "noon") }},
		"another scheme":      {key, got.Body, now, func(h http.Header) { h.Set(HeaderSignature, "md5=00") }},
	} {
		hh := h.Clone()
		if tc.edit != nil {
			tc.edit(hh)
		}
		if err := Verify(tc.key, hh, tc.body, tc.now, 5*time.Minute); err == nil {
			t.Errorf("Verify accepted %s", name)
		}
	}
	if err := Verify(key, h, got.Body, now.Add(-time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify refused the request itself: %v", err)
	}
}

// A webhook URL carries a token: it appears in no error, whether the
// connection is refused or the server echoes the URL back.
func TestWebhookRedactsURL(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Error(w, "no route for "+r.URL.String(), http.StatusInternalServerError)
	})
	secretPath := "/hooks/T0KEN-5ecret-path"
	for name, target := range map[string]string{
		"echoed":  rec.URL + secretPath + "?sig=zzz-query-secret",
		"refused": "http://127.0.0.1:1" + secretPath + "?sig=zzz-query-secret",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("TS_HOOK_URL", target)
			sink := buildOne(t, "alerts:\n  sinks:\n    - name: hook\n      webhook: {url: env:TS_HOOK_URL}\n")
			err := sink.Send(context.Background(), deliveries(goldenFindings(t)[0]))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "5ecret") || strings.Contains(msg, "zzz-query-secret") {
				t.Errorf("secret in error: %s", msg)
			}
			if perm, _ := Classify(err); perm {
				t.Errorf("%s classified permanent", msg)
			}
			t.Log(msg)
		})
	}
}
