package crds

import (
	"os"
	"testing"
)

func TestObjects(t *testing.T) {
	objs, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"devices.devices.kubeedge.io", "devicemodels.devices.kubeedge.io"}
	if len(objs) != len(want) {
		t.Fatalf("%d objects, want %d", len(objs), len(want))
	}
	for i, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" || o.GetName() != want[i] {
			t.Errorf("object %d: %s %s", i, o.GetKind(), o.GetName())
		}
	}
}

func TestDecode(t *testing.T) {
	objs, err := Decode([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\n---\n{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"b\"}}\n"))
	if err != nil || len(objs) != 2 || objs[0].GetName() != "a" || objs[1].GetKind() != "Secret" {
		t.Fatalf("Decode: %v %v", objs, err)
	}
	if _, err := Decode([]byte("a: [")); err == nil {
		t.Fatal("Decode of broken YAML succeeded")
	}
}

func TestSamples(t *testing.T) {
	for _, f := range []string{"samples/thermostat-model.yaml", "samples/thermostat.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode(b)
		if err != nil || len(objs) != 1 || objs[0].GetAPIVersion() != Group+"/"+Version {
			t.Fatalf("%s: %v %v", f, objs, err)
		}
	}
}
