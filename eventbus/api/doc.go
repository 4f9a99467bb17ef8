// Package api is the message contract of the eventbus module: what other modules send to it and what
// it sends them. It imports only beehive and the standard library, so that a module (the twin module,
// the edge hub, a vendor's own) can talk to the eventbus without linking the MQTT client.
//
// # MQTT → modules
//
// Each MQTT message the bus receives is delivered to the module or group its topic is routed to (see
// package eventbus for the routing table) as a beehive.Message with
//
//	Router.Group     beehive.GroupBus
//	Router.Operation OpPublish                    (= beehive.OpPublish)
//	Router.Resource  the MQTT topic, e.g. "$hw/events/device/default/thermo-1/twin/update"
//	Content          the payload, []byte (shared: treat as read-only)
//
// Router.Source is the eventbus module's name (ModuleName by default).
//
// # Modules → MQTT
//
// A module publishes by sending the eventbus module a message with Operation OpPublish, Resource the
// topic and Content the payload: a []byte, a string, or a Publish (or *Publish) to choose the QoS and
// the retain flag. NewPublishMessage builds one. Sent with SendSync, the response arrives once the broker
// has acknowledged the message (QoS 1 and 2) or it was written (QoS 0), or carries the error
// (ErrNotConnected, ErrInvalidTopic, ErrPayloadTooLarge, ErrPublishTimeout, …; compare with errors.Is).
// Sent with Send, errors are counted by the bus, and QoS 1 and 2 messages published while the broker is
// unreachable are queued (bounded) and sent in order on reconnect.
//
// # Subscriptions at run time
//
// OpSubscribe and OpUnsubscribe with Resource an MQTT topic filter (wildcards + and # allowed) add or
// remove a route; Content is nil or a Subscription naming the target. Without a target, messages go to
// the requesting module. Send them with SendSync: the response comes once the broker has acknowledged
// the subscription, or at once if the bus is disconnected (the subscription is then made on connect).
// Subscriptions survive reconnects of the bus.
//
// # Topics
//
// Match, Covers, ValidTopic and ValidFilter implement MQTT 3.1.1 topic rules (section 4.7) as pure
// functions, including the rule that a filter starting with a wildcard does not match a topic starting
// with '$'. They never panic on any input.
package api
