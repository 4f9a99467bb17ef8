package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Errors of the Broker's lifecycle.
var (
	ErrStarted = errors.New("broker: already started")
	ErrClosed  = errors.New("broker: closed")
)

// Broker is an embedded MQTT 3.1.1/5 broker (mochi-mqtt) on one TCP listener. Create it with New, then
// Start it (or Run it until a context ends) and Close it. A Broker is used once: after Close, make a
// new one. Its methods are safe for concurrent use.
type Broker struct {
	cfg Config

	mu      sync.Mutex
	state   int // stateNew, stateRunning, stateClosed
	srv     *mqtt.Server
	ln      *tcpListener
	addr    string
	closing chan struct{} // closed when Close begins
	done    chan struct{} // closed when Close has finished
	err     error         // of the server's Close, valid after done
}

const (
	stateNew = iota
	stateRunning
	stateClosed
)

// New returns a broker with cfg, not yet listening. It fails with ErrInvalidConfig if cfg is invalid.
func New(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Broker{cfg: cfg.withDefaults(), closing: make(chan struct{}), done: make(chan struct{})}, nil
}

// Start binds the listen address (honouring ctx while it does) and serves clients in the background
// until Close. It returns once the broker accepts connections: Addr is then valid.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateRunning:
		return ErrStarted
	case stateClosed:
		return ErrClosed
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", b.cfg.Listen)
	if err != nil {
		return fmt.Errorf("broker: listen: %w", err)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClients = int64(b.cfg.MaxClients)
	caps.MaximumPacketSize = uint32(b.cfg.MaxPacketSize)
	caps.MaximumInflight = uint16(b.cfg.MaxInflight)
	caps.ReceiveMaximum = min(caps.ReceiveMaximum, uint16(b.cfg.MaxInflight))
	caps.MaximumClientWritesPending = int32(b.cfg.MaxPendingWrites)
	caps.MaximumSessionExpiryInterval = uint32(b.cfg.SessionExpiry / time.Second)
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: b.cfg.Logger})
	hook := &authHook{authenticate: b.cfg.Authenticate, authorize: b.cfg.Authorize}
	l := newTCPListener("tcp", ln, b.cfg.ConnectTimeout)
	l.disconnect = func(listener string) {
		for _, cl := range srv.Clients.GetAll() { // one read lock (see tcpListener)
			if cl.Net.Listener == listener && !cl.Closed() {
				_ = srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	}
	if err := srv.AddHook(hook, nil); err != nil {
		_ = ln.Close()
		return fmt.Errorf("broker: add hook: %w", err)
	}
	if err := srv.AddListener(l); err != nil {
		_ = ln.Close()
		return fmt.Errorf("broker: add listener: %w", err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return fmt.Errorf("broker: serve: %w", err)
	}
	l.markServing()
	b.srv, b.ln, b.addr, b.state = srv, l, ln.Addr().String(), stateRunning
	return nil
}

// Run starts the broker unless Start already did, serves until ctx ends, then closes it. It returns nil
// after a clean stop, or the error of Start.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.Start(ctx); err != nil && !errors.Is(err, ErrStarted) {
		return err
	}
	select {
	case <-ctx.Done():
	case <-b.closing:
	}
	return b.Close()
}

// Addr is the address the broker listens on (host:port, the real port when Listen asked for port 0),
// or "" before Start.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// URL is Addr as a client URL, "tcp://host:port", or "" before Start.
func (b *Broker) URL() string {
	if a := b.Addr(); a != "" {
		return "tcp://" + a
	}
	return ""
}

// Close disconnects every client, stops the listener and waits for the broker's connection goroutines
// to end. It is safe to call more than once and concurrently (every call returns once the broker has
// stopped), and before Start.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.state == stateClosed {
		b.mu.Unlock()
		<-b.done
		return b.err
	}
	srv := b.srv
	b.state = stateClosed
	close(b.closing)
	b.mu.Unlock()
	if srv != nil {
		b.err = srv.Close()
	}
	close(b.done)
	return b.err
}

// Stats is a snapshot of the broker's counters.
type Stats struct {
	ClientsConnected int64 // clients connected now
	ClientsTotal     int64 // connected clients plus kept sessions of disconnected ones
	MessagesReceived int64 // PUBLISH packets received from clients
	MessagesSent     int64 // PUBLISH packets sent to clients
	MessagesDropped  int64 // messages dropped because a client's outbound queue was full
	InflightDropped  int64 // QoS 1/2 messages dropped because a client's inflight quota was full
	Retained         int64 // retained messages held
	Subscriptions    int64 // subscriptions held
	BytesReceived    int64
	BytesSent        int64
}

// Stats returns the broker's counters; all zero before Start.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return Stats{}
	}
	i := srv.Info
	return Stats{
		ClientsConnected: atomic.LoadInt64(&i.ClientsConnected),
		ClientsTotal:     int64(srv.Clients.Len()),
		MessagesReceived: atomic.LoadInt64(&i.MessagesReceived),
		MessagesSent:     atomic.LoadInt64(&i.MessagesSent),
		MessagesDropped:  atomic.LoadInt64(&i.MessagesDropped),
		InflightDropped:  atomic.LoadInt64(&i.InflightDropped),
		Retained:         atomic.LoadInt64(&i.Retained),
		Subscriptions:    atomic.LoadInt64(&i.Subscriptions),
		BytesReceived:    atomic.LoadInt64(&i.BytesReceived),
		BytesSent:        atomic.LoadInt64(&i.BytesSent),
	}
}
