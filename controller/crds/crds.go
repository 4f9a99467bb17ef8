// Package crds ships the CustomResourceDefinitions of KubeEdge's device API (Device and DeviceModel in
// devices.kubeedge.io/v1beta1) and installs them.
//
// The manifests are edgehive's own, minimal but compatible with KubeEdge's: the fields the controller
// reads are typed, the protocol-specific parts keep unknown fields (x-kubernetes-preserve-unknown-fields),
// so that manifests written for KubeEdge apply unchanged. The Device CRD has a status subresource.
// samples/ holds a DeviceModel and a Device in KubeEdge's form.
//
// Ensure installs what is absent and waits until the API server has established it. It never changes a
// CRD that exists (it may be KubeEdge's own, which the controller also works with).
package crds

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// The device API.
const (
	Group   = "devices.kubeedge.io"
	Version = "v1beta1"
)

// DefaultPollInterval is how often Ensure checks whether a CRD is established.
const DefaultPollInterval = 50 * time.Millisecond

// ErrNotEstablished is returned by Ensure when a CRD did not become established before ctx ended.
var ErrNotEstablished = errors.New("crds: CRD not established")

//go:embed devices_v1beta1_device.yaml devices_v1beta1_devicemodel.yaml
var manifests embed.FS

// DeviceResource is the resource of Devices.
func DeviceResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: Group, Version: Version, Resource: "devices"}
}

// DeviceModelResource is the resource of DeviceModels.
func DeviceModelResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: Group, Version: Version, Resource: "devicemodels"}
}

// crdResource is the resource of CustomResourceDefinitions.
func crdResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
}

// Manifests returns the YAML of each CRD, the Device's first.
func Manifests() [][]byte {
	var out [][]byte
	for _, name := range []string{"devices_v1beta1_device.yaml", "devices_v1beta1_devicemodel.yaml"} {
		// The go:embed line names both files, so a missing one is a build error and ReadFile cannot fail.
		b, _ := manifests.ReadFile(name)
		out = append(out, b)
	}
	return out
}

// Objects returns the CRDs as unstructured objects.
func Objects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, m := range Manifests() {
		objs, err := Decode(m)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Decode decodes a YAML or JSON stream of one or more objects ("---"-separated) into unstructured
// objects, skipping empty documents.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("crds: decode: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Ensure creates each CRD that does not exist and waits, until ctx ends, for all of them to be
// established (their Established condition True). A CRD that exists is left as it is.
func Ensure(ctx context.Context, client dynamic.Interface) error {
	objs, err := Objects()
	if err != nil {
		return err
	}
	res := client.Resource(crdResource())
	for _, o := range objs {
		_, err := res.Create(ctx, o, metav1.CreateOptions{FieldManager: "edgehive"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("crds: create %s: %w", o.GetName(), err)
		}
	}
	t := time.NewTicker(DefaultPollInterval)
	defer t.Stop()
	for _, o := range objs {
		for {
			ok, err := established(ctx, client, o.GetName())
			if err != nil {
				return err
			}
			if ok {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %s: %w", ErrNotEstablished, o.GetName(), ctx.Err())
			case <-t.C:
			}
		}
	}
	return nil
}

// established reports whether the CRD name has condition Established True.
func established(ctx context.Context, client dynamic.Interface, name string) (bool, error) {
	crd, err := client.Resource(crdResource()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("crds: get %s: %w", name, err)
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true, nil
		}
	}
	return false, nil
}
