// Package cloudhub is the cloud's end of the edgehive link: a beehive module (Name "cloudhub", Group
// beehive.GroupHub) that serves edge nodes over WebSocket (gorilla/websocket) on TLS 1.3 with mutual
// TLS, delivers downstream objects reliably, and hands upstream reports to the cloud's controllers. It
// speaks the wire format, reliability contract and resync protocol of package hub (see hub's doc).
//
// # Use
//
//	ca, _ := certs.LoadOrCreateCA("/var/lib/edgehive/ca", certs.CAConfig{})
//	auth, _ := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
//	srv, _ := auth.IssueServerCert(certs.ServerCertConfig{DNSNames: []string{"cloud.example.com"}})
//	ch, err := cloudhub.New(cloudhub.Config{
//		Addr:         ":10000",
//		TLS:          certs.ServerTLSConfig(ca.Certificate(), srv, auth.Denylist()),
//		Denylist:     auth.Denylist(),      // a certs.Notifier: denied nodes are cut at once
//		Authority:    auth,                 // certificate rotation over the link
//		DesiredState: edgeController,       // hub.DesiredState: resync answers and queries
//		Bindings:     hub.Bindings{Pods: podIndex, Devices: deviceIndex},
//	})
//	hive.Add(ch) // plus the controllers, in group beehive.GroupController
//
// # Message contract with local modules
//
// Downstream (a controller → an edge node): Send (or SendSync, answered once the frame is queued) to
// module "cloudhub" a message with
//
//	Router.Resource  = cloudhub.NodeResource(node, key)  // "node/<node>/<namespace>/<kind>/<name>"
//	Router.Operation = hub.OpInsert | OpUpdate | OpPatch | OpDelete  (reliable: pending until acked)
//	                   or any other operation but the protocol ones (best effort: sent only if the
//	                   node is connected, never resent; OpResponse to an edge's query, say)
//	Router.Group     = the group the frame is for on the edge (default beehive.GroupMeta)
//	Header.ResourceVersion = the object's resourceVersion
//	Content          = the object's bytes ([]byte, json.RawMessage, string, or a value encoded as JSON)
//
// Upstream (an edge node → the cloud): every accepted frame becomes a beehive message sent to
// Config.UpstreamModule, or else to every module of Config.UpstreamGroup (default
// beehive.GroupController), with Router.Resource = "node/<node>/<resource as the edge sent it>" (parse it
// with ParseNodeResource when the rest is a key) — the node comes from the connection's certificate,
// never from the frame — and the edge's operation, Header.ID, ResourceVersion and Content ([]byte).
// The frame is acknowledged to the edge once the message is in the receiving mailbox(es): delivery
// upstream is at least once (a lost ack means the edge sends it again), so upstream handlers must be
// idempotent (a status write is).
//
// # Guarantees
//
//   - Identity: the node is the CommonName of its verified client certificate (certs.VerifyNode), checked
//     at the handshake (ServerTLSConfig) and again after it. A node denied later (Denylist, watched when
//     it is a certs.Notifier) has its open connection closed at once.
//   - One session per node: a new connection of a node closes its previous one (Stats.Replaced).
//   - Downstream, per node and key: only the newest unacknowledged version is kept (a newer one replaces
//     it, and the older one's late ack matches nothing); versions of a key go out in the order the cloud
//     hub received them and never older-after-newer on a connection; a frame is resent with the same ID
//     until the edge acknowledges it (OpAck with ParentID = its ID), after ResendInitial, doubling up to
//     ResendMax, and at once on a new connection. An OpNack drops it for good. A node's backlog is
//     bounded by its number of keys.
//   - Resync: on each connection the cloud waits for the edge's OpResync (at most HandshakeTimeout), then
//     with a DesiredState sends hub.Resync(digest) — only the differences, which replace the node's
//     pending frames — or without one the pending frames, then OpResyncDone.
//   - Upstream writes (insert, update, patch, delete) pass hub.AuthorizeWrite with Config.Bindings; a
//     refused one is answered with OpNack and the reason, counted (Stats.Refused), never delivered.
//     OpQuery is answered from DesiredState when there is one. OpCertRotate is answered with
//     Authority.RenewNodeCert for the connection's node.
//   - Limits: MaxNodes connected nodes (more get 503); a token bucket per node (RatePerNode,
//     BurstPerNode) slows a node down by not reading its connection; MaxFrameSize (SetReadLimit and
//     hub.Decode: a larger frame closes the connection); HandshakeTimeout covers TLS and the upgrade, so
//     a client that opens TCP and sends nothing is cut at it; WriteTimeout bounds every write;
//     MaxHandshakes bounds the TLS handshakes in progress; more connections wait in a bounded
//     first-come queue for at most HandshakeTimeout/2 and are closed unserved past it
//     (Stats.ShedHandshakes), so that a reconnect storm does not start more handshakes than the CPUs
//     finish within the clients' timeout (examples/edgemark measured why).
//   - Keepalive: a ping when nothing was written for KeepaliveInterval; a connection with nothing read for
//     two intervals is closed as half-open.
//   - Run returns when its context ends, after closing every connection and waiting for every goroutine.
//
// Stats returns the counters: connected nodes, pending frames, frames and bytes in and out, resends,
// acks, nacks, refused writes and connections, throttling, resync objects and bytes, rotations.
//
// # Not built yet, and traps
//
//   - Pending frames live in memory: a new CloudHub (a restart of the process) starts empty, and only the
//     resync from DesiredState brings its edges up to date. Without a DesiredState, updates pending at a
//     restart are lost; configure one in production.
//   - With a DesiredState, the producer must update it before it sends the message for a change (the
//     edge controller updates its informer cache, then sends). The cloud hub checks each reliable
//     downstream message against DesiredState.Get and drops it as stale (Stats.Stale) when the desired
//     version differs (or, for a delete, the object is desired again): a newer message is then on its
//     way, or a resync already sent the newer version. This keeps a key's versions in order across a
//     resync that reads DesiredState while older messages still wait in the mailbox, at the cost of one
//     Get per message. A producer that sends without updating DesiredState has its messages dropped.
//   - No horizontal scaling: one CloudHub owns its nodes; several cloud processes need a router in front
//     and a shared pending store, which are not built.
//   - Upstream delivery is acknowledged on mailbox entry, not after the controller's write to the API
//     server; a crash of the cloud in between loses that report (the edge's next status replaces it).
package cloudhub
