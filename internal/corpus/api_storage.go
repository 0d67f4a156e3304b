package corpus

import (
	"strconv"
	"time"
)

// S3 (data and bucket-level management events), DynamoDB and RDS.

func storageAPIs() []api {
	return []api{
		// Amazon S3 data events
		{svc: "s3", name: "GetObject", weight: 5000, readOnly: true, data: true, callers: callerAnyone | callerS3Tool,
			req: s3Object, additional: s3Transfer(false), resources: s3ObjectResources,
			notFound: notFound{"NoSuchKey", "The specified key does not exist."}},
		{svc: "s3", name: "PutObject", weight: 2500, data: true, callers: callerAnyone | callerS3Tool,
			req: s3Object, additional: s3Transfer(true), resources: s3ObjectResources,
			resp: func(w *jsonWriter, c *call) {
				w.Str("x-amz-server-side-encryption", "aws:kms")
				w.Cat("x-amz-server-side-encryption-aws-kms-key-id", c.arnPrefix("kms"), "key/", c.acct.kmsKeys[0])
				w.Str("x-amz-server-side-encryption-bucket-key-enabled", "true")
			}},
		{svc: "s3", name: "HeadObject", weight: 1200, readOnly: true, data: true, callers: callerAnyone | callerS3Tool,
			req: s3Object, additional: s3Transfer(false), resources: s3ObjectResources,
			notFound: notFound{"NoSuchKey", "Not Found"}},
		{svc: "s3", name: "ListObjects", weight: 800, readOnly: true, data: true, callers: callerAnyone | callerS3Tool,
			req: func(w *jsonWriter, c *call) {
				s3Bucket(c)
				w.Str("list-type", "2")
				w.Str("bucketName", c.bucket)
				w.Str("encoding-type", "url")
				w.Str("max-keys", "1000")
				w.Str("prefix", s3Prefix(c))
				w.Str("delimiter", "/")
				w.Str("Host", c.host)
			},
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "DeleteObject", weight: 300, data: true, callers: callerWorkload | callerCI,
			req: s3Object, additional: s3Transfer(false), resources: s3ObjectResources},

		// Amazon S3 bucket-level management events
		{svc: "s3", name: "ListBuckets", weight: 600, readOnly: true, callers: callerWorkload | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				c.host = "s3.amazonaws.com"
				w.Str("Host", c.host)
			},
			additional: s3Transfer(false)},
		{svc: "s3", name: "GetBucketLocation", weight: 1200, readOnly: true, req: s3BucketParam("location"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketAcl", weight: 700, readOnly: true, req: s3BucketParam("acl"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketPolicy", weight: 400, readOnly: true, req: s3BucketParam("policy"),
			additional: s3Transfer(false), resources: s3BucketResource,
			notFound: notFound{"NoSuchBucketPolicy", "The bucket policy does not exist"}},
		{svc: "s3", name: "GetBucketVersioning", weight: 300, readOnly: true, req: s3BucketParam("versioning"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketEncryption", weight: 300, readOnly: true, req: s3BucketParam("encryption"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketTagging", weight: 300, readOnly: true, req: s3BucketParam("tagging"),
			additional: s3Transfer(false), resources: s3BucketResource,
			notFound: notFound{"NoSuchTagSet", "The TagSet does not exist"}},
		{svc: "s3", name: "GetBucketPublicAccessBlock", weight: 250, readOnly: true, req: s3BucketParam("publicAccessBlock"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketLogging", weight: 150, readOnly: true, req: s3BucketParam("logging"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketPolicyStatus", weight: 100, readOnly: true, req: s3BucketParam("policyStatus"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketOwnershipControls", weight: 100, readOnly: true, req: s3BucketParam("ownershipControls"),
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "GetBucketLifecycle", weight: 80, readOnly: true, req: s3BucketParam("lifecycle"),
			additional: s3Transfer(false), resources: s3BucketResource,
			notFound: notFound{"NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"}},
		{svc: "s3", name: "PutBucketTagging", weight: 15, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				s3Bucket(c)
				w.Str("bucketName", c.bucket)
				w.Str("Host", c.host)
				w.Object("Tagging")
				w.Str("xmlns", "http://s3.amazonaws.com/doc/2006-03-01/")
				w.Object("TagSet")
				w.Array("Tag")
				w.Item()
				w.Str("Key", "team")
				w.Str("Value", c.pick(teams))
				w.End()
				w.Item()
				w.Str("Key", "managed-by")
				w.Str("Value", "terraform")
				w.End()
				w.EndArray()
				w.End()
				w.End()
				w.Array("tagging")
				w.StrItem("")
				w.EndArray()
			},
			additional: s3Transfer(false), resources: s3BucketResource},
		{svc: "s3", name: "PutBucketPolicy", weight: 6, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				s3Bucket(c)
				writeBucketPolicy(w, c, `{"AWS":"arn:aws:iam::`+c.acct.id+`:role/TerraformExecutionRole"}`, "s3:GetObject")
			},
			additional: s3Transfer(false), resources: s3BucketResource},

		// Amazon DynamoDB
		{svc: "dynamodb", name: "DescribeTable", weight: 900, readOnly: true, req: ddbTable, resources: ddbResource,
			notFound: notFound{"ResourceNotFoundException", "Requested resource not found: Table: %s not found"}},
		{svc: "dynamodb", name: "ListTables", weight: 250, readOnly: true},
		{svc: "dynamodb", name: "DescribeContinuousBackups", weight: 150, readOnly: true, req: ddbTable, resources: ddbResource},
		{svc: "dynamodb", name: "DescribeTimeToLive", weight: 100, readOnly: true, req: ddbTable, resources: ddbResource},
		{svc: "dynamodb", name: "ListTagsOfResource", weight: 100, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				c.name = c.pick(c.acct.tables)
				c.arn = c.arnPrefix("dynamodb") + "table/" + c.name
				w.Str("resourceArn", c.arn)
			},
			resources: ddbResource},
		{svc: "dynamodb", name: "CreateBackup", weight: 12, callers: callerLambda | callerCI,
			req: func(w *jsonWriter, c *call) {
				ddbTable(w, c)
				w.Str("backupName", c.name+"-"+c.time.Format("2006-01-02"))
			},
			resp: func(w *jsonWriter, c *call) {
				w.Object("backupDetails")
				w.Cat("backupArn", c.arn, "/backup/0", strconv.FormatInt(c.time.UnixMilli(), 10), "-", randomHex(c.r, 8))
				w.Str("backupName", c.name+"-"+c.time.Format("2006-01-02"))
				w.Str("backupStatus", "CREATING")
				w.Str("backupType", "USER")
				w.Str("backupCreationDateTime", c.time.Format(consoleTime))
				w.End()
			},
			resources: ddbResource},
		{svc: "dynamodb", name: "UpdateTable", weight: 6, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				ddbTable(w, c)
				w.Str("billingMode", "PAY_PER_REQUEST")
			},
			resources: ddbResource},

		// Amazon RDS
		{svc: "rds", name: "DescribeDBInstances", weight: 700, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				if c.r.IntN(2) == 0 {
					w.Str("dBInstanceIdentifier", named(c, c.acct.dbInstances))
					return
				}
				w.Int("maxRecords", 100)
			},
			notFound: notFound{"DBInstanceNotFoundFault", "DBInstance %s not found."}},
		{svc: "rds", name: "DescribeDBClusters", weight: 400, readOnly: true,
			req:      func(w *jsonWriter, c *call) { w.Str("dBClusterIdentifier", named(c, c.acct.dbClusters)) },
			notFound: notFound{"DBClusterNotFoundFault", "DBCluster %s not found."}},
		{svc: "rds", name: "DescribeDBSnapshots", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("dBInstanceIdentifier", named(c, c.acct.dbInstances))
				w.Str("snapshotType", "automated")
			}},
		{svc: "rds", name: "DescribeEvents", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("sourceType", "db-instance")
				w.Str("startTime", c.time.Add(-time.Hour).Format(consoleTime))
				w.Str("endTime", c.time.Format(consoleTime))
			}},
		{svc: "rds", name: "ListTagsForResource", weight: 250, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Cat("resourceName", c.arnPrefix("rds"), "db:", named(c, c.acct.dbInstances))
			}},
		{svc: "rds", name: "DescribeDBLogFiles", weight: 60, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("dBInstanceIdentifier", named(c, c.acct.dbInstances)) }},
		{svc: "rds", name: "DescribeDBParameters", weight: 40, readOnly: true,
			req: fixed("dBParameterGroupName", "default.postgres16")},
		{svc: "rds", name: "DescribeDBEngineVersions", weight: 40, readOnly: true,
			req: fixed("engine", "aurora-postgresql", "engineVersion", "16.1")},
		{svc: "rds", name: "CreateDBSnapshot", weight: 10, callers: callerCI | callerLambda,
			req: func(w *jsonWriter, c *call) {
				c.name = c.pick(c.acct.dbInstances)
				w.Str("dBSnapshotIdentifier", c.name+"-manual-"+c.time.Format("2006-01-02-15-04"))
				w.Str("dBInstanceIdentifier", c.name)
			},
			resp: func(w *jsonWriter, c *call) {
				w.Str("dBSnapshotIdentifier", c.name+"-manual-"+c.time.Format("2006-01-02-15-04"))
				w.Str("dBInstanceIdentifier", c.name)
				w.Str("engine", "postgres")
				w.Int("allocatedStorage", 100)
				w.Str("status", "creating")
				w.Int("port", 5432)
				w.Str("availabilityZone", az(c.region, c.r))
				w.Str("vpcId", c.acct.vpcs[0])
				w.Str("instanceCreateTime", c.time.Add(-400*24*time.Hour).Format(consoleTime))
				w.Str("masterUsername", "postgres")
				w.Str("engineVersion", "16.1")
				w.Str("snapshotType", "manual")
				w.Bool("encrypted", true)
				w.Cat("kmsKeyId", c.arnPrefix("kms"), "key/", c.acct.kmsKeys[1])
				w.Cat("dBSnapshotArn", c.arnPrefix("rds"), "snapshot:", c.name, "-manual")
				w.Str("storageType", "gp3")
			}},
		{svc: "rds", name: "RebootDBInstance", weight: 3, callers: callerHuman,
			req: func(w *jsonWriter, c *call) { w.Str("dBInstanceIdentifier", named(c, c.acct.dbInstances)) }},
	}
}

// s3Bucket picks a bucket and sets the virtual-hosted host name.
func s3Bucket(c *call) {
	c.bucket = c.pick(c.acct.buckets)
	c.host = c.bucket + ".s3." + c.region + ".amazonaws.com"
	c.name = c.bucket
}

func s3Prefix(c *call) string {
	switch c.r.IntN(4) {
	case 0:
		return "raw/events/" + c.time.Format("2006/01/02") + "/"
	case 1:
		return "builds/" + c.pick(c.acct.repos) + "/"
	case 2:
		return "exports/"
	}
	return ""
}

// s3Key makes an object key that looks like what the bucket holds.
func s3Key(c *call) string {
	switch c.r.IntN(7) {
	case 0:
		return "raw/events/" + c.time.Format("2006/01/02/15") + "/part-" + strconv.Itoa(c.r.IntN(100000)) + "-" + newUUID(c.r) + ".snappy.parquet"
	case 1:
		return "builds/" + c.pick(c.acct.repos) + "/" + randomHex(c.r, 40) + "/artifact.zip"
	case 2:
		return "env:/" + c.acct.env + "/" + c.pick(teams) + "/terraform.tfstate"
	case 3:
		return "static/js/main." + randomHex(c.r, 8) + ".chunk.js"
	case 4:
		return "backups/postgres/" + c.time.Format("2006-01-02") + "/dump-" + strconv.Itoa(c.r.IntN(24)) + ".sql.gz"
	case 5:
		return "reports/" + c.pick(teams) + "/weekly/" + c.time.Format("2006-W01") + ".csv"
	}
	return "uploads/images/" + newUUID(c.r) + "/original.jpg"
}

func s3Object(w *jsonWriter, c *call) {
	s3Bucket(c)
	c.key = s3Key(c)
	c.name = c.key
	w.Str("bucketName", c.bucket)
	w.Str("Host", c.host)
	w.Str("key", c.key)
}

func s3BucketParam(sub string) builder {
	return func(w *jsonWriter, c *call) {
		s3Bucket(c)
		w.Str("bucketName", c.bucket)
		w.Str("Host", c.host)
		w.Array(sub)
		w.StrItem("")
		w.EndArray()
	}
}

// s3Transfer writes S3's additionalEventData.
func s3Transfer(upload bool) builder {
	return func(w *jsonWriter, c *call) {
		w.Str("SignatureVersion", "SigV4")
		w.Str("CipherSuite", "TLS_AES_128_GCM_SHA256")
		in, out := int64(0), int64(0)
		if c.api.data && c.errCode == "" {
			if upload {
				in = int64(200 + c.r.IntN(8<<20))
			} else if c.api.name == "GetObject" {
				out = int64(200 + c.r.IntN(4<<20))
			}
		}
		w.Int("bytesTransferredIn", in)
		w.Str("AuthenticationMethod", "AuthHeader")
		w.Random("x-amz-id-2", "", c.r, base64Std, 76)
		w.Int("bytesTransferredOut", out)
	}
}

func s3ObjectResources(w *jsonWriter, c *call) {
	w.Item()
	w.Str("type", "AWS::S3::Object")
	w.Cat("ARN", "arn:aws:s3:::", c.bucket, "/", c.key)
	w.End()
	s3BucketResource(w, c)
}

func s3BucketResource(w *jsonWriter, c *call) {
	w.Item()
	w.Str("accountId", c.acct.id)
	w.Str("type", "AWS::S3::Bucket")
	w.Cat("ARN", "arn:aws:s3:::", c.bucket)
	w.End()
}

// writeBucketPolicy writes PutBucketPolicy parameters; principal is raw
// JSON ("\"*\"" or an object).
func writeBucketPolicy(w *jsonWriter, c *call, principal, action string) {
	w.Object("bucketPolicy")
	w.Str("Version", "2012-10-17")
	w.Array("Statement")
	w.Item()
	w.Str("Sid", "AllowRead")
	w.Str("Effect", "Allow")
	w.key("Principal")
	w.buf = append(w.buf, principal...)
	w.comma = true
	w.Str("Action", action)
	w.Cat("Resource", "arn:aws:s3:::", c.bucket, "/*")
	w.End()
	w.EndArray()
	w.End()
	w.Str("bucketName", c.bucket)
	w.Str("Host", c.host)
	w.Array("policy")
	w.StrItem("")
	w.EndArray()
}

func ddbTable(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.tables)
	c.arn = c.arnPrefix("dynamodb") + "table/" + c.name
	w.Str("tableName", c.name)
}

func ddbResource(w *jsonWriter, c *call) {
	w.Item()
	w.Str("accountId", c.acct.id)
	w.Str("type", "AWS::DynamoDB::Table")
	w.Str("ARN", c.arn)
	w.End()
}
