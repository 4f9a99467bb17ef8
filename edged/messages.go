package edged

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The message contract of the edged module. Resource keys are "<namespace>/<type>/<name>", the
// namespace empty for cluster-scoped objects: the same strings as the hub package's keys, so that the
// edge hub carries them to the cloud unchanged (a test checks that the types match hub's kinds).
//
// Downstream (to edged): Router.Operation is beehive.OpInsert, OpUpdate or OpDelete; Router.Resource is
// "<namespace>/<type>/<name>" with type ResourcePod, ResourceConfigMap or ResourceSecret;
// Header.ResourceVersion is the object's resourceVersion; Content is the object's JSON ([]byte or
// string). A delete may carry no content. A pod update with a deletionTimestamp deletes the pod as a
// delete does, with the pod's deletion grace period.
//
// Notices (to edged): a message with an empty Router.Resource is a notice, not an object. Its
// operation is checked against NodeStatusConfig.ReportOn (the edge hub's "cloud-connected": the node
// status and lease are sent at once); other notices are ignored.
//
// Upstream (from edged), each sent to ModuleConfig.StatusTarget with Router.Group ModuleConfig.StatusGroup
// and Content JSON bytes:
//
//	operation  resource                        content             when
//	update     <ns>/podstatus/<pod>            PodStatusMessage    a pod's status changed (newest only, per pod)
//	delete     <ns>/pod/<pod>                  PodRef              a pod deleted through its deletionTimestamp
//	                                                               is gone from the runtime: the cloud deletes
//	                                                               it for good (grace 0)
//	insert     /node/<node>                    {}                  at start: registers the node
//	update     /nodestatus/<node>              corev1.NodeStatus   when it changed, at least every
//	                                                               NodeStatusConfig.ReportInterval, and on ReportOn
//	update     kube-node-lease/lease/<node>    coordinationv1.LeaseSpec  every LeaseRenewInterval, and on ReportOn
//
// The last three only with ModuleConfig.NodeStatus set. The pod delete is kubelet's final delete: it
// follows the pod's last status, once its containers, sandboxes, directory and logs are removed. It is
// sent for pods that came with a deletionTimestamp (the API server keeps them Terminating until then),
// not for pods deleted by a delete message (gone from the cloud already: the cloud hub would refuse a
// write for a pod no longer bound to the node) nor for a pod replaced by a new UID under its name. It is
// sent at least once per deletion (again for a pod restored with its deletionTimestamp after a
// restart): the receiver deletes only a pod of that UID that is being deleted, and ignores one that is
// already gone.
const (
	ResourcePod        = "pod"
	ResourceConfigMap  = "configmap"
	ResourceSecret     = "secret"
	ResourcePodStatus  = "podstatus"
	ResourceNode       = "node"
	ResourceNodeStatus = "nodestatus"
	ResourceLease      = "lease"
	// NodeLeaseNamespace is the namespace of node leases, as in Kubernetes.
	NodeLeaseNamespace = "kube-node-lease"
)

// PodStatusMessage is the content of a pod status message.
type PodStatusMessage struct {
	UID       types.UID        `json:"uid"`
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Status    corev1.PodStatus `json:"status"`
}

// PodRef names one pod (one UID): the content of the upstream pod delete. Its JSON is a
// PodStatusMessage without status, so a receiver may decode either.
type PodRef struct {
	UID       types.UID `json:"uid"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
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
