package cloudhub

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
)

// Name is the cloud hub's module name; Group its group.
const (
	Name  = "cloudhub"
	Group = beehive.GroupHub
)

// Defaults for Config fields left zero.
const (
	DefaultPath              = "/v1/hub"
	DefaultMaxNodes          = 20000
	DefaultRatePerNode       = 500 // upstream frames per second per node
	DefaultBurstPerNode      = 1000
	DefaultMaxFrameSize      = hub.DefaultMaxFrameSize
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultKeepaliveInterval = 15 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultResendInitial     = 5 * time.Second
	DefaultResendMax         = 2 * time.Minute
	DefaultQueueSize         = 256
	DefaultMaxHandshakes     = 512
	DefaultUpstreamGroup     = beehive.GroupController
)

// ErrInvalidConfig wraps every Config.Validate error.
var ErrInvalidConfig = errors.New("cloudhub: invalid config")

// Config configures a CloudHub. Zero fields take the Default values.
type Config struct {
	// Addr is the listen address, e.g. ":10000" or "127.0.0.1:0". Required.
	Addr string
	// Path is the WebSocket endpoint (default DefaultPath).
	Path string
	// TLS is the server's TLS configuration, normally certs.ServerTLSConfig(ca, serverCert, denylist):
	// TLS 1.3 with a required, verified client certificate. Required; a config that does not require
	// client certificates is refused.
	TLS *tls.Config
	// Denylist is consulted after each handshake (certs.VerifyNode) and, when it is a certs.Notifier,
	// watched so that a denied node's open connection is closed at once. Optional.
	Denylist certs.Denylist
	// Authority answers certificate rotation over the link (hub.OpCertRotate). Optional: without it a
	// rotation request is answered with OpError.
	Authority *certs.Authority
	// DesiredState answers the edge's OpResync with only the differences (hub.Resync) and its OpQuery,
	// and filters stale downstream messages (see the package doc: update it before sending). Optional:
	// without it a resync resends the node's pending frames only.
	DesiredState hub.DesiredState
	// Bindings decide which upstream writes a node may make (hub.AuthorizeWrite).
	Bindings hub.Bindings

	// UpstreamModule, if set, receives every accepted upstream frame; otherwise UpstreamGroup does
	// (default DefaultUpstreamGroup).
	UpstreamModule string
	UpstreamGroup  beehive.Group

	// MaxNodes bounds the connected nodes (default DefaultMaxNodes); more are refused with 503.
	MaxNodes int
	// RatePerNode and BurstPerNode are each node's token bucket for upstream frames (defaults
	// DefaultRatePerNode, DefaultBurstPerNode). A node over its rate is slowed down: the cloud stops
	// reading its connection until a token is there (counted in Stats.Throttled).
	RatePerNode  float64
	BurstPerNode int
	// MaxFrameSize bounds a received frame (default DefaultMaxFrameSize); a larger one closes the
	// connection.
	MaxFrameSize int
	// HandshakeTimeout bounds the TLS handshake and the WebSocket upgrade (default
	// DefaultHandshakeTimeout): a client that opens TCP and sends nothing is cut at it.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the TLS handshakes in progress (default DefaultMaxHandshakes). Connections
	// beyond it wait for a slot, first come first served, at most HandshakeTimeout/2 and at most
	// 16 × MaxHandshakes of them; one past either bound is closed unserved (Stats.ShedHandshakes) and
	// its edge retries after a jittered backoff. Time-sharing the CPUs among thousands of handshakes
	// at once (a reconnect storm) would make every one of them late, and each late one wasted. A slot
	// is held for the client's round trips too, so the bound is generous: 512 handshakes at about
	// 1.5 ms of CPU each are under half a second of work for two CPUs.
	MaxHandshakes int
	// KeepaliveInterval: a ping when nothing was sent for an interval, the connection dropped when
	// nothing arrived for two (default DefaultKeepaliveInterval).
	KeepaliveInterval time.Duration
	// WriteTimeout bounds each write (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// ResendInitial and ResendMax: an unacknowledged frame is resent after ResendInitial, then after
	// twice as long each time, up to ResendMax (defaults DefaultResendInitial, DefaultResendMax). A
	// reconnect resends every pending frame at once.
	ResendInitial, ResendMax time.Duration
	// QueueSize bounds each connection's write queue, in frames (default DefaultQueueSize).
	QueueSize int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.UpstreamModule == "" && c.UpstreamGroup == "" {
		c.UpstreamGroup = DefaultUpstreamGroup
	}
	if c.MaxNodes == 0 {
		c.MaxNodes = DefaultMaxNodes
	}
	if c.RatePerNode == 0 {
		c.RatePerNode = DefaultRatePerNode
	}
	if c.BurstPerNode == 0 {
		c.BurstPerNode = DefaultBurstPerNode
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = DefaultMaxHandshakes
	}
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.ResendInitial, DefaultResendInitial)
	def(&c.ResendMax, DefaultResendMax)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Addr == "":
		return bad("no listen address")
	case c.TLS == nil:
		return bad("no TLS config")
	case c.TLS.ClientAuth != tls.RequireAndVerifyClientCert:
		return bad("TLS config must require and verify client certificates (use certs.ServerTLSConfig)")
	case c.TLS.MinVersion != 0 && c.TLS.MinVersion < tls.VersionTLS13:
		return bad("TLS config must be TLS 1.3 only")
	case c.MaxNodes < 0, c.RatePerNode < 0, c.BurstPerNode < 0, c.MaxFrameSize < 0, c.QueueSize < 0, c.MaxHandshakes < 0:
		return bad("negative limit")
	case c.HandshakeTimeout < 0, c.KeepaliveInterval < 0, c.WriteTimeout < 0, c.ResendInitial < 0, c.ResendMax < 0:
		return bad("negative duration")
	case c.ResendMax != 0 && c.ResendInitial > c.ResendMax:
		return bad("resend initial %v > max %v", c.ResendInitial, c.ResendMax)
	case c.MaxFrameSize != 0 && c.MaxFrameSize < 64:
		return bad("max frame size %d is too small", c.MaxFrameSize)
	}
	return nil
}
