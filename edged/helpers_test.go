package edged_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"
)

// runtimeEnv is a CRI runtime the pod-manager suite runs against.
type runtimeEnv struct {
	name     string
	endpoint string
	image    string
	// real runtimes run the pods' commands: logs, files and exit codes come from the processes. For a
	// fake one the suite scripts the same behaviour through the hooks below.
	real bool
	// exits scripts the container ns/pod/container to exit with code after d (fake runtimes only).
	exits func(t *testing.T, ns, pod, container string, code int32, after time.Duration)
	// execFails scripts exec probes of ns/pod/container to fail (fake runtimes only).
	execFails func(t *testing.T, ns, pod, container string)
	// pullFails scripts pulls of image to fail (fake runtimes; nil where no registry answers anyway).
	pullFails func(t *testing.T, image string)
}

// testManager is a Manager running for a test.
type testManager struct {
	*edged.Manager
	cfg    edged.Config
	rt     *cri.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func testConfig(t *testing.T, dataDir string) edged.Config {
	return edged.Config{
		DataDir:                 dataDir,
		NodeName:                "edge-1",
		NodeIP:                  "127.0.0.1",
		ManagerID:               "test-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()),
		BackoffInitial:          300 * time.Millisecond,
		BackoffMax:              2 * time.Second,
		ImagePullBackoffInitial: 300 * time.Millisecond,
		ImagePullBackoffMax:     2 * time.Second,
		ResyncInterval:          100 * time.Millisecond,
		RuntimeRequestTimeout:   30 * time.Second,
		Logger:                  testLogger(t),
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startManager dials env's runtime and runs a Manager with cfg until the test ends or stop is called.
func startManager(t *testing.T, env runtimeEnv, cfg edged.Config, pods ...*corev1.Pod) *testManager {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := cri.Dial(ctx, cri.Config{Endpoint: env.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	m, err := edged.NewManager(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := m.UpdatePod(p); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	tm := &testManager{Manager: m, cfg: cfg, rt: rt, cancel: runCancel, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		if err := m.Run(runCtx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(tm.stop)
	return tm
}

// stop ends Run (the pods keep running) and closes the runtime connection.
func (tm *testManager) stop() {
	tm.once.Do(func() {
		tm.cancel()
		<-tm.done
		_ = tm.rt.Close()
	})
}

// waitStatus waits until cond holds for the pod's status and returns it.
func waitStatus(t *testing.T, m *testManager, pod *corev1.Pod, timeout time.Duration, what string,
	cond func(st corev1.PodStatus) bool) corev1.PodStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last corev1.PodStatus
	for time.Now().Before(deadline) {
		if msg, ok := m.PodStatus(pod.Namespace, pod.Name); ok && msg.UID == pod.UID {
			last = msg.Status
			if cond(last) {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pod %s: %s: not within %v; last status:\n%s", pod.Name, what, timeout, describe(last))
	return last
}

func describe(st corev1.PodStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s podIP=%s\n", st.Phase, st.PodIP)
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, "  condition %s=%s %s %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for _, c := range list {
			fmt.Fprintf(&b, "  container %s ready=%v restarts=%d state=%s last=%s\n", c.Name, c.Ready, c.RestartCount,
				stateString(c.State), stateString(c.LastTerminationState))
		}
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return "waiting(" + s.Waiting.Reason + ": " + s.Waiting.Message + ")"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%d %s)", s.Terminated.ExitCode, s.Terminated.Reason)
	}
	return "-"
}

func containerStatusOf(st corev1.PodStatus, name string) corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for _, c := range list {
			if c.Name == name {
				return c
			}
		}
	}
	return corev1.ContainerStatus{}
}

func conditionOf(st corev1.PodStatus, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func running(st corev1.PodStatus) bool {
	if st.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range st.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

func waitingReason(st corev1.PodStatus, name string) string {
	if w := containerStatusOf(st, name).State.Waiting; w != nil {
		return w.Reason
	}
	return ""
}

// newPod returns a pod of env's image with the given containers' commands.
func newPod(env runtimeEnv, ns, name string, containers ...corev1.Container) *corev1.Pod {
	zero := int64(0)
	for i := range containers {
		if containers[i].Image == "" {
			containers[i].Image = env.image
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(name + "-uid-" + env.name),
			Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName:                      "edge-1",
			Containers:                    containers,
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &zero,
		},
	}
}

func sh(name, script string) corev1.Container {
	return corev1.Container{Name: name, Command: []string{"sh", "-c", script}}
}

// runtimeState lists what the runtime holds for the pod with uid (any manager).
func runtimeState(t *testing.T, rt *cri.Client, uid types.UID) (sandboxes []*runtimeapi.PodSandbox, containers []*runtimeapi.Container) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sel := map[string]string{edged.LabelPodUID: string(uid)}
	sb, err := rt.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := rt.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		t.Fatal(err)
	}
	return sb.GetItems(), cs.GetContainers()
}

// containerLog reads the CRI log of the pod's container (restart n) and returns its lines' contents.
func containerLog(cfg edged.Config, pod *corev1.Pod, container string, n int) []string {
	logDir := cfg.LogDir
	if logDir == "" {
		logDir = filepath.Join(cfg.DataDir, "logs")
	}
	b, err := os.ReadFile(filepath.Join(logDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), container, fmt.Sprintf("%d.log", n)))
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(line, " ", 4); len(f) == 4 {
			out = append(out, f[3])
		}
	}
	return out
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, timeout, err)
}

func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "edged")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
