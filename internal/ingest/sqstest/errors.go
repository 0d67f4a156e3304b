package sqstest

import "fmt"

// An apiError is an error as SQS reports it: a code for each protocol, the
// HTTP status, who is at fault, and a message. The same value is written as
// a JSON 1.0 error (shape name in __type, query code in x-amzn-query-error)
// or as a query <ErrorResponse>, so an SDK of either generation maps it to
// the same typed error.
type apiError struct {
	shape  string // the Smithy shape name, used in JSON's __type: "QueueDoesNotExist"
	code   string // the query protocol's code: "AWS.SimpleQueueService.NonExistentQueue"
	status int
	sender bool // Sender (client) fault, else Receiver
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// errorKind is one row of the error table below; with a message it makes an
// apiError.
type errorKind struct {
	shape, code string
	status      int
	sender      bool
}

func (k errorKind) new(format string, args ...any) *apiError {
	return &apiError{shape: k.shape, code: k.code, status: k.status, sender: k.sender, msg: fmt.Sprintf(format, args...)}
}

// The errors sqstest returns. The shapes with their own query codes and
// statuses are the ones the SQS Smithy model declares (the SDK's typed
// errors); the rest are SQS's common errors, which SDKs report as generic
// API errors carrying the query code.
var (
	errQueueDoesNotExist     = errorKind{"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, true}
	errQueueNameExists       = errorKind{"QueueNameExists", "QueueAlreadyExists", 400, true}
	errQueueDeletedRecently  = errorKind{"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, true}
	errInvalidAddress        = errorKind{"InvalidAddress", "InvalidAddress", 404, true}
	errInvalidAttributeName  = errorKind{"InvalidAttributeName", "InvalidAttributeName", 400, true}
	errInvalidAttributeValue = errorKind{"InvalidAttributeValue", "InvalidAttributeValue", 400, true}
	errInvalidMessage        = errorKind{"InvalidMessageContents", "InvalidMessageContents", 400, true}
	errMessageNotInflight    = errorKind{"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, true}
	errReceiptHandleInvalid  = errorKind{"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404, true}
	errTooManyEntries        = errorKind{"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, true}
	errEmptyBatch            = errorKind{"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, true}
	errBatchIDsNotDistinct   = errorKind{"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true}
	errBatchTooLong          = errorKind{"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, true}
	errInvalidBatchEntryID   = errorKind{"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true}
	errPurgeInProgress       = errorKind{"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, true}
	errUnsupportedOperation  = errorKind{"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, true}

	errInvalidParameterValue = errorKind{"InvalidParameterValue", "InvalidParameterValue", 400, true}
	errMissingParameter      = errorKind{"MissingParameter", "MissingParameter", 400, true}
	errInvalidAction         = errorKind{"InvalidAction", "InvalidAction", 400, true}
	errMissingAction         = errorKind{"MissingAction", "MissingAction", 400, true}
	errNoSuchVersion         = errorKind{"NoSuchVersion", "NoSuchVersion", 400, true}
	errMalformedQuery        = errorKind{"MalformedQueryString", "MalformedQueryString", 400, true}
	errMissingAuth           = errorKind{"MissingAuthenticationToken", "MissingAuthenticationToken", 403, true}
	errRequestTooLarge       = errorKind{"RequestEntityTooLarge", "RequestEntityTooLarge", 413, true}

	// JSON-only failures of the request itself, which SQS reports in the
	// coral namespace rather than its own.
	errSerialization    = errorKind{"com.amazon.coral.service#SerializationException", "MalformedInput", 400, true}
	errUnknownOperation = errorKind{"com.amazon.coral.service#UnknownOperationException", "InvalidAction", 400, true}
)

// jsonType is the value of __type: SQS's own shapes are qualified with the
// service namespace, as AWS sends them.
func (e *apiError) jsonType() string {
	for _, c := range e.shape {
		if c == '#' {
			return e.shape
		}
	}
	return "com.amazonaws.sqs#" + e.shape
}

// fault is the query protocol's Type and the second half of
// x-amzn-query-error.
func (e *apiError) fault() string {
	if e.sender {
		return "Sender"
	}
	return "Receiver"
}

// invalidValue is the common SQS wording for a parameter out of range.
func invalidValue(param string, value any, reason string) *apiError {
	return errInvalidParameterValue.new("Value %v for parameter %s is invalid. Reason: %s", value, param, reason)
}

func missing(param string) *apiError {
	return errMissingParameter.new("The request must contain the parameter %s.", param)
}
