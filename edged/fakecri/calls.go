package fakecri

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultCallLogSize is how many calls the log keeps by default (CallCounts counts them all).
const DefaultCallLogSize = 10000

// Call is one gRPC call the Runtime served, with what it concerned as far as the fake could tell
// (from the request, the objects it names, and for RunPodSandbox and CreateContainer the response).
type Call struct {
	Method   string        // the CRI method: "StartContainer"
	Time     time.Time     // when the call arrived, on the Runtime's clock
	Duration time.Duration // how long it took, in real time
	Err      error         // nil, or the status error the client got

	SandboxID   string   // the full pod sandbox ID, when the call concerned one
	ContainerID string   // the full container ID, when the call concerned one
	Namespace   string   // the pod's namespace, name and UID (sandbox metadata)
	Pod         string   //
	PodUID      string   //
	Container   string   // the container's metadata name
	Image       string   // the image reference (normalised) the call or its container used
	Cmd         []string // the command of ExecSync

	imageID string
}

// Code returns the gRPC code the call ended with.
func (c Call) Code() codes.Code { return status.Code(c.Err) }

func (c Call) subject() subject {
	return subject{Namespace: c.Namespace, Pod: c.Pod, PodUID: c.PodUID, Container: c.Container, Image: c.Image, ImageID: c.imageID}
}

func (c Call) String() string {
	return fmt.Sprintf("%s pod=%s/%s container=%s image=%s code=%v", c.Method, c.Namespace, c.Pod, c.Container, c.Image, c.Code())
}

// callLog records calls and holds the hooks.
type callLog struct {
	mu     sync.Mutex
	calls  []Call
	max    int
	counts map[string]int
	hooks  map[string]Hook
}

func (l *callLog) record(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	l.counts[c.Method]++
	if l.max > 0 && len(l.calls) >= l.max {
		n := copy(l.calls, l.calls[len(l.calls)-l.max/2:]) // keep the newest half
		clear(l.calls[n:])
		l.calls = l.calls[:n]
	}
	l.calls = append(l.calls, c)
}

func (l *callLog) hook(method string) Hook {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hooks[method]
}

// Calls returns the calls of method ("" for any) that concern what m selects, oldest first, in the
// order they finished. The log keeps the newest DefaultCallLogSize calls.
func (r *Runtime) Calls(method string, m Match) []Call {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	var out []Call
	for _, c := range r.calls.calls {
		if (method == "" || c.Method == method) && m.matches(c.subject()) {
			c.Cmd = slices.Clone(c.Cmd)
			out = append(out, c)
		}
	}
	return out
}

// CallCount returns how many calls of method ("" for any) concern what m selects. Tests use it to
// assert, for example, that StartContainer ran exactly once for a pod:
//
//	rt.CallCount("StartContainer", fakecri.Match{Namespace: "default", Pod: "web"})
func (r *Runtime) CallCount(method string, m Match) int {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	n := 0
	for _, c := range r.calls.calls {
		if (method == "" || c.Method == method) && m.matches(c.subject()) {
			n++
		}
	}
	return n
}

// CallCounts returns how many calls each method served since the start or the last ResetCalls,
// including calls the log no longer holds.
func (r *Runtime) CallCounts() map[string]int {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	out := make(map[string]int, len(r.calls.counts))
	for k, v := range r.calls.counts {
		out[k] = v
	}
	return out
}

// ResetCalls empties the call log and the counters.
func (r *Runtime) ResetCalls() {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	r.calls.calls, r.calls.counts = nil, nil
}

// SetHook sets the hook of a CRI method ("StartContainer"); nil removes it.
func (r *Runtime) SetHook(method string, h Hook) error {
	if !knownMethod(method) {
		return fmt.Errorf("%w: unknown CRI method %q", ErrInvalidConfig, method)
	}
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	if h == nil {
		delete(r.calls.hooks, method)
	} else {
		r.calls.hooks[method] = h
	}
	return nil
}

// callContext derives the context of a call: it ends with the client's, or when the Runtime closes.
func (r *Runtime) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.base, cancel)
	return ctx, func() { stop(); cancel() }
}

func (r *Runtime) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, cancel := r.callContext(ctx)
	defer cancel()
	call := r.describe(methodName(info.FullMethod), req)
	start := time.Now()
	var resp any
	var err error
	if h := r.calls.hook(call.Method); h != nil {
		err = toStatus(h(ctx, call), "")
	}
	if err == nil {
		resp, err = handler(ctx, req)
	}
	if v, ok := resp.(interface{ GetPodSandboxId() string }); ok && call.SandboxID == "" {
		call.SandboxID = v.GetPodSandboxId()
	}
	if v, ok := resp.(interface{ GetContainerId() string }); ok && call.ContainerID == "" {
		call.ContainerID = v.GetContainerId()
	}
	call.Duration, call.Err = time.Since(start), err
	r.calls.record(call)
	return resp, err
}

// callStream gives a stream handler the call's context.
type callStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s callStream) Context() context.Context { return s.ctx }

func (r *Runtime) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := r.callContext(ss.Context())
	defer cancel()
	call := Call{Method: methodName(info.FullMethod), Time: r.now()}
	start := time.Now()
	var err error
	if h := r.calls.hook(call.Method); h != nil {
		err = toStatus(h(ctx, call), "")
	}
	if err == nil {
		err = handler(srv, callStream{ServerStream: ss, ctx: ctx})
	}
	call.Duration, call.Err = time.Since(start), err
	r.calls.record(call)
	return err
}

// describe fills in what a request concerns, from the request and the objects it names.
func (r *Runtime) describe(method string, req any) Call {
	call := Call{Method: method, Time: r.now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch q := req.(type) {
	case *runtimeapi.RunPodSandboxRequest:
		md := q.GetConfig().GetMetadata()
		call.Namespace, call.Pod, call.PodUID = md.GetNamespace(), md.GetName(), md.GetUid()
		return call
	case *runtimeapi.CreateContainerRequest:
		call.Container = q.GetConfig().GetMetadata().GetName()
		call.Image = normalizeRef(q.GetConfig().GetImage().GetImage())
		if img := r.resolveImageLocked(q.GetConfig().GetImage().GetImage()); img != nil {
			call.imageID = img.id
		}
	case *runtimeapi.ExecSyncRequest:
		call.Cmd = slices.Clone(q.GetCmd())
	}
	if v, ok := req.(interface{ GetPodSandboxId() string }); ok && v.GetPodSandboxId() != "" {
		call.SandboxID = v.GetPodSandboxId()
		if id, err := resolveID(r.sandboxes, call.SandboxID); err == nil {
			call.SandboxID = id
			md := r.sandboxes[id].config.GetMetadata()
			call.Namespace, call.Pod, call.PodUID = md.GetNamespace(), md.GetName(), md.GetUid()
		}
	}
	if v, ok := req.(interface{ GetContainerId() string }); ok && v.GetContainerId() != "" {
		call.ContainerID = v.GetContainerId()
		if id, err := resolveID(r.containers, call.ContainerID); err == nil {
			c := r.containers[id]
			s := r.subjectLocked(c)
			call.ContainerID, call.SandboxID = id, c.sandboxID
			call.Namespace, call.Pod, call.PodUID = s.Namespace, s.Pod, s.PodUID
			call.Container, call.Image, call.imageID = s.Container, s.Image, s.ImageID
		}
	}
	if v, ok := req.(interface{ GetImage() *runtimeapi.ImageSpec }); ok {
		call.Image = normalizeRef(v.GetImage().GetImage())
	}
	return call
}
