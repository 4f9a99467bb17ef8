package edgehub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

// TestSessionResumption: with SessionResumption, an edge reconnecting to a restarted cloud that kept
// its ticket key resumes its TLS session; without it, it runs a full handshake. The resumed
// connection still carries the node's identity.
func TestSessionResumption(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprint("resume=", resume), func(t *testing.T) {
			pki := hubtest.NewPKI(t)
			tc := pki.ServerTLS.Clone()
			tc.SetSessionTicketKeys([][32]byte{{1, 2, 3}})
			first := hubtest.StartCloud(t, pki, cloudhub.Config{TLS: tc})
			edge := hubtest.StartEdge(t, edgehub.Config{URL: first.URL, TLS: pki.NodeTLS(t, "edge-1"), OutboxRelaxedSync: true, SessionResumption: resume}, nil)
			hubtest.Wait(t, 10*time.Second, "connected", func() error {
				if !edge.Hub.Connected() || first.Hub.Stats().ConnectedNodes != 1 {
					return fmt.Errorf("not connected")
				}
				return nil
			})
			time.Sleep(100 * time.Millisecond) // the ticket comes after the handshake
			first.Hive.Stop()
			second := hubtest.StartCloud(t, pki, cloudhub.Config{TLS: tc, Addr: first.Addr})
			hubtest.Wait(t, 10*time.Second, "reconnected", func() error {
				if st := second.Hub.Stats(); st.ConnectedNodes != 1 || st.Resyncs != 1 {
					return fmt.Errorf("stats %+v", st)
				}
				return nil
			})
			want := uint64(0)
			if resume {
				want = 1
			}
			if st := second.Hub.Stats(); st.Resumed != want {
				t.Fatalf("Resumed %d, want %d", st.Resumed, want)
			}
		})
	}
}
