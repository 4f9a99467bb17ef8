// Package broker is an embeddable MQTT broker for the edge node: mochi-mqtt/server (MQTT 3.1.1 and 5)
// wrapped as a value with a Config, a lifecycle and no goroutine left behind.
//
// # Use
//
//	b, err := broker.New(broker.Config{})   // 127.0.0.1:1883, anonymous, default limits
//	if err := b.Start(ctx); err != nil { … } // listening when Start returns; b.Addr() is the address
//	defer b.Close()
//
// or b.Run(ctx) to serve until ctx ends, or broker.NewModule("", cfg) to add it to a beehive.Hive: the
// module serves while the hive runs. The eventbus module connects to it as an ordinary MQTT client
// (its default broker URL is this package's DefaultListen), so that a mosquitto elsewhere can replace
// it by changing one field of eventbus.Config.
//
// # Access
//
// The broker is meant for the devices and mappers of one edge node, and listens on the loopback
// interface by default with anonymous access. Config.Authenticate (for instance AllowList of a user
// table) decides who may connect, and Config.Authorize which topics a client may publish to or receive.
// Validate refuses anonymous access on a non-loopback address unless AllowRemoteAnonymous says so.
//
// # Limits
//
// Every limit has a Default constant: MaxPacketSize (a client sending a larger packet is disconnected),
// MaxClients (more are refused at CONNECT), MaxInflight (QoS 1/2 messages held per client, including
// those queued for a persistent session while its client is away), MaxPendingWrites (a client's
// outbound queue; a slow reader loses messages beyond it), SessionExpiry and ConnectTimeout. Drops are
// counted in Stats.
//
// # Guarantees
//
//   - Start returns once the listener is bound; Close disconnects the clients, closes the listener and
//     every socket (also those that have not sent CONNECT yet, which mochi's own TCP listener would wait
//     for forever) and returns when the connection goroutines have ended. Close is idempotent and may
//     race with itself. The only goroutines that outlive Close are mochi's housekeeping loop and its
//     per-client writers, which end within moments of it (the tests check with goleak).
//   - Nothing is global: any number of brokers may run in one process, each on its own port.
//   - Sessions and retained messages live in memory; they do not survive a restart of the broker.
//     Clients that need their subscriptions after a restart subscribe again on connect, as the eventbus
//     does.
//
// # Known behaviour of mochi
//
//   - A broker does not slow publishers for a slow subscriber: QoS 1/2 messages beyond a client's
//     MaxInflight are dropped (mosquitto drops beyond its max_queued_messages).
//   - mochi sends SUBACK before a new subscription's retained messages, and PUBACK before fanning a
//     publish out: a client that subscribes just as a retained message is published may receive it
//     twice, and a publisher's acknowledgement does not mean subscribers have the message yet.
package broker
