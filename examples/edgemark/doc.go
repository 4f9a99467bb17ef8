// Command edgemark is edgehive's Edgemark: thousands of simulated ("hollow") edge nodes against one
// cloud hub, to measure what KubeEdge's headline measures (100,000 Edgemark nodes on 5 CloudCores of
// 12 CPUs) against DESIGN.md's budget: ≥ 10,000 connected nodes on one 2-core cloud process over
// mutual-TLS WebSockets with keepalives, cloud→edge delivery p99 ≤ 50 ms at 2,000 messages/s across
// them, and the time and bytes of the reconnect storm after the cloud restarts.
//
//	edgemark --nodes 10000 --cpuprofile /tmp/em          # the full run, figures on stdout
//	edgemark --nodes 10000 --resume --json               # with TLS session resumption
//	edgemark --help
//	go test -run '^$' -bench Edgemark ./examples/edgemark # the same as a benchmark (200 nodes;
//	                                                      # EDGEHIVE_EDGEMARK_NODES=10000 for more)
//
// Exit codes: 0 done, 1 a failure (a phase timed out, the child died, …), 2 bad flags, 3 a budget
// missed (only with --check), 130 interrupted: SIGINT or SIGTERM stops the cloud child (SIGTERM,
// which it handles as "quit") and every node, then exits.
//
// # Two processes
//
// The cloud hub runs in a child process: this program re-executed with the hidden subcommand
// "edgemark cloud" (a test binary is re-executed the same way, recognised by EDGEMARK_CHILD in its
// environment). The file-descriptor hard limit here is 20,000 per process and cannot be raised, so
// 10,000 connections with both ends in one process do not fit; with the cloud alone in its process,
// its RSS, heap and CPU time are the cloud's own. Both processes share the machine: the harness's
// client-side TLS and edge hubs compete with the cloud for the same CPUs, which the figures include.
//
// The child holds the desired state (a hub.MemState: Objects config maps of ObjectSize bytes per
// node, "edgemark/configmap/obj-<j>" of node "hollow-<i>"), serves the cloud hub on a loopback port
// with certs.ServerTLSConfig, and obeys control lines on stdin, answering on stdout (control.go:
// update, stats, pprof-start, pprof-stop, quit; lines over 64 KiB are refused). Its stats are the
// cloud hub's counters, VmRSS from /proc/self/status, HeapInuse+StackInuse, goroutines and CPU time.
//
// # The run
//
//  1. PKI: a CA (certs.LoadOrCreateCA in the work directory) and one client certificate per node,
//     issued directly by the authority (Authority.RenewNodeCert, which needs no join token): the
//     join exchange is skipped to save time; the certificates are the ones a join would give.
//  2. The cloud child starts; the harness starts the hollow nodes at StartRate per second. Each is a
//     beehive hive with the real edgehub.EdgeHub (mTLS WebSocket, keepalives, full-jitter backoff)
//     and the real meta module (one write worker; both modules with mailboxes of 64 messages instead
//     of beehive's 1,024, which would cost 300 KB per node) on a store of its own: a meta SQLite store and a
//     SQLite outbox up to --sqlite-max nodes (500; each costs about ten file descriptors; both with
//     synchronous=NORMAL, since hundreds of nodes share one disk here where each real node fsyncs to
//     its own), above it
//     meta.MemStore and edgehub.MemoryOutbox (same rules, no durability). Hollow nodes have no pods
//     and no devices: no edged, no CRI runtime, no twin, no eventbus. Nothing else is shared between
//     nodes but the process (and its CA pool).
//  3. Connect: the time until every edge hub is connected, and until every node holds its objects
//     (the first resync sends them all). The cloud's memory per connection is its growth in VmRSS
//     (and in heap + stacks after GC) over that phase divided by the nodes.
//  4. Delivery: Rate updates per second for Duration, update m to node m%N, object (m/N)%K, each a
//     new resourceVersion from one counter (as an API server's). The child stamps the send time into
//     the object (annotation edgemark.io/sent) when it puts it in the desired state and sends it to
//     the cloud hub; each node's store reports its commit, so latency is cloud send → edge store
//     commit, acknowledgement excluded. The phase ends when every node holds every version.
//  5. Reconnect storm: the child is killed (SIGKILL; --sigterm for a clean stop); while it is down,
//     Changed objects per node get new versions; after Down, a new child starts on the same port with
//     the whole desired state (written to a file, as a restarted cloud would relist it). Measured:
//     restart → every node connected again, its resync answered (OpResyncDone on the new connection)
//     and every changed version committed; and the resync's bytes from the new cloud's counters
//     (digests received, change frames sent), in total and per node.
//  6. Shutdown: the child is asked to quit, the hives stop, the stores close.
//
// # What it changed in the hub
//
// The first 10,000-node runs took two minutes to recover from a cloud restart: the restarted cloud
// started every handshake at once, each took longer than the edges' handshake timeout, and every
// failure doubled a node's backoff. Three changes came out of it, each measured in BENCHMARKS.md
// ("edgemark"): cloudhub.Config.MaxHandshakes (bounded handshakes, a bounded first-come queue, the
// rest shed; --max-handshakes here), edgehub.Config.SessionResumption (--resume), and
// edgehub.MemoryOutbox for simulated nodes.
//
// # Profiles
//
// --cpuprofile PREFIX makes the child write PREFIX-connect.pprof (while the nodes first connect) and
// PREFIX-reconnect.pprof (from the restart until all resynced): `go tool pprof edgemark PREFIX-….pprof`.
//
// # TLS session resumption
//
// --resume turns on TLS 1.3 session resumption: the child encrypts its tickets under a key kept in
// the work directory (so that tickets survive its restart, as a production cloud would keep its
// ticket keys in its secret store: tls.Config.SetSessionTicketKeys), and each edge hub runs with
// edgehub.Config.SessionResumption. A resumed handshake skips the client chain's verification and
// the server's signature; certs.ServerTLSConfig still checks the node and the denylist on resumed
// sessions (VerifyConnection). Without --resume the child disables tickets.
package main
