package hub

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/edgehive/edgehive/beehive"
)

func benchFrame() Frame {
	return Frame{
		Header: beehive.Header{ID: beehive.ID{Epoch: 0x1234, Seq: 99}, Timestamp: 1700000000123456789, ResourceVersion: "4812345"},
		Router: beehive.Router{Source: "edgecontroller", Group: beehive.GroupMeta, Operation: OpUpdate,
			Resource: "default/pod/web-7d9c8b5f4-x2k4p"},
		Seq:     12345,
		Content: bytes.Repeat([]byte("x"), 1024),
	}
}

// BenchmarkEncodeDecode1K: one frame with 1 KB of content, encoded into a reused buffer and decoded.
func BenchmarkEncodeDecode1K(b *testing.B) {
	f := benchFrame()
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = f.AppendBinary(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode1K: encoding alone into a reused buffer.
func BenchmarkEncode1K(b *testing.B) {
	f := benchFrame()
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = f.AppendBinary(buf[:0])
	}
}

// BenchmarkDecode1K: decoding alone (the strings are copied, the content aliases the buffer).
func BenchmarkDecode1K(b *testing.B) {
	f := benchFrame()
	buf, _ := f.MarshalBinary()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFrame1K: a stream read, which allocates the body buffer per frame.
func BenchmarkReadFrame1K(b *testing.B) {
	f := benchFrame()
	one, _ := AppendFrame(nil, &f)
	r := bytes.NewReader(one)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(one)
		if _, err := ReadFrame(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigestDiff1000: the cloud's side of a resync of 1,000 objects with 10 changed: decode the
// edge's digest and diff it against the desired set.
func BenchmarkDigestDiff1000(b *testing.B) {
	have := Digest{}
	var want []Object
	for i := range 1000 {
		key := Key{Namespace: "ns", Kind: KindPod, Name: "pod-" + string(rune('a'+i%26)) + "-" + strconv.Itoa(i)}
		have[key] = strconv.Itoa(1000 + i)
		rv := strconv.Itoa(1000 + i)
		if i%100 == 0 {
			rv = strconv.Itoa(5000 + i)
		}
		want = append(want, Object{Key: key, ResourceVersion: rv})
	}
	wire, _ := have.MarshalBinary()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := DecodeDigest(wire)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(Diff(d, want)); n != 10 {
			b.Fatalf("%d changes", n)
		}
	}
}
