package edged

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged/cri"
)

// Defaults for ModuleConfig fields left zero.
const (
	DefaultModuleName   = "edged"
	DefaultStatusTarget = "edgehub"
	DefaultStatusRetry  = time.Second
)

// ModuleConfig is the edged module's settings. Manager.DataDir and Runtime.Endpoint are required.
type ModuleConfig struct {
	// Name is the module's name in the hive (default DefaultModuleName).
	Name string
	// Runtime says where the CRI runtime is.
	Runtime cri.Config
	// Manager configures the pod manager.
	Manager Config
	// StatusTarget is the module pod statuses are sent to (default DefaultStatusTarget).
	StatusTarget string
	// StatusGroup is the Router.Group of status messages (default beehive.GroupHub).
	StatusGroup beehive.Group
	// StatusRetry is the pause before statuses that could not be sent are tried again
	// (default DefaultStatusRetry).
	StatusRetry time.Duration
	// Source, if set, restores the stored pods, ConfigMaps and Secrets at start. Without a source the
	// manager starts knowing no pod, and so removes what it finds of pods it ran before.
	Source PodSource
	// NodeStatus, if set, makes the module register the node and report its status and lease to
	// StatusTarget, as a kubelet does (see NodeStatusConfig and messages.go). Nil: no node reports.
	NodeStatus *NodeStatusConfig
}

// Validate reports a clear error for settings that cannot work.
func (c ModuleConfig) Validate() error {
	if err := c.Runtime.Validate(); err != nil {
		return fmt.Errorf("%w: runtime: %v", ErrInvalidConfig, err)
	}
	if err := c.Manager.Validate(); err != nil {
		return err
	}
	if c.StatusRetry < 0 {
		return fmt.Errorf("%w: negative StatusRetry", ErrInvalidConfig)
	}
	if c.NodeStatus != nil {
		if err := c.NodeStatus.Validate(); err != nil {
			return err
		}
		if c.NodeStatus.NodeName == "" && c.Manager.NodeName == "" {
			return fmt.Errorf("%w: NodeStatus needs a node name (NodeStatus.NodeName or Manager.NodeName)", ErrInvalidConfig)
		}
	}
	return nil
}

func (c ModuleConfig) withDefaults() ModuleConfig {
	if c.Name == "" {
		c.Name = DefaultModuleName
	}
	if c.StatusTarget == "" {
		c.StatusTarget = DefaultStatusTarget
	}
	if c.StatusGroup == "" {
		c.StatusGroup = beehive.GroupHub
	}
	if c.StatusRetry == 0 {
		c.StatusRetry = DefaultStatusRetry
	}
	c.Manager = c.Manager.withDefaults()
	return c
}

// Module is edged as a beehive module: it dials the runtime, restores pods from its Source, applies
// pod, configmap and secret messages to a Manager, and sends pod statuses, the final delete of deleted
// pods and (with NodeStatus) the node's registration, status and lease to StatusTarget.
type Module struct {
	cfg ModuleConfig

	mu  sync.Mutex
	mgr *Manager
}

// NewModule checks cfg and returns the module.
func NewModule(cfg ModuleConfig) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Module{cfg: cfg.withDefaults()}, nil
}

// Name implements beehive.Module.
func (m *Module) Name() string { return m.cfg.Name }

// Group implements beehive.Module.
func (m *Module) Group() beehive.Group { return beehive.GroupEdged }

// Manager returns the pod manager of the current run, or nil when the module is not running.
func (m *Module) Manager() *Manager {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mgr
}

// Run implements beehive.Module. It returns an error when the runtime cannot be reached (the hive
// restarts the module by its policy) and nil when ctx ends; pods keep running either way.
func (m *Module) Run(ctx context.Context, c *beehive.Context) error {
	rt, err := cri.Dial(ctx, m.cfg.Runtime)
	if err != nil {
		return err
	}
	defer rt.Close()
	mgr, err := NewManager(m.cfg.Manager, rt)
	if err != nil {
		return err
	}
	if m.cfg.Source != nil {
		if err := Restore(ctx, m.cfg.Source, mgr); err != nil {
			m.cfg.Manager.Logger.Warn("edged: restore from store", "err", err)
		}
	}
	mgr.MarkSourcesReady()
	m.mu.Lock()
	m.mgr = mgr
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.mgr = nil
		m.mu.Unlock()
	}()

	var node *nodeReporter
	if m.cfg.NodeStatus != nil {
		b, err := NewNodeStatusBuilder(*m.cfg.NodeStatus, m.cfg.Manager, rt)
		if err != nil {
			return err
		}
		node = newNodeReporter(b, m.cfg, m.cfg.Manager.Logger)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = mgr.Run(ctx) }()
	go func() { defer wg.Done(); m.sendStatuses(ctx, c, mgr) }()
	if node != nil {
		wg.Add(1)
		go func() { defer wg.Done(); node.run(ctx, c) }()
	}
	defer wg.Wait()
	for {
		msg, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		if msg.Router.Resource == "" { // a notice
			if node != nil && slices.Contains(node.cfg.ReportOn, msg.Router.Operation) {
				node.reportNow()
			}
			continue
		}
		if err := Apply(mgr, msg); err != nil {
			m.cfg.Manager.Logger.Warn("edged: message refused", "resource", msg.Router.Resource,
				"operation", msg.Router.Operation, "from", msg.Router.Source, "err", err)
		}
	}
}

// sendStatuses sends each changed pod status to the target, newest only, and the final delete of each
// pod deleted through its DeletionTimestamp once it is gone from the runtime.
func (m *Module) sendStatuses(ctx context.Context, c *beehive.Context, mgr *Manager) {
	retry := time.NewTimer(m.cfg.StatusRetry)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-mgr.StatusChanged():
		case <-retry.C:
		}
		failed := false
		send := func(op beehive.Operation, resource string, content any) bool {
			if failed {
				return false
			}
			b, err := json.Marshal(content)
			if err != nil {
				return true // a PodStatus or PodRef always marshals
			}
			if err := c.Send(ctx, m.cfg.StatusTarget, c.NewMessage(m.cfg.StatusGroup, op, resource, b)); err != nil {
				if ctx.Err() == nil {
					m.cfg.Manager.Logger.Warn("edged: send upstream", "to", m.cfg.StatusTarget, "resource", resource, "err", err)
				}
				failed = true
				return false
			}
			return true
		}
		for _, st := range mgr.TakeStatuses() {
			if !send(beehive.OpUpdate, ResourceKey(st.Namespace, ResourcePodStatus, st.Name), st) {
				mgr.RestoreStatus(st)
			}
		}
		// After the statuses: a pod's final delete follows its last status. Only pods that the API
		// server keeps Terminating wait for one; the others are gone from it already.
		for _, d := range mgr.TakeDeleted() {
			if d.Confirm && !send(beehive.OpDelete, ResourceKey(d.Namespace, ResourcePod, d.Name), d.PodRef) {
				mgr.RestoreDeleted(d)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if failed {
			retry.Reset(m.cfg.StatusRetry)
		}
	}
}

// Apply applies one downstream message (see the contract in messages.go) to mgr.
func Apply(mgr *Manager, msg beehive.Message) error {
	ns, typ, name, err := ParseResourceKey(msg.Router.Resource)
	if err != nil {
		return err
	}
	del := msg.Router.Operation == beehive.OpDelete
	switch msg.Router.Operation {
	case beehive.OpInsert, beehive.OpUpdate, beehive.OpDelete:
	default:
		return fmt.Errorf("%w: operation %q", ErrBadResource, msg.Router.Operation)
	}
	switch typ {
	case ResourcePod:
		if del {
			mgr.DeletePod(ns, name)
			return nil
		}
		var pod corev1.Pod
		if err := decode(msg.Content, &pod, ns, name); err != nil {
			return err
		}
		return mgr.UpdatePod(&pod)
	case ResourceConfigMap:
		if del {
			mgr.DeleteConfigMap(ns, name)
			return nil
		}
		var cm corev1.ConfigMap
		if err := decode(msg.Content, &cm, ns, name); err != nil {
			return err
		}
		mgr.UpdateConfigMap(&cm)
	case ResourceSecret:
		if del {
			mgr.DeleteSecret(ns, name)
			return nil
		}
		var s corev1.Secret
		if err := decode(msg.Content, &s, ns, name); err != nil {
			return err
		}
		mgr.UpdateSecret(&s)
	default:
		return fmt.Errorf("%w: type %q", ErrBadResource, typ)
	}
	return nil
}

type namedObject interface {
	GetNamespace() string
	GetName() string
}

// decode unmarshals a message's JSON content and checks that it names the object of the key.
func decode(content any, into namedObject, ns, name string) error {
	var b []byte
	switch c := content.(type) {
	case []byte:
		b = c
	case string:
		b = []byte(c)
	case json.RawMessage:
		b = c
	default:
		return fmt.Errorf("%w: content is %T, want JSON bytes", ErrBadContent, content)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%w: %v", ErrBadContent, err)
	}
	if into.GetNamespace() != ns || into.GetName() != name {
		return fmt.Errorf("%w: object %s/%s under key of %s/%s", ErrBadContent, into.GetNamespace(), into.GetName(), ns, name)
	}
	return nil
}

var _ beehive.Module = (*Module)(nil)
