package fakecri

import (
	"context"
	"fmt"
	"maps"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeNanoCores is the CPU a running container uses in the stats: 1% of a core.
const fakeNanoCores = 10_000_000

// containerStatsLocked reports a container's writable layer and, while it runs, CPU at 1% of a core
// since its start and its scripted memory.
func (r *Runtime) containerStatsLocked(c *container) *runtimeapi.ContainerStats {
	now := r.now()
	st := &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{
			Id:          c.id,
			Metadata:    proto.Clone(c.config.GetMetadata()).(*runtimeapi.ContainerMetadata),
			Labels:      maps.Clone(c.config.GetLabels()),
			Annotations: maps.Clone(c.config.GetAnnotations()),
		},
		WritableLayer: &runtimeapi.FilesystemUsage{
			Timestamp:  now.UnixNano(),
			FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: r.cfg.ImageFsMountpoint},
			UsedBytes:  &runtimeapi.UInt64Value{},
			InodesUsed: &runtimeapi.UInt64Value{},
		},
	}
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		ran := max(now.Sub(c.startedAt), 0)
		st.Cpu = &runtimeapi.CpuUsage{
			Timestamp:            now.UnixNano(),
			UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: uint64(ran.Nanoseconds()) / 100},
			UsageNanoCores:       &runtimeapi.UInt64Value{Value: fakeNanoCores},
		}
		st.Memory = &runtimeapi.MemoryUsage{
			Timestamp:       now.UnixNano(),
			WorkingSetBytes: &runtimeapi.UInt64Value{Value: c.memory},
			UsageBytes:      &runtimeapi.UInt64Value{Value: c.memory},
			RssBytes:        &runtimeapi.UInt64Value{Value: c.memory / 2},
			AvailableBytes:  &runtimeapi.UInt64Value{},
			PageFaults:      &runtimeapi.UInt64Value{},
			MajorPageFaults: &runtimeapi.UInt64Value{},
		}
	}
	return st
}

// ContainerStats returns the stats of one container (of any state, unlike containerd, which fails for
// a container that does not run).
func (s *runtimeService) ContainerStats(_ context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findContainerLocked(req.GetContainerId(), "failed to find container")
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatsResponse{Stats: r.containerStatsLocked(c)}, nil
}

func (s *runtimeService) listContainerStats(f *runtimeapi.ContainerStatsFilter) []*runtimeapi.ContainerStats {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.ContainerStats
	for _, c := range r.listContainersLocked(f, nil) {
		out = append(out, r.containerStatsLocked(c))
	}
	return out
}

// ListContainerStats returns the stats of the containers that pass the filter, of any state (as
// containerd does).
func (s *runtimeService) ListContainerStats(_ context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	return &runtimeapi.ListContainerStatsResponse{Stats: s.listContainerStats(req.GetFilter())}, nil
}

// StreamContainerStats sends what ListContainerStats returns, in chunks.
func (s *runtimeService) StreamContainerStats(req *runtimeapi.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainerStatsResponse]) error {
	return sendChunks(stream, s.listContainerStats(req.GetFilter()), func(items []*runtimeapi.ContainerStats) *runtimeapi.StreamContainerStatsResponse {
		return &runtimeapi.StreamContainerStatsResponse{ContainerStats: items}
	})
}

// podStatsLocked sums the stats of the sandbox's containers.
func (r *Runtime) podStatsLocked(sb *sandbox) *runtimeapi.PodSandboxStats {
	now := r.now().UnixNano()
	linux := &runtimeapi.LinuxPodSandboxStats{
		Cpu:     &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{}, UsageNanoCores: &runtimeapi.UInt64Value{}},
		Memory:  &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{}, UsageBytes: &runtimeapi.UInt64Value{}},
		Process: &runtimeapi.ProcessUsage{Timestamp: now, ProcessCount: &runtimeapi.UInt64Value{}},
	}
	for _, c := range r.sortedContainersLocked() {
		if c.sandboxID != sb.id {
			continue
		}
		cs := r.containerStatsLocked(c)
		linux.Containers = append(linux.Containers, cs)
		if cs.Cpu != nil {
			linux.Cpu.UsageCoreNanoSeconds.Value += cs.Cpu.UsageCoreNanoSeconds.Value
			linux.Cpu.UsageNanoCores.Value += cs.Cpu.UsageNanoCores.Value
			linux.Memory.WorkingSetBytes.Value += cs.Memory.WorkingSetBytes.Value
			linux.Memory.UsageBytes.Value += cs.Memory.UsageBytes.Value
			linux.Process.ProcessCount.Value++
		}
	}
	md := sb.config.GetMetadata()
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{
			Id:          sb.id,
			Metadata:    proto.Clone(md).(*runtimeapi.PodSandboxMetadata),
			Labels:      maps.Clone(sb.config.GetLabels()),
			Annotations: maps.Clone(sb.config.GetAnnotations()),
		},
		Linux: linux,
	}
}

// PodSandboxStats returns the sums of the sandbox's container stats.
func (s *runtimeService) PodSandboxStats(_ context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := resolveID(r.sandboxes, req.GetPodSandboxId())
	if err != nil {
		return nil, lookupStatus(err, fmt.Sprintf("an error occurred when trying to find sandbox %s", req.GetPodSandboxId()))
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: r.podStatsLocked(r.sandboxes[id])}, nil
}

func (s *runtimeService) listPodSandboxStats(f *runtimeapi.PodSandboxStatsFilter) []*runtimeapi.PodSandboxStats {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandboxStats
	for _, sb := range r.listSandboxesLocked(&runtimeapi.PodSandboxFilter{Id: f.GetId(), LabelSelector: f.GetLabelSelector()}) {
		out = append(out, r.podStatsLocked(sb))
	}
	return out
}

// ListPodSandboxStats returns the stats of the sandboxes that pass the filter.
func (s *runtimeService) ListPodSandboxStats(_ context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: s.listPodSandboxStats(req.GetFilter())}, nil
}

// StreamPodSandboxStats sends what ListPodSandboxStats returns, in chunks.
func (s *runtimeService) StreamPodSandboxStats(req *runtimeapi.StreamPodSandboxStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxStatsResponse]) error {
	return sendChunks(stream, s.listPodSandboxStats(req.GetFilter()), func(items []*runtimeapi.PodSandboxStats) *runtimeapi.StreamPodSandboxStatsResponse {
		return &runtimeapi.StreamPodSandboxStatsResponse{PodSandboxStats: items}
	})
}
