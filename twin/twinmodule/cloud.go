package twinmodule

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/edgehive/edgehive/beehive"
	capi "github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/twin"
)

// deviceObject is the part of a devices.kubeedge.io/v1beta1 Device the module reads.
type deviceObject struct {
	Metadata struct {
		Generation int64 `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		DeviceModelRef *struct {
			Name string `json:"name"`
		} `json:"deviceModelRef"`
		NodeName   string `json:"nodeName"`
		Properties []struct {
			Name    string `json:"name"`
			Desired *struct {
				Value    string            `json:"value"`
				Metadata map[string]string `json:"metadata"`
			} `json:"desired"`
		} `json:"properties"`
	} `json:"spec"`
}

// deviceModelObject is the part of a devices.kubeedge.io/v1beta1 DeviceModel the module reads.
type deviceModelObject struct {
	Spec struct {
		Properties []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"properties"`
	} `json:"spec"`
}

// twinType maps a DeviceModel property type (INT, FLOAT, DOUBLE, BOOLEAN, STRING, BYTES, STREAM) or a
// desired value's metadata.type to a twin type; "" (string) for anything else.
func twinType(s string) string {
	switch t := strings.ToLower(s); t {
	case "int", "integer", "float", "double", "boolean", "string", "bytes":
		return t
	case "bool":
		return "boolean"
	case "stream":
		return "bytes"
	}
	return ""
}

// handleCloud applies a Device, DeviceModel or Membership message from the edge hub. It returns after
// the store committed (the caller then answers a sync request: the hub's acknowledgement).
func (m *Module) handleCloud(ctx context.Context, c *beehive.Context, msg beehive.Message) error {
	key, err := hub.ParseKey(msg.Router.Resource)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadObject, err)
	}
	content, ok := payloadBytes(msg.Content)
	if !ok {
		return fmt.Errorf("%w: content is %T, want JSON bytes", ErrBadObject, msg.Content)
	}
	del := msg.Router.Operation == beehive.OpDelete
	switch key.Kind {
	case hub.KindDevice:
		id := twin.DeviceID(key.Namespace, key.Name)
		if del {
			return m.deleteDevice(ctx, id)
		}
		return m.applyDevice(ctx, c, key, content)
	case hub.KindDeviceModel:
		model := key.Namespace + "/" + key.Name
		if del {
			m.mu.Lock()
			delete(m.models, model)
			m.mu.Unlock()
			return nil
		}
		var dm deviceModelObject
		if err := json.Unmarshal(content, &dm); err != nil {
			return fmt.Errorf("%w: device model %s: %w", ErrBadObject, model, err)
		}
		types := make(map[string]string, len(dm.Spec.Properties))
		for _, p := range dm.Spec.Properties {
			types[p.Name] = twinType(p.Type)
		}
		m.mu.Lock()
		m.models[model] = types
		m.mu.Unlock()
		return nil
	case hub.KindMembership:
		if del {
			return nil
		}
		return m.applyMembership(ctx, key, content)
	}
	return fmt.Errorf("%w: kind %q is not the twin module's", ErrBadObject, key.Kind)
}

func (m *Module) deleteDevice(ctx context.Context, id string) error {
	if err := m.cfg.Store.DeleteDevice(ctx, id); err != nil && !isNotFound(err) {
		return err
	}
	m.up.forget(id)
	return nil
}

// applyDevice stores the device's twins (one per spec property, plus the optional twins devices created
// over MQTT) and then the desired values of its spec, by the rules of the package documentation.
func (m *Module) applyDevice(ctx context.Context, c *beehive.Context, key hub.Key, content []byte) error {
	id := twin.DeviceID(key.Namespace, key.Name)
	var obj deviceObject
	if err := json.Unmarshal(content, &obj); err != nil {
		return fmt.Errorf("%w: device %s: %w", ErrBadObject, id, err)
	}
	if m.cfg.NodeName != "" && obj.Spec.NodeName != "" && obj.Spec.NodeName != m.cfg.NodeName {
		m.cfg.Logger.Info("twinmodule: device bound to another node, removed", "device", id, "node", obj.Spec.NodeName)
		return m.deleteDevice(ctx, id)
	}
	old, err := m.cfg.Store.GetDevice(ctx, id)
	isNew := isNotFound(err)
	if err != nil && !isNew {
		return err
	}
	var modelTypes map[string]string
	if ref := obj.Spec.DeviceModelRef; ref != nil {
		m.mu.Lock()
		modelTypes = m.models[key.Namespace+"/"+ref.Name]
		m.mu.Unlock()
	}
	device := twin.Device{Namespace: key.Namespace, Name: key.Name, Description: old.Description, Attributes: old.Attributes}
	inSpec := map[string]bool{}
	type desired struct{ name, typ, value string }
	var want []desired
	for _, p := range obj.Spec.Properties {
		if !twin.ValidTwinName(p.Name) || inSpec[p.Name] {
			m.cfg.Logger.Warn("twinmodule: property skipped: bad or repeated name", "device", id, "property", p.Name)
			continue
		}
		inSpec[p.Name] = true
		cur, exists := old.Twin(p.Name)
		typ := ""
		switch {
		case p.Desired != nil && twinType(p.Desired.Metadata["type"]) != "":
			typ = twinType(p.Desired.Metadata["type"])
		case modelTypes[p.Name] != "":
			typ = modelTypes[p.Name]
		case exists:
			typ = cur.Type
		}
		if exists && (twin.CheckValue(typ, cur.Desired.Value) != nil || twin.CheckValue(typ, cur.Reported.Value) != nil) {
			m.cfg.Logger.Warn("twinmodule: type change refused: stored values do not fit", "device", id,
				"property", p.Name, "type", typ, "kept", cur.Type)
			typ = cur.Type
		}
		device.Twins = append(device.Twins, twin.Twin{Name: p.Name, Type: typ})
		if p.Desired != nil && p.Desired.Value != "" {
			want = append(want, desired{p.Name, typ, p.Desired.Value})
		}
	}
	for _, t := range old.Twins { // twins created by devices over MQTT stay
		if t.Optional && !inSpec[t.Name] {
			device.Twins = append(device.Twins, twin.Twin{Name: t.Name, Type: t.Type, Optional: true})
		}
	}
	if err := m.cfg.Store.PutDevice(ctx, device); err != nil {
		return err
	}
	gen := obj.Metadata.Generation
	var changes []twin.Change
	for _, w := range want {
		if err := twin.CheckValue(w.typ, w.value); err != nil {
			m.cfg.Logger.Warn("twinmodule: desired value skipped", "device", id, "property", w.name, "err", err)
			continue
		}
		cur, _ := old.Twin(w.name)
		v, ok := cloudVersion(cur, gen, w.value)
		if !ok {
			continue
		}
		changes = append(changes, twin.Change{DeviceID: id, Twin: w.name, Type: w.typ,
			Update: twin.Update{Source: twin.FromCloud, Value: w.value, Version: v}})
	}
	results, err := m.cfg.Store.Update(ctx, changes)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(results, func(r twin.Result) bool { return r.Outcome == twin.Applied }) {
		m.publishDevice(ctx, c, id, twin.KindTwinUpdateDocument, twin.NewTwinDocument(m.base(""), results))
		m.publishDelta(ctx, c, reqDev{id: id, topic: id}, "")
	}
	if isNew || len(results) > 0 {
		m.up.mark(id) // the cloud learns what the edge holds (observedDesired), conflicts included
	}
	return nil
}

// cloudVersion returns the version a cloud desired value is applied with, or false to leave the twin
// alone. With a generation (the Device's metadata.generation, which Kubernetes bumps on every spec
// change): a generation already applied is skipped, a newer one wins over desired values set on the
// edge before it arrived. Without one: a value equal to the desired value held is skipped, another one
// wins.
func cloudVersion(cur twin.Twin, gen int64, value string) (twin.Version, bool) {
	dv := cur.Desired.Version
	switch {
	case gen > 0 && gen <= dv.Cloud:
		return twin.Version{}, false
	case gen > 0:
		return twin.Version{Cloud: gen, Edge: dv.Edge}, true
	case value == cur.Desired.Value:
		return twin.Version{}, false
	}
	return twin.Version{Cloud: dv.Cloud + 1, Edge: dv.Edge}, true
}

// applyMembership removes the devices that are no longer bound to this node. Devices new to the node
// come as their own Device messages.
func (m *Module) applyMembership(ctx context.Context, key hub.Key, content []byte) error {
	var mem capi.Membership
	if err := json.Unmarshal(content, &mem); err != nil {
		return fmt.Errorf("%w: membership %s: %w", ErrBadObject, key.Name, err)
	}
	if m.cfg.NodeName != "" && key.Name != m.cfg.NodeName {
		return fmt.Errorf("%w: membership of node %s, this is %s", ErrBadObject, key.Name, m.cfg.NodeName)
	}
	bound := make(map[string]bool, len(mem.Devices))
	for _, id := range mem.Devices {
		bound[id] = true
	}
	devices, err := m.cfg.Store.ListDevices(ctx)
	if err != nil {
		return err
	}
	for _, d := range devices {
		if !bound[d.ID()] {
			if err := m.deleteDevice(ctx, d.ID()); err != nil {
				return err
			}
		}
	}
	return nil
}
