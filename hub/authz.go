package hub

import (
	"fmt"

	"github.com/edgehive/edgehive/beehive"
)

// PodBinding tells which node a pod is bound to (spec.nodeName), from the cloud's view of the cluster.
// ok is false for a pod the cloud does not know. It is called on the hot path of every upstream write and
// must answer from memory (an informer's cache) without blocking.
type PodBinding interface {
	PodNode(namespace, name string) (node NodeName, ok bool)
}

// DeviceBinding tells which node a device is bound to (the Device's spec.nodeName), as PodBinding does
// for pods.
type DeviceBinding interface {
	DeviceNode(namespace, name string) (node NodeName, ok bool)
}

// PodBindingFunc adapts a function to PodBinding.
type PodBindingFunc func(namespace, name string) (NodeName, bool)

// PodNode calls f.
func (f PodBindingFunc) PodNode(namespace, name string) (NodeName, bool) { return f(namespace, name) }

// DeviceBindingFunc adapts a function to DeviceBinding.
type DeviceBindingFunc func(namespace, name string) (NodeName, bool)

// DeviceNode calls f.
func (f DeviceBindingFunc) DeviceNode(namespace, name string) (NodeName, bool) {
	return f(namespace, name)
}

// Bindings are the lookups AuthorizeWrite needs. A nil lookup binds nothing to any node, so writes that
// need it are refused.
type Bindings struct {
	Pods    PodBinding
	Devices DeviceBinding
}

// Reason says why a write was refused, in a form fit for a metric label.
type Reason string

// Reasons of a ForbiddenError.
const (
	ReasonBadNode      Reason = "bad-node"      // the writer's node name is invalid
	ReasonBadKey       Reason = "bad-key"       // the key is malformed
	ReasonNotWrite     Reason = "not-a-write"   // the operation is not insert, update, patch or delete
	ReasonKind         Reason = "kind"          // nodes never write objects of this kind
	ReasonOperation    Reason = "operation"     // nodes may not apply this operation to this kind
	ReasonOtherNode    Reason = "other-node"    // the object is another node's Node, status or lease
	ReasonPodNotBound  Reason = "pod-not-bound" // the pod is unknown or bound to another node
	ReasonDevNotBound  Reason = "device-not-bound"
	ReasonWrongLeaseNS Reason = "lease-namespace" // a lease outside kube-node-lease
)

// ForbiddenError is the error of a refused write. errors.Is(err, ErrForbidden) holds for it.
type ForbiddenError struct {
	Node   NodeName
	Op     beehive.Operation
	Key    Key
	Reason Reason
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("hub: forbidden: node %s may not %s %s (%s)", quote(string(e.Node)), e.Op, quote(e.Key.String()), e.Reason)
}

// Unwrap returns ErrForbidden.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// AuthorizeWrite decides whether node may apply op to key upstream, and returns nil or a
// *ForbiddenError. It is pure: its only inputs are its arguments and the answers of b. The rules are
// those of Kubernetes' NodeRestriction for a kubelet, narrowed to what crosses the link:
//
//	kind          namespace         name                      operations
//	node          (none)            the node itself           insert, update, patch
//	nodestatus    (none)            the node itself           insert, update, patch
//	lease         kube-node-lease   the node itself           insert, update, patch
//	podstatus     the pod's         a pod bound to the node   insert, update, patch
//	pod           the pod's         a pod bound to the node   delete (the edge confirms termination)
//	devicestatus  the device's      a device bound to node    insert, update, patch
//
// Everything else is refused: other kinds (a node never writes pods' specs, config maps, secrets,
// services, devices' desired state, …), other nodes' objects, and pods or devices the lookups do not bind
// to node (unknown ones included). Reads (OpQuery) are not decided here: they need to know which objects
// a node's pods reference, which is the edge controller's business.
func AuthorizeWrite(node NodeName, op beehive.Operation, key Key, b Bindings) error {
	deny := func(r Reason) error { return &ForbiddenError{Node: node, Op: op, Key: key, Reason: r} }
	if node.Validate() != nil {
		return deny(ReasonBadNode)
	}
	if key.Validate() != nil {
		return deny(ReasonBadKey)
	}
	if !IsWrite(op) {
		return deny(ReasonNotWrite)
	}
	upsert := op == OpInsert || op == OpUpdate || op == OpPatch
	switch key.Kind {
	case KindNode, KindNodeStatus:
		if !upsert {
			return deny(ReasonOperation)
		}
		if key.Name != string(node) {
			return deny(ReasonOtherNode)
		}
	case KindLease:
		if !upsert {
			return deny(ReasonOperation)
		}
		if key.Namespace != NodeLeaseNamespace {
			return deny(ReasonWrongLeaseNS)
		}
		if key.Name != string(node) {
			return deny(ReasonOtherNode)
		}
	case KindPodStatus, KindPod:
		if key.Kind == KindPodStatus && !upsert || key.Kind == KindPod && op != OpDelete {
			return deny(ReasonOperation)
		}
		if b.Pods == nil {
			return deny(ReasonPodNotBound)
		}
		if n, ok := b.Pods.PodNode(key.Namespace, key.Name); !ok || n != node {
			return deny(ReasonPodNotBound)
		}
	case KindDeviceStatus:
		if !upsert {
			return deny(ReasonOperation)
		}
		if b.Devices == nil {
			return deny(ReasonDevNotBound)
		}
		if n, ok := b.Devices.DeviceNode(key.Namespace, key.Name); !ok || n != node {
			return deny(ReasonDevNotBound)
		}
	default:
		return deny(ReasonKind)
	}
	return nil
}
