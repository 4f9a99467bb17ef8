package eventbus

import "sync/atomic"

// Stats is a snapshot of the bus's counters since New (they survive restarts of the module).
type Stats struct {
	Connected     bool   // connected and subscribed now
	Connects      uint64 // successful connections, the first included
	ConnectErrors uint64 // failed connection attempts

	// MQTT → modules.
	Received  uint64 // MQTT messages received
	Delivered uint64 // messages handed to a module (one per target)
	Dropped   uint64 // deliveries that failed: mailbox full past DeliverTimeout, unknown or stopped target
	NoRoute   uint64 // messages no route matched (left over from an earlier session, say)
	Oversized uint64 // messages larger than MaxPayloadSize, dropped
	Malformed uint64 // messages with an invalid topic, or a device topic without JSON, dropped

	// Modules → MQTT.
	Published      uint64 // publishes the broker acknowledged (QoS 1, 2) or that were written (QoS 0)
	PublishErrors  uint64 // publishes that failed or were not acknowledged within PublishTimeout
	Queued         uint64 // publishes held in the offline queue now
	OfflineDropped uint64 // publishes dropped while disconnected: QoS 0, or the offline queue full
	Rejected       uint64 // malformed requests from modules (bad topic, content or operation)
	Subscribed     uint64 // runtime subscriptions made
}

type counters struct {
	connected                                                   atomic.Bool
	connects, connectErrors                                     atomic.Uint64
	received, delivered, dropped, noRoute, oversized, malformed atomic.Uint64
	published, publishErrors, queued, offlineDropped            atomic.Uint64
	rejected, subscribed                                        atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (b *Bus) Stats() Stats {
	c := &b.stats
	return Stats{
		Connected: c.connected.Load(), Connects: c.connects.Load(), ConnectErrors: c.connectErrors.Load(),
		Received: c.received.Load(), Delivered: c.delivered.Load(), Dropped: c.dropped.Load(),
		NoRoute: c.noRoute.Load(), Oversized: c.oversized.Load(), Malformed: c.malformed.Load(),
		Published: c.published.Load(), PublishErrors: c.publishErrors.Load(), Queued: c.queued.Load(),
		OfflineDropped: c.offlineDropped.Load(), Rejected: c.rejected.Load(), Subscribed: c.subscribed.Load(),
	}
}
