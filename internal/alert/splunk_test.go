package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// hecServer is a Splunk HTTP Event Collector: it checks the token and reads
// the batch of concatenated events as the collector does, answering with
// the collector's codes.
func hecServer(t *testing.T, token string, busy *bool) (*recorder, *[]HECEvent) {
	var events []HECEvent
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/services/collector/event" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"text":"The requested URL was not found on this server.","code":404}`))
			return
		}
		switch auth := r.Header.Get("Authorization"); {
		case auth == "":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"text":"Token is required","code":2}`))
			return
		case auth != "Splunk "+token:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"text":"Invalid token","code":4}`))
			return
		}
		if busy != nil && *busy {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"text":"Server is busy","code":9}`))
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var batch []HECEvent
		for {
			var raw map[string]json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || raw["event"] == nil || string(raw["event"]) == `""` {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"text":"Invalid data format","code":6,"invalid-event-number":0}`))
				return
			}
			var ev HECEvent
			b, _ := json.Marshal(raw)
			json.Unmarshal(b, &ev)
			batch = append(batch, ev)
		}
		if len(batch) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"text":"No data","code":5}`))
			return
		}
		events = append(events, batch...)
		w.Write([]byte(`{"text":"Success","code":0}`))
	})
	return rec, &events
}

func TestSplunkHEC(t *testing.T) {
	const token = "8c8d7a0e-1f7b-4b3c-9a56-3d2e1f0a9b8c"
	busy := false
	rec, events := hecServer(t, token, &busy)
	t.Setenv("TS_HEC_TOKEN", token)
	cfg := "alerts:\n  sinks:\n    - name: splunk\n      splunk: {url: " + rec.URL + ", token: env:TS_HEC_TOKEN, index: aws_security}\n"
	sink := buildOne(t, cfg)
	denied := deniedFinding(t)
	if err := sink.Send(context.Background(), deliveries(goldenFindings(t)[0], denied)); err != nil {
		t.Fatal(err)
	}
	if len(*events) != 2 {
		t.Fatalf("%d events", len(*events))
	}
	ev := (*events)[1]
	if ev.Time != 1795169037 || ev.Host != "ts-worker-1" || ev.Source != "trailsentry" ||
		ev.SourceType != "trailsentry:finding" || ev.Index != "aws_security" {
		t.Errorf("envelope = %+v", ev)
	}
	body := ev.Event.(map[string]any)
	f := body["finding"].(map[string]any)
	if body["revision"] != float64(1) || f["id"] != denied.ID || f["count"] != float64(6) {
		t.Errorf("event = %v", body)
	}

	busy = true
	err := sink.Send(context.Background(), deliveries(denied))
	if perm, _ := Classify(err); perm || err == nil || !strings.Contains(err.Error(), "HEC code 9: Server is busy") {
		t.Errorf("busy: %v", err)
	}
	t.Setenv("TS_HEC_TOKEN", "00000000-revoked")
	sink = buildOne(t, cfg)
	err = sink.Send(context.Background(), deliveries(denied))
	if perm, _ := Classify(err); !perm || !strings.Contains(err.Error(), "HTTP 403: HEC code 4: Invalid token") ||
		strings.Contains(err.Error(), "revoked") {
		t.Errorf("bad token: %v", err)
	}
}
