package edged

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
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
	images  *imageCache

	mu      sync.Mutex
	workers map[string]*podWorker // by pod UID, deleted ones until they are gone
	byName  map[string]string     // "<namespace>/<name>" → UID of the live pod
	running bool
	runCtx  context.Context // Run's context, set once Run listed the runtime; nil before
	// mayHave holds the UIDs the runtime may hold something of: those it held when Run started, and
	// those of every worker since, until its pod is gone. A worker of another UID, created once
	// haveList is set, knows the runtime holds nothing of its pod and skips its first listing.
	mayHave  map[string]struct{}
	haveList bool
	stopped  bool
	ready    bool
	wg       sync.WaitGroup
	gcKick   chan struct{}

	statusMu sync.Mutex
	statuses map[string]*statusEntry // by "<namespace>/<name>"
	deleted  map[string]DeletedPod   // by UID: pods deleted and gone from the runtime, not yet taken
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
		images:   newImageCache(),
		workers:  map[string]*podWorker{},
		byName:   map[string]string{},
		mayHave:  map[string]struct{}{},
		gcKick:   make(chan struct{}, 1),
		statuses: map[string]*statusEntry{},
		deleted:  map[string]DeletedPod{},
		statusCh: make(chan struct{}, 1),
	}, nil
}

// Run starts the pod workers and housekeeping and returns when ctx ends and every worker has stopped.
// The pods keep running in the runtime: a new Manager with the same Config adopts them.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return ErrRunning
	}
	m.running = true
	m.mu.Unlock()
	// What the runtime holds now: pods not in it (and not made since by this manager) need no listing
	// before their first sync.
	rs, err := m.listManaged(ctx)
	m.mu.Lock()
	m.runCtx = ctx
	if err == nil {
		for _, s := range rs.sandboxes {
			m.mayHave[s.GetLabels()[LabelPodUID]] = struct{}{}
		}
		for _, c := range rs.containers {
			m.mayHave[c.GetLabels()[LabelPodUID]] = struct{}{}
		}
		m.haveList = true
	}
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
// (which is stopped and removed). A pod with a DeletionTimestamp is stopped and removed as by DeletePod,
// also one the manager did not know (it may have run before a restart): what the runtime holds of it is
// removed, and it is reported deleted with Confirm (TakeDeleted).
func (m *Manager) UpdatePod(pod *corev1.Pod) error {
	if pod == nil || pod.UID == "" || pod.Name == "" {
		return fmt.Errorf("%w: pod without name or uid", ErrBadContent)
	}
	if pod.DeletionTimestamp != nil {
		return m.deletePod(pod.Namespace, pod.Name, pod)
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
	w := m.newWorkerLocked(pod)
	m.byName[key] = uid
	if m.runCtx != nil {
		m.startLocked(w)
	}
	return nil
}

// DeletePod stops the pod's containers (each with the pod's grace period) and removes its sandbox,
// containers and directory; then the pod is reported deleted (TakeDeleted, without Confirm). The pod's
// status is no longer reported. A pod the manager does not know by that name is ignored.
func (m *Manager) DeletePod(namespace, name string) { _ = m.deletePod(namespace, name, nil) }

// deletePod deletes the live pod namespace/name, or, when last is set, the pod last (by its UID, with
// its deletion grace period), starting a worker for it if the manager has none.
func (m *Manager) deletePod(namespace, name string, last *corev1.Pod) error {
	key := nsName(namespace, name)
	m.mu.Lock()
	uid, live := m.byName[key]
	if last != nil {
		live = live && uid == string(last.UID)
		uid = string(last.UID)
	}
	if live {
		delete(m.byName, key)
	}
	w := m.workers[uid]
	if w == nil && last != nil {
		if m.stopped {
			m.mu.Unlock()
			return ErrStopped
		}
		w = m.newWorkerLocked(last)
		w.deleted, w.confirm = true, true
		if m.runCtx != nil {
			m.startLocked(w)
		}
	}
	m.mu.Unlock()
	if w == nil {
		return nil
	}
	if last != nil {
		w.markTerminating(last) // with its deletion grace period
	} else {
		w.markDeleted()
	}
	m.statusMu.Lock()
	if e := m.statuses[key]; e != nil && string(e.msg.UID) == uid {
		delete(m.statuses, key)
	}
	m.statusMu.Unlock()
	return nil
}

// newWorkerLocked makes and registers the worker of pod (not started).
func (m *Manager) newWorkerLocked(pod *corev1.Pod) *podWorker {
	uid := string(pod.UID)
	w := newPodWorker(m, pod)
	_, may := m.mayHave[uid]
	w.fresh = m.haveList && !may
	m.mayHave[uid] = struct{}{}
	m.workers[uid] = w
	return w
}

// forget drops a worker whose pod is gone from the runtime, and reports the pod deleted.
func (m *Manager) forget(w *podWorker, pod *corev1.Pod, confirm bool) {
	m.mu.Lock()
	if m.workers[w.uid] == w {
		delete(m.workers, w.uid)
		delete(m.mayHave, w.uid)
	}
	m.mu.Unlock()
	m.statusMu.Lock()
	m.deleted[w.uid] = DeletedPod{PodRef: PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name}, Confirm: confirm}
	m.statusMu.Unlock()
	m.signalStatus()
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
	m.signalStatus()
}

func (m *Manager) signalStatus() {
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

// StatusChanged is signalled (coalesced: capacity one) when TakeStatuses or TakeDeleted has something
// new.
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

// DeletedPod is a pod that was deleted and is gone from the runtime: its containers stopped and
// removed, its sandboxes, directory and logs removed.
type DeletedPod struct {
	PodRef
	// Confirm says the pod was deleted through its DeletionTimestamp (UpdatePod): the API server keeps
	// it, Terminating, until the node confirms with a final delete (kubelet's delete with grace 0).
	// A pod deleted by DeletePod alone, or replaced by a pod of a new UID under its name, is already
	// gone from the API server: there is nothing to confirm.
	Confirm bool
}

// TakeDeleted returns the pods that were deleted (DeletePod, a DeletionTimestamp, or a new UID under
// their name) and are gone from the runtime since the last call, sorted by pod. A pod deleted again
// after a restart of the manager (restored with its DeletionTimestamp) is reported again: callers must
// treat a report as idempotent.
func (m *Manager) TakeDeleted() []DeletedPod {
	m.statusMu.Lock()
	defer m.statusMu.Unlock()
	if len(m.deleted) == 0 {
		return nil
	}
	out := make([]DeletedPod, 0, len(m.deleted))
	for _, r := range m.deleted {
		out = append(out, r)
	}
	clear(m.deleted)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].UID < out[j].UID
	})
	return out
}

// RestoreDeleted puts a report of TakeDeleted back (after a failed send).
func (m *Manager) RestoreDeleted(d DeletedPod) {
	m.statusMu.Lock()
	m.deleted[string(d.UID)] = d
	m.statusMu.Unlock()
}
