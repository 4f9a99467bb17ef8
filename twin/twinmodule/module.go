package twinmodule

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/twin"
)

// Module is the twin beehive module. Create it with New and Add it to a Hive next to the eventbus (and
// the edge hub); see the package documentation for what it speaks.
type Module struct {
	cfg Config
	up  *uplink

	mu     sync.Mutex
	models map[string]map[string]string // "<ns>/<model>" → property → twin type, from DeviceModels

	ctr counters
}

type counters struct {
	mqtt, mqttErrors, ignored, published, publishErrors atomic.Uint64
	cloud, cloudErrors, statusSent, statusFailed        atomic.Uint64
}

// Stats are the module's counters since New.
type Stats struct {
	// MQTTRequests counts device and node requests handled; MQTTErrors those answered with an error.
	MQTTRequests, MQTTErrors uint64
	// Ignored counts messages the module had nothing to do with (other topics, unknown operations).
	Ignored uint64
	// Published counts payloads handed to the eventbus; PublishErrors those it refused.
	Published, PublishErrors uint64
	// CloudMessages counts Device, DeviceModel and Membership messages applied; CloudErrors those refused.
	CloudMessages, CloudErrors uint64
	// StatusSent counts devicestatus messages the edge hub accepted; StatusFailed the attempts it did
	// not (they are retried). StatusPending is the number of devices waiting to be sent.
	StatusSent, StatusFailed uint64
	StatusPending            int
}

// New returns a twin module, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &Module{cfg: cfg, models: map[string]map[string]string{}}
	m.up = newUplink(m)
	return m, nil
}

// Name implements beehive.Module.
func (m *Module) Name() string { return m.cfg.Name }

// Group implements beehive.Module: beehive.GroupTwin.
func (m *Module) Group() beehive.Group { return beehive.GroupTwin }

// ModuleConfig implements beehive.Configurer.
func (m *Module) ModuleConfig() beehive.ModuleConfig {
	return beehive.ModuleConfig{MailboxSize: m.cfg.MailboxSize}
}

// Stats returns the module's counters.
func (m *Module) Stats() Stats {
	return Stats{
		MQTTRequests: m.ctr.mqtt.Load(), MQTTErrors: m.ctr.mqttErrors.Load(), Ignored: m.ctr.ignored.Load(),
		Published: m.ctr.published.Load(), PublishErrors: m.ctr.publishErrors.Load(),
		CloudMessages: m.ctr.cloud.Load(), CloudErrors: m.ctr.cloudErrors.Load(),
		StatusSent: m.ctr.statusSent.Load(), StatusFailed: m.ctr.statusFailed.Load(),
		StatusPending: m.up.pending(),
	}
}

// Run implements beehive.Module: it handles messages until ctx ends. Device statuses are sent by a
// second goroutine, which Run waits for before it returns.
func (m *Module) Run(ctx context.Context, c *beehive.Context) error {
	var wg sync.WaitGroup
	if !m.cfg.DisableStatus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.up.run(ctx, c)
		}()
	}
	defer wg.Wait()
	now, cancel := context.WithCancel(ctx)
	cancel() // a context that has ended: Receive(now) takes a queued message without waiting
	for {
		msg, err := c.Receive(ctx)
		if err != nil {
			return nil // ctx ended: a clean stop
		}
		if !isTwinUpdate(msg) {
			m.handle(ctx, c, msg)
			continue
		}
		run, next := receiveRun(now, c, msg)
		m.twinUpdates(ctx, c, run)
		if next != nil {
			m.handle(ctx, c, *next)
		}
	}
}

// handle dispatches one message.
func (m *Module) handle(ctx context.Context, c *beehive.Context, msg beehive.Message) {
	switch op := msg.Router.Operation; {
	case op == api.OpPublish && strings.HasPrefix(msg.Router.Resource, "$hw/"):
		m.handleMQTT(ctx, c, msg)
	case op == beehive.OpInsert, op == beehive.OpUpdate, op == beehive.OpDelete:
		err := m.handleCloud(ctx, c, msg)
		if err != nil {
			m.ctr.cloudErrors.Add(1)
			m.cfg.Logger.Warn("twinmodule: cloud message refused", "op", op, "resource", msg.Router.Resource, "err", err)
		} else {
			m.ctr.cloud.Add(1)
		}
		if msg.Header.Sync {
			if err != nil {
				_ = c.RespondError(msg, err)
			} else {
				_ = c.Respond(msg, nil)
			}
		}
	case op == OpCloudConnected:
		m.up.retryNow()
	case op == OpCloudDisconnected:
	default:
		m.ctr.ignored.Add(1)
		if msg.Header.Sync {
			_ = c.RespondError(msg, ErrUnknownOperation)
		}
	}
}

// Errors of the module. Compare with errors.Is.
var (
	// ErrUnknownOperation answers a sync request the module does not understand.
	ErrUnknownOperation = errors.New("twinmodule: unknown operation")
	// ErrBadObject: a cloud message whose resource or content cannot be applied.
	ErrBadObject = errors.New("twinmodule: bad object")
)

// publish hands one payload to the eventbus (QoS 1, not retained).
func (m *Module) publish(ctx context.Context, c *beehive.Context, topic string, p twin.Payload) {
	b, err := twin.Encode(p)
	if err == nil {
		err = c.Send(ctx, m.cfg.EventBus, api.NewPublishMessage(topic, api.Publish{Payload: b}))
	}
	if err != nil {
		m.ctr.publishErrors.Add(1)
		m.cfg.Logger.Warn("twinmodule: publish failed", "topic", topic, "err", err)
		return
	}
	m.ctr.published.Add(1)
}

var (
	_ beehive.Module     = (*Module)(nil)
	_ beehive.Configurer = (*Module)(nil)
)
