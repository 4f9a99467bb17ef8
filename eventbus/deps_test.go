package eventbus

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the bus links the MQTT client but not the broker library (an edge process that
// uses mosquitto does not carry the embedded broker), and its contract package links neither.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	deps := func(pkg string) string {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		return string(out)
	}
	bus := deps(".")
	if !strings.Contains(bus, "github.com/eclipse/paho.mqtt.golang") {
		t.Error("the check is blind: the eventbus does not list paho")
	}
	if strings.Contains(bus, "mochi-mqtt") {
		t.Error("the eventbus links the broker library")
	}
	if api := deps("./api"); strings.Contains(api, "paho") || strings.Contains(api, "mochi-mqtt") {
		t.Error("eventbus/api links an MQTT library")
	}
}
