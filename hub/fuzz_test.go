package hub

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/edgehive/edgehive/beehive"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpora in testdata/fuzz")

// seedCorpora are the seeds kept in testdata/fuzz/<Fuzzer>/: valid frames and digests, and edge cases.
func seedCorpora() map[string]map[string][]byte {
	frames := map[string][]byte{}
	for i, f := range sampleFrames() {
		b, err := f.MarshalBinary()
		if err != nil {
			panic(err)
		}
		frames[fmt.Sprintf("frame-%d", i)] = b
		frames[fmt.Sprintf("truncated-%d", i)] = b[:len(b)/2]
	}
	frames["json"] = []byte(`{"header":{"msg_id":"1"}}`)
	frames["version-2"] = []byte{Magic, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	frames["all-flags"] = []byte{Magic, Version, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
	frames["huge-content-length"] = []byte{Magic, Version, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	digests := map[string][]byte{}
	for name, d := range sampleDigests() {
		b, err := d.MarshalBinary()
		if err != nil {
			panic(err)
		}
		digests[name] = b
	}
	digests["count-too-big"] = []byte{DigestVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}
	digests["out-of-order"] = []byte("\x01\x02\x00\x0fdefault/pod/bbb\x02\x00\x0fdefault/pod/aaa\x02")
	keys := map[string][]byte{
		"pod": []byte("default/pod/nginx"), "node": []byte("/node/edge-1"), "empty": nil,
		"slashes": []byte("///"), "upper": []byte("Default/Pod/X"),
	}
	return map[string]map[string][]byte{"FuzzDecode": frames, "FuzzDecodeDigest": digests, "FuzzParseKey": keys}
}

// TestSeedCorpora checks that testdata/fuzz holds the seeds (go test -update-seeds rewrites them).
func TestSeedCorpora(t *testing.T) {
	for fuzzer, seeds := range seedCorpora() {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		for name, b := range seeds {
			want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
			if fuzzer == "FuzzParseKey" {
				want = "go test fuzz v1\nstring(" + strconv.Quote(string(b)) + ")\n"
			}
			path := filepath.Join(dir, name)
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("seed %s is missing or stale (%v); run go test ./hub -run TestSeedCorpora -update-seeds", path, err)
			}
		}
	}
}

// FuzzDecode: decoding never panics, and whatever decodes re-encodes to the same bytes (the encoding is
// canonical). The same bytes behind a length prefix go through ReadFrame.
func FuzzDecode(f *testing.F) {
	for _, b := range seedCorpora()["FuzzDecode"] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b, 1<<20)
		if err == nil {
			if fr.Size() != len(b) {
				t.Fatalf("Size %d, input %d bytes", fr.Size(), len(b))
			}
			back, err := fr.AppendBinary(nil)
			if err != nil || !bytes.Equal(back, b) {
				t.Fatalf("re-encode differs: %x, %v", back, err)
			}
		}
		stream := append([]byte{0, 0, byte(len(b) >> 8), byte(len(b))}, b...)
		sf, serr := ReadFrame(bytes.NewReader(stream), 1<<16)
		if len(b) < 1<<16 && (err == nil) != (serr == nil) {
			t.Fatalf("Decode says %v, ReadFrame says %v", err, serr)
		}
		if serr == nil && !sf.Equal(&fr) {
			t.Fatalf("ReadFrame and Decode disagree")
		}
	})
}

// FuzzRoundTrip: decode(encode(x)) == x for every frame whose fields are within their limits.
func FuzzRoundTrip(f *testing.F) {
	for _, fr := range sampleFrames() {
		h, r := fr.Header, fr.Router
		f.Add(h.ID.Epoch, h.ID.Seq, h.ParentID.Epoch, h.ParentID.Seq, h.Timestamp, h.Sync, fr.Seq,
			h.ResourceVersion, r.Source, string(r.Group), string(r.Operation), r.Resource, fr.Content)
	}
	f.Fuzz(func(t *testing.T, e1, s1, e2, s2 uint64, ts int64, sync bool, seq uint64, rv, src, grp, op, res string, content []byte) {
		fr := Frame{
			Header: beehive.Header{ID: beehive.ID{Epoch: e1, Seq: s1}, ParentID: beehive.ID{Epoch: e2, Seq: s2}, Timestamp: ts, Sync: sync, ResourceVersion: rv},
			Router: beehive.Router{Source: src, Group: beehive.Group(grp), Operation: beehive.Operation(op), Resource: res},
			Seq:    seq, Content: content,
		}
		b, err := fr.AppendBinary(nil)
		if err != nil {
			return // a field over MaxFieldLen
		}
		back, err := Decode(b, len(b))
		if err != nil || !back.Equal(&fr) {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}

// FuzzDecodeDigest: never panics; a decoded digest re-encodes to the same bytes.
func FuzzDecodeDigest(f *testing.F) {
	for _, b := range seedCorpora()["FuzzDecodeDigest"] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDigest(b)
		if err != nil {
			return
		}
		back, err := d.MarshalBinary()
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("re-encode differs: %q, %v", back, err)
		}
	})
}

// FuzzParseKey: never panics; a parsed key prints as its input and passes Validate.
func FuzzParseKey(f *testing.F) {
	for _, b := range seedCorpora()["FuzzParseKey"] {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if k.String() != s || k.Validate() != nil {
			t.Fatalf("ParseKey(%q) = %+v", s, k)
		}
	})
}
