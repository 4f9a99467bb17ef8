package hub

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps hub light, as DESIGN.md requires: the standard library and beehive only (no
// websocket, no Kubernetes). hub/certs adds nothing but hub itself.
func TestDependencies(t *testing.T) {
	allowed := map[string]bool{
		"github.com/edgehive/edgehive/beehive":   true,
		"github.com/edgehive/edgehive/hub":       true,
		"github.com/edgehive/edgehive/hub/certs": true,
	}
	for _, pkg := range []string{".", "./certs"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list found no package for %s; the check is blind", pkg)
		}
		for _, d := range deps {
			if !allowed[d] {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
