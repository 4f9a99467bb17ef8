package metaserver

import "github.com/edgehive/edgehive/hub"

// resource describes one served resource type.
type resource struct {
	group      string // "" for core/v1
	version    string
	plural     string // the path segment: "pods"
	singular   string
	kind       string // "Pod"
	hubKind    hub.Kind
	namespaced bool
	shortNames []string
	// fields are the field selector labels accepted besides metadata.name and metadata.namespace.
	fields []string
}

// DevicesGroup and DevicesVersion are the API group and version of KubeEdge's device resources.
const (
	DevicesGroup   = "devices.kubeedge.io"
	DevicesVersion = "v1beta1"
)

// resources is the table of what the server serves, in discovery order.
var resources = []*resource{
	{version: "v1", plural: "pods", singular: "pod", kind: "Pod", hubKind: hub.KindPod, namespaced: true, shortNames: []string{"po"}, fields: []string{"spec.nodeName", "status.phase"}},
	{version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", hubKind: hub.KindConfigMap, namespaced: true, shortNames: []string{"cm"}},
	{version: "v1", plural: "secrets", singular: "secret", kind: "Secret", hubKind: hub.KindSecret, namespaced: true, fields: []string{"type"}},
	{version: "v1", plural: "services", singular: "service", kind: "Service", hubKind: hub.KindService, namespaced: true, shortNames: []string{"svc"}},
	{version: "v1", plural: "nodes", singular: "node", kind: "Node", hubKind: hub.KindNode, shortNames: []string{"no"}},
	{group: DevicesGroup, version: DevicesVersion, plural: "devices", singular: "device", kind: "Device", hubKind: hub.KindDevice, namespaced: true},
	{group: DevicesGroup, version: DevicesVersion, plural: "devicemodels", singular: "devicemodel", kind: "DeviceModel", hubKind: hub.KindDeviceModel, namespaced: true},
}

// apiVersion is the resource's "group/version", or "v1" for the core group.
func (r *resource) apiVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

// findResource returns the resource of group/version named plural, or nil.
func findResource(group, version, plural string) *resource {
	for _, r := range resources {
		if r.group == group && r.version == version && r.plural == plural {
			return r
		}
	}
	return nil
}

func (r *resource) fieldAllowed(f string) bool {
	if f == "metadata.name" || f == "metadata.namespace" {
		return true
	}
	for _, x := range r.fields {
		if x == f {
			return true
		}
	}
	return false
}
