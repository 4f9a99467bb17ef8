package hub

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Digest is what the edge holds from the cloud, as {key → resourceVersion}: the content of an OpResync
// frame. It covers the objects the cloud sent down (pods, config maps, secrets, devices, …), not the
// edge's own reports.
type Digest map[Key]string

// DigestVersion is the first byte of a digest's encoding.
const DigestVersion byte = 1

// maxDecimalRV is the largest resourceVersion written as a number (it must fit a uvarint shifted left).
const maxDecimalRV = 1<<63 - 1

// AppendBinary appends d's compact encoding to b (encoding.BinaryAppender): keys in increasing byte
// order, each written as the length of the prefix it shares with the previous key plus the rest (front
// coding), and each resourceVersion that is a canonical decimal number as a varint; doc.go gives the
// layout. Every key must be valid, and every resourceVersion at most MaxFieldLen bytes.
func (d Digest) AppendBinary(b []byte) ([]byte, error) {
	type entry struct{ key, rv string }
	entries := make([]entry, 0, len(d))
	for k, rv := range d {
		if err := k.Validate(); err != nil {
			return b, err
		}
		if len(rv) > MaxFieldLen {
			return b, fmt.Errorf("%w: resourceVersion of %s is %d bytes, over %d", ErrBadDigest, k, len(rv), MaxFieldLen)
		}
		entries = append(entries, entry{k.String(), rv})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	b = append(b, DigestVersion)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	prev := ""
	for _, e := range entries {
		p := commonPrefix(prev, e.key)
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(len(e.key)-p))
		b = append(b, e.key[p:]...)
		b = appendRV(b, e.rv)
		prev = e.key
	}
	return b, nil
}

// MarshalBinary returns d's encoding (encoding.BinaryMarshaler).
func (d Digest) MarshalBinary() ([]byte, error) { return d.AppendBinary(nil) }

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// decimalRV reports whether rv is a canonical decimal number (no sign, no leading zero) that fits
// maxDecimalRV, and its value.
func decimalRV(rv string) (uint64, bool) {
	if rv == "" || len(rv) > 19 || rv[0] == '0' && len(rv) > 1 {
		return 0, false
	}
	var x uint64
	for i := 0; i < len(rv); i++ {
		c := rv[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + uint64(c-'0')
	}
	if x > maxDecimalRV {
		return 0, false
	}
	return x, true
}

// appendRV writes rv as uvarint(x<<1) for a decimal number x, or uvarint(len<<1|1) and the bytes.
func appendRV(b []byte, rv string) []byte {
	if x, ok := decimalRV(rv); ok {
		return binary.AppendUvarint(b, x<<1)
	}
	b = binary.AppendUvarint(b, uint64(len(rv))<<1|1)
	return append(b, rv...)
}

// DecodeDigest decodes a digest strictly: the version byte, canonical varints, keys in strictly
// increasing order with maximal shared prefixes, every key valid (ParseKey), each resourceVersion in its
// canonical form, at most MaxFieldLen bytes, and no trailing bytes. Any other input is an error wrapping
// ErrBadDigest; DecodeDigest never panics, and allocates in proportion to its input only.
func DecodeDigest(b []byte) (Digest, error) {
	bad := func(off int, why string, args ...any) (Digest, error) {
		return nil, fmt.Errorf("%w: %s at byte %d", ErrBadDigest, fmt.Sprintf(why, args...), off)
	}
	if len(b) == 0 || b[0] != DigestVersion {
		return bad(0, "missing version byte %d", DigestVersion)
	}
	d := decoder{b: b, off: 1}
	n := d.uvarint()
	// Every entry takes at least 3 bytes (prefix, suffix length, version), which bounds the map's size.
	if d.err == nil && n > uint64(len(b)-d.off)/3 {
		return bad(d.off, "%d entries cannot fit in %d bytes", n, len(b)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDigest, d.err)
	}
	out := make(Digest, n)
	var prev, cur []byte
	for i := uint64(0); i < n; i++ {
		at := d.off
		p := d.uvarint()
		s := d.uvarint()
		if d.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadDigest, d.err)
		}
		if p > uint64(len(prev)) || s > MaxKeyLen || p+s > MaxKeyLen || s > uint64(len(b)-d.off) {
			return bad(at, "entry %d: shared prefix %d, suffix %d out of range", i, p, s)
		}
		cur = append(append(cur[:0], prev[:p]...), b[d.off:d.off+int(s)]...)
		d.off += int(s)
		if i > 0 && (s == 0 || int(p) < len(prev) && cur[p] == prev[p] || string(cur) <= string(prev)) {
			return bad(at, "entry %d: keys out of order or prefix not maximal", i)
		}
		k, err := ParseKey(string(cur))
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrBadDigest, i, err)
		}
		at = d.off
		v := d.uvarint()
		if d.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadDigest, d.err)
		}
		var rv string
		if v&1 == 0 {
			rv = strconv.FormatUint(v>>1, 10)
		} else {
			l := v >> 1
			if l > MaxFieldLen || l > uint64(len(b)-d.off) {
				return bad(at, "entry %d: resourceVersion of %d bytes", i, l)
			}
			rv = string(b[d.off : d.off+int(l)])
			d.off += int(l)
			if _, ok := decimalRV(rv); ok {
				return bad(at, "entry %d: decimal resourceVersion not in number form", i)
			}
		}
		out[k] = rv
		prev, cur = cur, prev
	}
	if d.off != len(b) {
		return bad(d.off, "%d trailing bytes", len(b)-d.off)
	}
	return out, nil
}
