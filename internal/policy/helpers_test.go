package policy

import (
	"encoding/json"
	"net/url"
	"testing"
)

// decodeDocuments rewrites an authorization-details export the way the AWS
// CLI prints it: every URL-encoded policy document replaced by its JSON.
func decodeDocuments(t testing.TB, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "PolicyDocument" || k == "Document" || k == "AssumeRolePolicyDocument") {
					d, err := url.PathUnescape(s)
					if err != nil {
						t.Fatal(err)
					}
					var obj any
					if err := json.Unmarshal([]byte(d), &obj); err != nil {
						t.Fatal(err)
					}
					x[k] = obj
					continue
				}
				x[k] = walk(e)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
