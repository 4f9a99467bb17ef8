package edged

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerObs is what the status of one container is computed from.
type containerObs struct {
	spec     *corev1.Container
	cur      *runtimeapi.ContainerStatus // newest container, nil if none
	restarts int32
	waiting  *waitingError // why it is not running, when known
	lastTerm *corev1.ContainerStateTerminated
	ready    bool
	started  bool
}

// podObservation is everything a pod's status is computed from; buildStatus is a pure function of it.
type podObservation struct {
	pod         *corev1.Pod
	runtimeName string
	podIP       string
	hostIP      string
	startTime   time.Time
	now         time.Time
	init        []containerObs
	regular     []containerObs
	prev        *corev1.PodStatus // the last status, for condition transition times
}

// publish computes the pod's status from this sync and hands it to the manager.
func (w *podWorker) publish(pod *corev1.Pod, s *syncState, initViews, views []*containerView) {
	obs := podObservation{pod: pod, runtimeName: w.m.rt.RuntimeName(), podIP: w.podIP, hostIP: w.m.cfg.NodeIP,
		startTime: w.startTime, now: time.Now(), prev: w.prevStatus}
	conv := func(v *containerView) containerObs {
		o := containerObs{spec: v.spec, cur: v.cur, restarts: v.restarts, waiting: v.waiting, lastTerm: w.lastTerm[v.spec.Name]}
		if v.cur != nil && v.cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING && v.kind == kindRegular {
			o.started = v.spec.StartupProbe == nil || w.probes.result(v.cur.Id, probeStartup) == resultSuccess
			o.ready = o.started && (v.spec.ReadinessProbe == nil || w.probes.result(v.cur.Id, probeReadiness) == resultSuccess)
		}
		return o
	}
	for _, v := range initViews {
		obs.init = append(obs.init, conv(v))
	}
	for _, v := range views {
		obs.regular = append(obs.regular, conv(v))
	}
	st := buildStatus(obs)
	w.prevStatus = &st
	w.m.setStatus(pod, st)
}

// buildStatus computes a pod's status as kubelet would: phase, conditions, container statuses, IPs
// and start time.
func buildStatus(o podObservation) corev1.PodStatus {
	st := corev1.PodStatus{
		HostIP:   o.hostIP,
		PodIP:    o.podIP,
		QOSClass: qosClass(o.pod),
	}
	if o.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: o.hostIP}}
	}
	if o.podIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: o.podIP}}
	}
	if !o.startTime.IsZero() {
		t := metav1.NewTime(o.startTime)
		st.StartTime = &t
	}

	initialized, initFailed := true, false
	var notInit []string
	for _, c := range o.init {
		cs := containerStatus(c, o.runtimeName)
		cs.Ready = c.cur != nil && c.cur.State == runtimeapi.ContainerState_CONTAINER_EXITED && c.cur.ExitCode == 0
		if !cs.Ready {
			initialized = false
			notInit = append(notInit, c.spec.Name)
			if exited(c.cur) && o.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				initFailed = true
			}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	var notReady []string
	for _, c := range o.regular {
		cs := containerStatus(c, o.runtimeName)
		if !initialized && cs.State.Waiting != nil && cs.State.Waiting.Reason == ReasonContainerCreating {
			cs.State.Waiting.Reason = ReasonPodInitializing
		}
		if !cs.Ready {
			notReady = append(notReady, c.spec.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	st.Phase = podPhase(o.pod, initialized, initFailed, st.ContainerStatuses)

	ready := len(notReady) == 0 && initialized
	readyReason, readyMsg := "", ""
	switch {
	case st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed:
		ready, readyReason = false, ReasonPodCompleted
	case !ready:
		readyReason = ReasonContainersNotReady
		readyMsg = fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	}
	initReason, initMsg := "", ""
	if !initialized {
		initReason = ReasonContainersNotInitialized
		initMsg = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " "))
	}
	st.Conditions = []corev1.PodCondition{
		condition(o, corev1.PodScheduled, true, "", ""),
		condition(o, corev1.PodInitialized, initialized, initReason, initMsg),
		condition(o, corev1.ContainersReady, ready, readyReason, readyMsg),
		condition(o, corev1.PodReady, ready, readyReason, readyMsg),
	}
	return st
}

// condition builds a condition, keeping its transition time from the previous status when its status
// did not change.
func condition(o podObservation, typ corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c := corev1.PodCondition{Type: typ, Status: status, Reason: reason, Message: msg,
		LastTransitionTime: metav1.NewTime(o.now)}
	if o.prev != nil {
		for _, p := range o.prev.Conditions {
			if p.Type == typ && p.Status == status {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
	} else if typ == corev1.PodScheduled && !o.startTime.IsZero() {
		c.LastTransitionTime = metav1.NewTime(o.startTime)
	}
	return c
}

// containerStatus is the status of one container.
func containerStatus(c containerObs, runtimeName string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        c.spec.Image,
		RestartCount: c.restarts,
		Ready:        c.ready,
	}
	started := c.started
	cs.Started = &started
	if c.lastTerm != nil {
		cs.LastTerminationState.Terminated = c.lastTerm
	}
	if c.cur != nil {
		cs.ContainerID = runtimeName + "://" + c.cur.Id
		cs.ImageID = c.cur.ImageRef
	}
	switch {
	case c.waiting != nil:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting.reason, Message: c.waiting.msg}
		if t := terminatedState(c.cur, runtimeName); t != nil {
			cs.LastTerminationState.Terminated = t // the run that failed, waiting for its restart
		}
	case c.cur == nil || c.cur.State == runtimeapi.ContainerState_CONTAINER_CREATED ||
		c.cur.State == runtimeapi.ContainerState_CONTAINER_UNKNOWN:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
	case c.cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Unix(0, c.cur.StartedAt))}
	default:
		cs.State.Terminated = terminatedState(c.cur, runtimeName)
	}
	return cs
}

// terminatedState is the Terminated state of an exited container, nil for any other.
func terminatedState(st *runtimeapi.ContainerStatus, runtimeName string) *corev1.ContainerStateTerminated {
	if !exited(st) {
		return nil
	}
	reason := st.Reason
	if reason == "" {
		reason = ReasonCompleted
		if st.ExitCode != 0 {
			reason = ReasonError
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode:    st.ExitCode,
		Reason:      reason,
		Message:     st.Message,
		StartedAt:   metav1.NewTime(time.Unix(0, st.StartedAt)),
		FinishedAt:  metav1.NewTime(time.Unix(0, st.FinishedAt)),
		ContainerID: runtimeName + "://" + st.Id,
	}
}

// podPhase is kubelet's phase rule over the regular containers' states.
func podPhase(pod *corev1.Pod, initialized, initFailed bool, statuses []corev1.ContainerStatus) corev1.PodPhase {
	if initFailed {
		return corev1.PodFailed
	}
	if !initialized {
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++
			if cs.LastTerminationState.Terminated.ExitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch {
		case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "":
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// qosClass is the pod's quality-of-service class from its containers' requests and limits.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	visitContainers(pod, func(c *corev1.Container) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				any = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	})
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// sortedStatusKeys is for deterministic iteration in tests and logs.
func sortedStatusKeys(m map[string]*statusEntry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
