package fakecri

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exit codes and reasons as containerd reports them.
const (
	exitKilled      = 137 // 128 + SIGKILL
	exitTerminated  = 143 // 128 + SIGTERM
	exitStartError  = 128
	reasonCompleted = "Completed"
	reasonError     = "Error"
	reasonStartErr  = "StartError"
)

// container is a container in the store.
type container struct {
	id, sandboxID string
	config        *runtimeapi.ContainerConfig
	imageRef      string // the image as CreateContainer named it
	imageID       string
	name          string // the reserved name
	logPath       string

	state                            runtimeapi.ContainerState
	starting                         bool
	createdAt, startedAt, finishedAt time.Time
	exitCode                         int32
	reason, message                  string
	memory                           uint64

	exited chan struct{} // closed when the container reaches EXITED
	timer  *time.Timer   // its scripted exit
}

func (c *container) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// containerName is the name containerd reserves for a container: one per container attempt in a pod.
func containerName(md *runtimeapi.ContainerMetadata, pod *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%s_%d", md.GetName(), pod.GetName(), pod.GetNamespace(), pod.GetUid(), md.GetAttempt())
}

// subjectLocked is what script rules and call queries compare with for c.
func (r *Runtime) subjectLocked(c *container) subject {
	s := subject{Container: c.config.GetMetadata().GetName(), Image: normalizeRef(c.imageRef), ImageID: c.imageID}
	if sb := r.sandboxes[c.sandboxID]; sb != nil {
		ps := sb.subject()
		s.Namespace, s.Pod, s.PodUID = ps.Namespace, ps.Pod, ps.PodUID
	}
	return s
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (r *Runtime) containerStatusLocked(c *container) *runtimeapi.ContainerStatus {
	img := r.images[c.imageID]
	imageRef := c.imageID
	if img != nil {
		imageRef = img.imageRef()
	}
	resources := &runtimeapi.ContainerResources{Linux: &runtimeapi.LinuxContainerResources{}}
	if res := c.config.GetLinux().GetResources(); res != nil {
		resources.Linux = proto.Clone(res).(*runtimeapi.LinuxContainerResources)
	}
	var mounts []*runtimeapi.Mount
	for _, m := range c.config.GetMounts() {
		mounts = append(mounts, proto.Clone(m).(*runtimeapi.Mount))
	}
	return &runtimeapi.ContainerStatus{
		Id:          c.id,
		Metadata:    proto.Clone(c.config.GetMetadata()).(*runtimeapi.ContainerMetadata),
		State:       c.state,
		CreatedAt:   nanos(c.createdAt),
		StartedAt:   nanos(c.startedAt),
		FinishedAt:  nanos(c.finishedAt),
		ExitCode:    c.exitCode,
		Image:       &runtimeapi.ImageSpec{Image: img.displayName(c.imageRef)},
		ImageRef:    imageRef,
		ImageId:     c.imageID,
		Reason:      c.reason,
		Message:     c.message,
		Labels:      maps.Clone(c.config.GetLabels()),
		Annotations: maps.Clone(c.config.GetAnnotations()),
		Mounts:      mounts,
		LogPath:     c.logPath,
		Resources:   resources,
	}
}

func (c *container) item() *runtimeapi.Container {
	return &runtimeapi.Container{
		Id:           c.id,
		PodSandboxId: c.sandboxID,
		Metadata:     proto.Clone(c.config.GetMetadata()).(*runtimeapi.ContainerMetadata),
		Image:        &runtimeapi.ImageSpec{Image: c.imageRef},
		ImageRef:     c.imageID,
		ImageId:      c.imageID,
		State:        c.state,
		CreatedAt:    nanos(c.createdAt),
		Labels:       maps.Clone(c.config.GetLabels()),
		Annotations:  maps.Clone(c.config.GetAnnotations()),
	}
}

func (r *Runtime) sortedContainersLocked() []*container {
	out := slices.Collect(maps.Values(r.containers))
	slices.SortFunc(out, func(a, b *container) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	return out
}

// exitLocked moves a container to EXITED. An empty reason is derived from the code.
func (r *Runtime) exitLocked(c *container, code int32, reason, message string) {
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		return
	}
	if reason == "" {
		reason = reasonError
		if code == 0 {
			reason = reasonCompleted
		}
	}
	c.stopTimer()
	c.state, c.finishedAt, c.exitCode, c.reason, c.message = runtimeapi.ContainerState_CONTAINER_EXITED, r.now(), code, reason, message
	close(c.exited)
	r.emitLocked(c.id, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, r.sandboxes[c.sandboxID])
}

// removeContainerLocked kills a running container and forgets it.
func (r *Runtime) removeContainerLocked(c *container) {
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.exitLocked(c, exitKilled, "", "")
	}
	c.stopTimer()
	delete(r.containers, c.id)
	delete(r.containerNames, c.name)
	r.emitLocked(c.id, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT, r.sandboxes[c.sandboxID])
}

// findContainerLocked resolves an ID or unique prefix; what prefixes the error message.
func (r *Runtime) findContainerLocked(id, what string) (*container, error) {
	full, err := resolveID(r.containers, id)
	if err != nil {
		return nil, lookupStatus(err, what)
	}
	return r.containers[full], nil
}

// CreateContainer checks the sandbox (it must exist and be READY), reserves the container's name,
// resolves the image (it must be present) and records a CREATED container. Its log path is the
// request's sandbox config's LogDirectory joined with the container's LogPath, as with containerd.
func (s *runtimeService) CreateContainer(_ context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	sid, err := resolveID(r.sandboxes, req.GetPodSandboxId())
	if err != nil {
		return nil, lookupStatus(err, fmt.Sprintf("failed to find sandbox id %q", req.GetPodSandboxId()))
	}
	sb := r.sandboxes[sid]
	if sb.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.NotFound,
			"failed to get sandbox container task: no running task found: task %s not found: not found", sid)
	}
	config := req.GetConfig()
	if config.GetMetadata() == nil {
		return nil, status.Error(codes.Unknown, "container config must include metadata")
	}
	c := &container{
		id:        newID(),
		sandboxID: sid,
		config:    proto.Clone(config).(*runtimeapi.ContainerConfig),
		imageRef:  config.GetImage().GetImage(),
		name:      containerName(config.GetMetadata(), sb.config.GetMetadata()),
		state:     runtimeapi.ContainerState_CONTAINER_CREATED,
		exited:    make(chan struct{}),
	}
	if owner, ok := r.containerNames[c.name]; ok {
		return nil, status.Errorf(codes.Unknown, "failed to reserve container name %q: name %q is reserved for %q", c.name, c.name, owner)
	}
	img := r.resolveImageLocked(c.imageRef)
	if img == nil {
		return nil, status.Errorf(codes.NotFound, "failed to resolve image %q: not found", c.imageRef)
	}
	c.imageID = img.id
	if b := r.script.container(r.subjectLocked(c)); b.CreateErr != nil {
		return nil, toStatus(b.CreateErr, "")
	}
	if dir, p := req.GetSandboxConfig().GetLogDirectory(), config.GetLogPath(); dir != "" && p != "" {
		c.logPath = filepath.Join(dir, p)
	}
	c.createdAt = r.now()
	r.containerNames[c.name] = c.id
	r.containers[c.id] = c
	r.emitLocked(c.id, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, sb)
	return &runtimeapi.CreateContainerResponse{ContainerId: c.id}, nil
}

// failStartLocked records a failed start as containerd does: EXITED, exit code 128, "StartError".
func (r *Runtime) failStartLocked(c *container, err error) {
	c.startedAt = time.Time{}
	r.exitLocked(c, exitStartError, reasonStartErr, err.Error())
}

// StartContainer runs the scripted start: a delay (the container stays CREATED), a failure, or the
// start proper: RUNNING, the scripted log lines written, and the scripted exit scheduled.
func (s *runtimeService) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	r := s.r
	r.mu.Lock()
	c, err := r.findContainerLocked(req.GetContainerId(), fmt.Sprintf("an error occurred when try to find container %q", req.GetContainerId()))
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED || c.starting {
		state := "container is in " + c.state.String() + " state"
		if c.starting {
			state = "container is already in starting state"
		}
		r.mu.Unlock()
		return nil, status.Errorf(codes.Unknown, "failed to set starting state for container %q: %s", c.id, state)
	}
	c.starting = true
	b := r.script.container(r.subjectLocked(c))
	r.mu.Unlock()

	err = sleep(ctx, b.StartDelay)
	// The log file is created without holding the runtime's lock (file creation is slow on some
	// disks, and containerd does not serialize starts either); the container stays "starting"
	// meanwhile, so nothing else starts it.
	var logErr error
	if err == nil && b.StartErr == nil && c.logPath != "" {
		logErr = writeLog(c.logPath, r.now, b.Log)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c.starting = false
	if r.containers[c.id] != c {
		return nil, status.Errorf(codes.NotFound, "container %q was removed while starting: not found", c.id)
	}
	if err != nil {
		return nil, toStatus(err, "")
	}
	if sb := r.sandboxes[c.sandboxID]; sb.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		err := fmt.Errorf("sandbox container %q is not running", sb.id)
		r.failStartLocked(c, err)
		return nil, status.Error(codes.Unknown, err.Error())
	}
	if b.StartErr != nil {
		r.failStartLocked(c, b.StartErr)
		return nil, toStatus(b.StartErr, fmt.Sprintf("failed to start containerd task %q", c.id))
	}
	if logErr != nil {
		err := fmt.Errorf("failed to create container loggers: %w", logErr)
		r.failStartLocked(c, err)
		return nil, status.Error(codes.Unknown, err.Error())
	}
	c.state, c.startedAt = runtimeapi.ContainerState_CONTAINER_RUNNING, r.now()
	c.memory = cmp.Or(b.MemoryBytes, defaultMemoryBytes)
	r.emitLocked(c.id, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT, r.sandboxes[c.sandboxID])
	if ex := b.Exit; ex != nil {
		if ex.After <= 0 {
			r.exitLocked(c, ex.Code, ex.Reason, ex.Message)
		} else {
			exit := *ex
			c.timer = time.AfterFunc(ex.After, func() { r.scriptedExit(c, exit) })
		}
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// scriptedExit ends a container as its script said, unless it stopped meanwhile or the Runtime closed.
func (r *Runtime) scriptedExit(c *container, ex Exit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base.Err() != nil || r.containers[c.id] != c || c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return
	}
	r.exitLocked(c, ex.Code, ex.Reason, ex.Message)
}

// StopContainer sends the fake SIGTERM: the container exits as its Term behaviour says, or is killed at
// the timeout (exit code 137). Timeout 0 kills at once. Stopping a container that does not run is no
// error; an unknown container is NotFound.
func (s *runtimeService) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	r := s.r
	r.mu.Lock()
	c, err := r.findContainerLocked(req.GetContainerId(), fmt.Sprintf("an error occurred when try to find container %q", req.GetContainerId()))
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.mu.Unlock()
		return &runtimeapi.StopContainerResponse{}, nil
	}
	term := r.script.container(r.subjectLocked(c)).Term
	r.mu.Unlock()

	grace := time.Duration(max(req.GetTimeout(), 0)) * time.Second
	wait, code := time.Duration(0), int32(exitTerminated)
	switch {
	case grace == 0:
		code = exitKilled
	case term == nil:
	case term.Ignore || term.After > grace:
		wait, code = grace, exitKilled
	default:
		wait, code = term.After, term.ExitCode
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.exited:
			return &runtimeapi.StopContainerResponse{}, nil
		case <-ctx.Done():
			return nil, toStatus(ctx.Err(), "")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.exitLocked(c, code, "", "")
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// RemoveContainer kills the container if it runs and forgets it. An unknown container is no error.
func (s *runtimeService) RemoveContainer(_ context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := resolveID(r.containers, req.GetContainerId())
	if errors.Is(err, errNotFound) {
		return &runtimeapi.RemoveContainerResponse{}, nil
	}
	if err != nil {
		return nil, lookupStatus(err, fmt.Sprintf("an error occurred when try to find container %q", req.GetContainerId()))
	}
	r.removeContainerLocked(r.containers[id])
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// ContainerStatus returns the container's status.
func (s *runtimeService) ContainerStatus(_ context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findContainerLocked(req.GetContainerId(), fmt.Sprintf("an error occurred when try to find container %q", req.GetContainerId()))
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatusResponse{Status: r.containerStatusLocked(c)}, nil
}

func (r *Runtime) listContainersLocked(f interface {
	GetId() string
	GetPodSandboxId() string
	GetLabelSelector() map[string]string
}, state *runtimeapi.ContainerStateValue) []*container {
	sandboxID := ""
	if f.GetPodSandboxId() != "" {
		id, err := resolveID(r.sandboxes, f.GetPodSandboxId())
		if err != nil {
			return nil
		}
		sandboxID = id
	}
	id := ""
	if f.GetId() != "" {
		full, err := resolveID(r.containers, f.GetId())
		if err != nil {
			return nil
		}
		id = full
	}
	var out []*container
	for _, c := range r.sortedContainersLocked() {
		if (id != "" && c.id != id) || (sandboxID != "" && c.sandboxID != sandboxID) ||
			(state != nil && state.GetState() != c.state) || !labelsMatch(f.GetLabelSelector(), c.config.GetLabels()) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (s *runtimeService) listContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var items []*runtimeapi.Container
	for _, c := range r.listContainersLocked(f, f.GetState()) {
		items = append(items, c.item())
	}
	return items
}

// ListContainers lists the containers that pass the filter (ID or unique prefix, sandbox ID or unique
// prefix, state, labels), oldest first.
func (s *runtimeService) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: s.listContainers(req.GetFilter())}, nil
}

// StreamContainers sends what ListContainers returns, in chunks.
func (s *runtimeService) StreamContainers(req *runtimeapi.StreamContainersRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainersResponse]) error {
	return sendChunks(stream, s.listContainers(req.GetFilter()), func(items []*runtimeapi.Container) *runtimeapi.StreamContainersResponse {
		return &runtimeapi.StreamContainersResponse{Containers: items}
	})
}

// UpdateContainerResources records the new Linux resources, which ContainerStatus then reports.
func (s *runtimeService) UpdateContainerResources(_ context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findContainerLocked(req.GetContainerId(), "failed to find container")
	if err != nil {
		return nil, err
	}
	if req.GetLinux() != nil {
		if c.config.Linux == nil {
			c.config.Linux = &runtimeapi.LinuxContainerConfig{}
		}
		c.config.Linux.Resources = proto.Clone(req.GetLinux()).(*runtimeapi.LinuxContainerResources)
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// ReopenContainerLog succeeds for a running container (the fake opens its log file per write).
func (s *runtimeService) ReopenContainerLog(_ context.Context, req *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findContainerLocked(req.GetContainerId(), fmt.Sprintf("an error occurred when try to find container %q", req.GetContainerId()))
	if err != nil {
		return nil, err
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, status.Errorf(codes.Unknown, "container %q is not running", c.id)
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}
