package sqstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Account, Region and the credentials the helpers use. Queue URLs are
// http://127.0.0.1:PORT/000000000000/NAME and queue ARNs
// arn:aws:sqs:us-east-1:000000000000:NAME.
const (
	Account         = "000000000000"
	Region          = "us-east-1"
	AccessKeyID     = "AKIASQSTESTEXAMPLE01"
	SecretAccessKey = "sqstest/secret/not/checked"
)

// queryNamespace is the XML namespace of every query protocol response.
const queryNamespace = "http://queue.amazonaws.com/doc/2012-11-05/"

// maxRequestBody bounds a request: ten 256 KiB messages percent-encoded in a
// query request fit; anything larger is refused before it is read.
const maxRequestBody = 8 << 20

// Options configure a Server. The zero value is a real-time server.
type Options struct {
	// Now is the server's clock for message timestamps, delays, visibility
	// timeouts, retention and the 60-second rules (PurgeQueue, DeleteQueue).
	// nil means time.Now. Long polling waits in real time either way: a
	// ReceiveMessage with WaitTimeSeconds holds the request open for at most
	// that long on the wall clock, and notices a controlled clock moving on
	// within pollInterval.
	Now func() time.Time
}

// pollInterval is how often a long poll looks at a controlled clock, which
// gives no signal when it is moved on.
const pollInterval = 20 * time.Millisecond

// A Server is an SQS endpoint on 127.0.0.1 serving both wire protocols. It
// is safe for concurrent use.
type Server struct {
	http   *httptest.Server
	now    func() time.Time
	manual bool // Options.Now was given: see pollInterval

	mu      sync.Mutex
	queues  map[string]*queue
	deleted map[string]time.Time // queue name → when it was deleted
	changed chan struct{}        // closed and replaced on every change a long poll may wait for
	seq     uint64               // send order across queues

	done      chan struct{} // closed by Close: long polls end at once
	closeOnce sync.Once
}

// New starts a real-time Server for a test and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := Start(Options{})
	t.Cleanup(s.Close)
	return s
}

// Start starts a Server on a free port of 127.0.0.1. The caller must Close
// it.
func Start(opts Options) *Server {
	s := &Server{
		now:     opts.Now,
		manual:  opts.Now != nil,
		queues:  map[string]*queue{},
		deleted: map[string]time.Time{},
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	// httptest listens on 127.0.0.1 by default; say so, since a test server
	// must never listen beyond loopback.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("sqstest: listen on 127.0.0.1: %v", err))
	}
	s.http = httptest.NewUnstartedServer(s)
	s.http.Listener.Close()
	s.http.Listener = l
	s.http.Start()
	return s
}

// URL is the endpoint: http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.http.URL }

// QueueURL is the URL of the queue with this name (whether or not it
// exists).
func (s *Server) QueueURL(name string) string { return s.http.URL + "/" + Account + "/" + name }

// QueueARN is the ARN of the queue with this name.
func QueueARN(name string) string { return "arn:aws:sqs:" + Region + ":" + Account + ":" + name }

// Close ends long polls in progress and stops the server. It is safe to call
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.http.Close()
	})
}

// notify wakes every long poll; the caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// An operation decodes its input from either protocol and runs it.
type operation struct {
	decodeJSON  func(body []byte) (any, *apiError)
	decodeQuery func(f form) (any, *apiError)
	run         func(s *Server, ctx context.Context, r *request, in any) (any, *apiError)
}

// queryDecoder is an input that can read itself from a query request.
type queryDecoder[In any] interface {
	*In
	query(form) *apiError
}

func op[In any, P queryDecoder[In], Out any](run func(s *Server, ctx context.Context, r *request, in P) (Out, *apiError)) operation {
	return operation{
		decodeJSON: func(body []byte) (any, *apiError) {
			in := P(new(In))
			if len(bytes.TrimSpace(body)) == 0 {
				return in, nil
			}
			if err := json.Unmarshal(body, in); err != nil {
				return nil, errSerialization.new("Could not parse the request body as JSON: %v", err)
			}
			return in, nil
		},
		decodeQuery: func(f form) (any, *apiError) {
			in := P(new(In))
			if err := in.query(f); err != nil {
				return nil, err
			}
			return in, nil
		},
		run: func(s *Server, ctx context.Context, r *request, in any) (any, *apiError) {
			return run(s, ctx, r, in.(P))
		},
	}
}

// noOutput is the result of operations whose response has no body: "{}" in
// JSON, only ResponseMetadata in XML.
type noOutput struct{}

// operations are the actions sqstest serves. Other SQS actions are answered
// with UnsupportedOperation, naming the action.
var operations map[string]operation

func init() {
	operations = map[string]operation{
		"CreateQueue":                  op((*Server).createQueue),
		"GetQueueUrl":                  op((*Server).getQueueURL),
		"ListQueues":                   op((*Server).listQueues),
		"DeleteQueue":                  op((*Server).deleteQueue),
		"PurgeQueue":                   op((*Server).purgeQueue),
		"GetQueueAttributes":           op((*Server).getQueueAttributes),
		"SetQueueAttributes":           op((*Server).setQueueAttributes),
		"SendMessage":                  op((*Server).sendMessage),
		"SendMessageBatch":             op((*Server).sendMessageBatch),
		"ReceiveMessage":               op((*Server).receiveMessage),
		"DeleteMessage":                op((*Server).deleteMessage),
		"DeleteMessageBatch":           op((*Server).deleteMessageBatch),
		"ChangeMessageVisibility":      op((*Server).changeVisibility),
		"ChangeMessageVisibilityBatch": op((*Server).changeVisibilityBatch),
	}
}

// unimplemented are the SQS actions sqstest knows of but does not serve.
var unimplemented = map[string]bool{
	"AddPermission": true, "RemovePermission": true, "TagQueue": true, "UntagQueue": true,
	"ListQueueTags": true, "ListDeadLetterSourceQueues": true, "StartMessageMoveTask": true,
	"CancelMessageMoveTask": true, "ListMessageMoveTasks": true,
}

// request is what an operation may need of the HTTP request besides its
// input.
type request struct {
	id       string // x-amzn-RequestId / RequestId
	senderID string // from the Authorization header's credential
	path     string // the URL path: query requests may be sent to the queue URL
}

// ServeHTTP answers one SQS request in the protocol it came in.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r := &request{id: newUUID(), path: hr.URL.Path}
	isJSON := hr.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(hr.Header.Get("Content-Type"), "application/x-amz-json")
	action, out, aerr := s.handle(hr, r, isJSON)
	if isJSON {
		writeJSON(w, r, out, aerr)
	} else {
		writeXML(w, r, action, out, aerr)
	}
}

func (s *Server) handle(hr *http.Request, r *request, isJSON bool) (string, any, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, hr.Body, maxRequestBody))
	if err != nil {
		return "", nil, errRequestTooLarge.new("The request body is larger than %d bytes or could not be read: %v", maxRequestBody, err)
	}
	var (
		action string
		in     any
		aerr   *apiError
		opn    operation
	)
	if isJSON {
		target := hr.Header.Get("X-Amz-Target")
		name, ok := strings.CutPrefix(target, "AmazonSQS.")
		if !ok {
			return "", nil, errUnknownOperation.new("X-Amz-Target %q does not name an AmazonSQS operation", target)
		}
		action = name
		if opn, aerr = lookupOperation(name); aerr != nil {
			return action, nil, aerr
		}
		in, aerr = opn.decodeJSON(body)
	} else {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return "", nil, errMalformedQuery.new("The request body is not a form: %v", err)
		}
		for k, v := range hr.URL.Query() {
			values[k] = append(values[k], v...)
		}
		f := form(values)
		action = f.str("Action")
		if action == "" {
			return "", nil, errMissingAction.new("The request must contain the parameter Action.")
		}
		if v := f.str("Version"); v != "2012-11-05" {
			if v == "" {
				return action, nil, missing("Version")
			}
			return action, nil, errNoSuchVersion.new("The requested version (%s) of service AmazonSQS does not exist.", v)
		}
		if opn, aerr = lookupOperation(action); aerr != nil {
			return action, nil, aerr
		}
		// Older query clients send the request to the queue URL rather
		// than naming it in QueueUrl.
		if !f.has("QueueUrl") && strings.Count(strings.Trim(hr.URL.Path, "/"), "/") == 1 {
			f["QueueUrl"] = []string{"http://" + hr.Host + hr.URL.Path}
		}
		in, aerr = opn.decodeQuery(f)
	}
	if aerr != nil {
		return action, nil, aerr
	}
	// No SigV4 verification, but a request must at least be signed.
	auth := hr.Header.Get("Authorization")
	if auth == "" && hr.URL.Query().Get("X-Amz-Signature") == "" {
		return action, nil, errMissingAuth.new("Request is missing Authentication Token")
	}
	r.senderID = senderFrom(auth)
	out, aerr := opn.run(s, hr.Context(), r, in)
	return action, out, aerr
}

func lookupOperation(action string) (operation, *apiError) {
	if o, ok := operations[action]; ok {
		return o, nil
	}
	if unimplemented[action] {
		return operation{}, errUnsupportedOperation.new("sqstest does not implement %s.", action)
	}
	return operation{}, errInvalidAction.new("The action %s is not valid for this web service.", action)
}

// senderFrom takes the access key ID from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/date/region/sqs/aws4_request, ...");
// it stands in for the SenderId SQS reports (the IAM user's or role's ID).
func senderFrom(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return Account
	}
	id, _, _ := strings.Cut(cred, "/")
	if id == "" || len(id) > 128 {
		return Account
	}
	return id
}

func writeJSON(w http.ResponseWriter, r *request, out any, aerr *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("x-amzn-RequestId", r.id)
	if aerr != nil {
		// The query code travels in x-amzn-query-error, so that SDKs in
		// "query compatible" mode report the same code as over the query
		// protocol.
		h.Set("x-amzn-query-error", aerr.code+";"+aerr.fault())
		b, _ := json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}{aerr.jsonType(), aerr.msg})
		w.WriteHeader(aerr.status)
		w.Write(b)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#InternalError", "message": err.Error()})
		w.WriteHeader(http.StatusInternalServerError)
	}
	w.Write(b)
}

func writeXML(w http.ResponseWriter, r *request, action string, out any, aerr *apiError) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", r.id)
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if aerr != nil {
		buf.WriteString(`<ErrorResponse xmlns="` + queryNamespace + `"><Error><Type>` + aerr.fault() + `</Type><Code>`)
		xml.EscapeText(&buf, []byte(aerr.code))
		buf.WriteString(`</Code><Message>`)
		xml.EscapeText(&buf, []byte(aerr.msg))
		buf.WriteString(`</Message><Detail/></Error><RequestId>` + r.id + `</RequestId></ErrorResponse>`)
		w.WriteHeader(aerr.status)
		w.Write(buf.Bytes())
		return
	}
	buf.WriteString("<" + action + `Response xmlns="` + queryNamespace + `">`)
	if _, empty := out.(noOutput); !empty {
		enc := xml.NewEncoder(&buf)
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		enc.Flush()
	}
	buf.WriteString(`<ResponseMetadata><RequestId>` + r.id + `</RequestId></ResponseMetadata></` + action + "Response>")
	w.Write(buf.Bytes())
}

// newUUID is a random (version 4) UUID, the form of SQS's message and
// request IDs.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(errors.New("sqstest: no randomness: " + err.Error()))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
