package sqstest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Queue actions.

func (s *Server) createQueue(_ context.Context, _ *request, in *createQueueInput) (queueURLOutput, *apiError) {
	name := in.QueueName
	if name == "" {
		return queueURLOutput{}, missing("QueueName")
	}
	if strings.HasSuffix(name, ".fifo") {
		return queueURLOutput{}, invalidValue("QueueName", name, "sqstest serves standard queues only; FIFO queues (.fifo) are not supported.")
	}
	if !queueNameRE.MatchString(name) {
		return queueURLOutput{}, invalidValue("QueueName", name, "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if q := s.queues[name]; q != nil {
		// CreateQueue is idempotent: the same attributes again return the
		// URL, a different value for any of them is a conflict.
		st := q.settings
		if err := s.applyAttributes(&st, in.Attributes); err != nil {
			return queueURLOutput{}, err
		}
		if st != q.settings {
			return queueURLOutput{}, errQueueNameExists.new("A queue already exists with the same name and a different value for attribute(s) %s", strings.Join(slices.Sorted(maps.Keys(in.Attributes)), ", "))
		}
		return queueURLOutput{s.QueueURL(name)}, nil
	}
	if at, ok := s.deleted[name]; ok && now.Sub(at) < recentWindow {
		return queueURLOutput{}, errQueueDeletedRecently.new("You must wait 60 seconds after deleting a queue before you can create another with the same name.")
	}
	st := defaultSettings()
	if err := s.applyAttributes(&st, in.Attributes); err != nil {
		return queueURLOutput{}, err
	}
	s.queues[name] = &queue{name: name, created: now, modified: now, settings: st, tags: in.Tags, byID: map[string]*message{}}
	return queueURLOutput{s.QueueURL(name)}, nil
}

func (s *Server) getQueueURL(_ context.Context, _ *request, in *getQueueURLInput) (queueURLOutput, *apiError) {
	if in.QueueName == "" {
		return queueURLOutput{}, missing("QueueName")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[in.QueueName] == nil || (in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != Account) {
		return queueURLOutput{}, errQueueDoesNotExist.new("The specified queue does not exist.")
	}
	return queueURLOutput{s.QueueURL(in.QueueName)}, nil
}

// listQueues returns queue URLs in order of name. As in SQS, a NextToken is
// only returned when the request set MaxResults.
func (s *Server) listQueues(_ context.Context, _ *request, in *listQueuesInput) (listQueuesOutput, *apiError) {
	limit := 1000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return listQueuesOutput{}, invalidValue("MaxResults", *in.MaxResults, "MaxResults must be an integer between 1 and 1000.")
		}
		limit = int(*in.MaxResults)
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return listQueuesOutput{}, invalidValue("NextToken", in.NextToken, "Invalid NextToken value.")
		}
		after = string(b)
	}
	s.mu.Lock()
	names := slices.Sorted(maps.Keys(s.queues))
	s.mu.Unlock()
	var out listQueuesOutput
	for _, n := range names {
		if !strings.HasPrefix(n, in.QueueNamePrefix) || (after != "" && n <= after) {
			continue
		}
		if len(out.QueueUrls) == limit {
			if in.MaxResults != nil {
				out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(out.QueueUrls[limit-1][len(s.QueueURL("")):]))
			}
			break
		}
		out.QueueUrls = append(out.QueueUrls, s.QueueURL(n))
	}
	return out, nil
}

func (s *Server) deleteQueue(_ context.Context, _ *request, in *queueURLInput) (noOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return noOutput{}, err
	}
	delete(s.queues, q.name)
	s.deleted[q.name] = s.now()
	s.notify()
	return noOutput{}, nil
}

// purgeQueue deletes every message at once (SQS takes up to 60 seconds) and
// refuses a second purge within 60 seconds, as SQS does.
func (s *Server) purgeQueue(_ context.Context, _ *request, in *queueURLInput) (noOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return noOutput{}, err
	}
	now := s.now()
	if !q.lastPurge.IsZero() && now.Sub(q.lastPurge) < recentWindow {
		return noOutput{}, errPurgeInProgress.new("Only one PurgeQueue operation on %s is allowed every 60 seconds.", q.name)
	}
	q.lastPurge = now
	q.msgs, q.byID, q.live = nil, map[string]*message{}, 0
	s.notify()
	return noOutput{}, nil
}

func (s *Server) getQueueAttributes(_ context.Context, _ *request, in *getQueueAttributesInput) (getQueueAttributesOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return getQueueAttributesOutput{}, err
	}
	all := q.attributes(s.now())
	out := stringMap{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if _, known := queueAttributeNames[n]; !known {
			return getQueueAttributesOutput{}, errInvalidAttributeName.new("Unknown Attribute %s.", n)
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return getQueueAttributesOutput{out}, nil
}

func (s *Server) setQueueAttributes(_ context.Context, _ *request, in *setQueueAttributesInput) (noOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return noOutput{}, err
	}
	if len(in.Attributes) == 0 {
		return noOutput{}, missing("Attribute.1.Name")
	}
	st := q.settings
	if err := s.applyAttributes(&st, in.Attributes); err != nil {
		return noOutput{}, err
	}
	q.settings = st
	q.modified = s.now()
	s.notify()
	return noOutput{}, nil
}

// Sending.

var (
	batchIDRE       = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	attributeNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
)

// validBody reports the first character SQS does not allow in a message:
// it takes #x9, #xA, #xD, #x20–#xD7FF, #xE000–#xFFFD and #x10000–#x10FFFF.
func validBody(body string) *apiError {
	for i, r := range body {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(body[i:]); size == 1 {
				return errInvalidMessage.new("Invalid binary character at byte %d: the message body is not valid UTF-8.", i)
			}
		}
		ok := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return errInvalidMessage.new("Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", r)
		}
	}
	return nil
}

// validAttributes checks message attributes (system is false) or message
// system attributes, and returns their size toward the message size limit.
func validAttributes(attrs map[string]attributeValue, system bool) (int, *apiError) {
	kind := "Message (user)"
	if system {
		kind = "Message system"
	}
	if len(attrs) > maxAttributes {
		return 0, invalidValue("MessageAttributes", len(attrs), "Number of message attributes ["+strconv.Itoa(len(attrs))+"] exceeds the allowed maximum [10].")
	}
	size := 0
	for name, v := range attrs {
		if system {
			if name != "AWSTraceHeader" {
				return 0, invalidValue("MessageSystemAttributes", name, "Message system attribute name '"+name+"' is invalid; only AWSTraceHeader may be sent.")
			}
		} else {
			lower := strings.ToLower(name)
			if !attributeNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
				strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
				return 0, invalidValue("MessageAttributes", name, kind+" attribute name '"+name+"' is invalid.")
			}
		}
		base, _, _ := strings.Cut(v.DataType, ".")
		switch {
		case v.DataType == "":
			return 0, invalidValue("MessageAttributes", name, kind+" attribute '"+name+"' must contain a non-empty attribute type.")
		case base == "Binary":
			if len(v.BinaryValue) == 0 {
				return 0, invalidValue("MessageAttributes", name, kind+" attribute '"+name+"' must contain a non-empty value of type 'Binary'.")
			}
			size += len(v.BinaryValue)
		case base == "String" || base == "Number":
			if v.StringValue == "" {
				return 0, invalidValue("MessageAttributes", name, kind+" attribute '"+name+"' must contain a non-empty value of type '"+base+"'.")
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(v.StringValue, 64); err != nil {
					return 0, invalidValue("MessageAttributes", name, kind+" attribute '"+name+"' has an invalid numeric value: "+v.StringValue)
				}
			}
			if err := validBody(v.StringValue); err != nil {
				return 0, invalidValue("MessageAttributes", name, kind+" attribute '"+name+"' contains an invalid character.")
			}
			size += len(v.StringValue)
		default:
			return 0, invalidValue("MessageAttributes", name, kind+" attribute '"+name+"' has an invalid type '"+v.DataType+"': it must be String, Number or Binary, optionally with a custom suffix.")
		}
		if system && base != "String" {
			return 0, invalidValue("MessageSystemAttributes", name, "AWSTraceHeader must be of type String.")
		}
		size += len(name) + len(v.DataType)
	}
	return size, nil
}

// prepare validates one message to send to q and builds it; the caller
// holds s.mu.
func (s *Server) prepare(q *queue, r *request, e *sendEntry, now time.Time) (*message, *apiError) {
	if e.MessageBody == nil || *e.MessageBody == "" {
		return nil, missing("MessageBody")
	}
	body := *e.MessageBody
	if err := validBody(body); err != nil {
		return nil, err
	}
	delay := q.settings.delay
	if e.DelaySeconds != nil {
		if *e.DelaySeconds < 0 || *e.DelaySeconds > maxDelay {
			return nil, invalidValue("DelaySeconds", *e.DelaySeconds, "DelaySeconds must be >= 0 and <= 900.")
		}
		delay = int(*e.DelaySeconds)
	}
	if e.MessageDeduplicationId != "" {
		return nil, invalidValue("MessageDeduplicationId", e.MessageDeduplicationId, "The request include parameter that is not valid for this queue type.")
	}
	userSize, err := validAttributes(e.MessageAttributes, false)
	if err != nil {
		return nil, err
	}
	if _, err := validAttributes(e.MessageSystemAttributes, true); err != nil {
		return nil, err
	}
	if size := len(body) + userSize; size > q.settings.maxSize {
		return nil, errInvalidParameterValue.new("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.settings.maxSize)
	}
	s.seq++
	return &message{
		id:        newUUID(),
		body:      body,
		attrs:     e.MessageAttributes,
		sysAttrs:  e.MessageSystemAttributes,
		md5Body:   md5Hex([]byte(body)),
		md5Sys:    md5OfAttributes(e.MessageSystemAttributes),
		groupID:   e.MessageGroupId,
		senderID:  r.senderID,
		seq:       s.seq,
		sent:      now,
		visibleAt: now.Add(time.Duration(delay) * time.Second),
	}, nil
}

func sendOutput(m *message) sendMessageOutput {
	return sendMessageOutput{
		MessageId:                    m.id,
		MD5OfMessageBody:             m.md5Body,
		MD5OfMessageAttributes:       md5OfAttributes(m.attrs),
		MD5OfMessageSystemAttributes: m.md5Sys,
	}
}

func (s *Server) sendMessage(_ context.Context, r *request, in *sendMessageInput) (sendMessageOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return sendMessageOutput{}, err
	}
	m, err := s.prepare(q, r, &in.sendEntry, s.now())
	if err != nil {
		return sendMessageOutput{}, err
	}
	q.add(m)
	s.notify()
	return sendOutput(m), nil
}

// checkBatch applies the rules every batch action shares to its entry IDs.
func checkBatch(ids []string, action string) *apiError {
	if len(ids) == 0 {
		return errEmptyBatch.new("There should be at least one %sRequestEntry in the request.", action)
	}
	if len(ids) > maxBatchEntries {
		return errTooManyEntries.new("Maximum number of entries per request are 10. You have sent %d.", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return errInvalidBatchEntryID.new("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return errBatchIDsNotDistinct.new("Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

func entryFailure(id string, err *apiError) batchError {
	return batchError{Id: id, SenderFault: err.sender, Code: err.code, Message: err.msg}
}

func (s *Server) sendMessageBatch(_ context.Context, r *request, in *sendMessageBatchInput) (sendMessageBatchOutput, *apiError) {
	out := sendMessageBatchOutput{Successful: []sendBatchResultEntry{}, Failed: []batchError{}}
	ids := make([]string, len(in.Entries))
	total := 0
	for i, e := range in.Entries {
		ids[i] = e.Id
		if e.MessageBody != nil {
			total += len(*e.MessageBody)
		}
		for n, v := range e.MessageAttributes {
			total += len(n) + len(v.DataType) + len(v.StringValue) + len(v.BinaryValue)
		}
	}
	if err := checkBatch(ids, "SendMessageBatch"); err != nil {
		return out, err
	}
	if total > maxMessageSize {
		return out, errBatchTooLong.new("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", maxMessageSize, total)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return out, err
	}
	now := s.now()
	for i := range in.Entries {
		e := &in.Entries[i]
		m, err := s.prepare(q, r, &e.sendEntry, now)
		if err != nil {
			out.Failed = append(out.Failed, entryFailure(e.Id, err))
			continue
		}
		q.add(m)
		out.Successful = append(out.Successful, sendBatchResultEntry{Id: e.Id, sendMessageOutput: sendOutput(m)})
	}
	s.notify()
	return out, nil
}

// Receiving.

// receiveMessage returns the messages available now; with a wait time and
// none available it waits until one becomes available (a send, a visibility
// timeout or delay running out, a visibility change to 0), the wait ends,
// the client goes away or the server closes.
func (s *Server) receiveMessage(ctx context.Context, r *request, in *receiveMessageInput) (receiveMessageOutput, *apiError) {
	maxN := int64(1)
	if in.MaxNumberOfMessages != nil {
		maxN = *in.MaxNumberOfMessages
		if maxN < 1 || maxN > maxBatchEntries {
			return receiveMessageOutput{}, invalidValue("MaxNumberOfMessages", maxN, "Must be between 1 and 10, if provided.")
		}
	}
	if v := in.VisibilityTimeout; v != nil && (*v < 0 || *v > maxVisibility) {
		return receiveMessageOutput{}, invalidValue("VisibilityTimeout", *v, "Must be >= 0 and <= 43200, if provided.")
	}
	if w := in.WaitTimeSeconds; w != nil && (*w < 0 || *w > maxWait) {
		return receiveMessageOutput{}, invalidValue("WaitTimeSeconds", *w, "Must be >= 0 and <= 20, if provided.")
	}

	var deadline time.Time
	for {
		s.mu.Lock()
		q, err := s.queueFromURL(in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return receiveMessageOutput{}, err
		}
		if deadline.IsZero() {
			wait := q.settings.wait
			if in.WaitTimeSeconds != nil {
				wait = int(*in.WaitTimeSeconds)
			}
			deadline = time.Now().Add(time.Duration(wait) * time.Second)
		}
		now := s.now()
		msgs, next := s.receiveLocked(q, in, int(maxN), now)
		changed := s.changed
		s.mu.Unlock()

		left := time.Until(deadline)
		if len(msgs) > 0 || left <= 0 {
			return receiveMessageOutput{Messages: msgs}, nil
		}
		sleep := left
		if !next.IsZero() && next.Sub(now) < sleep {
			sleep = max(next.Sub(now), time.Millisecond)
		}
		if s.manual && sleep > pollInterval {
			sleep = pollInterval
		}
		timer := time.NewTimer(sleep)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return receiveMessageOutput{}, nil
		case <-s.done:
			timer.Stop()
			return receiveMessageOutput{}, nil
		}
		timer.Stop()
	}
}

// receiveLocked takes up to maxN available messages from q, oldest first,
// moving those past the redrive policy's maxReceiveCount to the dead-letter
// queue instead. It also returns when the next message not yet available
// becomes so (zero if none). The caller holds s.mu.
func (s *Server) receiveLocked(q *queue, in *receiveMessageInput, maxN int, now time.Time) ([]messageOutput, time.Time) {
	q.expire(now)
	visibility := q.settings.visibility
	if in.VisibilityTimeout != nil {
		visibility = int(*in.VisibilityTimeout)
	}
	var (
		out   []messageOutput
		next  time.Time
		moved bool
	)
	for _, m := range q.msgs {
		if m == nil {
			continue
		}
		if now.Before(m.visibleAt) {
			if next.IsZero() || m.visibleAt.Before(next) {
				next = m.visibleAt
			}
			continue
		}
		if len(out) == maxN {
			continue
		}
		if rp := q.settings.redrive; rp.maxReceiveCount > 0 && m.receives >= rp.maxReceiveCount {
			name := strings.TrimPrefix(rp.deadLetterTargetArn, "arn:aws:sqs:"+Region+":"+Account+":")
			if dlq := s.queues[name]; dlq != nil && dlq != q {
				q.remove(m)
				// The message keeps its ID, body, attributes, receive count
				// and original send time (retention still counts from it).
				m.handle, m.visibleAt, m.dlqSourceArn = "", now, QueueARN(q.name)
				s.seq++
				m.seq = s.seq
				dlq.add(m)
				moved = true
				continue
			}
		}
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.lastReceive = now
		m.visibleAt = now.Add(time.Duration(visibility) * time.Second)
		m.handle = newReceiptHandle(q.name, m.id)
		if visibility == 0 {
			// Visible again at once: another long poll may take it.
			moved = true
		}
		out = append(out, s.messageOutput(m, in))
	}
	if moved {
		s.notify()
	}
	return out, next
}

// The message system attributes ReceiveMessage can return.
var systemAttributeNames = []string{
	"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
	"AWSTraceHeader", "DeadLetterQueueSourceArn", "MessageGroupId",
}

func (s *Server) messageOutput(m *message, in *receiveMessageInput) messageOutput {
	out := messageOutput{MessageId: m.id, ReceiptHandle: m.handle, MD5OfBody: m.md5Body, Body: m.body}

	want := map[string]bool{}
	for _, n := range slices.Concat(in.AttributeNames, in.MessageSystemAttributeNames) {
		if n == "All" {
			for _, a := range systemAttributeNames {
				want[a] = true
			}
		}
		want[n] = true
	}
	values := map[string]string{
		"SenderId":                         m.senderID,
		"SentTimestamp":                    millis(m.sent),
		"ApproximateReceiveCount":          strconv.Itoa(m.receives),
		"ApproximateFirstReceiveTimestamp": millis(m.firstReceive),
	}
	if v, ok := m.sysAttrs["AWSTraceHeader"]; ok {
		values["AWSTraceHeader"] = v.StringValue
	}
	if m.dlqSourceArn != "" {
		values["DeadLetterQueueSourceArn"] = m.dlqSourceArn
	}
	if m.groupID != "" {
		values["MessageGroupId"] = m.groupID
	}
	for n, v := range values {
		if want[n] {
			if out.Attributes == nil {
				out.Attributes = stringMap{}
			}
			out.Attributes[n] = v
		}
	}

	// Message attributes: "All" or ".*" for all, "prefix.*" for a prefix,
	// or names. The MD5 covers the attributes returned.
	for name, v := range m.attrs {
		for _, pat := range in.MessageAttributeNames {
			prefix, isPrefix := strings.CutSuffix(pat, ".*")
			if pat == "All" || pat == ".*" || pat == name || (isPrefix && strings.HasPrefix(name, prefix+".")) || (isPrefix && name == prefix) {
				if out.MessageAttributes == nil {
					out.MessageAttributes = messageAttrsMap{}
				}
				out.MessageAttributes[name] = attributeValue{DataType: v.DataType, StringValue: v.StringValue, BinaryValue: v.BinaryValue}
				break
			}
		}
	}
	out.MD5OfMessageAttributes = md5OfAttributes(out.MessageAttributes)
	return out
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Receipt handles name the queue and the message and carry 16 random bytes,
// so that each receive gets a new one and a handle from an earlier receive
// can be told from a malformed one.
func newReceiptHandle(queueName, msgID string) string {
	var nonce [16]byte
	rand.Read(nonce[:])
	return base64.StdEncoding.EncodeToString([]byte(queueName + "\x00" + msgID + "\x00" + hex.EncodeToString(nonce[:])))
}

func parseReceiptHandle(h string) (queueName, msgID string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || len(parts[2]) != 32 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// handleResult is what a receipt handle names.
type handleResult int

const (
	handleCurrent handleResult = iota // the latest receive of a message in q
	handleStale                       // a message in q received again since, or gone
)

// lookupHandle resolves a receipt handle in q. A handle that does not parse
// or names another queue is invalid.
func lookupHandle(q *queue, h string) (*message, handleResult, *apiError) {
	if h == "" {
		return nil, 0, missing("ReceiptHandle")
	}
	qn, id, ok := parseReceiptHandle(h)
	if !ok || qn != q.name {
		return nil, 0, errReceiptHandleInvalid.new("The input receipt handle %q is not a valid receipt handle.", h)
	}
	m := q.byID[id]
	if m == nil || m.handle != h {
		return m, handleStale, nil
	}
	return m, handleCurrent, nil
}

// deleteLocked deletes the message a receipt handle names. As the
// DeleteMessage reference says, only the handle of the latest receive
// deletes: an older one (the message was received again since) succeeds and
// deletes nothing. Deleting a message already gone succeeds too.
func deleteLocked(q *queue, h string) *apiError {
	m, res, err := lookupHandle(q, h)
	if err != nil {
		return err
	}
	if res == handleCurrent {
		q.remove(m)
	}
	return nil
}

// changeVisibilityLocked sets a message's visibility timeout to v seconds
// from now. SQS allows it only while the message is in flight, only with
// the latest receipt handle, and only up to 12 hours from that receive.
func changeVisibilityLocked(q *queue, h string, v *int64, now time.Time) *apiError {
	if v == nil {
		return missing("VisibilityTimeout")
	}
	if *v < 0 || *v > maxVisibility {
		return invalidValue("VisibilityTimeout", *v, "Must be >= 0 and <= 43200.")
	}
	m, res, err := lookupHandle(q, h)
	if err != nil {
		return err
	}
	if res == handleStale {
		return invalidValue("ReceiptHandle", h, "The receipt handle has expired.")
	}
	if !m.inFlight(now) {
		return errMessageNotInflight.new("Message does not exist or is not available for visibility timeout change.")
	}
	until := now.Add(time.Duration(*v) * time.Second)
	if until.Sub(m.lastReceive) > maxVisibility*time.Second {
		return invalidValue("VisibilityTimeout", *v, "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]")
	}
	m.visibleAt = until
	return nil
}

func (s *Server) deleteMessage(_ context.Context, _ *request, in *deleteMessageInput) (noOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return noOutput{}, err
	}
	return noOutput{}, deleteLocked(q, in.ReceiptHandle)
}

func (s *Server) deleteMessageBatch(_ context.Context, _ *request, in *deleteMessageBatchInput) (deleteMessageBatchOutput, *apiError) {
	out := deleteMessageBatchOutput{Successful: []batchIDEntry{}, Failed: []batchError{}}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatch(ids, "DeleteMessageBatch"); err != nil {
		return out, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return out, err
	}
	for _, e := range in.Entries {
		if err := deleteLocked(q, e.ReceiptHandle); err != nil {
			out.Failed = append(out.Failed, entryFailure(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, batchIDEntry{e.Id})
	}
	return out, nil
}

func (s *Server) changeVisibility(_ context.Context, _ *request, in *changeVisibilityInput) (noOutput, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return noOutput{}, err
	}
	if err := changeVisibilityLocked(q, in.ReceiptHandle, in.VisibilityTimeout, s.now()); err != nil {
		return noOutput{}, err
	}
	s.notify()
	return noOutput{}, nil
}

func (s *Server) changeVisibilityBatch(_ context.Context, _ *request, in *changeVisibilityBatchInput) (changeVisibilityBatchOutput, *apiError) {
	out := changeVisibilityBatchOutput{Successful: []batchIDEntry{}, Failed: []batchError{}}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatch(ids, "ChangeMessageVisibilityBatch"); err != nil {
		return out, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return out, err
	}
	now := s.now()
	for _, e := range in.Entries {
		if err := changeVisibilityLocked(q, e.ReceiptHandle, e.VisibilityTimeout, now); err != nil {
			out.Failed = append(out.Failed, entryFailure(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, batchIDEntry{e.Id})
	}
	s.notify()
	return out, nil
}
