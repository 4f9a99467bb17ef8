package fakecri

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerInfo is a test's view of a container in the fake, with the configuration CreateContainer
// received.
type ContainerInfo struct {
	ID, SandboxID          string
	Namespace, Pod, PodUID string // the pod sandbox's metadata
	Name                   string // the container's metadata name
	Attempt                uint32
	Image                  string // as CreateContainer named it
	ImageID                string
	State                  runtimeapi.ContainerState
	ExitCode               int32
	Reason, Message        string
	CreatedAt              time.Time
	StartedAt, FinishedAt  time.Time // zero until started, finished
	LogPath                string
	// Config is a copy of the CreateContainer request's config: command, args, env, mounts, labels,
	// annotations, log path, resources (as updated by UpdateContainerResources).
	Config *runtimeapi.ContainerConfig
}

// SandboxInfo is a test's view of a pod sandbox in the fake.
type SandboxInfo struct {
	ID                     string
	Namespace, Pod, PodUID string
	Attempt                uint32
	State                  runtimeapi.PodSandboxState
	IP                     string // the pod IP while READY on the pod network
	HostNetwork            bool
	RuntimeHandler         string
	CreatedAt              time.Time
	Config                 *runtimeapi.PodSandboxConfig // a copy of RunPodSandbox's config
}

// Containers returns the containers that m selects, oldest first.
func (r *Runtime) Containers(m Match) []ContainerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ContainerInfo
	for _, c := range r.sortedContainersLocked() {
		s := r.subjectLocked(c)
		if !m.matches(s) {
			continue
		}
		out = append(out, ContainerInfo{
			ID: c.id, SandboxID: c.sandboxID, Namespace: s.Namespace, Pod: s.Pod, PodUID: s.PodUID,
			Name: s.Container, Attempt: c.config.GetMetadata().GetAttempt(), Image: c.imageRef, ImageID: c.imageID,
			State: c.state, ExitCode: c.exitCode, Reason: c.reason, Message: c.message,
			CreatedAt: c.createdAt, StartedAt: c.startedAt, FinishedAt: c.finishedAt, LogPath: c.logPath,
			Config: proto.Clone(c.config).(*runtimeapi.ContainerConfig),
		})
	}
	return out
}

// Sandboxes returns the pod sandboxes that m selects (its Container and Image are ignored), oldest
// first.
func (r *Runtime) Sandboxes(m Match) []SandboxInfo {
	m.Container, m.Image = "", ""
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SandboxInfo
	for _, sb := range r.listSandboxesLocked(nil) {
		s := sb.subject()
		if !m.matches(s) {
			continue
		}
		info := SandboxInfo{
			ID: sb.id, Namespace: s.Namespace, Pod: s.Pod, PodUID: s.PodUID,
			Attempt: sb.config.GetMetadata().GetAttempt(), State: sb.state, HostNetwork: sb.host,
			RuntimeHandler: sb.handler, CreatedAt: sb.createdAt,
			Config: proto.Clone(sb.config).(*runtimeapi.PodSandboxConfig),
		}
		if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY && sb.ip.IsValid() {
			info.IP = sb.ip.String()
		}
		out = append(out, info)
	}
	return out
}

// ExitContainer makes a running container exit now with code (a crash, an OOM kill with reason
// "OOMKilled"); an empty reason is "Completed" for code 0 and "Error" otherwise. id may be a unique
// prefix.
func (r *Runtime) ExitContainer(id string, code int32, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	full, err := resolveID(r.containers, id)
	if err != nil {
		return fmt.Errorf("%w: container %q: %v", ErrNotFound, id, err)
	}
	c := r.containers[full]
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("%w: container %s is %s", ErrNotRunning, full, c.state)
	}
	r.exitLocked(c, code, reason, "")
	return nil
}

// FailSandbox makes a sandbox die as when its pause process exits: it becomes NOTREADY and its running
// containers are killed (exit code 137). Its network stays set up until StopPodSandbox.
func (r *Runtime) FailSandbox(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	full, err := resolveID(r.sandboxes, id)
	if err != nil {
		return fmt.Errorf("%w: sandbox %q: %v", ErrNotFound, id, err)
	}
	sb := r.sandboxes[full]
	for _, c := range r.containers {
		if c.sandboxID == full && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			r.exitLocked(c, exitKilled, "", "")
		}
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
		sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		r.emitLocked(sb.id, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, sb)
	}
	return nil
}

// WriteLog appends lines to a container's log file, as if it printed them now. The container must
// have a log path; it need not run.
func (r *Runtime) WriteLog(id string, lines ...LogLine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	full, err := resolveID(r.containers, id)
	if err != nil {
		return fmt.Errorf("%w: container %q: %v", ErrNotFound, id, err)
	}
	c := r.containers[full]
	if c.logPath == "" {
		return fmt.Errorf("fakecri: container %s has no log path", full)
	}
	return writeLog(c.logPath, r.now, slices.Clone(lines))
}
