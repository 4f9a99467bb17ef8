package fakecri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestEdgedRestart is the scenario the fake exists for: a client (edged) creates a pod, goes away, and a
// new client adopts what runs instead of starting it again; the call log proves it.
func TestEdgedRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	podID, pod := e.runPod("web")
	id := e.create(podID, pod, "app")
	e.start(id)

	rs, _ := e.dial() // "edged restarted": a new connection
	list, err := rs.ListContainers(e.ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{"io.kubernetes.container.name": "app"},
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
	}})
	if err != nil || len(list.GetContainers()) != 1 || list.GetContainers()[0].GetId() != id {
		t.Fatalf("after the restart: %v %v, want the running container", list, err)
	}
	web := Match{Namespace: "default", Pod: "web"}
	if n := e.rt.CallCount("StartContainer", web); n != 1 {
		t.Errorf("StartContainer for pod web: %d calls, want 1", n)
	}
	if n := e.rt.CallCount("RunPodSandbox", web); n != 1 {
		t.Errorf("RunPodSandbox for pod web: %d calls, want 1", n)
	}
	calls := e.rt.Calls("StartContainer", web)
	if len(calls) != 1 || calls[0].ContainerID != id || calls[0].SandboxID != podID || calls[0].Container != "app" ||
		calls[0].Image != testImage || calls[0].Code() != codes.OK || calls[0].Time.IsZero() {
		t.Errorf("StartContainer call: %+v", calls)
	}
	if c := e.rt.Calls("CreateContainer", Match{Container: "app"}); len(c) != 1 || c[0].ContainerID != id {
		t.Errorf("CreateContainer call: %+v, want the new container's ID from the response", c)
	}
	if n := e.rt.CallCounts()["ListContainers"]; n != 1 {
		t.Errorf("ListContainers count %d, want 1", n)
	}
	e.rt.ResetCalls()
	if n := e.rt.CallCount("", Match{}); n != 0 {
		t.Errorf("after ResetCalls: %d calls", n)
	}
}

func TestCallLogSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{CallLogSize: 10})
	for range 25 {
		if _, err := e.rs.Version(e.ctx, &runtimeapi.VersionRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.rt.Calls("Version", Match{})); n > 10 || n < 5 {
		t.Errorf("log holds %d calls, want between 5 and 10", n)
	}
	if n := e.rt.CallCounts()["Version"]; n != 25 {
		t.Errorf("count %d, want 25", n)
	}
}

func TestHooks(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	e := newEnv(t, Config{Hooks: map[string]Hook{
		"RunPodSandbox": func(ctx context.Context, c Call) error {
			if c.Pod == "denied" {
				return status.Error(codes.PermissionDenied, "no")
			}
			return nil
		},
	}})
	_, err := e.rs.RunPodSandbox(e.ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("denied")})
	wantStatus(t, "RunPodSandbox refused by a hook", err, codes.PermissionDenied)
	if err := e.rt.SetHook("StartContainer", func(ctx context.Context, c Call) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.SetHook("Nope", nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("SetHook of an unknown method: %v", err)
	}
	podID, pod := e.runPod("web")
	id := e.create(podID, pod, "app")
	done := make(chan error, 1)
	go func() {
		_, err := e.rs.StartContainer(e.ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("StartContainer returned %v while its hook blocks", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := e.rt.SetHook("StartContainer", nil); err != nil {
		t.Fatal(err)
	}
}

func TestContainerEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	stream, err := e.rs.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The subscription starts when the server handles the call: wait until it is there.
	for !e.rt.events.active() {
		time.Sleep(time.Millisecond)
	}
	podID, pod := e.runPod("web")
	id := e.create(podID, pod, "app")
	e.start(id)
	if _, err := e.rs.RemovePodSandbox(e.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}
	type ev struct {
		id  string
		typ runtimeapi.ContainerEventType
	}
	want := []ev{
		{podID, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{podID, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT},
		{podID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT},
		{podID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT},
	}
	for i, w := range want {
		got, err := stream.Recv()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got.GetContainerId() != w.id || got.GetContainerEventType() != w.typ || got.GetPodSandboxStatus().GetId() != podID {
			t.Errorf("event %d: %s %v (sandbox %s), want %s %v", i, got.GetContainerId(), got.GetContainerEventType(),
				got.GetPodSandboxStatus().GetId(), w.id, w.typ)
		}
	}
	if e.rt.EventsDropped() != 0 {
		t.Errorf("%d events dropped", e.rt.EventsDropped())
	}
}

func TestCloseEndsEverything(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "fcri")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "cri.sock")
	rt := New(Config{SocketPath: sock, Images: []Image{{Tags: []string{testImage}}}})
	rt.SetBehavior(Match{Container: "slow"}, Behavior{StartDelay: time.Hour, Exit: &Exit{After: time.Hour}})
	rt.SetBehavior(Match{Container: "timer"}, Behavior{Exit: &Exit{After: time.Hour}})
	ctx := context.Background()
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	conn, err := dialCRI(rt.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	sb, err := rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("p")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, name := range []string{"slow", "timer"} {
		c, err := rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.GetPodSandboxId(), Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: testImage},
		}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.GetContainerId())
	}
	if _, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ids[1]}); err != nil {
		t.Fatal(err) // its exit timer now runs
	}
	events, err := rs.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	startErr := make(chan error, 1)
	go func() {
		_, err := rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ids[0]})
		startErr <- err
	}()
	time.Sleep(50 * time.Millisecond)

	begin := time.Now()
	var wg sync.WaitGroup
	for range 3 { // Close is idempotent and safe to call concurrently
		wg.Go(func() {
			if err := rt.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v with a slow start and an event stream in flight", d)
	}
	if err := <-startErr; status.Code(err) == codes.OK {
		t.Errorf("StartContainer in flight at Close: %v, want an error", err)
	}
	if _, err := events.Recv(); err == nil {
		t.Errorf("event stream after Close: %v, want it ended", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Close: %v, want it removed", err)
	}
	if err := rt.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	// goleak (TestMain) checks that the exit timer, the handlers and the stream are gone.
}

func TestServe(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "fcri")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "cri.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // not a socket: Start must not remove it
		t.Fatal(err)
	}
	if err := New(Config{SocketPath: sock}).Start(context.Background()); err == nil {
		t.Fatal("Start over a regular file succeeded")
	}
	_ = os.Remove(sock)

	rt := New(Config{SocketPath: sock})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx) }()
	conn, err := dialCRI(rt.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v, err := runtimeapi.NewRuntimeServiceClient(conn).Version(context.Background(), &runtimeapi.VersionRequest{}, grpc.WaitForReady(true))
	if err != nil || v.GetRuntimeName() != RuntimeName || v.GetRuntimeApiVersion() != "v1" {
		t.Errorf("Version: %v %v", v, err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestPodNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PodCIDR: "10.1.2.0/29"}) // .0 network, .1 gateway, .2–.6 pods, .7 broadcast
	var ids []string
	for i := range 5 {
		id, _ := e.runPod(fmt.Sprintf("p%d", i))
		st, err := e.rs.PodSandboxStatus(e.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
		if want := fmt.Sprintf("10.1.2.%d", i+2); err != nil || st.GetStatus().GetNetwork().GetIp() != want {
			t.Errorf("pod %d: %v %v, want IP %s", i, st.GetStatus().GetNetwork(), err, want)
		}
		ids = append(ids, id)
	}
	_, err := e.rs.RunPodSandbox(e.ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("extra")})
	wantStatus(t, "RunPodSandbox with the network full", err, codes.Unknown)
	if _, err := e.rs.StopPodSandbox(e.ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: ids[1]}); err != nil {
		t.Fatal(err)
	}
	id, _ := e.runPod("extra")
	if got := e.rt.Sandboxes(Match{Pod: "extra"}); len(got) != 1 || got[0].ID != id || got[0].IP != "10.1.2.3" {
		t.Errorf("after a stop, the freed address is reused: %+v", got)
	}
}

func TestExitContainerAndFailSandbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	podID, pod := e.runPod("web")
	a, b := e.create(podID, pod, "a"), e.create(podID, pod, "b")
	e.start(a)
	e.start(b)
	if err := e.rt.ExitContainer(a[:10], 1, ""); err != nil {
		t.Fatal(err)
	}
	if st := e.status(a); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetExitCode() != 1 || st.GetReason() != "Error" {
		t.Errorf("after ExitContainer: %v", st)
	}
	if err := e.rt.ExitContainer(a, 0, ""); !errors.Is(err, ErrNotRunning) {
		t.Errorf("ExitContainer of an exited container: %v, want ErrNotRunning", err)
	}
	if err := e.rt.ExitContainer("nope", 0, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("ExitContainer of an unknown container: %v, want ErrNotFound", err)
	}
	if err := e.rt.FailSandbox(podID); err != nil {
		t.Fatal(err)
	}
	st, err := e.rs.PodSandboxStatus(e.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
	if err != nil || st.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("after FailSandbox: %v %v, want NOTREADY", st, err)
	}
	if st := e.status(b); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetExitCode() != 137 {
		t.Errorf("container of a failed sandbox: %v, want killed", st)
	}
	if err := e.rt.FailSandbox("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FailSandbox of an unknown sandbox: %v", err)
	}
}

func TestInspection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	podID, pod := e.runPod("web")
	id := e.create(podID, pod, "app")
	got := e.rt.Containers(Match{Namespace: "default", Pod: "web", Container: "app"})
	if len(got) != 1 {
		t.Fatalf("Containers: %+v", got)
	}
	c := got[0]
	if c.ID != id || c.SandboxID != podID || c.PodUID != "web-uid" || c.State != runtimeapi.ContainerState_CONTAINER_CREATED ||
		c.Image != "busybox:1.36" || !isImageID(c.ImageID) || c.Config.GetArgs()[0] != "--flag" ||
		string(c.Config.GetEnvs()[0].GetValue()) != "1" || c.Config.GetMounts()[0].GetHostPath() != "/var/data" ||
		c.LogPath != filepath.Join(pod.GetLogDirectory(), "app/0.log") {
		t.Errorf("ContainerInfo: %+v", c)
	}
	if got := e.rt.Containers(Match{Pod: "db"}); len(got) != 0 {
		t.Errorf("Containers of another pod: %+v", got)
	}
	sbs := e.rt.Sandboxes(Match{PodUID: "web-uid"})
	if len(sbs) != 1 || sbs[0].ID != podID || sbs[0].IP == "" || sbs[0].HostNetwork || sbs[0].Config.GetLogDirectory() != pod.GetLogDirectory() {
		t.Errorf("Sandboxes: %+v", sbs)
	}
	e.rt.AddImage(Image{Tags: []string{"nginx"}, User: "nginx"})
	imgs := e.rt.Images()
	if len(imgs) != 2 || imgs[0].Tags[0] != testImage || imgs[1].Tags[0] != "docker.io/library/nginx:latest" {
		t.Errorf("Images: %+v", imgs)
	}
	st, _ := e.is.ImageStatus(e.ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nginx"}})
	if st.GetImage().GetUsername() != "nginx" || st.GetImage().GetUid() != nil {
		t.Errorf("image with a user name: %v", st.GetImage())
	}
}

func TestRuntimeInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{SystemdCgroup: true})
	e.rt.SetCondition(runtimeapi.NetworkReady, false, "NetworkPluginNotReady", "cni config uninitialized")
	st, err := e.rs.Status(e.ctx, &runtimeapi.StatusRequest{})
	if err != nil || len(st.GetStatus().GetConditions()) != 2 || st.GetStatus().GetConditions()[1].GetStatus() ||
		st.GetStatus().GetConditions()[1].GetReason() != "NetworkPluginNotReady" {
		t.Errorf("Status: %v %v", st, err)
	}
	rc, err := e.rs.RuntimeConfig(e.ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil || rc.GetLinux().GetCgroupDriver() != runtimeapi.CgroupDriver_SYSTEMD {
		t.Errorf("RuntimeConfig: %v %v", rc, err)
	}
	_, err = e.rs.Exec(e.ctx, &runtimeapi.ExecRequest{ContainerId: "x", Cmd: []string{"sh"}})
	wantStatus(t, "Exec", err, codes.Unimplemented)
	_, err = e.rs.Attach(e.ctx, &runtimeapi.AttachRequest{ContainerId: "x"})
	wantStatus(t, "Attach", err, codes.Unimplemented)
	_, err = e.rs.PortForward(e.ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "x"})
	wantStatus(t, "PortForward", err, codes.Unimplemented)
	_, err = e.rs.CheckpointContainer(e.ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: "x"})
	wantStatus(t, "CheckpointContainer", err, codes.Unimplemented)
}

func TestStatsAndStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.rt.SetBehavior(Match{}, Behavior{MemoryBytes: 1000})
	podID, pod := e.runPod("big")
	var ids []string
	for i := range 150 {
		ids = append(ids, e.create(podID, pod, fmt.Sprintf("c%03d", i)))
	}
	e.start(ids[0])
	stream, err := e.rs.StreamContainers(e.ctx, &runtimeapi.StreamContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	seen, chunks := map[string]bool{}, 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		for _, c := range resp.GetContainers() {
			if seen[c.GetId()] {
				t.Errorf("container %s sent twice", c.GetId())
			}
			seen[c.GetId()] = true
		}
	}
	if len(seen) != 150 || chunks != 2 {
		t.Errorf("StreamContainers: %d containers in %d responses, want 150 in 2", len(seen), chunks)
	}
	ps, err := e.rs.PodSandboxStats(e.ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: podID})
	if err != nil || len(ps.GetStats().GetLinux().GetContainers()) != 150 ||
		ps.GetStats().GetLinux().GetMemory().GetWorkingSetBytes().GetValue() != 1000 ||
		ps.GetStats().GetLinux().GetProcess().GetProcessCount().GetValue() != 1 {
		t.Errorf("PodSandboxStats: %v", err)
	}
	cs, err := e.rs.ContainerStats(e.ctx, &runtimeapi.ContainerStatsRequest{ContainerId: ids[1]})
	if err != nil || cs.GetStats().GetCpu() != nil || cs.GetStats().GetWritableLayer() == nil {
		t.Errorf("ContainerStats of a created container: %v %v, want the writable layer only", cs, err)
	}
}

// TestConcurrentPods runs many pod lifecycles in parallel (run with -race).
func TestConcurrentPods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.rt.SetBehavior(Match{Container: "job"}, Behavior{Exit: &Exit{After: time.Millisecond}})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			name := fmt.Sprintf("pod-%d", i)
			sb, err := e.rs.RunPodSandbox(e.ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(name)})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			for _, c := range []string{"app", "job"} {
				cr, err := e.rs.CreateContainer(e.ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.GetPodSandboxId(), Config: &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: c}, Image: &runtimeapi.ImageSpec{Image: testImage},
				}})
				if err == nil {
					_, err = e.rs.StartContainer(e.ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.GetContainerId()})
				}
				if err != nil {
					t.Errorf("%s/%s: %v", name, c, err)
				}
			}
			_, _ = e.rs.ListContainers(e.ctx, &runtimeapi.ListContainersRequest{})
			if _, err := e.rs.RemovePodSandbox(e.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.GetPodSandboxId()}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	wg.Wait()
	if n := e.rt.CallCount("StartContainer", Match{Container: "job"}); n != 40 {
		t.Errorf("StartContainer of the jobs: %d calls, want 40", n)
	}
	if got := e.rt.Containers(Match{}); len(got) != 0 {
		t.Errorf("%d containers left", len(got))
	}
}
