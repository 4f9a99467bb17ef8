package hub

import (
	"fmt"
	"strings"
)

// Kind is the type segment of a resource key: a lowercase DNS-1123 label such as "pod". The kinds below
// are the ones edgehive's modules exchange; a vendor module may use kinds of its own, which ParseKey
// accepts when they are well-formed.
type Kind string

// Kinds exchanged between cloud and edge. Downstream (cloud→edge) kinds carry desired objects; upstream
// kinds (the …status kinds, lease) carry what the edge reports.
const (
	KindPod          Kind = "pod"
	KindConfigMap    Kind = "configmap"
	KindSecret       Kind = "secret"
	KindService      Kind = "service"
	KindEndpoints    Kind = "endpoints"
	KindNode         Kind = "node"         // cluster-scoped
	KindDevice       Kind = "device"       // devices.kubeedge.io Device
	KindDeviceModel  Kind = "devicemodel"  // devices.kubeedge.io DeviceModel
	KindMembership   Kind = "membership"   // cluster-scoped; name = node; the devices bound to a node
	KindPodStatus    Kind = "podstatus"    // upstream: a pod's status, name = the pod's name
	KindNodeStatus   Kind = "nodestatus"   // upstream, cluster-scoped: a node's status, name = the node
	KindDeviceStatus Kind = "devicestatus" // upstream: a device's reported twins, name = the device
	KindLease        Kind = "lease"        // upstream: a node's lease in namespace kube-node-lease
)

// NodeLeaseNamespace is the namespace of node leases, as in Kubernetes.
const NodeLeaseNamespace = "kube-node-lease"

// ClusterScoped reports whether objects of kind k have no namespace. It knows the kinds above; any other
// kind is reported as not cluster-scoped, and ParseKey lets such a kind have a namespace or not.
func (k Kind) ClusterScoped() bool {
	return k == KindNode || k == KindNodeStatus || k == KindMembership
}

// Known reports whether k is one of the kinds declared by this package.
func (k Kind) Known() bool {
	switch k {
	case KindPod, KindConfigMap, KindSecret, KindService, KindEndpoints, KindNode, KindDevice,
		KindDeviceModel, KindMembership, KindPodStatus, KindNodeStatus, KindDeviceStatus, KindLease:
		return true
	}
	return false
}

// MaxKeyLen is the longest well-formed key: a 63-byte namespace, a 63-byte kind, a 253-byte name and the
// two separators.
const MaxKeyLen = MaxLabelLen + 1 + MaxLabelLen + 1 + MaxSubdomainLen

// Key names one object on the link: "<namespace>/<kind>/<name>". A cluster-scoped object has an empty
// namespace, so its key begins with the separator: "/node/edge-1". The namespace is a DNS-1123 label,
// the kind a DNS-1123 label, the name a DNS-1123 subdomain (Kubernetes' rule for the names of pods,
// config maps, secrets, nodes and devices). Neither part can contain '/', so a key splits unambiguously.
//
// The zero Key is not a valid key; it stands for "no resource" (the empty Resource of protocol frames
// such as ping and resync).
type Key struct {
	Namespace string
	Kind      Kind
	Name      string
}

// NewKey returns the key of the object namespace/kind/name, or an error wrapping ErrBadKey.
func NewKey(namespace string, kind Kind, name string) (Key, error) {
	k := Key{Namespace: namespace, Kind: kind, Name: name}
	return k, k.Validate()
}

// ParseKey parses the String form of a key strictly: exactly three '/'-separated segments, each under
// its naming rule, the namespace empty exactly for cluster-scoped kinds (and non-empty for the other
// known kinds), at most MaxKeyLen bytes. Errors wrap ErrBadKey and say which rule failed.
func ParseKey(s string) (Key, error) {
	if len(s) > MaxKeyLen {
		return Key{}, fmt.Errorf("%w %s: longer than %d bytes", ErrBadKey, quote(s), MaxKeyLen)
	}
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return Key{}, fmt.Errorf("%w %s: want <namespace>/<kind>/<name>", ErrBadKey, quote(s))
	}
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return Key{}, fmt.Errorf("%w %s: want <namespace>/<kind>/<name>", ErrBadKey, quote(s))
	}
	j += i + 1
	k := Key{Namespace: s[:i], Kind: Kind(s[i+1 : j]), Name: s[j+1:]}
	if err := k.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Validate checks k under the rules of ParseKey; errors wrap ErrBadKey.
func (k Key) Validate() error {
	if r := checkLabel(string(k.Kind)); r != "" {
		return fmt.Errorf("%w %s: kind %s", ErrBadKey, quote(k.String()), r)
	}
	if r := checkSubdomain(k.Name); r != "" {
		return fmt.Errorf("%w %s: name %s", ErrBadKey, quote(k.String()), r)
	}
	switch {
	case k.Namespace == "":
		if k.Kind.Known() && !k.Kind.ClusterScoped() {
			return fmt.Errorf("%w %s: kind %s is namespaced", ErrBadKey, quote(k.String()), k.Kind)
		}
	case k.Kind.ClusterScoped():
		return fmt.Errorf("%w %s: kind %s is cluster-scoped; leave the namespace empty", ErrBadKey, quote(k.String()), k.Kind)
	default:
		if r := checkLabel(k.Namespace); r != "" {
			return fmt.Errorf("%w %s: namespace %s", ErrBadKey, quote(k.String()), r)
		}
	}
	return nil
}

// String returns "<namespace>/<kind>/<name>", or "" for the zero Key.
func (k Key) String() string {
	if k == (Key{}) {
		return ""
	}
	return k.Namespace + "/" + string(k.Kind) + "/" + k.Name
}

// IsZero reports whether k is the zero Key.
func (k Key) IsZero() bool { return k == Key{} }

// AppendText implements encoding.TextAppender.
func (k Key) AppendText(b []byte) ([]byte, error) {
	if k.IsZero() {
		return b, nil
	}
	b = append(b, k.Namespace...)
	b = append(b, '/')
	b = append(b, k.Kind...)
	b = append(b, '/')
	return append(b, k.Name...), nil
}

// MarshalText implements encoding.TextMarshaler, so that keys can be JSON map keys.
func (k Key) MarshalText() ([]byte, error) { return k.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler with ParseKey.
func (k *Key) UnmarshalText(b []byte) error {
	v, err := ParseKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
