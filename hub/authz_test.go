package hub

import (
	"errors"
	"testing"

	"github.com/edgehive/edgehive/beehive"
)

func TestAuthorizeWrite(t *testing.T) {
	pods := PodBindingFunc(func(ns, name string) (NodeName, bool) {
		switch ns + "/" + name {
		case "default/mine":
			return "edge-1", true
		case "default/theirs":
			return "edge-2", true
		case "default/pending":
			return "", true // not yet scheduled
		}
		return "", false
	})
	devices := DeviceBindingFunc(func(ns, name string) (NodeName, bool) {
		switch ns + "/" + name {
		case "default/thermo":
			return "edge-1", true
		case "default/pump":
			return "edge-2", true
		}
		return "", false
	})
	b := Bindings{Pods: pods, Devices: devices}
	cases := []struct {
		node NodeName
		op   beehive.Operation
		key  string
		b    Bindings
		want Reason // "" = allowed
	}{
		{"edge-1", OpInsert, "/node/edge-1", b, ""},
		{"edge-1", OpUpdate, "/node/edge-1", b, ""},
		{"edge-1", OpPatch, "/nodestatus/edge-1", b, ""},
		{"edge-1", OpUpdate, "kube-node-lease/lease/edge-1", b, ""},
		{"edge-1", OpUpdate, "default/podstatus/mine", b, ""},
		{"edge-1", OpDelete, "default/pod/mine", b, ""},
		{"edge-1", OpUpdate, "default/devicestatus/thermo", b, ""},
		{"edge-1", OpInsert, "default/devicestatus/thermo", b, ""},

		{"edge-1", OpUpdate, "/node/edge-2", b, ReasonOtherNode},
		{"edge-1", OpUpdate, "/nodestatus/edge-2", b, ReasonOtherNode},
		{"edge-1", OpDelete, "/node/edge-1", b, ReasonOperation},
		{"edge-1", OpDelete, "/nodestatus/edge-1", b, ReasonOperation},
		{"edge-1", OpUpdate, "kube-node-lease/lease/edge-2", b, ReasonOtherNode},
		{"edge-1", OpUpdate, "default/lease/edge-1", b, ReasonWrongLeaseNS},
		{"edge-1", OpDelete, "kube-node-lease/lease/edge-1", b, ReasonOperation},
		{"edge-1", OpUpdate, "default/podstatus/theirs", b, ReasonPodNotBound},
		{"edge-1", OpUpdate, "default/podstatus/pending", b, ReasonPodNotBound},
		{"edge-1", OpUpdate, "default/podstatus/unknown", b, ReasonPodNotBound},
		{"edge-1", OpUpdate, "other/podstatus/mine", b, ReasonPodNotBound},
		{"edge-1", OpDelete, "default/podstatus/mine", b, ReasonOperation},
		{"edge-1", OpUpdate, "default/pod/mine", b, ReasonOperation},
		{"edge-1", OpInsert, "default/pod/mine", b, ReasonOperation},
		{"edge-1", OpDelete, "default/pod/theirs", b, ReasonPodNotBound},
		{"edge-1", OpUpdate, "default/podstatus/mine", Bindings{}, ReasonPodNotBound},
		{"edge-1", OpUpdate, "default/devicestatus/pump", b, ReasonDevNotBound},
		{"edge-1", OpUpdate, "default/devicestatus/ghost", b, ReasonDevNotBound},
		{"edge-1", OpDelete, "default/devicestatus/thermo", b, ReasonOperation},
		{"edge-1", OpUpdate, "default/devicestatus/thermo", Bindings{Pods: pods}, ReasonDevNotBound},
		{"edge-1", OpUpdate, "default/device/thermo", b, ReasonKind},
		{"edge-1", OpUpdate, "default/configmap/c", b, ReasonKind},
		{"edge-1", OpUpdate, "default/secret/s", b, ReasonKind},
		{"edge-1", OpInsert, "default/service/s", b, ReasonKind},
		{"edge-1", OpUpdate, "/membership/edge-1", b, ReasonKind},
		{"edge-1", OpUpdate, "default/widget/w", b, ReasonKind},
		{"edge-1", OpQuery, "default/configmap/c", b, ReasonNotWrite},
		{"edge-1", OpAck, "/node/edge-1", b, ReasonNotWrite},
		{"edge-1", "", "/node/edge-1", b, ReasonNotWrite},
		{"Edge-1", OpUpdate, "/node/Edge-1", b, ReasonBadNode},
		{"", OpUpdate, "/node/edge-1", b, ReasonBadNode},
	}
	for _, c := range cases {
		key, err := ParseKey(c.key)
		if err != nil && c.want != ReasonBadNode {
			t.Fatalf("bad test key %q: %v", c.key, err)
		}
		err = AuthorizeWrite(c.node, c.op, key, c.b)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s %s %s: %v, want allowed", c.node, c.op, c.key, err)
			}
			continue
		}
		var fe *ForbiddenError
		if !errors.Is(err, ErrForbidden) || !errors.As(err, &fe) || fe.Reason != c.want {
			t.Errorf("%s %s %s: %v, want forbidden (%s)", c.node, c.op, c.key, err, c.want)
		}
	}
	err := AuthorizeWrite("edge-1", OpUpdate, Key{Namespace: "x", Kind: KindNode, Name: "edge-1"}, b)
	var fe *ForbiddenError
	if !errors.As(err, &fe) || fe.Reason != ReasonBadKey {
		t.Fatalf("malformed key: %v", err)
	}
	if want := `hub: forbidden: node "edge-1" may not update "x/node/edge-1" (bad-key)`; err.Error() != want {
		t.Fatalf("error text %q", err)
	}
}
