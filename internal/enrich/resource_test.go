package enrich

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestTemplateFill(t *testing.T) {
	ev := decode(t, apiCall("s3.amazonaws.com", "GetObject",
		`{"bucketName":"b","key":"k/1","names":["/a","b"],"empty":"","num":42,"obj":{"x":"y"},"queueUrl":"https://sqs.us-west-2.amazonaws.com/444455556666/q","legacy":"https://eu-west-1.queue.amazonaws.com/444455556666/old","name":"q-only","src":"/src%2Bbkt/a%20b.txt?versionId=123","fn":"billing:prod","hz":"/hostedzone/Z1","keyArn":"arn:aws:kms:eu-west-1:444455556666:key/abc","aliasArn":"arn:aws:kms:eu-west-1:444455556666:alias/x"}`,
		`"resources":[{"accountId":"999988887777","type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k/1"}]`))
	c := newARNContext(ev)
	cases := []struct {
		tmpl string
		want []string
		wild bool
		ok   bool
	}{
		{"arn:{partition}:s3:::{bucketName}/{key}", []string{"arn:aws:s3:::b/k/1"}, false, true},
		{"arn:{partition}:s3:::{bucketName}/*", []string{"arn:aws:s3:::b/*"}, true, true},
		{"arn:aws:x:{region}:{account}:y", []string{"arn:aws:x:eu-west-1:999988887777:y"}, false, true}, // resources[].accountId owns the resource
		{"arn:aws:s3:::{missing}", nil, false, false},
		{"arn:aws:s3:::{empty}", nil, false, false},
		{"arn:aws:s3:::{missing,bucketName}", []string{"arn:aws:s3:::b"}, false, true},
		{"arn:aws:x:::{num}", []string{"arn:aws:x:::42"}, false, true},
		{"arn:aws:x:::{obj}", nil, false, false}, // an object is not a name
		{"arn:aws:ssm:r:a:parameter{names|slash}", []string{"arn:aws:ssm:r:a:parameter/a", "arn:aws:ssm:r:a:parameter/b"}, false, true},
		{"{queueUrl|sqsurl}", []string{"arn:aws:sqs:us-west-2:444455556666:q"}, false, true},
		{"{legacy|sqsurl}", []string{"arn:aws:sqs:eu-west-1:444455556666:old"}, false, true},
		{"{name|sqsurl}", []string{"arn:aws:sqs:eu-west-1:999988887777:q-only"}, false, true},
		{"arn:aws:s3:::{src|copysource}", []string{"arn:aws:s3:::src+bkt/a b.txt"}, false, true},
		{"arn:aws:lambda:{region}:1:function:{fn|lambda}", []string{"arn:aws:lambda:eu-west-1:1:function:billing:prod"}, false, true},
		{"arn:aws:route53:::hostedzone/{hz|last}", []string{"arn:aws:route53:::hostedzone/Z1"}, false, true},
		{"arn:aws:kms:r:a:{keyArn|key}", []string{"arn:aws:kms:eu-west-1:444455556666:key/abc"}, false, true},
		{"arn:aws:kms:r:a:{aliasArn|key}", []string{"arn:aws:kms:r:a:key/*"}, true, true},
		{"{bucketName|arn}", nil, false, true}, // not an ARN: nothing
		{"*", []string{"*"}, false, true},
	}
	for _, tc := range cases {
		tm, err := compileTemplate(tc.tmpl)
		if err != nil {
			t.Errorf("%s: %v", tc.tmpl, err)
			continue
		}
		got, wild, ok := tm.fill(&c, nil)
		if !slices.Equal(got, tc.want) || wild != tc.wild || ok != tc.ok {
			t.Errorf("%s: got %q wild=%v ok=%v, want %q wild=%v ok=%v", tc.tmpl, got, wild, ok, tc.want, tc.wild, tc.ok)
		}
	}
}

// A request that names thousands of resources yields at most maxARNs.
func TestTemplateFanOutBounded(t *testing.T) {
	var items []map[string]string
	for i := range 5000 {
		items = append(items, map[string]string{"instanceId": "i-" + strings.Repeat("0", 8) + string(rune('a'+i%26))})
	}
	b, _ := json.Marshal(map[string]any{"instancesSet": map[string]any{"items": items}})
	e := newEnricher(t, Options{})
	v := e.NewView()
	v.Reset(decode(t, apiCall("ec2.amazonaws.com", "TerminateInstances", string(b), "")))
	a := v.Authorization()
	if len(a.Actions) != 1 || len(a.Actions[0].Resources) == 0 || len(a.Actions[0].Resources) > maxARNs {
		t.Fatalf("got %d actions, %d resources", len(a.Actions), len(a.Actions[0].Resources))
	}
}

func TestCompileTemplateErrors(t *testing.T) {
	for tmpl, want := range map[string]string{
		"arn:aws:s3:::{bucketName":   "unclosed",
		"arn:aws:s3:::{}":            "bad placeholder",
		"arn:aws:s3:::{a..b}":        "bad placeholder",
		"arn:aws:s3:::{bucket|nope}": "unknown modifier",
		"bucket/{key}":               "neither an ARN nor a placeholder",
	} {
		if _, err := compileTemplate(tmpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", tmpl, err, want)
		}
	}
}

// Whatever a request holds, resolving its resources neither panics nor
// yields anything but ARNs and "*".
func FuzzAuthorization(f *testing.F) {
	e := newEnricher(f, Options{})
	v := e.NewView()
	f.Add("s3.amazonaws.com", "CopyObject", "x-amz-copy-source", "%zz/../?versionId=")
	f.Add("sqs.amazonaws.com", "SendMessage", "queueUrl", "https://[::1/x")
	f.Add("kms.amazonaws.com", "Decrypt", "keyId", "arn:")
	f.Add("lambda.amazonaws.com", "Invoke20150331", "functionName", "123456789012:function:")
	f.Add("ssm.amazonaws.com", "GetParameter", "name", "")
	f.Fuzz(func(t *testing.T, source, name, param, value string) {
		params, _ := json.Marshal(map[string]any{param: value, "bucketName": value, "key": value, "names": []string{value}})
		src, _ := json.Marshal(source)
		nm, _ := json.Marshal(name)
		rec := apiCall("SRC", "NAME", string(params), "")
		rec = strings.Replace(rec, `"SRC"`, string(src), 1)
		rec = strings.Replace(rec, `"NAME"`, string(nm), 1)
		v.Reset(decode(t, rec))
		for _, a := range v.Authorization().Actions {
			if len(a.Resources) == 0 {
				t.Fatalf("%s: no resources", a.Action)
			}
			for _, r := range a.Resources {
				if r != "*" && !strings.HasPrefix(r, "arn:") {
					t.Fatalf("%s: resource %q", a.Action, r)
				}
			}
		}
	})
}
