package cloudhub_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

func TestNodeResource(t *testing.T) {
	for _, tc := range []struct {
		node hub.NodeName
		key  hub.Key
		want string
	}{
		{"edge-1", hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "p"}, "node/edge-1/default/pod/p"},
		{"edge-1", hub.Key{Kind: hub.KindNode, Name: "edge-1"}, "node/edge-1//node/edge-1"},
	} {
		s := cloudhub.NodeResource(tc.node, tc.key)
		if s != tc.want {
			t.Errorf("NodeResource = %q, want %q", s, tc.want)
		}
		n, k, err := cloudhub.ParseNodeResource(s)
		if err != nil || n != tc.node || k != tc.key {
			t.Errorf("ParseNodeResource(%q) = %q, %v, %v", s, n, k, err)
		}
	}
	for _, bad := range []string{"", "edge-1/default/pod/p", "node/", "node/Edge/default/pod/p", "node/edge-1/bad key"} {
		if _, _, err := cloudhub.ParseNodeResource(bad); !errors.Is(err, cloudhub.ErrBadResource) {
			t.Errorf("ParseNodeResource(%q): %v", bad, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	pki := hubtest.NewPKI(t)
	good := pki.CloudConfig(cloudhub.Config{})
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	noMTLS := good
	noMTLS.TLS = pki.ServerTLS.Clone()
	noMTLS.TLS.ClientAuth = 0
	for name, c := range map[string]cloudhub.Config{
		"no addr":   {TLS: good.TLS},
		"no tls":    {Addr: "x"},
		"no mtls":   noMTLS,
		"negative":  func() cloudhub.Config { c := good; c.MaxNodes = -1; return c }(),
		"resend":    func() cloudhub.Config { c := good; c.ResendInitial, c.ResendMax = time.Minute, time.Second; return c }(),
		"tiny size": func() cloudhub.Config { c := good; c.MaxFrameSize = 10; return c }(),
	} {
		if _, err := cloudhub.New(c); !errors.Is(err, cloudhub.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func connected(cloud *hubtest.Cloud, edge *hubtest.Edge) func() error {
	return func() error {
		if cloud.Hub.Stats().ConnectedNodes != 1 || !edge.Hub.Connected() {
			return fmt.Errorf("not connected")
		}
		return nil
	}
}

// TestRevoked: a denied node's open connection is cut at once and its new handshakes are refused.
func TestRevoked(t *testing.T) {
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node)}, nil)
	hubtest.Wait(t, 10*time.Second, "connected", connected(cloud, edge))
	if err := pki.Deny.DenyNode(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	hubtest.Wait(t, 2*time.Second, "cut", func() error {
		if cloud.Hub.Stats().ConnectedNodes != 0 || edge.Hub.Connected() {
			return fmt.Errorf("still connected")
		}
		return nil
	})
	t.Logf("open connection cut %v after the denial", time.Since(start))
	hubtest.Wait(t, 5*time.Second, "redials refused", func() error {
		if edge.Hub.Stats().DialErrors < 3 {
			return fmt.Errorf("dial errors %d", edge.Hub.Stats().DialErrors)
		}
		return nil
	})
	if st := cloud.Hub.Stats(); st.Connects != 1 {
		t.Fatalf("a denied node connected again: %+v", st)
	}
}

// TestForbiddenWrites: writes to another node's objects are refused with a nack, counted, never
// delivered; the edge drops them from its outbox.
func TestForbiddenWrites(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	bind := hub.Bindings{Pods: hub.PodBindingFunc(func(ns, name string) (hub.NodeName, bool) {
		if name == "mine" {
			return node, true
		}
		return "edge-2", true
	})}
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{Bindings: bind})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node)}, nil)
	for _, k := range []hub.Key{
		{Namespace: "default", Kind: hub.KindPodStatus, Name: "theirs"},
		{Kind: hub.KindNodeStatus, Name: "edge-2"},
		{Namespace: "default", Kind: hub.KindConfigMap, Name: "cm"},
		{Namespace: "default", Kind: hub.KindPodStatus, Name: "mine"},
	} {
		if err := edge.Send(ctx, hub.OpUpdate, k.String(), "", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	hubtest.Wait(t, 10*time.Second, "answered", func() error {
		if st := edge.Hub.Stats(); st.Outbox.Rows != 0 || st.Nacks != 3 || st.Acks != 1 {
			return fmt.Errorf("edge %+v", st)
		}
		return nil
	})
	if st := cloud.Hub.Stats(); st.Refused != 3 || st.Delivered != 1 {
		t.Fatalf("cloud %+v", st)
	}
	msgs := cloud.Ctl.Messages()
	if len(msgs) != 1 || !strings.HasSuffix(msgs[0].Router.Resource, "/default/podstatus/mine") {
		t.Fatalf("controller got %+v", msgs)
	}
}

func dialRaw(t *testing.T, pki *hubtest.PKI, cloud *hubtest.Cloud, node hub.NodeName) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: pki.NodeTLS(t, node), HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(cloud.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestFrameTooLarge: a frame at the limit passes, one byte over closes the connection.
func TestFrameTooLarge(t *testing.T) {
	const limit = 8192
	pki := hubtest.NewPKI(t)
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{MaxFrameSize: limit})
	ws := dialRaw(t, pki, cloud, "edge-1")
	defer ws.Close()
	f := hub.Frame{Header: beehive.Header{ID: beehive.ID{Epoch: 1, Seq: 1}}, Router: beehive.Router{Operation: hub.OpPublish, Resource: "events/x"}}
	f.Content = make([]byte, limit-f.Size())
	f.Content = make([]byte, len(f.Content)+limit-f.Size()) // the content length's varint may grow
	b, err := f.MarshalBinary()
	if err != nil || len(b) != limit {
		t.Fatalf("frame of %d bytes: %v", len(b), err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 5*time.Second, "frame at the limit delivered", func() error {
		if cloud.Ctl.Len() != 1 {
			return fmt.Errorf("controller got %d", cloud.Ctl.Len())
		}
		return nil
	})
	if err := ws.WriteMessage(websocket.BinaryMessage, make([]byte, limit+1)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection not closed after a frame over the limit")
			}
			break
		}
	}
	hubtest.Wait(t, 5*time.Second, "counted and disconnected", func() error {
		if st := cloud.Hub.Stats(); st.TooLarge != 1 || st.ConnectedNodes != 0 || cloud.Ctl.Len() != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// TestHandshakeTimeout: a client that opens TCP and sends nothing is cut at the handshake timeout.
func TestHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	pki := hubtest.NewPKI(t)
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{HandshakeTimeout: timeout})
	c, err := net.Dial("tcp", cloud.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the silent client was not cut")
	}
	t.Logf("silent client cut after %v (timeout %v): %v", took, timeout, err)
	if took < timeout-50*time.Millisecond || took > timeout+time.Second {
		t.Fatalf("cut after %v, timeout %v", took, timeout)
	}
}

// TestMaxNodes: a node over the limit is refused; a node reconnecting replaces its own session.
func TestMaxNodes(t *testing.T) {
	pki := hubtest.NewPKI(t)
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{MaxNodes: 1})
	a := dialRaw(t, pki, cloud, "edge-1")
	defer a.Close()
	hubtest.Wait(t, 5*time.Second, "one node", func() error {
		if cloud.Hub.Stats().ConnectedNodes != 1 {
			return fmt.Errorf("not connected")
		}
		return nil
	})
	d := websocket.Dialer{TLSClientConfig: pki.NodeTLS(t, "edge-2"), HandshakeTimeout: 5 * time.Second}
	if ws, resp, err := d.Dial(cloud.URL, nil); err == nil {
		ws.Close()
		t.Fatal("a second node was accepted")
	} else if resp == nil || resp.StatusCode != 503 {
		t.Fatalf("second node: %v %v", resp, err)
	}
	again := dialRaw(t, pki, cloud, "edge-1") // replaces the first connection
	defer again.Close()
	hubtest.Wait(t, 5*time.Second, "replaced", func() error {
		if st := cloud.Hub.Stats(); st.Replaced != 1 || st.ConnectedNodes != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// TestRateLimit: a node over its upstream rate is slowed down, not refused.
func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{RatePerNode: 100, BurstPerNode: 10})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, "edge-1"), OutboxRelaxedSync: true}, nil)
	hubtest.Wait(t, 10*time.Second, "connected", connected(cloud, edge))
	start := time.Now()
	for i := range 60 {
		if err := edge.Send(ctx, hub.OpPublish, "events/x", "", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	hubtest.Wait(t, 10*time.Second, "delivered", func() error {
		if cloud.Ctl.Len() != 60 {
			return fmt.Errorf("controller got %d", cloud.Ctl.Len())
		}
		return nil
	})
	took := time.Since(start)
	st := cloud.Hub.Stats()
	t.Logf("60 frames at 100/s with a burst of 10: %v, %d throttled", took, st.Throttled)
	if st.Throttled == 0 || took < 400*time.Millisecond {
		t.Fatalf("not throttled: %v, %+v", took, st)
	}
}

// TestUpstreamModule: upstream messages go to the configured module; when it cannot take them they are
// not acknowledged, and the edge sends them again.
func TestUpstreamModule(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	for _, tc := range []struct {
		module    string
		delivered bool
	}{{"controller", true}, {"nobody", false}} {
		cloud := hubtest.StartCloud(t, pki, cloudhub.Config{UpstreamModule: tc.module})
		edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, "edge-1"), ResendInterval: 100 * time.Millisecond}, nil)
		if err := edge.Send(ctx, hub.OpPublish, "events/x", "", []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if tc.delivered {
			hubtest.Wait(t, 10*time.Second, "delivered", func() error {
				if cloud.Ctl.Len() != 1 || edge.Hub.Stats().Acks != 1 {
					return fmt.Errorf("controller got %d", cloud.Ctl.Len())
				}
				return nil
			})
			continue
		}
		hubtest.Wait(t, 10*time.Second, "resent", func() error {
			if st := edge.Hub.Stats(); st.Resends < 2 || st.Outbox.Rows != 1 || cloud.Hub.Stats().DeliveryFailures < 2 {
				return fmt.Errorf("edge %+v", st)
			}
			return nil
		})
	}
}

// TestMaxHandshakes: with MaxHandshakes handshakes in progress, a new connection waits for a slot
// (and is served when one frees up), but at most HandshakeTimeout/2: then it is closed unserved
// (shed, counted).
func TestMaxHandshakes(t *testing.T) {
	pki := hubtest.NewPKI(t)
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{MaxHandshakes: 1, HandshakeTimeout: time.Second})
	hold := func() net.Conn { // holds the only slot: it never sends a ClientHello
		t.Helper()
		c, err := net.Dial("tcp", cloud.Addr)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let the cloud accept it
		return c
	}
	d := websocket.Dialer{TLSClientConfig: pki.NodeTLS(t, "edge-1"), HandshakeTimeout: 5 * time.Second}

	first := hold()
	time.AfterFunc(200*time.Millisecond, func() { first.Close() }) // frees the slot within the wait
	ws, _, err := d.Dial(cloud.URL, nil)
	if err != nil {
		t.Fatalf("a queued connection was not served when the slot freed: %v", err)
	}
	ws.Close()

	silent := hold()
	defer silent.Close()
	start := time.Now()
	if ws, _, err := d.Dial(cloud.URL, nil); err == nil {
		ws.Close()
		t.Fatal("a connection was served while the only slot stayed taken")
	}
	if took := time.Since(start); took < 400*time.Millisecond || took > 900*time.Millisecond {
		t.Fatalf("shed after %v, want HandshakeTimeout/2 (500ms)", took)
	}
	hubtest.Wait(t, 5*time.Second, "counters", func() error {
		if st := cloud.Hub.Stats(); st.ShedHandshakes != 1 || st.FailedHandshakes < 1 {
			return fmt.Errorf("shed %d, failed %d", st.ShedHandshakes, st.FailedHandshakes)
		}
		return nil
	})
}
