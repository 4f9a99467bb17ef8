package edgehub_test

import (
	"context"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/edgehub"
)

func Example() {
	// The cloud's side, to get a node certificate without a network (an edge uses certs.Join).
	ca, _ := certs.NewCA(certs.CAConfig{})
	auth, _ := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	tok, _ := auth.IssueToken(context.Background(), 0)
	key, _ := certs.GenerateKey()
	csr, _ := certs.NewNodeCSR("edge-1", key)
	nc, _ := auth.SignNodeCSR(context.Background(), csr, tok.String())
	cert, _ := certs.NewTLSCertificate(nc.ChainPEM, key)

	holder := certs.NewCertHolder(cert)
	eh, err := edgehub.New(edgehub.Config{
		URL:          "wss://cloud.example.com:10000/v1/hub",
		TLS:          certs.ClientTLSConfig(ca.Certificate(), "cloud.example.com", holder),
		OutboxPath:   "/var/lib/edgehive/outbox.db",
		NotifyGroups: []beehive.Group{beehive.GroupMeta},
		Rotation:     &edgehub.Rotation{Holder: holder},
	})
	if err != nil {
		panic(err)
	}
	hive, _ := beehive.New(beehive.Config{})
	_ = hive.Add(eh) // with "meta" and the other edge modules; then hive.Run(ctx)
	// Output:
}
