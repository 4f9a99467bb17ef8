package twin

import (
	"os/exec"
	"strings"
	"testing"
)

// The store is embeddable alone: no beehive, network transport, MQTT, gRPC or Kubernetes package.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	sawSQLite := false
	for _, dep := range deps {
		l := strings.ToLower(dep)
		for _, bad := range []string{"websocket", "mqtt", "mochi", "google.golang.org/grpc", "k8s.io/",
			"edgehive/edgehive/beehive", "edgehive/edgehive/hub", "edgehive/edgehive/eventbus"} {
			if strings.Contains(l, bad) {
				t.Errorf("twin depends on %s", dep)
			}
		}
		sawSQLite = sawSQLite || dep == "github.com/mattn/go-sqlite3"
	}
	if !sawSQLite {
		t.Fatalf("go list found no mattn/go-sqlite3 among %d dependencies; the check is blind", len(deps))
	}
}
