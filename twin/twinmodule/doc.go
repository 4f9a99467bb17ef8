// Package twinmodule is the edge's device twin module, KubeEdge's DeviceTwin as a beehive module: it
// keeps devices and their twins in a twin.Store, speaks KubeEdge's MQTT device contract through the
// eventbus module (so that KubeEdge mappers work unchanged), takes desired values and device
// membership from the cloud through the edge hub, and sends reported values and device states back.
//
// It talks to the other modules by beehive messages only: it imports the light contract packages
// (eventbus/api, hub, controller/api), never the eventbus, the MQTT client or the edge hub (a test
// checks its go list -deps).
//
// # Use
//
//	store, err := twin.Open(ctx, "/var/lib/edgehive/twin.db", twin.Config{})
//	tm, err := twinmodule.New(twinmodule.Config{Store: store, NodeName: "edge-1"})
//	hive.Add(bus)   // eventbus: routes device topics to beehive.GroupTwin by default
//	hive.Add(tm)    // name "twin", group beehive.GroupTwin
//	hive.Add(hub)   // edgehub: Routes[beehive.GroupTwin] = "twin", NotifyGroups includes GroupTwin
//
// The module subscribes to nothing itself: the eventbus's default routes (api.DeviceFilters) deliver
// the device and node topics to the twin group. The caller opens and closes the store; the module is
// meant to be its only writer.
//
// # MQTT topics ({id} is "namespace/name", or an older single-segment id)
//
//	request (mapper → edge)                   answer (edge → mapper)                              payload in → out
//	$hw/events/device/{id}/twin/update        …/twin/update/result                                twin.TwinUpdate → twin.TwinResult
//	                                          …/twin/update/document (if something changed)       twin.TwinDocument
//	                                          …/twin/update/delta (if desired ≠ reported)         twin.TwinDelta
//	$hw/events/device/{id}/twin/get           …/twin/get/result                                   twin.Get → twin.TwinResult
//	$hw/events/device/{id}/state/update       …/state/update/result                               twin.StateUpdate → twin.StateUpdateResult
//	$hw/events/node/{node}/membership/get     …/membership/get/result                             twin.Get → twin.MembershipGetResult
//
// twin/update: an "expected" value is a desired value set on the edge (twin.FromEdge), an "actual" value
// a reported one (twin.FromDevice); all the twins of one message are applied in one transaction, by the
// version rules of package twin. A twin the device names that does not exist is created (optional, of
// the type in its metadata). The result carries the named twins as they now are; the document each
// changed twin before ("last", null if new) and after ("current"); the delta, published after every
// change that leaves one, maps each twin whose desired value differs from the reported one to the
// desired value. Every answer echoes the request's event_id and carries the time in milliseconds.
//
// Errors are answered on the answer topic as {event_id, timestamp, code, reason} (twin.ErrorResult),
// with KubeEdge's codes: 404 for an unknown device (or a membership request for another node than
// Config.NodeName), 400 for a payload that is not JSON, has fields of the wrong JSON type, no "twin"
// object, a bad twin name or type, a value that does not fit the twin's type or a bad state, 500 when
// the store fails. The event_id is echoed whenever it can be read. A refused update writes nothing.
// Messages on other topics (results, deltas, documents, twin/cloud_updated) are ignored and counted.
// The eventbus drops payloads that are not JSON before they reach the module unless its AcceptNonJSON
// is set; the module answers them with 400 when they do reach it.
//
// Older single-segment ids (KubeEdge before 1.16 named a device by its name): a request on
// $hw/events/device/{name}/… for which the store has no device of that id goes to the one device named
// {name} in any namespace, if there is exactly one; its answers are published on the request's topic
// form. Deltas and documents caused by the cloud go on the namespace/name topics only.
//
// # Cloud → edge (from the edge hub)
//
// The edge hub delivers the cloud's objects as messages with Operation OpInsert, OpUpdate or OpDelete,
// Resource the hub key, and Content the object's JSON ([]byte, string or json.RawMessage):
//
//	<ns>/device/<name>        a devices.kubeedge.io/v1beta1 Device: spec.nodeName, spec.deviceModelRef,
//	                          spec.properties[].name and .desired.value (.desired.metadata.type),
//	                          metadata.generation
//	<ns>/devicemodel/<name>   a v1beta1 DeviceModel: spec.properties[].name and .type (INT, FLOAT,
//	                          DOUBLE, BOOLEAN, STRING, BYTES)
//	/membership/<node>        controller/api.Membership {node, devices: ["ns/name", …]}
//
// A Device becomes a device with one twin per spec property (plus the optional twins that devices created
// over MQTT); twins of properties removed from the spec are deleted. A twin's type is the desired value's
// metadata.type, else the DeviceModel's property type (if the model arrived first; models are kept in
// memory), else the type it had; a type that the stored values do not fit is refused (logged). Then
// each desired value is applied as a cloud write, with the cloud's version taken from
// metadata.generation (which Kubernetes bumps on every spec change): a generation already applied is
// skipped, so a resend never undoes a desired value set on the edge since; a newer generation re-asserts
// every desired value of the spec and wins over edge values. Without a generation, a value different
// from the one held wins. A property without desired value leaves the twin's desired value alone; a
// desired value that does not fit the type is skipped (logged). When a desired value changed, the
// document and (if not empty) the delta are published to the device.
//
// A Device whose spec.nodeName names another node than Config.NodeName is removed (it moved away);
// OpDelete of a Device removes it; a Membership removes every device it does not list (devices new to
// the node come as Device objects). DeviceModel deletes forget the model; Membership deletes are ignored.
//
// When such a message is a sync request (Header.Sync), the module answers after the store has committed
// (Respond with nil content: the hub's acknowledgement), or with RespondError: ErrBadObject (a bad key,
// content that is not JSON, a kind the module does not handle, a Membership of another node), or the
// store's error.
//
// # Edge → cloud (to the edge hub)
//
// After a device reports values, its state changes or a cloud write applied (or conflicted), the module
// sends Config.EdgeHub ("edgehub") a SendSync request with Operation OpUpdate, Group beehive.GroupTwin,
// Resource "<ns>/devicestatus/<name>" and Content the JSON ([]byte) of controller/api.DeviceStatus,
// KubeEdge's v1beta1 DeviceStatus shape:
//
//	{"twins":[{"propertyName":"target",
//	           "reported":{"value":"22","metadata":{"timestamp":"1700000000000","type":"int"}},
//	           "observedDesired":{"value":"22","metadata":{"timestamp":"1699999990000","type":"int"}}}],
//	 "state":"online","lastOnlineTime":"2026-11-22T04:00:00Z"}
//
// Twins lists every twin with a reported or desired value (timestamps in milliseconds, as KubeEdge).
// Devices with an older single-segment id (no namespace) are not reported: they have no Device object.
//
// Statuses are coalesced per device: a device is marked when it changes and sent once, with its state
// as the store holds it when sending, however often it changed meanwhile (Config.CoalesceDelay gathers a
// burst). A status is done when the edge hub answers without error (the edge hub answers once the
// status is in its durable outbox). One that is not accepted (error, timeout after StatusTimeout, edge
// hub not running) stays marked and is sent again every RetryInterval and at once when an
// OpCloudConnected message arrives: the edge hub broadcasts OpCloudConnected and OpCloudDisconnected
// ("cloud-connected", "cloud-disconnected", the same strings as hub/edgehub's) to its NotifyGroups;
// include beehive.GroupTwin there. Statuses do not wait for the cloud: the edge hub's outbox does.
// DisableStatus turns all of this off.
//
// # Guarantees
//
//   - Messages are handled in mailbox order, so the answers to one device's requests are published in
//     the order of the requests (the eventbus keeps one module's publishes in order). twin/update
//     messages queued back to back (up to 256) are applied in one store transaction, then answered one
//     by one; if that transaction fails, each is applied on its own, so a bad message fails alone.
//   - A Module value runs in one hive at a time.
//   - A cloud object is acknowledged only after the store committed it; applying it twice changes
//     nothing the second time (redeliveries are harmless).
//   - Device statuses are at least once: every change is followed by a status sent after it, until
//     the edge hub accepts one; marks live in memory, so a restart of the process before that loses
//     the mark (not the data: the next change of the device sends it all).
//   - Nothing a device publishes makes the module panic or write part of an update.
//   - Run returns when its context ends and leaves no goroutine behind; it does not close the store.
//
// # Not built
//
// KubeEdge's $hw/events/node/{node}/membership/updated and …/twin/cloud_updated notifications, device
// attributes from the cloud, twin deletion over MQTT, durable status marks across restarts, and a
// per-property "last value from the cloud" (a new Device generation re-asserts all its desired values).
package twinmodule
