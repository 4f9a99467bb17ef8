package twinmodule

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/twin"
)

// Defaults for Config fields left zero.
const (
	// DefaultName is the module's name.
	DefaultName = "twin"
	// DefaultEventBus is the eventbus module the twin module publishes through (api.ModuleName).
	DefaultEventBus = api.ModuleName
	// DefaultEdgeHub is the module device statuses are sent to (the edge hub's name).
	DefaultEdgeHub = "edgehub"
	// DefaultStatusTimeout bounds one devicestatus hand-over to the edge hub (a SendSync).
	DefaultStatusTimeout = 10 * time.Second
	// DefaultRetryInterval is how long device statuses the edge hub did not accept wait before the next
	// attempt (an OpCloudConnected broadcast retries at once).
	DefaultRetryInterval = 5 * time.Second
	// DefaultCoalesceDelay is how long the status sender waits after a change for more changes, so that
	// a burst of reports of one device becomes one devicestatus.
	DefaultCoalesceDelay = 20 * time.Millisecond
	// DefaultMailboxSize is the module's mailbox size.
	DefaultMailboxSize = 4096
)

// ErrInvalidConfig wraps every Config.Validate error.
var ErrInvalidConfig = errors.New("twinmodule: invalid config")

// Config is the twin module's settings. Store is required; every other zero field takes its Default.
type Config struct {
	// Store holds the devices and twins. The module is meant to be its only writer; the caller opens
	// and closes it (the module does not close it).
	Store *twin.Store
	// Name is the module's name (default DefaultName). Its group is always beehive.GroupTwin, where the
	// eventbus routes device topics by default.
	Name string
	// NodeName is this edge node's name. When set, membership requests for another node are answered
	// with 404, and a Device whose spec.nodeName names another node is removed from the store (it was
	// moved away). Empty: every device in the store belongs to this node.
	NodeName string
	// EventBus is the eventbus module's name (default DefaultEventBus).
	EventBus string
	// EdgeHub is the module that takes device statuses to the cloud (default DefaultEdgeHub). Set
	// DisableStatus to send none (an edge without a cloud).
	EdgeHub       string
	DisableStatus bool
	// StatusTimeout, RetryInterval and CoalesceDelay are described with their Default constants.
	StatusTimeout time.Duration
	RetryInterval time.Duration
	CoalesceDelay time.Duration
	// MailboxSize is the module's mailbox size (default DefaultMailboxSize).
	MailboxSize int
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock of payload timestamps (default time.Now).
	Now func() time.Time
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Store == nil:
		return bad("no store")
	case c.NodeName != "" && (strings.ContainsAny(c.NodeName, "/+#") || len(c.NodeName) > twin.MaxIDSegment):
		return bad("node name %q is not one MQTT topic segment", c.NodeName)
	case c.StatusTimeout < 0, c.RetryInterval < 0, c.CoalesceDelay < 0:
		return bad("negative duration")
	case c.MailboxSize < 0:
		return bad("mailbox size %d < 0", c.MailboxSize)
	}
	name := c.Name
	if name == "" {
		name = DefaultName
	}
	if c.EventBus == name || (!c.DisableStatus && c.EdgeHub == name) {
		return bad("event bus or edge hub is the twin module itself (%q)", name)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.EventBus == "" {
		c.EventBus = DefaultEventBus
	}
	if c.EdgeHub == "" {
		c.EdgeHub = DefaultEdgeHub
	}
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	def(&c.StatusTimeout, DefaultStatusTimeout)
	def(&c.RetryInterval, DefaultRetryInterval)
	def(&c.CoalesceDelay, DefaultCoalesceDelay)
	if c.MailboxSize == 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Operations the twin module understands besides the eventbus's OpPublish and the hub's object
// operations (OpInsert, OpUpdate, OpDelete). They are the edge hub's broadcasts to its NotifyGroups
// (hub/edgehub.OpCloudConnected and OpCloudDisconnected, the same strings): add beehive.GroupTwin to
// them.
const (
	// OpCloudConnected: the link to the cloud is up; device statuses the edge hub has not accepted yet
	// are sent again at once.
	OpCloudConnected beehive.Operation = "cloud-connected"
	// OpCloudDisconnected: the link is down. Informational: statuses keep going to the edge hub, whose
	// outbox holds them until the link is back.
	OpCloudDisconnected beehive.Operation = "cloud-disconnected"
)
