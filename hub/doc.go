// Package hub is the contract between edgehive's cloud and its edge nodes: what both ends of the link
// import. It defines the resource keys, node identity, the operations on the wire, the versioned frame
// (envelope) and its binary codec, the resync digest and its diff, and the rules of what a node may write.
// It does no I/O beyond reading a frame from an io.Reader and imports only the standard library and
// beehive; the transports (hub/cloudhub, hub/edgehub: WebSocket over mutual TLS) and the node
// certificates (hub/certs) build on it.
//
// # Resource keys
//
// An object is named on the link by "<namespace>/<kind>/<name>" (Key, ParseKey): the namespace is a
// DNS-1123 label, the kind a lowercase DNS-1123 label (KindPod, KindConfigMap, …, or a vendor's own),
// the name a DNS-1123 subdomain; a key is at most MaxKeyLen (381) bytes. A cluster-scoped object has an
// empty namespace, so its key begins with '/': "/node/edge-1", "/nodestatus/edge-1". ParseKey refuses
// a namespace on a cluster-scoped kind and a missing namespace on the other known kinds. Protocol frames
// (ping, pong, resync, resync-done, cert-rotate) have an empty Resource.
//
// # Node identity
//
// A node is the CommonName of its client certificate, "system:node:<name>", in group "system:nodes"
// (NodeFromCommonName, NodeName.CommonName); the name is a DNS-1123 subdomain. Frames carry no node
// name: the node is the authenticated peer of the connection, never something it says.
//
// # Operations
//
// Object operations are beehive's: OpInsert, OpUpdate, OpPatch, OpDelete, and OpQuery answered by
// OpResponse or OpError, plus OpPublish for application messages. The hub adds OpAck and OpNack
// (acknowledge or refuse for good a frame, by ParentID and Seq), OpPing and OpPong (keepalive), OpResync
// and OpResyncDone (the resync exchange), and OpCertRotate (a new node certificate over the link).
// ops.go states each one's fields.
//
// # Frame (envelope)
//
// A Frame is beehive's Header {ID, ParentID, Timestamp, Sync, ResourceVersion} and Router {Source, Group,
// Operation, Resource}, a delivery sequence number Seq, and Content as opaque bytes (usually the JSON of
// a Kubernetes object). FrameFromMessage and Frame.Message convert to and from beehive.Message.
//
// # Wire format, version 1
//
// A frame body is the following bytes. Integers are big-endian; "uvarint" is the unsigned LEB128 varint
// of encoding/binary (7 bits per byte, low group first, high bit = more follows) in its shortest form;
// "str" is a uvarint length n ≤ MaxFieldLen (1024) followed by n bytes.
//
//	offset  size      field
//	0       1         magic 0xEB
//	1       1         version 0x01 (another value: ErrVersion)
//	2       1         flags: bit 0 Sync, bit 1 ID present, bit 2 ParentID present; bits 3-7 zero
//	3       8         timestamp: int64, Unix nanoseconds (two's complement)
//	11      16        ID: epoch uint64, seq uint64            (only if flag bit 1; never all zero)
//	…       16        ParentID: epoch uint64, seq uint64      (only if flag bit 2; never all zero)
//	…       uvarint   Seq (0: none)
//	…       str       ResourceVersion
//	…       str       Source
//	…       str       Group
//	…       str       Operation
//	…       str       Resource
//	…       uvarint   content length n, which must equal the number of bytes that remain
//	…       n         content
//
// The smallest body is 18 bytes (no IDs, every string empty). The encoding is canonical: one frame has
// exactly one encoding, and Decode refuses every other byte string (unknown flag bits, a flag with a zero
// ID, a non-minimal varint, a short or long content, trailing bytes) with ErrBadFrame.
//
// On a WebSocket each binary message is one body (Decode). On a byte stream each body is preceded by
// its length as a uint32 (AppendFrame, ReadFrame). A receiver refuses a body over its limit
// (DefaultMaxFrameSize, 4 MiB) with ErrFrameTooLarge before reading it into memory.
//
// Example: a ping with ID {Epoch: 1, Seq: 2}, timestamp 3, Source "edgehub", nothing else, is the 45
// bytes
//
//	eb 01 02  00 00 00 00 00 00 00 03  00 00 00 00 00 00 00 01  00 00 00 00 00 00 00 02
//	00  00  07 65 64 67 65 68 75 62  00  04 70 69 6e 67  00  00
//
// # Reliability
//
// Downstream (cloud→edge), for every key the edge applies versions in order, each at most once:
//
//  1. The cloud sends each change as an object frame (OpInsert, OpUpdate, OpDelete) with a fresh ID and
//     Seq, Resource = the key, ResourceVersion = the object's version, and keeps it pending for the node.
//  2. The edge commits the change to its store, and only then answers OpAck with ParentID = the frame's
//     ID, Seq = its Seq, and the key and version it committed. If it already holds that version (a
//     resend whose ack was lost), it acknowledges without applying it again. A frame it can never apply
//     it answers with OpNack and a reason; the cloud drops it.
//  3. The cloud resends a pending frame, with the same ID, until its ack arrives. Per node it keeps only
//     the newest pending version of each key: a newer version replaces an older one still pending (whose
//     late ack then matches nothing), so a node's backlog is bounded by its number of objects, and frames
//     of one key are never sent older-after-newer on a connection.
//
// Upstream (edge→cloud) mirrors this: the edge's reports (statuses) wait in a durable outbox, coalesced
// per key (the newest status wins), are sent in order with Seq = the outbox row's ID, and leave the
// outbox when the cloud acknowledges them, after it has written them where they go. A write the node may
// not make (AuthorizeWrite) is refused with OpNack, counted, and never applied.
//
// resourceVersions are opaque strings, as Kubernetes requires: equal or different, never older or newer.
// Order comes from the cloud (the source of truth) sending a key's versions in order on one connection,
// not from comparing versions.
//
// Keepalive: each end sends OpPing when it has sent nothing for an interval; the other answers OpPong.
// An end that has received nothing for two intervals closes the connection as half-open.
//
// # Resync
//
// Right after connecting, the edge sends OpResync (Sync set) whose content is its Digest — the {key →
// resourceVersion} of everything it holds from the cloud — in the compact encoding below. The cloud
// computes Diff(digest, desired objects of the node) (see Resync and DesiredState), sends each change as
// an ordinary object frame (acknowledged as above; the diff replaces whatever was pending for the node),
// then OpResyncDone with ParentID = the OpResync frame's ID. The edge then holds the cloud's state as of
// the diff, once it has committed the changes. Bytes on the wire grow with the change, not the state:
// unchanged objects cost their digest entry only.
//
// Digest encoding, version 1 (Digest.AppendBinary, DecodeDigest):
//
//	1 byte    version 0x01
//	uvarint   number of entries
//	entries, keys in strictly increasing byte order, each:
//	  uvarint   p: bytes shared with the previous key's String form (0 for the first), the longest such
//	  uvarint   s, then s bytes: the rest of the key
//	  uvarint   v: if v is even, the resourceVersion is the decimal number v/2 (used exactly when the
//	            version is a decimal number without leading zeros below 2^63); if odd, the next
//	            (v-1)/2 bytes are the version
//
// A thousand pods with numeric versions in a few namespaces take about 11 bytes each (TestDigestSize);
// a resync of 1,000 such pods with 10 changed costs about 15 pods' worth of bytes (TestResyncBudget).
//
// # Authorization
//
// AuthorizeWrite is a pure function deciding whether a node may write a key with an operation: its own
// Node, node status and lease; the status (and final delete) of pods bound to it; the reported state of
// devices bound to it — given lookups of pod and device bindings. Anything else is a *ForbiddenError
// with a Reason fit for a metric label.
package hub
