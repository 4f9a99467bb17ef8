package edged_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"

	"github.com/edgehive/edgehive/internal/testenv"
)

// TestManagerContainerd runs the pod-manager suite against a real containerd (root, containerd, runc
// and the CNI plugins needed; skipped with a message otherwise, failed under CI=true).
func TestManagerContainerd(t *testing.T) {
	if testing.Short() {
		t.Skip("containerd: -short")
	}
	c := testenv.StartContainerd(t)
	runManagerSuite(t, runtimeEnv{name: "containerd", endpoint: c.Endpoint, image: c.Image, real: true})
}

// TestNodeStatusContainerd builds the node status against a real containerd: Ready (its runtime and
// CNI network are up), its version, and the imported image with its size.
func TestNodeStatusContainerd(t *testing.T) {
	if testing.Short() {
		t.Skip("containerd: -short")
	}
	c := testenv.StartContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := cri.Dial(ctx, cri.Config{Endpoint: c.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	b, err := edged.NewNodeStatusBuilder(edged.NodeStatusConfig{}, testConfig(t, t.TempDir()), rt)
	if err != nil {
		t.Fatal(err)
	}
	st := b.Build(ctx)
	if r := conditionOfNode(st, corev1.NodeReady); r.Status != corev1.ConditionTrue {
		t.Errorf("Ready %+v", r)
	}
	if !strings.HasPrefix(st.NodeInfo.ContainerRuntimeVersion, "containerd://") {
		t.Errorf("runtime version %q", st.NodeInfo.ContainerRuntimeVersion)
	}
	found := false
	for _, img := range st.Images {
		for _, n := range img.Names {
			if n == c.Image && img.SizeBytes > 0 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("images %+v, want %s with its size", st.Images, c.Image)
	}
	if st.Capacity.Memory().IsZero() || st.Capacity.StorageEphemeral().IsZero() || st.NodeInfo.KernelVersion == "" {
		t.Errorf("capacity %v, nodeInfo %+v", st.Capacity, st.NodeInfo)
	}
}
