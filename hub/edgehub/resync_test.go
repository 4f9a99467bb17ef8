package edgehub_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/faultproxy"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

// podJSON is a pod of about 1 KiB, the size of a small real pod.
func podJSON(i int, rv string) []byte {
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-` + strconv.Itoa(i) + `","namespace":"default","resourceVersion":"` + rv +
		`","labels":{"app":"demo","tier":"edge"}},"spec":{"nodeName":"edge-1","containers":[{"name":"app","image":"registry.example.com/demo/app:1.2.3",` +
		`"env":[{"name":"A","value":"` + strings.Repeat("x", 600) + `"}],"resources":{"limits":{"cpu":"100m","memory":"64Mi"}}}]},"status":{"phase":"Pending"}}`)
}

// TestResyncAfterCloudRestart: 1,000 objects synced, the cloud restarts, 10 change meanwhile: only the
// 10 move, and the bytes on the wire stay under 20 objects' worth.
func TestResyncAfterCloudRestart(t *testing.T) {
	const n, changed = 1000, 10
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	state := hub.NewMemState()
	for i := range n {
		state.Put(node, hub.Object{Key: hubtest.PodKey(i), ResourceVersion: strconv.Itoa(100 + i), Content: podJSON(i, strconv.Itoa(100+i))})
	}
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{DesiredState: state})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node)}, nil)
	hubtest.Wait(t, 20*time.Second, "initial sync", func() error {
		if h := len(edge.Meta.Held()); h != n {
			return fmt.Errorf("meta holds %d", h)
		}
		return nil
	})
	first := cloud.Hub.Stats()
	perObject := float64(first.ResyncBytes) / n
	cloud.Hive.Stop()

	for i := range changed {
		rv := strconv.Itoa(5000 + i)
		state.Put(node, hub.Object{Key: hubtest.PodKey(i * 7), ResourceVersion: rv, Content: podJSON(i*7, rv)})
	}
	cloud2 := hubtest.StartCloud(t, pki, cloudhub.Config{Addr: cloud.Addr, DesiredState: state})
	hubtest.Wait(t, 20*time.Second, "resync", func() error {
		if st := edge.Hub.Stats(); st.Resyncs < 2 {
			return fmt.Errorf("edge resyncs %d", st.Resyncs)
		}
		held := edge.Meta.Held()
		for i := range changed {
			if held[hubtest.PodKey(i*7)] != strconv.Itoa(5000+i) {
				return fmt.Errorf("key %d not updated", i*7)
			}
		}
		return nil
	})
	st := cloud2.Hub.Stats()
	wire := st.DigestBytes + st.ResyncBytes
	t.Logf("first sync: %d objects, %d bytes (%.0f per object); after restart: %d changes, digest %d B + changes %d B = %d B = %.1f objects' worth",
		first.ResyncChanges, first.ResyncBytes, perObject, st.ResyncChanges, st.DigestBytes, st.ResyncBytes, wire, float64(wire)/perObject)
	if st.ResyncChanges != changed {
		t.Fatalf("resync sent %d changes, want %d", st.ResyncChanges, changed)
	}
	if float64(wire) > 20*perObject {
		t.Fatalf("resync cost %d bytes, over 20 objects' worth (%.0f)", wire, 20*perObject)
	}
	if applied := len(edge.Meta.Messages()); applied != n+changed {
		t.Fatalf("meta received %d frames, want %d", applied, n+changed)
	}
}

// TestHalfOpen: the path silently drops everything; both ends notice within two keepalive intervals,
// and the edge reconnects when the path returns.
func TestHalfOpen(t *testing.T) {
	const interval = 300 * time.Millisecond
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{KeepaliveInterval: interval})
	proxy, err := faultproxy.New(cloud.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	edge := hubtest.StartEdge(t, edgehub.Config{
		URL: "wss://" + proxy.Addr() + cloudhub.DefaultPath, TLS: pki.NodeTLS(t, node),
		KeepaliveInterval: interval, HandshakeTimeout: interval,
	}, nil)
	hubtest.Wait(t, 10*time.Second, "connected", func() error {
		if cloud.Hub.Stats().ConnectedNodes != 1 || !edge.Hub.Connected() {
			return fmt.Errorf("not connected")
		}
		return nil
	})
	time.Sleep(interval) // let keepalives flow
	proxy.SetBlackhole(true)
	start := time.Now()
	var cloudSaw, edgeSaw time.Duration
	hubtest.Wait(t, 10*interval, "both ends notice", func() error {
		if cloudSaw == 0 && cloud.Hub.Stats().ConnectedNodes == 0 {
			cloudSaw = time.Since(start)
		}
		if edgeSaw == 0 && !edge.Hub.Connected() {
			edgeSaw = time.Since(start)
		}
		if cloudSaw == 0 || edgeSaw == 0 {
			return fmt.Errorf("cloud %v, edge %v", cloudSaw, edgeSaw)
		}
		return nil
	})
	t.Logf("interval %v: cloud noticed after %v, edge after %v", interval, cloudSaw, edgeSaw)
	limit := 2*interval + 300*time.Millisecond // two intervals, plus scheduling slack under -race
	if cloudSaw > limit || edgeSaw > limit {
		t.Fatalf("half-open detection too slow: cloud %v, edge %v (limit %v)", cloudSaw, edgeSaw, limit)
	}
	time.Sleep(2 * interval) // dials fail at the handshake timeout meanwhile
	proxy.SetBlackhole(false)
	hubtest.Wait(t, 10*time.Second, "reconnected", func() error {
		if cloud.Hub.Stats().ConnectedNodes != 1 || !edge.Hub.Connected() {
			return fmt.Errorf("not reconnected")
		}
		return nil
	})
}

// TestJoinThenConnect: an edge joins with a token against the Authority's join endpoint, then connects
// with the certificate it got.
func TestJoinThenConnect(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	join, err := pki.Auth.JoinHandler(certs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.JoinTLSConfig(pki.ServerCert))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: join, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	tok, err := pki.Auth.IssueToken(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node := hub.NodeName("edge-joined")
	res, err := certs.Join(ctx, "https://"+ln.Addr().(*net.TCPAddr).String(), tok.String(), node, key)
	if err != nil {
		t.Fatal(err)
	}
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: certs.ClientTLSConfig(res.CA, "127.0.0.1", certs.NewCertHolder(res.Certificate))}, nil)
	if err := cloud.Send(ctx, node, hub.OpInsert, hubtest.PodKey(1), "1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 10*time.Second, "delivered to the joined node", func() error {
		if edge.Meta.Held()[hubtest.PodKey(1)] != "1" {
			return fmt.Errorf("not delivered")
		}
		return nil
	})
}
