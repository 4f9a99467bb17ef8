package edged

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The message contract of the edged module, until it is aligned with the hub package's resource kinds.
//
// Downstream (to edged): Router.Operation is beehive.OpInsert, OpUpdate or OpDelete; Router.Resource is
// "<namespace>/<type>/<name>" with type ResourcePod, ResourceConfigMap or ResourceSecret;
// Header.ResourceVersion is the object's resourceVersion; Content is the object's JSON ([]byte or
// string). A delete may carry no content.
//
// Upstream (from edged): Send to ModuleConfig.StatusTarget with Operation beehive.OpUpdate, Resource
// "<namespace>/podstatus/<name>" and Content the JSON of a PodStatusMessage, coalesced per pod.
const (
	ResourcePod       = "pod"
	ResourceConfigMap = "configmap"
	ResourceSecret    = "secret"
	ResourcePodStatus = "podstatus"
)

// PodStatusMessage is the content of a pod status message.
type PodStatusMessage struct {
	UID       types.UID        `json:"uid"`
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Status    corev1.PodStatus `json:"status"`
}

// ResourceKey returns "<namespace>/<type>/<name>".
func ResourceKey(namespace, typ, name string) string {
	return namespace + "/" + typ + "/" + name
}

// ParseResourceKey splits "<namespace>/<type>/<name>". The namespace may be empty (cluster-scoped).
func ParseResourceKey(key string) (namespace, typ, name string, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("%w: %q", ErrBadResource, key)
	}
	return parts[0], parts[1], parts[2], nil
}
