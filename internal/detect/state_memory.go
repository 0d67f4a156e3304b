package detect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryState is a State held in memory: the reference implementation the
// tests use, and the state of a scan that keeps nothing between invocations.
// It is safe for concurrent use; Updates are serialized by a mutex, and a
// failed Update is rolled back from an undo log.
type MemoryState struct {
	mu          sync.RWMutex
	occurrences map[streamGroup][]Occurrence  // each sorted by CompareOccurrences
	baselines   map[kindScope]*scopeBaselines // by kind and scope, then value
	nBaselines  int
	findings    map[string]FindingRecord
	checkpoints map[string]Checkpoint
	// spare is the last transaction's undo log, emptied, for the next one
	// (Updates run one at a time): a log each would be most of what a
	// scan's flushes allocate.
	spare *memTx
}

// maxSpareLog is the longest undo log kept for the next transaction.
const maxSpareLog = 1 << 16

type streamGroup struct{ stream, group string }

type kindScope struct{ kind, scope string }

// NewMemoryState returns an empty in-memory state.
func NewMemoryState() *MemoryState {
	return &MemoryState{
		occurrences: map[streamGroup][]Occurrence{},
		baselines:   map[kindScope]*scopeBaselines{},
		findings:    map[string]FindingRecord{},
		checkpoints: map[string]Checkpoint{},
	}
}

// errTxDone is returned by a transaction used after its function returned.
var errTxDone = errors.New("state transaction used after it ended")

// Update runs fn in a transaction; see State.
func (m *MemoryState) Update(ctx context.Context, fn func(Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{m: m, write: true}
	if sp := m.spare; sp != nil {
		m.spare = nil
		tx.undo, tx.undoBaselines, tx.undoOccurrences, tx.log = sp.undo[:0], sp.undoBaselines[:0], sp.undoOccurrences[:0], sp.log[:0]
	}
	defer func() {
		tx.done = true
		if p := recover(); p != nil {
			tx.rollback()
			panic(p)
		}
		if err == nil {
			err = ctx.Err() // a context ended while fn ran aborts, as a database does
		}
		if err != nil {
			tx.rollback()
			return
		}
		// The log is kept for the next transaction, cleared (what it points
		// to is not kept alive by it), unless a large one made it large.
		if len(tx.log) > maxSpareLog {
			return
		}
		clear(tx.undo)
		clear(tx.undoBaselines)
		clear(tx.undoOccurrences)
		m.spare = &memTx{undo: tx.undo[:0], undoBaselines: tx.undoBaselines[:0], undoOccurrences: tx.undoOccurrences[:0], log: tx.log[:0]}
	}()
	return fn(tx)
}

// View runs fn over the state, read-only; see State.
func (m *MemoryState) View(ctx context.Context, fn func(Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	tx := &memTx{m: m}
	defer func() { tx.done = true }()
	return fn(tx)
}

type memTx struct {
	m     *MemoryState
	write bool
	done  bool
	undo  []func()

	// The hot writes log their undo as data, not closures — a closure each
	// would dominate their cost; log keeps every write's place, so that
	// rollback undoes them all in reverse order, whatever their kind.
	undoBaselines   []baselineUndo
	undoOccurrences []Occurrence
	log             []undoRef
}

// undoRef is one write to undo: an index into undo, undoBaselines or
// undoOccurrences.
type undoRef struct {
	kind uint8 // 0 closure, 1 baseline, 2 occurrence
	i    int32
}

func (tx *memTx) onUndo(fn func()) {
	tx.log = append(tx.log, undoRef{0, int32(len(tx.undo))})
	tx.undo = append(tx.undo, fn)
}

func (tx *memTx) rollback() {
	tx.rollbackTo(0)
	tx.undo, tx.undoBaselines, tx.undoOccurrences, tx.log = nil, nil, nil, nil
}

// rollbackTo undoes the writes logged from the n-th on.
func (tx *memTx) rollbackTo(n int) {
	for j := len(tx.log) - 1; j >= n; j-- {
		switch r := tx.log[j]; r.kind {
		case 0:
			tx.undo[r.i]()
		case 1:
			u := tx.undoBaselines[r.i]
			if u.had {
				b, _ := tx.m.baseline(u.k)
				*b = u.old
			} else {
				tx.m.removeBaseline(u.k)
			}
		case 2:
			tx.m.removeOccurrence(tx.undoOccurrences[r.i])
		}
	}
	tx.log = tx.log[:n]
}

func (tx *memTx) check(ctx context.Context) error {
	if tx.done {
		return errTxDone
	}
	return ctx.Err()
}

func (tx *memTx) Occurrences(ctx context.Context, ranges []OccurrenceRange) ([]Occurrence, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	var out []Occurrence
	for _, r := range ranges {
		r = r.Canonical()
		list := tx.m.occurrences[streamGroup{r.Stream, r.Group}]
		i, _ := slices.BinarySearchFunc(list, r.From, func(o Occurrence, t time.Time) int { return o.Time.Compare(t) })
		for ; i < len(list) && (r.To.IsZero() || list[i].Time.Before(r.To)); i++ {
			out = append(out, list[i])
		}
	}
	slices.SortFunc(out, CompareOccurrences)
	return slices.Compact(out), nil
}

func (tx *memTx) Baselines(ctx context.Context, keys []BaselineKey) ([]Baseline, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	seen := map[BaselineKey]bool{}
	var out []Baseline
	add := func(b *Baseline) {
		if !seen[b.BaselineKey] {
			seen[b.BaselineKey] = true
			out = append(out, *b)
		}
	}
	for _, k := range keys {
		k = k.Canonical()
		if k.Value != "" {
			if b, ok := tx.m.baseline(k); ok {
				add(b)
			}
			continue
		}
		if sb := tx.m.baselines[kindScope{k.Kind, k.Scope}]; sb != nil {
			for _, b := range sb.list {
				add(b)
			}
		}
	}
	slices.SortFunc(out, CompareBaselines)
	return out, nil
}

func (tx *memTx) Findings(ctx context.Context, ids []string) ([]FindingRecord, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	var out []FindingRecord
	seen := map[string]bool{}
	for _, id := range ids {
		id = CanonicalKey(id)
		if r, ok := tx.m.findings[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, cloneRecord(r))
		}
	}
	slices.SortFunc(out, func(a, b FindingRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (tx *memTx) ListFindings(ctx context.Context, after string, limit int) ([]FindingRecord, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	var ids []string
	for id := range tx.m.findings {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = ids[:min(limit, len(ids))]
	out := make([]FindingRecord, len(ids))
	for i, id := range ids {
		out[i] = cloneRecord(tx.m.findings[id])
	}
	return out, nil
}

func (tx *memTx) Checkpoints(ctx context.Context, keys []string) ([]Checkpoint, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	var out []Checkpoint
	seen := map[string]bool{}
	for _, k := range keys {
		k = CanonicalKey(k)
		if c, ok := tx.m.checkpoints[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (tx *memTx) checkWrite(ctx context.Context) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if !tx.write {
		return errors.New("state: write in a read-only transaction")
	}
	return nil
}

func (tx *memTx) AddOccurrences(ctx context.Context, occ []Occurrence) ([]bool, error) {
	if err := tx.checkWrite(ctx); err != nil {
		return nil, err
	}
	m := tx.m
	fresh := make([]bool, len(occ))
	for i, o := range occ {
		o = o.Canonical()
		// A group's list is sorted by the rest of the key: an occurrence
		// stored already is where this one would go.
		sg := streamGroup{o.Stream, o.Group}
		list := m.occurrences[sg]
		if n := len(list); n == 0 || compareInGroup(list[n-1], o) < 0 {
			list = append(list, o) // most arrive in time order
		} else {
			j, found := slices.BinarySearchFunc(list, o, compareInGroup)
			if found {
				continue
			}
			list = slices.Insert(list, j, o)
		}
		fresh[i] = true
		m.occurrences[sg] = list
		tx.log = append(tx.log, undoRef{2, int32(len(tx.undoOccurrences))})
		tx.undoOccurrences = append(tx.undoOccurrences, o)
	}
	return fresh, nil
}

func (m *MemoryState) removeOccurrence(o Occurrence) {
	sg := streamGroup{o.Stream, o.Group}
	list := m.occurrences[sg]
	if j, ok := slices.BinarySearchFunc(list, o, CompareOccurrences); ok {
		list = slices.Delete(list, j, j+1)
	}
	if len(list) == 0 {
		delete(m.occurrences, sg)
	} else {
		m.occurrences[sg] = list
	}
}

func (tx *memTx) Observe(ctx context.Context, obs []Observation) error {
	if err := tx.checkWrite(ctx); err != nil {
		return err
	}
	m := tx.m
	start := len(tx.log)
	tx.undoBaselines = slices.Grow(tx.undoBaselines, len(obs))
	for _, o := range obs {
		// A key found as it is was canonical (the stored ones are): the
		// text of most need no check.
		k := o.Key()
		b, had := m.baseline(k)
		if !had {
			if c := k.Canonical(); c != k {
				k = c
				b, had = m.baseline(k)
			}
		}
		o.Kind, o.Scope, o.Value = k.Kind, k.Scope, k.Value
		o = o.canonicalSightings()
		if o.Kind == "" || o.Scope == "" || o.Value == "" {
			// The call writes all or nothing: what it wrote is undone.
			tx.rollbackTo(start)
			return fmt.Errorf("observe: kind, scope and value must be set (%q, %q, %q)", o.Kind, o.Scope, o.Value)
		}
		var old Baseline
		if had {
			old = *b
			*b = MergeObservation(old, o)
		} else {
			b = new(Baseline)
			*b = MergeObservation(Baseline{}, o)
			m.addBaseline(b)
		}
		tx.log = append(tx.log, undoRef{1, int32(len(tx.undoBaselines))})
		tx.undoBaselines = append(tx.undoBaselines, baselineUndo{k, old, had})
	}
	return nil
}

// baselineUndo is how to undo one key's Observe: a typed log, as Observe
// touches many keys and a closure each would dominate its cost.
type baselineUndo struct {
	k   BaselineKey
	old Baseline
	had bool
}

// scopeBaselines are the baselines of one kind and scope. Most scopes hold
// a few values (a principal's regions), found by a scan of the list; past
// scopeIndexAt values (every principal is a value of one scope) a map
// finds them.
type scopeBaselines struct {
	list    []*Baseline
	byValue map[string]*Baseline
}

const scopeIndexAt = 8

func (sb *scopeBaselines) get(value string) *Baseline {
	if sb.byValue != nil {
		return sb.byValue[value]
	}
	for _, b := range sb.list {
		if b.Value == value {
			return b
		}
	}
	return nil
}

func (sb *scopeBaselines) add(b *Baseline) {
	sb.list = append(sb.list, b)
	switch {
	case sb.byValue != nil:
		sb.byValue[b.Value] = b
	case len(sb.list) > scopeIndexAt:
		sb.byValue = make(map[string]*Baseline, 2*len(sb.list))
		for _, b := range sb.list {
			sb.byValue[b.Value] = b
		}
	}
}

// filter keeps the baselines keep says to (asking once for each), and
// says how many went.
func (sb *scopeBaselines) filter(keep func(*Baseline) bool) int {
	n := len(sb.list)
	sb.list = slices.DeleteFunc(sb.list, func(b *Baseline) bool {
		if keep(b) {
			return false
		}
		if sb.byValue != nil {
			delete(sb.byValue, b.Value)
		}
		return true
	})
	gone := n - len(sb.list)
	if gone > 0 && sb.byValue != nil && (len(sb.list) <= scopeIndexAt || gone >= len(sb.list)) {
		// Few left, or most gone: a list, or a map of their size.
		sb.byValue = nil
		if len(sb.list) > scopeIndexAt {
			sb.byValue = make(map[string]*Baseline, len(sb.list))
			for _, b := range sb.list {
				sb.byValue[b.Value] = b
			}
		}
	}
	return gone
}

// baseline returns the baseline of k.
func (m *MemoryState) baseline(k BaselineKey) (*Baseline, bool) {
	if sb := m.baselines[kindScope{k.Kind, k.Scope}]; sb != nil {
		if b := sb.get(k.Value); b != nil {
			return b, true
		}
	}
	return nil, false
}

// addBaseline stores a baseline of a key that has none.
func (m *MemoryState) addBaseline(b *Baseline) {
	ks := kindScope{b.Kind, b.Scope}
	sb := m.baselines[ks]
	if sb == nil {
		sb = &scopeBaselines{}
		m.baselines[ks] = sb
	}
	sb.add(b)
	m.nBaselines++
}

func (m *MemoryState) removeBaseline(k BaselineKey) {
	m.dropBaselines(kindScope{k.Kind, k.Scope}, func(b *Baseline) bool { return b.Value == k.Value })
}

// dropBaselines removes the baselines of one kind and scope drop says to.
func (m *MemoryState) dropBaselines(ks kindScope, drop func(*Baseline) bool) int {
	sb := m.baselines[ks]
	if sb == nil {
		return 0
	}
	n := sb.filter(func(b *Baseline) bool { return !drop(b) })
	if len(sb.list) == 0 {
		delete(m.baselines, ks)
	}
	m.nBaselines -= n
	return n
}

func (tx *memTx) UpsertFindings(ctx context.Context, recs []FindingRecord) ([]FindingRecord, error) {
	if err := tx.checkWrite(ctx); err != nil {
		return nil, err
	}
	canon := make([]FindingRecord, len(recs))
	for i, r := range recs {
		r = r.Canonical()
		if r.ID == "" {
			return nil, errors.New("upsert findings: a record has no id")
		}
		canon[i] = r
	}
	m := tx.m
	for _, r := range canon {
		old, had := m.findings[r.ID]
		if had {
			r = MergeFindingRecords(old, r)
		}
		m.findings[r.ID] = r
		tx.onUndo(func() {
			if had {
				m.findings[r.ID] = old
			} else {
				delete(m.findings, r.ID)
			}
		})
	}
	out := make([]FindingRecord, len(canon))
	for i, r := range canon {
		out[i] = cloneRecord(m.findings[r.ID])
	}
	return out, nil
}

func (tx *memTx) SetCheckpoints(ctx context.Context, cps []Checkpoint) error {
	if err := tx.checkWrite(ctx); err != nil {
		return err
	}
	m := tx.m
	for _, c := range cps {
		c = c.Canonical()
		old, had := m.checkpoints[c.Key]
		m.checkpoints[c.Key] = c
		tx.onUndo(func() {
			if had {
				m.checkpoints[c.Key] = old
			} else {
				delete(m.checkpoints, c.Key)
			}
		})
	}
	return nil
}

func (tx *memTx) Evict(ctx context.Context, r Retention) (Evicted, error) {
	if err := tx.checkWrite(ctx); err != nil {
		return Evicted{}, err
	}
	r = r.Canonical()
	m := tx.m
	var n Evicted
	if !r.Occurrences.IsZero() {
		for sg, list := range m.occurrences {
			cut, _ := slices.BinarySearchFunc(list, r.Occurrences, func(o Occurrence, t time.Time) int { return o.Time.Compare(t) })
			gone := slices.Clone(list[:cut])
			if cut == len(list) {
				delete(m.occurrences, sg)
			} else {
				m.occurrences[sg] = slices.Clone(list[cut:])
			}
			n.Occurrences += int64(cut)
			if cut > 0 {
				tx.onUndo(func() {
					m.occurrences[sg] = slices.SortedFunc(slices.Values(append(gone, m.occurrences[sg]...)), CompareOccurrences)
				})
			}
		}
	}
	if !r.Observations.IsZero() {
		for ks := range m.baselines {
			m.dropBaselines(ks, func(b *Baseline) bool {
				if !b.Last.Time.Before(r.Observations) {
					return false
				}
				n.Observations++
				tx.onUndo(func() { m.addBaseline(b) })
				return true
			})
		}
	}
	if !r.Findings.IsZero() {
		for id, f := range m.findings {
			if !f.LastSeen.IsZero() && f.LastSeen.Before(r.Findings) {
				delete(m.findings, id)
				n.Findings++
				tx.onUndo(func() { m.findings[id] = f })
			}
		}
	}
	if !r.Checkpoints.IsZero() {
		for k, c := range m.checkpoints {
			if !c.Time.IsZero() && c.Time.Before(r.Checkpoints) {
				delete(m.checkpoints, k)
				n.Checkpoints++
				tx.onUndo(func() { m.checkpoints[k] = c })
			}
		}
	}
	return n, nil
}

// cloneRecord copies a record's slices and maps, so a caller that changes
// what it got back cannot change the state.
func cloneRecord(r FindingRecord) FindingRecord {
	r.Body = slices.Clone(r.Body)
	r.Evidence = slices.Clone(r.Evidence)
	if r.Counters != nil {
		c := make(map[string]int64, len(r.Counters))
		for k, v := range r.Counters {
			c[k] = v
		}
		r.Counters = c
	}
	if r.Values != nil {
		v := make(map[string][]Stamp, len(r.Values))
		for k, s := range r.Values {
			v[k] = slices.Clone(s)
		}
		r.Values = v
	}
	return r
}

// Baselines counts the baselines held.
func (m *MemoryState) BaselineCount() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.nBaselines
}

// DropBaselines removes the baselines drop says to, and says how many. It
// is for a run's own state kept in memory, which evicts by kind (see
// Profiler.Expire); a persistent state evicts by Retention.
func (m *MemoryState) DropBaselines(drop func(Baseline) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, scopes := 0, len(m.baselines)
	for ks := range m.baselines {
		n += m.dropBaselines(ks, func(b *Baseline) bool { return drop(*b) })
	}
	// Go maps keep their size after deletes: past a third of the scopes
	// gone, copy what is left into a map of its size, so the memory goes
	// too.
	if gone := scopes - len(m.baselines); gone > 0 && gone >= scopes/3 {
		kept := make(map[kindScope]*scopeBaselines, len(m.baselines))
		for ks, sb := range m.baselines {
			kept[ks] = sb
		}
		m.baselines = kept
	}
	return n
}
