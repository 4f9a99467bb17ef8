// Package edgeapp is the assembly of the reference edge process (command examples/edge), kept out of
// package main so that end-to-end tests run the whole edge in-process: Run(ctx, args, stdout, stderr)
// is the process, with its command line, until ctx ends.
//
// The edge is an explicit list of parts, all in one beehive.Hive except the servers:
//
//   - meta: the SQLite store of what the cloud sent (data dir meta.db) and its module, which the edge
//     hub applies downstream frames to (ack after commit); the MetaServer serves the store read-only;
//   - edged: pods on the CRI runtime, restored from the meta store at start (storeSource);
//   - twin: device twins (twin.db) behind the eventbus and the embedded MQTT broker (or an external one);
//   - "edgehub": joins the cloud when the node has no certificate yet (retrying with backoff; the key,
//     certificate and pinned CA are saved in the data dir), then runs hub/edgehub with the same beehive
//     handle. Until then messages for the cloud wait in its mailbox;
//   - "dispatch": follows the meta store and hands pods, ConfigMaps and Secrets to edged and device
//     objects to the twin module, as KubeEdge's MetaManager does;
//   - edged also registers the node and reports its status (edged.NodeStatusConfig: conditions,
//     addresses, capacity, system info, images) and renews its lease, periodically and at once on each
//     reconnect, and sends the final delete of a pod once the runtime holds nothing of it.
//
// It does not link client-go (a test checks go list -deps of the command).
//
// Errors wrapping ErrUsage are bad command lines (exit status 2 in main); flag.ErrHelp is --help.
package edgeapp
