package api

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLightDependencies: the contract links nothing but beehive and the standard library, so that a
// module can talk to the eventbus without linking an MQTT client.
func TestLightDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/edgehive/edgehive/beehive":      true,
		"github.com/edgehive/edgehive/eventbus/api": true,
	}
	for _, d := range strings.Fields(string(out)) {
		if !allowed[d] {
			t.Errorf("eventbus/api depends on %s", d)
		}
	}
}
