package edgehub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

func bindAll(node hub.NodeName) hub.Bindings {
	return hub.Bindings{Pods: hub.PodBindingFunc(func(ns, name string) (hub.NodeName, bool) { return node, true })}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{Bindings: bindAll(node)})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node)}, nil)

	hubtest.Wait(t, 10*time.Second, "connected", func() error {
		if !edge.Hub.Connected() || cloud.Hub.Stats().ConnectedNodes != 1 {
			return fmt.Errorf("edge %v, cloud %d", edge.Hub.Connected(), cloud.Hub.Stats().ConnectedNodes)
		}
		return nil
	})
	// Downstream.
	key := hubtest.PodKey(1)
	if err := cloud.Send(ctx, node, hub.OpInsert, key, "7", []byte(`{"kind":"Pod"}`)); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 10*time.Second, "downstream applied and acknowledged", func() error {
		if edge.Meta.Held()[key] != "7" {
			return fmt.Errorf("meta holds %v", edge.Meta.Held())
		}
		if st := cloud.Hub.Stats(); st.Acks != 1 || st.PendingFrames != 0 {
			return fmt.Errorf("cloud stats %+v", st)
		}
		return nil
	})
	msgs := edge.Meta.Messages()
	if len(msgs) != 1 || string(msgs[0].Content.([]byte)) != `{"kind":"Pod"}` || msgs[0].Router.Operation != hub.OpInsert {
		t.Fatalf("meta got %+v", msgs)
	}
	// Upstream.
	skey := hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "pod-1"}
	if err := edge.Send(ctx, hub.OpUpdate, skey.String(), "", []byte(`{"phase":"Running"}`)); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 10*time.Second, "upstream delivered and acknowledged", func() error {
		if cloud.Ctl.Len() != 1 {
			return fmt.Errorf("controller got %d", cloud.Ctl.Len())
		}
		if st := edge.Hub.Stats(); st.Acks != 1 || st.Outbox.Rows != 0 {
			return fmt.Errorf("edge stats %+v", st)
		}
		return nil
	})
	m := cloud.Ctl.Messages()[0]
	gotNode, gotKey, err := cloudhub.ParseNodeResource(m.Router.Resource)
	if err != nil || gotNode != node || gotKey != skey || string(m.Content.([]byte)) != `{"phase":"Running"}` {
		t.Fatalf("controller got %+v (%v)", m, err)
	}
	if ev := edge.Meta.Events(); len(ev) == 0 || ev[0] != edgehub.OpCloudConnected {
		t.Fatalf("meta events %v", ev)
	}
	cloud.Hive.Stop()
	hubtest.Wait(t, 10*time.Second, "disconnect noticed", func() error {
		if ev := edge.Meta.Events(); ev[len(ev)-1] != edgehub.OpCloudDisconnected {
			return fmt.Errorf("events %v", ev)
		}
		return nil
	})
}

// TestResendUntilApplied: a frame the local module refuses is not acknowledged, so the cloud resends it
// with backoff until the module takes it.
func TestResendUntilApplied(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{ResendInitial: 50 * time.Millisecond, ResendMax: 200 * time.Millisecond})
	meta := hubtest.NewMeta()
	meta.SetFail(true)
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node)}, meta)
	if err := cloud.Send(ctx, node, hub.OpInsert, hubtest.PodKey(1), "1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 10*time.Second, "resent", func() error {
		if n := len(meta.Messages()); n < 3 {
			return fmt.Errorf("meta saw %d attempts", n)
		}
		return nil
	})
	meta.SetFail(false)
	hubtest.Wait(t, 10*time.Second, "applied", func() error {
		if meta.Held()[hubtest.PodKey(1)] != "1" || cloud.Hub.Stats().PendingFrames != 0 {
			return fmt.Errorf("not applied")
		}
		return nil
	})
	if st := edge.Hub.Stats(); st.ApplyErrors < 2 || cloud.Hub.Stats().Resends < 2 {
		t.Fatalf("edge %+v, cloud %+v", st, cloud.Hub.Stats())
	}
}

// TestQuery: an OpQuery from the edge is answered from the cloud's DesiredState; the answer reaches the
// routed local module with ParentID = the query's ID, and the query leaves the outbox.
func TestQuery(t *testing.T) {
	ctx := context.Background()
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	state := hub.NewMemState()
	key := hub.Key{Namespace: "default", Kind: hub.KindConfigMap, Name: "cm"}
	state.Put(node, hub.Object{Key: key, ResourceVersion: "3", Content: []byte(`{"data":{}}`)})
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{DesiredState: state})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node)}, nil)
	bc := edge.Port.Context()
	q := bc.NewMessage(beehive.GroupMeta, hub.OpQuery, key.String(), nil)
	if _, err := bc.SendSync(ctx, edgehub.Name, q); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 10*time.Second, "answered", func() error {
		for _, m := range edge.Meta.Messages() {
			if m.Router.Operation == hub.OpResponse && m.Header.ParentID == q.Header.ID && m.Header.ResourceVersion == "3" {
				if st := edge.Hub.Stats(); st.Outbox.Rows != 0 {
					return fmt.Errorf("outbox holds %d", st.Outbox.Rows)
				}
				return nil
			}
		}
		return fmt.Errorf("no answer")
	})
}
