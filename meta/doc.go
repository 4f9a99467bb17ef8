// Package meta is the edge's memory: a SQLite store of the resources the cloud sent (pods, config maps,
// secrets, services, nodes, devices, …) and the beehive module that keeps it, KubeEdge's MetaManager
// made into a library. meta/metaserver serves the store as a read-only Kubernetes-style API.
//
// # The store
//
//	s, err := meta.Open(ctx, meta.Config{Path: "/var/lib/edgehive/meta.db"})
//	defer s.Close()
//	rev, err := s.Put(ctx, key, "42", podJSON)          // durable when it returns
//	obj, err := s.Get(ctx, key)                          // ErrNotFound if absent
//	res, err := s.List(ctx, meta.ListOptions{Kind: hub.KindPod, Namespace: "default", Selector: sel})
//	w, err := s.Watch(ctx, meta.WatchOptions{Kind: hub.KindPod, Since: res.Revision})
//	for ev := range w.Events() { … }                     // then w.Err() says why it ended
//	d, err := s.Digest(ctx)                              // hub.DigestSource, for resync
//
// Objects are named by hub.Key, "<namespace>/<kind>/<name>" (cluster-scoped kinds have an empty
// namespace: "/node/edge-1"), and stored with their kind, namespace, name, the resourceVersion the cloud
// gave them, the store revision that wrote them, and their JSON.
//
// Guarantees of the SQLite store (SQLiteStore):
//
//   - Durability: Put and Delete return after their transaction has committed (WAL, synchronous=FULL by
//     default: a returned write survives a power cut; SyncNormal: it survives a crash of the process).
//     A SIGKILL test checks that every reported write is present after reopening and that
//     PRAGMA integrity_check is ok.
//   - One writer: a single goroutine owns the write connection and groups the writes that queue while
//     it commits (up to Config.MaxBatch) into one transaction; each caller is answered when the
//     transaction holding its write commits. A write whose context ends may still commit later.
//   - Versions: a write whose resourceVersion is older than the held one fails with ErrStale and changes
//     nothing; the same version again is a no-op. Versions compare as numbers when both are decimal
//     integers, else any difference counts as newer (CompareVersions). Deletes leave no tombstone: the
//     hub delivers the versions of one key in order, so a stale write after a delete does not arrive.
//   - Revisions: every committed change takes the next value of one store-wide counter, kept in the file
//     (it never goes back, also after deletes and restarts; a new store starts at 1). List returns the
//     revision of its read snapshot; Watch(Since: r) delivers every change after r, in order. The store
//     keeps the last Config.WatchHistory events in memory; a watch that starts before them (or before
//     the process started) fails with ErrExpired: list again.
//   - Watchers never slow the writer: each has a bounded buffer (Config.WatchBuffer); a watcher that
//     lets it fill is dropped, its channel closed and Err returning ErrWatcherTooSlow.
//   - Bad input changes nothing and is a typed error: a malformed key or a kind that is neither
//     hub.Kind.Known nor in Config.ExtraKinds (ErrBadKey), a value that is not a JSON object
//     (ErrBadValue), a value over Config.MaxValueBytes, 1.5 MiB by default (ErrTooLarge).
//   - SQLite errors are classified by code (internal/sqlitedb): errors.Is(err, sqlitedb.ErrFull) etc.
//
// MemStore is the same Store in memory (no durability), for tests and programs that need no file.
// metatest.RunStoreConformance (package meta/metatest) is the behaviour every Store must have, as one
// test suite run against both; the meta package itself does not import testing.
//
// # The module
//
// NewModule(ModuleConfig{Store: s}) is the beehive module "meta" (group beehive.GroupMeta). Its message
// contract:
//
//   - OpInsert, OpUpdate, OpPatch, OpDelete from the edge hub: Router.Resource is the key,
//     Header.ResourceVersion the version (if empty, metadata.resourceVersion of the content), Content the
//     object's JSON as []byte (string and json.RawMessage are accepted; a delete's content may be nil).
//     OpPatch's content is an RFC 7386 JSON merge patch applied to the held object (ErrNotFound if none
//     is held); it must carry its new version (header, or metadata.resourceVersion in the patch), else
//     it counts as a repeat of the held version. Writes of one key are applied in order; writes of
//     different keys run concurrently and share transactions.
//     A sync request (SendSync) is answered only after the commit, with Respond(req, nil): that response
//     is the hub's acknowledgement. A stale or repeated version and the delete of a missing key are
//     acknowledged too (the edge holds the newest). Everything else is answered with RespondError, so the
//     hub does not acknowledge: bad input (ErrBadKey, ErrBadValue, ErrTooLarge; permanent, a hub may
//     nack it) and store failures (disk full, ErrClosed; transient, the cloud resends).
//   - OpQuery (SendSync only). Resource "<ns>/<kind>/<name>" gets one object: the response Content is its
//     JSON ([]byte). Resource "<ns>/<kind>/" (empty name) lists the kind in a namespace, and "/<kind>/"
//     in every namespace (or the cluster-scoped objects of a cluster-scoped kind); the request Content
//     may be a label selector string ("app=web"); the response Content is a JSON array of the objects
//     ([]byte). See ParseQuery. A malformed query is answered with ErrBadQuery.
//   - A get of an object the store lacks: while the cloud is connected the module asks it, by
//     SendSync(OpQuery, same Resource, group hub) to ModuleConfig.HubModule ("edgehub"), with
//     CloudTimeout. The hub may answer that SendSync with the object's JSON ([]byte), or acknowledge it
//     with empty content and deliver the cloud's answer later as an OpResponse (Content: the object,
//     Header.ResourceVersion: its version) or OpError message to "meta" with Header.ParentID = the
//     query's ID, within the same CloudTimeout (hub/edgehub does the latter). Without a header version,
//     metadata.resourceVersion is used. The answer is stored, then returned. Offline, or when the cloud
//     cannot give it, the query is answered with an error wrapping ErrNotFound, and also ErrOffline when
//     offline. Lists are always answered locally.
//   - OpCloudConnected and OpCloudDisconnected (no content), sent by the edge hub to "meta" or to
//     beehive.GroupMeta whenever the link comes up or goes down, set what the module believes; it starts
//     disconnected.
//   - The edge hub's resync uses the Store directly as a hub.DigestSource.
//
// Edged and other readers at start may simply call Store.List (for example, Kind: hub.KindPod).
//
// # Not built
//
// No strategic merge patch or JSON patch (OpPatch is a JSON merge patch); no tombstones; the watch
// history is in memory only; label selectors on a watch filter each event by the object's new labels
// (an object that stops matching yields no DELETED event).
package meta
