package eventbus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

// Defaults for Config fields left zero.
const (
	// DefaultBrokerURL is the embedded broker's default address (broker.DefaultListen).
	DefaultBrokerURL = "tcp://127.0.0.1:1883"
	// DefaultClientID is the MQTT client id. It keys the bus's persistent session on the broker: two
	// buses on one broker need different ids.
	DefaultClientID = "edgehive-eventbus"
	// DefaultQoS is used for subscriptions and for publishes that do not choose: at least once, as the
	// twin contract needs.
	DefaultQoS = api.QoS1
	// DefaultConnectTimeout bounds one connection attempt.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultKeepAlive is the MQTT keepalive interval.
	DefaultKeepAlive = 30 * time.Second
	// DefaultReconnectMin and DefaultReconnectMax bound the exponential backoff between connection
	// attempts (with jitter). The delay starts again from the minimum after a connection that lasted
	// at least ten times the minimum, and keeps growing after shorter ones (a flapping broker).
	DefaultReconnectMin = 250 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
	// DefaultDeliverTimeout is how long delivering one MQTT message waits for room in a full module
	// mailbox before the message is dropped and counted. It holds up the MQTT client meanwhile.
	DefaultDeliverTimeout = 100 * time.Millisecond
	// DefaultPublishTimeout is how long a publish waits for the broker's acknowledgement.
	DefaultPublishTimeout = 10 * time.Second
	// DefaultMaxPayloadSize bounds payloads in both directions, in bytes.
	DefaultMaxPayloadSize = 1 << 20
	// DefaultOfflineQueue bounds the QoS 1 and 2 publishes (sent with Send, not SendSync) held while the
	// broker is unreachable; the oldest is dropped when it is full.
	DefaultOfflineQueue = 1024
	// DefaultMaxInflight bounds the publishes awaiting the broker's acknowledgement; a module's
	// publishes wait (in its mailbox) beyond it.
	DefaultMaxInflight = 1024
	// DefaultMailboxSize is the eventbus module's mailbox size.
	DefaultMailboxSize = beehive.DefaultMailboxSize
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("eventbus: invalid config")

// Route sends the MQTT messages whose topic matches Filter to Target.
type Route struct {
	Filter string
	Target api.Target
}

// Config is the eventbus module's settings. The zero Config is valid: it connects to the embedded
// broker at its default address and routes KubeEdge's topics to the twin group and the hub group.
type Config struct {
	// Name is the module's name (default api.ModuleName, "eventbus").
	Name string
	// BrokerURL is the broker to connect to: tcp://host:port, ssl://host:port (with TLS), ws:// or wss://
	// (default DefaultBrokerURL, the embedded broker). A mosquitto elsewhere is this one field away.
	BrokerURL string
	// ClientID is the MQTT client id (default DefaultClientID); it keys the persistent session.
	ClientID string
	// Username and Password authenticate to the broker, if it asks.
	Username string
	Password string
	// TLS configures ssl:// and wss:// connections.
	TLS *tls.Config
	// QoS is the QoS of subscriptions and of publishes that do not choose one (default DefaultQoS).
	QoS api.QoS

	// Twin receives the device and node topics (DeviceTopics); default: group beehive.GroupTwin.
	Twin api.Target
	// Hub receives the upload and user topics (HubTopics); default: group beehive.GroupHub.
	Hub api.Target
	// DeviceTopics are the filters routed to Twin; nil means api.DeviceFilters(). Their payloads must be
	// JSON (KubeEdge's device contract) unless AcceptNonJSON is set.
	DeviceTopics []string
	// HubTopics are the filters routed to Hub; nil means api.HubFilters().
	HubTopics []string
	// Routes are more filters with their own targets, for user topics.
	Routes []Route
	// AcceptNonJSON passes device-topic payloads that are not valid JSON instead of dropping them.
	AcceptNonJSON bool

	// ConnectTimeout, KeepAlive, ReconnectMin, ReconnectMax, DeliverTimeout and PublishTimeout are
	// described with their Default constants. A negative DeliverTimeout never waits for mailbox room.
	ConnectTimeout time.Duration
	KeepAlive      time.Duration
	ReconnectMin   time.Duration
	ReconnectMax   time.Duration
	DeliverTimeout time.Duration
	PublishTimeout time.Duration
	// MaxPayloadSize bounds payloads both ways (default DefaultMaxPayloadSize). Larger MQTT messages are
	// dropped and counted (Stats.Oversized); larger publishes are refused with api.ErrPayloadTooLarge.
	MaxPayloadSize int
	// OfflineQueue bounds the publishes held while disconnected (default DefaultOfflineQueue; negative:
	// none, such publishes fail).
	OfflineQueue int
	// MaxInflight bounds the publishes awaiting acknowledgement (default DefaultMaxInflight).
	MaxInflight int
	// MailboxSize is the module's mailbox size (default DefaultMailboxSize).
	MailboxSize int

	// Logger receives connection changes and failures (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.BrokerURL != "" {
		u, err := url.Parse(c.BrokerURL)
		if err != nil {
			return bad("broker URL: %v", err)
		}
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			return bad("broker URL %q: scheme must be tcp, ssl, ws or wss", c.BrokerURL)
		}
		if u.Host == "" {
			return bad("broker URL %q has no host", c.BrokerURL)
		}
	}
	if len(c.ClientID) > 65535 {
		return bad("client id longer than 65535 bytes")
	}
	if !c.QoS.Valid() {
		return bad("QoS %v", c.QoS)
	}
	for _, t := range []struct {
		name string
		t    api.Target
	}{{"twin", c.Twin}, {"hub", c.Hub}} {
		if !t.t.IsZero() {
			if err := t.t.Validate(); err != nil {
				return bad("%s: %v", t.name, err)
			}
		}
	}
	for _, f := range append(append([]string(nil), c.DeviceTopics...), c.HubTopics...) {
		if err := api.ValidFilter(f); err != nil {
			return bad("%v", err)
		}
	}
	name := c.Name
	if name == "" {
		name = api.ModuleName
	}
	for _, r := range c.Routes {
		if err := api.ValidFilter(r.Filter); err != nil {
			return bad("route: %v", err)
		}
		if err := r.Target.Validate(); err != nil {
			return bad("route %q: %v", r.Filter, err)
		}
		if r.Target.Module == name {
			return bad("route %q leads back to the eventbus itself", r.Filter)
		}
	}
	if c.Twin.Module == name || c.Hub.Module == name {
		return bad("twin or hub target is the eventbus itself")
	}
	switch {
	case c.ConnectTimeout < 0, c.KeepAlive < 0, c.ReconnectMin < 0, c.ReconnectMax < 0, c.PublishTimeout < 0:
		return bad("negative timeout or interval")
	case c.KeepAlive != 0 && c.KeepAlive < time.Second:
		return bad("keepalive %v is less than a second", c.KeepAlive)
	case c.ReconnectMin != 0 && c.ReconnectMax != 0 && c.ReconnectMin > c.ReconnectMax:
		return bad("reconnect min %v > max %v", c.ReconnectMin, c.ReconnectMax)
	case c.MaxPayloadSize < 0 || c.MaxPayloadSize > 256<<20:
		return bad("max payload size %d out of range 0..256 MiB", c.MaxPayloadSize)
	case c.MaxInflight < 0 || c.MaxInflight > 65535:
		return bad("max inflight %d out of range", c.MaxInflight)
	case c.MailboxSize < 0:
		return bad("mailbox size %d < 0", c.MailboxSize)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = api.ModuleName
	}
	if c.BrokerURL == "" {
		c.BrokerURL = DefaultBrokerURL
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.QoS == api.QoSDefault {
		c.QoS = DefaultQoS
	}
	if c.Twin.IsZero() {
		c.Twin = api.Target{Group: beehive.GroupTwin}
	}
	if c.Hub.IsZero() {
		c.Hub = api.Target{Group: beehive.GroupHub}
	}
	if c.DeviceTopics == nil {
		c.DeviceTopics = api.DeviceFilters()
	}
	if c.HubTopics == nil {
		c.HubTopics = api.HubFilters()
	}
	setDuration(&c.ConnectTimeout, DefaultConnectTimeout)
	setDuration(&c.KeepAlive, DefaultKeepAlive)
	setDuration(&c.ReconnectMin, DefaultReconnectMin)
	setDuration(&c.ReconnectMax, max(DefaultReconnectMax, c.ReconnectMin))
	setDuration(&c.DeliverTimeout, DefaultDeliverTimeout)
	setDuration(&c.PublishTimeout, DefaultPublishTimeout)
	if c.MaxPayloadSize == 0 {
		c.MaxPayloadSize = DefaultMaxPayloadSize
	}
	if c.OfflineQueue == 0 {
		c.OfflineQueue = DefaultOfflineQueue
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MailboxSize == 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// staticRoutes returns the configured routes: device topics, hub topics, then Routes.
func (c Config) staticRoutes() []route {
	var rs []route
	for _, f := range c.DeviceTopics {
		rs = append(rs, route{filter: f, target: c.Twin, static: true, device: true})
	}
	for _, f := range c.HubTopics {
		rs = append(rs, route{filter: f, target: c.Hub, static: true})
	}
	for _, r := range c.Routes {
		rs = append(rs, route{filter: r.Filter, target: r.Target, static: true})
	}
	return rs
}
