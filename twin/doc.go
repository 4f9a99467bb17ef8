// Package twin holds edgehive's device twins: a pure model with its version rules, KubeEdge's MQTT
// payloads and topics, and a Store on one SQLite file that firmware can embed alone (it imports no
// beehive, network, Kubernetes or gRPC package).
//
// # Model
//
// A Device ("namespace/name", or an older single-segment id) has attributes, a state (online, offline,
// unknown) and Twins. A Twin has a Desired value (KubeEdge's "expected", from the cloud) and a Reported
// value (KubeEdge's "actual", from the device); each side has a timestamp and a Version, KubeEdge's
// TwinVersion {Cloud, Edge}: the cloud's count of its changes to that side and the edge's count of its own.
// The twin's type (metadata.type: string, int, float, boolean, …) constrains both values. As in KubeEdge,
// the empty string means "no value". The delta of a device is its twins whose desired value is set and
// differs from the reported one (Delta, DeltaValues).
//
// # Version rules
//
// Apply(twin, update) decides every write; it is a pure function tested as a table. d is the twin's
// Desired.Version, r its Reported.Version, v the version a cloud update carries.
//
//	| source | condition                              | outcome   | desired              | reported            |
//	|--------|----------------------------------------|-----------|----------------------|---------------------|
//	| cloud  | v.Cloud < d.Cloud                      | Stale     | kept                 | kept                |
//	| cloud  | v.Cloud >= d.Cloud and v.Edge < d.Edge | Conflict  | kept (the edge wins) | kept                |
//	| cloud  | v == d and the same value              | Unchanged | kept                 | kept                |
//	| cloud  | otherwise                              | Applied   | value, ts; d = v     | kept                |
//	| edge   | the same value as desired              | Unchanged | kept                 | kept                |
//	| edge   | otherwise                              | Applied   | value, ts; d.Edge+1  | kept                |
//	| device | always                                 | Applied   | kept                 | value, ts; r.Edge+1 |
//	| any    | the value does not fit the twin's type | error     | kept                 | kept                |
//
// (cloud = FromCloud, edge = FromEdge, device = FromDevice; ts is the update's timestamp.)
//
// What the rows mean, and where they come from (KubeEdge's devicetwin, dealVersion and dealTwinCompare):
//
//   - A cloud update older than what the edge holds (a redelivery, or a message overtaken by a newer one)
//     is ignored: Stale.
//   - A desired value set on the edge bumps d.Edge. A cloud update that has not seen it (its v.Edge is
//     lower) loses: Conflict. The edge keeps its value and the caller sends it to the cloud, which answers
//     with a new version that includes the edge's count. KubeEdge does the same (it rejects the sync and
//     sends its twin back on edge_updated).
//   - Otherwise the cloud wins and the edge adopts the cloud's version.
//   - Reported values are the device's alone: they never change the desired value, are never stale
//     (the latest arrival wins, the store's clock stamps them), and the cloud never writes them.
//   - May the edge set a desired value? KubeEdge lets any MQTT client of the edge publish "expected" on
//     $hw/events/device/{id}/twin/update and counts it as an edge change; we do the same (FromEdge,
//     Store.SetDesiredLocal, TwinUpdate.Changes), so that an application or a knob on the device can
//     change the target while the cloud is away. Unlike KubeEdge, re-sending the same desired value is
//     Unchanged and does not bump d.Edge, so it cannot cause a needless conflict.
//
// # MQTT payloads and topics
//
// messages.go has KubeEdge's JSON payloads (TwinUpdate, TwinResult, TwinDelta, TwinDocument, Get,
// StateUpdate, StateUpdateResult, MembershipGetResult, ErrorResult) with KubeEdge's field names; Encode
// writes them and the Decode functions read them. A decoder refuses input over MaxPayloadSize with
// ErrTooLarge before parsing, returns ErrBadPayload for anything malformed and never panics (fuzzed).
// ParseTopic and BuildTopic convert between topics and (device id or node, Kind), accepting both
// $hw/events/device/{namespace}/{name}/… and the older $hw/events/device/{id}/….
//
// # Store
//
//	s, err := twin.Open(ctx, "/var/lib/edgehive/twin.db", twin.Config{})
//	defer s.Close()
//	err = s.PutDevice(ctx, twin.Device{Namespace: "default", Name: "thermostat",
//		Twins: []twin.Twin{{Name: "temperature", Type: "int"}}})
//	res, err := s.SetDesired(ctx, "default/thermostat", "temperature", "21", twin.Version{Cloud: 1})
//	res, err = s.SetReported(ctx, "default/thermostat", "temperature", "19")
//	delta, err := s.Delta(ctx, "default/thermostat") // [temperature: desired 21, reported 19]
//	results, err := s.Update(ctx, changes)         // many twins of many devices, one transaction
//	w, err := s.Watch(ctx)                         // committed changes, in order, until ctx ends
//
// What the Store guarantees:
//
//   - A write that returned nil has committed; with the default DurabilityFull it survives the process
//     being killed (tested with SIGKILL of a child process) and a power loss. DurabilityNormal keeps the
//     first guarantee and trades the second for speed.
//   - Update is atomic: all of its changes or none (an unknown device, an invalid change or a value that
//     does not fit its type fails the whole batch). Stale, Conflict and Unchanged are outcomes, not errors.
//   - Writes are serialized and each is one SQLite transaction; reads run concurrently on their own
//     connections and see committed states only (GetDevice and ListDevices read one snapshot).
//   - Watchers see every committed change, in commit order, numbered without gaps; they never slow
//     writers down: one that falls Config.WatchBuffer events behind is ended with ErrWatchOverflow. A
//     watcher ends when its context ends or the store closes, leaving no goroutine behind.
//   - Errors are values (ErrNotFound, ErrClosed, ErrInvalid, …), compared with errors.Is. ErrorCode maps
//     them to KubeEdge's result codes (400, 404, 500).
//
// The file layout (tables device and twin, schema version 1 in PRAGMA user_version) belongs to the
// package; a newer file is refused rather than misread.
package twin
