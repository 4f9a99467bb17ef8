package controller

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the edge side light: controller/api (what edge modules import) is the standard
// library only; the controller itself imports no edge module (edged would link the CRI runtime into the
// cloud) and no transport.
func TestDependencies(t *testing.T) {
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	if d := deps("./api"); len(d) != 1 || d[0] != "github.com/edgehive/edgehive/controller/api" {
		t.Errorf("controller/api must import only the standard library; it depends on %v", d)
	}
	d := deps(".")
	if len(d) < 10 {
		t.Fatalf("go list found %d dependencies of controller; the check is blind", len(d))
	}
	for _, p := range d {
		for _, banned := range []string{"edgehive/edged", "edgehive/twin", "edgehive/meta", "edgehive/eventbus", "websocket", "grpc", "sqlite"} {
			if strings.Contains(p, banned) {
				t.Errorf("controller must not depend on %s; it imports %s", banned, p)
			}
		}
	}
}
