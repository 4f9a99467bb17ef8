// Package e2e runs the reference cloud and edge (examples/cloud, examples/edge) in-process against a
// real Kubernetes control plane (testenv.StartKube) and a real containerd (testenv.StartContainerd),
// and checks, in order, what an operator of KubeEdge expects:
//
//  1. join: the edge joins with a token from `cloud token` and its Node is Ready, with a Lease;
//  2. pod: a pod bound to the node (spec.nodeName) runs in containerd and shows Running with its IP,
//     and its output is in the container log on the edge;
//  3. configmap: a ConfigMap update reaches the pod's mounted file;
//  4. device: KubeEdge's sample Device and DeviceModel apply; the desired value reaches the edge's
//     twin over MQTT, a reported value reaches the Device's status.twins;
//  5. offline: the cloud stops, the edge restarts without it (and without its token): the container
//     is adopted, the MetaServer lists the pod, a mapper still updates the twin; the cloud returns,
//     the node is Ready again with a fresh heartbeat, and the report made offline arrives;
//  6. delete: deleting the pod removes its container, and the edge finishes the deletion;
//  7. deployment: a Deployment pinned to the node runs there; deleting it removes the container.
//
// A step that fails stops the sequence. The components are skipped locally when missing
// (testenv.Missing) and required under CI=true. EDGEHIVE_E2E_LOGS=1 prints the processes' logs.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/examples/cloud/cloudapp"
	"github.com/edgehive/edgehive/examples/edge/edgeapp"
	"github.com/edgehive/edgehive/internal/testenv"
)

const (
	nodeName  = "edge-e2e"
	namespace = "default"
	podName   = "web"
	cmName    = "web-config"
)

// cluster is the running pair and what the test needs to drive them.
type cluster struct {
	top       *testing.T // the parent test: processes started in a step outlive the step
	kube      *testenv.Kube
	ctrd      *testenv.Containerd
	cs        kubernetes.Interface
	cloudArgs []string
	edgeArgs  []string
	cloud     *proc
	edge      *proc
	metaURL   string
	mqttAddr  string
	edgeDir   string
}

func TestCloudEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end, starts kube-apiserver and containerd")
	}
	testenv.RequireRoot(t, "containerd")
	kube := testenv.StartKube(t)
	ctrd := testenv.StartContainerd(t)
	c := &cluster{top: t, kube: kube, ctrd: ctrd, cs: kube.Clientset(t)}

	dir := t.TempDir()
	cloudDir, edgeDir := filepath.Join(dir, "cloud"), filepath.Join(dir, "edge")
	c.edgeDir = edgeDir
	hubAddr, joinAddr, metaAddr := addr(t), addr(t), addr(t)
	c.metaURL = "http://" + metaAddr
	c.mqttAddr = addr(t)
	c.cloudArgs = []string{"--kubeconfig", kube.KubeconfigPath, "--listen", hubAddr, "--join-listen", joinAddr,
		"--data-dir", cloudDir, "--log-level", "debug"}
	// The token first: it creates the CA in the data dir, which the cloud then loads.
	var tok bytes.Buffer
	if err := cloudapp.Run(t.Context(), []string{"token", "--data-dir", cloudDir}, &tok, &bytes.Buffer{}); err != nil {
		t.Fatalf("cloud token: %v", err)
	}
	token := strings.TrimSpace(tok.String())
	c.cloud = startProc(t, "cloud", cloudapp.Run, c.cloudArgs...)
	c.edgeArgs = []string{"--node-name", nodeName, "--cloud", hubAddr, "--join", joinAddr, "--token", token,
		"--data-dir", edgeDir, "--cri-endpoint", ctrd.Endpoint, "--mqtt-listen", c.mqttAddr, "--metaserver", metaAddr,
		"--node-ip", "127.0.0.1", "--status-interval", "2s", "--log-level", "debug"}
	c.edge = startProc(t, "edge", edgeapp.Run, c.edgeArgs...)

	steps := []struct {
		name string
		fn   func(t *testing.T, c *cluster)
	}{
		{"join", testJoin},
		{"pod", testPod},
		{"configmap", testConfigMapUpdate},
		{"device", testDevice},
		{"offline", testOffline},
		{"delete", testDelete},
		{"deployment", testDeployment},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.fn(t, c) }) {
			t.Fatalf("step %s failed: not running the next ones", s.name)
		}
	}
}

// checkAlive fails the test if a process has returned on its own.
func (c *cluster) checkAlive(t *testing.T) {
	t.Helper()
	if err := c.alive(); err != nil {
		t.Fatal(err)
	}
}

// alive returns an error if the cloud or the edge has returned on its own.
func (c *cluster) alive() error {
	for _, p := range []*proc{c.cloud, c.edge} {
		if done, err := p.exited(); done {
			return fmt.Errorf("%s exited: %v", p.name, err)
		}
	}
	return nil
}

// nodeReady is nil when the edge Node exists, is labelled an edge node, and is Ready.
func (c *cluster) nodeReady(ctx context.Context) error {
	if err := c.alive(); err != nil {
		return err
	}
	n, err := c.cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if _, ok := n.Labels["node-role.kubernetes.io/edge"]; !ok {
		return fmt.Errorf("node %s has no edge label: %v", nodeName, n.Labels)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			if cond.Status != corev1.ConditionTrue {
				return fmt.Errorf("node Ready=%s (%s)", cond.Status, cond.Message)
			}
			return nil
		}
	}
	return fmt.Errorf("node has no Ready condition yet")
}

func testJoin(t *testing.T, c *cluster) {
	start := time.Now()
	eventually(t, 30*time.Second, "edge node Ready in the API server", c.nodeReady)
	t.Logf("node %s Ready %v after the edge started", nodeName, time.Since(start).Round(time.Millisecond))
	_, err := c.cs.CoordinationV1().Leases("kube-node-lease").Get(t.Context(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Errorf("node lease: %v", err)
	}
	c.checkAlive(t)
}

func testPod(t *testing.T, c *cluster) {
	ctx := t.Context()
	if err := c.kube.WaitDefaultServiceAccount(ctx, namespace); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: namespace},
		Data:       map[string]string{"greeting": "hello"},
	}
	if _, err := c.cs.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	no := false
	grace := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: namespace, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			AutomountServiceAccountToken:  &no,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:            "web",
				Image:           c.ctrd.Image,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sh", "-c", "echo started; while true; do sleep 1; done"},
				VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web"}},
			}},
			Volumes: []corev1.Volume{{
				Name: "config",
				VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: cmName},
				}},
			}},
		},
	}
	if _, err := c.cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 60*time.Second, "pod Running with an IP in the API server", func(ctx context.Context) error {
		p, err := c.cs.CoreV1().Pods(namespace).Get(ctx, podName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("phase %q, podIP %q, conditions %v", p.Status.Phase, p.Status.PodIP, p.Status.Conditions)
		}
		return nil
	})
	t.Logf("pod Running %v after it was created", time.Since(start).Round(time.Millisecond))
	if id := c.containerID(t); id == "" {
		t.Fatal("no running container of the pod in containerd")
	}
	// The container's output is in its log on the edge, where kubelet would keep it.
	eventually(t, 10*time.Second, "container log on the edge", func(context.Context) error {
		logs, _ := filepath.Glob(filepath.Join(c.edgeDir, "edged", "logs", namespace+"_"+podName+"_*", "web", "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil && strings.Contains(string(b), "started") {
				return nil
			}
		}
		return fmt.Errorf("no log with the container's output among %v", logs)
	})
	c.checkAlive(t)
}

// containerID returns the ID of the pod's running container in containerd, or "".
func (c *cluster) containerID(t *testing.T) string {
	t.Helper()
	resp, err := c.ctrd.RuntimeService().ListContainers(t.Context(), &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{
			State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
			LabelSelector: map[string]string{edged.LabelPodName: podName, edged.LabelPodNamespace: namespace},
		},
	})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	if len(resp.Containers) == 0 {
		return ""
	}
	return resp.Containers[0].Id
}

// readInContainer returns the content of path in the pod's container.
func (c *cluster) readInContainer(ctx context.Context, id, path string) (string, error) {
	resp, err := c.ctrd.RuntimeService().ExecSync(ctx, &runtimeapi.ExecSyncRequest{
		ContainerId: id, Cmd: []string{"cat", path}, Timeout: 5,
	})
	if err != nil {
		return "", err
	}
	if resp.ExitCode != 0 {
		return "", fmt.Errorf("cat %s: exit %d: %s", path, resp.ExitCode, resp.Stderr)
	}
	return string(resp.Stdout), nil
}

func testConfigMapUpdate(t *testing.T, c *cluster) {
	ctx := t.Context()
	id := c.containerID(t)
	if id == "" {
		t.Fatal("pod not running")
	}
	if got, err := c.readInContainer(ctx, id, "/etc/web/greeting"); err != nil || got != "hello" {
		t.Fatalf("mounted file = %q, %v; want hello", got, err)
	}
	cm, err := c.cs.CoreV1().ConfigMaps(namespace).Get(ctx, cmName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["greeting"] = "bonjour"
	if _, err := c.cs.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "updated ConfigMap in the mounted file", func(ctx context.Context) error {
		got, err := c.readInContainer(ctx, id, "/etc/web/greeting")
		if err != nil {
			return err
		}
		if got != "bonjour" {
			return fmt.Errorf("mounted file = %q", got)
		}
		return nil
	})
}

// metaServerHasPod is nil when the edge's MetaServer lists the pod.
func (c *cluster) metaServerHasPod(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metaURL+"/api/v1/namespaces/"+namespace+"/pods/"+podName, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("metaserver: GET pod: %s", resp.Status)
	}
	return nil
}

func testOffline(t *testing.T, c *cluster) {
	ctx := t.Context()
	id := c.containerID(t)
	if err := c.cloud.stop(); err != nil {
		t.Fatalf("cloud stop: %v", err)
	}
	if err := c.edge.stop(); err != nil {
		t.Fatalf("edge stop: %v", err)
	}
	// No token this time: the node's key and certificate are in its data dir.
	var noToken []string
	for i := 0; i < len(c.edgeArgs); i++ {
		if c.edgeArgs[i] == "--token" {
			i++
			continue
		}
		noToken = append(noToken, c.edgeArgs[i])
	}
	c.edge = startProc(c.top, "edge-restarted", edgeapp.Run, noToken...)
	eventually(t, 20*time.Second, "MetaServer lists the pod offline", c.metaServerHasPod)
	// The restarted edge adopts the running container: give it a few syncs, then check it is the same.
	time.Sleep(3 * time.Second)
	if got := c.containerID(t); got != id {
		t.Fatalf("container after an offline restart = %q, want the adopted %q", got, id)
	}
	// The mapper still updates the local twin; the report waits in the outbox for the cloud.
	c.reportTemperature(t, "25")
	c.cloud = startProc(c.top, "cloud-restarted", cloudapp.Run, c.cloudArgs...)
	// The node's Ready heartbeat must be fresh: written after the cloud came back.
	back := time.Now().Add(-time.Second)
	eventually(t, 30*time.Second, "node Ready again with a fresh heartbeat", func(ctx context.Context) error {
		if err := c.nodeReady(ctx); err != nil {
			return err
		}
		n, err := c.cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.LastHeartbeatTime.Time.Before(back) {
				return fmt.Errorf("heartbeat %v is older than the cloud's return", cond.LastHeartbeatTime)
			}
		}
		return nil
	})
	eventually(t, 30*time.Second, "temperature reported offline in the Device's status", c.deviceReported("25"))
	p, err := c.cs.CoreV1().Pods(namespace).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("pod phase after the outage = %q, want Running", p.Status.Phase)
	}
	c.checkAlive(t)
}

func testDelete(t *testing.T, c *cluster) {
	ctx := t.Context()
	if err := c.cs.CoreV1().Pods(namespace).Delete(ctx, podName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "container removed on the edge", func(ctx context.Context) error {
		if id := c.containerID(t); id != "" {
			return fmt.Errorf("container %s still running", id)
		}
		return nil
	})
	eventually(t, 30*time.Second, "pod gone from the API server", func(ctx context.Context) error {
		_, err := c.cs.CoreV1().Pods(namespace).Get(ctx, podName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("pod still there")
	})
}
