package edged

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/edgehive/edgehive/edged/cri"
)

// DefaultHousekeepingInterval is how often a Manager looks for sandboxes and containers that no pod
// wants, once its sources are ready.
const DefaultHousekeepingInterval = 10 * time.Second

// Manager runs pods on a CRI runtime: one worker per pod drives the runtime toward the pod's spec and
// computes its status. See the package documentation for the guarantees.
type Manager struct {
	cfg     Config
	rt      *cri.Client
	log     *slog.Logger
	objects *objectStore

	mu      sync.Mutex
	workers map[string]*podWorker // by pod UID, deleted ones until they are gone
	byName  map[string]string     // "<namespace>/<name>" → UID of the live pod
	runCtx  context.Context       // Run's context; nil before Run
	stopped bool
	ready   bool
	wg      sync.WaitGroup
	gcKick  chan struct{}

	statusMu sync.Mutex
	statuses map[string]*statusEntry // by "<namespace>/<name>"
	statusCh chan struct{}
}

type statusEntry struct {
	msg   PodStatusMessage
	dirty bool
}

// NewManager returns a Manager for the runtime rt (which the caller closes after Run returns).
func NewManager(cfg Config, rt *cri.Client) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rt == nil {
		return nil, fmt.Errorf("%w: no CRI client", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	return &Manager{
		cfg:      cfg,
		rt:       rt,
		log:      cfg.Logger,
		objects:  newObjectStore(),
		workers:  map[string]*podWorker{},
		byName:   map[string]string{},
		gcKick:   make(chan struct{}, 1),
		statuses: map[string]*statusEntry{},
		statusCh: make(chan struct{}, 1),
	}, nil
}

// Run starts the pod workers and housekeeping and returns when ctx ends and every worker has stopped.
// The pods keep running in the runtime: a new Manager with the same Config adopts them.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return ErrRunning
	}
	m.runCtx = ctx
	for _, w := range m.workers {
		m.startLocked(w)
	}
	m.mu.Unlock()

	ticker := time.NewTicker(DefaultHousekeepingInterval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-ticker.C:
			m.housekeeping(ctx)
		case <-m.gcKick:
			m.housekeeping(ctx)
		}
	}
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

func (m *Manager) startLocked(w *podWorker) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		w.run(m.runCtx)
	}()
}

// UpdatePod adds a pod or changes one. A pod with a new UID under a known name replaces the old pod
// (which is stopped and removed). A pod with a DeletionTimestamp is stopped and removed as by DeletePod.
func (m *Manager) UpdatePod(pod *corev1.Pod) error {
	if pod == nil || pod.UID == "" || pod.Name == "" {
		return fmt.Errorf("%w: pod without name or uid", ErrBadContent)
	}
	if pod.DeletionTimestamp != nil {
		m.deletePod(pod.Namespace, pod.Name, pod)
		return nil
	}
	key := nsName(pod.Namespace, pod.Name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrStopped
	}
	uid := string(pod.UID)
	if old, ok := m.byName[key]; ok && old != uid {
		if w := m.workers[old]; w != nil {
			w.markDeleted()
		}
	}
	if w, ok := m.workers[uid]; ok {
		w.update(pod)
		return nil
	}
	w := newPodWorker(m, pod)
	m.workers[uid] = w
	m.byName[key] = uid
	if m.runCtx != nil {
		m.startLocked(w)
	}
	return nil
}

// DeletePod stops the pod's containers (each with the pod's grace period) and removes its sandbox,
// containers and directory. The pod's status is no longer reported.
func (m *Manager) DeletePod(namespace, name string) { m.deletePod(namespace, name, nil) }

func (m *Manager) deletePod(namespace, name string, last *corev1.Pod) {
	key := nsName(namespace, name)
	m.mu.Lock()
	uid, ok := m.byName[key]
	if ok && last != nil && string(last.UID) != uid {
		ok = false
	}
	var w *podWorker
	if ok {
		delete(m.byName, key)
		w = m.workers[uid]
	}
	m.mu.Unlock()
	if w == nil {
		return
	}
	if last != nil {
		w.update(last) // its deletion grace period
	}
	w.markDeleted()
	m.statusMu.Lock()
	if e := m.statuses[key]; e != nil && string(e.msg.UID) == uid {
		delete(m.statuses, key)
	}
	m.statusMu.Unlock()
}

// forget drops a worker whose pod is gone from the runtime.
func (m *Manager) forget(w *podWorker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workers[w.uid] == w {
		delete(m.workers, w.uid)
	}
}

// UpdateConfigMap adds or changes a ConfigMap; pods that use it sync again, so that their volumes
// see the new data (environment variables keep the values their container started with).
func (m *Manager) UpdateConfigMap(cm *corev1.ConfigMap) {
	m.objects.setConfigMap(cm)
	m.kickUsers(cm.Namespace, false, cm.Name)
}

// DeleteConfigMap forgets a ConfigMap. Running containers are not affected.
func (m *Manager) DeleteConfigMap(namespace, name string) { m.objects.deleteConfigMap(namespace, name) }

// UpdateSecret adds or changes a Secret, as UpdateConfigMap.
func (m *Manager) UpdateSecret(s *corev1.Secret) {
	m.objects.setSecret(s)
	m.kickUsers(s.Namespace, true, s.Name)
}

// DeleteSecret forgets a Secret. Running containers are not affected.
func (m *Manager) DeleteSecret(namespace, name string) { m.objects.deleteSecret(namespace, name) }

func (m *Manager) kickUsers(namespace string, secret bool, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.workers {
		if pod, _ := w.snapshot(); pod.Namespace == namespace && podUses(pod, secret, name) {
			w.kick()
		}
	}
}

// MarkSourcesReady tells the manager that it knows every pod it should run (restored from a store, or
// sent by the cloud): from now on, sandboxes and containers that belong to no known pod are removed.
// Until then nothing is removed, so that pods not yet restored are adopted rather than killed.
func (m *Manager) MarkSourcesReady() {
	m.mu.Lock()
	m.ready = true
	m.mu.Unlock()
	select {
	case m.gcKick <- struct{}{}:
	default:
	}
}

// setStatus records a pod's newest status; an unchanged status is not reported again.
func (m *Manager) setStatus(pod *corev1.Pod, st corev1.PodStatus) {
	key := nsName(pod.Namespace, pod.Name)
	m.mu.Lock()
	live := m.byName[key] == string(pod.UID)
	m.mu.Unlock()
	if !live {
		return // deleted or replaced meanwhile
	}
	m.statusMu.Lock()
	e := m.statuses[key]
	if e != nil && e.msg.UID == pod.UID && reflect.DeepEqual(e.msg.Status, st) {
		m.statusMu.Unlock()
		return
	}
	if e == nil {
		e = &statusEntry{}
		m.statuses[key] = e
	}
	e.msg = PodStatusMessage{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, Status: st}
	e.dirty = true
	m.statusMu.Unlock()
	select {
	case m.statusCh <- struct{}{}:
	default:
	}
}

// PodStatus returns the newest status of the pod namespace/name.
func (m *Manager) PodStatus(namespace, name string) (PodStatusMessage, bool) {
	m.statusMu.Lock()
	defer m.statusMu.Unlock()
	e := m.statuses[nsName(namespace, name)]
	if e == nil {
		return PodStatusMessage{}, false
	}
	return e.msg, true
}

// StatusChanged is signalled (coalesced: capacity one) when TakeStatuses has something new.
func (m *Manager) StatusChanged() <-chan struct{} { return m.statusCh }

// TakeStatuses returns the statuses that changed since the last call, only the newest of each pod
// (intermediate ones are coalesced away), sorted by pod.
func (m *Manager) TakeStatuses() []PodStatusMessage {
	m.statusMu.Lock()
	defer m.statusMu.Unlock()
	var out []PodStatusMessage
	for _, k := range sortedStatusKeys(m.statuses) {
		if e := m.statuses[k]; e.dirty {
			e.dirty = false
			out = append(out, e.msg)
		}
	}
	return out
}

// RestoreStatus marks a status as not yet delivered again (after a failed send), unless a newer one
// was recorded meanwhile.
func (m *Manager) RestoreStatus(msg PodStatusMessage) {
	m.statusMu.Lock()
	defer m.statusMu.Unlock()
	if e := m.statuses[nsName(msg.Namespace, msg.Name)]; e != nil && e.msg.UID == msg.UID && !e.dirty {
		e.dirty = true
	}
}
