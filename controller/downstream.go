package controller

import (
	"context"

	"github.com/edgehive/edgehive/hub"
)

// Downstream carries changes from the controller to edge nodes: normally the cloud hub, which keeps per
// node the newest pending version of each key and delivers it reliably (see package hub).
//
// Send must not block for long: it should queue the change and return. An error means the change was
// not taken; the controller then tries the node again later with backoff, sending what is desired at
// that time (so a lost change is never lost for good, and an outdated one is never resent).
// Send is called from several goroutines, but never concurrently for the same node.
type Downstream interface {
	Send(ctx context.Context, node hub.NodeName, c hub.Change) error
}

// DownstreamFunc adapts a function to Downstream.
type DownstreamFunc func(ctx context.Context, node hub.NodeName, c hub.Change) error

// Send calls f.
func (f DownstreamFunc) Send(ctx context.Context, node hub.NodeName, c hub.Change) error {
	return f(ctx, node, c)
}
