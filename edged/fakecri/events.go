package fakecri

import (
	"sync"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// eventHub fans container events out to the GetContainerEvents streams. Each subscriber has its own
// buffer; when it is full, new events for that subscriber are dropped and counted, as containerd drops
// events when its channel is full.
type eventHub struct {
	mu      sync.Mutex
	buffer  int
	subs    map[chan *runtimeapi.ContainerEventResponse]struct{}
	dropped uint64
}

func (h *eventHub) subscribe() (<-chan *runtimeapi.ContainerEventResponse, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan *runtimeapi.ContainerEventResponse, h.buffer)
	if h.subs == nil {
		h.subs = map[chan *runtimeapi.ContainerEventResponse]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
	}
}

func (h *eventHub) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

func (h *eventHub) publish(ev *runtimeapi.ContainerEventResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			h.dropped++
		}
	}
}

// EventsDropped returns how many container events were dropped because a GetContainerEvents
// subscriber did not keep up.
func (r *Runtime) EventsDropped() uint64 {
	r.events.mu.Lock()
	defer r.events.mu.Unlock()
	return r.events.dropped
}

// emitLocked publishes an event about id (a container, or a sandbox as containerd does with the sandbox
// ID) with the status of sb and of its containers. sb may be nil.
func (r *Runtime) emitLocked(id string, typ runtimeapi.ContainerEventType, sb *sandbox) {
	if !r.events.active() {
		return
	}
	ev := &runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: typ, CreatedAt: r.now().UnixNano()}
	if sb != nil {
		ev.PodSandboxStatus = sb.status()
		for _, c := range r.sortedContainersLocked() {
			if c.sandboxID == sb.id {
				ev.ContainersStatuses = append(ev.ContainersStatuses, r.containerStatusLocked(c))
			}
		}
	}
	r.events.publish(ev)
}

// GetContainerEvents streams container and sandbox lifecycle events (created, started, stopped,
// deleted) from the moment of the call until the client cancels or the Runtime closes.
func (s *runtimeService) GetContainerEvents(_ *runtimeapi.GetEventsRequest, stream grpc.ServerStreamingServer[runtimeapi.ContainerEventResponse]) error {
	ch, unsubscribe := s.r.events.subscribe()
	defer unsubscribe()
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return toStatus(ctx.Err(), "")
		case ev := <-ch:
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}
