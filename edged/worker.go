package edged

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podWorker drives one pod (one UID) toward its spec, in a goroutine of its own: it syncs when kicked
// (the pod or an object it uses changed, a probe result changed), when a back-off it waits for ends, and
// every Config.ResyncInterval. Once the pod is deleted it stops the pod's containers, removes its
// sandbox and directory, and ends.
type podWorker struct {
	m   *Manager
	uid string

	mu      sync.Mutex
	pod     *corev1.Pod // the newest spec
	deleted bool
	// confirm: the pod was deleted through a DeletionTimestamp, so the API server waits for its final
	// delete once it is gone (DeletedPod.Confirm).
	confirm bool

	kickCh chan struct{} // capacity 1: kicks coalesce
	done   chan struct{} // closed when the goroutine ends
	// fresh: the runtime holds nothing of the pod (see Manager.mayHave); the first sync skips listing.
	// Set before the goroutine starts, then owned by it.
	fresh bool

	// Owned by the worker goroutine.
	restarts    *backoff // CrashLoopBackOff per container name
	pullBackoff *backoff // ImagePullBackOff per image
	lastTerm    map[string]*corev1.ContainerStateTerminated
	floor       map[string]int32 // restart count a new container of that name starts from at least
	sandboxIPs  map[string]string
	logDirs     map[string]bool // containers whose log directory exists
	startTime   time.Time
	podIP       string
	prevStatus  *corev1.PodStatus
	probes      *probeSet
}

func newPodWorker(m *Manager, pod *corev1.Pod) *podWorker {
	w := &podWorker{
		m:           m,
		uid:         string(pod.UID),
		pod:         pod,
		kickCh:      make(chan struct{}, 1),
		done:        make(chan struct{}),
		restarts:    newBackoff(m.cfg.BackoffInitial, m.cfg.BackoffMax),
		pullBackoff: newBackoff(m.cfg.ImagePullBackoffInitial, m.cfg.ImagePullBackoffMax),
		lastTerm:    map[string]*corev1.ContainerStateTerminated{},
		floor:       map[string]int32{},
		sandboxIPs:  map[string]string{},
		logDirs:     map[string]bool{},
	}
	w.probes = newProbeSet(m, w.kick)
	return w
}

func (w *podWorker) kick() {
	select {
	case w.kickCh <- struct{}{}:
	default:
	}
}

func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.kick()
}

func (w *podWorker) markDeleted() {
	w.mu.Lock()
	w.deleted = true
	w.mu.Unlock()
	w.kick()
}

// markTerminating marks the pod deleted through its DeletionTimestamp, with pod (its grace period).
func (w *podWorker) markTerminating(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod, w.deleted, w.confirm = pod, true, true
	w.mu.Unlock()
	w.kick()
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.deleted
}

// run is the worker's goroutine. It returns when ctx ends (leaving the pod running) or once the
// deleted pod is gone.
func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	defer w.probes.stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		pod, deleted := w.snapshot()
		if deleted {
			if err := w.terminate(ctx, pod); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.m.log.Warn("edged: terminate pod", "pod", podRef(pod), "err", err)
				if !sleepCtx(ctx, w.m.cfg.ResyncInterval) {
					return
				}
				continue
			}
			w.mu.Lock()
			confirm := w.confirm
			w.mu.Unlock()
			w.m.forget(w, pod, confirm)
			return
		}
		next := w.safeSync(ctx, pod)
		if ctx.Err() != nil {
			return
		}
		if next <= 0 || next > w.m.cfg.ResyncInterval {
			next = w.m.cfg.ResyncInterval
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-w.kickCh:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// safeSync is sync with a panic turned into a logged error: one bad pod must not take the node down.
func (w *podWorker) safeSync(ctx context.Context, pod *corev1.Pod) (next time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			w.m.log.Error("edged: pod sync panicked", "pod", podRef(pod), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			next = w.m.cfg.ResyncInterval
		}
	}()
	return w.sync(ctx, pod)
}

func podRef(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
