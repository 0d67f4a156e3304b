package sqstest

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults from the SQS developer guide ("Amazon SQS quotas" and
// the CreateQueue reference).
const (
	defaultVisibility = 30      // seconds
	maxVisibility     = 43200   // 12 hours, also the most a message may stay in flight from its receive
	defaultRetention  = 345600  // 4 days
	minRetention      = 60      // 1 minute
	maxRetention      = 1209600 // 14 days
	maxDelay          = 900     // 15 minutes
	maxWait           = 20      // seconds of long polling
	maxMessageSize    = 262144  // 256 KiB: body and message attributes together
	minMessageSize    = 1024
	maxBatchEntries   = 10
	maxAttributes     = 10 // message attributes on one message
	maxReceiveCount   = 1000
	recentWindow      = 60 * time.Second // PurgeQueue again, or CreateQueue after DeleteQueue
)

// settings are a queue's configurable attributes. It is comparable, which is
// how CreateQueue tells a repeat of itself from a conflicting one.
type settings struct {
	visibility, retention, wait, delay, maxSize int
	policy, redriveAllowPolicy                  string
	kmsKey                                      string
	kmsReuse                                    int
	sse                                         bool
	redrive                                     redrivePolicy // zero: none
}

type redrivePolicy struct {
	deadLetterTargetArn string
	maxReceiveCount     int
}

func defaultSettings() settings {
	return settings{
		visibility: defaultVisibility,
		retention:  defaultRetention,
		maxSize:    maxMessageSize,
		kmsReuse:   300,
		sse:        true, // SSE-SQS is on by default for new queues since 2022
	}
}

type queue struct {
	name              string
	created, modified time.Time
	settings          settings
	tags              map[string]string
	msgs              []*message          // in send order; deleted entries are nil until compacted
	live              int                 // non-nil entries of msgs
	byID              map[string]*message // live messages
	lastPurge         time.Time
}

// A message's state follows from two fields: handle is the receipt handle
// of its latest receive ("" before the first, and again after a move to a
// dead-letter queue), and visibleAt is when it can next be received (its
// delay, or the end of its visibility timeout). Before visibleAt it is
// "delayed" if it has no handle and "in flight" if it has one.
type message struct {
	id, body          string
	attrs, sysAttrs   map[string]attributeValue
	md5Body, md5Sys   string
	groupID, senderID string
	dlqSourceArn      string // set when redriven into this queue
	seq               uint64
	index             int // position in queue.msgs

	sent, firstReceive, lastReceive time.Time
	visibleAt                       time.Time
	receives                        int
	handle                          string
}

func (m *message) inFlight(now time.Time) bool { return m.handle != "" && now.Before(m.visibleAt) }
func (m *message) delayed(now time.Time) bool  { return m.handle == "" && now.Before(m.visibleAt) }

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queueFromURL finds the queue a QueueUrl names. Only the path counts
// (/ACCOUNT/NAME), so URLs with localhost, 127.0.0.1 or the legacy
// sqs.REGION.amazonaws.com host all work; the caller holds s.mu.
func (s *Server) queueFromURL(raw string) (*queue, *apiError) {
	if raw == "" {
		return nil, missing("QueueUrl")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errInvalidAddress.new("The address %s is not valid for this endpoint.", raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[1] == "" {
		return nil, errInvalidAddress.new("The address %s is not valid for this endpoint.", raw)
	}
	q := s.queues[parts[1]]
	if parts[0] != Account || q == nil {
		return nil, errQueueDoesNotExist.new("The specified queue does not exist.")
	}
	return q, nil
}

// expire drops messages older than the retention period, counted from when
// they were first sent (also after a move to a dead-letter queue).
func (q *queue) expire(now time.Time) {
	limit := time.Duration(q.settings.retention) * time.Second
	for _, m := range q.msgs {
		if m != nil && now.Sub(m.sent) >= limit {
			q.remove(m)
		}
	}
	q.compact()
}

func (q *queue) add(m *message) {
	m.index = len(q.msgs)
	q.msgs = append(q.msgs, m)
	q.byID[m.id] = m
	q.live++
}

func (q *queue) remove(m *message) {
	if q.byID[m.id] != m {
		return
	}
	delete(q.byID, m.id)
	q.msgs[m.index] = nil
	q.live--
}

// compact drops the entries of deleted messages once they are the greater
// part of q.msgs. It must not run while q.msgs is being iterated.
func (q *queue) compact() {
	if q.live < len(q.msgs)/2 && len(q.msgs) > 64 {
		kept := q.msgs[:0]
		for _, k := range q.msgs {
			if k != nil {
				k.index = len(kept)
				kept = append(kept, k)
			}
		}
		clear(q.msgs[len(kept):])
		q.msgs = kept
	}
}

// The queue attributes of GetQueueAttributes, and whether Create or Set may
// change them.
var queueAttributeNames = map[string]bool{
	"Policy": true, "VisibilityTimeout": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true,
	"DelaySeconds": true, "ReceiveMessageWaitTimeSeconds": true, "RedrivePolicy": true,
	"RedriveAllowPolicy": true, "KmsMasterKeyId": true, "KmsDataKeyReusePeriodSeconds": true,
	"SqsManagedSseEnabled": true,
	// read only
	"ApproximateNumberOfMessages": false, "ApproximateNumberOfMessagesNotVisible": false,
	"ApproximateNumberOfMessagesDelayed": false, "CreatedTimestamp": false,
	"LastModifiedTimestamp": false, "QueueArn": false,
}

// fifoAttributes belong to FIFO queues, which sqstest does not serve; on a
// standard queue SQS rejects them as unknown.
var fifoAttributes = map[string]bool{
	"FifoQueue": true, "ContentBasedDeduplication": true, "DeduplicationScope": true, "FifoThroughputLimit": true,
}

// applyAttributes validates attrs and sets them on st; the caller holds
// s.mu (RedrivePolicy's target must exist).
func (s *Server) applyAttributes(st *settings, attrs map[string]string) *apiError {
	for name, v := range attrs {
		if fifoAttributes[name] {
			if name == "FifoQueue" && v == "false" {
				continue
			}
			if name == "FifoQueue" {
				return errInvalidAttributeValue.new("Invalid value for the parameter FifoQueue: sqstest serves standard queues only; FIFO queues are not supported.")
			}
			return errInvalidAttributeName.new("Unknown Attribute %s.", name)
		}
		settable, known := queueAttributeNames[name]
		if !known || !settable {
			return errInvalidAttributeName.new("Unknown Attribute %s.", name)
		}
		intIn := func(lo, hi int) (int, *apiError) {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < lo || n > hi {
				return 0, errInvalidAttributeValue.new("Invalid value for the parameter %s: %q is not an integer from %d to %d.", name, v, lo, hi)
			}
			return n, nil
		}
		var err *apiError
		switch name {
		case "VisibilityTimeout":
			st.visibility, err = intIn(0, maxVisibility)
		case "MaximumMessageSize":
			st.maxSize, err = intIn(minMessageSize, maxMessageSize)
		case "MessageRetentionPeriod":
			st.retention, err = intIn(minRetention, maxRetention)
		case "DelaySeconds":
			st.delay, err = intIn(0, maxDelay)
		case "ReceiveMessageWaitTimeSeconds":
			st.wait, err = intIn(0, maxWait)
		case "KmsDataKeyReusePeriodSeconds":
			st.kmsReuse, err = intIn(60, 86400)
		case "Policy", "RedriveAllowPolicy":
			if v != "" && !json.Valid([]byte(v)) {
				return errInvalidAttributeValue.new("Invalid value for the parameter %s: not a JSON document.", name)
			}
			if name == "Policy" {
				st.policy = v
			} else {
				st.redriveAllowPolicy = v
			}
		case "KmsMasterKeyId":
			st.kmsKey = v
			if v != "" {
				st.sse = false
			}
		case "SqsManagedSseEnabled":
			b, perr := strconv.ParseBool(v)
			if perr != nil {
				return errInvalidAttributeValue.new("Invalid value for the parameter SqsManagedSseEnabled: %q is not true or false.", v)
			}
			st.sse = b
		case "RedrivePolicy":
			st.redrive, err = s.parseRedrivePolicy(v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseRedrivePolicy reads {"deadLetterTargetArn":"arn:...","maxReceiveCount":5};
// maxReceiveCount may be a number or a string of one, as clients send
// either. "" removes the policy.
func (s *Server) parseRedrivePolicy(v string) (redrivePolicy, *apiError) {
	if v == "" {
		return redrivePolicy{}, nil
	}
	bad := func(reason string) (redrivePolicy, *apiError) {
		return redrivePolicy{}, invalidValue("RedrivePolicy", v, reason)
	}
	var raw struct {
		DeadLetterTargetArn string
		MaxReceiveCount     json.RawMessage
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return bad("Redrive policy is not a valid JSON map.")
	}
	countText := strings.Trim(string(raw.MaxReceiveCount), `"`)
	count, err := strconv.Atoi(countText)
	if err != nil || count < 1 || count > maxReceiveCount {
		return bad("Invalid value for maxReceiveCount: " + countText + ", valid values are from 1 to 1000 both inclusive.")
	}
	name, ok := strings.CutPrefix(raw.DeadLetterTargetArn, "arn:aws:sqs:"+Region+":"+Account+":")
	if !ok || s.queues[name] == nil {
		return bad("Dead letter target does not exist.")
	}
	return redrivePolicy{deadLetterTargetArn: raw.DeadLetterTargetArn, maxReceiveCount: count}, nil
}

// attributes renders the queue's attributes by name; the caller holds s.mu.
func (q *queue) attributes(now time.Time) map[string]string {
	q.expire(now)
	var visible, inFlight, delayed int
	for _, m := range q.msgs {
		switch {
		case m == nil:
		case m.inFlight(now):
			inFlight++
		case m.delayed(now):
			delayed++
		default:
			visible++
		}
	}
	st := q.settings
	out := map[string]string{
		"QueueArn":                              QueueARN(q.name),
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
		"VisibilityTimeout":                     strconv.Itoa(st.visibility),
		"MaximumMessageSize":                    strconv.Itoa(st.maxSize),
		"MessageRetentionPeriod":                strconv.Itoa(st.retention),
		"DelaySeconds":                          strconv.Itoa(st.delay),
		"ReceiveMessageWaitTimeSeconds":         strconv.Itoa(st.wait),
		"SqsManagedSseEnabled":                  strconv.FormatBool(st.sse),
	}
	if st.policy != "" {
		out["Policy"] = st.policy
	}
	if st.redriveAllowPolicy != "" {
		out["RedriveAllowPolicy"] = st.redriveAllowPolicy
	}
	if st.kmsKey != "" {
		out["KmsMasterKeyId"] = st.kmsKey
		out["KmsDataKeyReusePeriodSeconds"] = strconv.Itoa(st.kmsReuse)
	}
	if r := st.redrive; r.deadLetterTargetArn != "" {
		b, _ := json.Marshal(struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}{r.deadLetterTargetArn, r.maxReceiveCount})
		out["RedrivePolicy"] = string(b)
	}
	return out
}
