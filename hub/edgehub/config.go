package edgehub

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// Name is the edge hub's module name; Group its group.
const (
	Name  = "edgehub"
	Group = beehive.GroupHub
)

// Operations of the edge hub's broadcasts to Config.NotifyGroups (no content, empty Resource).
const (
	// OpCloudConnected: a connection to the cloud is up (sent before the resync).
	OpCloudConnected beehive.Operation = "cloud-connected"
	// OpCloudDisconnected: the connection to the cloud is gone; the edge works offline.
	OpCloudDisconnected beehive.Operation = "cloud-disconnected"
)

// Defaults for Config fields left zero.
const (
	DefaultModule            = "meta"
	DefaultOutboxMaxBytes    = 64 << 20
	DefaultOutboxMaxAge      = 24 * time.Hour
	DefaultBackoffInitial    = time.Second
	DefaultBackoffMax        = time.Minute
	DefaultKeepaliveInterval = 15 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultApplyTimeout      = 30 * time.Second
	DefaultResendInterval    = 30 * time.Second
	DefaultQueueSize         = 256
	DefaultMaxFrameSize      = hub.DefaultMaxFrameSize
)

// ErrInvalidConfig wraps every Config.Validate error.
var ErrInvalidConfig = errors.New("edgehub: invalid config")

// Config configures an EdgeHub. Zero fields take the Default values.
type Config struct {
	// URL of the cloud hub's endpoint, "wss://host:port/v1/hub". Required.
	URL string
	// TLS is the client configuration, normally certs.ClientTLSConfig(ca, serverName, holder): TLS 1.3,
	// the pinned CA, the node certificate. Required.
	TLS *tls.Config
	// OutboxPath is the SQLite file of the upstream outbox. Required. MemoryOutbox (":memory:") keeps the
	// outbox in memory instead: not durable, for simulated nodes and tests (see MemoryOutbox).
	OutboxPath string
	// OutboxMaxBytes bounds the outbox (content and key bytes, default DefaultOutboxMaxBytes). When a new
	// message does not fit, the oldest messages are dropped to make room: first the oldest ones that are
	// not object writes (OpPublish and other application messages), then the oldest object writes
	// (statuses). A message larger than the whole budget is refused (ErrTooLarge).
	OutboxMaxBytes int64
	// OutboxMaxAge: messages older than this are dropped unsent (default DefaultOutboxMaxAge).
	OutboxMaxAge time.Duration
	// OutboxRelaxedSync trades durability against power loss for speed (SQLite synchronous=NORMAL):
	// a message accepted before a crash of the process is kept, one accepted just before a power cut
	// may be lost. Default false: every accepted message is fsynced.
	OutboxRelaxedSync bool
	// DigestSource gives what the edge holds, sent as OpResync on each connect (the meta store
	// implements it). Optional: without it the edge sends an empty digest.
	DigestSource hub.DigestSource
	// Module receives the downstream frames (default DefaultModule, "meta"), unless Routes names
	// another module for the frame's Group.
	Module string
	Routes map[beehive.Group]string
	// NotifyGroups are told OpCloudConnected and OpCloudDisconnected (SendToGroup). Optional.
	NotifyGroups []beehive.Group
	// BackoffInitial and BackoffMax: after the n-th failed dial in a row the edge waits a random
	// duration in [0, min(BackoffMax, BackoffInitial·2ⁿ)) ("full jitter"), so that many nodes
	// returning at once spread out (defaults DefaultBackoffInitial, DefaultBackoffMax).
	BackoffInitial, BackoffMax time.Duration
	// KeepaliveInterval: a ping when nothing was sent for an interval, the connection dropped when
	// nothing arrived for two (default DefaultKeepaliveInterval).
	KeepaliveInterval time.Duration
	// WriteTimeout bounds each write (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the TCP, TLS and WebSocket handshakes (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// ApplyTimeout bounds the local module's answer to a downstream frame (default
	// DefaultApplyTimeout); without an answer the frame is not acknowledged and the cloud resends it.
	ApplyTimeout time.Duration
	// ResendInterval: upstream messages unacknowledged this long are sent again on the same
	// connection (default DefaultResendInterval). A reconnect resends them at once.
	ResendInterval time.Duration
	// QueueSize bounds the connection's write queue, in frames (default DefaultQueueSize).
	QueueSize int
	// MaxFrameSize bounds a received frame (default DefaultMaxFrameSize).
	MaxFrameSize int
	// SessionResumption keeps the TLS sessions (tickets) the cloud issues, so that a reconnect resumes
	// its session (TLS 1.3 PSK with a fresh ECDHE) instead of a full handshake: the cloud then skips
	// the verification of the client's chain and its own signature, about half of a handshake's CPU
	// (measured by examples/edgemark). It helps after a cloud restart only if the cloud keeps its
	// ticket keys (tls.Config.SetSessionTicketKeys). A resumed session carries the identity of the
	// certificate it was made with: the edge hub forgets its sessions when it rotates the certificate
	// (Rotation); a program that changes the certificate otherwise must not enable this. Ignored if
	// TLS.ClientSessionCache is set (that cache is used as is). Default false.
	SessionResumption bool
	// Rotation, if set, renews the node certificate over the link before it expires. Optional.
	Rotation *Rotation
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Module == "" {
		c.Module = DefaultModule
	}
	if c.OutboxMaxBytes == 0 {
		c.OutboxMaxBytes = DefaultOutboxMaxBytes
	}
	def(&c.OutboxMaxAge, DefaultOutboxMaxAge)
	def(&c.BackoffInitial, DefaultBackoffInitial)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&c.ApplyTimeout, DefaultApplyTimeout)
	def(&c.ResendInterval, DefaultResendInterval)
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rotation != nil {
		r := *c.Rotation
		def(&r.Check, DefaultRotateCheck)
		if r.Now == nil {
			r.Now = time.Now
		}
		c.Rotation = &r
	}
	return c
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.URL == "" {
		return bad("no cloud URL")
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "wss" || u.Host == "" {
		return bad("cloud URL %q is not wss://host:port/path", c.URL)
	}
	switch {
	case c.TLS == nil:
		return bad("no TLS config")
	case c.TLS.MinVersion != 0 && c.TLS.MinVersion < tls.VersionTLS13:
		return bad("TLS config must be TLS 1.3 only")
	case c.TLS.GetClientCertificate == nil && len(c.TLS.Certificates) == 0:
		return bad("TLS config presents no client certificate (use certs.ClientTLSConfig)")
	case c.OutboxPath == "":
		return bad("no outbox path")
	case c.OutboxMaxBytes < 0, c.QueueSize < 0, c.MaxFrameSize < 0:
		return bad("negative limit")
	case c.OutboxMaxAge < 0, c.BackoffInitial < 0, c.BackoffMax < 0, c.KeepaliveInterval < 0,
		c.WriteTimeout < 0, c.HandshakeTimeout < 0, c.ApplyTimeout < 0, c.ResendInterval < 0:
		return bad("negative duration")
	case c.BackoffMax != 0 && c.BackoffInitial > c.BackoffMax:
		return bad("backoff initial %v > max %v", c.BackoffInitial, c.BackoffMax)
	case c.Rotation != nil && c.Rotation.Holder == nil:
		return bad("rotation without a certificate holder")
	case c.Rotation != nil && c.Rotation.Check < 0:
		return bad("negative rotation check interval")
	}
	return nil
}
