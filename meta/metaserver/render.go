package metaserver

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/edgehive/edgehive/meta"
)

// render returns obj's JSON as the server shows it: with kind and apiVersion set, metadata.name and
// metadata.namespace taken from its key when missing, and metadata.resourceVersion replaced by the
// store revision that wrote it (so that a client can watch from it; see doc.go).
func render(r *resource, obj meta.Object) (json.RawMessage, error) {
	members, ok := splitObject(obj.Value)
	if !ok {
		return nil, fmt.Errorf("stored object %s: not a JSON object", obj.Key)
	}
	var md map[string]json.RawMessage
	var out []byte
	for _, m := range members {
		if m.key == "metadata" {
			if err := json.Unmarshal(m.value, &md); err != nil {
				return nil, fmt.Errorf("stored object %s: metadata: %w", obj.Key, err)
			}
		}
	}
	if md == nil {
		md = make(map[string]json.RawMessage)
	}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	md["resourceVersion"] = str(strconv.FormatInt(obj.Revision, 10))
	if _, ok := md["name"]; !ok {
		md["name"] = str(obj.Key.Name)
	}
	if _, ok := md["namespace"]; !ok && obj.Key.Namespace != "" {
		md["namespace"] = str(obj.Key.Namespace)
	}
	mdb, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	out = make([]byte, 0, len(obj.Value)+len(mdb)+64)
	out = append(out, `{"kind":`...)
	out = append(out, str(r.kind)...)
	out = append(out, `,"apiVersion":`...)
	out = append(out, str(r.apiVersion())...)
	out = append(out, `,"metadata":`...)
	out = append(out, mdb...)
	for _, m := range members {
		switch m.key {
		case "kind", "apiVersion", "metadata":
			continue
		}
		k, _ := json.Marshal(m.key)
		out = append(out, ',')
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}

// objectFields returns the values of the field selector labels of r for obj.
func objectFields(r *resource, obj meta.Object) map[string]string {
	f := map[string]string{"metadata.name": obj.Key.Name, "metadata.namespace": obj.Key.Namespace}
	if len(r.fields) == 0 {
		return f
	}
	var o struct {
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
		Type string `json:"type"`
	}
	_ = json.Unmarshal(obj.Value, &o)
	switch r.hubKind {
	case "pod":
		f["spec.nodeName"] = o.Spec.NodeName
		f["status.phase"] = o.Status.Phase
	case "secret":
		f["type"] = o.Type
	}
	return f
}
