package fakecri

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandbox is a pod sandbox in the store.
type sandbox struct {
	id        string
	config    *runtimeapi.PodSandboxConfig
	handler   string
	state     runtimeapi.PodSandboxState
	createdAt time.Time
	ip        netip.Addr // the pod IP while the network is set up; invalid on the host network
	host      bool       // on the host network
	name      string     // the reserved name
}

func (sb *sandbox) subject() subject {
	md := sb.config.GetMetadata()
	return subject{Namespace: md.GetNamespace(), Pod: md.GetName(), PodUID: md.GetUid()}
}

func (sb *sandbox) status() *runtimeapi.PodSandboxStatus {
	opts := proto.Clone(sb.config.GetLinux().GetSecurityContext().GetNamespaceOptions()).(*runtimeapi.NamespaceOption)
	if opts == nil {
		opts = &runtimeapi.NamespaceOption{}
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:             sb.id,
		Metadata:       proto.Clone(sb.config.GetMetadata()).(*runtimeapi.PodSandboxMetadata),
		State:          sb.state,
		CreatedAt:      sb.createdAt.UnixNano(),
		Network:        &runtimeapi.PodSandboxNetworkStatus{},
		Linux:          &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: opts}},
		Labels:         maps.Clone(sb.config.GetLabels()),
		Annotations:    maps.Clone(sb.config.GetAnnotations()),
		RuntimeHandler: sb.handler,
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY && sb.ip.IsValid() {
		st.Network.Ip = sb.ip.String()
	}
	return st
}

func (sb *sandbox) item() *runtimeapi.PodSandbox {
	return &runtimeapi.PodSandbox{
		Id:             sb.id,
		Metadata:       proto.Clone(sb.config.GetMetadata()).(*runtimeapi.PodSandboxMetadata),
		State:          sb.state,
		CreatedAt:      sb.createdAt.UnixNano(),
		Labels:         maps.Clone(sb.config.GetLabels()),
		Annotations:    maps.Clone(sb.config.GetAnnotations()),
		RuntimeHandler: sb.handler,
	}
}

// sandboxName is the name containerd reserves for a sandbox: one sandbox per pod attempt.
func sandboxName(md *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%d", md.GetName(), md.GetNamespace(), md.GetUid(), md.GetAttempt())
}

// allocateIPLocked returns the first free address of the pod network after the gateway.
func (r *Runtime) allocateIPLocked(id string) (netip.Addr, error) {
	a := r.podNet.Addr().Next().Next() // skip the network's address and the gateway
	for ; r.podNet.Contains(a); a = a.Next() {
		if a.Is4() && !r.podNet.Contains(a.Next()) {
			break // the broadcast address
		}
		if _, used := r.ips[a]; !used {
			r.ips[a] = id
			return a, nil
		}
	}
	return netip.Addr{}, status.Errorf(codes.Unknown,
		"failed to setup network for sandbox %q: no IP addresses available in range %s", id, r.podNet)
}

// RunPodSandbox reserves the pod's name, runs the scripted delay or failure, and creates a READY
// sandbox with a pod IP unless it uses the host network.
func (s *runtimeService) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	r := s.r
	config := req.GetConfig()
	md := config.GetMetadata()
	if md == nil {
		return nil, status.Error(codes.Unknown, "sandbox config must include metadata")
	}
	sb := &sandbox{
		id:      newID(),
		config:  proto.Clone(config).(*runtimeapi.PodSandboxConfig),
		handler: req.GetRuntimeHandler(),
		state:   runtimeapi.PodSandboxState_SANDBOX_READY,
		host:    config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE,
		name:    sandboxName(md),
	}
	r.mu.Lock()
	if owner, ok := r.sandboxNames[sb.name]; ok {
		r.mu.Unlock()
		return nil, status.Errorf(codes.Unknown, "failed to reserve sandbox name %q: name %q is reserved for %q", sb.name, sb.name, owner)
	}
	r.sandboxNames[sb.name] = sb.id
	r.mu.Unlock()

	b := r.script.sandbox(sb.subject())
	err := sleep(ctx, b.RunDelay)
	if err == nil && b.RunErr != nil {
		err = b.RunErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		delete(r.sandboxNames, sb.name)
		return nil, toStatus(err, "")
	}
	if !sb.host {
		if sb.ip, err = r.allocateIPLocked(sb.id); err != nil {
			delete(r.sandboxNames, sb.name)
			return nil, err
		}
	}
	sb.createdAt = r.now()
	r.sandboxes[sb.id] = sb
	r.emitLocked(sb.id, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, sb)
	r.emitLocked(sb.id, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT, sb)
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: sb.id}, nil
}

// stopSandboxLocked kills the sandbox's running containers, marks it NOTREADY and releases its IP.
func (r *Runtime) stopSandboxLocked(sb *sandbox) {
	for _, c := range r.containers {
		if c.sandboxID == sb.id && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			r.exitLocked(c, exitKilled, "", "")
		}
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
		sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		r.emitLocked(sb.id, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, sb)
	}
	if sb.ip.IsValid() {
		delete(r.ips, sb.ip)
		sb.ip = netip.Addr{}
	}
}

// StopPodSandbox kills the sandbox's containers (exit code 137, as containerd reports them) and tears
// down its network. Stopping a stopped sandbox is no error; an unknown one is NotFound.
func (s *runtimeService) StopPodSandbox(_ context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := resolveID(r.sandboxes, req.GetPodSandboxId())
	if err != nil {
		return nil, lookupStatus(err, fmt.Sprintf("an error occurred when try to find sandbox %q", req.GetPodSandboxId()))
	}
	r.stopSandboxLocked(r.sandboxes[id])
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox stops the sandbox if needed, removes its containers and then the sandbox, as
// containerd does. An unknown sandbox is no error.
func (s *runtimeService) RemovePodSandbox(_ context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := resolveID(r.sandboxes, req.GetPodSandboxId())
	if errors.Is(err, errNotFound) {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, lookupStatus(err, fmt.Sprintf("an error occurred when try to find sandbox %q", req.GetPodSandboxId()))
	}
	sb := r.sandboxes[id]
	r.stopSandboxLocked(sb)
	for _, c := range r.containers {
		if c.sandboxID == id {
			r.removeContainerLocked(c)
		}
	}
	delete(r.sandboxes, id)
	delete(r.sandboxNames, sb.name)
	r.emitLocked(id, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT, sb)
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

// PodSandboxStatus returns the sandbox's status; its network address only while it is READY.
func (s *runtimeService) PodSandboxStatus(_ context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := resolveID(r.sandboxes, req.GetPodSandboxId())
	if err != nil {
		return nil, lookupStatus(err, "an error occurred when try to find sandbox")
	}
	sb := r.sandboxes[id]
	resp := &runtimeapi.PodSandboxStatusResponse{Status: sb.status(), Timestamp: r.now().UnixNano()}
	for _, c := range r.sortedContainersLocked() {
		if c.sandboxID == id {
			resp.ContainersStatuses = append(resp.ContainersStatuses, r.containerStatusLocked(c))
		}
	}
	return resp, nil
}

func (r *Runtime) listSandboxesLocked(f *runtimeapi.PodSandboxFilter) []*sandbox {
	var ids []string
	if f.GetId() != "" {
		id, err := resolveID(r.sandboxes, f.GetId())
		if err != nil {
			return nil
		}
		ids = []string{id}
	} else {
		ids = slices.Collect(maps.Keys(r.sandboxes))
	}
	var out []*sandbox
	for _, id := range ids {
		sb := r.sandboxes[id]
		if f.GetState() != nil && f.GetState().GetState() != sb.state {
			continue
		}
		if !labelsMatch(f.GetLabelSelector(), sb.config.GetLabels()) {
			continue
		}
		out = append(out, sb)
	}
	slices.SortFunc(out, func(a, b *sandbox) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.id, b.id))
	})
	return out
}

// labelsMatch reports whether labels has every key of selector with the same value.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

func (s *runtimeService) listPodSandbox(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var items []*runtimeapi.PodSandbox
	for _, sb := range r.listSandboxesLocked(f) {
		items = append(items, sb.item())
	}
	return items
}

// ListPodSandbox lists the sandboxes that pass the filter (ID or unique ID prefix, state, labels),
// oldest first.
func (s *runtimeService) ListPodSandbox(_ context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: s.listPodSandbox(req.GetFilter())}, nil
}

// StreamPodSandboxes sends what ListPodSandbox returns, in chunks.
func (s *runtimeService) StreamPodSandboxes(req *runtimeapi.StreamPodSandboxesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxesResponse]) error {
	return sendChunks(stream, s.listPodSandbox(req.GetFilter()), func(items []*runtimeapi.PodSandbox) *runtimeapi.StreamPodSandboxesResponse {
		return &runtimeapi.StreamPodSandboxesResponse{PodSandboxes: items}
	})
}

// UpdatePodSandboxResources accepts the update of a known sandbox.
func (s *runtimeService) UpdatePodSandboxResources(_ context.Context, req *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := resolveID(r.sandboxes, req.GetPodSandboxId()); err != nil {
		return nil, lookupStatus(err, fmt.Sprintf("an error occurred when try to find sandbox %q", req.GetPodSandboxId()))
	}
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}
