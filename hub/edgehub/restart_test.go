package edgehub_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
	"github.com/edgehive/edgehive/internal/testenv"
)

// TestOutboxSurvivesRestart stores 1,000 upstream messages while the cloud is unreachable, stops the
// edge hub (closing the SQLite file), starts a new one on the same file with the cloud up: every
// message arrives, in order.
func TestOutboxSurvivesRestart(t *testing.T) {
	const statuses, publishes = 500, 500
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	path := t.TempDir() + "/outbox.db"
	tlsConf := pki.NodeTLS(t, node)

	dead := fmt.Sprintf("wss://127.0.0.1:%d%s", testenv.FreePort(t), cloudhub.DefaultPath)
	edge := hubtest.StartEdge(t, edgehub.Config{URL: dead, TLS: tlsConf, OutboxPath: path, OutboxRelaxedSync: true}, nil)
	start := time.Now()
	for i := range statuses {
		key := hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "pod-" + strconv.Itoa(i)}
		if err := edge.Send(ctx, hub.OpUpdate, key.String(), "", []byte(`{"i":`+strconv.Itoa(i)+`}`)); err != nil {
			t.Fatal(err)
		}
		if err := edge.Send(ctx, hub.OpPublish, "events/app", "", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if st := edge.Hub.Stats(); st.Outbox.Rows != statuses+publishes || st.Connects != 0 {
		t.Fatalf("before restart: %+v", st)
	}
	stored := time.Since(start)
	edge.Hive.Stop()

	start = time.Now()
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{Bindings: bindAll(node), RatePerNode: 1e6})
	edge2 := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: tlsConf, OutboxPath: path}, nil)
	hubtest.Wait(t, 20*time.Second, "all delivered and acknowledged", func() error {
		if st := edge2.Hub.Stats(); st.Outbox.Rows != 0 || cloud.Ctl.Len() < statuses+publishes {
			return fmt.Errorf("outbox %d rows, controller got %d", st.Outbox.Rows, cloud.Ctl.Len())
		}
		return nil
	})
	t.Logf("stored %d messages in %v; after the restart, delivered and acknowledged in %v", statuses+publishes, stored, time.Since(start))
	next := 0
	seen := map[string]bool{}
	for _, m := range cloud.Ctl.Messages() {
		if m.Router.Operation == hub.OpPublish {
			if v, _ := strconv.Atoi(string(m.Content.([]byte))); v == next {
				next++
			} else if v > next {
				t.Fatalf("publish %d arrived before %d", v, next)
			}
			continue
		}
		seen[m.Router.Resource] = true
		if !strings.HasPrefix(m.Router.Resource, "node/edge-1/default/podstatus/") {
			t.Fatalf("unexpected resource %q", m.Router.Resource)
		}
	}
	if next != publishes || len(seen) != statuses {
		t.Fatalf("got %d publishes in order, %d statuses", next, len(seen))
	}
}

// TestOutboxCoalesces checks that the newest status of a key replaces the older ones while offline.
func TestOutboxCoalesces(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	path := t.TempDir() + "/outbox.db"
	tlsConf := pki.NodeTLS(t, node)
	dead := fmt.Sprintf("wss://127.0.0.1:%d%s", testenv.FreePort(t), cloudhub.DefaultPath)
	edge := hubtest.StartEdge(t, edgehub.Config{URL: dead, TLS: tlsConf, OutboxPath: path, OutboxRelaxedSync: true}, nil)
	key := hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "p"}.String()
	for i := range 5 {
		if err := edge.Send(ctx, hub.OpUpdate, key, strconv.Itoa(i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if st := edge.Hub.Stats().Outbox; st.Rows != 1 || st.Coalesced != 4 {
		t.Fatalf("outbox %+v", st)
	}
	edge.Hive.Stop()
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{Bindings: bindAll(node)})
	hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: tlsConf, OutboxPath: path}, nil)
	hubtest.Wait(t, 10*time.Second, "delivered", func() error {
		if cloud.Ctl.Len() != 1 {
			return fmt.Errorf("controller got %d", cloud.Ctl.Len())
		}
		return nil
	})
	if m := cloud.Ctl.Messages()[0]; string(m.Content.([]byte)) != "4" || m.Header.ResourceVersion != "4" {
		t.Fatalf("got %+v", m)
	}
}

// TestOutboxBounds checks the byte budget: non-writes are dropped first, then the oldest writes.
func TestOutboxBounds(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	dead := fmt.Sprintf("wss://127.0.0.1:%d%s", testenv.FreePort(t), cloudhub.DefaultPath)
	edge := hubtest.StartEdge(t, edgehub.Config{URL: dead, TLS: pki.NodeTLS(t, "edge-1"), OutboxMaxBytes: 4000, OutboxRelaxedSync: true}, nil)
	big := make([]byte, 900)
	if err := edge.Send(ctx, hub.OpPublish, "events/a", "", big); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		key := hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "p" + strconv.Itoa(i)}.String()
		if err := edge.Send(ctx, hub.OpUpdate, key, "", big); err != nil {
			t.Fatal(err)
		}
	}
	st := edge.Hub.Stats().Outbox
	if st.Rows != 4 || st.Dropped != 1 || st.Bytes > 4000 {
		t.Fatalf("outbox %+v", st)
	}
	if err := edge.Send(ctx, hub.OpPublish, "events/a", "", make([]byte, 5000)); err == nil {
		t.Fatal("a message over the whole budget was accepted")
	}
}
