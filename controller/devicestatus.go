package controller

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"

	"github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/controller/crds"
	"github.com/edgehive/edgehive/hub"
)

// updateDeviceStatus merges a device's reported twins (api.DeviceStatus JSON) into its status, through
// the status subresource, or the object itself if the CRD has none (KubeEdge's own CRD may not).
func (c *EdgeController) updateDeviceStatus(ctx context.Context, key hub.Key, content []byte) error {
	if !c.DevicesEnabled() {
		return ErrDevicesDisabled
	}
	var ds api.DeviceStatus
	if err := decodeContent(content, &ds); err != nil {
		return err
	}
	for _, t := range ds.Twins {
		if t.PropertyName == "" {
			return fmt.Errorf("%w: twin without propertyName", ErrBadContent)
		}
	}
	res := c.cfg.Dynamic.Resource(crds.DeviceResource()).Namespace(key.Namespace)
	gone := func() error { return fmt.Errorf("%w: device %s/%s", ErrGone, key.Namespace, key.Name) }
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d *unstructured.Unstructured
		if cs := c.cur.Load(); first && cs != nil {
			d, _ = cs.device(key.Namespace, key.Name)
		}
		first = false
		if d == nil {
			got, err := res.Get(ctx, key.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return gone()
			}
			if err != nil {
				return err
			}
			d = got
		}
		d = d.DeepCopy()
		if err := MergeDeviceStatus(d, ds); err != nil {
			return err
		}
		opts := metav1.UpdateOptions{FieldManager: c.cfg.FieldManager}
		_, err := res.UpdateStatus(ctx, d, opts)
		if apierrors.IsNotFound(err) {
			// No status subresource, or the device is gone: the object itself tells which.
			_, err = res.Update(ctx, d, opts)
		}
		if apierrors.IsNotFound(err) {
			return gone()
		}
		return err
	})
}

// MergeDeviceStatus merges ds into the status of the Device d (in place): each reported twin replaces
// the twin of the same propertyName in status.twins or is appended; state and lastOnlineTime are set
// when ds has them. Other status fields are kept.
func MergeDeviceStatus(d *unstructured.Unstructured, ds api.DeviceStatus) error {
	twins, _, err := unstructured.NestedSlice(d.Object, "status", "twins")
	if err != nil {
		twins = nil // a malformed status is replaced
	}
	for _, t := range ds.Twins {
		v, err := toJSONValue(t)
		if err != nil {
			return err
		}
		i := -1
		for j, cur := range twins {
			if m, ok := cur.(map[string]any); ok && m["propertyName"] == t.PropertyName {
				i = j
				break
			}
		}
		if i >= 0 {
			twins[i] = v
		} else {
			twins = append(twins, v)
		}
	}
	if err := unstructured.SetNestedSlice(d.Object, twins, "status", "twins"); err != nil {
		return fmt.Errorf("controller: device status: %w", err)
	}
	for field, v := range map[string]string{"state": ds.State, "lastOnlineTime": ds.LastOnlineTime} {
		if v != "" {
			if err := unstructured.SetNestedField(d.Object, v, "status", field); err != nil {
				return fmt.Errorf("controller: device status: %w", err)
			}
		}
	}
	return nil
}

// toJSONValue converts v to the map[string]any form of unstructured objects.
func toJSONValue(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(b, &m)
	return m, err
}
