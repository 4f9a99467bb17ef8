package hub

import "github.com/edgehive/edgehive/beehive"

// Operations on the wire. The object operations are beehive's own values, so a frame converts to a
// beehive.Message without translation; the protocol operations are the hub's. Frames carry the operation
// as a string, so a vendor module may use operations of its own; the hub passes them through.
const (
	// Object operations. Downstream they carry a desired object (content: its JSON) and its
	// resourceVersion; upstream, a report (a status) from the edge. Each is acknowledged (OpAck) after the
	// receiver has committed it.
	OpInsert = beehive.OpInsert // the object is new to the receiver
	OpUpdate = beehive.OpUpdate // a new version of an object the receiver holds
	OpPatch  = beehive.OpPatch  // a partial update (content: a merge patch)
	OpDelete = beehive.OpDelete // the object is gone; ResourceVersion is the version deleted
	// Request and answer. A query asks the other end for the object named by Resource; the answer is an
	// OpResponse (content: the object) or an OpError (content: the error text), with ParentID = the
	// query's ID and Sync set.
	OpQuery    = beehive.OpQuery
	OpResponse = beehive.OpResponse
	OpError    = beehive.OpError
	// OpPublish carries an application message (eventbus uploads) upstream; content is opaque.
	OpPublish = beehive.OpPublish

	// OpAck acknowledges a committed object frame: ParentID = the acknowledged frame's ID, Resource and
	// ResourceVersion = what was committed, Seq = the acknowledged frame's Seq. No content.
	OpAck beehive.Operation = "ack"
	// OpNack refuses a frame for good (malformed, forbidden, not applicable): the sender must drop it, not
	// resend it. ParentID and Seq as for OpAck; content: the reason as text.
	OpNack beehive.Operation = "nack"
	// OpPing and OpPong are the application keepalive; a pong's ParentID is the ping's ID. No content.
	OpPing beehive.Operation = "ping"
	OpPong beehive.Operation = "pong"
	// OpResync is sent by the edge right after it connects: content = its Digest (the {key →
	// resourceVersion} of everything it holds from the cloud, DigestVersion encoding), Sync set.
	OpResync beehive.Operation = "resync"
	// OpResyncDone follows the last change frame of a resync answer: ParentID = the OpResync frame's ID.
	// No content.
	OpResyncDone beehive.Operation = "resync-done"
	// OpCertRotate asks the cloud, over the authenticated link, for a new node certificate: content = a
	// PEM certificate request whose CommonName must be the connection's own node. The answer is an
	// OpResponse with the PEM certificate chain, or an OpError.
	OpCertRotate beehive.Operation = "cert-rotate"
)

// KnownOperation reports whether op is one of the operations declared above.
func KnownOperation(op beehive.Operation) bool {
	switch op {
	case OpInsert, OpUpdate, OpPatch, OpDelete, OpQuery, OpResponse, OpError, OpPublish,
		OpAck, OpNack, OpPing, OpPong, OpResync, OpResyncDone, OpCertRotate:
		return true
	}
	return false
}

// IsWrite reports whether op changes an object (insert, update, patch, delete): the operations that are
// delivered reliably and acknowledged, and that AuthorizeWrite decides upstream.
func IsWrite(op beehive.Operation) bool {
	return op == OpInsert || op == OpUpdate || op == OpPatch || op == OpDelete
}
