package integrity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// PublicKey is a CloudTrail signing key with the fingerprint digests name it
// by.
type PublicKey struct {
	Fingerprint string // hex MD5 of the PKCS#1 DER encoding
	Key         *rsa.PublicKey
	Source      string // the file it came from, or ListPublicKeys and the region

	// ValidFrom and ValidUntil are the period CloudTrail says the key signed
	// digests in (ListPublicKeys); zero for keys from files.
	ValidFrom, ValidUntil time.Time
}

// Fingerprint is the fingerprint CloudTrail gives a public key in digests
// (digestPublicKeyFingerprint) and in ListPublicKeys: the hex MD5 of its
// PKCS#1 RSAPublicKey DER encoding.
func Fingerprint(k *rsa.PublicKey) string {
	sum := md5.Sum(x509.MarshalPKCS1PublicKey(k))
	return hex.EncodeToString(sum[:])
}

// KeySet holds public keys by fingerprint.
type KeySet map[string]PublicKey

// Add adds keys, replacing any with the same fingerprint.
func (s KeySet) Add(keys ...PublicKey) {
	for _, k := range keys {
		s[k.Fingerprint] = k
	}
}

// LoadPublicKeys reads the keys in one file: PEM blocks ("RSA PUBLIC KEY",
// PKCS#1, or "PUBLIC KEY", PKIX), or the JSON output of `aws cloudtrail
// list-public-keys` (whose Value is the base64 PKCS#1 DER). A file with no
// key is an error.
func LoadPublicKeys(path string) ([]PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, errors.Unwrap(err))
	}
	var keys []PublicKey
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		keys, err = parseListPublicKeys(trimmed)
	} else {
		keys, err = parsePEMKeys(data)
	}
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("public key %s: no RSA public key in the file (want PEM or list-public-keys JSON)", path)
	}
	for i := range keys {
		keys[i].Source = path
	}
	return keys, nil
}

func parsePEMKeys(data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return keys, nil
		}
		var k *rsa.PublicKey
		switch block.Type {
		case "RSA PUBLIC KEY":
			var err error
			if k, err = x509.ParsePKCS1PublicKey(block.Bytes); err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			var ok bool
			if k, ok = pub.(*rsa.PublicKey); !ok {
				return nil, fmt.Errorf("PEM block %d: a %T, not an RSA key", n, pub)
			}
		default:
			return nil, fmt.Errorf("PEM block %d is a %q: want RSA PUBLIC KEY or PUBLIC KEY", n, block.Type)
		}
		keys = append(keys, PublicKey{Fingerprint: Fingerprint(k), Key: k})
	}
}

// parseListPublicKeys reads `aws cloudtrail list-public-keys` output. The
// fingerprint CloudTrail states must be the one the key has.
func parseListPublicKeys(data []byte) ([]PublicKey, error) {
	var out struct {
		PublicKeyList []struct {
			Value       string
			Fingerprint string
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("not list-public-keys JSON: %w", err)
	}
	var keys []PublicKey
	for i, e := range out.PublicKeyList {
		der, err := base64.StdEncoding.DecodeString(e.Value)
		if err != nil {
			return nil, fmt.Errorf("PublicKeyList[%d].Value is not base64: %w", i, err)
		}
		k, err := x509.ParsePKCS1PublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("PublicKeyList[%d].Value: %w", i, err)
		}
		fp := Fingerprint(k)
		if e.Fingerprint != "" && !strings.EqualFold(e.Fingerprint, fp) {
			return nil, fmt.Errorf("PublicKeyList[%d]: stated fingerprint %s, but the key's is %s", i, e.Fingerprint, fp)
		}
		keys = append(keys, PublicKey{Fingerprint: fp, Key: k})
	}
	return keys, nil
}

// VerifySignature checks a digest's hex signature (RSA PKCS#1 v1.5 over the
// SHA-256 of its signing string) with key.
func VerifySignature(key *rsa.PublicKey, d *StoredDigest, signatureHex string) error {
	sig, err := hex.DecodeString(signatureHex)
	if err != nil {
		return fmt.Errorf("signature is not hex: %w", err)
	}
	sum := sha256.Sum256([]byte(d.SigningString(d.ContentSHA256)))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// FetchPublicKeys asks CloudTrail (ListPublicKeys, through the SDK with
// cfg's credentials) for the public keys whose private keys signed digests
// between start and end, in each region: CloudTrail signs a region's
// digests with a key of that region, and answers for it only there. Every
// page is read. A key whose stated fingerprint is not its own is an error.
func FetchPublicKeys(ctx context.Context, cfg aws.Config, regions []string, start, end time.Time) ([]PublicKey, error) {
	var keys []PublicKey
	for _, region := range regions {
		client := cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.Region = region })
		in := &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(start.UTC()), EndTime: aws.Time(end.UTC())}
		for page := 1; ; page++ {
			out, err := client.ListPublicKeys(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("ListPublicKeys in %s: %w", region, err)
			}
			for i, pk := range out.PublicKeyList {
				k, err := x509.ParsePKCS1PublicKey(pk.Value)
				if err != nil {
					return nil, fmt.Errorf("ListPublicKeys in %s: page %d key %d: %w", region, page, i, err)
				}
				fp := Fingerprint(k)
				if stated := aws.ToString(pk.Fingerprint); stated != "" && !strings.EqualFold(stated, fp) {
					return nil, fmt.Errorf("ListPublicKeys in %s: page %d key %d: stated fingerprint %s, but the key's is %s", region, page, i, stated, fp)
				}
				keys = append(keys, PublicKey{Fingerprint: fp, Key: k, Source: "ListPublicKeys in " + region,
					ValidFrom: aws.ToTime(pk.ValidityStartTime), ValidUntil: aws.ToTime(pk.ValidityEndTime)})
			}
			if aws.ToString(out.NextToken) == "" || aws.ToString(out.NextToken) == aws.ToString(in.NextToken) {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return keys, nil
}
