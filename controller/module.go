package controller

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// The beehive module's name and group, and the default module its Downstream sends to.
const (
	ModuleName        = "edgecontroller"
	ModuleGroup       = beehive.GroupController
	DefaultHubModule  = "cloudhub"
	nodeResourcePrefx = "node/"
)

// ErrNotAttached is returned by a HiveDownstream used outside its Module's Run.
var ErrNotAttached = errors.New("controller: hive downstream not attached (module not running)")

// ErrBadResource is returned for a message whose Router.Resource is not "node/<node>/<key>".
var ErrBadResource = errors.New("controller: malformed resource")

// NodeResource returns the Router.Resource of a message about key on node: "node/<node>/<key>" (so a
// cluster-scoped key shows as "node/edge-1//node/edge-1"). It is the form the cloud hub uses for the
// messages it delivers and takes.
func NodeResource(node hub.NodeName, key hub.Key) string {
	return nodeResourcePrefx + string(node) + "/" + key.String()
}

// ParseNodeResource splits a "node/<node>/<key>" resource, or returns an error wrapping ErrBadResource.
func ParseNodeResource(s string) (hub.NodeName, hub.Key, error) {
	rest, ok := strings.CutPrefix(s, nodeResourcePrefx)
	if !ok {
		return "", hub.Key{}, fmt.Errorf("%w %q: want node/<node>/<key>", ErrBadResource, s)
	}
	name, keyStr, ok := strings.Cut(rest, "/")
	if !ok {
		return "", hub.Key{}, fmt.Errorf("%w %q: no key", ErrBadResource, s)
	}
	node, err := hub.ParseNodeName(name)
	if err != nil {
		return "", hub.Key{}, fmt.Errorf("%w: %w", ErrBadResource, err)
	}
	key, err := hub.ParseKey(keyStr)
	if err != nil {
		return "", hub.Key{}, fmt.Errorf("%w: %w", ErrBadResource, err)
	}
	return node, key, nil
}

// HiveDownstream is a Downstream that sends each change as a beehive message to a module (the cloud
// hub), from inside a Module's Run: Router.Operation = the change's operation, Router.Resource =
// NodeResource(node, key), Router.Group = beehive.GroupHub, Header.ResourceVersion = the version,
// Content = the object's JSON as []byte (nil for a delete). Send blocks while the receiver's mailbox is
// full, until ctx ends.
type HiveDownstream struct {
	to string
	c  atomic.Pointer[beehive.Context]
}

// NewHiveDownstream returns a HiveDownstream that sends to module to (DefaultHubModule if empty).
func NewHiveDownstream(to string) *HiveDownstream {
	if to == "" {
		to = DefaultHubModule
	}
	return &HiveDownstream{to: to}
}

// Send implements Downstream; it fails with ErrNotAttached while no Module runs with it.
func (d *HiveDownstream) Send(ctx context.Context, node hub.NodeName, ch hub.Change) error {
	c := d.c.Load()
	if c == nil {
		return ErrNotAttached
	}
	var content any
	if ch.Content != nil {
		content = ch.Content
	}
	m := c.NewMessage(beehive.GroupHub, ch.Op, NodeResource(node, ch.Key), content)
	m.Header.ResourceVersion = ch.ResourceVersion
	return c.Send(ctx, d.to, m)
}

// Module runs an EdgeController inside a beehive Hive: it runs the controller, attaches its
// HiveDownstream, and applies the upstream messages it receives with HandleUpstream (see the package
// documentation for their shape). Reports of one key are applied in order; reports of different keys
// by Workers goroutines in parallel.
type Module struct {
	ctl     *EdgeController
	down    *HiveDownstream
	workers int
}

// NewModule returns the module of ctl, which runs ctl: do not call ctl.Run as well (the module would
// fail with ErrAlreadyRunning and be restarted by its policy, over and over). down is the HiveDownstream ctl was configured with, or nil if
// ctl sends elsewhere. workers is the number of goroutines applying upstream reports
// (DefaultUpstreamWorkers if 0).
func NewModule(ctl *EdgeController, down *HiveDownstream, workers int) *Module {
	if workers <= 0 {
		workers = DefaultUpstreamWorkers
	}
	return &Module{ctl: ctl, down: down, workers: workers}
}

// Name implements beehive.Module.
func (m *Module) Name() string { return ModuleName }

// Group implements beehive.Module.
func (m *Module) Group() beehive.Group { return ModuleGroup }

// Run implements beehive.Module: it runs the controller and applies upstream messages until ctx ends.
// A sync request (SendSync) is answered after its report was applied: Respond with no content on
// success, RespondError otherwise (Final tells whether retrying can help).
func (m *Module) Run(ctx context.Context, c *beehive.Context) error {
	if m.down != nil {
		if !m.down.c.CompareAndSwap(nil, c) {
			return fmt.Errorf("controller: %w: downstream attached twice", ErrAlreadyRunning)
		}
		defer m.down.c.Store(nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var runErr error // written before wg.Done, read after wg.Wait
	wg.Go(func() {
		if err := m.ctl.Run(ctx); !isCtxErr(err) {
			runErr = err
			cancel()
		}
	})
	shards := make([]chan beehive.Message, m.workers)
	for i := range shards {
		ch := make(chan beehive.Message, 64)
		shards[i] = ch
		wg.Go(func() {
			for msg := range ch {
				m.apply(ctx, c, msg)
			}
		})
	}
	for {
		msg, err := c.Receive(ctx)
		if err != nil {
			cancel()
			for _, ch := range shards {
				close(ch)
			}
			wg.Wait()
			return runErr
		}
		h := fnv.New32a()
		h.Write([]byte(msg.Router.Resource))
		select {
		case shards[h.Sum32()%uint32(len(shards))] <- msg:
		case <-ctx.Done():
		}
	}
}

// apply handles one upstream message and answers it if it is a sync request.
func (m *Module) apply(ctx context.Context, c *beehive.Context, msg beehive.Message) {
	if msg.IsResponse() {
		return
	}
	err := m.handle(ctx, msg)
	if err != nil && !isCtxErr(err) {
		m.ctl.log.Warn("upstream report not applied", "resource", msg.Router.Resource, "op", msg.Router.Operation,
			"final", Final(err), "err", err)
	}
	if !msg.Header.Sync {
		return
	}
	if err != nil {
		_ = c.RespondError(msg, err)
	} else {
		_ = c.Respond(msg, nil)
	}
}

func (m *Module) handle(ctx context.Context, msg beehive.Message) error {
	node, key, err := ParseNodeResource(msg.Router.Resource)
	if err != nil {
		return err
	}
	var content []byte
	switch v := msg.Content.(type) {
	case nil:
	case []byte:
		content = v
	case string:
		content = []byte(v)
	default:
		return fmt.Errorf("%w: content of type %T, want []byte", ErrBadContent, msg.Content)
	}
	return m.ctl.HandleUpstream(ctx, node, msg.Router.Operation, key, content)
}

var _ beehive.Module = (*Module)(nil)
