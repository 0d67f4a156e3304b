package integrity

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// SignaturesFile is the name of the file, beside a local copy of a trail,
// that holds digest signatures copied from S3 object metadata.
const SignaturesFile = "signatures.json"

// Signatures maps a digest's key (from "AWSLogs/" on) to its hex signature,
// the x-amz-meta-signature of the digest object in S3. A local copy needs it
// only for the newest digest of each chain: every other digest's signature is
// in its successor.
type Signatures map[string]string

// LoadSignatures reads a signatures file: a JSON object from digest object
// key to hex signature. A key may be the S3 key (with the trail's prefix) or
// an s3://bucket/key URL; only its part from "AWSLogs/" on is kept.
func LoadSignatures(path string) (Signatures, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signatures %s: %w", path, errors.Unwrap(err))
	}
	var raw map[string]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("signatures %s: want a JSON object of digest key to hex signature: %w", path, err)
	}
	sigs := make(Signatures, len(raw))
	for k, sig := range raw {
		sig = strings.ToLower(strings.TrimSpace(sig))
		if b, err := hex.DecodeString(sig); err != nil || len(b) == 0 {
			return nil, fmt.Errorf("signatures %s: %s: the signature is not hex", path, k)
		}
		sigs[objectKey(strings.TrimPrefix(k, "s3://"))] = sig
	}
	return sigs, nil
}

// Add adds other's signatures, replacing any for the same key.
func (s Signatures) Add(other Signatures) {
	for k, v := range other {
		s[k] = v
	}
}
