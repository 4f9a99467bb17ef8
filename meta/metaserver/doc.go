// Package metaserver is the edge's local, read-only Kubernetes-style API over a meta.Store, KubeEdge's
// MetaServer: edge applications, client-go and `kubectl --server http://127.0.0.1:10550` read the
// edge's pods, config maps, secrets, services, nodes and devices from it, also while the cloud is away
// (it reads only the store).
//
// # Use
//
//	srv, err := metaserver.New(metaserver.Config{Store: store}) // listens on DefaultAddr (127.0.0.1:10550)
//	go srv.Run(ctx)                                             // serves until ctx ends or Close
//	…
//	kubectl --server http://127.0.0.1:10550 get pods -A
//
// # What it serves
//
//   - get, list and watch of core/v1 pods, configmaps, secrets, services (namespaced) and nodes
//     (cluster-scoped) under /api/v1, and of devices.kubeedge.io/v1beta1 devices and devicemodels
//     under /apis/devices.kubeedge.io/v1beta1 (ParsePath gives the path forms).
//   - lists with metadata.resourceVersion, labelSelector, and fieldSelector on metadata.name,
//     metadata.namespace, and for pods spec.nodeName and status.phase (secrets: type); another field is
//     400 BadRequest, as in Kubernetes. limit and continue are ignored: a list is always complete.
//   - watch (?watch=true or ?watch=1): a stream of {"type":"ADDED|MODIFIED|DELETED","object":{…}} lines.
//     resourceVersion "" or "0" first sends an ADDED event per object held; another resourceVersion
//     (from a list or an event) resumes after it, or answers 410 Expired (reason "Expired") when the
//     store's watch history no longer covers it, which makes client-go relist. sendInitialEvents=true
//     (client-go's streaming watch list, on by default since 1.35) sends the initial ADDED events and
//     then the BOOKMARK annotated k8s.io/initial-events-end. timeoutSeconds is honoured, bounded by
//     Config.MaxWatchTimeout. A watcher that falls behind the store gets an ERROR event (410 Expired).
//   - Tables: a request whose Accept asks for as=Table;v=v1;g=meta.k8s.io (kubectl get does) gets a
//     meta.k8s.io/v1 Table with the API server's columns for pods (NAME READY STATUS RESTARTS AGE, IP
//     and NODE in -o wide), configmaps, secrets, services and nodes, and NAME AGE for devices; a watch
//     with that Accept streams one-row Tables (columns in the first event only), for kubectl get -w.
//   - discovery: /api, /api/v1, /apis, /apis/devices.kubeedge.io, /apis/devices.kubeedge.io/v1beta1 in
//     their legacy JSON form (clients that ask for aggregated discovery fall back to it), /version
//     (v1.36.3-edgehive), and /healthz, /readyz, /livez.
//   - everything else: a Kubernetes Status JSON; unknown paths (also /openapi/v2 and /openapi/v3) 404
//     NotFound; POST, PUT, PATCH and DELETE 405 MethodNotAllowed (reason "MethodNotAllowed"): the
//     server is read-only.
//
// # resourceVersions
//
// The server is its own API server: metadata.resourceVersion of every object it returns is the meta
// store revision that wrote that version (not the cloud's resourceVersion, which the store keeps), and
// a list's resourceVersion is the store revision of its snapshot. So a client that watches from any
// resourceVersion it saw misses nothing, as with a real API server.
//
// # Security
//
// There is no authentication or authorization: Config.Addr must be a loopback address (Validate
// refuses others), as KubeEdge's MetaServer in its default, insecure mode.
//
// # Not built
//
// Writes; protobuf and CBOR encodings (JSON only); periodic bookmarks; /openapi (so kubectl explain fails);
// namespaces as a resource; the watch-cache semantics of resourceVersionMatch other than the defaults.
package metaserver
