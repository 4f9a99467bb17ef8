package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/edgehive/edgehive/hub"
)

// PodStatusMessage is the content of a podstatus report. It has the JSON shape of edged's
// PodStatusMessage (edged/messages.go), which the controller does not import (that would link the CRI
// runtime into the cloud). UID, Namespace and Name are optional; when set they must match the key and
// the pod (a report for an older pod of the same name is refused with ErrGone).
type PodStatusMessage struct {
	UID       types.UID        `json:"uid"`
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Status    corev1.PodStatus `json:"status"`
}

// updatePodStatus writes a pod's reported status to pods/status.
func (c *EdgeController) updatePodStatus(ctx context.Context, key hub.Key, content []byte) error {
	var m PodStatusMessage
	if err := decodeContent(content, &m); err != nil {
		return err
	}
	if m.Namespace != "" && m.Namespace != key.Namespace || m.Name != "" && m.Name != key.Name {
		return fmt.Errorf("%w: status of %s/%s under key %s", ErrBadContent, m.Namespace, m.Name, key)
	}
	pods := c.cfg.Client.CoreV1().Pods(key.Namespace)
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var pod *corev1.Pod
		if cs := c.cur.Load(); first && cs != nil {
			pod, _ = cs.pod(key.Namespace, key.Name)
		}
		first = false
		if pod == nil {
			p, err := pods.Get(ctx, key.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%w: pod %s/%s", ErrGone, key.Namespace, key.Name)
			}
			if err != nil {
				return err
			}
			pod = p
		}
		if m.UID != "" && pod.UID != m.UID {
			return fmt.Errorf("%w: pod %s/%s has uid %s, the report is for %s", ErrGone, key.Namespace, key.Name, pod.UID, m.UID)
		}
		pod = pod.DeepCopy()
		pod.Status = MergePodStatus(pod.Status, m.Status)
		_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{FieldManager: c.cfg.FieldManager})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: pod %s/%s", ErrGone, key.Namespace, key.Name)
		}
		return err
	})
}

// MergePodStatus returns the status to write when an edge reports reported for a pod whose status in
// the API server is current. The edge's report wins, except that conditions of types it does not report
// (PodScheduled, and those of other controllers, e.g. readiness gates) are kept, and so are QOSClass,
// StartTime and NominatedNodeName when the edge leaves them empty. It is pure.
func MergePodStatus(current, reported corev1.PodStatus) corev1.PodStatus {
	out := *reported.DeepCopy()
	for _, cond := range current.Conditions {
		if !hasPodCondition(out.Conditions, cond.Type) {
			out.Conditions = append(out.Conditions, cond)
		}
	}
	if out.QOSClass == "" {
		out.QOSClass = current.QOSClass
	}
	if out.StartTime == nil {
		out.StartTime = current.StartTime
	}
	if out.NominatedNodeName == "" {
		out.NominatedNodeName = current.NominatedNodeName
	}
	return out
}

func hasPodCondition(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return true
		}
	}
	return false
}

// confirmPodDeletion deletes a pod for good (grace period 0) once its edge node reports it has stopped
// it, as a kubelet does. Only a pod that is being deleted (deletionTimestamp set) is: an edge cannot
// delete a running pod. A pod already gone is not an error.
func (c *EdgeController) confirmPodDeletion(ctx context.Context, key hub.Key, content []byte) error {
	var m PodStatusMessage
	if len(content) > 0 {
		if err := decodeContent(content, &m); err != nil {
			return err
		}
	}
	pods := c.cfg.Client.CoreV1().Pods(key.Namespace)
	pod, err := pods.Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.UID != "" && m.UID != pod.UID {
		return nil // that pod is gone; this one is another
	}
	if pod.DeletionTimestamp == nil {
		return fmt.Errorf("%w: pod %s/%s is not being deleted", ErrUnsupported, key.Namespace, key.Name)
	}
	zero := int64(0)
	err = pods.Delete(ctx, key.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced by a new pod of the same name
	}
	return err
}
