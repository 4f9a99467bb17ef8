package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// HandleUpstream applies a report of node to the API server. The write is first authorized with
// hub.AuthorizeWrite against the controller's caches (a node writes only its own Node, status and lease,
// the status of its pods and the reported state of its devices); the cloud hub should have checked it
// already, this is the second line. What each key does:
//
//	key                          op                   content                   effect
//	/node/<node>                 insert, update       ignored                   RegisterNode
//	/nodestatus/<node>           insert, update, patch corev1.NodeStatus JSON   Node status updated (merged)
//	kube-node-lease/lease/<node> insert, update, patch LeaseSpec JSON or empty  Lease created or renewed
//	<ns>/podstatus/<pod>         insert, update, patch PodStatusMessage JSON    pods/status updated (merged)
//	<ns>/pod/<pod>               delete               empty or {"uid": …}       pod deleted for good (grace 0)
//	<ns>/devicestatus/<device>   insert, update, patch api.DeviceStatus JSON    Device status.twins merged
//
// Reports that need the pod or device bindings fail with ErrNotRunning (transient) until the caches
// have synced. Errors: hub.ErrForbidden (a *hub.ForbiddenError), ErrBadContent, ErrGone and ErrUnsupported are final
// (see Final); the others are transient and the report may be retried. HandleUpstream is safe for
// concurrent use; reports of one key should be applied in order (the module does so).
func (c *EdgeController) HandleUpstream(ctx context.Context, node hub.NodeName, op beehive.Operation, key hub.Key, content []byte) error {
	switch key.Kind {
	case hub.KindPodStatus, hub.KindPod, hub.KindDeviceStatus:
		// These need the bindings of the caches: before they synced, "unknown pod" would be a final
		// refusal of a report that is merely early.
		if !c.Synced() {
			return ErrNotRunning
		}
	}
	if err := hub.AuthorizeWrite(node, op, key, c.Bindings()); err != nil {
		return err
	}
	switch key.Kind {
	case hub.KindNode:
		_, err := c.RegisterNode(ctx, node)
		return err
	case hub.KindNodeStatus:
		return c.updateNodeStatus(ctx, node, content)
	case hub.KindLease:
		return c.renewLease(ctx, node, content)
	case hub.KindPodStatus:
		return c.updatePodStatus(ctx, key, content)
	case hub.KindPod:
		return c.confirmPodDeletion(ctx, key, content)
	case hub.KindDeviceStatus:
		return c.updateDeviceStatus(ctx, key, content)
	}
	return fmt.Errorf("%w: %s %s", ErrUnsupported, op, key)
}

// decodeContent decodes one JSON value from content into v; any failure, trailing data included, wraps
// ErrBadContent. Unknown fields are ignored, so that an edge of a newer version (whose status types have
// grown fields) is still understood.
func decodeContent(content []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(content))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadContent, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrBadContent)
	}
	return nil
}
