package hub

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	long := strings.Repeat("a", 63)
	name253 := strings.Repeat(strings.Repeat("b", 62)+".", 4) + "c" // 4*63 + 1 = 253
	valid := []struct {
		in   string
		want Key
	}{
		{"default/pod/nginx", Key{"default", KindPod, "nginx"}},
		{"kube-system/configmap/kube-proxy.v1", Key{"kube-system", KindConfigMap, "kube-proxy.v1"}},
		{"/node/edge-1", Key{"", KindNode, "edge-1"}},
		{"/nodestatus/edge-1.example.com", Key{"", KindNodeStatus, "edge-1.example.com"}},
		{"/membership/edge-1", Key{"", KindMembership, "edge-1"}},
		{"kube-node-lease/lease/edge-1", Key{"kube-node-lease", KindLease, "edge-1"}},
		{"ns/widget/w1", Key{"ns", "widget", "w1"}}, // a vendor's kind, namespaced
		{"/widget/w1", Key{"", "widget", "w1"}},     // a vendor's kind, cluster-scoped
		{"0/pod/9", Key{"0", KindPod, "9"}},
		{long + "/" + long + "/" + name253, Key{long, Kind(long), name253}},
	}
	for _, c := range valid {
		k, err := ParseKey(c.in)
		if err != nil || k != c.want {
			t.Errorf("ParseKey(%q) = %+v, %v; want %+v", c.in, k, err, c.want)
			continue
		}
		if s := k.String(); s != c.in {
			t.Errorf("ParseKey(%q).String() = %q", c.in, s)
		}
	}
	invalid := []struct{ in, why string }{
		{"", "want <namespace>"},
		{"default", "want <namespace>"},
		{"default/pod", "want <namespace>"},
		{"default/pod/", "name must not be empty"},
		{"default//nginx", "kind must not be empty"},
		{"default/pod/a/b", "name must consist"},
		{"default/pod/Nginx", "name must consist"},
		{"default/pod/-nginx", "each dot-separated part"},
		{"default/pod/nginx-", "each dot-separated part"},
		{"default/pod/a..b", "each dot-separated part"},
		{"default/pod/.a", "each dot-separated part"},
		{"default/pod/a_b", "name must consist"},
		{"default/pod/a b", "name must consist"},
		{"default/Pod/a", "kind must consist"},
		{"default/pod.v1/a", "kind must consist"},
		{"Default/pod/a", "namespace must consist"},
		{"de.fault/pod/a", "namespace must consist"},
		{"-ns/pod/a", "namespace must begin"},
		{long + "a/pod/a", "namespace must be at most 63"},
		{"ns/" + long + "a/a", "kind must be at most 63"},
		{"ns/pod/" + name253 + "d", "name must be at most 253"},
		{"/pod/nginx", "kind pod is namespaced"},
		{"default/node/edge-1", "cluster-scoped"},
		{"x/nodestatus/edge-1", "cluster-scoped"},
		{strings.Repeat("a", MaxKeyLen+1), "longer than"},
		{"default/pod/ngïnx", "name must consist"},
	}
	for _, c := range invalid {
		k, err := ParseKey(c.in)
		if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseKey(%q) = %+v, %v; want ErrBadKey saying %q", c.in, k, err, c.why)
		}
		if k != (Key{}) {
			t.Errorf("ParseKey(%q) returned a non-zero key on error", c.in)
		}
	}
}

func TestKeyText(t *testing.T) {
	m := map[Key]string{{"default", KindPod, "a"}: "1", {"", KindNode, "n"}: "2"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"/node/n":"2","default/pod/a":"1"}` {
		t.Fatalf("json = %s", b)
	}
	var back map[Key]string
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[Key{"", KindNode, "n"}] != "2" {
		t.Fatalf("unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"bad key":"1"}`), &back); !errors.Is(err, ErrBadKey) {
		t.Fatalf("unmarshal of a bad key: %v", err)
	}
	if (Key{}).String() != "" || !(Key{}).IsZero() {
		t.Fatal("zero key")
	}
	if _, err := NewKey("default", KindSecret, "s"); err != nil {
		t.Fatal(err)
	}
}

func TestNodeNames(t *testing.T) {
	for _, s := range []string{"edge-1", "a", "edge-1.factory.example.com", strings.Repeat("a", 253)} {
		n, err := ParseNodeName(s)
		if err != nil {
			t.Errorf("ParseNodeName(%q): %v", s, err)
			continue
		}
		cn := n.CommonName()
		if cn != "system:node:"+s {
			t.Errorf("CommonName = %q", cn)
		}
		back, err := NodeFromCommonName(cn)
		if err != nil || back != n {
			t.Errorf("NodeFromCommonName(%q) = %q, %v", cn, back, err)
		}
	}
	for _, s := range []string{"", "Edge", "edge_1", "-edge", "edge.", "a..b", strings.Repeat("a", 254), "edge 1", "système"} {
		if _, err := ParseNodeName(s); !errors.Is(err, ErrBadNodeName) {
			t.Errorf("ParseNodeName(%q) = %v, want ErrBadNodeName", s, err)
		}
	}
	for _, cn := range []string{"", "edge-1", "system:node:", "system:nodes:edge-1", "System:node:edge-1", "system:node:Edge", "system:node:a/b", "system:node:system:node:a"} {
		_, err := NodeFromCommonName(cn)
		if !errors.Is(err, ErrBadCommonName) {
			t.Errorf("NodeFromCommonName(%q) = %v, want ErrBadCommonName", cn, err)
		}
	}
	n := NodeName("edge-1")
	if n.Key().String() != "/node/edge-1" || n.StatusKey().String() != "/nodestatus/edge-1" {
		t.Fatalf("node keys %v %v", n.Key(), n.StatusKey())
	}
	if err := n.Key().Validate(); err != nil {
		t.Fatal(err)
	}
}
