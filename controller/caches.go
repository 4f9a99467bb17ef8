package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/dynamic/dynamicinformer"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/edgehive/edgehive/controller/crds"
	"github.com/edgehive/edgehive/hub"
)

// Index names of the caches.
const (
	indexNode      = "node"      // pods and devices by spec.nodeName
	indexConfigMap = "configmap" // pods by "<namespace>/<name>" of each ConfigMap they use
	indexSecret    = "secret"    // pods by "<namespace>/<name>" of each Secret they use
	indexModel     = "model"     // devices by "<namespace>/<name>" of their DeviceModel
)

// caches are the informer stores of one Run. devices and models are nil without the device controller.
type caches struct {
	nodes, pods, configMaps, secrets cache.Indexer
	devices, models                  cache.Indexer
}

// newCaches builds the informers of one Run, wired to enqueue the nodes each event concerns into q.
func (c *EdgeController) newCaches(q workqueue.TypedInterface[hub.NodeName]) (*caches, []cache.SharedIndexInformer, error) {
	client, resync := c.cfg.Client, c.cfg.ResyncPeriod
	edge, err := labels.NewRequirement(c.cfg.EdgeLabel, selection.Exists, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: edge label: %w", ErrInvalidConfig, err)
	}
	nodeInf := coreinformers.NewFilteredNodeInformer(client, resync, cache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = labels.NewSelector().Add(*edge).String() })
	podInf := coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, resync, cache.Indexers{
		indexNode:      podNodeIndex,
		indexConfigMap: podRefIndex(func(r References) []string { return r.ConfigMaps }),
		indexSecret:    podRefIndex(func(r References) []string { return r.Secrets }),
	}, func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" })
	cmInf := coreinformers.NewConfigMapInformer(client, metav1.NamespaceAll, resync, cache.Indexers{})
	secInf := coreinformers.NewSecretInformer(client, metav1.NamespaceAll, resync, cache.Indexers{})
	infs := []cache.SharedIndexInformer{nodeInf, podInf, cmInf, secInf}
	cs := &caches{nodes: nodeInf.GetIndexer(), pods: podInf.GetIndexer(), configMaps: cmInf.GetIndexer(), secrets: secInf.GetIndexer()}

	enqueue := func(names ...string) {
		for _, n := range names {
			if n != "" {
				q.Add(hub.NodeName(n))
			}
		}
	}
	// byIndex enqueues the nodes of the pods (or devices) in idx under key.
	byIndex := func(idx cache.Indexer, name, key string, nodeOf func(any) string) {
		objs, _ := idx.ByIndex(name, key)
		for _, o := range objs {
			enqueue(nodeOf(o))
		}
	}
	podNode := func(o any) string { return o.(*corev1.Pod).Spec.NodeName }

	handlers := []informerNodes{
		{nodeInf, func(o any) { enqueue(objectName(o)) }},
		{podInf, func(o any) {
			if p, ok := o.(*corev1.Pod); ok {
				enqueue(p.Spec.NodeName)
			}
		}},
		{cmInf, func(o any) { byIndex(cs.pods, indexConfigMap, objectKey(o), podNode) }},
		{secInf, func(o any) { byIndex(cs.pods, indexSecret, objectKey(o), podNode) }},
	}

	if c.DevicesEnabled() {
		devInf := dynamicinformer.NewFilteredDynamicInformer(c.cfg.Dynamic, crds.DeviceResource(), metav1.NamespaceAll,
			resync, cache.Indexers{indexNode: deviceNodeIndex, indexModel: deviceModelIndex}, nil).Informer()
		modelInf := dynamicinformer.NewFilteredDynamicInformer(c.cfg.Dynamic, crds.DeviceModelResource(),
			metav1.NamespaceAll, resync, cache.Indexers{}, nil).Informer()
		cs.devices, cs.models = devInf.GetIndexer(), modelInf.GetIndexer()
		infs = append(infs, devInf, modelInf)
		devNode := func(o any) string { return deviceNodeName(o.(*unstructured.Unstructured)) }
		handlers = append(handlers,
			informerNodes{devInf, func(o any) {
				if d, ok := o.(*unstructured.Unstructured); ok {
					enqueue(deviceNodeName(d))
				}
			}},
			informerNodes{modelInf, func(o any) { byIndex(cs.devices, indexModel, objectKey(o), devNode) }},
		)
	}

	for _, h := range handlers {
		if err := h.inf.SetTransform(stripManagedFields); err != nil {
			return nil, nil, fmt.Errorf("controller: informer transform: %w", err)
		}
		nodes := h.nodes
		_, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) { nodes(o) },
			UpdateFunc: func(old, cur any) {
				nodes(old)
				nodes(cur)
			},
			DeleteFunc: func(o any) {
				if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				nodes(o)
			},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("controller: informer handler: %w", err)
		}
	}
	return cs, infs, nil
}

// informerNodes pairs an informer with the function that enqueues the nodes an object of it concerns.
type informerNodes struct {
	inf   cache.SharedIndexInformer
	nodes func(obj any)
}

// stripManagedFields drops managed fields from objects before they are cached: nobody on the edge reads
// them, and they are often the largest part of an object.
func stripManagedFields(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return o, nil
}

// objectName returns the name of a Kubernetes object, "" for anything else.
func objectName(o any) string {
	if m, ok := o.(metav1.Object); ok {
		return m.GetName()
	}
	return ""
}

// objectKey returns "<namespace>/<name>" of a Kubernetes object, "" for anything else.
func objectKey(o any) string {
	if m, ok := o.(metav1.Object); ok {
		return m.GetNamespace() + "/" + m.GetName()
	}
	return ""
}

func podNodeIndex(o any) ([]string, error) {
	p, ok := o.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{p.Spec.NodeName}, nil
}

func podRefIndex(pick func(References) []string) cache.IndexFunc {
	return func(o any) ([]string, error) {
		p, ok := o.(*corev1.Pod)
		if !ok {
			return nil, nil
		}
		names := pick(PodReferences(p))
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = p.Namespace + "/" + n
		}
		return out, nil
	}
}

func deviceNodeIndex(o any) ([]string, error) {
	d, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	if n := deviceNodeName(d); n != "" {
		return []string{n}, nil
	}
	return nil, nil
}

func deviceModelIndex(o any) ([]string, error) {
	d, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	if m := deviceModelName(d); m != "" {
		return []string{d.GetNamespace() + "/" + m}, nil
	}
	return nil, nil
}

// deviceNodeName returns a Device's spec.nodeName.
func deviceNodeName(d *unstructured.Unstructured) string {
	n, _, _ := unstructured.NestedString(d.Object, "spec", "nodeName")
	return n
}

// deviceModelName returns a Device's spec.deviceModelRef.name.
func deviceModelName(d *unstructured.Unstructured) string {
	n, _, _ := unstructured.NestedString(d.Object, "spec", "deviceModelRef", "name")
	return n
}

// pod returns the cached pod namespace/name.
func (cs *caches) pod(namespace, name string) (*corev1.Pod, bool) {
	o, ok, _ := cs.pods.GetByKey(namespace + "/" + name)
	if !ok {
		return nil, false
	}
	p, ok := o.(*corev1.Pod)
	return p, ok
}

// node returns the cached edge node name.
func (cs *caches) node(name string) (*corev1.Node, bool) {
	o, ok, _ := cs.nodes.GetByKey(name)
	if !ok {
		return nil, false
	}
	n, ok := o.(*corev1.Node)
	return n, ok
}

// device returns the cached device namespace/name.
func (cs *caches) device(namespace, name string) (*unstructured.Unstructured, bool) {
	if cs.devices == nil {
		return nil, false
	}
	o, ok, _ := cs.devices.GetByKey(namespace + "/" + name)
	if !ok {
		return nil, false
	}
	d, ok := o.(*unstructured.Unstructured)
	return d, ok
}
