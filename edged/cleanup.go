package edged

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// terminate stops every container of the deleted pod in parallel, each with the pod's grace period,
// then removes containers, sandboxes, the pod's directory and its logs.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod) error {
	w.probes.stop()
	m := w.m
	rs, err := m.listPod(ctx, w.uid)
	if err != nil {
		return err
	}
	if err := m.removePodRuntime(ctx, rs, gracePeriod(pod)); err != nil {
		return err
	}
	if err := m.removePodDir(w.uid); err != nil {
		return err
	}
	return os.RemoveAll(m.podLogDir(pod))
}

// removePodRuntime stops the running containers of rs in parallel with grace seconds each, then
// removes all its containers and sandboxes.
func (m *Manager) removePodRuntime(ctx context.Context, rs podRuntime, grace int64) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range rs.containers {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if err := m.stopContainer(ctx, id, grace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(c.Id)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, c := range rs.containers {
		if err := m.removeContainer(ctx, c.Id); err != nil {
			return err
		}
	}
	for _, s := range rs.sandboxes {
		if err := m.removeSandbox(ctx, s.Id); err != nil {
			return err
		}
	}
	return nil
}

// housekeeping removes, once the sources are ready, the sandboxes and containers this manager made for
// pods it no longer knows (deleted while it was down), and their directories.
func (m *Manager) housekeeping(ctx context.Context) {
	m.images.prune()
	m.mu.Lock()
	ready := m.ready
	m.mu.Unlock()
	if !ready {
		return
	}
	rs, err := m.listManaged(ctx)
	if err != nil {
		m.log.Warn("edged: housekeeping: list runtime", "err", err)
		return
	}
	orphans := map[string]*podRuntime{}
	for _, s := range rs.sandboxes {
		uid := s.GetLabels()[LabelPodUID]
		if !m.known(uid) {
			if orphans[uid] == nil {
				orphans[uid] = &podRuntime{}
			}
			orphans[uid].sandboxes = append(orphans[uid].sandboxes, s)
		}
	}
	grace := map[string]int64{}
	for _, c := range rs.containers {
		uid := c.GetLabels()[LabelPodUID]
		if !m.known(uid) {
			if orphans[uid] == nil {
				orphans[uid] = &podRuntime{}
			}
			orphans[uid].containers = append(orphans[uid].containers, c)
			if g, err := strconv.ParseInt(c.GetAnnotations()[AnnotationGracePeriod], 10, 64); err == nil {
				grace[uid] = max(grace[uid], g)
			}
		}
	}
	for uid, o := range orphans {
		if m.known(uid) { // arrived meanwhile: adopt rather than kill
			continue
		}
		m.log.Info("edged: removing what no pod wants", "uid", uid, "sandboxes", len(o.sandboxes), "containers", len(o.containers))
		if err := m.removePodRuntime(ctx, *o, grace[uid]); err != nil {
			m.log.Warn("edged: housekeeping: remove orphan", "uid", uid, "err", err)
			continue
		}
	}
	dirs, _ := os.ReadDir(filepath.Join(m.cfg.DataDir, "pods"))
	for _, d := range dirs {
		if uid := d.Name(); !m.known(uid) && orphans[uid] == nil {
			if err := m.removePodDir(uid); err != nil {
				m.log.Warn("edged: housekeeping: remove pod dir", "uid", uid, "err", err)
			}
		}
	}
}

func (m *Manager) known(uid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.workers[uid]
	return ok
}
