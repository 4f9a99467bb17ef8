package edged_test

import (
	"testing"

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
