package twinmodule_test

import (
	"context"
	"log"
	"path/filepath"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus"
	"github.com/edgehive/edgehive/twin"
	"github.com/edgehive/edgehive/twin/twinmodule"
)

// An edge node's device side: the eventbus routes KubeEdge's device topics to the twin group, where the
// twin module answers them from its store. (Without an "edgehub" module, device statuses wait and are
// retried; DisableStatus turns them off.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	store, err := twin.Open(ctx, filepath.Join("/tmp", "edgehive-example-twin.db"), twin.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	tm, err := twinmodule.New(twinmodule.Config{Store: store, NodeName: "edge-1", DisableStatus: true})
	if err != nil {
		log.Fatal(err)
	}
	bus, err := eventbus.New(eventbus.Config{BrokerURL: "tcp://127.0.0.1:1883"})
	if err != nil {
		log.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range []beehive.Module{bus, tm} {
		if err := hive.Add(m); err != nil {
			log.Fatal(err)
		}
	}
	_ = hive.Run(ctx) // until ctx ends
}
