package meta

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// The message contract of the meta module (see doc.go for the full statement).
const (
	// DefaultModuleName is the module's name: send writes and queries to "meta".
	DefaultModuleName = "meta"
	// DefaultHubModule is the module the meta module asks for objects it lacks (the edge hub).
	DefaultHubModule = "edgehub"

	// OpCloudConnected tells the meta module that the link to the cloud is up. The edge hub sends it
	// (Send to "meta", or SendToGroup(beehive.GroupMeta)) each time it connects; no content.
	OpCloudConnected beehive.Operation = "cloud-connected"
	// OpCloudDisconnected tells the meta module that the link is down. The module starts disconnected.
	OpCloudDisconnected beehive.Operation = "cloud-disconnected"
)

// Query is a parsed OpQuery resource. A Resource of the form "<namespace>/<kind>/<name>" gets one object;
// "<namespace>/<kind>/" (an empty name) lists the kind in that namespace, and "/<kind>/" lists it in every
// namespace (or the cluster-scoped objects of a cluster-scoped kind).
type Query struct {
	// Key is the object of a get; its Name is empty for a list.
	Key hub.Key
	// List is true for a list.
	List bool
}

// ParseQuery parses the Resource of an OpQuery message. Errors wrap ErrBadQuery (and hub.ErrBadKey).
func ParseQuery(resource string) (Query, error) {
	if strings.HasSuffix(resource, "/") && strings.Count(resource, "/") == 2 {
		i := strings.IndexByte(resource, '/')
		ns, kind := resource[:i], hub.Kind(resource[i+1:len(resource)-1])
		// Validate both parts with a stand-in name.
		probe := hub.Key{Namespace: ns, Kind: kind, Name: "x"}
		if err := probe.Validate(); err != nil && !(ns == "" && kind.Known()) {
			return Query{}, fmt.Errorf("%w %q: %w", ErrBadQuery, resource, err)
		}
		if kind.ClusterScoped() && ns != "" {
			return Query{}, fmt.Errorf("%w %q: kind %s is cluster-scoped", ErrBadQuery, resource, kind)
		}
		return Query{Key: hub.Key{Namespace: ns, Kind: kind}, List: true}, nil
	}
	k, err := hub.ParseKey(resource)
	if err != nil {
		return Query{}, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	return Query{Key: k}, nil
}

// String returns the Resource form of q.
func (q Query) String() string {
	if q.List {
		return q.Key.Namespace + "/" + string(q.Key.Kind) + "/"
	}
	return q.Key.String()
}

// contentBytes returns the bytes of a message content: []byte, json.RawMessage or string; nil for nil.
func contentBytes(c any) ([]byte, bool) {
	switch v := c.(type) {
	case nil:
		return nil, true
	case []byte:
		return v, true
	case json.RawMessage:
		return v, true
	case string:
		return []byte(v), true
	}
	return nil, false
}

// objectVersion returns metadata.resourceVersion of a JSON object, or "".
func objectVersion(value []byte) string {
	var o struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(value, &o)
	return o.Metadata.ResourceVersion
}

// encodeList renders objects as the JSON array of their values: the content of a list answer.
func encodeList(items []Object) []byte {
	n := 2
	for _, o := range items {
		n += len(o.Value) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, o := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o.Value...)
	}
	return append(b, ']')
}
