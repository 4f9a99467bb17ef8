package metaserver

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/api/v1/pods",
		"/api/v1/namespaces/default/pods",
		"/api/v1/namespaces/default/pods/web-1",
		"/api/v1/nodes/edge-1",
		"/api/v1/namespaces/default/nodes",
		"/api/v1/pods/web-1",
		"/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo",
		"/apis/devices.kubeedge.io/v1beta1/devicemodels",
		"/api/v1/namespaces/default/pods/web-1/status",
		"/api/v1/namespaces//pods",
		"/api/v1/",
		"/api",
		"",
		"//",
		"/apis/x",
		"/api/v1/namespaces/Default/pods",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("ParsePath(%q): error %v does not wrap ErrBadPath", p, err)
			}
			return
		}
		if got := req.Path(); got != p {
			t.Fatalf("ParsePath(%q) = %+v, which renders as %q", p, req, got)
		}
		if req.Name != "" {
			if err := req.Key().Validate(); err != nil {
				t.Fatalf("ParsePath(%q) gave an invalid key: %v", p, err)
			}
		}
	})
}

// FuzzSplitObject checks splitObject against encoding/json: on every valid JSON object it finds the
// same members, and it never panics.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` { "a" : [1,{"b":"}"}] , "c":"x\"y", "d":null } `, `{"k\u0069nd":true}`, `{"a":}`, `[1]`, `{"a":1`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, ok := splitObject(b)
		var want map[string]json.RawMessage
		if json.Unmarshal(b, &want) != nil || want == nil {
			return // splitObject may accept some malformed input; the store only holds valid objects
		}
		if !ok {
			t.Fatalf("splitObject refused the valid object %q", b)
		}
		got := map[string]json.RawMessage{}
		for _, m := range ms {
			// encoding/json turns invalid UTF-8 into U+FFFD; so does render when it writes the key.
			kb, _ := json.Marshal(m.key)
			var k string
			_ = json.Unmarshal(kb, &k)
			got[k] = m.value
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, want %d", b, len(got), len(want))
		}
		for k, v := range want {
			var a, c any
			_ = json.Unmarshal(v, &a)
			if err := json.Unmarshal(got[k], &c); err != nil || !reflect.DeepEqual(a, c) {
				t.Fatalf("%q: member %q = %q, want %q", b, k, got[k], v)
			}
		}
	})
}
