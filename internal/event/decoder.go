package event

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Format is what a stream turned out to hold, recognised by its bytes.
type Format uint8

// The formats the decoder recognises.
const (
	FormatUnknown  Format = iota
	FormatEmpty           // nothing but whitespace
	FormatLogFile         // {"Records":[...]} as CloudTrail delivers to S3
	FormatArray           // a JSON array of events or EventBridge envelopes
	FormatLines           // JSON Lines, or concatenated objects: events or envelopes
	FormatDigest          // a CloudTrail digest file: skipped
	FormatInsights        // a CloudTrail Insights file: skipped
)

var formatNames = [...]string{"unknown", "empty", "CloudTrail log file", "JSON array", "JSON Lines", "CloudTrail digest file", "CloudTrail Insights file"}

func (f Format) String() string { return formatNames[f] }

// ErrSkipFile is returned by Next when the stream is a digest or Insights
// file: not an error, and not events. Format says which.
var ErrSkipFile = errors.New("not a file of events")

// RecordError is one bad record. The stream goes on: call Next again.
type RecordError struct {
	Index  int   // 1-based position of the record in the stream
	Offset int64 // byte offset of the record in the (decompressed) stream
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d at byte %d: %v", e.Index, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// MaxRecordSize bounds the bytes one record (or one digest file) may take; a
// larger one is reported bad, so memory stays bounded whatever the input.
const MaxRecordSize = 64 << 20

const initialBuffer = 256 << 10

// Decoder reads a stream of CloudTrail records. Its memory is the read buffer,
// sized to the largest record seen, whatever the length of the stream.
type Decoder struct {
	r      io.Reader
	buf    []byte
	pos    int   // next unread byte in buf
	end    int   // end of valid data in buf
	base   int64 // stream offset of buf[0]
	eof    bool
	rerr   error // read error other than io.EOF, reported once the data before it is used
	state  state
	format Format
	index  int // records started so far
	p      *recordParser

	inRecords bool // inside a log file's "Records" array

	// reuse, when set, is the one Event every Next fills (see Reuse).
	reuse *Event

	// When a top-level object that holds "Records" was read whole, the
	// stream offset just past it: where to go after its array.
	objEnd int64
}

type state uint8

const (
	stTop          state = iota // between top-level values
	stElemFirst                 // after '[': an element or ']'
	stElemNext                  // after an element: ',' or ']'
	stAfterRecords              // after the Records array: the rest of its object
	stDone
)

// NewDecoder returns a decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, buf: make([]byte, initialBuffer), p: newRecordParser()}
}

// Reset makes the decoder read r from the start, keeping its buffers.
func (d *Decoder) Reset(r io.Reader) {
	buf, p, reuse := d.buf, d.p, d.reuse
	if len(buf) > initialBuffer<<2 {
		buf = make([]byte, initialBuffer) // let one huge record's buffer go
	}
	if reuse != nil && cap(reuse.Raw) > initialBuffer<<2 {
		reuse = &Event{}
	}
	*d = Decoder{r: r, buf: buf, p: p, reuse: reuse}
}

// Reuse makes Next fill one Event over and over instead of allocating one
// per record: the Event (and every string read from it) is valid only until
// the next call to Next. For consumers that copy what they keep — the scan
// pipeline does — it saves the allocation and garbage collection of every
// event.
func (d *Decoder) Reuse() {
	if d.reuse == nil {
		d.reuse = &Event{}
	}
}

// Format tells what the stream holds, as far as it has been read.
func (d *Decoder) Format() Format { return d.format }

// Offset is the number of (decompressed) bytes consumed so far.
func (d *Decoder) Offset() int64 { return d.base + int64(d.pos) }

// fill reads more input, keeping buf[pos:end]. It reports whether any byte
// was added.
func (d *Decoder) fill() (bool, error) {
	if d.eof {
		return false, nil
	}
	if d.pos > 0 {
		n := copy(d.buf, d.buf[d.pos:d.end])
		d.base += int64(d.pos)
		d.end, d.pos = n, 0
	}
	if d.end == len(d.buf) {
		if len(d.buf) >= MaxRecordSize {
			return false, fmt.Errorf("a single value is larger than %d MiB", MaxRecordSize>>20)
		}
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.end])
		d.buf = nb
	}
	for {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			d.eof, d.rerr = true, err
		}
		if n > 0 || d.eof {
			return n > 0, nil
		}
	}
}

// parse runs f on the unread bytes, reading more while f needs more. At the
// end of input a value that needs more is truncated.
func (d *Decoder) parse(f func(b []byte) (int, error)) (int, error) {
	for {
		n, err := f(d.buf[d.pos:d.end])
		if err != errShort {
			return n, err
		}
		added, ferr := d.fill()
		if ferr != nil {
			return 0, ferr
		}
		if !added {
			return 0, d.truncated()
		}
	}
}

func (d *Decoder) truncated() error {
	if d.rerr != nil {
		return fmt.Errorf("input ends inside a value: %w", d.rerr)
	}
	return errors.New("input ends inside a value (truncated)")
}

// peek skips whitespace (and a UTF-8 byte order mark at the start) and
// returns the next byte; ok is false at the end of input.
func (d *Decoder) peek() (c byte, ok bool, err error) {
	for {
		d.pos = skipSpace(d.buf[:d.end], d.pos)
		if d.base == 0 && d.pos == 0 && d.end > 0 && d.buf[0] == 0xef {
			if d.end < 3 && !d.eof {
				if _, err := d.fill(); err != nil {
					return 0, false, err
				}
				continue
			}
			if bytes.HasPrefix(d.buf[:d.end], []byte("\xef\xbb\xbf")) {
				d.pos = 3
				continue
			}
		}
		if d.pos < d.end {
			return d.buf[d.pos], true, nil
		}
		added, err := d.fill()
		if err != nil {
			return 0, false, err
		}
		if !added {
			return 0, false, nil
		}
	}
}

// Next returns the next event. At the end of the stream it returns io.EOF.
// A *RecordError reports one bad record: the stream goes on. ErrSkipFile says
// the stream is a digest or Insights file. Any other error ends the stream.
func (d *Decoder) Next() (*Event, error) {
	for {
		if d.state == stDone {
			return nil, io.EOF
		}
		c, ok, err := d.peek()
		if err != nil {
			d.state = stDone
			return nil, err
		}
		if !ok {
			return nil, d.endOfInput()
		}
		switch d.state {
		case stTop:
			ev, err := d.top(c)
			if ev != nil || err != nil {
				return ev, err
			}
		case stElemFirst, stElemNext:
			if c == ']' {
				d.pos++
				d.state = stTop
				if d.inRecords {
					d.inRecords = false
					d.state = stAfterRecords
				}
				continue
			}
			if d.state == stElemNext {
				if c != ',' {
					return nil, d.resync(fmt.Errorf("invalid character %s after array element", quoteChar(c)))
				}
				d.pos++
				if c, ok, err = d.peek(); err != nil || !ok {
					if err == nil {
						err = d.endOfInput()
					}
					return nil, err
				}
			}
			d.state = stElemNext
			return d.element(c)
		case stAfterRecords:
			if err := d.afterRecords(); err != nil {
				d.state = stDone
				return nil, err
			}
		}
	}
}

func (d *Decoder) endOfInput() error {
	st := d.state
	d.state = stDone
	if d.rerr != nil {
		return fmt.Errorf("read after byte %d: %w", d.Offset(), d.rerr)
	}
	if st != stTop {
		return &RecordError{Index: d.index + 1, Offset: d.Offset(), Err: errors.New("input ends before the array closes (truncated)")}
	}
	if d.format == FormatUnknown {
		d.format = FormatEmpty
	}
	return io.EOF
}

// top handles a top-level value: a log file's opening, an array, or an
// object that is itself an event, an envelope or a digest file.
func (d *Decoder) top(c byte) (*Event, error) {
	switch c {
	case '[':
		d.pos++
		d.state = stElemFirst
		if d.format == FormatUnknown {
			d.format = FormatArray
		}
		return nil, nil
	case '{':
		if d.enterRecords() {
			return nil, nil
		}
		if d.format == FormatUnknown {
			d.format = FormatLines
		}
		return d.element(c)
	}
	if d.format == FormatUnknown {
		d.state = stDone
		return nil, fmt.Errorf("not JSON: starts with %s", quoteChar(c))
	}
	d.index++
	return nil, d.skipLine(&RecordError{Index: d.index, Offset: d.Offset(), Err: fmt.Errorf("invalid character %s looking for a record", quoteChar(c))})
}

// enterRecords recognises `{"Records":[` and moves past it, so the records
// stream one by one without the whole file in memory.
func (d *Decoder) enterRecords() bool {
	end, err := d.parse(func(b []byte) (int, error) {
		i := skipSpace(b, 1)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] != '"' {
			return 0, nil
		}
		kend, _, err := stringEnd(b, i)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(b[i:kend], []byte(`"Records"`)) {
			return 0, nil
		}
		i = skipSpace(b, kend)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] != ':' {
			return 0, nil
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] != '[' {
			return 0, nil
		}
		return i + 1, nil
	})
	if err != nil || end == 0 {
		return false // the general object path reports what is wrong
	}
	d.pos += end
	d.state = stElemFirst
	d.inRecords = true
	if d.format == FormatUnknown || d.format == FormatLines {
		d.format = FormatLogFile
	}
	return true
}

// afterRecords consumes the rest of the object that held "Records".
func (d *Decoder) afterRecords() error {
	if d.objEnd > 0 {
		d.pos = int(d.objEnd - d.base)
		d.objEnd = 0
		d.state = stTop
		return nil
	}
	end, err := d.parse(func(b []byte) (int, error) {
		// b starts at ',' or '}': reuse the object walker on a synthetic view.
		i := skipSpace(b, 0)
		if i >= len(b) {
			return 0, errShort
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, syntaxErr(i, "invalid character %s after the Records array", quoteChar(b[i]))
		}
		for {
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return 0, errShort
			}
			if b[i] != '"' {
				return 0, syntaxErr(i, "invalid character %s looking for an object key", quoteChar(b[i]))
			}
			kend, _, err := stringEnd(b, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, kend)
			if i >= len(b) {
				return 0, errShort
			}
			if b[i] != ':' {
				return 0, syntaxErr(i, "invalid character %s after object key", quoteChar(b[i]))
			}
			if i, err = valueEnd(b, skipSpace(b, i+1), 1); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, errShort
			}
			switch b[i] {
			case '}':
				return i + 1, nil
			case ',':
			default:
				return 0, syntaxErr(i, "invalid character %s after object value", quoteChar(b[i]))
			}
		}
	})
	if err != nil {
		return fmt.Errorf("after the Records array: %w", err)
	}
	d.pos += end
	d.state = stTop
	return nil
}

// element decodes one record (or envelope, or digest object) at d.pos.
func (d *Decoder) element(c byte) (*Event, error) {
	d.index++
	start := d.Offset()
	fail := func(err error) error { return &RecordError{Index: d.index, Offset: start, Err: err} }
	if c != '{' {
		end, err := d.parse(func(b []byte) (int, error) { return valueEnd(b, 0, 0) })
		if err != nil {
			return nil, d.resync(err)
		}
		kind := kindOf(d.buf[d.pos:])
		d.pos += end
		return nil, fail(fmt.Errorf("a record must be an object, found %s", kind))
	}
	end, err := d.parse(func(b []byte) (int, error) { return d.p.parse(b, 0) })
	if err != nil {
		return nil, d.resync(err)
	}
	b := d.buf[d.pos : d.pos+end]
	p := d.p
	switch {
	case p.records.kind == Array && d.format == FormatLines && d.index == 1:
		// {"Records":[...]} whose first key is not Records: the object is in
		// the buffer whole; walk its array in place, then jump past it.
		d.format = FormatLogFile
		d.index = 0
		d.objEnd = start + int64(end)
		d.pos += int(p.records.start) + 1
		d.state = stElemFirst
		d.inRecords = true
		return nil, nil
	case p.digest && p.seen&(1<<EventID) == 0:
		d.pos += end
		if d.index == 1 {
			d.format = FormatDigest
			d.state = stDone
			return nil, ErrSkipFile
		}
		return nil, fail(errors.New("a CloudTrail digest object among events"))
	case p.detail.kind != Missing || p.detailType != "":
		d.pos += end
		if !strings.HasSuffix(p.detailType, "via CloudTrail") || p.detail.kind != Object {
			return nil, fail(fmt.Errorf("EventBridge event of detail-type %q holds no CloudTrail record", p.detailType))
		}
		if err := p.reparse(b, int(p.detail.start)); err != nil {
			return nil, fail(err)
		}
		return d.finish(p.event(b, int(p.detail.start), int(p.detail.end), d.reuse), fail)
	}
	d.pos += end
	ev := p.event(b, 0, end, d.reuse)
	if d.index == 1 && d.format == FormatLogFile && ev.Str(EventType) == "AwsCloudTrailInsight" {
		d.format = FormatInsights
		d.state = stDone
		return nil, ErrSkipFile
	}
	return d.finish(ev, fail)
}

// identifying are the fields every CloudTrail record has; a record needs at
// least one of them to be taken for one (skeletal records are fine).
var identifying = [...]Field{EventVersion, EventTime, EventSource, EventName, EventID}

func (d *Decoder) finish(ev *Event, fail func(error) error) (*Event, error) {
	cloudTrail := false
	for _, f := range identifying {
		if ev.hot[f].Kind != Missing && ev.hot[f].Kind != Null {
			cloudTrail = true
		}
	}
	if !cloudTrail {
		return nil, fail(errors.New("not a CloudTrail record: it has none of eventVersion, eventTime, eventSource, eventName, eventID"))
	}
	if t := ev.hot[EventTime]; t.Kind != Missing && t.Kind != Null && ev.Time.IsZero() {
		return nil, fail(fmt.Errorf("eventTime %s is not an RFC 3339 time", t.Str))
	}
	return ev, nil
}

// resync reports a record that could not be parsed and moves to where the
// next record can start: the next CloudTrail record opening inside an array,
// the next line that opens an object otherwise.
func (d *Decoder) resync(err error) error {
	rerr := &RecordError{Index: d.index, Offset: d.Offset(), Err: err}
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Offset += d.Offset()
	} else if d.eof || d.rerr != nil {
		d.state = stDone
		return rerr
	}
	if d.state == stTop {
		return d.skipLine(rerr)
	}
	// Inside an array: CloudTrail writes eventVersion first in every record,
	// compact or pretty-printed.
	for {
		if k := recordStart(d.buf[min(d.pos+1, d.end):d.end]); k >= 0 {
			d.pos += 1 + k
			d.state = stElemFirst
			return rerr
		}
		d.pos = max(d.end-64, d.pos) // keep a marker that straddles the refill
		added, ferr := d.fill()
		if ferr != nil || !added {
			d.pos = d.end
			d.state = stDone
			rerr.Err = fmt.Errorf("%w; no further record could be found, the rest of the input is skipped", err)
			return rerr
		}
	}
}

// recordStart finds the '{' that opens a record whose first key is
// "eventVersion", allowing whitespace between them; -1 when there is none.
func recordStart(b []byte) int {
	from := 0
	for {
		k := bytes.Index(b[from:], []byte(`"eventVersion"`))
		if k < 0 {
			return -1
		}
		k += from
		j := k - 1
		for j >= 0 && isSpace(b[j]) {
			j--
		}
		if j >= 0 && b[j] == '{' {
			return j
		}
		from = k + 1
	}
}

// skipLine moves to the next line that starts with '{' (JSON Lines).
func (d *Decoder) skipLine(rerr *RecordError) error {
	from := d.pos + 1
	for {
		if k := bytes.Index(d.buf[from:d.end], []byte("\n{")); k >= 0 {
			d.pos = from + k + 1
			d.state = stTop
			return rerr
		}
		d.pos = max(d.end-1, d.pos)
		added, ferr := d.fill()
		if ferr != nil || !added {
			d.pos = d.end
			d.state = stDone
			return rerr
		}
		from = d.pos
	}
}
