// Package edgehive is a Go SDK of composable edge–cloud modules that re-creates the architecture of
// KubeEdge as importable packages. This package holds no code: it is the map of the SDK.
//
// # The packages
//
//	beehive              the module framework: a Hive runs Modules that talk only by Messages
//	hub                  the cloud↔edge contract: envelope, resource keys, operations, codec
//	hub/cloudhub         the cloud end of the link: mTLS WebSocket server, per-node reliable delivery
//	hub/edgehub          the edge end: dialer with backoff, durable outbox, resync
//	meta                 the edge's SQLite cache of what the cloud sent, and its module
//	meta/metaserver      a local, read-only Kubernetes-style API over that cache
//	twin                 device twins (desired/reported, versions, delta) on SQLite, embeddable alone
//	eventbus             the MQTT ↔ beehive bridge, with an embedded broker or mosquitto
//	edged                pods on the edge through CRI (containerd)
//	controller           the cloud side against a Kubernetes API server: pods, config, nodes, devices
//	examples/cloud, examples/edge, examples/mapper
//	                     reference mains: a KubeEdge-style cloud/edge pair and a device simulator
//	internal/testenv     starts the real components for tests: mosquitto, containerd, kube-apiserver
//
// The README's status table says which of these are built today.
//
// # Assembling a process
//
// A cloud or edge process is a beehive.Hive with the modules it needs, each a value built from its own
// config struct, and nothing else: modules never call each other, they exchange beehive.Messages, so a
// vendor can leave one out or put one of its own in its place.
//
//	hive, _ := beehive.New(beehive.Config{})
//	// edge: hive.Add(edgehub.New(...)); hive.Add(meta.NewModule(...)); hive.Add(edged.New(...)); ...
//	// cloud: hive.Add(cloudhub.New(...)); hive.Add(controller.NewEdgeController(...)); ...
//	err := hive.Run(ctx) // until ctx ends and every module has stopped
//
// Firmware that only needs device twins imports twin's store alone: it has no beehive, network,
// Kubernetes or gRPC dependency.
package edgehive
