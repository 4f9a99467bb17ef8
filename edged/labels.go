package edged

import (
	"encoding/json"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Labels and annotations on the sandboxes and containers the manager creates. The pod and container
// keys are kubelet's, so that crictl and other tools show edged's pods as they show kubelet's; the
// manager finds its own work again after a restart by them.
const (
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelContainerName = "io.kubernetes.container.name"
	// LabelManagedBy carries Config.ManagerID: the manager adopts and removes only what carries its ID.
	LabelManagedBy = "io.edgehive.managed-by"
	// LabelContainerKind is "init" or "regular".
	LabelContainerKind = "io.edgehive.container.kind"

	// AnnotationRestartCount is the container's restart count (the attempt number).
	AnnotationRestartCount = "io.kubernetes.container.restartCount"
	// AnnotationContainerHash is a hash of the container's spec: a container whose spec changed is
	// replaced.
	AnnotationContainerHash = "io.kubernetes.container.hash"
	// AnnotationGracePeriod is the pod's termination grace period in seconds, used when a container
	// is stopped after its pod was forgotten (a manager restart).
	AnnotationGracePeriod = "io.kubernetes.pod.terminationGracePeriod"
	// AnnotationStartTime on a sandbox is the pod's start time (RFC 3339), kept across manager restarts.
	AnnotationStartTime = "io.edgehive.pod.startTime"
)

const (
	kindInit    = "init"
	kindRegular = "regular"
)

func (m *Manager) sandboxLabels(pod *corev1.Pod) map[string]string {
	l := make(map[string]string, len(pod.Labels)+4)
	for k, v := range pod.Labels {
		l[k] = v
	}
	l[LabelPodUID] = string(pod.UID)
	l[LabelPodName] = pod.Name
	l[LabelPodNamespace] = pod.Namespace
	l[LabelManagedBy] = m.cfg.ManagerID
	return l
}

func (m *Manager) containerLabels(pod *corev1.Pod, name, kind string) map[string]string {
	return map[string]string{
		LabelPodUID:        string(pod.UID),
		LabelPodName:       pod.Name,
		LabelPodNamespace:  pod.Namespace,
		LabelContainerName: name,
		LabelContainerKind: kind,
		LabelManagedBy:     m.cfg.ManagerID,
	}
}

// containerHash hashes the parts of a container spec that need a new container when they change.
func containerHash(c *corev1.Container) string {
	b, _ := json.Marshal(c) // a Container always marshals
	h := fnv.New64a()
	_, _ = h.Write(b)
	return strconv.FormatUint(h.Sum64(), 16)
}

func restartCountOf(annotations map[string]string) int32 {
	n, err := strconv.ParseInt(annotations[AnnotationRestartCount], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}
