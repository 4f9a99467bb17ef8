package broker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/edgehive/edgehive/beehive"
)

// DefaultModuleName is the name of the broker's beehive module unless NewModule is given another.
const DefaultModuleName = "mqttbroker"

// ErrUnknownOperation answers sync requests the module does not understand.
var ErrUnknownOperation = errors.New("broker: unknown operation")

// Module runs a Broker as a beehive module, so that an edge process can add the broker to its hive
// like any other part. Each Run starts a fresh Broker with the module's Config and closes it when the
// hive stops (or the module is restarted). It answers a SendSync with Operation beehive.OpQuery with
// the broker's Stats; other requests get ErrUnknownOperation.
type Module struct {
	name string
	cfg  Config
	cur  atomic.Pointer[Broker]
}

// NewModule returns the broker module named name (DefaultModuleName if empty), in group
// beehive.GroupBus. It fails with ErrInvalidConfig if cfg is invalid.
func NewModule(name string, cfg Config) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if name == "" {
		name = DefaultModuleName
	}
	return &Module{name: name, cfg: cfg}, nil
}

// Name implements beehive.Module.
func (m *Module) Name() string { return m.name }

// Group implements beehive.Module.
func (m *Module) Group() beehive.Group { return beehive.GroupBus }

// Addr is the address of the running broker, or "" when it is not running.
func (m *Module) Addr() string {
	if b := m.cur.Load(); b != nil {
		return b.Addr()
	}
	return ""
}

// Stats returns the running broker's counters (zero when it is not running).
func (m *Module) Stats() Stats {
	if b := m.cur.Load(); b != nil {
		return b.Stats()
	}
	return Stats{}
}

// Run implements beehive.Module: it serves MQTT until ctx ends.
func (m *Module) Run(ctx context.Context, c *beehive.Context) error {
	b, err := New(m.cfg)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	m.cur.Store(b)
	defer func() {
		m.cur.CompareAndSwap(b, nil)
		_ = b.Close()
	}()
	for {
		msg, err := c.Receive(ctx)
		if err != nil {
			return nil // ctx ended: the hive is stopping
		}
		if !msg.Header.Sync {
			continue
		}
		if msg.Router.Operation == beehive.OpQuery {
			_ = c.Respond(msg, b.Stats())
		} else {
			_ = c.RespondError(msg, fmt.Errorf("%w %q", ErrUnknownOperation, msg.Router.Operation))
		}
	}
}

var _ beehive.Module = (*Module)(nil)
