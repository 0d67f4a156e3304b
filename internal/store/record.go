package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// zeroMicro is the zero time.Time in Unix microseconds, as the tables hold it
// where a time is required.
var zeroMicro = time.Time{}.UnixMicro()

func toMicro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(us int64) time.Time {
	if us == zeroMicro {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// nullMicro is a time for a nullable column: nil for the zero time.
func nullMicro(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	us := t.UnixMicro()
	return &us
}

func fromNullMicro(us *int64) time.Time {
	if us == nil {
		return time.Time{}
	}
	return fromMicro(*us)
}

// recordData is what the findings table keeps in its record column: the
// parts of a detect.FindingRecord that are not columns of their own. Times
// are Unix microseconds.
type recordData struct {
	Counters      map[string]int64       `json:"counters,omitempty"`
	Evidence      []stampData            `json:"evidence,omitempty"`
	EvidenceTotal int64                  `json:"evidence_total,omitempty"`
	Values        map[string][]stampData `json:"values,omitempty"`
	EvidenceLimit int                    `json:"evidence_limit,omitempty"`
	ValuesLimit   int                    `json:"values_limit,omitempty"`
	Body          []byte                 `json:"body,omitempty"`
	Origin        *stampData             `json:"origin,omitempty"`
}

type stampData struct {
	T int64  `json:"t"`
	V string `json:"v"`
}

func stampsData(s []detect.Stamp) []stampData {
	if len(s) == 0 {
		return nil
	}
	out := make([]stampData, len(s))
	for i, st := range s {
		out[i] = stampData{toMicro(st.Time), st.Value}
	}
	return out
}

func stampsFromData(s []stampData) []detect.Stamp {
	if len(s) == 0 {
		return nil
	}
	out := make([]detect.Stamp, len(s))
	for i, st := range s {
		out[i] = detect.Stamp{Time: fromMicro(st.T), Value: st.V}
	}
	return out
}

// encodeRecord returns the record column of a canonical record.
func encodeRecord(r detect.FindingRecord) ([]byte, error) {
	d := recordData{
		Counters:      r.Counters,
		Evidence:      stampsData(r.Evidence),
		EvidenceTotal: r.EvidenceTotal,
		EvidenceLimit: r.EvidenceLimit,
		ValuesLimit:   r.ValuesLimit,
		Body:          r.Body,
	}
	if len(r.Values) > 0 {
		d.Values = make(map[string][]stampData, len(r.Values))
		for k, v := range r.Values {
			d.Values[k] = stampsData(v)
		}
	}
	if r.Origin != (detect.Stamp{}) {
		d.Origin = &stampData{toMicro(r.Origin.Time), r.Origin.Value}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode finding %s: %w", r.ID, err)
	}
	return b, nil
}

// decodeRecord rebuilds a record from its columns.
func decodeRecord(id, rule, account string, first, last *int64, count int64, data []byte) (detect.FindingRecord, error) {
	var d recordData
	if err := json.Unmarshal(data, &d); err != nil {
		return detect.FindingRecord{}, fmt.Errorf("decode finding %s: %w", id, err)
	}
	r := detect.FindingRecord{
		ID:            id,
		RuleID:        rule,
		Account:       account,
		FirstSeen:     fromNullMicro(first),
		LastSeen:      fromNullMicro(last),
		Count:         count,
		Counters:      d.Counters,
		Evidence:      stampsFromData(d.Evidence),
		EvidenceTotal: d.EvidenceTotal,
		EvidenceLimit: d.EvidenceLimit,
		ValuesLimit:   d.ValuesLimit,
		Body:          d.Body,
	}
	if len(d.Values) > 0 {
		r.Values = make(map[string][]detect.Stamp, len(d.Values))
		for k, v := range d.Values {
			r.Values[k] = stampsFromData(v)
		}
	}
	if d.Origin != nil {
		r.Origin = detect.Stamp{Time: fromMicro(d.Origin.T), Value: d.Origin.V}
	}
	return r, nil
}

// The steps every backend takes around its SQL, so that they all treat a
// batch the same way as detect.MemoryState does.

// uniqueOccurrences canonicalizes occ and returns it with, for each element,
// whether it is the first of its key in the slice.
func uniqueOccurrences(occ []detect.Occurrence) ([]detect.Occurrence, []bool) {
	canon := make([]detect.Occurrence, len(occ))
	first := make([]bool, len(occ))
	seen := make(map[detect.OccurrenceKey]struct{}, len(occ))
	for i, o := range occ {
		o = o.Canonical()
		canon[i] = o
		k := o.Key()
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			first[i] = true
		}
	}
	return canon, first
}

// sortOccurrences sorts and deduplicates query results (ranges may overlap).
func sortOccurrences(out []detect.Occurrence) []detect.Occurrence {
	slices.SortFunc(out, detect.CompareOccurrences)
	return slices.Compact(out)
}

// mergeObservations canonicalizes and checks obs and merges those sharing a
// key: it returns one baseline delta per distinct key (Count observations,
// First and Last their extremes) and, for each observation, its delta's index.
func mergeObservations(obs []detect.Observation) ([]detect.Baseline, error) {
	var deltas []detect.Baseline
	pos := make(map[detect.BaselineKey]int, len(obs))
	for _, o := range obs {
		o = o.Canonical()
		if o.Kind == "" || o.Scope == "" || o.Value == "" {
			return nil, fmt.Errorf("observe: kind, scope and value must be set (%q, %q, %q)", o.Kind, o.Scope, o.Value)
		}
		k := o.Key()
		j, ok := pos[k]
		if !ok {
			j = len(deltas)
			pos[k] = j
			deltas = append(deltas, detect.Baseline{})
		}
		deltas[j] = detect.MergeObservation(deltas[j], o)
	}
	return deltas, nil
}

// baselineKeys splits a baseline query into point keys and whole scopes.
func baselineKeys(keys []detect.BaselineKey) (points, scopes []detect.BaselineKey) {
	for _, k := range keys {
		k = k.Canonical()
		if k.Value == "" {
			scopes = append(scopes, k)
		} else {
			points = append(points, k)
		}
	}
	return points, scopes
}

func sortBaselines(out []detect.Baseline) []detect.Baseline {
	slices.SortFunc(out, detect.CompareBaselines)
	return slices.CompactFunc(out, func(a, b detect.Baseline) bool { return a.BaselineKey == b.BaselineKey })
}

// mergeRecords canonicalizes and checks recs and merges those sharing an id:
// it returns one record per distinct id and, for each input, its index.
func mergeRecords(recs []detect.FindingRecord) ([]detect.FindingRecord, []int, error) {
	var out []detect.FindingRecord
	idx := make([]int, len(recs))
	pos := make(map[string]int, len(recs))
	for i, r := range recs {
		r = r.Canonical()
		if r.ID == "" {
			return nil, nil, fmt.Errorf("upsert findings: a record has no id")
		}
		j, ok := pos[r.ID]
		if ok {
			out[j] = detect.MergeFindingRecords(out[j], r)
		} else {
			j = len(out)
			pos[r.ID] = j
			out = append(out, r)
		}
		idx[i] = j
	}
	return out, idx, nil
}

func canonicalIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = detect.CanonicalKey(id)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortRecords(out []detect.FindingRecord) {
	slices.SortFunc(out, func(a, b detect.FindingRecord) int { return strings.Compare(a.ID, b.ID) })
}

func sortCheckpoints(out []detect.Checkpoint) {
	slices.SortFunc(out, func(a, b detect.Checkpoint) int { return strings.Compare(a.Key, b.Key) })
}

// mergeWithStored merges a batch of records — those sharing an id first —
// with what the state already holds for their ids: the records an upsert
// writes. idx maps each given record to its merged one.
func mergeWithStored(ctx context.Context, r detect.Reader, recs []detect.FindingRecord) ([]detect.FindingRecord, []int, error) {
	merged, idx, err := mergeRecords(recs)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(merged))
	for i, rec := range merged {
		ids[i] = rec.ID
	}
	stored, err := r.Findings(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("upsert findings: %w", err)
	}
	old := make(map[string]detect.FindingRecord, len(stored))
	for _, rec := range stored {
		old[rec.ID] = rec
	}
	for i, rec := range merged {
		if o, ok := old[rec.ID]; ok {
			merged[i] = detect.MergeFindingRecords(o, rec)
		}
	}
	return merged, idx, nil
}
