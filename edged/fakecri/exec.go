package fakecri

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync returns the scripted result of the command in a running container. A result whose Delay
// exceeds the request's timeout fails with DeadlineExceeded after the timeout, as with containerd.
func (s *runtimeService) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	r := s.r
	r.mu.Lock()
	c, err := r.findContainerLocked(req.GetContainerId(),
		fmt.Sprintf("failed to exec in container: failed to find container %q in store", req.GetContainerId()))
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.mu.Unlock()
		return nil, status.Errorf(codes.Unknown, "failed to exec in container: container is in %s state", c.state)
	}
	subj := r.subjectLocked(c)
	r.mu.Unlock()
	if len(req.GetCmd()) == 0 {
		return nil, status.Error(codes.Unknown, "failed to exec in container: args must not be empty")
	}

	res := r.script.exec(subj, req.GetCmd())
	if timeout := time.Duration(req.GetTimeout()) * time.Second; timeout > 0 && res.Delay > timeout {
		if err := sleep(ctx, timeout); err != nil {
			return nil, toStatus(err, "")
		}
		return nil, status.Errorf(codes.DeadlineExceeded,
			"failed to exec in container: timeout %v exceeded: context deadline exceeded", timeout)
	}
	if err := sleep(ctx, res.Delay); err != nil {
		return nil, toStatus(err, "")
	}
	if res.Err != nil {
		return nil, toStatus(res.Err, "failed to exec in container")
	}
	return &runtimeapi.ExecSyncResponse{Stdout: []byte(res.Stdout), Stderr: []byte(res.Stderr), ExitCode: res.ExitCode}, nil
}

// Version reports RuntimeName, RuntimeVersion and RuntimeAPIVersion.
func (s *runtimeService) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       RuntimeName,
		RuntimeVersion:    RuntimeVersion,
		RuntimeApiVersion: RuntimeAPIVersion,
	}, nil
}

// Status reports the runtime conditions (RuntimeReady and NetworkReady, true unless SetCondition
// changed them).
func (s *runtimeService) Status(context.Context, *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &runtimeapi.RuntimeStatus{}
	for _, c := range r.conditions {
		st.Conditions = append(st.Conditions, proto.Clone(c).(*runtimeapi.RuntimeCondition))
	}
	return &runtimeapi.StatusResponse{Status: st}, nil
}

// SetCondition sets a runtime condition that Status reports (runtimeapi.RuntimeReady,
// runtimeapi.NetworkReady, or another type, which is added).
func (r *Runtime) SetCondition(condition string, ok bool, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &runtimeapi.RuntimeCondition{Type: condition, Status: ok, Reason: reason, Message: message}
	for i, old := range r.conditions {
		if old.GetType() == condition {
			r.conditions[i] = c
			return
		}
	}
	r.conditions = append(r.conditions, c)
}

// UpdateRuntimeConfig accepts the update (kubelet sends the pod CIDR); the fake keeps its own network.
func (s *runtimeService) UpdateRuntimeConfig(context.Context, *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}

// RuntimeConfig reports the cgroup driver: cgroupfs, or systemd with Config.SystemdCgroup.
func (s *runtimeService) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	driver := runtimeapi.CgroupDriver_CGROUPFS
	if s.r.cfg.SystemdCgroup {
		driver = runtimeapi.CgroupDriver_SYSTEMD
	}
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: driver}}, nil
}
