package finding

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		g, w := "", ""
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("output differs from %s at line %d:\n got %q\nwant %q\n(go test -update rewrites it)", path, i+1, g, w)
		}
	}
}

func render(t *testing.T, format string, findings []*Finding, sum *Summary, opts Options) []byte {
	t.Helper()
	write, err := Writer(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(&buf, findings, sum, opts); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	findings := fixtureFindings(t)
	sum := fixtureSummary(findings)
	for _, tc := range []struct {
		file     string
		format   string
		findings []*Finding
		opts     Options
	}{
		{"findings.table", "table", findings, Options{}},
		{"findings-80-color.table", "table", findings, Options{Width: 80, Color: true}},
		{"empty.table", "table", nil, Options{}},
		{"findings.json", "json", findings, Options{}},
		{"empty.json", "json", nil, Options{}},
		{"findings.jsonl", "jsonl", findings, Options{}},
		{"findings.ocsf.jsonl", "ocsf", findings, Options{Version: "0.1.0-test"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s := *sum
			s.Finish(tc.findings, s.Duration)
			golden(t, tc.file, render(t, tc.format, tc.findings, &s, tc.opts))
		})
	}
}

func TestWriterNames(t *testing.T) {
	for _, name := range Formats() {
		if _, err := Writer(name); err != nil {
			t.Errorf("Writer(%q): %v", name, err)
		}
	}
	if _, err := Writer("xml"); err == nil {
		t.Error("Writer accepted an unknown format")
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// columns measures a line independently of the table's own code: ANSI colour
// codes take no room, runes one column, CJK ideographs two.
func columns(line string) int {
	n := 0
	for _, r := range ansi.ReplaceAllString(line, "") {
		n++
		if unicode.Is(unicode.Han, r) {
			n++
		}
	}
	return n
}

// longFinding has every value long enough to need cutting.
func longFinding() *Finding {
	f := &Finding{
		ID:           strings.Repeat("f", 32),
		Rule:         RuleRef{ID: "4db60cc0-36fb-42b7-9b58-a5b53019fb74", Title: strings.Repeat("Very Long Rule Title About CloudTrail Tampering ", 4), Source: "rules/" + strings.Repeat("nested/", 12) + "rule.yml"},
		Severity:     SeverityFor("high"),
		Attack:       []string{"T1562.008", "T1685.002", "T1078.004", "T1548", "T1550.001", "T1098", "T1087.004", "T1580", "T1619"},
		Actor:        "arn:aws:sts::111122223333:assumed-role/OrganizationAccountAccessRole-ProductionWorkloadsDeployment-EU/botocore-session-1714557600-a1b2c3d4e5f6",
		Account:      "111122223333",
		Region:       "ap-southeast-3",
		Count:        123456789,
		EventIDs:     []string{"a1f0c2d4-0001-4c1e-8f00-000000000001"},
		EventSources: []string{"cloudtrail.amazonaws.com", "guardduty.amazonaws.com", "securityhub.amazonaws.com"},
		EventNames: []string{"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "DeleteDetector",
			"UpdateDetector", "CreateIPSet", "DisableSecurityHub", "BatchUpdateFindings", "DeleteInsight"},
		SourceIPAddresses: []string{"2001:db8:85a3::8a2e:370:7334", "203.0.113.10", "198.51.100.23", "192.0.2.44"},
		UserAgents:        []string{"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/cloudtrail.stop-logging 云端工具 " + strings.Repeat("x", 80)},
		ErrorCodes:        []string{"AccessDenied", "TrailNotFoundException", "InvalidParameterCombinationException"},
		AccessKeyIDs:      []string{"ASIAEXAMPLEALICE0001", "AKIAEXAMPLEBOB000001", "ASIAEXAMPLEDEPLOY001", "ASIAEXAMPLECI0000001"},
	}
	return f
}

func TestTableWidth(t *testing.T) {
	findings := []*Finding{longFinding()}
	findings[0].Rule.Title = "云端" + findings[0].Rule.Title // wide characters in the cut part
	sum := &Summary{FilesScanned: 123456, FilesSkipped: map[string]int{"digest": 120000, "insights": 3, "unreadable": 9},
		EventsDecoded: 987654321012, EventsFiltered: 123456789, BadRecords: 98765, RulesLoaded: 12345, RuleLoadErrors: 678}
	sum.Finish(findings, 1234567890)
	for _, width := range []int{0, 100, 80, 60, 40, 20, 1} {
		for _, color := range []bool{false, true} {
			out := string(render(t, "table", findings, sum, Options{Width: width, Color: color}))
			limit := width
			if width == 0 {
				limit = DefaultWidth
			}
			cut := false
			for line := range strings.Lines(out) {
				line = strings.TrimSuffix(line, "\n")
				if n := columns(line); n > limit {
					t.Errorf("width %d color %v: line of %d columns: %q", width, color, n, line)
				}
				cut = cut || strings.Contains(line, "…")
			}
			if !cut {
				t.Errorf("width %d: nothing was cut, so the test checked nothing", width)
			}
			if color != strings.Contains(out, "\x1b[") {
				t.Errorf("width %d color %v: colour codes present = %v", width, color, !color)
			}
		}
	}
	// At the default width the end of an ARN, the session name, survives.
	out := string(render(t, "table", findings, sum, Options{}))
	if !strings.Contains(out, "/botocore-session-1714557600-a1b2c3d4e5f6\n") {
		t.Errorf("actor lost its session name:\n%s", out)
	}
}

func TestTableEscapesControlCharacters(t *testing.T) {
	f := longFinding()
	f.Actor = "arn:aws:iam::111122223333:user/\u202eevil"
	f.UserAgents = []string{"curl/8.5 \x1b]0;pwned\x07\x1b[2J"}
	f.EventNames = []string{"Get\x00Object\xff"}
	for _, color := range []bool{false, true} {
		out := render(t, "table", []*Finding{f}, nil, Options{Width: 200, Color: color})
		plain := ansi.ReplaceAll(out, nil)
		if i := bytes.IndexFunc(plain, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }); i >= 0 {
			r, _ := utf8.DecodeRune(plain[i:])
			t.Errorf("color %v: unescaped %U in table output", color, r)
		}
		for _, want := range []string{`user/\u202eevil`, `curl/8.5 \x1b]0;pwned\x07\x1b[2J`, `Get\x00Object\xff`} {
			if !bytes.Contains(plain, []byte(want)) {
				t.Errorf("color %v: output lacks %s", color, want)
			}
		}
	}
}

func TestTableEmpty(t *testing.T) {
	out := string(render(t, "table", nil, &Summary{FilesScanned: 2, EventsDecoded: 10}, Options{}))
	first, _, _ := strings.Cut(out, "\n")
	if first != "No findings." {
		t.Errorf("first line %q, want %q", first, "No findings.")
	}
}

func TestTableGroupsBySeverity(t *testing.T) {
	out := string(render(t, "table", fixtureFindings(t), nil, Options{}))
	var order []string
	for line := range strings.Lines(out) {
		if label, _, ok := strings.Cut(line, " "); ok && slices.Contains([]string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"}, label) {
			order = append(order, label)
		}
	}
	want := []string{"CRITICAL", "HIGH", "MEDIUM", "MEDIUM", "MEDIUM", "MEDIUM", "LOW", "LOW", "LOW", "LOW", "INFO", "INFO"}
	if !slices.Equal(order, want) {
		t.Errorf("blocks in order %v, want %v", order, want)
	}
	for _, header := range []string{"── Critical · 1 finding ─", "── Medium · 4 findings ─", "── Info · 2 findings ─"} {
		if !strings.Contains(out, header) {
			t.Errorf("no group header %q", header)
		}
	}
}

func TestJSONDocument(t *testing.T) {
	findings := fixtureFindings(t)
	var doc struct {
		SchemaVersion string            `json:"schema_version"`
		Findings      []json.RawMessage `json:"findings"`
		Summary       map[string]any    `json:"summary"`
	}
	out := render(t, "json", findings, fixtureSummary(findings), Options{})
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != SchemaVersion || len(doc.Findings) != len(findings) {
		t.Errorf("schema_version %q with %d findings", doc.SchemaVersion, len(doc.Findings))
	}
	var keys []string
	for k := range doc.Summary {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"bad_records", "duration_seconds", "events_decoded", "events_filtered", "events_per_second",
		"files_scanned", "files_skipped", "findings_by_severity", "findings_shadow", "findings_suppressed", "rule_load_errors", "rules_loaded"}
	if !slices.Equal(keys, want) {
		t.Errorf("summary keys %v, want %v", keys, want)
	}
	if got := doc.Summary["findings_by_severity"].(map[string]any)["medium"]; got != 4.0 {
		t.Errorf("findings_by_severity.medium = %v, want 4", got)
	}
	// Every finding has the fields the schema promises.
	for _, raw := range doc.Findings {
		var f map[string]any
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"schema_version", "id", "rule", "severity", "attack", "actor", "account", "region",
			"first_seen", "last_seen", "count", "event_ids", "event_ids_truncated"} {
			if _, ok := f[k]; !ok {
				t.Errorf("finding %v lacks %q", f["id"], k)
			}
		}
		for _, k := range []string{"id", "title", "source"} {
			if _, ok := f["rule"].(map[string]any)[k]; !ok {
				t.Errorf("finding %v lacks rule.%s", f["id"], k)
			}
		}
	}
}

func TestJSONLOneFindingPerLine(t *testing.T) {
	findings := fixtureFindings(t)
	sc := bufio.NewScanner(bytes.NewReader(render(t, "jsonl", findings, nil, Options{})))
	i := 0
	for ; sc.Scan(); i++ {
		var f Finding
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if i < len(findings) && (f.ID != findings[i].ID || f.Count != findings[i].Count || !slices.Equal(f.EventIDs, findings[i].EventIDs)) {
			t.Errorf("line %d is not finding %d", i+1, i)
		}
	}
	if i != len(findings) {
		t.Errorf("%d lines for %d findings", i, len(findings))
	}
}

// TestOCSFRequiredFields checks each line against what OCSF 1.3.0 requires of
// a Detection Finding and against the mapping in docs/findings.md.
func TestOCSFRequiredFields(t *testing.T) {
	findings := fixtureFindings(t)
	lines := strings.Split(strings.TrimSuffix(string(render(t, "ocsf", findings, nil, Options{Version: "1.2.3"})), "\n"), "\n")
	if len(lines) != len(findings) {
		t.Fatalf("%d lines for %d findings", len(lines), len(findings))
	}
	sevID := map[Label]float64{Info: 1, Low: 2, Medium: 3, High: 4, Critical: 5}
	for i, line := range lines {
		f := findings[i]
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		get := func(path string) any {
			var v any = o
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
			"class_uid": 2004.0, "category_uid": 2.0, "type_uid": 200401.0, "activity_id": 1.0,
			"severity_id": sevID[f.Severity.Label], "status_id": 1.0,
			"time":                          float64(f.LastSeen.UnixMilli()),
			"count":                         float64(f.Count),
			"metadata.version":              "1.3.0",
			"metadata.product.name":         "trailsentry",
			"metadata.product.vendor_name":  "trailsentry",
			"metadata.product.version":      "1.2.3",
			"finding_info.uid":              f.ID,
			"finding_info.title":            f.Rule.Title,
			"finding_info.first_seen_time":  float64(f.FirstSeen.UnixMilli()),
			"finding_info.last_seen_time":   float64(f.LastSeen.UnixMilli()),
			"finding_info.analytic.uid":     f.Rule.ID,
			"finding_info.analytic.type_id": 1.0,
			"finding_info.analytic.type":    "Rule",
			"cloud.provider":                "AWS",
			"cloud.account.uid":             f.Account,
			"cloud.region":                  f.Region,
			"actor.user.name":               f.Actor,
			"unmapped.event_ids_truncated":  f.EventIDsTruncated,
		} {
			if got := get(path); got != want {
				t.Errorf("finding %d: %s = %v, want %v", i, path, got, want)
			}
		}
		profiles, _ := get("metadata.profiles").([]any)
		if !slices.Contains(profiles, any("cloud")) || !slices.Contains(profiles, any("host")) {
			t.Errorf("finding %d: profiles %v must name cloud (for cloud) and host (for actor)", i, profiles)
		}
		var related []string
		for _, r := range get("finding_info.related_events").([]any) {
			related = append(related, r.(map[string]any)["uid"].(string))
		}
		if !slices.Equal(related, f.EventIDs) {
			t.Errorf("finding %d: related_events %v, want the event ids %v", i, related, f.EventIDs)
		}
		attacks := get("finding_info.attacks").([]any)
		if len(attacks) != len(f.Attack) {
			t.Fatalf("finding %d: %d attacks for %v", i, len(attacks), f.Attack)
		}
		for j, id := range f.Attack {
			a := attacks[j].(map[string]any)
			technique, _, isSub := strings.Cut(id, ".")
			if a["technique"].(map[string]any)["uid"] != technique {
				t.Errorf("finding %d: attack %s has technique %v", i, id, a["technique"])
			}
			if sub, ok := a["sub_technique"].(map[string]any); isSub != ok || ok && sub["uid"] != id {
				t.Errorf("finding %d: attack %s has sub_technique %v", i, id, a["sub_technique"])
			}
		}
		if n := len(get("evidences").([]any)); n != len(f.EventNames) {
			t.Errorf("finding %d: %d evidences for %d event names", i, n, len(f.EventNames))
		}
	}
}
