package corpus

import (
	"strconv"
	"strings"
	"time"
)

// KMS, Secrets Manager, Systems Manager, CloudWatch and CloudWatch Logs,
// CloudTrail, Config, GuardDuty, CloudFormation, SNS, SQS and Route 53.

func operationsAPIs() []api {
	kmsOnBehalf := []string{"s3.amazonaws.com", "secretsmanager.amazonaws.com", "ssm.amazonaws.com", "dynamodb.amazonaws.com", "rds.amazonaws.com"}
	return []api{
		// AWS Key Management Service
		{svc: "kms", name: "Decrypt", weight: 8000, readOnly: true, onBehalf: kmsOnBehalf,
			services: []string{"logs.amazonaws.com", "cloudtrail.amazonaws.com"}, serviceShare: 4,
			req: func(w *jsonWriter, c *call) {
				kmsKey(c)
				w.Str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
				writeEncryptionContext(w, c)
			},
			resources: kmsResource},
		{svc: "kms", name: "GenerateDataKey", weight: 4000, readOnly: true, onBehalf: kmsOnBehalf,
			services: []string{"cloudtrail.amazonaws.com", "logs.amazonaws.com"}, serviceShare: 10,
			req: func(w *jsonWriter, c *call) {
				kmsKey(c)
				w.Str("keyId", c.arn)
				writeEncryptionContext(w, c)
				w.Str("keySpec", "AES_256")
			},
			resources: kmsResource},
		{svc: "kms", name: "Encrypt", weight: 700, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				kmsKey(c)
				w.Str("keyId", "alias/"+c.pick(teams)+"-"+c.acct.env)
				w.Str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
			},
			resources: kmsResource},
		{svc: "kms", name: "DescribeKey", weight: 1200, readOnly: true,
			req:       func(w *jsonWriter, c *call) { kmsKey(c); w.Str("keyId", c.arn) },
			resources: kmsResource,
			notFound:  notFound{"NotFoundException", "Invalid keyId %s"}},
		{svc: "kms", name: "ListAliases", weight: 250, readOnly: true},
		{svc: "kms", name: "ListKeys", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Int("limit", 1000) }},
		{svc: "kms", name: "GetKeyPolicy", weight: 150, readOnly: true,
			req:       func(w *jsonWriter, c *call) { kmsKey(c); w.Str("keyId", c.arn); w.Str("policyName", "default") },
			resources: kmsResource},
		{svc: "kms", name: "GetKeyRotationStatus", weight: 150, readOnly: true,
			req:       func(w *jsonWriter, c *call) { kmsKey(c); w.Str("keyId", c.arn) },
			resources: kmsResource},
		{svc: "kms", name: "ListResourceTags", weight: 100, readOnly: true,
			req:       func(w *jsonWriter, c *call) { kmsKey(c); w.Str("keyId", c.arn) },
			resources: kmsResource},
		{svc: "kms", name: "CreateGrant", weight: 150, onBehalf: []string{"ec2.amazonaws.com", "rds.amazonaws.com"},
			req: func(w *jsonWriter, c *call) {
				kmsKey(c)
				w.Str("keyId", c.arn)
				w.Cat("granteePrincipal", "arn:aws:iam::", c.acct.id, ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
				w.Array("operations")
				for _, op := range []string{"Decrypt", "Encrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant", "DescribeKey"} {
					w.StrItem(op)
				}
				w.EndArray()
				w.Object("constraints")
				w.Object("encryptionContextSubset")
				w.Str("aws:ebs:id", c.pick(c.acct.volumes))
				w.End()
				w.End()
			},
			resp: func(w *jsonWriter, c *call) {
				w.Random("grantId", "", c.r, hexDigits, 64)
				w.Str("keyId", c.arn)
			},
			resources: kmsResource},
		{svc: "kms", name: "RetireGrant", weight: 60, onBehalf: []string{"ec2.amazonaws.com"},
			req: func(w *jsonWriter, c *call) {
				kmsKey(c)
				w.Str("keyId", c.arn)
				w.Random("grantId", "", c.r, hexDigits, 64)
			},
			resources: kmsResource},
		{svc: "kms", name: "RotateKey", weight: 15, eventType: "AwsServiceEvent", noErrors: true,
			caller: serviceEventCaller("kms.amazonaws.com"),
			resources: func(w *jsonWriter, c *call) {
				kmsKey(c)
				kmsResource(w, c)
			}},

		// AWS Secrets Manager
		{svc: "secretsmanager", name: "GetSecretValue", weight: 2000, readOnly: true, req: secretID,
			notFound: notFound{"ResourceNotFoundException", "Secrets Manager can't find the specified secret."}},
		{svc: "secretsmanager", name: "DescribeSecret", weight: 500, readOnly: true, req: secretID},
		{svc: "secretsmanager", name: "ListSecrets", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Int("maxResults", 100) }},
		{svc: "secretsmanager", name: "GetResourcePolicy", weight: 40, readOnly: true, req: secretID},
		{svc: "secretsmanager", name: "PutSecretValue", weight: 12, callers: callerLambda | callerCI,
			req: func(w *jsonWriter, c *call) {
				secretID(w, c)
				w.UUID("clientRequestToken", c.r)
			},
			resp: func(w *jsonWriter, c *call) {
				w.Str("arn", c.arn)
				w.Str("name", c.name)
				w.UUID("versionId", c.r)
				w.Array("versionStages")
				w.StrItem("AWSCURRENT")
				w.EndArray()
			}},
		{svc: "secretsmanager", name: "RotateSecret", weight: 6, callers: callerLambda | callerHuman,
			req: func(w *jsonWriter, c *call) {
				secretID(w, c)
				w.UUID("clientRequestToken", c.r)
				w.Bool("rotateImmediately", true)
			}},

		// AWS Systems Manager
		{svc: "ssm", name: "GetParameter", weight: 1500, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("name", named(c, c.acct.parameters))
				w.Bool("withDecryption", true)
			},
			notFound: notFound{"ParameterNotFound", ""}},
		{svc: "ssm", name: "GetParameters", weight: 900, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Array("names")
				for range 1 + c.r.IntN(3) {
					w.StrItem(c.pick(c.acct.parameters))
				}
				w.EndArray()
				w.Bool("withDecryption", true)
			}},
		{svc: "ssm", name: "GetParametersByPath", weight: 400, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("path", "/"+c.acct.env+"/"+c.pick(teams))
				w.Bool("recursive", true)
				w.Bool("withDecryption", true)
			}},
		{svc: "ssm", name: "UpdateInstanceInformation", weight: 1200, callers: callerInstance, noErrors: true,
			req: func(w *jsonWriter, c *call) {
				ip := "10." + strconv.Itoa(16+c.acct.index) + "." + strconv.Itoa(c.r.IntN(64)) + "." + strconv.Itoa(1+c.r.IntN(254))
				w.Str("instanceId", c.sessionName())
				w.Str("agentVersion", "3.3.131.0")
				w.Str("agentName", "amazon-ssm-agent")
				w.Str("platformType", "Linux")
				w.Str("platformName", "Amazon Linux")
				w.Str("platformVersion", "2023")
				w.Str("iPAddress", ip)
				w.Cat("computerName", "ip-", strings.ReplaceAll(ip, ".", "-"), ".ec2.internal")
				w.Str("agentStatus", "Active")
				w.Str("availabilityZone", az(c.region, c.r))
			}},
		{svc: "ssm", name: "DescribeInstanceInformation", weight: 400, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Array("filters")
				w.Item()
				w.Str("key", "InstanceIds")
				w.Array("values")
				w.StrItem(c.pick(c.acct.instances))
				w.EndArray()
				w.End()
				w.EndArray()
			}},
		{svc: "ssm", name: "ListAssociations", weight: 200, readOnly: true, callers: callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Array("associationFilterList")
				w.Item()
				w.Str("key", "InstanceId")
				w.Str("value", c.sessionName())
				w.End()
				w.EndArray()
				w.Int("maxResults", 50)
			}},
		{svc: "ssm", name: "ListInstanceAssociations", weight: 200, readOnly: true, callers: callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Str("instanceId", c.sessionName())
				w.Int("maxResults", 20)
			}},
		{svc: "ssm", name: "DescribeParameters", weight: 100, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Int("maxResults", 50) }},
		{svc: "ssm", name: "PutParameter", weight: 12, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Str("name", named(c, c.acct.parameters))
				w.Str("type", "String")
				w.Bool("overwrite", true)
				w.Str("tier", "Standard")
			},
			resp: func(w *jsonWriter, c *call) {
				w.Int("version", int64(2+c.r.IntN(40)))
				w.Str("tier", "Standard")
			}},

		// Amazon CloudWatch Logs
		{svc: "logs", name: "CreateLogStream", weight: 1500, callers: callerLambda | callerPod,
			req: func(w *jsonWriter, c *call) {
				w.Str("logGroupName", named(c, c.acct.logGroups))
				w.Cat("logStreamName", c.time.Format("2006/01/02"), "/[$LATEST]", randomHex(c.r, 32))
			},
			notFound: notFound{"ResourceNotFoundException", "The specified log group does not exist."}},
		{svc: "logs", name: "DescribeLogGroups", weight: 600, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("logGroupNamePrefix", "/aws/lambda/") }},
		{svc: "logs", name: "DescribeLogStreams", weight: 400, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("logGroupName", named(c, c.acct.logGroups))
				w.Str("orderBy", "LastEventTime")
				w.Bool("descending", true)
				w.Int("limit", 1)
			}},
		{svc: "logs", name: "FilterLogEvents", weight: 250, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Str("logGroupName", named(c, c.acct.logGroups))
				w.Int("startTime", c.time.Add(-time.Hour).UnixMilli())
				w.Int("endTime", c.time.UnixMilli())
				w.Str("filterPattern", "?ERROR ?Exception ?\"Task timed out\"")
				w.Bool("interleaved", true)
			}},
		{svc: "logs", name: "GetLogEvents", weight: 250, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Str("logGroupName", named(c, c.acct.logGroups))
				w.Cat("logStreamName", c.time.Format("2006/01/02"), "/[$LATEST]", randomHex(c.r, 32))
				w.Bool("startFromHead", false)
			}},
		{svc: "logs", name: "StartQuery", weight: 80, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Array("logGroupNames")
				w.StrItem(c.pick(c.acct.logGroups))
				w.EndArray()
				w.Int("startTime", c.time.Add(-3*time.Hour).Unix())
				w.Int("endTime", c.time.Unix())
				w.Str("queryString", "fields @timestamp, @message, @logStream\n| filter @message like /(?i)error/\n| sort @timestamp desc\n| limit 100")
			},
			resp: func(w *jsonWriter, c *call) { w.UUID("queryId", c.r) }},
		{svc: "logs", name: "GetQueryResults", weight: 150, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) { w.UUID("queryId", c.r) }},
		{svc: "logs", name: "ListTagsLogGroup", weight: 60, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("logGroupName", named(c, c.acct.logGroups)) }},
		{svc: "logs", name: "CreateLogGroup", weight: 25, callers: callerCI | callerLambda,
			req: func(w *jsonWriter, c *call) { w.Str("logGroupName", "/aws/lambda/"+c.pick(c.acct.functions)) }},
		{svc: "logs", name: "PutRetentionPolicy", weight: 15, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Str("logGroupName", named(c, c.acct.logGroups))
				w.Int("retentionInDays", 30)
			}},

		// Amazon CloudWatch
		{svc: "monitoring", name: "GetMetricData", weight: 900, readOnly: true, callers: callerMonitor | callerHuman | callerPod,
			req: getMetricData},
		{svc: "monitoring", name: "DescribeAlarms", weight: 700, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				if c.r.IntN(2) == 0 {
					w.Array("alarmNames")
					w.StrItem(c.pick(c.acct.functions) + "-errors")
					w.EndArray()
					return
				}
				w.Int("maxRecords", 100)
			}},
		{svc: "monitoring", name: "ListMetrics", weight: 350, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("namespace", c.pick(metricNamespaces)) }},
		{svc: "monitoring", name: "GetMetricStatistics", weight: 450, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("namespace", "AWS/EC2")
				w.Str("metricName", "CPUUtilization")
				w.Array("dimensions")
				w.Item()
				w.Str("name", "InstanceId")
				w.Str("value", c.pick(c.acct.instances))
				w.End()
				w.EndArray()
				w.Str("startTime", c.time.Add(-10*time.Minute).Format(consoleTime))
				w.Str("endTime", c.time.Format(consoleTime))
				w.Int("period", 60)
				w.Array("statistics")
				w.StrItem("Average")
				w.StrItem("Maximum")
				w.EndArray()
			}},
		{svc: "monitoring", name: "DescribeAlarmHistory", weight: 40, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("alarmName", c.pick(c.acct.functions)+"-errors")
				w.Str("historyItemType", "StateUpdate")
			}},
		{svc: "monitoring", name: "PutMetricAlarm", weight: 15, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				fn := c.pick(c.acct.functions)
				w.Str("alarmName", fn+"-errors")
				w.Array("alarmActions")
				w.StrItem(c.arnPrefix("sns") + "alerts-critical")
				w.EndArray()
				w.Str("metricName", "Errors")
				w.Str("namespace", "AWS/Lambda")
				w.Str("statistic", "Sum")
				w.Array("dimensions")
				w.Item()
				w.Str("name", "FunctionName")
				w.Str("value", fn)
				w.End()
				w.EndArray()
				w.Int("period", 300)
				w.Int("evaluationPeriods", 1)
				w.Str("threshold", "1.0")
				w.Str("comparisonOperator", "GreaterThanOrEqualToThreshold")
				w.Str("treatMissingData", "notBreaching")
			}},

		// AWS CloudTrail (reading only: the tampering calls are planted)
		{svc: "cloudtrail", name: "DescribeTrails", weight: 250, readOnly: true, callers: callerReaders,
			req: func(w *jsonWriter, c *call) { w.Empty("trailNameList"); w.Bool("includeShadowTrails", true) }},
		{svc: "cloudtrail", name: "GetTrailStatus", weight: 250, readOnly: true, callers: callerReaders,
			req: func(w *jsonWriter, c *call) { w.Cat("name", c.arnPrefix("cloudtrail"), "trail/", c.acct.trail) }},
		{svc: "cloudtrail", name: "LookupEvents", weight: 150, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Array("lookupAttributes")
				w.Item()
				w.Str("attributeKey", "EventName")
				w.Str("attributeValue", c.pick([]string{"RunInstances", "ConsoleLogin", "DeleteBucket", "CreateUser"}))
				w.End()
				w.EndArray()
				w.Str("startTime", c.time.Add(-24*time.Hour).Format(consoleTime))
				w.Str("endTime", c.time.Format(consoleTime))
				w.Int("maxResults", 50)
			}},
		{svc: "cloudtrail", name: "GetEventSelectors", weight: 150, readOnly: true, callers: callerReaders,
			req: func(w *jsonWriter, c *call) { w.Str("trailName", c.acct.trail) }},
		{svc: "cloudtrail", name: "ListTrails", weight: 80, readOnly: true, callers: callerReaders},
		{svc: "cloudtrail", name: "GetTrail", weight: 60, readOnly: true, callers: callerReaders,
			req: func(w *jsonWriter, c *call) { w.Str("name", c.acct.trail) }},
		{svc: "cloudtrail", name: "GetInsightSelectors", weight: 40, readOnly: true, callers: callerReaders,
			req:      func(w *jsonWriter, c *call) { w.Str("trailName", named(c, []string{c.acct.trail})) },
			notFound: notFound{"InsightNotEnabledException", "Trail %s does not have Insights enabled."}},

		// AWS Config
		{svc: "config", name: "PutEvaluations", weight: 300, callers: callerConfig | callerLambda,
			req: func(w *jsonWriter, c *call) {
				w.Array("evaluations")
				w.Item()
				w.Str("complianceResourceType", "AWS::EC2::Instance")
				w.Str("complianceResourceId", c.pick(c.acct.instances))
				w.Str("complianceType", c.pick([]string{"COMPLIANT", "COMPLIANT", "NON_COMPLIANT"}))
				w.Str("orderingTimestamp", c.time.Add(-2*time.Minute).Format(consoleTime))
				w.End()
				w.EndArray()
				w.Random("resultToken", "", c.r, base64Std, 700)
				w.Bool("testMode", false)
			}},
		{svc: "config", name: "DescribeConfigurationRecorders", weight: 60, readOnly: true, callers: callerReaders},
		{svc: "config", name: "DescribeConfigurationRecorderStatus", weight: 60, readOnly: true, callers: callerReaders},
		{svc: "config", name: "DescribeConfigRules", weight: 60, readOnly: true, callers: callerReaders,
			req: func(w *jsonWriter, c *call) {
				w.Array("configRuleNames")
				w.StrItem(c.pick(c.acct.configRules))
				w.EndArray()
			}},
		{svc: "config", name: "DescribeDeliveryChannels", weight: 40, readOnly: true, callers: callerReaders},
		{svc: "config", name: "DescribeComplianceByConfigRule", weight: 30, readOnly: true, callers: callerHuman | callerMonitor},
		{svc: "config", name: "GetComplianceDetailsByConfigRule", weight: 30, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Str("configRuleName", c.pick(c.acct.configRules))
				w.Array("complianceTypes")
				w.StrItem("NON_COMPLIANT")
				w.EndArray()
				w.Int("limit", 100)
			}},

		// Amazon GuardDuty (reading only: disabling it is planted)
		{svc: "guardduty", name: "ListDetectors", weight: 100, readOnly: true, callers: callerReaders},
		{svc: "guardduty", name: "GetDetector", weight: 50, readOnly: true, callers: callerReaders,
			req: func(w *jsonWriter, c *call) { w.Str("detectorId", c.acct.detector) }},
		{svc: "guardduty", name: "ListFindings", weight: 50, readOnly: true, callers: callerHuman | callerMonitor | callerLambda,
			req: func(w *jsonWriter, c *call) {
				w.Str("detectorId", c.acct.detector)
				w.Object("findingCriteria")
				w.Object("criterion")
				w.Object("service.archived")
				w.Array("eq")
				w.StrItem("false")
				w.EndArray()
				w.End()
				w.End()
				w.End()
				w.Int("maxResults", 50)
			}},
		{svc: "guardduty", name: "GetFindings", weight: 40, readOnly: true, callers: callerHuman | callerMonitor | callerLambda,
			req: func(w *jsonWriter, c *call) {
				w.Str("detectorId", c.acct.detector)
				w.Array("findingIds")
				for range 1 + c.r.IntN(3) {
					w.RandomItem("", c.r, hexDigits, 32)
				}
				w.EndArray()
			}},
		{svc: "guardduty", name: "GetFindingsStatistics", weight: 30, readOnly: true, callers: callerHuman | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Str("detectorId", c.acct.detector)
				w.Array("findingStatisticTypes")
				w.StrItem("COUNT_BY_SEVERITY")
				w.EndArray()
			}},

		// AWS CloudFormation
		{svc: "cloudformation", name: "DescribeStacks", weight: 450, readOnly: true, req: stackName,
			notFound: notFound{"ValidationError", "Stack with id %s does not exist"}},
		{svc: "cloudformation", name: "ListStacks", weight: 80, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Array("stackStatusFilter")
				for _, s := range []string{"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"} {
					w.StrItem(s)
				}
				w.EndArray()
			}},
		{svc: "cloudformation", name: "DescribeStackEvents", weight: 200, readOnly: true, req: stackName},
		{svc: "cloudformation", name: "DescribeStackResources", weight: 100, readOnly: true, req: stackName},
		{svc: "cloudformation", name: "ListStackResources", weight: 80, readOnly: true, req: stackName},
		{svc: "cloudformation", name: "GetTemplate", weight: 50, readOnly: true,
			req: func(w *jsonWriter, c *call) { stackName(w, c); w.Str("templateStage", "Original") }},
		{svc: "cloudformation", name: "GetTemplateSummary", weight: 30, readOnly: true, req: stackName},
		{svc: "cloudformation", name: "DescribeChangeSet", weight: 20, readOnly: true, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				stackName(w, c)
				w.Str("changeSetName", "samcli-deploy"+strconv.FormatInt(c.time.Unix(), 10))
			}},
		{svc: "cloudformation", name: "CreateChangeSet", weight: 8, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				stackName(w, c)
				w.Cat("templateURL", "https://s3.amazonaws.com/", c.acct.buckets[6], "/", randomHex(c.r, 32), ".template")
				w.Array("capabilities")
				w.StrItem("CAPABILITY_IAM")
				w.StrItem("CAPABILITY_AUTO_EXPAND")
				w.EndArray()
				w.Str("changeSetName", "samcli-deploy"+strconv.FormatInt(c.time.Unix(), 10))
				w.Str("changeSetType", "UPDATE")
			},
			resp: func(w *jsonWriter, c *call) {
				w.Cat("id", c.arnPrefix("cloudformation"), "changeSet/samcli-deploy", strconv.FormatInt(c.time.Unix(), 10), "/", newUUID(c.r))
				w.Str("stackId", c.arn)
			}},
		{svc: "cloudformation", name: "ExecuteChangeSet", weight: 6, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				stackName(w, c)
				w.Str("changeSetName", "samcli-deploy"+strconv.FormatInt(c.time.Unix()-60, 10))
			}},

		// Amazon SNS
		{svc: "sns", name: "ListTopics", weight: 80, readOnly: true},
		{svc: "sns", name: "GetTopicAttributes", weight: 250, readOnly: true, req: topicArn,
			notFound: notFound{"NotFound", "Topic does not exist"}},
		{svc: "sns", name: "ListSubscriptionsByTopic", weight: 80, readOnly: true, req: topicArn},
		{svc: "sns", name: "ListTagsForResource", weight: 40, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("resourceArn", c.arnPrefix("sns")+c.pick(c.acct.topics)) }},
		{svc: "sns", name: "Subscribe", weight: 4, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				topicArn(w, c)
				w.Str("protocol", "sqs")
				w.Str("endpoint", c.arnPrefix("sqs")+c.pick(c.acct.queues))
				w.Bool("returnSubscriptionArn", true)
			},
			resp: func(w *jsonWriter, c *call) { w.Cat("subscriptionArn", c.arn, ":", newUUID(c.r)) }},

		// Amazon SQS
		{svc: "sqs", name: "GetQueueAttributes", weight: 450, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				queueURL(w, c)
				w.Array("attributeNames")
				w.StrItem("All")
				w.EndArray()
			},
			notFound: notFound{"AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."}},
		{svc: "sqs", name: "ListQueues", weight: 150, readOnly: true},
		{svc: "sqs", name: "GetQueueUrl", weight: 250, readOnly: true, callers: callerWorkload | callerCI,
			req: func(w *jsonWriter, c *call) { w.Str("queueName", named(c, c.acct.queues)) },
			resp: func(w *jsonWriter, c *call) {
				w.Cat("queueUrl", "https://sqs.", c.region, ".amazonaws.com/", c.acct.id, "/", c.name)
			}},
		{svc: "sqs", name: "ListQueueTags", weight: 80, readOnly: true, req: queueURL},
		{svc: "sqs", name: "SetQueueAttributes", weight: 8, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				queueURL(w, c)
				w.Object("attributes")
				w.Str("VisibilityTimeout", "120")
				w.Str("MessageRetentionPeriod", "1209600")
				w.End()
			}},

		// Amazon Route 53 (global)
		{svc: "route53", name: "ListHostedZones", weight: 80, readOnly: true, global: true},
		{svc: "route53", name: "GetHostedZone", weight: 50, readOnly: true, global: true, req: hostedZone("id")},
		{svc: "route53", name: "ListResourceRecordSets", weight: 120, readOnly: true, global: true, req: hostedZone("hostedZoneId")},
		{svc: "route53", name: "ChangeResourceRecordSets", weight: 20, global: true, callers: callerPod | callerCI,
			req: func(w *jsonWriter, c *call) {
				z := c.acct.hostedZones[c.r.IntN(len(c.acct.hostedZones))]
				w.Str("hostedZoneId", z.id)
				w.Object("changeBatch")
				w.Array("changes")
				w.Item()
				w.Str("action", "UPSERT")
				w.Object("resourceRecordSet")
				w.Str("name", c.pick(githubRepos)+"."+z.name)
				w.Str("type", "A")
				w.Object("aliasTarget")
				w.Str("hostedZoneId", "Z35SXDOTRQ7X7K")
				w.Cat("dNSName", c.acct.loadBalancers[0].name, "-", strconv.Itoa(100000000+c.r.IntN(900000000)), ".us-east-1.elb.amazonaws.com.")
				w.Bool("evaluateTargetHealth", true)
				w.End()
				w.End()
				w.End()
				w.EndArray()
				w.End()
			},
			resp: func(w *jsonWriter, c *call) {
				w.Object("changeInfo")
				w.Random("id", "/change/C0", c.r, upperAlnum, 19)
				w.Str("status", "PENDING")
				w.Str("submittedAt", c.time.Format(consoleTime))
				w.End()
			}},
		{svc: "route53", name: "GetChange", weight: 30, readOnly: true, global: true, callers: callerPod | callerCI,
			req: func(w *jsonWriter, c *call) { w.Random("id", "C0", c.r, upperAlnum, 19) }},

		// ECR lifecycle policies expiring images: a service event
		{svc: "ecr", name: "PolicyExecutionEvent", weight: 15, eventType: "AwsServiceEvent", noErrors: true,
			caller: serviceEventCaller("ecr.amazonaws.com"),
			details: func(w *jsonWriter, c *call) {
				repo := c.pick(c.acct.repos)
				w.Str("repositoryName", repo)
				w.Object("lifecycleEventPolicy")
				w.Array("lifecycleEventRules")
				w.Item()
				w.Int("rulePriority", 1)
				w.Str("description", "Expire untagged images older than 14 days")
				w.Int("lastEvaluatedAt", 0)
				w.Str("action", "EXPIRE")
				w.End()
				w.EndArray()
				w.Int("lastEvaluatedAt", c.time.UnixMilli())
				w.Int("policyVersion", 1)
				w.UUID("policyId", c.r)
				w.End()
				w.Array("lifecycleEventImageActions")
				w.Item()
				w.Object("lifecycleEventImage")
				w.Random("digest", "sha256:", c.r, hexDigits, 64)
				w.Str("tagStatus", "UNTAGGED")
				w.Str("repositoryName", repo)
				w.Int("imagePushedAt", c.time.Add(-20*24*time.Hour).UnixMilli())
				w.End()
				w.Int("rulePriority", 1)
				w.End()
				w.EndArray()
			}},
	}
}

var metricNamespaces = []string{"AWS/EC2", "AWS/Lambda", "AWS/RDS", "AWS/ApplicationELB", "AWS/SQS", "AWS/DynamoDB", "CWAgent"}

// sessionName is the caller's role session name: for instance profiles it
// is the instance ID.
func (c *call) sessionName() string {
	if c.sess != nil {
		return c.sess.name
	}
	return c.pick(c.acct.instances)
}

func kmsKey(c *call) {
	c.name = c.pick(c.acct.kmsKeys)
	c.arn = c.arnPrefix("kms") + "key/" + c.name
}

func kmsResource(w *jsonWriter, c *call) {
	w.Item()
	w.Str("accountId", c.acct.id)
	w.Str("type", "AWS::KMS::Key")
	w.Str("ARN", c.arn)
	w.End()
}

// writeEncryptionContext writes the context of the service the key is used
// for, which tells who really wanted the data key.
func writeEncryptionContext(w *jsonWriter, c *call) {
	w.Object("encryptionContext")
	switch c.invokedBy {
	case "secretsmanager.amazonaws.com":
		s := c.acct.secrets[c.r.IntN(len(c.acct.secrets))]
		w.Cat("SecretARN", c.arnPrefix("secretsmanager"), "secret:", s.name, "-", s.suffix)
		w.UUID("SecretVersionId", c.r)
	case "ssm.amazonaws.com":
		w.Cat("PARAMETER_ARN", c.arnPrefix("ssm"), "parameter", c.pick(c.acct.parameters))
	case "dynamodb.amazonaws.com":
		w.Str("aws:dynamodb:tableName", c.pick(c.acct.tables))
		w.Str("aws:dynamodb:subscriberId", c.acct.id)
	case "rds.amazonaws.com":
		w.Cat("aws:rds:db-id", "db-", randomString(c.r, upperAlnum, 26))
	case "logs.amazonaws.com":
		w.Cat("aws:logs:arn", c.arnPrefix("logs"), "log-group:", c.pick(c.acct.logGroups))
	case "cloudtrail.amazonaws.com":
		w.Cat("aws:cloudtrail:arn", "arn:aws:cloudtrail:us-east-1:", c.acct.id, ":trail/", c.acct.trail)
		w.Cat("aws:s3:arn", "arn:aws:s3:::", c.acct.buckets[5], "/AWSLogs/", c.acct.id, "/")
	default:
		if c.who != nil && c.who.kind == callerLambda {
			w.Cat("aws:lambda:FunctionArn", c.arnPrefix("lambda"), "function:", c.sessionName())
			break
		}
		w.Cat("aws:s3:arn", "arn:aws:s3:::", c.pick(c.acct.buckets))
	}
	w.End()
}

func serviceEventCaller(service string) func(c *call) {
	return func(c *call) {
		c.kind = idServiceEvent
		c.invokedBy = service
		c.ip = service
		c.agentTx = service
	}
}

func secretID(w *jsonWriter, c *call) {
	s := c.acct.secrets[c.r.IntN(len(c.acct.secrets))]
	c.name = s.name
	c.arn = c.arnPrefix("secretsmanager") + "secret:" + s.name + "-" + s.suffix
	if c.r.IntN(2) == 0 {
		w.Str("secretId", c.arn)
		return
	}
	w.Str("secretId", s.name)
}

func getMetricData(w *jsonWriter, c *call) {
	w.Array("metricDataQueries")
	for i := range 1 + c.r.IntN(3) {
		w.Item()
		w.Str("id", "m"+strconv.Itoa(i))
		w.Object("metricStat")
		w.Object("metric")
		w.Str("namespace", "AWS/Lambda")
		w.Str("metricName", c.pick([]string{"Invocations", "Errors", "Duration", "Throttles"}))
		w.Array("dimensions")
		w.Item()
		w.Str("name", "FunctionName")
		w.Str("value", c.pick(c.acct.functions))
		w.End()
		w.EndArray()
		w.End()
		w.Int("period", 60)
		w.Str("stat", "Sum")
		w.End()
		w.Bool("returnData", true)
		w.End()
	}
	w.EndArray()
	w.Str("startTime", c.time.Add(-15*time.Minute).Format(consoleTime))
	w.Str("endTime", c.time.Format(consoleTime))
}

func stackName(w *jsonWriter, c *call) {
	s := c.acct.stacks[c.r.IntN(len(c.acct.stacks))]
	c.name = s.name
	c.arn = c.arnPrefix("cloudformation") + "stack/" + s.name + "/" + s.id
	if c.r.IntN(2) == 0 {
		w.Str("stackName", c.arn)
		return
	}
	w.Str("stackName", s.name)
}

func topicArn(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.topics)
	c.arn = c.arnPrefix("sns") + c.name
	w.Str("topicArn", c.arn)
}

func queueURL(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.queues)
	w.Cat("queueUrl", "https://sqs.", c.region, ".amazonaws.com/", c.acct.id, "/", c.name)
}

func hostedZone(key string) builder {
	return func(w *jsonWriter, c *call) {
		z := c.acct.hostedZones[c.r.IntN(len(c.acct.hostedZones))]
		c.name = z.id
		w.Str(key, z.id)
	}
}
