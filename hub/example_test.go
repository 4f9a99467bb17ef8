package hub_test

import (
	"bytes"
	"fmt"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// A pod update goes down the link as one frame: encode it into a reused buffer, write it behind its
// length prefix, read it back on the other end, and acknowledge it after the commit.
func Example() {
	key, _ := hub.NewKey("default", hub.KindPod, "nginx")
	f := hub.Frame{
		Header:  beehive.Header{ID: beehive.ID{Epoch: 7, Seq: 1}, Timestamp: 1700000000000000000, ResourceVersion: "4711"},
		Router:  beehive.Router{Source: "edgecontroller", Group: beehive.GroupMeta, Operation: hub.OpUpdate, Resource: key.String()},
		Seq:     1,
		Content: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nginx","namespace":"default"}}`),
	}
	var stream bytes.Buffer
	buf := make([]byte, 0, 4096)
	buf, err := hub.AppendFrame(buf[:0], &f)
	if err != nil {
		panic(err)
	}
	stream.Write(buf)

	got, err := hub.ReadFrame(&stream, hub.DefaultMaxFrameSize)
	if err != nil {
		panic(err)
	}
	k, _ := got.Key()
	fmt.Println(got.Router.Operation, k.Namespace, k.Kind, k.Name, got.Header.ResourceVersion, len(got.Content))

	ack := hub.Frame{
		Header: beehive.Header{ID: beehive.ID{Epoch: 9, Seq: 1}, ParentID: got.Header.ID, ResourceVersion: got.Header.ResourceVersion},
		Router: beehive.Router{Source: "meta", Group: beehive.GroupHub, Operation: hub.OpAck, Resource: got.Router.Resource},
		Seq:    got.Seq,
	}
	body, _ := ack.MarshalBinary()
	fmt.Println(len(body), "bytes of ack")
	// Output:
	// update default pod nginx 4711 82
	// 81 bytes of ack
}

// The cloud answers a reconnecting edge's digest with only what changed.
func ExampleDiff() {
	pod := func(name string) hub.Key { k, _ := hub.NewKey("default", hub.KindPod, name); return k }
	have := hub.Digest{pod("a"): "10", pod("b"): "20", pod("c"): "30"}
	wire, _ := have.MarshalBinary() // the content of the edge's OpResync frame
	have, _ = hub.DecodeDigest(wire)
	want := []hub.Object{
		{Key: pod("a"), ResourceVersion: "10"},
		{Key: pod("b"), ResourceVersion: "21", Content: []byte(`{}`)},
		{Key: pod("d"), ResourceVersion: "40", Content: []byte(`{}`)},
	}
	for _, c := range hub.Diff(have, want) {
		fmt.Println(c.Op, c.Key, c.ResourceVersion)
	}
	// Output:
	// update default/pod/b 21
	// delete default/pod/c 30
	// insert default/pod/d 40
}

// A node may write its own status, never another node's.
func ExampleAuthorizeWrite() {
	mine, _ := hub.ParseKey("/nodestatus/edge-1")
	theirs, _ := hub.ParseKey("/nodestatus/edge-2")
	fmt.Println(hub.AuthorizeWrite("edge-1", hub.OpUpdate, mine, hub.Bindings{}))
	fmt.Println(hub.AuthorizeWrite("edge-1", hub.OpUpdate, theirs, hub.Bindings{}))
	// Output:
	// <nil>
	// hub: forbidden: node "edge-1" may not update "/nodestatus/edge-2" (other-node)
}
