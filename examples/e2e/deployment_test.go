package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/edged"
)

const deployName = "pinned"

// testDeployment runs a Deployment pinned to the edge node (its pod template names the node: there is
// no scheduler): kube-controller-manager makes the pod, the edge runs it, the API server shows it
// Running; deleting the Deployment (the garbage collector deletes the pod) removes the container.
func testDeployment(t *testing.T, c *cluster) {
	ctx := t.Context()
	one := int32(1)
	no := false
	grace := int64(1)
	labels := map[string]string{"app": deployName}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deployName, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeName:                      nodeName,
					AutomountServiceAccountToken:  &no,
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name: "app", Image: c.ctrd.Image, ImagePullPolicy: corev1.PullNever,
						Command: []string{"sh", "-c", "while true; do sleep 1; done"},
					}},
				},
			},
		},
	}
	if _, err := c.cs.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: labels})
	eventually(t, 60*time.Second, "the Deployment's pod Running on the edge", func(ctx context.Context) error {
		pods, err := c.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
				return nil
			}
		}
		return fmt.Errorf("%d pods, none Running", len(pods.Items))
	})
	if n := c.runningAppContainers(t); n == 0 {
		t.Fatal("no running container of the Deployment in containerd")
	}
	bg := metav1.DeletePropagationBackground
	if err := c.cs.AppsV1().Deployments(namespace).Delete(ctx, deployName, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the Deployment's container removed on the edge", func(context.Context) error {
		if n := c.runningAppContainers(t); n != 0 {
			return fmt.Errorf("%d containers still running", n)
		}
		return nil
	})
}

// runningAppContainers counts the running containers named "app" (the Deployment's) in containerd.
func (c *cluster) runningAppContainers(t *testing.T) int {
	t.Helper()
	resp, err := c.ctrd.RuntimeService().ListContainers(t.Context(), &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{
			State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
			LabelSelector: map[string]string{edged.LabelPodNamespace: namespace},
		},
	})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	n := 0
	for _, ctr := range resp.Containers {
		if ctr.Labels[edged.LabelContainerName] == "app" {
			n++
		}
	}
	return n
}
