package sqstest

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
)

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is the digest SQS returns as MD5OfMessageAttributes (and
// MD5OfMessageSystemAttributes), computed the way the SQS developer guide
// describes ("Calculating the MD5 message digest for message attributes"):
// the attributes sorted by name, each encoded as its name and its data type
// (each a 4-byte big-endian length and the UTF-8 bytes), one transport-type
// byte (1 for String and Number, 2 for Binary), then its value (length and
// bytes); the MD5 of the whole. It is "" when there are no attributes, as SQS
// then leaves the field out.
func md5OfAttributes(attrs map[string]attributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf []byte
	field := func(b []byte) {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
	}
	for _, n := range names {
		v := attrs[n]
		field([]byte(n))
		field([]byte(v.DataType))
		if isBinaryType(v.DataType) {
			buf = append(buf, 2)
			field(v.BinaryValue)
		} else {
			buf = append(buf, 1)
			field([]byte(v.StringValue))
		}
	}
	return md5Hex(buf)
}

// isBinaryType tells Binary and Binary.custom from String and Number types.
func isBinaryType(dataType string) bool {
	base, _, _ := strings.Cut(dataType, ".")
	return base == "Binary"
}
