package policy

import "testing"

// BenchmarkEvaluate decides a realistic request: bob's set from the fixture
// (inline, group-managed and AWS-managed policies, a boundary with a Deny),
// two SCP levels and a bucket policy, with a CloudTrail-derived context.
func BenchmarkEvaluate(b *testing.B) {
	a := loadAccount(b)
	principal := "arn:aws:iam::111122223333:user/engineering/bob"
	s, err := a.PolicySet(principal)
	if err != nil {
		b.Fatal(err)
	}
	s.SCP = [][]*Policy{{fullAccess}, {must("deny-regions", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}}]}`)}}
	s.Resource = []*Policy{must("bucket", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)}
	ctx := Facts{PrincipalARN: principal, PrincipalType: "IAMUser", Account: acct, UserName: "bob", UserID: "AIDAQEXAMPLEBOB00002",
		SourceIP: "203.0.113.7", UserAgent: "aws-cli/2.15.0", Region: "eu-west-1", SecureTransport: "true",
		Time: mustTime("2024-05-01T10:00:00Z")}.Context()
	for _, req := range []Request{
		{Principal: principal, Action: "s3:GetObject", Resource: object, Context: ctx},
		{Principal: principal, Action: "iam:CreateUser", Resource: "arn:aws:iam::111122223333:user/eve", Context: ctx},
	} {
		b.Run(req.Action, func(b *testing.B) {
			b.ReportAllocs()
			want := Evaluate(req, s).Decision
			for b.Loop() {
				if Evaluate(req, s).Decision != want {
					b.Fatal("unstable")
				}
			}
		})
	}
}

func BenchmarkAnalyzeDocument(b *testing.B) {
	for name, doc := range map[string]string{
		"harmless":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}`,
		"power-user": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}`,
	} {
		p := must(name, doc)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				AnalyzeDocument(p)
			}
		})
	}
}
