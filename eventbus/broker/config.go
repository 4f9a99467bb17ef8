package broker

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"
)

// Defaults for Config fields left zero.
const (
	// DefaultListen is loopback only: the broker serves the edge node's own devices and mappers.
	DefaultListen = "127.0.0.1:1883"
	// DefaultMaxPacketSize bounds one MQTT packet (header and payload), in bytes; a client that sends a
	// larger one is disconnected.
	DefaultMaxPacketSize = 1 << 20
	// DefaultMaxClients bounds the clients connected at once; more are refused at CONNECT.
	DefaultMaxClients = 1024
	// DefaultMaxInflight bounds the QoS 1 and 2 messages the broker holds per client: sent and not yet
	// acknowledged, and queued for a persistent session (CleanSession=false) while its client is away.
	// Beyond it, messages to that client are dropped and counted (Stats.InflightDropped): the broker
	// does not slow publishers down for a slow subscriber (mosquitto, likewise, drops beyond its
	// max_queued_messages). It is mochi's default.
	DefaultMaxInflight = 8192
	// DefaultMaxPendingWrites bounds each client's outbound queue; a client that does not read fast
	// enough loses messages beyond it, counted in Stats.MessagesDropped. It is mochi's default.
	DefaultMaxPendingWrites = 8192
	// DefaultSessionExpiry is how long the session of a disconnected persistent client is kept.
	DefaultSessionExpiry = time.Hour
	// DefaultConnectTimeout is how long a new connection may take to send its CONNECT packet.
	DefaultConnectTimeout = 10 * time.Second
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("broker: invalid config")

// ClientInfo identifies a connecting or connected client to the auth hooks.
type ClientInfo struct {
	ID       string // the MQTT client identifier
	Username string
	Remote   string // the client's address, host:port
}

// Config is the broker's settings. The zero Config is valid: anonymous access on 127.0.0.1:1883.
type Config struct {
	// Listen is the TCP address to serve MQTT on (default DefaultListen). Use "127.0.0.1:0" for a free
	// port, then read it back with Broker.Addr.
	Listen string
	// MaxPacketSize, MaxClients, MaxInflight and MaxPendingWrites are the limits described with their
	// Default constants.
	MaxPacketSize    int
	MaxClients       int
	MaxInflight      int
	MaxPendingWrites int
	// SessionExpiry is how long the session of a disconnected persistent client is kept (default
	// DefaultSessionExpiry).
	SessionExpiry time.Duration
	// ConnectTimeout bounds the wait for a new connection's CONNECT packet (default
	// DefaultConnectTimeout), so that idle sockets cannot pile up.
	ConnectTimeout time.Duration

	// Authenticate, if set, decides whether a client may connect: it gets the client and the password
	// of the CONNECT packet. Nil allows everyone (anonymous access), which Validate permits only on a
	// loopback address unless AllowRemoteAnonymous is set. AllowList builds one from a user table.
	// It is called from the client's connection goroutine and must be safe for concurrent use.
	Authenticate func(c ClientInfo, password []byte) bool
	// Authorize, if set, decides whether a connected client may publish to (write) or receive from a
	// topic. Nil allows every topic. It is called for every publish and delivery: keep it fast.
	Authorize func(c ClientInfo, topic string, write bool) bool
	// AllowRemoteAnonymous lets Validate accept anonymous access on a non-loopback Listen address.
	AllowRemoteAnonymous bool

	// Logger receives the broker's warnings and errors (default: slog.Default(), at level Warn and
	// above; pass a logger of your own to see more).
	Logger *slog.Logger
}

// AllowList returns an Authenticate function that admits exactly the users of the table (username →
// password), comparing passwords in constant time.
func AllowList(users map[string]string) func(ClientInfo, []byte) bool {
	table := make(map[string][]byte, len(users))
	for u, p := range users {
		table[u] = []byte(p)
	}
	return func(c ClientInfo, password []byte) bool {
		want, ok := table[c.Username]
		return ok && subtle.ConstantTimeCompare(want, password) == 1
	}
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	listen := c.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return bad("listen address %q: %v", listen, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return bad("listen port %q: %v", port, err)
	}
	switch {
	case c.MaxPacketSize < 0 || c.MaxPacketSize > math.MaxUint32:
		return bad("max packet size %d out of range", c.MaxPacketSize)
	case c.MaxPacketSize != 0 && c.MaxPacketSize < 64:
		return bad("max packet size %d is too small for MQTT", c.MaxPacketSize)
	case c.MaxClients < 0:
		return bad("max clients %d < 0", c.MaxClients)
	case c.MaxInflight < 0 || c.MaxInflight > math.MaxUint16:
		return bad("max inflight %d out of range 0..65535", c.MaxInflight)
	case c.MaxPendingWrites < 0 || c.MaxPendingWrites > math.MaxInt32:
		return bad("max pending writes %d out of range", c.MaxPendingWrites)
	case c.SessionExpiry < 0 || c.SessionExpiry > math.MaxUint32*time.Second:
		return bad("session expiry %v out of range", c.SessionExpiry)
	case c.ConnectTimeout < 0:
		return bad("connect timeout %v < 0", c.ConnectTimeout)
	case c.Authenticate == nil && !c.AllowRemoteAnonymous && !isLoopback(host):
		return bad("anonymous access on non-loopback address %q: set Authenticate or AllowRemoteAnonymous", listen)
	}
	return nil
}

// isLoopback reports whether host (from a listen address) is a loopback address. An empty host or an
// unspecified address listens on every interface, so it is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxPendingWrites == 0 {
		c.MaxPendingWrites = DefaultMaxPendingWrites
	}
	if c.SessionExpiry == 0 {
		c.SessionExpiry = DefaultSessionExpiry
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(minLevel{slog.Default().Handler(), slog.LevelWarn})
	}
	return c
}
