// Package api holds the content shapes that the edge controller exchanges with edge nodes about
// devices, in KubeEdge's devices.kubeedge.io/v1beta1 field names. It imports only the standard library,
// so that an edge module (the twin module, a mapper) can use it without linking client-go.
//
// The other contents of the controller's messages are Kubernetes' own types, as JSON: the objects sent
// down (Pod, ConfigMap, Secret, Node, Device, DeviceModel), corev1.NodeStatus for a node's status,
// coordinationv1.LeaseSpec for a lease renewal, and edged's PodStatusMessage for a pod's status.
package api

// DeviceStatus is the content of an upstream devicestatus report ("<namespace>/devicestatus/<name>"):
// the device's reported twins and, optionally, its state. The controller merges Twins into the
// Device's status.twins by PropertyName (a reported twin replaces the one of the same property; the
// others are kept), and sets status.state and status.lastOnlineTime when they are not empty.
type DeviceStatus struct {
	Twins []Twin `json:"twins,omitempty"`
	// State is the device's state as its mapper reports it ("online", "offline", "unknown").
	State string `json:"state,omitempty"`
	// LastOnlineTime is when the device was last online, as the edge reports it (free text in
	// KubeEdge; RFC 3339 is recommended).
	LastOnlineTime string `json:"lastOnlineTime,omitempty"`
}

// Twin is one property's twin in a Device's status, as in KubeEdge v1beta1.
type Twin struct {
	PropertyName string `json:"propertyName"`
	// Reported is the value the device last reported.
	Reported TwinProperty `json:"reported"`
	// ObservedDesired is the desired value the edge last saw (so that the cloud can tell whether its
	// desired value has reached the edge).
	ObservedDesired TwinProperty `json:"observedDesired"`
}

// TwinProperty is a value with metadata (KubeEdge puts "timestamp" and "type" there).
type TwinProperty struct {
	Value    string            `json:"value"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Membership is the content of the downstream "/membership/<node>" object: the devices bound to the
// node, as "<namespace>/<name>" ids sorted in increasing order. Its resourceVersion is a digest of the
// list (an opaque string that changes exactly when the list does).
type Membership struct {
	Node    string   `json:"node"`
	Devices []string `json:"devices"`
}
