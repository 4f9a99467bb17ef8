package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/hub"
)

// item is one object a node should hold, before it is encoded.
type item struct {
	key hub.Key
	rv  string
	obj any // *corev1.Node, *corev1.Pod, *corev1.ConfigMap, *corev1.Secret, *unstructured.Unstructured or api.Membership
}

// items lists what node should hold, sorted by key: nothing if node is not an edge node; otherwise its
// Node, the pods bound to it, the ConfigMaps and Secrets they use (those that exist), and with the
// device controller its devices, their models and its membership (if it has devices).
func (cs *caches) items(node hub.NodeName) []item {
	n, ok := cs.node(string(node))
	if !ok {
		return nil
	}
	out := []item{{key: node.Key(), rv: n.ResourceVersion, obj: n}}
	pods, _ := cs.pods.ByIndex(indexNode, string(node))
	cms := map[string]struct{}{}
	secrets := map[string]struct{}{}
	for _, o := range pods {
		p := o.(*corev1.Pod)
		out = append(out, item{key: hub.Key{Namespace: p.Namespace, Kind: hub.KindPod, Name: p.Name}, rv: p.ResourceVersion, obj: p})
		refs := PodReferences(p)
		for _, name := range refs.ConfigMaps {
			cms[p.Namespace+"/"+name] = struct{}{}
		}
		for _, name := range refs.Secrets {
			secrets[p.Namespace+"/"+name] = struct{}{}
		}
	}
	out = appendRefs(out, cs.configMaps, cms, hub.KindConfigMap)
	out = appendRefs(out, cs.secrets, secrets, hub.KindSecret)
	if cs.devices != nil {
		out = cs.deviceItems(out, node)
	}
	slices.SortFunc(out, func(a, b item) int { return compareKeys(a.key, b.key) })
	return out
}

// appendRefs appends the objects of store named by refs ("<namespace>/<name>") that exist.
func appendRefs(out []item, store interface {
	GetByKey(string) (any, bool, error)
}, refs map[string]struct{}, kind hub.Kind) []item {
	for ref := range refs {
		o, ok, _ := store.GetByKey(ref)
		if !ok {
			continue
		}
		ns, name, _ := strings.Cut(ref, "/")
		out = append(out, item{key: hub.Key{Namespace: ns, Kind: kind, Name: name}, rv: resourceVersion(o), obj: o})
	}
	return out
}

// deviceItems appends node's devices, the DeviceModels they use and its membership.
func (cs *caches) deviceItems(out []item, node hub.NodeName) []item {
	devs, _ := cs.devices.ByIndex(indexNode, string(node))
	if len(devs) == 0 {
		return out
	}
	m := api.Membership{Node: string(node)}
	models := map[string]struct{}{}
	for _, o := range devs {
		d := o.(*unstructured.Unstructured)
		out = append(out, item{key: hub.Key{Namespace: d.GetNamespace(), Kind: hub.KindDevice, Name: d.GetName()}, rv: d.GetResourceVersion(), obj: d})
		m.Devices = append(m.Devices, d.GetNamespace()+"/"+d.GetName())
		if name := deviceModelName(d); name != "" {
			models[d.GetNamespace()+"/"+name] = struct{}{}
		}
	}
	out = appendRefs(out, cs.models, models, hub.KindDeviceModel)
	slices.Sort(m.Devices)
	return append(out, item{key: hub.Key{Kind: hub.KindMembership, Name: string(node)}, rv: membershipVersion(m.Devices), obj: m})
}

// membershipVersion is the resourceVersion of a membership: a hash of its device ids, as an opaque
// string that changes when the list does.
func membershipVersion(ids []string) string {
	h := fnv.New64a()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return "m" + strconv.FormatUint(h.Sum64(), 36)
}

func resourceVersion(o any) string {
	if m, ok := o.(interface{ GetResourceVersion() string }); ok {
		return m.GetResourceVersion()
	}
	return ""
}

// encode returns the JSON of an item's object, with apiVersion and kind set (informers leave them empty
// on typed objects). Managed fields are already stripped by the informers' transform.
func encode(obj any) ([]byte, error) {
	var b []byte
	var err error
	switch o := obj.(type) {
	case *corev1.Node:
		c := *o
		c.APIVersion, c.Kind = "v1", "Node"
		b, err = json.Marshal(&c)
	case *corev1.Pod:
		c := *o
		c.APIVersion, c.Kind = "v1", "Pod"
		b, err = json.Marshal(&c)
	case *corev1.ConfigMap:
		c := *o
		c.APIVersion, c.Kind = "v1", "ConfigMap"
		b, err = json.Marshal(&c)
	case *corev1.Secret:
		c := *o
		c.APIVersion, c.Kind = "v1", "Secret"
		b, err = json.Marshal(&c)
	case *unstructured.Unstructured:
		b, err = o.MarshalJSON()
	case api.Membership:
		b, err = json.Marshal(o)
	default:
		return nil, fmt.Errorf("controller: cannot encode %T", obj)
	}
	if err != nil {
		return nil, fmt.Errorf("controller: encode: %w", err)
	}
	return b, nil
}

// Desired implements hub.DesiredState: every object node should hold, sorted by key, each with its
// resourceVersion and JSON. It answers from the informer caches (ErrNotRunning before they synced).
func (c *EdgeController) Desired(ctx context.Context, node hub.NodeName) ([]hub.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cs, err := c.caches()
	if err != nil {
		return nil, err
	}
	items := cs.items(node)
	out := make([]hub.Object, 0, len(items))
	for _, it := range items {
		b, err := encode(it.obj)
		if err != nil {
			return nil, err
		}
		out = append(out, hub.Object{Key: it.key, ResourceVersion: it.rv, Content: b})
	}
	return out, nil
}

// Get implements hub.DesiredState: the object node should hold under key, if any.
func (c *EdgeController) Get(ctx context.Context, node hub.NodeName, key hub.Key) (hub.Object, bool, error) {
	if err := ctx.Err(); err != nil {
		return hub.Object{}, false, err
	}
	cs, err := c.caches()
	if err != nil {
		return hub.Object{}, false, err
	}
	for _, it := range cs.items(node) {
		if it.key == key {
			b, err := encode(it.obj)
			if err != nil {
				return hub.Object{}, false, err
			}
			return hub.Object{Key: key, ResourceVersion: it.rv, Content: b}, true, nil
		}
	}
	return hub.Object{}, false, nil
}

// compareKeys orders keys by namespace, kind and name, as hub.Diff does.
func compareKeys(a, b hub.Key) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
