package edgehub_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

// TestCertRotation: a certificate due for renewal is renewed over the link; once the old serial is
// denied, the edge reconnects with the new certificate — also with SessionResumption, whose cached
// session (made with the old certificate) the rotation must drop.
func TestCertRotation(t *testing.T) {
	for _, resume := range []bool{false, true} {
		t.Run(fmt.Sprint("resume=", resume), func(t *testing.T) { testCertRotation(t, resume) })
	}
}

func testCertRotation(t *testing.T, resume bool) {
	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	tlsConf, holder := pki.NodeTLSHolder(t, node)
	old := holder.Certificate().Leaf
	var saved atomic.Bool
	now := func() time.Time {
		if saved.Load() {
			return time.Now()
		}
		return time.Now().Add(300 * 24 * time.Hour) // past 80 % of a year
	}
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: tlsConf, SessionResumption: resume, Rotation: &edgehub.Rotation{
		Holder: holder, Check: 50 * time.Millisecond, Now: now,
		Save: func(chainPEM, keyPEM []byte) error {
			if _, err := certs.ParseKeyPEM(keyPEM); err != nil {
				return err
			}
			saved.Store(true)
			return nil
		},
	}}, nil)
	hubtest.Wait(t, 10*time.Second, "rotated", func() error {
		if edge.Hub.Stats().Rotations != 1 || cloud.Hub.Stats().Rotations != 1 {
			return fmt.Errorf("edge %d, cloud %d rotations", edge.Hub.Stats().Rotations, cloud.Hub.Stats().Rotations)
		}
		return nil
	})
	cur := holder.Certificate().Leaf
	if cur.SerialNumber.Cmp(old.SerialNumber) == 0 || cur.Subject.CommonName != node.CommonName() {
		t.Fatalf("not a new certificate for the node: %v", cur.Subject)
	}
	if err := pki.Deny.DenySerial(context.Background(), old.SerialNumber); err != nil {
		t.Fatal(err)
	}
	hubtest.Wait(t, 10*time.Second, "reconnected with the new certificate", func() error {
		if st := cloud.Hub.Stats(); st.Connects < 2 || st.ConnectedNodes != 1 || !edge.Hub.Connected() {
			return fmt.Errorf("cloud %+v", st)
		}
		return nil
	})
}
