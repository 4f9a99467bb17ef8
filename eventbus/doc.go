// Package eventbus is the edge's MQTT ↔ beehive bridge, KubeEdge's EventBus as a beehive module: an
// MQTT client (paho) that delivers device and application messages from the broker to modules, and
// publishes what modules ask it to. The broker is the embedded one of package eventbus/broker by
// default, or any MQTT 3.1.1 broker (mosquitto) by setting Config.BrokerURL.
//
// # Use
//
//	bus, err := eventbus.New(eventbus.Config{})   // tcp://127.0.0.1:1883, KubeEdge's topics
//	hive.Add(bus)                                 // with the twin module, the edge hub, …
//
// Other modules import the light contract package eventbus/api, not this one (which links the MQTT
// client): it defines the operations, the Publish and Subscription contents, the errors and the topic
// helpers. The message shapes are documented there.
//
// # Routing (MQTT → modules)
//
// The bus subscribes at QoS 1 (Config.QoS) and routes each message by its topic:
//
//	$hw/events/device/+/twin/+              twin   (Config.Twin, default group beehive.GroupTwin)
//	$hw/events/device/+/+/twin/+            twin   namespace/name device ids (KubeEdge 1.16+)
//	$hw/events/device/+/state/update        twin
//	$hw/events/device/+/+/state/update      twin
//	$hw/events/node/+/membership/get        twin
//	$hw/events/upload/#                     hub    (Config.Hub, default group beehive.GroupHub)
//	SYS/dis/upload_records                  hub
//	+/user/#                                hub
//	Config.Routes, runtime subscriptions    their own targets
//
// twin/+ covers twin/update, twin/get and twin/cloud_updated; the topics the twin module publishes in
// answer (…/twin/update/result, …/twin/get/result, …/membership/get/result, …/delta, …/document) are
// deeper and do not come back to it. The lists are Config.DeviceTopics and Config.HubTopics.
// A message goes to every distinct target whose filter matches, once each, as described in package
// api: Router.Resource is the topic, Content the payload ([]byte).
//
// # Publishing (modules → MQTT) and subscribing at run time
//
// See package api: OpPublish with a []byte, string or api.Publish content; OpSubscribe and
// OpUnsubscribe with a topic filter. Sync requests are answered (errors from package api); async ones
// are counted in Stats.
//
// # Guarantees
//
//   - Reconnection: when the broker goes away the bus reconnects by itself, with exponential backoff
//     and jitter between Config.ReconnectMin and ReconnectMax, until its context ends; the delay starts
//     over after a connection that lasted ten times ReconnectMin or more. Stopping is immediate: no backoff
//     or connection attempt outlives Run by more than ConnectTimeout, and no goroutine outlives it.
//   - Subscriptions survive reconnects: the session is persistent (CleanSession=false, so the broker
//     keeps QoS 1 messages for the bus while it is away) and the bus subscribes again on every
//     connection (so a broker that restarted without its sessions is covered too). Runtime
//     subscriptions also survive restarts of the module.
//   - No overlapping subscriptions: a filter covered by another one (say $hw/events/device/+/twin/+ by
//     a runtime $hw/events/device/#) is not subscribed at the broker, so that brokers which deliver
//     once per matching subscription (mosquitto) do not deliver a message twice.
//   - A slow module never stalls the MQTT client for long: a delivery waits at most DeliverTimeout
//     for room in a full mailbox, then the message is dropped and counted (Stats.Dropped).
//   - Input from devices is checked before anything else: messages over MaxPayloadSize, with an invalid
//     topic, or with a non-JSON payload on a device topic are dropped and counted. Nothing a device
//     sends can make the bus panic (the topic code is fuzzed: api.FuzzTopicMatch).
//   - Publishes: QoS 1 by default. A sync publish is answered when the broker acknowledges it (QoS 1,
//     2) or it is written (QoS 0), or with an error (ErrNotConnected at once while disconnected,
//     ErrPublishTimeout after PublishTimeout, when the message may still arrive later: at least once).
//     Async QoS 1 and 2 publishes made while disconnected wait in a bounded queue in memory
//     (OfflineQueue, oldest dropped first; what is left when the module stops is dropped and counted)
//     and are sent in order before anything newer on reconnect; async QoS 0 ones are dropped.
//     Publishes from one module reach the broker in the order they were sent.
//
// # Limits
//
// MQTT 3.1.1 has no "no local" option: a module that publishes on a topic the bus subscribes to gets
// its message back, like any other subscriber would. Duplicates are possible at QoS 1 (as MQTT
// allows): for instance the embedded broker may send a retained message twice to a client that
// subscribes just as it is published. The client id (Config.ClientID) keys the persistent session: two
// buses on one broker need two ids, and a bus restarted with its id receives what the broker queued
// for it, including messages on filters it no longer routes (dropped, counted in Stats.NoRoute).
package eventbus
