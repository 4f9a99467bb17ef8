// Package beehive is edgehive's module framework: a Hive runs Modules, and modules talk to each other only
// by Messages. It is KubeEdge's beehive made into a value: no global registry, no singleton context, typed
// operations and groups, and errors instead of log lines.
//
// # Use
//
//	hive, err := beehive.New(beehive.Config{})
//	hive.Add(meta)   // any value with Name, Group and Run(ctx, *beehive.Context) error
//	hive.Add(edged)
//	err = hive.Run(ctx) // returns when ctx ends and every module has stopped
//
// Inside Run, a module loops on c.Receive(ctx) and sends with the handle c (a *Context):
//
//   - Send(ctx, to, m): blocking while the receiver's mailbox is full, until ctx ends.
//   - TrySend(to, m): never blocks; ErrMailboxFull when full (counted as a drop).
//   - SendSync(ctx, to, m): request/response; the receiver answers with Respond or RespondError.
//   - SendToGroup / SendToGroupSync: the same to every module of a Group (the sender excluded).
//
// # Guarantees
//
//   - Sending to an unknown module or group, to a module stopped for good, into a full mailbox (TrySend)
//     or into a closed hive returns an error value (ErrUnknownModule, ErrUnknownGroup, ErrModuleStopped,
//     ErrMailboxFull, ErrClosed), comparable with errors.Is. Nothing is dropped silently.
//   - Messages from one sender to one receiver arrive in the order they were sent.
//   - A response that reaches SendSync before its deadline is never lost; a response that comes later is
//     dropped and counted (ModuleStats.LateResponses), and Respond returns ErrLateResponse.
//   - A module that returns an error or panics is restarted by its RestartPolicy after an exponential
//     backoff (doubling from BackoffInitial up to BackoffMax). A panic is recovered and logged with the
//     module's name and stack. The mailbox survives restarts.
//   - Message IDs cost one atomic add: a random 64-bit epoch per Hive plus a counter, so they are unique
//     within a hive and across process restarts.
//   - Router.Source is set by the hive to the sending module's name; a module cannot forge it.
//   - Send and Receive of a prepared message allocate nothing; SendSync reuses pooled waiters.
//
// # Concurrency
//
// Modules are added before Run; the module table is then fixed and read without locks. A Context is safe
// for concurrent use by the goroutines of its module. Message.Content is shared between sender and
// receiver (messages are passed by value, their content by reference): treat received content as
// read-only.
//
// # Observability
//
// Hive.Stats returns each module's mailbox depth and capacity and its counters (sent, received, dropped,
// sync timeouts, late responses, restarts); WriteMetrics renders them in the Prometheus text format.
// Config.OnRestart is told of each restart with its backoff.
//
// The package imports only the standard library.
package beehive
