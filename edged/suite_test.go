package edged_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/edged"
)

// runManagerSuite is the pod-manager suite, run against every runtime (fake and containerd).
func runManagerSuite(t *testing.T, env runtimeEnv) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, env runtimeEnv)
	}{
		{"Lifecycle", testLifecycle},
		{"RestartBackoff", testRestartBackoff},
		{"Probes", testProbes},
		{"RestartPolicy", testRestartPolicy},
		{"BadSpecs", testBadSpecs},
		{"Adoption", testAdoption},
		{"Module", testModule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, env)
		})
	}
}

// testLifecycle: an init container and two containers, env from a ConfigMap and the downward API, a
// ConfigMap volume whose change reaches the file, an emptyDir the init container fills; then delete.
func testLifecycle(t *testing.T, env runtimeEnv) {
	const ns = "lifecycle"
	cfg := testConfig(t, shortTempDir(t))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"},
		Data: map[string]string{"greeting": "hello-edge", "message": "first"}}

	initC := sh("prepare", "echo prepared > /work/ready")
	initC.VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
	app := sh("app", `echo "GREETING=$GREETING NAME=$POD_NAME NS=$POD_NS NODE=$NODE IP=$POD_IP"; cat /work/ready; cat /etc/config/message; echo; exec sleep 3600`)
	app.Env = []corev1.EnvVar{
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "greeting"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	}
	app.WorkingDir = "/work"
	app.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}, {Name: "work", MountPath: "/work"}}
	side := sh("sidecar", "exec sleep 3600")
	pod := newPod(env, ns, "web", app, side)
	pod.Spec.InitContainers = []corev1.Container{initC}
	pod.Spec.InitContainers[0].Image = env.image
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if !env.real {
		env.exits(t, ns, pod.Name, "prepare", 0, 0)
	}

	start := time.Now()
	m := startManager(t, env, cfg)
	m.UpdateConfigMap(cm)
	if err := m.UpdatePod(pod); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, m, pod, 20*time.Second, "running and ready", func(st corev1.PodStatus) bool {
		return running(st) && conditionOf(st, corev1.PodReady) == corev1.ConditionTrue
	})
	t.Logf("pod running and ready %v after UpdatePod", time.Since(start).Round(time.Millisecond))
	for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if conditionOf(st, c) != corev1.ConditionTrue {
			t.Errorf("condition %s = %s\n%s", c, conditionOf(st, c), describe(st))
		}
	}
	if st.PodIP == "" || st.HostIP != "127.0.0.1" || st.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v", st.PodIP, st.HostIP, st.StartTime)
	}
	if ic := containerStatusOf(st, "prepare"); ic.State.Terminated == nil || ic.State.Terminated.ExitCode != 0 ||
		ic.State.Terminated.Reason != edged.ReasonCompleted {
		t.Errorf("init container: %s", stateString(ic.State))
	}
	for _, name := range []string{"app", "sidecar"} {
		cs := containerStatusOf(st, name)
		if !cs.Ready || cs.RestartCount != 0 || cs.Image != env.image || cs.ImageID == "" ||
			!strings.HasPrefix(cs.ContainerID, env.name+"://") || cs.Started == nil || !*cs.Started {
			t.Errorf("container %s: %+v", name, cs)
		}
	}

	// The ConfigMap volume's file on the host, as the container sees it.
	volFile := filepath.Join(cfg.DataDir, "pods", string(pod.UID), "volumes", "kubernetes.io~configmap", "config", "message")
	if b, err := os.ReadFile(volFile); err != nil || string(b) != "first" {
		t.Errorf("volume file %s = %q, %v", volFile, b, err)
	}
	if env.real {
		want := "GREETING=hello-edge NAME=web NS=lifecycle NODE=edge-1 IP=" + st.PodIP
		eventually(t, 5*time.Second, "app log", func() error {
			got := containerLog(cfg, pod, "app", 0)
			if len(got) < 3 || got[0] != want || got[1] != "prepared" || got[2] != "first" {
				return errors.New(strings.Join(got, " | "))
			}
			return nil
		})
	}

	// A ConfigMap change reaches the mounted file.
	cm2 := cm.DeepCopy()
	cm2.Data["message"] = "second"
	m.UpdateConfigMap(cm2)
	eventually(t, 5*time.Second, "configmap change on the host", func() error {
		if b, _ := os.ReadFile(volFile); string(b) != "second" {
			return errors.New(string(b))
		}
		return nil
	})
	if env.real {
		id := strings.TrimPrefix(containerStatusOf(st, "app").ContainerID, env.name+"://")
		eventually(t, 5*time.Second, "configmap change in the container", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := m.rt.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"cat", "/etc/config/message"}, Timeout: 5})
			if err != nil {
				return err
			}
			if string(r.Stdout) != "second" {
				return errors.New(string(r.Stdout))
			}
			return nil
		})
	}

	// Delete: nothing of the pod stays behind.
	start = time.Now()
	m.DeletePod(ns, pod.Name)
	eventually(t, 15*time.Second, "pod removed from the runtime", func() error {
		sb, cs := runtimeState(t, m.rt, pod.UID)
		if len(sb)+len(cs) > 0 {
			return errors.New("sandboxes or containers left")
		}
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "pods", string(pod.UID))); err == nil {
			return errors.New("pod dir left")
		}
		return nil
	})
	t.Logf("pod removed %v after DeletePod", time.Since(start).Round(time.Millisecond))
	if _, ok := m.PodStatus(ns, pod.Name); ok {
		t.Error("status of a deleted pod is still reported")
	}
}

// testRestartBackoff: a container that keeps failing is restarted with a growing back-off.
func testRestartBackoff(t *testing.T, env runtimeEnv) {
	cfg := testConfig(t, shortTempDir(t))
	pod := newPod(env, "backoff", "crasher", sh("crash", "echo crashing; exit 3"))
	if !env.real {
		env.exits(t, pod.Namespace, pod.Name, "crash", 3, 0)
	}
	m := startManager(t, env, cfg, pod)
	// The runtime's own times of each attempt (by container ID): the delay before a restart is its
	// start minus the previous attempt's finish, whatever the load on the test machine.
	runs := map[string]*corev1.ContainerStateTerminated{}
	sawBackoff := false
	waitStatus(t, m, pod, 20*time.Second, "four restarts", func(st corev1.PodStatus) bool {
		cs := containerStatusOf(st, "crash")
		for _, term := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if term != nil {
				runs[term.ContainerID] = term
			}
		}
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == edged.ReasonCrashLoopBackOff {
			sawBackoff = true
			if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 {
				t.Errorf("CrashLoopBackOff without last termination exit code 3: %+v", cs.LastTerminationState)
			}
		}
		return cs.RestartCount >= 4 && len(runs) >= 5
	})
	if !sawBackoff {
		t.Error("never saw CrashLoopBackOff")
	}
	ordered := make([]*corev1.ContainerStateTerminated, 0, len(runs))
	for _, r := range runs {
		ordered = append(ordered, r)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].StartedAt.Before(&ordered[j].StartedAt) })
	var delays []time.Duration
	for n := 0; n < 4; n++ {
		delays = append(delays, ordered[n+1].StartedAt.Sub(ordered[n].FinishedAt.Time).Round(time.Millisecond))
	}
	t.Logf("delays before restarts 1-4: %v (back-off %v doubling to %v)", delays, cfg.BackoffInitial, cfg.BackoffMax)
	for _, d := range delays {
		if d > 2*cfg.BackoffMax {
			// A stall of the test machine longer than 2×BackoffMax resets the back-off (kubelet's rule).
			t.Logf("a restart came %v late (machine under load): back-off bounds not checked", d)
			return
		}
	}
	for n, min := range []time.Duration{0, cfg.BackoffInitial, 2 * cfg.BackoffInitial, 4 * cfg.BackoffInitial} {
		if delays[n] < min*9/10 {
			t.Errorf("restart %d after %v, want at least %v", n+1, delays[n], min)
		}
	}
	if delays[3] <= delays[1] {
		t.Errorf("back-off does not grow: %v", delays)
	}
	st, _ := m.PodStatus(pod.Namespace, pod.Name)
	if st.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running (restartPolicy Always)", st.Status.Phase)
	}
	if env.real {
		if got := containerLog(cfg, pod, "crash", 1); len(got) == 0 || got[0] != "crashing" {
			t.Errorf("log of restart 1: %q", got)
		}
	}
	_, cs := runtimeState(t, m.rt, pod.UID)
	if len(cs) > 2 {
		t.Errorf("%d containers kept for one container name, want the current and the previous", len(cs))
	}
}

// testProbes: a failing exec liveness probe restarts its container; readiness decides Ready.
func testProbes(t *testing.T, env runtimeEnv) {
	cfg := testConfig(t, shortTempDir(t))
	live := sh("live", "exec sleep 3600")
	live.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
		Command: []string{"cat", "/nonexistent"}}}, PeriodSeconds: 1, FailureThreshold: 1}
	unready := sh("unready", "exec sleep 3600")
	unready.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
		Command: []string{"cat", "/nonexistent"}}}, PeriodSeconds: 1}
	ready := sh("ready", "exec sleep 3600")
	ready.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
		Command: []string{"true"}}}, PeriodSeconds: 1}
	pod := newPod(env, "probes", "probed", live, unready, ready)
	if !env.real {
		env.execFails(t, pod.Namespace, pod.Name, "live")
		env.execFails(t, pod.Namespace, pod.Name, "unready")
	}
	m := startManager(t, env, cfg, pod)
	st := waitStatus(t, m, pod, 20*time.Second, "liveness restart", func(st corev1.PodStatus) bool {
		return containerStatusOf(st, "live").RestartCount >= 1 && containerStatusOf(st, "ready").Ready
	})
	if c := containerStatusOf(st, "unready"); c.Ready || c.State.Running == nil {
		t.Errorf("unready container: ready=%v state=%s", c.Ready, stateString(c.State))
	}
	if conditionOf(st, corev1.ContainersReady) != corev1.ConditionFalse || conditionOf(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("conditions with an unready container:\n%s", describe(st))
	}
	if c := containerStatusOf(st, "unready"); c.RestartCount != 0 {
		t.Errorf("readiness failure restarted the container %d times", c.RestartCount)
	}
}

// testRestartPolicy: Never and OnFailure pods finish as Succeeded or Failed and are not restarted.
func testRestartPolicy(t *testing.T, env runtimeEnv) {
	cfg := testConfig(t, shortTempDir(t))
	ok := newPod(env, "policy", "ok", sh("main", "exit 0"))
	ok.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	fail := newPod(env, "policy", "fail", sh("main", "exit 1"))
	fail.Spec.RestartPolicy = corev1.RestartPolicyNever
	retry := newPod(env, "policy", "retry", sh("main", "exit 2"))
	retry.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	if !env.real {
		env.exits(t, "policy", "ok", "main", 0, 0)
		env.exits(t, "policy", "fail", "main", 1, 0)
		env.exits(t, "policy", "retry", "main", 2, 0)
	}
	m := startManager(t, env, cfg, ok, fail, retry)
	waitStatus(t, m, ok, 15*time.Second, "Succeeded", func(st corev1.PodStatus) bool { return st.Phase == corev1.PodSucceeded })
	st := waitStatus(t, m, fail, 15*time.Second, "Failed", func(st corev1.PodStatus) bool { return st.Phase == corev1.PodFailed })
	if c := containerStatusOf(st, "main"); c.RestartCount != 0 || c.State.Terminated == nil || c.State.Terminated.ExitCode != 1 {
		t.Errorf("failed pod's container: %s restarts %d", stateString(c.State), c.RestartCount)
	}
	waitStatus(t, m, retry, 15*time.Second, "restarted on failure", func(st corev1.PodStatus) bool {
		return st.Phase == corev1.PodRunning && containerStatusOf(st, "main").RestartCount >= 2
	})
	time.Sleep(3 * cfg.ResyncInterval)
	st2, _ := m.PodStatus("policy", "fail")
	if c := containerStatusOf(st2.Status, "main"); c.RestartCount != 0 {
		t.Errorf("Never pod restarted: %d", c.RestartCount)
	}
	sb, _ := runtimeState(t, m.rt, fail.UID)
	for _, s := range sb {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Error("finished pod's sandbox still ready")
		}
	}
}

// testBadSpecs: each bad pod gets kubelet's reason; a good pod beside them runs.
func testBadSpecs(t *testing.T, env runtimeEnv) {
	cfg := testConfig(t, shortTempDir(t))
	const ns = "bad"
	missingCM := sh("main", "exec sleep 3600")
	missingCM.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "x"}}}}
	podMissingCM := newPod(env, ns, "missing-configmap", missingCM)

	podBadVolume := newPod(env, ns, "bad-volume", sh("main", "exec sleep 3600"))
	podBadVolume.Spec.Volumes = []corev1.Volume{{Name: "nfs", VolumeSource: corev1.VolumeSource{
		NFS: &corev1.NFSVolumeSource{Server: "nfs.example", Path: "/x"}}}}

	never := sh("main", "exec sleep 3600")
	never.Image, never.ImagePullPolicy = "docker.io/library/absent:1.0", corev1.PullNever
	podNever := newPod(env, ns, "never-pull", never)

	unreachable := sh("main", "exec sleep 3600")
	unreachable.Image = "127.0.0.1:1/edgehive/absent:1.0"
	podPull := newPod(env, ns, "pull-fails", unreachable)
	if env.pullFails != nil {
		env.pullFails(t, unreachable.Image)
	}

	good := newPod(env, ns, "good", sh("main", "exec sleep 3600"))
	m := startManager(t, env, cfg, podMissingCM, podBadVolume, podNever, podPull, good)

	for _, c := range []struct {
		pod    *corev1.Pod
		reason string
		msg    string
	}{
		{podMissingCM, edged.ReasonCreateContainerConfigError, `configmap "absent" not found`},
		{podBadVolume, edged.ReasonCreateContainerConfigError, `volume "nfs": unsupported volume type`},
		{podNever, edged.ReasonErrImageNeverPull, "is not present with pull policy of Never"},
		{podPull, edged.ReasonImagePullBackOff, "Back-off pulling image"},
	} {
		st := waitStatus(t, m, c.pod, 15*time.Second, c.reason, func(st corev1.PodStatus) bool { return waitingReason(st, "main") == c.reason })
		if w := containerStatusOf(st, "main").State.Waiting; !strings.Contains(w.Message, c.msg) {
			t.Errorf("%s: message %q, want %q", c.pod.Name, w.Message, c.msg)
		}
		if st.Phase != corev1.PodPending {
			t.Errorf("%s: phase %s", c.pod.Name, st.Phase)
		}
	}
	waitStatus(t, m, podPull, 15*time.Second, "ErrImagePull", func(st corev1.PodStatus) bool {
		w := containerStatusOf(st, "main").State.Waiting
		return w != nil && w.Reason == edged.ReasonErrImagePull && strings.Contains(w.Message, "failed to pull image")
	})
	waitStatus(t, m, good, 15*time.Second, "good pod running", running)

	// Fixing the spec's object lets the pod start.
	m.UpdateConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "absent"}, Data: map[string]string{"x": "1"}})
	waitStatus(t, m, podMissingCM, 15*time.Second, "running once the ConfigMap exists", running)
}

// testAdoption: a manager stopped mid-sync is replaced by a new one on the same data dir and runtime:
// it adopts the running containers (restarting none, duplicating none), finishes the half-made pod,
// and removes the pod no one wants any more.
func testAdoption(t *testing.T, env runtimeEnv) {
	cfg := testConfig(t, shortTempDir(t))
	const ns = "adopt"
	steady := newPod(env, ns, "steady", sh("a", "exec sleep 3600"), sh("b", "exec sleep 3600"))
	half := newPod(env, ns, "half", sh("a", "exec sleep 3600"), sh("b", "exec sleep 3600"))
	orphan := newPod(env, ns, "orphan", sh("a", "exec sleep 3600"))

	m1 := startManager(t, env, cfg, steady, orphan)
	before := waitStatus(t, m1, steady, 20*time.Second, "steady running", running)
	waitStatus(t, m1, orphan, 20*time.Second, "orphan running", running)
	if err := m1.UpdatePod(half); err != nil {
		t.Fatal(err)
	}
	// Stop the first manager while it works on the half pod.
	eventually(t, 10*time.Second, "half pod begun", func() error {
		if sb, _ := runtimeState(t, m1.rt, half.UID); len(sb) == 0 {
			return errors.New("no sandbox yet")
		}
		return nil
	})
	m1.stop()

	m2 := startManager(t, env, cfg, steady, half)
	m2.MarkSourcesReady()
	after := waitStatus(t, m2, steady, 20*time.Second, "steady running", running)
	for _, name := range []string{"a", "b"} {
		b, a := containerStatusOf(before, name), containerStatusOf(after, name)
		if a.ContainerID != b.ContainerID || a.RestartCount != 0 {
			t.Errorf("steady/%s: container %s (restarts %d), was %s", name, a.ContainerID, a.RestartCount, b.ContainerID)
		}
	}
	if !after.StartTime.Equal(before.StartTime) {
		t.Errorf("start time %v, was %v", after.StartTime, before.StartTime)
	}
	hst := waitStatus(t, m2, half, 20*time.Second, "half running", running)
	for _, c := range hst.ContainerStatuses {
		if c.RestartCount != 0 {
			t.Errorf("half/%s restarted %d times", c.Name, c.RestartCount)
		}
	}
	for _, p := range []*corev1.Pod{steady, half} {
		sb, cs := runtimeState(t, m2.rt, p.UID)
		if len(sb) != 1 || len(cs) != 2 {
			var desc []string
			for _, c := range cs {
				desc = append(desc, c.Metadata.Name+"/"+c.State.String()+"/"+c.Id[:8]+"/sb="+c.PodSandboxId[:8])
			}
			t.Errorf("%s: %d sandboxes, %d containers %v; want 1 and 2", p.Name, len(sb), len(cs), desc)
		}
	}
	eventually(t, 15*time.Second, "orphan removed", func() error {
		if sb, cs := runtimeState(t, m2.rt, orphan.UID); len(sb)+len(cs) > 0 {
			return errors.New("orphan still in the runtime")
		}
		return nil
	})
	// Clean up the pods this test leaves running.
	m2.DeletePod(ns, steady.Name)
	m2.DeletePod(ns, half.Name)
	eventually(t, 15*time.Second, "pods removed", func() error {
		for _, p := range []*corev1.Pod{steady, half} {
			if sb, cs := runtimeState(t, m2.rt, p.UID); len(sb)+len(cs) > 0 {
				return errors.New(p.Name + " still in the runtime")
			}
		}
		return nil
	})
}
