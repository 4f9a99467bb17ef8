// Package controller is the cloud's view of Kubernetes for edge nodes: KubeEdge's edgecontroller and
// devicecontroller as one value, EdgeController, that a cloud binary wires to its hub.
//
// # What it does
//
// Downstream (Kubernetes → edge). Shared informers watch
//
//   - Nodes with the label node-role.kubernetes.io/edge (Config.EdgeLabel);
//   - Pods with a spec.nodeName (field selector spec.nodeName!=), of which those bound to an edge node count;
//   - ConfigMaps and Secrets; a node gets only those its pods use (PodReferences: volumes, projected
//     volumes, env valueFrom, envFrom, imagePullSecrets), and a delete when none of its pods uses one any
//     more;
//   - with Config.Dynamic set, Devices and DeviceModels of devices.kubeedge.io/v1beta1 (package crds
//     installs the CRDs unless Config.SkipCRDInstall): a node gets the Devices whose spec.nodeName it is,
//     their DeviceModels, and its membership ("/membership/<node>", content api.Membership).
//
// For every event the controller recomputes what the concerned nodes should hold (Desired) and sends
// each node the difference from what it sent it before (hub.Diff), through Downstream, one hub.Change
// per object: OpInsert or OpUpdate with the object's resourceVersion and JSON (apiVersion and kind set,
// managed fields stripped), or OpDelete with the version last sent. Changes of one pass are ordered so
// that a node gets a pod's ConfigMaps and Secrets before the pod, and the pod's delete before theirs.
// The desired value of a device property (spec.properties[].desired.value) travels inside the Device's
// JSON: a new desired value is a new version of the Device.
//
// Upstream (edge → Kubernetes). HandleUpstream applies a node's reports, after hub.AuthorizeWrite:
// node status (nodes/status, merged by MergeNodeStatus), the node's Lease in kube-node-lease (created
// or renewed with the cloud's clock), pod status (pods/status, merged by MergePodStatus, from edged's
// PodStatusMessage), the final deletion of a pod the edge has stopped (grace period 0, only for a pod
// being deleted), and a device's reported twins (status.twins[].reported and observedDesired, merged by
// property, through the status subresource). So Kubernetes sees edge nodes Ready and their pods
// Running. RegisterNode creates the Node of a new edge with the edge label; no taint by default, as in
// KubeEdge (Config.RegisterTaints adds some).
//
// It implements hub.DesiredState (Desired, Get: the cloud hub's answer to a resync and to queries) and
// hub.PodBinding and hub.DeviceBinding (Bindings: the lookups of hub.AuthorizeWrite), all from the
// informer caches.
//
// # Use
//
//	down := controller.NewHiveDownstream("")   // sends to the "cloudhub" module
//	ctl, err := controller.New(controller.Config{Client: clientset, Dynamic: dyn, Downstream: down})
//	hive.Add(controller.NewModule(ctl, down, 0)) // name "edgecontroller", group controller
//	hub := cloudhub.New(cloudhub.Config{…, DesiredState: ctl, Bindings: ctl.Bindings()})
//
// Without beehive, give Config.Downstream any Downstream, call Run(ctx) in a goroutine, and feed
// HandleUpstream yourself.
//
// # Message contract (beehive)
//
// Both directions name the object with Router.Resource = "node/<node>/<key>" (NodeResource,
// ParseNodeResource), key being hub.Key's "<namespace>/<kind>/<name>", so a cluster-scoped key shows as
// "node/edge-1//node/edge-1". It is the form of hub/cloudhub's NodeResource.
//
// Downstream, HiveDownstream sends to the hub module (default "cloudhub"): Router.Group = hub,
// Router.Operation = insert, update or delete, Router.Resource = "node/<node>/<key>",
// Header.ResourceVersion = the object's resourceVersion (for a delete, the version last sent),
// Content = the object's JSON as []byte (nil for a delete). Send blocks while the hub's mailbox is full.
//
// Upstream, the module "edgecontroller" (group controller) takes messages with Router.Operation = the
// write (insert, update, patch, delete), Router.Resource = "node/<node>/<key>" where <node> is the
// authenticated node (the hub takes it from the client certificate, never from the frame), and
// Content = the report as []byte (or string), per key kind:
//
//	/node/<node>                      insert, update  ignored                     RegisterNode
//	/nodestatus/<node>                update          corev1.NodeStatus JSON
//	kube-node-lease/lease/<node>      update          coordinationv1.LeaseSpec JSON, or empty
//	<ns>/podstatus/<pod>              update          edged.PodStatusMessage JSON (PodStatusMessage)
//	<ns>/pod/<pod>                    delete          empty or {"uid": …}
//	<ns>/devicestatus/<device>        update          api.DeviceStatus JSON
//
// A message sent with SendSync is answered once applied: Respond with no content, or RespondError with
// the error; Final(err) says whether the report can never be applied (forbidden, malformed, object gone),
// so that the hub refuses it (OpNack) instead of resending it. Reports of one key are applied in order;
// of different keys, in parallel.
//
// # Guarantees
//
//   - Every change is sent with the resourceVersion of the object it carries. For each node and key,
//     versions go to Downstream in the order the API server made them, never an older after a newer
//     (versions that followed each other quickly may be coalesced into the newest), and each once per
//     Run unless Downstream refused it. A refused Send is retried with exponential backoff
//     (Config.RetryInitial…RetryMax), sending what is desired at that time, not the refused change.
//   - A node gets only its own objects: its Node, its pods, the ConfigMaps and Secrets those use, its
//     devices and their models. A node that is not an edge node gets nothing.
//   - Upstream writes are authorized (hub.AuthorizeWrite) before they are applied, and retried on
//     conflicts against fresh reads.
//   - Run stops everything it started (informers, workers, queue) before it returns; no package state.
//
// # Not built
//
//   - Services and Endpoints are not sent (KubeEdge's edgemesh needs them); nor ServiceAccount tokens of
//     projected volumes (a node gets the pod, not a token for it).
//   - The controller keeps every ConfigMap and Secret of the cluster in its caches (as KubeEdge does);
//     a cluster with very many should narrow the informers (not configurable yet).
//   - DeviceStatus as a separate CRD (KubeEdge 1.21+): reports go into the Device's own status.
//   - Node deletion by the edge, node heartbeat timeouts (kube-controller-manager's nodelifecycle
//     controller marks a node NotReady when its lease expires), and Node object updates from the edge
//     beyond RegisterNode.
package controller
