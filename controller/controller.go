package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/edgehive/edgehive/controller/crds"
	"github.com/edgehive/edgehive/hub"
)

// EdgeController is the cloud's view of Kubernetes for edge nodes: it watches edge Nodes, the Pods bound
// to them, the ConfigMaps and Secrets those pods use and (with a dynamic client) Devices and
// DeviceModels, sends each node what it should hold through Downstream, and writes what the nodes
// report back to the API server (HandleUpstream). It implements hub.DesiredState, hub.PodBinding and
// hub.DeviceBinding from its informer caches. See the package documentation.
//
// An EdgeController is safe for concurrent use. Run may be called again after it returned.
type EdgeController struct {
	cfg Config
	log *slog.Logger

	running atomic.Bool
	// cur holds the caches of the current Run once they have synced; nil otherwise.
	cur atomic.Pointer[caches]

	mu sync.Mutex
	// sent is, per node, what was handed to Downstream as {key → resourceVersion}.
	sent map[hub.NodeName]hub.Digest
}

// New returns an EdgeController for cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*EdgeController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &EdgeController{cfg: cfg, log: cfg.Logger.With("module", ModuleName), sent: make(map[hub.NodeName]hub.Digest)}, nil
}

// DevicesEnabled reports whether the device controller is on (Config.Dynamic is set).
func (c *EdgeController) DevicesEnabled() bool { return c.cfg.Dynamic != nil }

// Synced reports whether Run runs and its caches have synced: from then on Desired, Get and the
// bindings answer from complete caches. The cloud hub should not answer resyncs or authorize pod and
// device reports before (they would see an empty cluster).
func (c *EdgeController) Synced() bool { return c.cur.Load() != nil }

// Bindings returns the lookups hub.AuthorizeWrite needs, answered from the controller's caches.
func (c *EdgeController) Bindings() hub.Bindings { return hub.Bindings{Pods: c, Devices: c} }

// Run installs the device CRDs if needed (Config.SkipCRDInstall), starts the informers, waits until
// their caches have synced, and then sends every edge node its changes until ctx ends. It returns
// ctx's error after every goroutine it started has stopped, or an error if it could not start.
// Desired, Get and the bindings answer only while Run runs and its caches have synced (ErrNotRunning
// otherwise).
//
// Each Run starts from an empty record of what was sent, so the first pass sends every desired object
// again (the hub keeps the newest version per key and the edge skips a version it holds).
func (c *EdgeController) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	if c.DevicesEnabled() && !c.cfg.SkipCRDInstall {
		if err := crds.Ensure(ctx, c.cfg.Dynamic); err != nil {
			return fmt.Errorf("controller: device CRDs: %w", err)
		}
	}

	q := workqueue.NewTypedRateLimitingQueue(
		workqueue.NewTypedItemExponentialFailureRateLimiter[hub.NodeName](c.cfg.RetryInitial, c.cfg.RetryMax))
	cs, informers, err := c.newCaches(q)
	if err != nil {
		q.ShutDown()
		return err
	}
	infCtx, stopInformers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopInformers()
	synced := make([]cache.InformerSynced, 0, len(informers))
	for _, inf := range informers {
		wg.Go(func() { inf.RunWithContext(infCtx) })
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		q.ShutDown()
		return fmt.Errorf("controller: caches did not sync: %w", context.Cause(ctx))
	}

	c.mu.Lock()
	clear(c.sent)
	c.mu.Unlock()
	c.cur.Store(cs)
	defer c.cur.Store(nil)
	c.log.Info("caches synced; sending changes to edge nodes", "workers", c.cfg.Workers, "devices", c.DevicesEnabled())

	var workers sync.WaitGroup
	for range c.cfg.Workers {
		workers.Go(func() { c.work(ctx, cs, q) })
	}
	<-ctx.Done()
	q.ShutDown()
	workers.Wait()
	return ctx.Err()
}

// work brings the nodes taken from q to their desired state until q shuts down.
func (c *EdgeController) work(ctx context.Context, cs *caches, q workqueue.TypedRateLimitingInterface[hub.NodeName]) {
	for {
		node, shutdown := q.Get()
		if shutdown {
			return
		}
		if err := c.syncNode(ctx, cs, node); err != nil {
			if ctx.Err() == nil {
				c.log.Warn("sending changes failed; retrying", "node", node, "err", err)
			}
			q.AddRateLimited(node)
		} else {
			q.Forget(node)
		}
		q.Done(node)
	}
}

// caches returns the synced caches of the current Run, or ErrNotRunning.
func (c *EdgeController) caches() (*caches, error) {
	cs := c.cur.Load()
	if cs == nil {
		return nil, ErrNotRunning
	}
	return cs, nil
}

// PodNode implements hub.PodBinding from the pod cache.
func (c *EdgeController) PodNode(namespace, name string) (hub.NodeName, bool) {
	cs := c.cur.Load()
	if cs == nil {
		return "", false
	}
	pod, ok := cs.pod(namespace, name)
	if !ok || pod.Spec.NodeName == "" {
		return "", false
	}
	return hub.NodeName(pod.Spec.NodeName), true
}

// DeviceNode implements hub.DeviceBinding from the device cache.
func (c *EdgeController) DeviceNode(namespace, name string) (hub.NodeName, bool) {
	cs := c.cur.Load()
	if cs == nil || cs.devices == nil {
		return "", false
	}
	d, ok := cs.device(namespace, name)
	if !ok {
		return "", false
	}
	n := deviceNodeName(d)
	return hub.NodeName(n), n != ""
}

var (
	_ hub.DesiredState  = (*EdgeController)(nil)
	_ hub.PodBinding    = (*EdgeController)(nil)
	_ hub.DeviceBinding = (*EdgeController)(nil)
)

// isCtxErr reports whether err comes from a context that ended.
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
