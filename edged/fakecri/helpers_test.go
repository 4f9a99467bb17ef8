package fakecri

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestMain checks that no test leaves a goroutine behind: servers, timers, streams and clients all stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testImage = "docker.io/library/busybox:1.36"

// env is a fake runtime with a client connected to it over its socket.
type env struct {
	t   *testing.T
	ctx context.Context
	rt  *Runtime
	rs  runtimeapi.RuntimeServiceClient
	is  runtimeapi.ImageServiceClient
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	if cfg.Images == nil {
		cfg.Images = []Image{{Tags: []string{testImage}}}
	}
	rt := StartForTest(t, cfg)
	e := &env{t: t, rt: rt}
	e.rs, e.is = e.dial()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e.ctx = ctx
	return e
}

// dial opens a new client connection, closed when the test ends.
func (e *env) dial() (runtimeapi.RuntimeServiceClient, runtimeapi.ImageServiceClient) {
	e.t.Helper()
	conn, err := dialCRI(e.rt.Endpoint())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
}

func podConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: name + "-uid"},
		Labels:   map[string]string{"io.kubernetes.pod.uid": name + "-uid"},
	}
}

// runPod runs a sandbox for the pod name and returns its ID and config.
func (e *env) runPod(name string) (string, *runtimeapi.PodSandboxConfig) {
	e.t.Helper()
	cfg := podConfig(name)
	cfg.LogDirectory = e.t.TempDir()
	resp, err := e.rs.RunPodSandbox(e.ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		e.t.Fatalf("RunPodSandbox %s: %v", name, err)
	}
	return resp.GetPodSandboxId(), cfg
}

// create creates a container name in the sandbox and returns its ID.
func (e *env) create(podID string, pod *runtimeapi.PodSandboxConfig, name string) string {
	e.t.Helper()
	id, err := e.tryCreate(podID, pod, name)
	if err != nil {
		e.t.Fatalf("CreateContainer %s: %v", name, err)
	}
	return id
}

func (e *env) tryCreate(podID string, pod *runtimeapi.PodSandboxConfig, name string) (string, error) {
	resp, err := e.rs.CreateContainer(e.ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  podID,
		SandboxConfig: pod,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name},
			Image:    &runtimeapi.ImageSpec{Image: "busybox:1.36"},
			Command:  []string{"sh", "-c", "exec sleep 3600"},
			Args:     []string{"--flag"},
			Envs:     []*runtimeapi.KeyValue{{Key: "A", Value: []byte("1")}},
			Mounts:   []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/var/data"}},
			Labels:   map[string]string{"io.kubernetes.container.name": name},
			LogPath:  name + "/0.log",
		},
	})
	return resp.GetContainerId(), err
}

func (e *env) start(id string) {
	e.t.Helper()
	if _, err := e.rs.StartContainer(e.ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		e.t.Fatalf("StartContainer: %v", err)
	}
}

func (e *env) status(id string) *runtimeapi.ContainerStatus {
	e.t.Helper()
	st, err := e.rs.ContainerStatus(e.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		e.t.Fatalf("ContainerStatus: %v", err)
	}
	return st.GetStatus()
}

// waitState waits until the container is in state.
func (e *env) waitState(id string, state runtimeapi.ContainerState) *runtimeapi.ContainerStatus {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := e.status(id)
		if st.GetState() == state {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s: state %v, want %v", id, st.GetState(), state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantStatus(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s: %v, want code %v", what, err, code)
	}
}
