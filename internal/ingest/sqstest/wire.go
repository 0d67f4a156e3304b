package sqstest

import (
	"encoding/base64"
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
)

// The request and response shapes of the SQS API. Field names are the API's
// member names, so JSON 1.0 bodies decode and encode with encoding/json as
// they are; the query protocol's form fields are read into the same structs
// by the query* methods below, and responses are written as XML through the
// xml tags (lists and maps are "flattened" in SQS's query protocol: one
// element per entry, named after the entry, with no wrapper).

type createQueueInput struct {
	QueueName  string
	Attributes map[string]string
	Tags       map[string]string `json:"tags"`
}

type queueURLInput struct{ QueueUrl string }

type getQueueURLInput struct {
	QueueName              string
	QueueOwnerAWSAccountId string
}

type listQueuesInput struct {
	QueueNamePrefix string
	NextToken       string
	MaxResults      *int64
}

type getQueueAttributesInput struct {
	QueueUrl       string
	AttributeNames []string
}

type setQueueAttributesInput struct {
	QueueUrl   string
	Attributes map[string]string
}

// attributeValue is a message attribute (or message system attribute) as
// sent. StringListValues and BinaryListValues are reserved by AWS and not
// used; they are accepted and dropped.
type attributeValue struct {
	DataType         string
	StringValue      string   `json:",omitempty"`
	BinaryValue      []byte   `json:",omitempty"`
	StringListValues []string `json:",omitempty"`
	BinaryListValues [][]byte `json:",omitempty"`
}

type sendMessageInput struct {
	QueueUrl string
	sendEntry
}

// sendEntry is what SendMessage and one SendMessageBatch entry share.
type sendEntry struct {
	MessageBody             *string
	DelaySeconds            *int64
	MessageAttributes       map[string]attributeValue
	MessageSystemAttributes map[string]attributeValue
	MessageDeduplicationId  string
	MessageGroupId          string
}

type sendBatchEntry struct {
	Id string
	sendEntry
}

type sendMessageBatchInput struct {
	QueueUrl string
	Entries  []sendBatchEntry
}

type receiveMessageInput struct {
	QueueUrl                    string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	MaxNumberOfMessages         *int64
	VisibilityTimeout           *int64
	WaitTimeSeconds             *int64
	ReceiveRequestAttemptId     string
}

type deleteMessageInput struct {
	QueueUrl      string
	ReceiptHandle string
}

type deleteBatchEntry struct {
	Id            string
	ReceiptHandle string
}

type deleteMessageBatchInput struct {
	QueueUrl string
	Entries  []deleteBatchEntry
}

type changeVisibilityInput struct {
	QueueUrl          string
	ReceiptHandle     string
	VisibilityTimeout *int64
}

type changeVisibilityBatchEntry struct {
	Id                string
	ReceiptHandle     string
	VisibilityTimeout *int64
}

type changeVisibilityBatchInput struct {
	QueueUrl string
	Entries  []changeVisibilityBatchEntry
}

// Responses.

type queueURLOutput struct {
	QueueUrl string `xml:"QueueUrl"`
}

type listQueuesOutput struct {
	QueueUrls []string `json:",omitempty" xml:"QueueUrl"`
	NextToken string   `json:",omitempty" xml:",omitempty"`
}

type getQueueAttributesOutput struct {
	Attributes stringMap `json:",omitempty" xml:"Attribute"`
}

type sendMessageOutput struct {
	MessageId                    string
	MD5OfMessageBody             string
	MD5OfMessageAttributes       string `json:",omitempty" xml:",omitempty"`
	MD5OfMessageSystemAttributes string `json:",omitempty" xml:",omitempty"`
}

type sendBatchResultEntry struct {
	Id string
	sendMessageOutput
}

// batchError is one entry of a batch response's Failed list.
type batchError struct {
	Id          string
	SenderFault bool
	Code        string
	Message     string
}

type sendMessageBatchOutput struct {
	Successful []sendBatchResultEntry `xml:"SendMessageBatchResultEntry"`
	Failed     []batchError           `xml:"BatchResultErrorEntry"`
}

type receiveMessageOutput struct {
	Messages []messageOutput `json:",omitempty" xml:"Message"`
}

type messageOutput struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             stringMap       `json:",omitempty" xml:"Attribute"`
	MD5OfMessageAttributes string          `json:",omitempty" xml:",omitempty"`
	MessageAttributes      messageAttrsMap `json:",omitempty" xml:"MessageAttribute"`
}

type batchIDEntry struct{ Id string }

type deleteMessageBatchOutput struct {
	Successful []batchIDEntry `xml:"DeleteMessageBatchResultEntry"`
	Failed     []batchError   `xml:"BatchResultErrorEntry"`
}

type changeVisibilityBatchOutput struct {
	Successful []batchIDEntry `xml:"ChangeMessageVisibilityBatchResultEntry"`
	Failed     []batchError   `xml:"BatchResultErrorEntry"`
}

// stringMap is a map written the query protocol's flattened way:
// <Attribute><Name>k</Name><Value>v</Value></Attribute> for each key, in
// order of name.
type stringMap map[string]string

func (m stringMap) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		entry := struct {
			Name  string
			Value string
		}{k, m[k]}
		if err := e.EncodeElement(entry, start); err != nil {
			return err
		}
	}
	return nil
}

// messageAttrsMap is the message attributes of a received message; in XML
// each is <MessageAttribute><Name/><Value><StringValue/>|<BinaryValue/>
// <DataType/></Value></MessageAttribute>, binary values in base64.
type messageAttrsMap map[string]attributeValue

func (m messageAttrsMap) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	type value struct {
		StringValue string `xml:",omitempty"`
		BinaryValue string `xml:",omitempty"`
		DataType    string
	}
	for _, k := range keys {
		v := m[k]
		entry := struct {
			Name  string
			Value value
		}{Name: k, Value: value{StringValue: v.StringValue, DataType: v.DataType}}
		if isBinaryType(v.DataType) {
			entry.Value = value{BinaryValue: base64.StdEncoding.EncodeToString(v.BinaryValue), DataType: v.DataType}
		}
		if err := e.EncodeElement(entry, start); err != nil {
			return err
		}
	}
	return nil
}

// form reads the query protocol's parameters. Lists are numbered from 1
// (AttributeName.1, AttributeName.2), maps are numbered Name/Value pairs
// (Attribute.1.Name, Attribute.1.Value), structures nest with dots.
type form map[string][]string

func (f form) str(key string) string {
	if v := f[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (f form) has(key string) bool { return len(f[key]) > 0 }

func (f form) strPtr(key string) *string {
	if !f.has(key) {
		return nil
	}
	s := f.str(key)
	return &s
}

// int reads an optional integer parameter.
func (f form) int(key string) (*int64, *apiError) {
	if !f.has(key) {
		return nil, nil
	}
	s := f.str(key)
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return nil, invalidValue(key, s, "must be an integer")
	}
	return &n, nil
}

// maxIndexed bounds how many numbered entries a query request may name, so
// that "Attribute.999999999.Name" is one entry and not a billion.
const maxIndexed = 1000

// indices returns the numbers N of the parameters named prefix.N or
// prefix.N.something, in increasing order.
func (f form) indices(prefix string) []int {
	seen := map[int]bool{}
	for key := range f {
		rest, ok := strings.CutPrefix(key, prefix+".")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || num[0] == '0' {
			continue
		}
		seen[n] = true
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	if len(out) > maxIndexed {
		out = out[:maxIndexed]
	}
	return out
}

func (f form) list(prefix string) []string {
	var out []string
	for _, n := range f.indices(prefix) {
		out = append(out, f.str(prefix+"."+strconv.Itoa(n)))
	}
	return out
}

func (f form) stringMap(prefix, keyName string) map[string]string {
	idx := f.indices(prefix)
	if len(idx) == 0 {
		return nil
	}
	out := make(map[string]string, len(idx))
	for _, n := range idx {
		p := prefix + "." + strconv.Itoa(n) + "."
		out[f.str(p+keyName)] = f.str(p + "Value")
	}
	return out
}

func (f form) attributeMap(prefix string) (map[string]attributeValue, *apiError) {
	idx := f.indices(prefix)
	if len(idx) == 0 {
		return nil, nil
	}
	out := make(map[string]attributeValue, len(idx))
	for _, n := range idx {
		p := prefix + "." + strconv.Itoa(n) + "."
		v := attributeValue{
			DataType:    f.str(p + "Value.DataType"),
			StringValue: f.str(p + "Value.StringValue"),
		}
		if f.has(p + "Value.BinaryValue") {
			b, err := base64.StdEncoding.DecodeString(f.str(p + "Value.BinaryValue"))
			if err != nil {
				return nil, invalidValue(p+"Value.BinaryValue", "", "not valid base64")
			}
			v.BinaryValue = b
		}
		out[f.str(p+"Name")] = v
	}
	return out, nil
}

func (f form) sendEntry(prefix string, e *sendEntry) *apiError {
	var err *apiError
	e.MessageBody = f.strPtr(prefix + "MessageBody")
	if e.DelaySeconds, err = f.int(prefix + "DelaySeconds"); err != nil {
		return err
	}
	if e.MessageAttributes, err = f.attributeMap(prefix + "MessageAttribute"); err != nil {
		return err
	}
	if e.MessageSystemAttributes, err = f.attributeMap(prefix + "MessageSystemAttribute"); err != nil {
		return err
	}
	e.MessageDeduplicationId = f.str(prefix + "MessageDeduplicationId")
	e.MessageGroupId = f.str(prefix + "MessageGroupId")
	return nil
}

// The query decoders, one an operation, fill the operation's input.

func (in *createQueueInput) query(f form) *apiError {
	in.QueueName = f.str("QueueName")
	in.Attributes = f.stringMap("Attribute", "Name")
	in.Tags = f.stringMap("Tag", "Key")
	return nil
}

func (in *queueURLInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	return nil
}

func (in *getQueueURLInput) query(f form) *apiError {
	in.QueueName = f.str("QueueName")
	in.QueueOwnerAWSAccountId = f.str("QueueOwnerAWSAccountId")
	return nil
}

func (in *listQueuesInput) query(f form) *apiError {
	in.QueueNamePrefix = f.str("QueueNamePrefix")
	in.NextToken = f.str("NextToken")
	var err *apiError
	in.MaxResults, err = f.int("MaxResults")
	return err
}

func (in *getQueueAttributesInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	in.AttributeNames = f.list("AttributeName")
	return nil
}

func (in *setQueueAttributesInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	in.Attributes = f.stringMap("Attribute", "Name")
	return nil
}

func (in *sendMessageInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	return f.sendEntry("", &in.sendEntry)
}

func (in *sendMessageBatchInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	for _, n := range f.indices("SendMessageBatchRequestEntry") {
		p := "SendMessageBatchRequestEntry." + strconv.Itoa(n) + "."
		e := sendBatchEntry{Id: f.str(p + "Id")}
		if err := f.sendEntry(p, &e.sendEntry); err != nil {
			return err
		}
		in.Entries = append(in.Entries, e)
	}
	return nil
}

func (in *receiveMessageInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	in.AttributeNames = f.list("AttributeName")
	in.MessageSystemAttributeNames = f.list("MessageSystemAttributeName")
	in.MessageAttributeNames = f.list("MessageAttributeName")
	in.ReceiveRequestAttemptId = f.str("ReceiveRequestAttemptId")
	var err *apiError
	if in.MaxNumberOfMessages, err = f.int("MaxNumberOfMessages"); err != nil {
		return err
	}
	if in.VisibilityTimeout, err = f.int("VisibilityTimeout"); err != nil {
		return err
	}
	in.WaitTimeSeconds, err = f.int("WaitTimeSeconds")
	return err
}

func (in *deleteMessageInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	in.ReceiptHandle = f.str("ReceiptHandle")
	return nil
}

func (in *deleteMessageBatchInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	for _, n := range f.indices("DeleteMessageBatchRequestEntry") {
		p := "DeleteMessageBatchRequestEntry." + strconv.Itoa(n) + "."
		in.Entries = append(in.Entries, deleteBatchEntry{Id: f.str(p + "Id"), ReceiptHandle: f.str(p + "ReceiptHandle")})
	}
	return nil
}

func (in *changeVisibilityInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	in.ReceiptHandle = f.str("ReceiptHandle")
	var err *apiError
	in.VisibilityTimeout, err = f.int("VisibilityTimeout")
	return err
}

func (in *changeVisibilityBatchInput) query(f form) *apiError {
	in.QueueUrl = f.str("QueueUrl")
	for _, n := range f.indices("ChangeMessageVisibilityBatchRequestEntry") {
		p := "ChangeMessageVisibilityBatchRequestEntry." + strconv.Itoa(n) + "."
		e := changeVisibilityBatchEntry{Id: f.str(p + "Id"), ReceiptHandle: f.str(p + "ReceiptHandle")}
		var err *apiError
		if e.VisibilityTimeout, err = f.int(p + "VisibilityTimeout"); err != nil {
			return err
		}
		in.Entries = append(in.Entries, e)
	}
	return nil
}
