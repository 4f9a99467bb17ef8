package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoClientGo checks DESIGN.md's rule that an edge binary does not link client-go (nor the cloud's
// controller packages).
func TestNoClientGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/edgehive/edgehive/examples/edge").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "k8s.io/client-go") || p == "github.com/edgehive/edgehive/controller" ||
			strings.HasPrefix(p, "github.com/edgehive/edgehive/hub/cloudhub") {
			t.Errorf("examples/edge links %s", p)
		}
	}
}
