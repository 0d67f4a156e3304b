// Package lookuptest is a CloudTrail LookupEvents endpoint for tests: an
// HTTP server on 127.0.0.1 speaking the AWS JSON 1.1 protocol as the real
// aws-sdk-go-v2 CloudTrail client does (POST /, X-Amz-Target:
// CloudTrail_20131101.LookupEvents, timestamps as epoch seconds), serving
// events per region, paginating with opaque NextTokens, and recording every
// request — its region (from the SigV4 credential scope), time and
// parameters — so that tests can check what the SDK really sent and how
// fast.
//
// Following the LookupEvents API reference: events come newest first;
// MaxResults is 1 to 50 (default 50), beyond is InvalidMaxResultsException;
// StartTime after EndTime is InvalidTimeRangeException; a NextToken used
// with other parameters than the call that returned it is
// InvalidNextTokenException. The documented limit, two requests per second
// per account per region, is enforced: a third request within one second in
// one region gets ThrottlingException (and is counted in Throttled).
// LookupAttributes and EventCategory are not supported (a request with them
// fails), nor is the 90-day horizon.
package lookuptest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// Target is the X-Amz-Target of LookupEvents.
const Target = "CloudTrail_20131101.LookupEvents"

// Event is one CloudTrail event the server holds.
type Event struct {
	ID     string
	Name   string
	Source string
	Time   time.Time
	Record string // the CloudTrailEvent JSON
}

// Request is one LookupEvents call the server received.
type Request struct {
	At         time.Time
	Region     string
	StartTime  *time.Time
	EndTime    *time.Time
	MaxResults int
	NextToken  string
	Throttled  bool
}

// Server is a running endpoint.
type Server struct {
	URL string

	mu       sync.Mutex
	events   map[string][]Event // region → events
	requests []Request
	tokens   map[string]page
	seq      int
}

// page is what a NextToken continues: the query and where it stopped.
type page struct {
	region     string
	start, end string
	max        int
	offset     int
}

// Start starts a server for the test's duration.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{events: map[string][]Event{}, tokens: map[string]page{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client returns a real CloudTrail client for region pointed at the
// server, with static credentials.
func (s *Server) Client(region string) *cloudtrail.Client {
	return cloudtrail.New(s.Options(region))
}

// Options are CloudTrail client options for the server in region.
func (s *Server) Options(region string) cloudtrail.Options {
	return cloudtrail.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIALOOKUPTESTEXAMPL", SecretAccessKey: "lookuptest", Source: "lookuptest"}, nil
		}),
	}
}

// Add adds events to a region.
func (s *Server) Add(region string, evs ...Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[region] = append(s.events[region], evs...)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// MaxInWindow is the largest number of requests to one region whose
// arrival times fall within any half-open window [t, t+d).
func MaxInWindow(reqs []Request, region string, d time.Duration) int {
	var at []time.Time
	for _, r := range reqs {
		if r.Region == region {
			at = append(at, r.At)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	best := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < d {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

var scope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([a-z0-9-]+)/cloudtrail/aws4_request`)

// lookupInput is the JSON 1.1 request body.
type lookupInput struct {
	StartTime        *float64        `json:"StartTime"`
	EndTime          *float64        `json:"EndTime"`
	MaxResults       *int            `json:"MaxResults"`
	NextToken        *string         `json:"NextToken"`
	LookupAttributes json.RawMessage `json:"LookupAttributes"`
	EventCategory    *string         `json:"EventCategory"`
}

type outEvent struct {
	EventId         string  `json:"EventId"`
	EventName       string  `json:"EventName"`
	EventSource     string  `json:"EventSource"`
	EventTime       float64 `json:"EventTime"`
	CloudTrailEvent string  `json:"CloudTrailEvent"`
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func fromEpoch(f *float64) *time.Time {
	if f == nil {
		return nil
	}
	t := time.Unix(0, int64(*f*1e9)).UTC()
	return &t
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A few milliseconds before answering: aws-sdk-go-v2 can lose a
	// response from a very fast loopback server (see DESIGN.md).
	time.Sleep(2 * time.Millisecond)
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(http.StatusNotFound, "UnknownOperationException", r.Method+" "+r.URL.Path)
		return
	}
	if got := r.Header.Get("X-Amz-Target"); got != Target {
		fail(http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target "+got)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		fail(http.StatusBadRequest, "SerializationException", "Content-Type "+ct)
		return
	}
	m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		fail(http.StatusBadRequest, "MissingAuthenticationTokenException", "no SigV4 Authorization for cloudtrail")
		return
	}
	region := m[1]
	var in lookupInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	now := time.Now()
	req := Request{At: now, Region: region, StartTime: fromEpoch(in.StartTime), EndTime: fromEpoch(in.EndTime), MaxResults: 50}
	if in.MaxResults != nil {
		req.MaxResults = *in.MaxResults
	}
	if in.NextToken != nil {
		req.NextToken = *in.NextToken
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	recent := 0
	for _, q := range s.requests {
		if q.Region == region && !q.Throttled && now.Sub(q.At) < time.Second {
			recent++
		}
	}
	if recent >= 2 {
		req.Throttled = true
		s.requests = append(s.requests, req)
		fail(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	s.requests = append(s.requests, req)
	switch {
	case in.LookupAttributes != nil || in.EventCategory != nil:
		fail(http.StatusBadRequest, "InvalidLookupAttributesException", "lookuptest does not support LookupAttributes or EventCategory")
		return
	case req.MaxResults < 1 || req.MaxResults > 50:
		fail(http.StatusBadRequest, "InvalidMaxResultsException", fmt.Sprintf("MaxResults %d: 1 to 50", req.MaxResults))
		return
	case req.StartTime != nil && req.EndTime != nil && req.StartTime.After(*req.EndTime):
		fail(http.StatusBadRequest, "InvalidTimeRangeException", "StartTime after EndTime")
		return
	}
	q := page{region: region, max: req.MaxResults}
	if req.StartTime != nil {
		q.start = req.StartTime.Format(time.RFC3339Nano)
	}
	if req.EndTime != nil {
		q.end = req.EndTime.Format(time.RFC3339Nano)
	}
	if req.NextToken != "" {
		prev, ok := s.tokens[req.NextToken]
		if !ok || prev.region != q.region || prev.start != q.start || prev.end != q.end {
			fail(http.StatusBadRequest, "InvalidNextTokenException", "NextToken not from a call with these parameters")
			return
		}
		q.offset = prev.offset
	}
	var match []Event
	for _, e := range s.events[region] {
		if req.StartTime != nil && e.Time.Before(*req.StartTime) || req.EndTime != nil && e.Time.After(*req.EndTime) {
			continue
		}
		match = append(match, e)
	}
	slices.SortStableFunc(match, func(a, b Event) int { return b.Time.Compare(a.Time) })
	end := min(q.offset+q.max, len(match))
	out := struct {
		Events    []outEvent `json:"Events"`
		NextToken *string    `json:"NextToken,omitempty"`
	}{Events: []outEvent{}}
	for _, e := range match[min(q.offset, len(match)):end] {
		out.Events = append(out.Events, outEvent{EventId: e.ID, EventName: e.Name, EventSource: e.Source, EventTime: epoch(e.Time), CloudTrailEvent: e.Record})
	}
	if end < len(match) {
		s.seq++
		tok := "page-" + strconv.Itoa(s.seq)
		next := q
		next.offset = end
		s.tokens[tok] = next
		out.NextToken = &tok
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}
