package controller_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgehive/edgehive/controller"
	"github.com/edgehive/edgehive/hub"
)

func ExamplePodReferences() {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app",
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
		}},
		Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "app-tls"}}}},
	}}
	refs := controller.PodReferences(pod)
	fmt.Println(refs.ConfigMaps, refs.Secrets)
	// Output: [app-config] [app-tls]
}

func ExampleNodeResource() {
	fmt.Println(controller.NodeResource("edge-1", hub.NodeName("edge-1").StatusKey()))
	fmt.Println(controller.NodeResource("edge-1", hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "web"}))
	// Output:
	// node/edge-1//nodestatus/edge-1
	// node/edge-1/default/podstatus/web
}

// An EdgeController with a Downstream of its own (here one that prints), outside beehive. Run it with
// ctl.Run(ctx) next to the hub; feed the hub's upstream reports to ctl.HandleUpstream.
func ExampleNew() {
	down := controller.DownstreamFunc(func(_ context.Context, node hub.NodeName, c hub.Change) error {
		fmt.Println(node, c.Op, c.Key, c.ResourceVersion)
		return nil
	})
	ctl, err := controller.New(controller.Config{Client: fake.NewClientset(), Downstream: down})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ctl.DevicesEnabled(), ctl.Synced())
	// Output: false false
}
