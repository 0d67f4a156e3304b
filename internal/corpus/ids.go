package corpus

import (
	"math/rand/v2"
)

// Alphabets of the identifiers AWS hands out.
const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	base64Std  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	// IAM unique IDs (AROA…, AIDA…) and access keys use base32 letters.
	iamAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

// newRand returns the generator for one stream of the corpus: the same seed
// and stream always give the same numbers, whatever the worker count.
func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream*0x9E3779B97F4A7C15+0x2545F4914F6CDD1D))
}

// appendRandom appends n characters drawn from alphabet (at most 64 symbols).
func appendRandom(buf []byte, r *rand.Rand, alphabet string, n int) []byte {
	for n > 0 {
		x := r.Uint64()
		// Ten 6-bit draws per 64-bit number; modulo bias is irrelevant here.
		for k := 0; k < 10 && n > 0; k++ {
			buf = append(buf, alphabet[int(x&63)%len(alphabet)])
			x >>= 6
			n--
		}
	}
	return buf
}

func randomString(r *rand.Rand, alphabet string, n int) string {
	return string(appendRandom(make([]byte, 0, n), r, alphabet, n))
}

func randomHex(r *rand.Rand, n int) string {
	return randomString(r, hexDigits, n)
}

// appendUUID appends a random (version 4) UUID in its 8-4-4-4-12 form.
func appendUUID(buf []byte, r *rand.Rand) []byte {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xF<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexDigits[x>>4], hexDigits[x&0xF])
	}
	return buf
}

func newUUID(r *rand.Rand) string {
	return string(appendUUID(make([]byte, 0, 36), r))
}

// UUID writes "k":"<random UUID>".
func (w *jsonWriter) UUID(k string, r *rand.Rand) {
	w.key(k)
	w.buf = append(w.buf, '"')
	w.buf = appendUUID(w.buf, r)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// Random writes "k":"<prefix><n random characters of alphabet>".
func (w *jsonWriter) Random(k, prefix string, r *rand.Rand, alphabet string, n int) {
	w.key(k)
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, prefix...)
	w.buf = appendRandom(w.buf, r, alphabet, n)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// awsID returns an EC2-style resource ID such as "i-0a1b2c3d4e5f60718".
func awsID(r *rand.Rand, prefix string) string {
	return prefix + "-0" + randomHex(r, 16)
}

// RandomItem writes a "<prefix><n random characters>" string element of the
// current array.
func (w *jsonWriter) RandomItem(prefix string, r *rand.Rand, alphabet string, n int) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, prefix...)
	w.buf = appendRandom(w.buf, r, alphabet, n)
	w.buf = append(w.buf, '"')
	w.comma = true
}
