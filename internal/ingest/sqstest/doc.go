// Package sqstest is an Amazon SQS endpoint for tests: an in-process HTTP
// server on 127.0.0.1 that the real aws-sdk-go-v2 SQS client and awscli talk
// to as they would to AWS, so that trailsentry's SQS source (watch mode:
// S3 event notifications and EventBridge events delivered through SQS) is
// tested against the protocol rather than a mock of our own client code.
//
//	srv := sqstest.New(t)                  // closed when the test ends
//	client := srv.Client(ctx)              // *sqs.Client: static credentials, BaseEndpoint = srv.URL()
//	srv.AWSCLI(t, "sqs", "create-queue", "--queue-name", "trail-events")
//
// Why it exists: current aws-sdk-go-v2 SQS clients speak AWS JSON 1.0
// (X-Amz-Target: AmazonSQS.ReceiveMessage), while the SQS emulator that can
// be installed here (goaws v0.4.4) and Debian's awscli 2.9 speak only the
// older query protocol. This server speaks both on one endpoint: a request
// with X-Amz-Target (or an application/x-amz-json content type) is JSON 1.0,
// anything else is a query request (Action=...&Version=2012-11-05).
//
// # What is faithful
//
// Following the SQS API reference and developer guide:
//
//   - Actions: CreateQueue, GetQueueUrl, ListQueues (prefix, MaxResults,
//     NextToken), DeleteQueue, PurgeQueue, GetQueueAttributes,
//     SetQueueAttributes, SendMessage, SendMessageBatch, ReceiveMessage,
//     DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility and
//     ChangeMessageVisibilityBatch. Other SQS actions (tags, permissions,
//     message move tasks) answer UnsupportedOperation naming the action.
//   - Errors: JSON 1.0 errors carry __type with the Smithy shape
//     ("com.amazonaws.sqs#QueueDoesNotExist") and the x-amzn-query-error
//     header ("AWS.SimpleQueueService.NonExistentQueue;Sender"); query errors
//     are <ErrorResponse> documents with Type, Code, Message and RequestId.
//     The SDK maps them to its typed errors (*types.QueueDoesNotExist,
//     *types.ReceiptHandleIsInvalid, ...); common errors such as
//     InvalidParameterValue and MissingParameter arrive as generic API
//     errors with that code. Every response has a request ID
//     (x-amzn-RequestId, and ResponseMetadata/RequestId in XML).
//   - Checksums: MD5OfMessageBody, and MD5OfMessageAttributes and
//     MD5OfMessageSystemAttributes computed as the developer guide describes
//     (sorted names; length-prefixed name, type, transport byte and value).
//     On ReceiveMessage the attribute digest covers the attributes returned.
//   - Queue attributes and their limits: VisibilityTimeout (0–43200, default
//     30), MessageRetentionPeriod (60–1209600, default 345600), DelaySeconds
//     (0–900), ReceiveMessageWaitTimeSeconds (0–20), MaximumMessageSize
//     (1024–262144), RedrivePolicy (an existing dead-letter queue,
//     maxReceiveCount 1–1000), Policy, RedriveAllowPolicy, KMS and SSE
//     settings (stored and returned, nothing encrypted), and the read-only
//     ApproximateNumberOfMessages, ...NotVisible, ...Delayed, QueueArn,
//     CreatedTimestamp and LastModifiedTimestamp. CreateQueue repeated with
//     the same attributes returns the URL; with a different value it fails
//     with QueueNameExists. A queue name cannot be reused for 60 seconds
//     after DeleteQueue (QueueDeletedRecently), and a queue cannot be purged
//     twice within 60 seconds (PurgeQueueInProgress).
//   - Messages: bodies limited to SQS's character set, body plus attributes
//     up to MaximumMessageSize (256 KiB), up to 10 message attributes of type
//     String, Number or Binary (with custom suffixes), AWSTraceHeader as the
//     one message system attribute, per-message DelaySeconds overriding the
//     queue's, retention counted from the first send.
//   - Receiving: MaxNumberOfMessages 1–10; long polling (WaitTimeSeconds or
//     the queue's default) that returns as soon as a message becomes
//     available — sent, its delay or visibility timeout over, or its
//     visibility changed to 0; a per-call VisibilityTimeout; system
//     attributes through AttributeNames or MessageSystemAttributeNames
//     (SenderId, SentTimestamp, ApproximateReceiveCount,
//     ApproximateFirstReceiveTimestamp, AWSTraceHeader,
//     DeadLetterQueueSourceArn, MessageGroupId, or All); message attributes
//     by name, "prefix.*", "All" or ".*".
//   - Visibility and receipt handles: a received message is invisible until
//     its visibility timeout ends or ChangeMessageVisibility changes it (0
//     makes it visible at once; in total at most 12 hours from the receive);
//     each receive returns a new receipt handle and increments
//     ApproximateReceiveCount. With a handle from an earlier receive (the
//     message was received again since), DeleteMessage succeeds and deletes
//     nothing — the DeleteMessage reference: "you must provide the most
//     recently received ReceiptHandle for the message (otherwise, the request
//     succeeds, but the message will not be deleted)" — and
//     ChangeMessageVisibility fails with InvalidParameterValue ("The receipt
//     handle has expired"). Deleting a message already deleted succeeds.
//     ChangeMessageVisibility on a message no longer in flight fails with
//     MessageNotInflight.
//   - Dead-letter queues: a message received maxReceiveCount times is moved,
//     on the next receive attempt, to the RedrivePolicy's target; it keeps
//     its message ID, body, attributes, receive count and send time, and
//     gains DeadLetterQueueSourceArn.
//   - Batches: 1–10 entries (EmptyBatchRequest, TooManyEntriesInBatchRequest),
//     distinct IDs of letters, digits, - and _ up to 80 long
//     (BatchEntryIdsNotDistinct, InvalidBatchEntryId), 256 KiB in total for
//     SendMessageBatch (BatchRequestTooLong); an entry that fails on its own
//     is listed in Failed with its ID, code, message and SenderFault while
//     the others succeed.
//
// # What is simplified
//
//   - Standard queues only: FIFO queues (a .fifo name, FifoQueue=true) are
//     rejected with a message saying so, and MessageDeduplicationId is
//     refused as on a standard queue. (S3 event notifications cannot target
//     FIFO queues anyway.)
//   - No SigV4 verification: a request must carry an Authorization header
//     (or a presigned X-Amz-Signature), else MissingAuthenticationToken; the
//     access key ID in it is reported as SenderId. There is one account
//     (000000000000) and one region (us-east-1); QueueUrl is matched on its
//     path, whatever its host.
//   - Exact, not approximate: receives see every available message, oldest
//     first (SQS samples servers on short polls and may return fewer or
//     reorder); counts are exact; a purge is immediate.
//   - Time: message timestamps, delays, visibility, retention and the
//     60-second rules use Options.Now, so tests can move time on; long polls
//     wait on the wall clock (see Options).
//   - Not kept: tags, permissions, KMS encryption, message move tasks,
//     StringListValues and BinaryListValues (reserved by AWS).
package sqstest
