package edgehub_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/faultproxy"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

// TestDeliveryUnderCuts streams 10,000 updates over 1,000 keys while a proxy cuts the connection at
// random moments: the edge ends with the newest version of every key, each key's versions applied in
// increasing order, none twice.
// With a DesiredState, each reconnect also resyncs from it while updates keep coming.
func TestDeliveryUnderCuts(t *testing.T) {
	t.Run("pending", func(t *testing.T) { testDeliveryUnderCuts(t, false) })
	t.Run("desired-state", func(t *testing.T) { testDeliveryUnderCuts(t, true) })
}

func testDeliveryUnderCuts(t *testing.T, withState bool) {
	const keys, versions = 1000, 10
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	var state *hub.MemState
	cfg := cloudhub.Config{ResendInitial: 300 * time.Millisecond, ResendMax: time.Second}
	if withState {
		state = hub.NewMemState()
		cfg.DesiredState = state
	}
	cloud := hubtest.StartCloud(t, pki, cfg)
	proxy, err := faultproxy.New(cloud.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	edge := hubtest.StartEdge(t, edgehub.Config{URL: "wss://" + proxy.Addr() + cloudhub.DefaultPath, TLS: pki.NodeTLS(t, node)}, nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the cutter
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(5+rand.IntN(60)) * time.Millisecond):
				proxy.Cut()
			}
		}
	}()
	for v := 1; v <= versions; v++ {
		for k := range keys {
			content := []byte(`{"v":` + strconv.Itoa(v) + `}`)
			if state != nil { // the desired state first, then the message (the cloud hub's contract)
				state.Put(node, hub.Object{Key: hubtest.PodKey(k), ResourceVersion: strconv.Itoa(v), Content: content})
				if v > 1 { // a late message of the previous version: stale, to be dropped
					if err := cloud.Send(ctx, node, hub.OpUpdate, hubtest.PodKey(k), strconv.Itoa(v-1), content); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := cloud.Send(ctx, node, hub.OpUpdate, hubtest.PodKey(k), strconv.Itoa(v), content); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	hubtest.Wait(t, 30*time.Second, "every key at its newest version", func() error {
		held := edge.Meta.Held()
		for k := range keys {
			if rv := held[hubtest.PodKey(k)]; rv != strconv.Itoa(versions) {
				return fmt.Errorf("key %d at %q", k, rv)
			}
		}
		if p := cloud.Hub.Stats().PendingFrames; p != 0 {
			return fmt.Errorf("%d frames pending", p)
		}
		return nil
	})
	applied := 0
	for key, h := range edge.Meta.History() {
		prev := 0
		for _, rv := range h {
			v, _ := strconv.Atoi(rv)
			if v <= prev {
				t.Fatalf("%s applied out of order or twice: %s", key, strings.Join(h, ","))
			}
			prev = v
		}
		applied += len(h)
	}
	st := cloud.Hub.Stats()
	t.Logf("cuts %d, connects %d, applied %d of %d updates (the rest replaced while pending), dups acked without applying %d, resends %d, stale %d, resync changes %d",
		proxy.Cuts(), st.Connects, applied, keys*versions, edge.Meta.Dups(), st.Resends, st.Stale, st.ResyncChanges)
	if withState && st.Stale != keys*(versions-1) {
		t.Errorf("%d stale messages dropped, want %d", st.Stale, keys*(versions-1))
	}
	if proxy.Cuts() < 10 {
		t.Errorf("only %d cuts: the test did not exercise faults", proxy.Cuts())
	}
}
