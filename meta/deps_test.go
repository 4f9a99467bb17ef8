package meta_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoClientGo checks that the edge's meta packages do not link client-go (DESIGN.md: an edge binary
// does not link client-go); the tests may use it.
func TestNoClientGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/edgehive/edgehive/meta/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "k8s.io/client-go") || strings.HasPrefix(p, "k8s.io/api/") || strings.Contains(p, "websocket") {
			t.Errorf("meta links %s", p)
		}
	}
}
