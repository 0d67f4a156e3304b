package alert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// bulkServer is an Elasticsearch _bulk endpoint: it checks the NDJSON, keeps
// the documents by index and id, and answers per item; reject says which
// status an item gets (0: indexed).
type bulkServer struct {
	*recorder
	docs   map[string]map[string]any // _index/_id -> document
	reject func(id string, doc map[string]any) (int, string)
}

func newBulkServer(t *testing.T, apiKey string) *bulkServer {
	s := &bulkServer{docs: map[string]map[string]any{}}
	s.recorder = newRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path != "/_bulk" || r.Method != http.MethodPost {
			http.Error(w, `{"error":"no handler"}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "ApiKey "+apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`))
			return
		}
		if r.Header.Get("Content-Type") != "application/x-ndjson" || !bytes.HasSuffix(body, []byte("\n")) {
			http.Error(w, `{"error":"The bulk request must be terminated by a newline [\n]"}`, http.StatusBadRequest)
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<24)
		var items []map[string]any
		errors := false
		for sc.Scan() {
			var action map[string]map[string]string
			if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 || action["index"] == nil {
				http.Error(w, "bad action line: "+sc.Text(), http.StatusBadRequest)
				return
			}
			meta := action["index"]
			if !sc.Scan() {
				http.Error(w, "action without a source", http.StatusBadRequest)
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				http.Error(w, "bad source", http.StatusBadRequest)
				return
			}
			key := meta["_index"] + "/" + meta["_id"]
			status, errType := 0, ""
			if s.reject != nil {
				status, errType = s.reject(meta["_id"], doc)
			}
			res := map[string]any{"_index": meta["_index"], "_id": meta["_id"]}
			switch {
			case status != 0:
				errors = true
				res["status"] = status
				res["error"] = map[string]any{"type": errType, "reason": "item rejected by the test cluster"}
			case s.docs[key] != nil:
				res["status"], res["result"], res["_version"] = 200, "updated", 2
			default:
				res["status"], res["result"], res["_version"] = 201, "created", 1
			}
			if status == 0 {
				s.docs[key] = doc
			}
			items = append(items, map[string]any{"index": res})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"took": 3, "errors": errors, "items": items})
	})
	return s
}

func TestElasticBulkECS(t *testing.T) {
	srv := newBulkServer(t, "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
	t.Setenv("TS_ES_KEY", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
	sink := buildOne(t, "alerts:\n  sinks:\n    - name: siem\n      elasticsearch: {url: "+srv.URL+"/, index: security-trailsentry, api_key: env:TS_ES_KEY}\n")
	denied := deniedFinding(t)
	fs := append(goldenFindings(t)[:2], denied)
	for range 2 { // sent twice (a retry): replaced by id, never duplicated
		if err := sink.Send(context.Background(), deliveries(fs...)); err != nil {
			t.Fatal(err)
		}
	}
	if len(srv.docs) != 3 {
		t.Fatalf("%d documents, want 3", len(srv.docs))
	}
	doc := srv.docs["security-trailsentry/"+denied.ID]
	if doc == nil {
		t.Fatalf("no document with _id %s", denied.ID)
	}
	get := func(path string) any {
		var v any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	for path, want := range map[string]any{
		"@timestamp":                    "2026-11-20T10:03:57Z",
		"event.kind":                    "alert",
		"event.category":                []any{"iam", "configuration"},
		"event.action":                  "ListUsers",
		"event.outcome":                 "failure",
		"event.severity":                float64(2),
		"event.risk_score":              float64(15),
		"event.start":                   "2026-11-20T10:02:07Z",
		"rule.id":                       "0187e9ae-225c-4af5-b5a1-92b299d26fef",
		"rule.name":                     "Request denied by IAM (AccessDenied or UnauthorizedOperation)",
		"threat.framework":              "MITRE ATT&CK",
		"threat.technique.id":           []any{"T1580", "T1526"},
		"cloud.provider":                "aws",
		"cloud.account.id":              "111122223333",
		"cloud.region":                  "us-east-1",
		"user.name":                     "developer/bob",
		"source.ip":                     "203.0.113.45",
		"user_agent.original":           denied.UserAgents[0],
		"trailsentry.revision":          float64(1),
		"trailsentry.finding.id":        denied.ID,
		"trailsentry.finding.count":     float64(6),
		"related.ip":                    []any{"203.0.113.45"},
		"trailsentry.finding.rule.id":   "0187e9ae-225c-4af5-b5a1-92b299d26fef",
		"trailsentry.finding.actor":     "developer/bob",
		"trailsentry.finding.outcome":   "failed",
		"trailsentry.finding.event_ids": get("trailsentry.finding.event_ids"),
	} {
		if got := get(path); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if rd := get("rule.description"); rd == nil || !strings.Contains(rd.(string), "probing stolen credentials") {
		t.Errorf("rule.description = %v", rd)
	}
	trail := srv.docs["security-trailsentry/"+goldenByTitle(t, "Root Console Login Without MFA").ID]
	if trail == nil {
		t.Fatal("root login not indexed")
	}
	if c := trail["event"].(map[string]any)["category"]; fmt.Sprint(c) != "[authentication]" {
		t.Errorf("signin event.category = %v", c)
	}
	if tt := trail["threat"].(map[string]any)["technique"].(map[string]any); fmt.Sprint(tt["id"]) != "[T1078]" ||
		fmt.Sprint(tt["subtechnique"].(map[string]any)["id"]) != "[T1078.004]" {
		t.Errorf("threat.technique = %v", tt)
	}
}

// Per-item errors: 429 and 5xx are retried, a mapping error is permanent for
// its document only, and the indexed ones are delivered.
func TestElasticBulkItemErrors(t *testing.T) {
	srv := newBulkServer(t, "k")
	fs := goldenFindings(t)[:4]
	srv.reject = func(id string, _ map[string]any) (int, string) {
		switch id {
		case fs[1].ID:
			return 429, "es_rejected_execution_exception"
		case fs[2].ID:
			return 400, "mapper_parsing_exception"
		case fs[3].ID:
			return 503, "unavailable_shards_exception"
		}
		return 0, ""
	}
	t.Setenv("TS_ES_KEY", "k")
	sink := buildOne(t, "alerts:\n  sinks:\n    - name: siem\n      opensearch: {url: "+srv.URL+", api_key: env:TS_ES_KEY}\n")
	err := sink.Send(context.Background(), deliveries(fs...))
	want := []struct {
		failed, permanent bool
	}{{false, false}, {true, false}, {true, true}, {true, false}}
	for i, w := range want {
		e := errorFor(err, i, len(fs))
		perm, _ := Classify(e)
		if (e != nil) != w.failed || perm != w.permanent {
			t.Errorf("item %d: %v, permanent %v", i, e, perm)
		}
	}
	if e := errorFor(err, 2, 4); e == nil || !strings.Contains(e.Error(), "HTTP 400: mapper_parsing_exception") {
		t.Errorf("item 2 error = %v", e)
	}
	if len(srv.docs) != 1 || srv.docs["trailsentry-findings/"+fs[0].ID] == nil {
		t.Errorf("indexed: %v", len(srv.docs))
	}

	// A refused key is permanent for the whole batch, and the key is in no
	// error.
	t.Setenv("TS_ES_KEY", "wrong-key-value")
	sink = buildOne(t, "alerts:\n  sinks:\n    - name: siem\n      elasticsearch: {url: "+srv.URL+", api_key: env:TS_ES_KEY}\n")
	err = sink.Send(context.Background(), deliveries(fs[0]))
	if perm, _ := Classify(err); !perm || strings.Contains(err.Error(), "wrong-key-value") || !strings.Contains(err.Error(), "401") {
		t.Errorf("401: %v (permanent %v)", err, perm)
	}
}

func TestParseBulkResponse(t *testing.T) {
	for _, bad := range []string{``, `[]`, `{"took":1}`, `{"errors":false,"items":[]}`,
		`{"errors":true,"items":[{"index":{"status":0}}]}`, `{"errors":true,"items":[{"index":{},"create":{}}]}`} {
		if _, err := parseBulkResponse([]byte(bad), 1); err == nil {
			t.Errorf("parseBulkResponse(%q) accepted", bad)
		}
	}
	errs, err := parseBulkResponse([]byte(`{"took":30,"errors":true,"items":[
		{"index":{"_index":"i","_id":"a","_version":1,"result":"created","status":201}},
		{"index":{"_index":"i","_id":"b","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}}]}`), 2)
	if err != nil || errs[0] != nil || errs[1] == nil || errs[1].Status != 429 || errs[1].Permanent {
		t.Errorf("parseBulkResponse = %v, %v", errs, err)
	}
}

func FuzzParseBulkResponse(f *testing.F) {
	f.Add([]byte(`{"took":30,"errors":true,"items":[{"index":{"_id":"b","status":429,"error":{"type":"x","reason":"y"}}}]}`), 1)
	f.Add([]byte(`{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":200}}]}`), 2)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		errs, err := parseBulkResponse(data, n)
		if err == nil && len(errs) != n {
			t.Fatalf("%d results for %d actions", len(errs), n)
		}
	})
}
