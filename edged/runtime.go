package edged

import (
	"context"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podRuntime is what the runtime holds for one pod: its sandboxes and containers, newest first.
type podRuntime struct {
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
}

// call runs f with the manager's per-request timeout.
func (m *Manager) call(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RuntimeRequestTimeout)
	defer cancel()
	return f(ctx)
}

// mutate is call for the calls that create or start something: they finish (within the per-request
// timeout) even when ctx is cancelled, so that a manager stopped mid-sync does not leave half-made
// sandboxes or containers behind that its successor would count as failures.
func (m *Manager) mutate(ctx context.Context, f func(ctx context.Context) error) error {
	return m.call(context.WithoutCancel(ctx), f)
}

// listPod lists the sandboxes and containers this manager made for the pod with uid.
func (m *Manager) listPod(ctx context.Context, uid string) (podRuntime, error) {
	sel := map[string]string{LabelPodUID: uid, LabelManagedBy: m.cfg.ManagerID}
	var out podRuntime
	err := m.call(ctx, func(ctx context.Context) error {
		sb, err := m.rt.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
			Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
		if err != nil {
			return err
		}
		cs, err := m.rt.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
			Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
		if err != nil {
			return err
		}
		out.sandboxes, out.containers = sb.GetItems(), cs.GetContainers()
		return nil
	})
	sort.Slice(out.sandboxes, func(i, j int) bool { return out.sandboxes[i].CreatedAt > out.sandboxes[j].CreatedAt })
	sort.Slice(out.containers, func(i, j int) bool { return out.containers[i].CreatedAt > out.containers[j].CreatedAt })
	return out, err
}

// listManaged lists every sandbox and container this manager made.
func (m *Manager) listManaged(ctx context.Context) (podRuntime, error) {
	sel := map[string]string{LabelManagedBy: m.cfg.ManagerID}
	var out podRuntime
	err := m.call(ctx, func(ctx context.Context) error {
		sb, err := m.rt.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
			Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
		if err != nil {
			return err
		}
		cs, err := m.rt.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
			Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
		if err != nil {
			return err
		}
		out.sandboxes, out.containers = sb.GetItems(), cs.GetContainers()
		return nil
	})
	return out, err
}

func (m *Manager) containerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	var st *runtimeapi.ContainerStatus
	err := m.call(ctx, func(ctx context.Context) error {
		resp, err := m.rt.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		st = resp.GetStatus()
		return err
	})
	return st, err
}

// stopContainer stops a container, giving it grace seconds after SIGTERM, and tolerates one that is
// already gone.
func (m *Manager) stopContainer(ctx context.Context, id string, grace int64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second+m.cfg.RuntimeRequestTimeout)
	defer cancel()
	_, err := m.rt.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace})
	if isNotFound(err) {
		return nil
	}
	return err
}

func (m *Manager) removeContainer(ctx context.Context, id string) error {
	return m.call(ctx, func(ctx context.Context) error {
		_, err := m.rt.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
		if isNotFound(err) {
			return nil
		}
		return err
	})
}

// removeSandbox stops and removes a sandbox (and so its containers, forcibly).
func (m *Manager) removeSandbox(ctx context.Context, id string) error {
	return m.call(ctx, func(ctx context.Context) error {
		if _, err := m.rt.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil && !isNotFound(err) {
			return err
		}
		_, err := m.rt.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
		if isNotFound(err) {
			return nil
		}
		return err
	})
}

func isNotFound(err error) bool { return err != nil && status.Code(err) == codes.NotFound }

// grpcMessage is an RPC error's message without the "rpc error: code = ..." prefix.
func grpcMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}
