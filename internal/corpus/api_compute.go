package corpus

import (
	"strconv"
	"strings"
	"time"
)

// EC2, Auto Scaling, Lambda, containers (ECS, EKS, ECR) and load balancing.

func computeAPIs() []api {
	return []api{
		// Amazon EC2
		{svc: "ec2", name: "DescribeInstances", weight: 3500, readOnly: true, req: ec2DescribeInstances},
		{svc: "ec2", name: "DescribeSecurityGroups", weight: 1300, readOnly: true,
			req: ec2Describe("securityGroupSet", "securityGroupIdSet", "groupId", func(c *call) string { return c.pick2sg() })},
		{svc: "ec2", name: "DescribeSubnets", weight: 900, readOnly: true, req: ec2Filtered("subnetSet", "vpc-id", func(c *call) string { return c.pick(c.acct.vpcs) })},
		{svc: "ec2", name: "DescribeVpcs", weight: 700, readOnly: true, req: ec2Filtered("vpcSet", "isDefault", func(*call) string { return "false" })},
		{svc: "ec2", name: "DescribeNetworkInterfaces", weight: 1400, readOnly: true, callers: callerAnyone,
			req: ec2Filtered("networkInterfaceIdSet", "attachment.instance-id", func(c *call) string { return c.pick(c.acct.instances) })},
		{svc: "ec2", name: "DescribeVolumes", weight: 700, readOnly: true,
			req: ec2Describe("volumeSet", "", "volumeId", func(c *call) string { return c.pick(c.acct.volumes) })},
		{svc: "ec2", name: "DescribeSnapshots", weight: 300, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Items("ownersSet")
				w.Item()
				w.Str("owner", "self")
				w.End()
				w.EndItems()
				w.Empty("snapshotSet")
				w.Empty("filterSet")
				w.Int("maxResults", 1000)
			}},
		{svc: "ec2", name: "DescribeImages", weight: 500, readOnly: true,
			req: ec2Describe("imagesSet", "", "imageId", func(c *call) string { return c.pick(c.acct.images) })},
		{svc: "ec2", name: "DescribeRegions", weight: 450, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Empty("regionSet"); w.Bool("allRegions", false) }},
		{svc: "ec2", name: "DescribeAvailabilityZones", weight: 450, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Empty("availabilityZoneSet"); w.Empty("availabilityZoneIdSet") }},
		{svc: "ec2", name: "DescribeInstanceStatus", weight: 900, readOnly: true, callers: callerAnyone,
			req: func(w *jsonWriter, c *call) {
				w.Empty("instancesSet")
				w.Empty("filterSet")
				w.Bool("includeAllInstances", true)
			}},
		{svc: "ec2", name: "DescribeTags", weight: 500, readOnly: true,
			req: ec2Filtered("tagSet", "resource-id", func(c *call) string { return c.pick(c.acct.instances) })},
		{svc: "ec2", name: "DescribeRouteTables", weight: 250, readOnly: true,
			req: ec2Filtered("routeTableIdSet", "vpc-id", func(c *call) string { return c.pick(c.acct.vpcs) })},
		{svc: "ec2", name: "DescribeLaunchTemplates", weight: 200, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Empty("launchTemplateIdSet"); w.Empty("launchTemplateNameSet") }},
		{svc: "ec2", name: "DescribeLaunchTemplateVersions", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Random("launchTemplateId", "lt-0", c.r, hexDigits, 16)
				w.Items("LaunchTemplateVersion")
				w.Item()
				w.Str("content", "$Latest")
				w.End()
				w.EndItems()
			}},
		{svc: "ec2", name: "DescribeAddresses", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Empty("publicIpsSet")
				w.Empty("allocationIdsSet")
				w.Empty("filterSet")
			}},
		{svc: "ec2", name: "DescribeKeyPairs", weight: 80, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Empty("keySet"); w.Empty("keyPairIdSet") }},
		{svc: "ec2", name: "DescribeAccountAttributes", weight: 200, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Items("accountAttributeNameSet")
				w.Item()
				w.Str("attributeName", "supported-platforms")
				w.End()
				w.EndItems()
				w.Empty("filterSet")
			}},
		{svc: "ec2", name: "DescribeVpcEndpoints", weight: 100, readOnly: true,
			req: ec2Filtered("vpcEndpointId", "vpc-id", func(c *call) string { return c.pick(c.acct.vpcs) })},
		{svc: "ec2", name: "DescribeInstanceTypes", weight: 150, readOnly: true, callers: callerInstance | callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Object("DescribeInstanceTypesRequest")
				w.Items("InstanceType")
				for _, t := range []string{"m6i.large", "m6i.xlarge", "c6i.2xlarge"} {
					w.Item()
					w.Str("content", t)
					w.End()
				}
				w.EndItems()
				w.End()
			}},
		{svc: "ec2", name: "RunInstances", weight: 60, callers: callerCI | callerInstance | callerHuman,
			req: runInstancesRequest, resp: runInstancesResponse},
		{svc: "ec2", name: "TerminateInstances", weight: 40, callers: callerCI | callerInstance | callerHuman,
			req: func(w *jsonWriter, c *call) {
				c.name = c.pick(c.acct.instances)
				w.Items("instancesSet")
				w.Item()
				w.Str("instanceId", c.name)
				w.End()
				w.EndItems()
			},
			resp: instanceStateChange("shutting-down", 32)},
		{svc: "ec2", name: "StartInstances", weight: 30, callers: callerHuman | callerLambda,
			req: ec2InstanceList, resp: instanceStateChange("pending", 0)},
		{svc: "ec2", name: "StopInstances", weight: 30, callers: callerHuman | callerLambda,
			req: func(w *jsonWriter, c *call) { ec2InstanceList(w, c); w.Bool("force", false) }, resp: instanceStateChange("stopping", 64)},
		{svc: "ec2", name: "CreateTags", weight: 250, callers: callerCI | callerInstance | callerHuman,
			req: func(w *jsonWriter, c *call) {
				w.Items("resourcesSet")
				w.Item()
				w.Str("resourceId", c.pick(c.acct.instances))
				w.End()
				w.Item()
				w.Str("resourceId", c.pick(c.acct.volumes))
				w.End()
				w.EndItems()
				w.Items("tagSet")
				writeEC2Tag(w, "kubernetes.io/cluster/"+c.acct.eksClusters[0], "owned")
				writeEC2Tag(w, "team", c.pick(teams))
				w.EndItems()
			},
			resp: ec2Return},
		{svc: "ec2", name: "DeleteTags", weight: 40, callers: callerCI | callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Items("resourcesSet")
				w.Item()
				w.Str("resourceId", c.pick(c.acct.volumes))
				w.End()
				w.EndItems()
				w.Items("tagSet")
				w.Item()
				w.Str("key", "snapshot-schedule")
				w.End()
				w.EndItems()
			},
			resp: ec2Return},
		{svc: "ec2", name: "CreateSecurityGroup", weight: 15, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				c.name = "k8s-elb-" + randomHex(c.r, 12)
				w.Str("groupName", c.name)
				w.Str("groupDescription", "Security group for Kubernetes ELB "+c.name)
				w.Str("vpcId", c.acct.vpcs[0])
			},
			resp: func(w *jsonWriter, c *call) {
				w.UUID("requestId", c.r)
				w.Bool("_return", true)
				w.Str("groupId", awsID(c.r, "sg"))
				w.Empty("securityGroupArn")
			}},
		{svc: "ec2", name: "AuthorizeSecurityGroupIngress", weight: 20, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				writeIngress(w, c, c.pick2sg(), "tcp", 443, 443, "10."+strconv.Itoa(c.r.IntN(256))+".0.0/16", "from internal load balancers")
			},
			resp: func(w *jsonWriter, c *call) {
				w.UUID("requestId", c.r)
				w.Bool("_return", true)
				w.Items("securityGroupRuleSet")
				w.Item()
				w.Str("groupOwnerId", c.acct.id)
				w.Str("groupId", c.name)
				w.Str("securityGroupRuleId", awsID(c.r, "sgr"))
				w.Bool("isEgress", false)
				w.Str("ipProtocol", "tcp")
				w.Int("fromPort", 443)
				w.Int("toPort", 443)
				w.End()
				w.EndItems()
			}},
		{svc: "ec2", name: "RevokeSecurityGroupIngress", weight: 10, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				writeIngress(w, c, c.pick2sg(), "tcp", 5432, 5432, "10."+strconv.Itoa(c.r.IntN(256))+".0.0/16", "")
			},
			resp: ec2Return},
		{svc: "ec2", name: "CreateNetworkInterface", weight: 150, callers: callerLambda | callerInstance,
			onBehalf: []string{"lambda.amazonaws.com"}, serviceShare: 0,
			req: func(w *jsonWriter, c *call) {
				w.Str("subnetId", c.pick(c.acct.subnets))
				w.Str("description", "AWS Lambda VPC ENI-"+c.pick(c.acct.functions)+"-"+newUUID(c.r))
				w.Items("groupSet")
				w.Item()
				w.Str("groupId", c.pick2sg())
				w.End()
				w.EndItems()
				w.Empty("privateIpAddressesSet")
				w.Empty("ipv6AddressCount")
			},
			resp: func(w *jsonWriter, c *call) {
				w.UUID("requestId", c.r)
				w.Object("networkInterface")
				w.Str("networkInterfaceId", awsID(c.r, "eni"))
				w.Str("subnetId", c.pick(c.acct.subnets))
				w.Str("vpcId", c.acct.vpcs[0])
				w.Str("availabilityZone", az(c.region, c.r))
				w.Str("ownerId", c.acct.id)
				w.Str("requesterId", "560195319437")
				w.Bool("requesterManaged", false)
				w.Str("status", "pending")
				w.Str("macAddress", "0e:"+randomHex(c.r, 2)+":"+randomHex(c.r, 2)+":"+randomHex(c.r, 2)+":"+randomHex(c.r, 2)+":"+randomHex(c.r, 2))
				w.Str("privateIpAddress", "10.0."+strconv.Itoa(c.r.IntN(64))+"."+strconv.Itoa(1+c.r.IntN(254)))
				w.Bool("sourceDestCheck", true)
				w.Str("interfaceType", "lambda")
				w.End()
			}},
		{svc: "ec2", name: "DeleteNetworkInterface", weight: 140, callers: callerLambda | callerInstance,
			req: func(w *jsonWriter, c *call) { w.Str("networkInterfaceId", c.pick(c.acct.enis)) }, resp: ec2Return},
		{svc: "ec2", name: "CreateVolume", weight: 25, callers: callerInstance | callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Int("size", int64(8<<c.r.IntN(5)))
				w.Str("zone", az(c.region, c.r))
				w.Str("volumeType", "gp3")
				w.Bool("encrypted", true)
			},
			resp: func(w *jsonWriter, c *call) {
				w.UUID("requestId", c.r)
				w.Str("volumeId", awsID(c.r, "vol"))
				w.Str("status", "creating")
				w.Str("volumeType", "gp3")
				w.Bool("encrypted", true)
				w.Int("iops", 3000)
				w.Int("throughput", 125)
			}},
		{svc: "ec2", name: "AttachVolume", weight: 25, callers: callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Str("volumeId", c.pick(c.acct.volumes))
				w.Str("instanceId", c.pick(c.acct.instances))
				w.Str("device", "/dev/xvdb"+string(rune('a'+c.r.IntN(20))))
			},
			resp: func(w *jsonWriter, c *call) {
				w.UUID("requestId", c.r)
				w.Str("volumeId", c.pick(c.acct.volumes))
				w.Str("instanceId", c.pick(c.acct.instances))
				w.Str("status", "attaching")
				w.Int("attachTime", c.time.UnixMilli())
				w.Bool("deleteOnTermination", false)
			}},
		{svc: "ec2", name: "CreateSnapshot", weight: 40, callers: callerCI | callerLambda,
			req: func(w *jsonWriter, c *call) {
				w.Str("volumeId", c.pick(c.acct.volumes))
				w.Str("description", "Created for policy: policy-0"+randomHex(c.r, 16)+" schedule: Default Schedule")
			},
			resp: func(w *jsonWriter, c *call) {
				w.UUID("requestId", c.r)
				w.Str("snapshotId", awsID(c.r, "snap"))
				w.Str("status", "pending")
				w.Str("progress", "")
				w.Str("ownerId", c.acct.id)
				w.Bool("encrypted", true)
			}},
		{svc: "ec2", name: "DeleteSnapshot", weight: 25, callers: callerCI | callerLambda,
			req: func(w *jsonWriter, c *call) { w.Str("snapshotId", c.pick(c.acct.snapshots)) }, resp: ec2Return},
		{svc: "ec2", name: "ModifyInstanceAttribute", weight: 8, callers: callerCI | callerHuman,
			req: func(w *jsonWriter, c *call) {
				w.Str("instanceId", c.pick(c.acct.instances))
				w.Object("disableApiTermination")
				w.Bool("value", true)
				w.End()
			},
			resp: ec2Return},

		// Auto Scaling
		{svc: "autoscaling", name: "DescribeAutoScalingGroups", weight: 700, readOnly: true, callers: callerInstance | callerMonitor | callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Array("autoScalingGroupNames")
				w.StrItem("eks-" + c.acct.eksClusters[0] + "-general-" + randomHex(c.r, 8))
				w.EndArray()
			}},
		{svc: "autoscaling", name: "DescribeScalingActivities", weight: 60, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("autoScalingGroupName", "eks-"+c.acct.eksClusters[0]+"-general") }},
		{svc: "autoscaling", name: "SetDesiredCapacity", weight: 15, callers: callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Str("autoScalingGroupName", "eks-"+c.acct.eksClusters[0]+"-general")
				w.Int("desiredCapacity", int64(3+c.r.IntN(9)))
				w.Bool("honorCooldown", false)
			}},

		// AWS Lambda
		{svc: "lambda", name: "Invoke", weight: 400, data: true, callers: callerWorkload | callerCI,
			req: func(w *jsonWriter, c *call) {
				c.name = c.pick(c.acct.functions)
				c.arn = c.arnPrefix("lambda") + "function:" + c.name
				w.Str("functionName", c.arn)
				w.Str("invocationType", "Event")
				w.Empty("sourceArn")
			},
			additional: fixed("functionVersion", "$LATEST"),
			resources: func(w *jsonWriter, c *call) {
				w.Item()
				w.Str("accountId", c.acct.id)
				w.Str("type", "AWS::Lambda::Function")
				w.Str("ARN", c.arn)
				w.End()
			}},
		{svc: "lambda", name: "GetFunction20150331v2", weight: 350, readOnly: true, req: lambdaFunction,
			notFound: notFound{"ResourceNotFoundException", "Function not found: %s"}},
		{svc: "lambda", name: "ListFunctions20150331", weight: 250, readOnly: true},
		{svc: "lambda", name: "GetFunctionConfiguration20150331v2", weight: 200, readOnly: true, req: lambdaFunction},
		{svc: "lambda", name: "ListVersionsByFunction20150331", weight: 80, readOnly: true, req: lambdaFunction},
		{svc: "lambda", name: "GetPolicy20150331v2", weight: 80, readOnly: true, req: lambdaFunction,
			notFound: notFound{"ResourceNotFoundException", "The resource you requested does not exist."}},
		{svc: "lambda", name: "ListEventSourceMappings20150331", weight: 80, readOnly: true, req: lambdaFunction},
		{svc: "lambda", name: "ListTags20170331", weight: 60, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("resource", c.arnPrefix("lambda")+"function:"+c.pick(c.acct.functions))
			}},
		{svc: "lambda", name: "UpdateFunctionCode20150331v2", weight: 15, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				lambdaFunction(w, c)
				w.Str("s3Bucket", c.acct.buckets[0])
				w.Str("s3Key", "lambda/"+c.name+"/"+randomHex(c.r, 40)+".zip")
				w.Bool("publish", true)
				w.Bool("dryRun", false)
			},
			resp: lambdaConfiguration},
		{svc: "lambda", name: "UpdateFunctionConfiguration20150331v2", weight: 12, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				lambdaFunction(w, c)
				w.Int("timeout", 30)
				w.Int("memorySize", 512)
				w.Object("environment")
				w.Object("variables")
				w.Str("LOG_LEVEL", "info")
				w.Str("TABLE_NAME", c.pick(c.acct.tables))
				w.End()
				w.End()
			},
			resp: lambdaConfiguration},

		// Amazon ECS
		{svc: "ecs", name: "DescribeServices", weight: 250, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("cluster", c.acct.ecsClusters[0])
				w.Array("services")
				w.StrItem(c.pick(c.acct.ecsServices))
				w.EndArray()
			}},
		{svc: "ecs", name: "DescribeTasks", weight: 250, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("cluster", c.pick(c.acct.ecsClusters))
				w.Array("tasks")
				w.StrItem(randomHex(c.r, 32))
				w.EndArray()
			}},
		{svc: "ecs", name: "ListTasks", weight: 250, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("cluster", c.pick(c.acct.ecsClusters))
				w.Str("serviceName", c.pick(c.acct.ecsServices))
				w.Str("desiredStatus", "RUNNING")
			}},
		{svc: "ecs", name: "DescribeClusters", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Array("clusters")
				w.StrItem(c.pick(c.acct.ecsClusters))
				w.EndArray()
			}},
		{svc: "ecs", name: "ListClusters", weight: 60, readOnly: true},
		{svc: "ecs", name: "DescribeTaskDefinition", weight: 80, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Str("taskDefinition", c.pick(c.acct.ecsServices)+":"+strconv.Itoa(10+c.r.IntN(90)))
			}},
		{svc: "ecs", name: "DescribeContainerInstances", weight: 80, readOnly: true, callers: callerInstance | callerMonitor,
			req: func(w *jsonWriter, c *call) {
				w.Str("cluster", c.acct.ecsClusters[0])
				w.Array("containerInstances")
				w.StrItem(randomHex(c.r, 32))
				w.EndArray()
			}},
		{svc: "ecs", name: "SubmitTaskStateChange", weight: 250, callers: callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Str("cluster", c.acct.ecsClusters[0])
				w.Cat("task", c.arnPrefix("ecs"), "task/", c.acct.ecsClusters[0], "/", randomHex(c.r, 32))
				w.Str("status", "RUNNING")
				w.Str("pullStartedAt", c.time.Add(-20*time.Second).Format(consoleTime))
			},
			resp: fixed("acknowledgment", "true")},
		{svc: "ecs", name: "UpdateService", weight: 10, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				w.Str("cluster", c.acct.ecsClusters[0])
				w.Str("service", c.pick(c.acct.ecsServices))
				w.Str("taskDefinition", c.pick(c.acct.ecsServices)+":"+strconv.Itoa(10+c.r.IntN(90)))
				w.Bool("forceNewDeployment", true)
			}},
		{svc: "ecs", name: "RegisterTaskDefinition", weight: 8, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				svc := c.pick(c.acct.ecsServices)
				w.Str("family", svc)
				w.Cat("taskRoleArn", "arn:aws:iam::", c.acct.id, ":role/ecs/payments-service-task-role")
				w.Str("networkMode", "awsvpc")
				w.Array("containerDefinitions")
				w.Item()
				w.Str("name", svc)
				w.Cat("image", c.acct.id, ".dkr.ecr.", c.region, ".amazonaws.com/", svc, ":", randomHex(c.r, 7))
				w.Int("cpu", 512)
				w.Int("memory", 1024)
				w.Bool("essential", true)
				w.Array("portMappings")
				w.Item()
				w.Int("containerPort", 8080)
				w.Str("protocol", "tcp")
				w.End()
				w.EndArray()
				w.End()
				w.EndArray()
				w.Array("requiresCompatibilities")
				w.StrItem("FARGATE")
				w.EndArray()
				w.Str("cpu", "512")
				w.Str("memory", "1024")
			}},

		// Amazon EKS
		{svc: "eks", name: "DescribeCluster", weight: 450, readOnly: true, req: eksCluster,
			notFound: notFound{"ResourceNotFoundException", "No cluster found for name: %s."}},
		{svc: "eks", name: "ListClusters", weight: 60, readOnly: true},
		{svc: "eks", name: "DescribeNodegroup", weight: 80, readOnly: true,
			req: func(w *jsonWriter, c *call) { eksCluster(w, c); w.Str("nodegroupName", "general-"+c.acct.cacheTag) }},
		{svc: "eks", name: "ListNodegroups", weight: 60, readOnly: true, req: eksCluster},
		{svc: "eks", name: "DescribeAddonVersions", weight: 30, readOnly: true,
			req: fixed("kubernetesVersion", "1.29", "addonName", "vpc-cni")},

		// Amazon ECR
		{svc: "ecr", name: "GetAuthorizationToken", weight: 900, readOnly: true, callers: callerInstance | callerCI | callerPod,
			resp: func(w *jsonWriter, c *call) {
				w.Array("authorizationData")
				w.Item()
				w.Str("authorizationToken", "HIDDEN_DUE_TO_SECURITY_REASONS")
				w.Str("expiresAt", c.time.Add(12*time.Hour).Format(consoleTime))
				w.Cat("proxyEndpoint", "https://", c.acct.id, ".dkr.ecr.", c.region, ".amazonaws.com")
				w.End()
				w.EndArray()
			}},
		{svc: "ecr", name: "BatchGetImage", weight: 700, readOnly: true, callers: callerInstance | callerCI, req: ecrImage, resources: ecrResource},
		{svc: "ecr", name: "GetDownloadUrlForLayer", weight: 700, readOnly: true, callers: callerInstance | callerCI,
			req: func(w *jsonWriter, c *call) {
				ecrRepo(w, c)
				w.Random("layerDigest", "sha256:", c.r, hexDigits, 64)
			},
			resources: ecrResource},
		{svc: "ecr", name: "BatchCheckLayerAvailability", weight: 150, readOnly: true, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				ecrRepo(w, c)
				w.Array("layerDigests")
				for range 3 {
					w.RandomItem("sha256:", c.r, hexDigits, 64)
				}
				w.EndArray()
			},
			resources: ecrResource},
		{svc: "ecr", name: "DescribeRepositories", weight: 150, readOnly: true},
		{svc: "ecr", name: "DescribeImages", weight: 150, readOnly: true, req: ecrImage, resources: ecrResource,
			notFound: notFound{"RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry."}},
		{svc: "ecr", name: "ListImages", weight: 80, readOnly: true, req: ecrRepo, resources: ecrResource},
		{svc: "ecr", name: "PutImage", weight: 15, callers: callerCI,
			req: func(w *jsonWriter, c *call) {
				ecrRepo(w, c)
				w.Str("imageManifest", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:`+randomHex(c.r, 64)+`"}}`)
				w.Str("imageTag", randomHex(c.r, 7))
			},
			resources: ecrResource},

		// Elastic Load Balancing
		{svc: "elasticloadbalancing", name: "DescribeLoadBalancers", weight: 350, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Int("pageSize", 400) }},
		{svc: "elasticloadbalancing", name: "DescribeTargetGroups", weight: 250, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Array("targetGroupArns")
				w.StrItem(targetGroupARN(c))
				w.EndArray()
			}},
		{svc: "elasticloadbalancing", name: "DescribeTargetHealth", weight: 450, readOnly: true, callers: callerInstance | callerMonitor | callerPod,
			req: func(w *jsonWriter, c *call) { w.Str("targetGroupArn", targetGroupARN(c)) }},
		{svc: "elasticloadbalancing", name: "DescribeListeners", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("loadBalancerArn", loadBalancerARN(c)) }},
		{svc: "elasticloadbalancing", name: "DescribeTags", weight: 150, readOnly: true,
			req: func(w *jsonWriter, c *call) {
				w.Array("resourceArns")
				w.StrItem(loadBalancerARN(c))
				w.EndArray()
			}},
		{svc: "elasticloadbalancing", name: "DescribeLoadBalancerAttributes", weight: 80, readOnly: true,
			req: func(w *jsonWriter, c *call) { w.Str("loadBalancerArn", loadBalancerARN(c)) }},
		{svc: "elasticloadbalancing", name: "RegisterTargets", weight: 40, callers: callerPod | callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Str("targetGroupArn", targetGroupARN(c))
				writeTargets(w, c)
			}},
		{svc: "elasticloadbalancing", name: "DeregisterTargets", weight: 40, callers: callerPod | callerInstance,
			req: func(w *jsonWriter, c *call) {
				w.Str("targetGroupArn", targetGroupARN(c))
				writeTargets(w, c)
			}},
	}
}

func (c *call) pick2sg() string {
	sg := c.acct.securityGroups[c.r.IntN(len(c.acct.securityGroups))]
	c.name = sg.id
	return sg.id
}

// ec2Describe writes the {"<set>":{"items":[{"<key>":"…"}]}} shape of a
// Describe call naming one resource, or a filterless listing.
func ec2Describe(set, idSet, key string, pick func(*call) string) builder {
	return func(w *jsonWriter, c *call) {
		if c.r.IntN(3) == 0 {
			w.Empty(set)
			if idSet != "" {
				w.Empty(idSet)
			}
			w.Empty("filterSet")
			return
		}
		list := set
		if idSet != "" {
			w.Empty(set)
			list = idSet
		}
		w.Items(list)
		w.Item()
		w.Str(key, pick(c))
		w.End()
		w.EndItems()
		w.Empty("filterSet")
	}
}

// ec2Filtered writes a Describe call with one filter.
func ec2Filtered(set, filter string, value func(*call) string) builder {
	return func(w *jsonWriter, c *call) {
		w.Empty(set)
		w.Items("filterSet")
		w.Item()
		w.Str("name", filter)
		w.Items("valueSet")
		w.Item()
		w.Str("value", value(c))
		w.End()
		w.EndItems()
		w.End()
		w.EndItems()
	}
}

func ec2DescribeInstances(w *jsonWriter, c *call) {
	switch c.r.IntN(3) {
	case 0:
		w.Items("instancesSet")
		for range 1 + c.r.IntN(3) {
			w.Item()
			w.Str("instanceId", c.pick(c.acct.instances))
			w.End()
		}
		w.EndItems()
		w.Empty("filterSet")
	case 1:
		w.Empty("instancesSet")
		w.Items("filterSet")
		w.Item()
		w.Str("name", "tag:eks:cluster-name")
		w.Items("valueSet")
		w.Item()
		w.Str("value", c.pick(c.acct.eksClusters))
		w.End()
		w.EndItems()
		w.End()
		w.Item()
		w.Str("name", "instance-state-name")
		w.Items("valueSet")
		for _, s := range []string{"pending", "running"} {
			w.Item()
			w.Str("value", s)
			w.End()
		}
		w.EndItems()
		w.End()
		w.EndItems()
	default:
		w.Empty("instancesSet")
		w.Empty("filterSet")
		w.Int("maxResults", 1000)
	}
}

func ec2InstanceList(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.instances)
	w.Items("instancesSet")
	w.Item()
	w.Str("instanceId", c.name)
	w.End()
	w.EndItems()
}

func instanceStateChange(state string, code int64) builder {
	return func(w *jsonWriter, c *call) {
		w.UUID("requestId", c.r)
		w.Items("instancesSet")
		w.Item()
		w.Str("instanceId", c.name)
		w.Object("currentState")
		w.Int("code", code)
		w.Str("name", state)
		w.End()
		w.Object("previousState")
		w.Int("code", 16)
		w.Str("name", "running")
		w.End()
		w.End()
		w.EndItems()
	}
}

func ec2Return(w *jsonWriter, c *call) {
	w.UUID("requestId", c.r)
	w.Bool("_return", true)
}

func writeEC2Tag(w *jsonWriter, k, v string) {
	w.Item()
	w.Str("key", k)
	w.Str("value", v)
	w.End()
}

// writeIngress writes AuthorizeSecurityGroupIngress-shaped parameters.
func writeIngress(w *jsonWriter, c *call, group, proto string, from, to int64, cidr, desc string) {
	c.name = group
	w.Str("groupId", group)
	w.Items("ipPermissions")
	w.Item()
	w.Str("ipProtocol", proto)
	w.Int("fromPort", from)
	w.Int("toPort", to)
	w.Empty("groups")
	w.Items("ipRanges")
	w.Item()
	w.Str("cidrIp", cidr)
	if desc != "" {
		w.Str("description", desc)
	}
	w.End()
	w.EndItems()
	w.Empty("ipv6Ranges")
	w.Empty("prefixListIds")
	w.End()
	w.EndItems()
}

func runInstancesRequest(w *jsonWriter, c *call) {
	a := c.acct
	w.Items("instancesSet")
	w.Item()
	w.Str("imageId", c.pick(a.images))
	w.Int("minCount", 1)
	w.Int("maxCount", 1)
	w.End()
	w.EndItems()
	w.Str("instanceType", c.pick([]string{"m6i.large", "m6i.xlarge", "c6i.2xlarge", "t3.medium"}))
	w.Empty("blockDeviceMapping")
	w.Object("monitoring")
	w.Bool("enabled", false)
	w.End()
	w.Bool("disableApiTermination", false)
	w.Bool("disableApiStop", false)
	w.Str("clientToken", newUUID(c.r))
	w.Items("networkInterfaceSet")
	w.Item()
	w.Int("deviceIndex", 0)
	w.Str("subnetId", c.pick(a.subnets))
	w.Items("groupSet")
	w.Item()
	w.Str("groupId", c.pick2sg())
	w.End()
	w.EndItems()
	w.End()
	w.EndItems()
	w.Object("iamInstanceProfile")
	w.Str("name", "app-server-instance-profile")
	w.End()
	w.Object("launchTemplate")
	w.Random("launchTemplateId", "lt-0", c.r, hexDigits, 16)
	w.Str("version", strconv.Itoa(1+c.r.IntN(30)))
	w.End()
	w.Items("tagSpecificationSet")
	w.Item()
	w.Str("resourceType", "instance")
	w.Array("tags")
	writeEC2Tag(w, "Name", a.eksClusters[0]+"-general-node")
	writeEC2Tag(w, "eks:cluster-name", a.eksClusters[0])
	w.EndArray()
	w.End()
	w.EndItems()
}

func runInstancesResponse(w *jsonWriter, c *call) {
	a := c.acct
	ip := "10." + strconv.Itoa(16+a.index) + "." + strconv.Itoa(c.r.IntN(64)) + "." + strconv.Itoa(1+c.r.IntN(254))
	zone := az(c.region, c.r)
	w.UUID("requestId", c.r)
	w.Str("reservationId", "r-0"+randomHex(c.r, 16))
	w.Str("ownerId", a.id)
	w.Empty("groupSet")
	w.Items("instancesSet")
	w.Item()
	w.Str("instanceId", awsID(c.r, "i"))
	w.Str("imageId", c.pick(a.images))
	w.Str("currentInstanceBootMode", "legacy-bios")
	w.Object("instanceState")
	w.Int("code", 0)
	w.Str("name", "pending")
	w.End()
	w.Str("privateDnsName", "ip-"+strings.ReplaceAll(ip, ".", "-")+".ec2.internal")
	w.Int("amiLaunchIndex", 0)
	w.Empty("productCodes")
	w.Str("instanceType", "m6i.large")
	w.Int("launchTime", c.time.UnixMilli())
	w.Object("placement")
	w.Str("availabilityZone", zone)
	w.Str("tenancy", "default")
	w.End()
	w.Object("monitoring")
	w.Str("state", "disabled")
	w.End()
	w.Str("subnetId", c.pick(a.subnets))
	w.Str("vpcId", a.vpcs[0])
	w.Str("privateIpAddress", ip)
	w.Object("stateReason")
	w.Str("code", "pending")
	w.Str("message", "pending")
	w.End()
	w.Str("architecture", "x86_64")
	w.Str("rootDeviceType", "ebs")
	w.Str("rootDeviceName", "/dev/xvda")
	w.Empty("blockDeviceMapping")
	w.Str("virtualizationType", "hvm")
	w.Str("hypervisor", "xen")
	w.Bool("sourceDestCheck", true)
	w.Bool("ebsOptimized", false)
	w.Bool("enaSupport", true)
	w.Object("cpuOptions")
	w.Int("coreCount", 1)
	w.Int("threadsPerCore", 2)
	w.End()
	w.Object("metadataOptions")
	w.Str("state", "pending")
	w.Str("httpTokens", "required")
	w.Int("httpPutResponseHopLimit", 2)
	w.Str("httpEndpoint", "enabled")
	w.Str("httpProtocolIpv4", "ipv4")
	w.Str("httpProtocolIpv6", "disabled")
	w.Str("instanceMetadataTags", "disabled")
	w.End()
	w.Object("maintenanceOptions")
	w.Str("autoRecovery", "default")
	w.End()
	w.End()
	w.EndItems()
	w.Str("requesterId", "226008221399")
}

func lambdaFunction(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.functions)
	c.arn = c.arnPrefix("lambda") + "function:" + c.name
	w.Str("functionName", c.name)
}

func lambdaConfiguration(w *jsonWriter, c *call) {
	w.Str("functionName", c.name)
	w.Str("functionArn", c.arn)
	w.Str("runtime", "python3.12")
	w.Cat("role", "arn:aws:iam::", c.acct.id, ":role/service-role/orders-api-lambda-role")
	w.Str("handler", "app.handler")
	w.Int("codeSize", int64(20000+c.r.IntN(4000000)))
	w.Str("description", "")
	w.Int("timeout", 30)
	w.Int("memorySize", 512)
	w.Str("lastModified", c.time.Format("2006-01-02T15:04:05.000+0000"))
	w.Random("codeSha256", "", c.r, base64Std, 43)
	w.Str("version", strconv.Itoa(1+c.r.IntN(200)))
	w.Object("tracingConfig")
	w.Str("mode", "PassThrough")
	w.End()
	w.UUID("revisionId", c.r)
	w.Str("state", "Active")
	w.Str("lastUpdateStatus", "InProgress")
	w.Str("packageType", "Zip")
	w.Array("architectures")
	w.StrItem("x86_64")
	w.EndArray()
	w.Object("ephemeralStorage")
	w.Int("size", 512)
	w.End()
}

func eksCluster(w *jsonWriter, c *call) {
	w.Str("name", named(c, c.acct.eksClusters))
}

func ecrRepo(w *jsonWriter, c *call) {
	c.name = c.pick(c.acct.repos)
	c.arn = c.arnPrefix("ecr") + "repository/" + c.name
	w.Str("repositoryName", c.name)
	w.Str("registryId", c.acct.id)
}

func ecrImage(w *jsonWriter, c *call) {
	ecrRepo(w, c)
	w.Array("imageIds")
	w.Item()
	w.Str("imageTag", randomHex(c.r, 7))
	w.End()
	w.EndArray()
	w.Array("acceptedMediaTypes")
	w.StrItem("application/vnd.docker.distribution.manifest.v2+json")
	w.StrItem("application/vnd.oci.image.manifest.v1+json")
	w.EndArray()
}

func ecrResource(w *jsonWriter, c *call) {
	w.Item()
	w.Str("accountId", c.acct.id)
	w.Str("ARN", c.arn)
	w.End()
}

func loadBalancerARN(c *call) string {
	lb := c.acct.loadBalancers[c.r.IntN(len(c.acct.loadBalancers))]
	c.name = lb.name
	return c.arnPrefix("elasticloadbalancing") + "loadbalancer/app/" + lb.name + "/" + lb.id
}

func targetGroupARN(c *call) string {
	tg := c.acct.targetGroups[c.r.IntN(len(c.acct.targetGroups))]
	c.name = tg.name
	return c.arnPrefix("elasticloadbalancing") + "targetgroup/" + tg.name + "/" + tg.id
}

func writeTargets(w *jsonWriter, c *call) {
	w.Array("targets")
	w.Item()
	w.Str("id", "10."+strconv.Itoa(16+c.acct.index)+"."+strconv.Itoa(c.r.IntN(64))+"."+strconv.Itoa(1+c.r.IntN(254)))
	w.Int("port", 8080)
	w.End()
	w.EndArray()
}
