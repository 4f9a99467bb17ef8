package edged

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"plain":          "plain",
		"$(A)":           "1",
		"x$(A)y$(B)z":    "x1ytwoz",
		"$$(A)":          "$(A)",
		"$(UNKNOWN)":     "$(UNKNOWN)",
		"$(A":            "$(A",
		"cost $5":        "cost $5",
		"end$":           "end$",
		"$(A)$(A)$$$(B)": "11$two",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainerEnv(t *testing.T) {
	objs := newObjectStore()
	objs.setConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"},
		Data: map[string]string{"k": "v", "other": "o"}})
	objs.setSecret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Data: map[string][]byte{"pw": []byte("secret")}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u1", Labels: map[string]string{"app": "x"}}}
	optional := true
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		Env: []corev1.EnvVar{
			{Name: "CM_k", Value: "overridden"},
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "pw"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "UID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "x", Optional: &optional}}},
			{Name: "REF", Value: "$(IP):$(CM_other)"},
		},
	}
	got, err := containerEnv(pod, c, objs, podFacts{podIP: "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.EnvVar{{Name: "CM_k", Value: "overridden"}, {Name: "CM_other", Value: "o"},
		{Name: "PW", Value: "secret"}, {Name: "IP", Value: "10.0.0.5"}, {Name: "UID", Value: "u1"},
		{Name: "APP", Value: "x"}, {Name: "REF", Value: "10.0.0.5:o"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env\n got %v\nwant %v", got, want)
	}

	for _, tc := range []struct {
		env  corev1.EnvVar
		want string
	}{
		{corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "x"}}}, `configmap "absent" not found`},
		{corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "nokey"}}}, "couldn't find key nokey in ConfigMap ns/cm"},
		{corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nosecret"}, Key: "x"}}}, `secret "nosecret" not found`},
	} {
		_, err := containerEnv(pod, &corev1.Container{Env: []corev1.EnvVar{tc.env}}, objs, podFacts{})
		if ce, ok := err.(*configError); !ok || ce.msg != tc.want {
			t.Errorf("env %v: error %v, want configError %q", tc.env.Name, err, tc.want)
		}
	}
}

func TestLinuxResources(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		r    corev1.ResourceRequirements
		want *runtimeapi.LinuxContainerResources
	}{
		{"none", corev1.ResourceRequirements{}, nil},
		{"request only", corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("250m")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 256}},
		{"limit only", corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("64Mi")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000, MemoryLimitInBytes: 64 << 20}},
		{"both", corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("100m")},
			Limits: corev1.ResourceList{corev1.ResourceCPU: q("2")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 102, CpuPeriod: 100000, CpuQuota: 200000}},
		{"tiny", corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1m")}},
			&runtimeapi.LinuxContainerResources{CpuShares: 2, CpuPeriod: 100000, CpuQuota: 1000}},
	} {
		got := linuxResources(tc.r)
		if (got == nil) != (tc.want == nil) || got != nil && (got.CpuShares != tc.want.CpuShares || got.CpuQuota != tc.want.CpuQuota ||
			got.CpuPeriod != tc.want.CpuPeriod || got.MemoryLimitInBytes != tc.want.MemoryLimitInBytes) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestContainerSecurity(t *testing.T) {
	uid, podUID, f, tr := int64(1000), int64(2000), false, true
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: &podUID}}}
	c := &corev1.Container{SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, Privileged: &f, ReadOnlyRootFilesystem: &tr}}
	sc := containerSecurity(pod, c, nil)
	if sc.RunAsUser.GetValue() != 1000 || sc.Privileged || !sc.ReadonlyRootfs {
		t.Errorf("container context: %v", sc)
	}
	if sc := containerSecurity(pod, &corev1.Container{}, nil); sc.RunAsUser.GetValue() != 2000 {
		t.Errorf("pod context: %v", sc)
	}
}

func TestPullPolicy(t *testing.T) {
	for img, want := range map[string]corev1.PullPolicy{
		"busybox":                     corev1.PullAlways,
		"busybox:latest":              corev1.PullAlways,
		"busybox:1.36":                corev1.PullIfNotPresent,
		"localhost:5000/busybox":      corev1.PullAlways,
		"localhost:5000/busybox:1":    corev1.PullIfNotPresent,
		"busybox@sha256:0123456789ab": corev1.PullIfNotPresent,
	} {
		if got := pullPolicy(&corev1.Container{Image: img}); got != want {
			t.Errorf("pullPolicy(%s) = %s, want %s", img, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(time.Second, 4*time.Second)
	t0 := time.Unix(1000, 0)
	if d := b.wait("c", t0, t0); d != 0 {
		t.Fatalf("first failure waits %v", d)
	}
	var delays []time.Duration
	at := t0
	for range 5 {
		delays = append(delays, b.next("c", at))
		at = at.Add(5 * time.Second)
	}
	if want := []time.Duration{1, 2, 4, 4, 4}; !reflect.DeepEqual(delays, scale(want, time.Second)) {
		t.Errorf("delays %v", delays)
	}
	last := at.Add(-5 * time.Second)
	if d := b.wait("c", last, last.Add(time.Second)); d != 3*time.Second {
		t.Errorf("wait = %v, want 3s", d)
	}
	// Long after the last failure, the back-off starts over.
	late := at.Add(time.Hour)
	if d := b.wait("c", late, late); d != 0 {
		t.Errorf("wait after an hour = %v", d)
	}
	if d := b.next("c", late); d != time.Second {
		t.Errorf("next after an hour = %v", d)
	}
}

func scale(in []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(in))
	for i, d := range in {
		out[i] = d * unit
	}
	return out
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	changed, err := writeAtomic(dir, map[string]fileProjection{"a": {data: []byte("1"), mode: 0o644}, "sub/b": {data: []byte("2"), mode: 0o600}})
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	if read("a") != "1" || read("sub/b") != "2" {
		t.Fatalf("a=%q sub/b=%q", read("a"), read("sub/b"))
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sub/b")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if target, _ := os.Readlink(filepath.Join(dir, "a")); target != "..data/a" {
		t.Errorf("a links to %q", target)
	}
	changed, err = writeAtomic(dir, map[string]fileProjection{"a": {data: []byte("1"), mode: 0o644}, "sub/b": {data: []byte("2"), mode: 0o600}})
	if err != nil || changed {
		t.Errorf("same payload rewritten: %v %v", changed, err)
	}
	changed, err = writeAtomic(dir, map[string]fileProjection{"a": {data: []byte("new"), mode: 0o644}})
	if err != nil || !changed {
		t.Fatalf("update: %v %v", changed, err)
	}
	if read("a") != "new" {
		t.Errorf("a = %q", read("a"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("removed key still visible: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 { // a, ..data, one timestamped dir
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("entries %v", names)
	}
	for _, bad := range []string{"../x", "/abs", "a/../../x", "..data"} {
		if _, err := writeAtomic(dir, map[string]fileProjection{bad: {data: nil, mode: 0o644}}); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

func TestPodPhase(t *testing.T) {
	run := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	ok := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	bad := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
	wait := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}}
	crash := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff}},
		LastTerminationState: bad}
	cs := func(states ...corev1.ContainerState) []corev1.ContainerStatus {
		out := make([]corev1.ContainerStatus, len(states))
		for i, s := range states {
			out[i].State = s
		}
		return out
	}
	pod := func(p corev1.RestartPolicy) *corev1.Pod { return &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: p}} }
	for _, tc := range []struct {
		name       string
		policy     corev1.RestartPolicy
		init, fail bool
		statuses   []corev1.ContainerStatus
		want       corev1.PodPhase
	}{
		{"creating", corev1.RestartPolicyAlways, true, false, cs(wait, run), corev1.PodPending},
		{"initializing", corev1.RestartPolicyAlways, false, false, cs(wait), corev1.PodPending},
		{"init failed", corev1.RestartPolicyNever, false, true, cs(wait), corev1.PodFailed},
		{"running", corev1.RestartPolicyAlways, true, false, cs(run, ok), corev1.PodRunning},
		{"crashloop", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{crash}, corev1.PodRunning},
		{"all done always", corev1.RestartPolicyAlways, true, false, cs(ok), corev1.PodRunning},
		{"succeeded", corev1.RestartPolicyOnFailure, true, false, cs(ok, ok), corev1.PodSucceeded},
		{"onfailure retrying", corev1.RestartPolicyOnFailure, true, false, cs(ok, bad), corev1.PodRunning},
		{"failed", corev1.RestartPolicyNever, true, false, cs(ok, bad), corev1.PodFailed},
	} {
		if got := podPhase(pod(tc.policy), tc.init, tc.fail, tc.statuses); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestBuildStatus(t *testing.T) {
	now := time.Unix(2000, 0)
	pod := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways,
		InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "a", Image: "img"}, {Name: "b"}}}}
	o := podObservation{pod: pod, runtimeName: "rt", podIP: "10.0.0.2", hostIP: "192.168.1.2", startTime: now, now: now,
		init: []containerObs{{spec: &pod.Spec.InitContainers[0], cur: &runtimeapi.ContainerStatus{Id: "i1",
			State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: 0}}},
		regular: []containerObs{
			{spec: &pod.Spec.Containers[0], cur: &runtimeapi.ContainerStatus{Id: "a1", State: runtimeapi.ContainerState_CONTAINER_RUNNING,
				ImageRef: "sha256:x"}, ready: true, started: true, restarts: 2},
			{spec: &pod.Spec.Containers[1], waiting: &waitingError{reason: ReasonErrImagePull, msg: "nope"}},
		}}
	st := buildStatus(o)
	if st.Phase != corev1.PodPending || st.PodIP != "10.0.0.2" || st.HostIP != "192.168.1.2" || !st.StartTime.Time.Equal(now) {
		t.Errorf("status %+v", st)
	}
	a := st.ContainerStatuses[0]
	if a.ContainerID != "rt://a1" || a.ImageID != "sha256:x" || a.Image != "img" || !a.Ready || a.RestartCount != 2 || a.State.Running == nil {
		t.Errorf("a: %+v", a)
	}
	if b := st.ContainerStatuses[1]; b.State.Waiting == nil || b.State.Waiting.Reason != ReasonErrImagePull || b.Ready {
		t.Errorf("b: %+v", b)
	}
	want := map[corev1.PodConditionType]corev1.ConditionStatus{corev1.PodScheduled: "True", corev1.PodInitialized: "True",
		corev1.ContainersReady: "False", corev1.PodReady: "False"}
	for _, c := range st.Conditions {
		if want[c.Type] != c.Status {
			t.Errorf("condition %s = %s", c.Type, c.Status)
		}
		if c.Type == corev1.PodReady && c.Message != "containers with unready status: [b]" {
			t.Errorf("ready message %q", c.Message)
		}
	}
	// Transition times survive an unchanged condition.
	o.prev, o.now = &st, now.Add(time.Minute)
	st2 := buildStatus(o)
	if !st2.Conditions[3].LastTransitionTime.Equal(&st.Conditions[3].LastTransitionTime) {
		t.Errorf("transition time moved")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{},
		{DataDir: "relative"},
		{DataDir: "/d", NodeIP: "not-an-ip"},
		{DataDir: "/d", BackoffInitial: time.Minute, BackoffMax: time.Second},
		{DataDir: "/d", ResyncInterval: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (Config{DataDir: "/d", NodeIP: "10.0.0.1"}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseResourceKey(t *testing.T) {
	ns, typ, name, err := ParseResourceKey("default/pod/web")
	if err != nil || ns != "default" || typ != "pod" || name != "web" {
		t.Errorf("got %q %q %q %v", ns, typ, name, err)
	}
	for _, bad := range []string{"", "a/b", "a/b/c/d", "ns//name", "ns/pod/"} {
		if _, _, _, err := ParseResourceKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
