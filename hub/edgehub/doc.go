// Package edgehub is the edge's end of the edgehive link: a beehive module (Name "edgehub", Group
// beehive.GroupHub) that keeps a WebSocket connection (gorilla/websocket, TLS 1.3, the node's client
// certificate) to the cloud hub, applies downstream objects through a local module and acknowledges them
// after its commit, and carries upstream reports through a durable SQLite outbox. It speaks the wire
// format, reliability contract and resync protocol of package hub (see hub's doc).
//
// # Use
//
//	res, _ := certs.Join(ctx, "https://cloud.example.com:10002", token, "edge-1", key) // once
//	holder := certs.NewCertHolder(res.Certificate)
//	eh, err := edgehub.New(edgehub.Config{
//		URL:          "wss://cloud.example.com:10000/v1/hub",
//		TLS:          certs.ClientTLSConfig(res.CA, "cloud.example.com", holder),
//		OutboxPath:   "/var/lib/edgehive/outbox.db",
//		DigestSource: metaStore,                     // hub.DigestSource: what the edge holds
//		NotifyGroups: []beehive.Group{beehive.GroupMeta, beehive.GroupEdged},
//		Rotation:     &edgehub.Rotation{Holder: holder, Save: storeCertAndKey},
//	})
//	hive.Add(eh) // plus "meta" and the other edge modules
//
// # Message contract with local modules
//
// Downstream (cloud → edge): each object frame (hub.OpInsert, OpUpdate, OpPatch, OpDelete) is sent with
// SendSync to Config.Module (default "meta"), or to Config.Routes[frame's Group]. The message carries
// the frame's operation, Router.Resource = the key ("<namespace>/<kind>/<name>"),
// Header.ResourceVersion = the version, Content = the object's bytes ([]byte), Router.Group as the cloud
// set it. The module must:
//
//  1. commit the change to its store, then answer with Respond(req, nil) — "ack after commit": only
//     then does the edge hub send OpAck to the cloud;
//  2. if it already holds that resourceVersion of the key (a resend whose ack was lost), answer
//     Respond(req, nil) without applying it again;
//  3. answer RespondError(req, err) if it cannot commit now: no ack is sent and the cloud resends the
//     frame later (so a module that can never apply a frame makes the cloud retry at ResendMax pace);
//     no answer within ApplyTimeout counts the same.
//
// Frames are handed over one at a time, in the order they arrive, so a key's versions reach the module
// in the cloud's order. Other downstream frames (OpQuery, OpResponse, OpPublish, …) are sent (not
// SendSync) to the same routed module, best effort.
//
// Upstream (edge → cloud): any local module sends to module "edgehub" a message with Router.Operation =
// the write (hub.OpUpdate for a status, …) or hub.OpPublish, Router.Resource = the key (required and
// validated for writes; any text for OpPublish), Header.ResourceVersion if it has one, Router.Group =
// the group it is for in the cloud (optional), and Content ([]byte, string, or a value encoded as JSON).
// With SendSync, the answer comes once the message is committed to the outbox (or is an error:
// ErrBadMessage, ErrTooLarge, a SQLite failure). An upstream hub.OpQuery (Resource = the key) also goes
// through the outbox; the cloud answers it from its DesiredState, and the answer arrives later as an
// OpResponse (Content = the object, ResourceVersion set) or OpError message to the routed module, with
// Header.ParentID = the query message's ID — not as the SendSync answer.
//
// Connection events: OpCloudConnected and OpCloudDisconnected (no content) are broadcast with
// SendToGroup to each of Config.NotifyGroups.
//
// # Guarantees
//
//   - Reconnect: exponential backoff with full jitter — after n failed dials in a row, a uniform random
//     wait in [0, min(BackoffMax, BackoffInitial·2ⁿ)); after a connection ends, a wait in
//     [0, BackoffInitial).
//   - On each connection the first frame is OpResync with the DigestSource's digest; the cloud answers
//     with only the differences.
//   - Keepalive: a ping when nothing was written for KeepaliveInterval; a connection with nothing read for
//     two intervals is dropped as half-open (and redialed).
//   - Outbox: every accepted upstream message is committed to SQLite (synchronous=FULL unless
//     OutboxRelaxedSync) before it is acknowledged to its sender, survives a restart or a kill -9 of the
//     process, is sent in the order accepted (Seq = its row ID) on every connection, and is deleted only
//     when the cloud answers it (OpAck, or OpNack for a refused write, which is dropped for good). Object
//     writes coalesce per key: a new write of a key replaces the older unsent ones (the newest status
//     wins); OpPublish messages do not coalesce. Unacknowledged messages are resent after
//     ResendInterval, and at once on a new connection: delivery upstream is at least once.
//   - Outbox policy when full (OutboxMaxBytes): to make room, drop the oldest messages that are not object
//     writes (publishes) first, then the oldest object writes; a message larger than the whole budget is
//     refused with ErrTooLarge. Messages older than OutboxMaxAge are dropped (at start and while
//     running). Drops are counted in Stats.Outbox.
//   - Certificate rotation (Config.Rotation): while connected, when certs.ShouldRotate says the
//     certificate is due, the edge sends a new key's request (hub.OpCertRotate), saves the answer
//     (Rotation.Save) and puts it in the CertHolder; the next connection presents it.
//   - TLS session resumption (Config.SessionResumption, off by default): reconnects resume the session
//     the cloud issued a ticket for (examples/edgemark: the restarted cloud's CPU in a 10,000-node
//     reconnect storm fell by 20–40 %, the storm from 21 s to 16 s on a quiet machine); a failed handshake does not evict
//     the session, a certificate rotation by the edge hub does.
//   - Run returns when its context ends, after closing the connection, the outbox and every goroutine.
//
// # Not built yet, and traps
//
//   - Stats().Outbox is zero until Run has opened the outbox.
//   - OutboxPath = MemoryOutbox keeps the outbox in memory (same order, coalescing, budget and expiry,
//     no durability): for simulated nodes (examples/edgemark runs thousands in one process, where a
//     SQLite file each would exhaust file descriptors) and tests, not for a real edge node.
//   - Upstream messages are acknowledged by the cloud when they reach the cloud's mailbox, so they can
//     arrive twice (after a lost ack); upstream handlers must be idempotent.
//   - Downstream frames are applied one at a time on the connection's reader; a slow local module slows
//     the link (the cloud's writes block, then time out after its WriteTimeout).
//   - No compression, no multiplexing of several clouds, no proxy support beyond what gorilla's Dialer
//     reads from the environment.
package edgehub
