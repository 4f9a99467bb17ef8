package meta

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// Defaults for ModuleConfig fields left zero.
const (
	DefaultCloudTimeout  = 5 * time.Second
	DefaultWriteWorkers  = 8
	DefaultMaxQueries    = 64
	DefaultWorkerBacklog = 256
)

// ModuleConfig configures the meta module. Only Store is required.
type ModuleConfig struct {
	// Store is where the module keeps what the cloud sends. The module does not close it.
	Store Store
	// Name is the module's name (default DefaultModuleName).
	Name string
	// HubModule is the module asked for objects the store lacks (default DefaultHubModule).
	HubModule string
	// CloudTimeout bounds one query to the cloud (default DefaultCloudTimeout).
	CloudTimeout time.Duration
	// WriteWorkers is the number of goroutines applying writes; the writes of one key always go to the
	// same worker, in order, and writes of different keys run concurrently so that the store batches
	// them into one transaction (default DefaultWriteWorkers).
	WriteWorkers int
	// MaxQueries bounds the queries answered concurrently (default DefaultMaxQueries).
	MaxQueries int
	// Logger receives failures of messages that cannot be answered (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports a clear error for settings that cannot work.
func (c ModuleConfig) Validate() error {
	switch {
	case c.Store == nil:
		return fmt.Errorf("%w: Store is nil", ErrInvalidConfig)
	case c.CloudTimeout < 0, c.WriteWorkers < 0, c.MaxQueries < 0:
		return fmt.Errorf("%w: negative setting", ErrInvalidConfig)
	}
	return nil
}

func (c ModuleConfig) withDefaults() ModuleConfig {
	if c.Name == "" {
		c.Name = DefaultModuleName
	}
	if c.HubModule == "" {
		c.HubModule = DefaultHubModule
	}
	if c.CloudTimeout == 0 {
		c.CloudTimeout = DefaultCloudTimeout
	}
	if c.WriteWorkers == 0 {
		c.WriteWorkers = DefaultWriteWorkers
	}
	if c.MaxQueries == 0 {
		c.MaxQueries = DefaultMaxQueries
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Module is the meta beehive module: it applies the cloud's writes to the Store, answers queries, and
// asks the cloud for what it lacks while connected. See doc.go for its message contract.
type Module struct {
	cfg       ModuleConfig
	seed      maphash.Seed
	connected atomic.Bool

	mu      sync.Mutex
	pending map[beehive.ID]chan beehive.Message // cloud queries waiting for their OpResponse/OpError
}

// NewModule returns the meta module for cfg.
func NewModule(cfg ModuleConfig) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Module{cfg: cfg.withDefaults(), seed: maphash.MakeSeed(), pending: make(map[beehive.ID]chan beehive.Message)}, nil
}

// Name implements beehive.Module.
func (m *Module) Name() string { return m.cfg.Name }

// Group implements beehive.Module: beehive.GroupMeta.
func (m *Module) Group() beehive.Group { return beehive.GroupMeta }

// Connected reports whether the module believes the cloud is connected.
func (m *Module) Connected() bool { return m.connected.Load() }

// Run implements beehive.Module. It returns when ctx ends, after the writes and queries in progress.
func (m *Module) Run(ctx context.Context, c *beehive.Context) error {
	var wg sync.WaitGroup
	workers := make([]chan beehive.Message, m.cfg.WriteWorkers)
	for i := range workers {
		ch := make(chan beehive.Message, DefaultWorkerBacklog)
		workers[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range ch {
				m.applyWrite(ctx, c, msg)
			}
		}()
	}
	queries := make(chan struct{}, m.cfg.MaxQueries)
	defer func() {
		for _, ch := range workers {
			close(ch)
		}
		wg.Wait()
	}()
	for {
		msg, err := c.Receive(ctx)
		if err != nil {
			return nil // ctx ended: the hive is stopping
		}
		switch op := msg.Router.Operation; op {
		case OpCloudConnected:
			m.connected.Store(true)
		case OpCloudDisconnected:
			m.connected.Store(false)
		case beehive.OpResponse, beehive.OpError:
			m.deliverAnswer(msg)
		case beehive.OpInsert, beehive.OpUpdate, beehive.OpPatch, beehive.OpDelete:
			w := workers[maphash.String(m.seed, msg.Router.Resource)%uint64(len(workers))]
			select {
			case w <- msg:
			case <-ctx.Done():
				return nil
			}
		case beehive.OpQuery:
			select {
			case queries <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-queries }()
				m.answerQuery(ctx, c, msg)
			}()
		default:
			m.fail(c, msg, fmt.Errorf("%w: operation %q", ErrBadQuery, op))
		}
	}
}

// fail answers a sync request with err, or logs err for a plain message.
func (m *Module) fail(c *beehive.Context, msg beehive.Message, err error) {
	if msg.Header.Sync {
		if rerr := c.RespondError(msg, err); rerr == nil {
			return
		}
	}
	m.cfg.Logger.Warn("meta: message not applied", "source", msg.Router.Source, "operation", msg.Router.Operation,
		"resource", msg.Router.Resource, "error", err)
}

// applyWrite commits one insert, update or delete and then, for a sync request, responds: the
// response is the hub's acknowledgement, so it is sent only after the commit. A stale version, a
// repeated version and the delete of a missing key are acknowledged (the edge holds the newest).
func (m *Module) applyWrite(ctx context.Context, c *beehive.Context, msg beehive.Message) {
	key, err := hub.ParseKey(msg.Router.Resource)
	if err != nil {
		m.fail(c, msg, fmt.Errorf("%w: %w", ErrBadKey, err))
		return
	}
	value, ok := contentBytes(msg.Content)
	if !ok {
		m.fail(c, msg, fmt.Errorf("%w: content of type %T, want []byte", ErrBadValue, msg.Content))
		return
	}
	rv := msg.Header.ResourceVersion
	if msg.Router.Operation == beehive.OpPatch {
		held, err := m.cfg.Store.Get(ctx, key)
		if err != nil {
			m.fail(c, msg, fmt.Errorf("meta: patch %s: %w", key, err))
			return
		}
		if value, err = mergePatch(held.Value, value); err != nil {
			m.fail(c, msg, err)
			return
		}
	}
	if msg.Router.Operation == beehive.OpDelete {
		if rv == "" && len(value) > 0 {
			rv = objectVersion(value)
		}
		_, err = m.cfg.Store.Delete(ctx, key, rv)
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	} else {
		if rv == "" {
			rv = objectVersion(value)
		}
		_, err = m.cfg.Store.Put(ctx, key, rv, value)
	}
	if errors.Is(err, ErrStale) {
		err = nil
	}
	if err != nil {
		m.fail(c, msg, err)
		return
	}
	if msg.Header.Sync {
		_ = c.Respond(msg, nil)
	}
}

// answerQuery answers an OpQuery: from the store, else from the cloud when connected.
func (m *Module) answerQuery(ctx context.Context, c *beehive.Context, msg beehive.Message) {
	q, err := ParseQuery(msg.Router.Resource)
	if err != nil {
		m.fail(c, msg, err)
		return
	}
	if !msg.Header.Sync {
		m.fail(c, msg, fmt.Errorf("%w: a query must be sent with SendSync", ErrBadQuery))
		return
	}
	if q.List {
		m.answerList(ctx, c, msg, q)
		return
	}
	o, err := m.cfg.Store.Get(ctx, q.Key)
	if errors.Is(err, ErrNotFound) {
		o, err = m.askCloud(ctx, c, q.Key)
	}
	if err != nil {
		m.fail(c, msg, err)
		return
	}
	_ = c.Respond(msg, o.Value)
}

func (m *Module) answerList(ctx context.Context, c *beehive.Context, msg beehive.Message, q Query) {
	opts := ListOptions{Kind: q.Key.Kind, Namespace: q.Key.Namespace}
	sel, ok := contentBytes(msg.Content)
	if !ok {
		m.fail(c, msg, fmt.Errorf("%w: list content of type %T, want a label selector string", ErrBadQuery, msg.Content))
		return
	}
	if len(sel) > 0 {
		s, err := labels.Parse(string(sel))
		if err != nil {
			m.fail(c, msg, fmt.Errorf("%w: label selector: %w", ErrBadQuery, err))
			return
		}
		opts.Selector = s
	}
	res, err := m.cfg.Store.List(ctx, opts)
	if err != nil {
		m.fail(c, msg, err)
		return
	}
	_ = c.Respond(msg, encodeList(res.Items))
}

// askCloud fetches key from the cloud through the hub module and stores the answer. The hub may answer
// the SendSync itself with the object, or acknowledge it (empty content) and deliver the cloud's answer
// later as an OpResponse (or OpError) message whose ParentID is the query's ID.
func (m *Module) askCloud(ctx context.Context, c *beehive.Context, key hub.Key) (Object, error) {
	if !m.connected.Load() {
		return Object{}, fmt.Errorf("%w: %s (%w: not held locally)", ErrNotFound, key, ErrOffline)
	}
	qctx, cancel := context.WithTimeout(ctx, m.cfg.CloudTimeout)
	defer cancel()
	q := c.NewMessage(beehive.GroupHub, beehive.OpQuery, key.String(), nil)
	answer := make(chan beehive.Message, 1)
	m.mu.Lock()
	m.pending[q.Header.ID] = answer
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.pending, q.Header.ID)
		m.mu.Unlock()
	}()
	resp, err := c.SendSync(qctx, m.cfg.HubModule, q)
	if errors.Is(err, beehive.ErrUnknownModule) || errors.Is(err, beehive.ErrModuleStopped) {
		return Object{}, fmt.Errorf("%w: %s (%w: %w)", ErrNotFound, key, ErrOffline, err)
	}
	if err != nil {
		return Object{}, fmt.Errorf("%w: %s: not held locally, and the cloud did not give it: %w", ErrNotFound, key, err)
	}
	if v, ok := contentBytes(resp.Content); !ok || len(v) == 0 {
		select {
		case resp = <-answer:
		case <-qctx.Done():
			return Object{}, fmt.Errorf("%w: %s: not held locally, and the cloud did not answer: %w", ErrNotFound, key, qctx.Err())
		}
		if resp.Router.Operation == beehive.OpError {
			return Object{}, fmt.Errorf("%w: %s: the cloud answered: %v", ErrNotFound, key, resp.Content)
		}
	}
	value, ok := contentBytes(resp.Content)
	if !ok || len(value) == 0 {
		return Object{}, fmt.Errorf("%w: %s: the cloud answered with content of type %T", ErrNotFound, key, resp.Content)
	}
	rv := resp.Header.ResourceVersion
	if rv == "" {
		rv = objectVersion(value)
	}
	rev, err := m.cfg.Store.Put(ctx, key, rv, value)
	if errors.Is(err, ErrStale) { // a newer version arrived meanwhile
		return m.cfg.Store.Get(ctx, key)
	}
	if err != nil {
		return Object{}, fmt.Errorf("meta: cache %s from the cloud: %w", key, err)
	}
	return Object{Key: key, ResourceVersion: rv, Revision: rev, Value: value}, nil
}

// deliverAnswer hands a cloud answer (OpResponse or OpError with ParentID set) to the query waiting
// for it; an answer nobody waits for (late, or unasked) is dropped.
func (m *Module) deliverAnswer(msg beehive.Message) {
	m.mu.Lock()
	ch := m.pending[msg.Header.ParentID]
	m.mu.Unlock()
	if ch != nil {
		select {
		case ch <- msg:
		default:
		}
	}
}

var _ beehive.Module = (*Module)(nil)
