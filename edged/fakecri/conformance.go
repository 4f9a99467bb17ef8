package fakecri

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ConformanceConfig describes the CRI runtime that RunCRIConformance tests.
type ConformanceConfig struct {
	// Endpoint is the runtime's CRI endpoint: "unix:///run/containerd/containerd.sock".
	Endpoint string
	// Image is a present busybox image: the suite runs sh, echo, true and sleep in it.
	Image string
	// LogDir is a directory for the pods' log directories; the suite creates them below it.
	LogDir string
	// PodCIDR, if set, must contain the IP of a pod on the pod network.
	PodCIDR string
	// PullImage, if set, is a reference the runtime can pull, not present yet, whose image ID is not
	// Image's: the suite pulls it and removes it again. Without it the pull steps are skipped.
	PullImage string
	// MissingImage, if set, is a reference whose registry does not have it: PullImage must fail with
	// codes.NotFound.
	MissingImage string
	// Timeout bounds the whole suite; default 2 minutes.
	Timeout time.Duration
}

// The suite's pods live in this namespace, so that a Match{Namespace: ConformanceNamespace} selects
// them all; ConformanceScript scripts the fake by it.
const ConformanceNamespace = "cri-conformance"

// The suite's containers and the commands it runs; ConformanceScript gives the fake their behaviour.
var (
	conformanceSleeperCmd = []string{"sh", "-c", "echo hello-conformance; echo to-stderr >&2; exec sleep 3600"}
	conformanceExit3Cmd   = []string{"sh", "-c", "echo bye; exit 3"}
	conformanceForeverCmd = []string{"sleep", "3600"}
	conformanceExecOutErr = []string{"sh", "-c", "echo out; echo err >&2; exit 3"}
	conformanceExecEnv    = []string{"sh", "-c", "echo $CONFORMANCE_ENV"}
	conformanceExecSleep  = []string{"sleep", "10"}
)

// ConformanceScript is the Script under which the fake passes RunCRIConformance: the fake runs no
// programs, so the output, exit codes and run times of the suite's programs (which busybox gives on a
// real runtime) are scripted here.
func ConformanceScript() Script {
	ns := Match{Namespace: ConformanceNamespace}
	in := func(container string) Match { return Match{Namespace: ConformanceNamespace, Container: container} }
	return Script{
		Containers: []ContainerRule{
			{Match: in("sleeper"), Behavior: Behavior{Log: []LogLine{
				{Stream: Stdout, Text: "hello-conformance"}, {Stream: Stderr, Text: "to-stderr"},
			}}},
			{Match: in("exit3"), Behavior: Behavior{Log: StdoutLines("bye"), Exit: &Exit{Code: 3}}},
			{Match: in("done"), Behavior: Behavior{Exit: &Exit{}}},
		},
		Exec: []ExecRule{
			{Match: ns, Cmd: conformanceExecOutErr, Result: ExecResult{ExitCode: 3, Stdout: "out\n", Stderr: "err\n"}},
			{Match: ns, Cmd: conformanceExecEnv, Result: ExecResult{Stdout: "from-config\n"}},
			{Match: ns, Cmd: conformanceExecSleep, Result: ExecResult{Delay: 10 * time.Second}},
		},
	}
}

// RunCRIConformance drives the CRI runtime at cfg.Endpoint over gRPC through the lifecycle that edged
// depends on, as subtests: version and status; images (status by name, short name, ID and ID prefix,
// list, filesystem info; pull and remove with PullImage; NotFound with MissingImage); pod sandboxes on
// the pod and the host network (status, duplicate names, list filters); containers (create with
// config, duplicate names, start, CRI log lines, exec with exit codes, output, environment and
// timeout, stats, exits by themselves with exit codes and reasons, list filters, stop, remove, name
// reuse, a second client connection); StopPodSandbox (containers killed, network torn down, no new
// containers, failed start); RemovePodSandbox (containers removed, ready sandboxes too, idempotence);
// and the gRPC codes for unknown IDs. It leaves no sandbox behind. The fake passes it under
// ConformanceScript; containerd passes it as is.
func RunCRIConformance(t *testing.T, cfg ConformanceConfig) {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	conn, err := dialCRI(cfg.Endpoint)
	if err != nil {
		t.Fatalf("dial %s: %v", cfg.Endpoint, err)
	}
	defer conn.Close()
	s := &conformance{
		cfg: cfg, ctx: ctx,
		rt: runtimeapi.NewRuntimeServiceClient(conn), im: runtimeapi.NewImageServiceClient(conn),
		uid: randomSuffix(),
	}
	defer s.cleanup(t)

	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Version", s.version},
		{"Images", s.images},
		{"PullImage", s.pull},
		{"PodSandbox", s.sandboxes},
		{"Container", s.containers},
		{"StopPodSandbox", s.stopSandbox},
		{"RemovePodSandbox", s.removeSandbox},
		{"UnknownIDs", s.unknownIDs},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) {
			t.Fatalf("step %s failed; later steps depend on it", step.name)
		}
	}
}

// dialCRI connects to a CRI endpoint.
func dialCRI(endpoint string) (*grpc.ClientConn, error) {
	return grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// conformance is the state of one run of the suite.
type conformance struct {
	cfg ConformanceConfig
	ctx context.Context
	rt  runtimeapi.RuntimeServiceClient
	im  runtimeapi.ImageServiceClient
	uid string

	imageID string
	web     podUnderTest // on the pod network
	host    podUnderTest // on the host network
	ids     map[string]string
}

type podUnderTest struct {
	id     string
	config *runtimeapi.PodSandboxConfig
}

// cleanup removes every sandbox the suite made, whatever happened.
func (s *conformance) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := s.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"cri-conformance": s.uid}},
	})
	if err != nil {
		t.Errorf("cleanup: ListPodSandbox: %v", err)
		return
	}
	for _, p := range pods.GetItems() {
		if _, err := s.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.GetId()}); err != nil {
			t.Errorf("cleanup: StopPodSandbox %s: %v", p.GetMetadata().GetName(), err)
		}
		if _, err := s.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.GetId()}); err != nil {
			t.Errorf("cleanup: RemovePodSandbox %s: %v", p.GetMetadata().GetName(), err)
		}
	}
}

// podConfig is the config of one of the suite's pods.
func (s *conformance) podConfig(t *testing.T, name string, hostNetwork bool) *runtimeapi.PodSandboxConfig {
	t.Helper()
	logDir := s.cfg.LogDir + "/" + name + "_" + s.uid
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ConformanceNamespace, Uid: name + "-" + s.uid},
		Hostname:     name,
		LogDirectory: logDir,
		Labels:       map[string]string{"cri-conformance": s.uid, "app": name},
		Annotations:  map[string]string{"cri-conformance/note": "pod " + name},
	}
	if hostNetwork {
		// A pod on the host network shares the host's UTS namespace: it may not set a hostname.
		c.Hostname = ""
		c.Linux = &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}}
	}
	return c
}

// containerConfig is the config of one of the suite's containers.
func (s *conformance) containerConfig(name string, cmd []string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: name},
		Image:       &runtimeapi.ImageSpec{Image: s.cfg.Image},
		Command:     cmd,
		Envs:        []*runtimeapi.KeyValue{{Key: "CONFORMANCE_ENV", Value: []byte("from-config")}},
		Labels:      map[string]string{"cri-conformance": s.uid, "name": name},
		Annotations: map[string]string{"cri-conformance/note": "container " + name},
		LogPath:     name + "/0.log",
	}
}

func (s *conformance) create(t *testing.T, pod podUnderTest, config *runtimeapi.ContainerConfig) string {
	t.Helper()
	resp, err := s.rt.CreateContainer(s.ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: pod.id, Config: config, SandboxConfig: pod.config,
	})
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", config.GetMetadata().GetName(), err)
	}
	return resp.GetContainerId()
}

func (s *conformance) start(t *testing.T, id string) {
	t.Helper()
	if _, err := s.rt.StartContainer(s.ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("StartContainer %s: %v", id, err)
	}
}

func (s *conformance) containerStatus(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	st, err := s.rt.ContainerStatus(s.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	return st.GetStatus()
}

func (s *conformance) sandboxStatus(t *testing.T, id string) *runtimeapi.PodSandboxStatus {
	t.Helper()
	st, err := s.rt.PodSandboxStatus(s.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatalf("PodSandboxStatus %s: %v", id, err)
	}
	return st.GetStatus()
}

// waitExited waits until the container is EXITED and returns its status.
func (s *conformance) waitExited(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	var st *runtimeapi.ContainerStatus
	s.eventually(t, "container "+id+" exited", func() error {
		st = s.containerStatus(t, id)
		if st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
			return fmt.Errorf("state %v", st.GetState())
		}
		return nil
	})
	return st
}

// eventually retries cond every 10 ms for up to 20 s.
func (s *conformance) eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || s.ctx.Err() != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantCode fails the test unless err has the gRPC code want.
func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, want)
	}
}

// wantError fails the test unless err is an error.
func wantError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one", what)
	}
}

// criLogLine is one line of a CRI container log.
type criLogLine struct {
	time                 time.Time
	stream, tag, content string
}

// readCRILog reads the complete lines of a CRI log file.
func readCRILog(path string) ([]criLogLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []criLogLine
	for _, raw := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(raw, "\n") {
			break // a line still being written
		}
		f := strings.SplitN(strings.TrimSuffix(raw, "\n"), " ", 4)
		if len(f) != 4 {
			return nil, fmt.Errorf("%s: line %q: want 4 fields", path, raw)
		}
		ts, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", path, raw, err)
		}
		if (f[1] != "stdout" && f[1] != "stderr") || (f[2] != "F" && f[2] != "P") {
			return nil, fmt.Errorf("%s: line %q: bad stream or tag", path, raw)
		}
		out = append(out, criLogLine{time: ts, stream: f[1], tag: f[2], content: f[3]})
	}
	return out, nil
}

// waitLog waits until the log at path holds the full lines want (stream, content), in any order.
func (s *conformance) waitLog(t *testing.T, path string, want ...[2]string) {
	t.Helper()
	s.eventually(t, "log "+path, func() error {
		lines, err := readCRILog(path)
		if err != nil {
			return err
		}
		for _, w := range want {
			if !slices.ContainsFunc(lines, func(l criLogLine) bool {
				return l.stream == w[0] && l.tag == "F" && l.content == w[1]
			}) {
				return fmt.Errorf("no full %s line %q in %v", w[0], w[1], lines)
			}
		}
		return nil
	})
}
