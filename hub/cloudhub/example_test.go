package cloudhub_test

import (
	"context"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
)

func Example() {
	ca, _ := certs.NewCA(certs.CAConfig{})
	auth, _ := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	srv, _ := auth.IssueServerCert(certs.ServerCertConfig{DNSNames: []string{"cloud.example.com"}})
	ch, err := cloudhub.New(cloudhub.Config{
		Addr:         ":10000",
		TLS:          certs.ServerTLSConfig(ca.Certificate(), srv, auth.Denylist()),
		Denylist:     auth.Denylist(),
		Authority:    auth,
		DesiredState: hub.NewMemState(),
	})
	if err != nil {
		panic(err)
	}
	hive, _ := beehive.New(beehive.Config{})
	_ = hive.Add(ch)
	// A controller sends an object to node edge-1:
	_ = func(ctx context.Context, c *beehive.Context) error {
		key := hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "web"}
		m := c.NewMessage(beehive.GroupMeta, hub.OpUpdate, cloudhub.NodeResource("edge-1", key), []byte(`{"kind":"Pod"}`))
		m.Header.ResourceVersion = "42"
		return c.Send(ctx, cloudhub.Name, m)
	}
	// Output:
}
