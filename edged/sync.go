package edged

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerView is what the runtime holds for one container of the pod's spec.
type containerView struct {
	spec *corev1.Container
	kind string
	// cur is the newest container of this name in any of the pod's sandboxes, nil if none.
	cur *runtimeapi.ContainerStatus
	// sandbox is the ID of cur's sandbox.
	sandbox string
	// prev is the container cur replaced (kept for its termination state); older ones are removed.
	prev string
	// restarts is cur's restart count, or the count the next container gets when cur is nil.
	restarts int32
	// waiting says why the container is not running, when the sync knows.
	waiting *waitingError
}

// syncState is one sync's working set.
type syncState struct {
	pod      *corev1.Pod
	sandbox  *runtimeapi.PodSandbox
	sbConfig *runtimeapi.PodSandboxConfig
	facts    podFacts
	vols     map[string]volume
	volErr   error
	next     time.Duration // the earliest retry a back-off asked for
}

func (s *syncState) retryIn(d time.Duration) {
	if d > 0 && (s.next == 0 || d < s.next) {
		s.next = d
	}
}

// sync compares the runtime with pod once, acts to bring it closer to the spec, and publishes the pod's
// status. It returns when it wants to run again (0: at the next resync).
func (w *podWorker) sync(ctx context.Context, pod *corev1.Pod) time.Duration {
	m := w.m
	if w.startTime.IsZero() {
		w.startTime = time.Now()
	}
	var rs podRuntime
	if w.fresh {
		w.fresh = false // nothing to list: a new pod
	} else {
		var err error
		if rs, err = m.listPod(ctx, w.uid); err != nil {
			m.log.Warn("edged: list pod in runtime", "pod", podRef(pod), "err", err)
			return 0
		}
	}
	var sb *runtimeapi.PodSandbox
	var attempt uint32
	for _, s := range rs.sandboxes {
		if t, err := time.Parse(time.RFC3339Nano, s.GetAnnotations()[AnnotationStartTime]); err == nil && t.Before(w.startTime) {
			w.startTime = t // adopted: the pod started before this manager
		}
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY && sb == nil {
			sb = s
		}
		attempt = max(attempt, s.GetMetadata().GetAttempt()+1)
	}
	initViews, views := w.views(ctx, pod, rs)
	s := &syncState{pod: pod, sandbox: sb,
		facts: podFacts{hostIP: m.cfg.NodeIP, nodeName: m.nodeName(pod)}}

	if failed, done := podFinished(pod, initViews, views); failed || done {
		if sb != nil {
			w.probes.stop()
			if err := m.call(ctx, func(ctx context.Context) error {
				_, err := m.rt.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id})
				return err
			}); err != nil {
				m.log.Warn("edged: stop sandbox of finished pod", "pod", podRef(pod), "err", err)
			}
		}
		w.publish(pod, s, initViews, views)
		return 0
	}

	s.sbConfig = m.sandboxConfig(pod, attempt)
	s.sbConfig.Annotations[AnnotationStartTime] = w.startTime.UTC().Format(time.RFC3339Nano)
	if sb == nil {
		if sb = w.newSandbox(ctx, s, rs, initViews, views, attempt); sb == nil {
			w.publish(pod, s, initViews, views)
			return s.next
		}
		s.sandbox = sb
	} else {
		s.sbConfig.Metadata.Attempt = sb.GetMetadata().GetAttempt()
	}
	s.facts.podIP = w.sandboxIP(ctx, pod, sb)
	w.podIP = s.facts.podIP
	s.vols, s.volErr = m.setupVolumes(pod, s.facts)

	// Containers the spec no longer has go first.
	want := map[string]bool{}
	for _, v := range append(initViews, views...) {
		want[v.spec.Name] = true
	}
	for _, c := range rs.containers {
		if name := c.GetLabels()[LabelContainerName]; !want[name] {
			w.removeContainerNow(ctx, pod, c.Id, c.State == runtimeapi.ContainerState_CONTAINER_RUNNING)
		}
	}

	if w.syncInit(ctx, s, initViews) {
		for _, v := range views {
			w.syncContainer(ctx, s, v)
		}
	} else {
		for _, v := range views {
			if v.cur == nil && v.waiting == nil {
				v.waiting = &waitingError{reason: ReasonPodInitializing}
			}
		}
	}
	w.removeOld(ctx, rs, append(initViews, views...))
	w.probes.update(ctx, s.pod, runningIDs(views), s.facts.podIP)
	w.publish(pod, s, initViews, views)
	return s.next
}

// views builds the view of every container in the spec from the runtime's containers (newest first).
func (w *podWorker) views(ctx context.Context, pod *corev1.Pod, rs podRuntime) (initViews, views []*containerView) {
	byName := map[string][]*runtimeapi.Container{}
	for _, c := range rs.containers {
		name := c.GetLabels()[LabelContainerName]
		byName[name] = append(byName[name], c)
	}
	build := func(spec *corev1.Container, kind string) *containerView {
		v := &containerView{spec: spec, kind: kind, restarts: w.floor[spec.Name]}
		list := byName[spec.Name]
		if len(list) == 0 {
			return v
		}
		st, err := w.m.containerStatus(ctx, list[0].Id)
		if err != nil {
			w.m.log.Warn("edged: container status", "pod", podRef(pod), "container", spec.Name, "err", err)
			st = &runtimeapi.ContainerStatus{Id: list[0].Id, Metadata: list[0].Metadata, State: list[0].State,
				CreatedAt: list[0].CreatedAt, Labels: list[0].Labels, Annotations: list[0].Annotations,
				Image: list[0].Image, ImageRef: list[0].ImageRef}
		}
		v.cur, v.sandbox = st, list[0].PodSandboxId
		v.restarts = restartCountOf(st.GetAnnotations())
		if len(list) > 1 {
			v.prev = list[1].Id
			if w.lastTerm[spec.Name] == nil {
				if pst, err := w.m.containerStatus(ctx, v.prev); err == nil {
					w.lastTerm[spec.Name] = terminatedState(pst, w.m.rt.RuntimeName())
				}
			}
		}
		return v
	}
	for i := range pod.Spec.InitContainers {
		initViews = append(initViews, build(&pod.Spec.InitContainers[i], kindInit))
	}
	for i := range pod.Spec.Containers {
		views = append(views, build(&pod.Spec.Containers[i], kindRegular))
	}
	return initViews, views
}

// podFinished reports whether the pod has run its course and nothing will be restarted: an init
// container failed under restartPolicy Never (failed), or every container exited and the policy
// restarts none of them (done).
func podFinished(pod *corev1.Pod, initViews, views []*containerView) (failed, done bool) {
	policy := pod.Spec.RestartPolicy
	if policy == corev1.RestartPolicyAlways || policy == "" {
		return false, false
	}
	for _, v := range initViews {
		if exited(v.cur) && v.cur.ExitCode != 0 && policy == corev1.RestartPolicyNever {
			return true, false
		}
	}
	if len(views) == 0 {
		return false, false
	}
	for _, v := range views {
		if !exited(v.cur) || shouldRestart(policy, v.cur.ExitCode) {
			return false, false
		}
	}
	return false, true
}

func exited(st *runtimeapi.ContainerStatus) bool {
	return st != nil && st.State == runtimeapi.ContainerState_CONTAINER_EXITED
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// newSandbox replaces the pod's dead or missing sandbox: what ran in the old ones is recorded (restart
// counts, last termination states) and stopped, the old sandboxes are removed, and a new one is run.
// It returns nil, with the views' waiting reasons set, when the runtime refuses.
func (w *podWorker) newSandbox(ctx context.Context, s *syncState, rs podRuntime, initViews, views []*containerView, attempt uint32) *runtimeapi.PodSandbox {
	m := w.m
	pod := s.pod
	for _, v := range append(initViews, views...) {
		if v.cur == nil {
			continue
		}
		if v.cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			_ = m.stopContainer(ctx, v.cur.Id, gracePeriod(pod))
			if st, err := m.containerStatus(ctx, v.cur.Id); err == nil {
				v.cur = st
			}
		}
		if t := terminatedState(v.cur, m.rt.RuntimeName()); t != nil && v.kind == kindRegular {
			w.lastTerm[v.spec.Name] = t
		}
		v.restarts++
		w.floor[v.spec.Name] = v.restarts
		v.cur, v.prev, v.sandbox = nil, "", ""
	}
	for _, old := range rs.sandboxes {
		if err := m.removeSandbox(ctx, old.Id); err != nil {
			m.log.Warn("edged: remove old sandbox", "pod", podRef(pod), "err", err)
		}
		delete(w.sandboxIPs, old.Id)
	}
	if wait := w.restarts.wait("\x00sandbox", time.Now(), time.Now()); wait > 0 {
		s.retryIn(wait)
		w.setWaiting(initViews, views, &waitingError{reason: ReasonContainerCreating, msg: "back-off creating pod sandbox"})
		return nil
	}
	// The pod's log directory and its containers' (kubelet makes the first before the sandbox, the
	// others before each container) are made while the runtime makes the sandbox: directory creation
	// is slow on some disks, and on the path of every pod start.
	dirs := make(chan []string, 1)
	go func() { dirs <- w.makeLogDirs(s.sbConfig.LogDirectory, pod) }()
	var id string
	err := m.mutate(ctx, func(ctx context.Context) error {
		resp, err := m.rt.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: s.sbConfig})
		id = resp.GetPodSandboxId()
		return err
	})
	for _, name := range <-dirs {
		w.logDirs[name] = true
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("edged: run pod sandbox", "pod", podRef(pod), "err", err)
		}
		s.retryIn(w.restarts.next("\x00sandbox", time.Now()))
		w.setWaiting(initViews, views, &waitingError{reason: ReasonContainerCreating,
			msg: "failed to create pod sandbox: " + grpcMessage(err)})
		return nil
	}
	w.restarts.reset("\x00sandbox")
	return &runtimeapi.PodSandbox{Id: id, Metadata: s.sbConfig.Metadata, State: runtimeapi.PodSandboxState_SANDBOX_READY,
		CreatedAt: time.Now().UnixNano(), Labels: s.sbConfig.Labels}
}

func (w *podWorker) setWaiting(initViews, views []*containerView, we *waitingError) {
	for _, v := range append(initViews, views...) {
		if v.waiting == nil {
			v.waiting = we
		}
	}
}

// sandboxIP returns the pod's address: the sandbox's, or the node's for a host-network pod.
func (w *podWorker) sandboxIP(ctx context.Context, pod *corev1.Pod, sb *runtimeapi.PodSandbox) string {
	if pod.Spec.HostNetwork {
		return w.m.cfg.NodeIP
	}
	if ip, ok := w.sandboxIPs[sb.Id]; ok {
		return ip
	}
	var ip string
	err := w.m.call(ctx, func(ctx context.Context) error {
		st, err := w.m.rt.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.Id})
		ip = st.GetStatus().GetNetwork().GetIp()
		return err
	})
	if err == nil {
		w.sandboxIPs[sb.Id] = ip
	}
	return ip
}

// syncInit runs the init containers one after the other and reports whether all have succeeded.
func (w *podWorker) syncInit(ctx context.Context, s *syncState, initViews []*containerView) bool {
	for _, v := range initViews {
		if v.cur != nil && v.sandbox != s.sandbox.Id {
			v.cur, v.restarts = nil, v.restarts+1 // ran in a sandbox that is gone: init runs again
		}
		switch {
		case v.cur == nil:
			w.startContainer(ctx, s, v)
			return false
		case v.cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			return false
		case v.cur.State == runtimeapi.ContainerState_CONTAINER_EXITED && v.cur.ExitCode == 0:
			continue
		case v.cur.State == runtimeapi.ContainerState_CONTAINER_EXITED:
			w.restartAfterBackoff(ctx, s, v)
			return false
		default: // created but not started (a manager that stopped in between), or unknown
			w.replace(ctx, s, v)
			return false
		}
	}
	return true
}

// syncContainer brings one regular container toward its spec.
func (w *podWorker) syncContainer(ctx context.Context, s *syncState, v *containerView) {
	m := w.m
	if v.cur != nil && v.sandbox != s.sandbox.Id {
		v.cur, v.restarts = nil, v.restarts+1
	}
	if v.cur == nil {
		w.startContainer(ctx, s, v)
		return
	}
	switch v.cur.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		if v.cur.GetAnnotations()[AnnotationContainerHash] != containerHash(v.spec) {
			m.log.Info("edged: container spec changed, replacing it", "pod", podRef(s.pod), "container", v.spec.Name)
			w.kill(ctx, s, v, gracePeriod(s.pod))
			w.startContainer(ctx, s, v)
			return
		}
		reason, grace := w.probeVerdict(s.pod, v)
		if reason == "" {
			return
		}
		m.log.Info("edged: "+reason+", restarting container", "pod", podRef(s.pod), "container", v.spec.Name)
		w.kill(ctx, s, v, grace)
		if !exited(v.cur) {
			return
		}
		fallthrough
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		if shouldRestart(s.pod.Spec.RestartPolicy, v.cur.ExitCode) {
			w.restartAfterBackoff(ctx, s, v)
		}
	default:
		w.replace(ctx, s, v)
	}
}

// probeVerdict says whether a failed liveness or startup probe condemns the running container, and
// the grace period to kill it with.
func (w *podWorker) probeVerdict(pod *corev1.Pod, v *containerView) (string, int64) {
	for _, k := range []struct {
		kind  probeKind
		probe *corev1.Probe
		what  string
	}{{probeStartup, v.spec.StartupProbe, "startup probe failed"}, {probeLiveness, v.spec.LivenessProbe, "liveness probe failed"}} {
		if k.probe != nil && w.probes.result(v.cur.Id, k.kind) == resultFailure {
			grace := gracePeriod(pod)
			if k.probe.TerminationGracePeriodSeconds != nil {
				grace = *k.probe.TerminationGracePeriodSeconds
			}
			return k.what, grace
		}
	}
	return "", 0
}

// kill stops v's container and refreshes v.cur.
func (w *podWorker) kill(ctx context.Context, s *syncState, v *containerView, grace int64) {
	if err := w.m.stopContainer(ctx, v.cur.Id, grace); err != nil {
		w.m.log.Warn("edged: stop container", "pod", podRef(s.pod), "container", v.spec.Name, "err", err)
		return
	}
	if st, err := w.m.containerStatus(ctx, v.cur.Id); err == nil {
		v.cur = st
	}
}

// restartAfterBackoff starts a new container in place of v's exited one once the back-off allows.
func (w *podWorker) restartAfterBackoff(ctx context.Context, s *syncState, v *containerView) {
	finished := time.Unix(0, v.cur.FinishedAt)
	if v.cur.FinishedAt == 0 {
		finished = time.Now()
	}
	if d := w.restarts.wait(v.spec.Name, finished, time.Now()); d > 0 {
		v.waiting = &waitingError{reason: ReasonCrashLoopBackOff, retry: d,
			msg: fmt.Sprintf("back-off %v restarting failed container=%s pod=%s_%s(%s)",
				w.restarts.current(v.spec.Name), v.spec.Name, s.pod.Name, s.pod.Namespace, s.pod.UID)}
		s.retryIn(d)
		return
	}
	w.restarts.next(v.spec.Name, finished)
	w.startContainer(ctx, s, v)
}

// replace removes a container that was created but never started and creates it again.
func (w *podWorker) replace(ctx context.Context, s *syncState, v *containerView) {
	if err := w.m.removeContainer(ctx, v.cur.Id); err != nil {
		w.m.log.Warn("edged: remove container", "pod", podRef(s.pod), "container", v.spec.Name, "err", err)
		return
	}
	v.restarts = restartCountOf(v.cur.GetAnnotations())
	v.cur = nil
	w.startContainer(ctx, s, v)
}

// startContainer creates and starts the next container for v. Its restart count is one more than
// the container it replaces. On failure v.waiting says why.
func (w *podWorker) startContainer(ctx context.Context, s *syncState, v *containerView) {
	m := w.m
	if s.volErr != nil {
		v.waiting = asWaiting(s.volErr)
		return
	}
	count := v.restarts
	if v.cur != nil {
		count = v.restarts + 1
	}
	imageRef, err := w.ensureImage(ctx, s.pod, v.spec, s.sbConfig)
	if err != nil {
		v.waiting = asWaiting(err)
		s.retryIn(v.waiting.retry)
		return
	}
	env, err := containerEnv(s.pod, v.spec, m.objects, s.facts)
	if err != nil {
		v.waiting = asWaiting(err)
		return
	}
	if !w.logDirs[v.spec.Name] {
		if err := mkdirCheap(filepath.Join(s.sbConfig.LogDirectory, v.spec.Name)); err != nil {
			v.waiting = asWaiting(fmt.Errorf("log dir: %w", err))
			return
		}
		w.logDirs[v.spec.Name] = true
	}
	cfg, err := m.containerConfig(s.pod, containerSpec{c: v.spec, kind: v.kind, restartCount: count,
		imageRef: imageRef, env: env, volumes: s.vols}, s.sbConfig)
	if err != nil {
		v.waiting = asWaiting(err)
		return
	}
	var id string
	err = m.mutate(ctx, func(ctx context.Context) error {
		resp, err := m.rt.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: s.sandbox.Id, Config: cfg, SandboxConfig: s.sbConfig})
		id = resp.GetContainerId()
		return err
	})
	if err != nil {
		m.images.forget(v.spec.Image) // perhaps removed since its status was cached
		v.waiting = &waitingError{reason: ReasonCreateContainerError, msg: grpcMessage(err)}
		s.retryIn(w.restarts.next(v.spec.Name, time.Now()))
		return
	}
	err = m.mutate(ctx, func(ctx context.Context) error {
		_, err := m.rt.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
		return err
	})
	if v.cur != nil {
		if t := terminatedState(v.cur, m.rt.RuntimeName()); t != nil {
			w.lastTerm[v.spec.Name] = t
		}
		v.prev = v.cur.Id
	}
	v.restarts = count
	delete(w.floor, v.spec.Name)
	if st, serr := m.containerStatus(ctx, id); serr == nil {
		v.cur = st
	} else {
		v.cur = &runtimeapi.ContainerStatus{Id: id, State: runtimeapi.ContainerState_CONTAINER_CREATED,
			Annotations: cfg.Annotations, ImageRef: imageRef}
	}
	v.sandbox = s.sandbox.Id
	if err != nil {
		v.waiting = &waitingError{reason: ReasonRunContainerError, msg: grpcMessage(err)}
		s.retryIn(w.restarts.next(v.spec.Name, time.Now()))
	}
}

// asWaiting turns a sync error into a waiting state.
func asWaiting(err error) *waitingError {
	var we *waitingError
	if errors.As(err, &we) {
		return we
	}
	var ce *configError
	if errors.As(err, &ce) {
		return &waitingError{reason: ReasonCreateContainerConfigError, msg: ce.msg}
	}
	return &waitingError{reason: ReasonCreateContainerError, msg: err.Error()}
}

// removeOld removes every container of the pod except the current and previous one of each name.
func (w *podWorker) removeOld(ctx context.Context, rs podRuntime, views []*containerView) {
	keep := map[string]bool{}
	for _, v := range views {
		if v.cur != nil {
			keep[v.cur.Id] = true
		}
		if v.prev != "" {
			keep[v.prev] = true
		}
	}
	for _, c := range rs.containers {
		if !keep[c.Id] && c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			if err := w.m.removeContainer(ctx, c.Id); err != nil {
				w.m.log.Warn("edged: remove old container", "id", c.Id, "err", err)
			}
		}
	}
}

// removeContainerNow stops (if running) and removes a container that no spec wants.
func (w *podWorker) removeContainerNow(ctx context.Context, pod *corev1.Pod, id string, running bool) {
	if running {
		if err := w.m.stopContainer(ctx, id, gracePeriod(pod)); err != nil {
			w.m.log.Warn("edged: stop unwanted container", "pod", podRef(pod), "err", err)
			return
		}
	}
	if err := w.m.removeContainer(ctx, id); err != nil {
		w.m.log.Warn("edged: remove unwanted container", "pod", podRef(pod), "err", err)
	}
}

func runningIDs(views []*containerView) map[string]*containerView {
	out := map[string]*containerView{}
	for _, v := range views {
		if v.cur != nil && v.cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[v.cur.Id] = v
		}
	}
	return out
}

// makeLogDirs makes the pod's log directory and its containers' and returns the containers whose
// directory exists. It runs beside the worker's goroutine and touches none of its state.
func (w *podWorker) makeLogDirs(podDir string, pod *corev1.Pod) []string {
	if err := mkdirCheap(podDir); err != nil {
		w.m.log.Warn("edged: pod log directory", "pod", podRef(pod), "err", err)
		return nil
	}
	var made []string
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if err := mkdirCheap(filepath.Join(podDir, cs[i].Name)); err == nil {
				made = append(made, cs[i].Name)
			}
		}
	}
	return made
}
