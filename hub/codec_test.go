package hub

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/edgehive/edgehive/beehive"
)

// sampleFrames are frames of every shape: they drive the round-trip tests and seed the fuzzers.
func sampleFrames() []Frame {
	return []Frame{
		{},
		{Header: beehive.Header{ID: beehive.ID{Epoch: 1, Seq: 2}, Timestamp: 3}, Router: beehive.Router{Source: "edgehub", Operation: OpPing}},
		{
			Header:  beehive.Header{ID: beehive.ID{Epoch: 0xdeadbeef, Seq: 42}, Timestamp: 1700000000123456789, ResourceVersion: "123456"},
			Router:  beehive.Router{Source: "controller", Group: beehive.GroupMeta, Operation: OpUpdate, Resource: "default/pod/nginx"},
			Seq:     7,
			Content: []byte(`{"kind":"Pod","metadata":{"name":"nginx"}}`),
		},
		{
			Header: beehive.Header{ID: beehive.ID{Epoch: 9, Seq: 10}, ParentID: beehive.ID{Epoch: 1, Seq: 1 << 62}, Timestamp: -1, Sync: true, ResourceVersion: "9"},
			Router: beehive.Router{Source: "meta", Group: beehive.GroupHub, Operation: OpAck, Resource: "/node/edge-1"},
			Seq:    1<<64 - 1,
		},
		{
			Header:  beehive.Header{ParentID: beehive.ID{Seq: 1}, Sync: true},
			Router:  beehive.Router{Operation: OpError},
			Content: []byte("not found"),
		},
		{
			Header:  beehive.Header{ID: beehive.ID{Epoch: 5, Seq: 6}, ResourceVersion: strings.Repeat("v", MaxFieldLen)},
			Router:  beehive.Router{Source: strings.Repeat("s", MaxFieldLen), Group: "g", Operation: "vendor-op", Resource: strings.Repeat("r", MaxFieldLen)},
			Content: bytes.Repeat([]byte{0, 0xff}, 300),
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for i, f := range sampleFrames() {
		b, err := f.AppendBinary(nil)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(b) != f.Size() {
			t.Errorf("frame %d: encoded %d bytes, Size says %d", i, len(b), f.Size())
		}
		g, err := Decode(b, 0)
		if err != nil {
			t.Fatalf("frame %d: decode: %v", i, err)
		}
		if !f.Equal(&g) {
			t.Errorf("frame %d: round trip\n got %+v\nwant %+v", i, g, f)
		}
		s, _ := AppendFrame([]byte("x"), &f)
		if string(s[:1]) != "x" || !bytes.Equal(s[1+LengthPrefixLen:], b) {
			t.Errorf("frame %d: AppendFrame is not prefix+body", i)
		}
		h, err := ReadFrame(bytes.NewReader(s[1:]), 0)
		if err != nil || !f.Equal(&h) {
			t.Errorf("frame %d: ReadFrame = %+v, %v", i, h, err)
		}
		var u Frame
		if err := u.UnmarshalBinary(b); err != nil || !f.Equal(&u) {
			t.Errorf("frame %d: UnmarshalBinary = %+v, %v", i, u, err)
		}
	}
}

// TestWireExample pins the example of doc.go byte for byte.
func TestWireExample(t *testing.T) {
	f := sampleFrames()[1]
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := "eb0102" + "0000000000000003" + "0000000000000001" + "0000000000000002" +
		"00" + "00" + "07" + hex.EncodeToString([]byte("edgehub")) + "00" + "04" + hex.EncodeToString([]byte("ping")) + "00" + "00"
	if got := hex.EncodeToString(b); got != want || len(b) != 45 {
		t.Fatalf("ping frame = %s (%d bytes), want %s", got, len(b), want)
	}
	var zero Frame
	if zero.Size() != 18 {
		t.Fatalf("smallest body is %d bytes, doc.go says 18", zero.Size())
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := (&Frame{Header: beehive.Header{ID: beehive.ID{Seq: 1}}, Router: beehive.Router{Operation: OpPing}, Content: []byte("hi")}).MarshalBinary()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty", nil, 0, ErrBadFrame},
		{"short", good[:10], 0, ErrBadFrame},
		{"magic", mod(func(b []byte) []byte { b[0] = '{'; return b }), 0, ErrBadFrame},
		{"version", mod(func(b []byte) []byte { b[1] = 2; return b }), 0, ErrVersion},
		{"flags", mod(func(b []byte) []byte { b[2] |= 0x80; return b }), 0, ErrBadFrame},
		{"zero id", mod(func(b []byte) []byte { b[26] = 0; return b }), 0, ErrBadFrame},
		{"parent flag, truncated id", mod(func(b []byte) []byte { b[2] |= flagParent; return b }), 0, ErrBadFrame},
		{"truncated", good[:len(good)-1], 0, ErrBadFrame},
		{"trailing", append(bytes.Clone(good), 0), 0, ErrBadFrame},
		{"too large", good, len(good) - 1, ErrFrameTooLarge},
		{"non-minimal varint", mod(func(b []byte) []byte {
			// Seq 0 written as 0x80 0x00.
			return append(append(b[:27:27], 0x80), b[27:]...)
		}), 0, ErrBadFrame},
		{"varint overflow", append(bytes.Clone(good[:27]), bytes.Repeat([]byte{0xff}, 11)...), 0, ErrBadFrame},
		{"field too long", append(bytes.Clone(good[:28]), 0x81, 0x08), 0, ErrBadFrame}, // RV length 1025
	}
	for _, c := range cases {
		f, err := Decode(c.in, c.max)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Decode = %v, want %v", c.name, err, c.want)
		}
		if !f.Equal(&Frame{}) {
			t.Errorf("%s: non-zero frame on error", c.name)
		}
	}
	if _, err := Decode(good, len(good)); err != nil {
		t.Fatalf("a frame of exactly max bytes: %v", err)
	}
	over := Frame{Router: beehive.Router{Resource: strings.Repeat("x", MaxFieldLen+1)}}
	if b, err := over.AppendBinary([]byte("keep")); !errors.Is(err, ErrBadFrame) || string(b) != "keep" {
		t.Fatalf("encode of an over-long field = %q, %v", b, err)
	}
	if b, err := AppendFrame([]byte("keep"), &over); !errors.Is(err, ErrBadFrame) || string(b) != "keep" {
		t.Fatalf("AppendFrame of an over-long field = %q, %v", b, err)
	}
}

// bodyReader fails the test if anything past the length prefix is read.
type bodyReader struct {
	t      *testing.T
	prefix []byte
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if len(r.prefix) == 0 {
		r.t.Fatal("ReadFrame read past the length prefix of an oversized frame")
	}
	n := copy(p, r.prefix)
	r.prefix = r.prefix[n:]
	return n, nil
}

func TestReadFrameLimits(t *testing.T) {
	// A 4 GiB - 1 announcement is refused from the prefix alone.
	r := &bodyReader{t: t, prefix: []byte{0xff, 0xff, 0xff, 0xff}}
	if _, err := ReadFrame(r, 0); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("huge frame: %v", err)
	}
	r = &bodyReader{t: t, prefix: []byte{0, 0, 0, 101}}
	if _, err := ReadFrame(r, 100); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame over a custom limit: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 3, 1, 2, 3}), 0); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("frame shorter than a header: %v", err)
	}
	// Clean end, cut prefix, cut body.
	if _, err := ReadFrame(bytes.NewReader(nil), 0); err != io.EOF {
		t.Fatalf("empty stream: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0}), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut prefix: %v", err)
	}
	f := sampleFrames()[2]
	s, _ := AppendFrame(nil, &f)
	if _, err := ReadFrame(bytes.NewReader(s[:len(s)-1]), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut body: %v", err)
	}
	// A stream of frames delivered one byte at a time, and a body larger than the first read chunk.
	big := Frame{Router: beehive.Router{Operation: OpInsert}, Content: bytes.Repeat([]byte("z"), 3*readChunk+5)}
	s, _ = AppendFrame(s, &big)
	s, _ = AppendFrame(s, &f)
	rd := iotest.OneByteReader(bytes.NewReader(s))
	for i, want := range []Frame{f, big, f} {
		got, err := ReadFrame(rd, 0)
		if err != nil || !want.Equal(&got) {
			t.Fatalf("stream frame %d: %v", i, err)
		}
	}
	if _, err := ReadFrame(rd, 0); err != io.EOF {
		t.Fatalf("end of stream: %v", err)
	}
}

func TestEncodeAllocs(t *testing.T) {
	f := sampleFrames()[2]
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = f.AppendBinary(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendBinary into a large enough buffer allocates %v times", allocs)
	}
	b, _ := f.MarshalBinary()
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := Decode(b, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Decode allocates %v times, want at most 1 (the strings)", allocs)
	}
}

func TestMessageConversion(t *testing.T) {
	h := beehive.Header{ID: beehive.ID{Epoch: 1, Seq: 2}, Timestamp: 5, Sync: true, ResourceVersion: "7"}
	r := beehive.Router{Source: "meta", Group: beehive.GroupMeta, Operation: OpQuery, Resource: "default/pod/a"}
	cases := []struct {
		content any
		want    string
	}{
		{nil, ""},
		{[]byte("raw"), "raw"},
		{json.RawMessage(`{"a":1}`), `{"a":1}`},
		{"text", "text"},
		{errors.New("boom"), "boom"},
		{map[string]int{"n": 1}, `{"n":1}`},
	}
	for _, c := range cases {
		m := beehive.Message{Header: h, Router: r, Content: c.content}
		f, err := FrameFromMessage(&m)
		if err != nil || string(f.Content) != c.want || f.Header != h || f.Router != r {
			t.Errorf("FrameFromMessage(%v) = %+v, %v", c.content, f, err)
		}
		back := f.Message()
		if back.Header != h || back.Router != r {
			t.Errorf("Message() = %+v", back)
		}
		if c.want == "" && back.Content != nil {
			t.Errorf("empty content came back as %#v", back.Content)
		}
		if b, ok := back.Content.([]byte); c.want != "" && (!ok || string(b) != c.want) {
			t.Errorf("Message().Content = %#v, want []byte %q", back.Content, c.want)
		}
	}
	m := beehive.Message{Content: func() {}}
	if _, err := FrameFromMessage(&m); !errors.Is(err, ErrContent) {
		t.Fatalf("a func content: %v", err)
	}
	ef := Frame{Router: beehive.Router{Operation: OpError}, Content: []byte("not found")}
	em := ef.Message()
	err := em.Err()
	var re *RemoteError
	if !errors.Is(err, beehive.ErrRemote) || !errors.As(err, &re) || re.Text != "not found" {
		t.Fatalf("error frame → message error %v", err)
	}
}
