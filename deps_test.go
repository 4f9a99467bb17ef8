package edgehive_test

import (
	"os/exec"
	"strings"
	"testing"
)

// nonStdDeps lists the packages outside the standard library that pkg (a ./path) depends on, itself and
// the module's other packages included.
func nonStdDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	self := "github.com/edgehive/edgehive/" + strings.TrimPrefix(pkg, "./")
	var deps []string
	for _, d := range strings.Fields(string(out)) {
		if d != self {
			deps = append(deps, d)
		}
	}
	return deps
}

// TestDependencyRules checks the import rules of DESIGN.md that keep the SDK light.
func TestDependencyRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	if deps := nonStdDeps(t, "./beehive"); len(deps) != 0 {
		t.Errorf("beehive must import only the standard library; it imports %v", deps)
	}
	// The twin store is what firmware embeds alone: no network, MQTT, gRPC, Kubernetes or beehive.
	for _, d := range nonStdDeps(t, "./twin") {
		for _, banned := range []string{"websocket", "paho", "mochi", "google.golang.org/grpc", "k8s.io/", "edgehive/beehive"} {
			if strings.Contains(d, banned) {
				t.Errorf("twin (the store) must not depend on %s; it imports %s", banned, d)
			}
		}
	}
	// The rule can fail: the test harness does import a non-standard package (paho).
	if deps := nonStdDeps(t, "./internal/testenv"); len(deps) == 0 {
		t.Errorf("go list found no non-standard dependency of internal/testenv; the check is blind")
	}
}
