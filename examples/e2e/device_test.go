package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/edgehive/edgehive/controller/crds"
)

const deviceName = "thermostat"

// testDevice applies KubeEdge's sample DeviceModel and Device (bound to the edge node), then plays the
// mapper over the edge's MQTT broker: the desired target-temperature reaches the device's twin on the
// edge (twin/get), and a reported temperature reaches the Device's status.twins in the API server.
func testDevice(t *testing.T, c *cluster) {
	ctx := t.Context()
	dyn, err := dynamic.NewForConfig(c.kube.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"thermostat-model.yaml", "thermostat.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "controller", "crds", "samples", f))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := crds.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			res := crds.DeviceModelResource()
			if o.GetKind() == "Device" {
				res = crds.DeviceResource()
				if err := unstructured.SetNestedField(o.Object, nodeName, "spec", "nodeName"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := dyn.Resource(res).Namespace(namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s: %v", o.GetKind(), err)
			}
		}
	}

	m := newMapper(t, c.mqttAddr)
	base := "$hw/events/device/" + namespace + "/" + deviceName
	eventually(t, 30*time.Second, "desired target-temperature on the edge's twin", func(ctx context.Context) error {
		got, err := m.request(ctx, base+"/twin/get", base+"/twin/get/result", `{"event_id":"get-1","timestamp":1}`)
		if err != nil {
			return err
		}
		if !strings.Contains(got, `"target-temperature"`) || !strings.Contains(got, `"21"`) {
			return fmt.Errorf("twin/get/result: %s", got)
		}
		return nil
	})
	c.reportTemperature(t, "23")
	eventually(t, 30*time.Second, "reported temperature in the Device's status", c.deviceReported("23"))
}

// reportTemperature reports the device's temperature as its mapper would, and checks the answer.
func (c *cluster) reportTemperature(t *testing.T, value string) {
	t.Helper()
	m := newMapper(t, c.mqttAddr)
	base := "$hw/events/device/" + namespace + "/" + deviceName
	update := `{"event_id":"up-` + value + `","timestamp":2,"twin":{"temperature":{"actual":{"value":"` + value +
		`"},"metadata":{"type":"int"}}}}`
	eventually(t, 20*time.Second, "twin/update answered", func(ctx context.Context) error {
		got, err := m.request(ctx, base+"/twin/update", base+"/twin/update/result", update)
		if err == nil && strings.Contains(got, `"code"`) {
			err = fmt.Errorf("twin/update/result: %s", got)
		}
		return err
	})
}

// deviceReported returns a condition: the Device's status.twins holds the reported temperature value.
func (c *cluster) deviceReported(value string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		dyn, err := dynamic.NewForConfig(c.kube.RESTConfig())
		if err != nil {
			return err
		}
		d, err := dyn.Resource(crds.DeviceResource()).Namespace(namespace).Get(ctx, deviceName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		twins, _, _ := unstructured.NestedSlice(d.Object, "status", "twins")
		for _, tw := range twins {
			m, _ := tw.(map[string]any)
			v, _, _ := unstructured.NestedString(m, "reported", "value")
			if m["propertyName"] == "temperature" && v == value {
				return nil
			}
		}
		b, _ := json.Marshal(d.Object["status"])
		return fmt.Errorf("status: %s", b)
	}
}

// mapper is a minimal MQTT client playing a device's mapper.
type mapper struct {
	client mqtt.Client
	mu     sync.Mutex
	subs   map[string]chan string
}

func newMapper(t *testing.T, addr string) *mapper {
	t.Helper()
	m := &mapper{subs: map[string]chan string{}}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("e2e-mapper-%d", time.Now().UnixNano())).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(true)
	m.client = mqtt.NewClient(opts)
	if tok := m.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect %s: %v", addr, tok.Error())
	}
	t.Cleanup(func() { m.client.Disconnect(100) })
	return m
}

// request subscribes to answer (once), publishes payload on topic and returns the first answer.
func (m *mapper) request(ctx context.Context, topic, answer, payload string) (string, error) {
	m.mu.Lock()
	ch, ok := m.subs[answer]
	if !ok {
		ch = make(chan string, 16)
		m.subs[answer] = ch
	}
	m.mu.Unlock()
	if !ok {
		tok := m.client.Subscribe(answer, 1, func(_ mqtt.Client, msg mqtt.Message) {
			select {
			case ch <- string(msg.Payload()):
			default:
			}
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			return "", fmt.Errorf("subscribe %s: %v", answer, tok.Error())
		}
	}
	for len(ch) > 0 {
		<-ch
	}
	if tok := m.client.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return "", fmt.Errorf("publish %s: %v", topic, tok.Error())
	}
	select {
	case got := <-ch:
		return got, nil
	case <-time.After(3 * time.Second):
		return "", fmt.Errorf("no answer on %s", answer)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
