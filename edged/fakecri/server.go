package fakecri

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// closeGrace bounds how long Close waits for calls in flight before it cuts the connections.
const closeGrace = 5 * time.Second

// Runtime is a fake CRI runtime: a gRPC server on a unix socket that serves the CRI runtime and image
// services from in-memory state, as scripted. It is safe for concurrent use. Create it with New, serve
// with Start or Serve, stop it with Close.
type Runtime struct {
	cfg    Config
	podNet netip.Prefix

	script script
	calls  callLog
	events eventHub

	// base ends when the Runtime closes: every call's context, delay and event stream derives from it.
	base   context.Context
	cancel context.CancelFunc

	mu         sync.Mutex // guards the state below
	images     map[string]*image
	sandboxes  map[string]*sandbox
	containers map[string]*container
	// sandboxNames and containerNames map the names containerd reserves to the IDs holding them.
	sandboxNames, containerNames map[string]string
	ips                          map[netip.Addr]string // pod IPs in use → sandbox ID
	conditions                   []*runtimeapi.RuntimeCondition

	life   sync.Mutex // guards the lifecycle below; held for the whole of Start and Close
	srv    *grpc.Server
	served chan struct{}
	closed bool
}

// New returns a Runtime with cfg's images and script, not yet serving. A Config that does not
// Validate makes Start fail.
func New(cfg Config) *Runtime {
	cfg = cfg.withDefaults()
	r := &Runtime{
		cfg:            cfg,
		images:         map[string]*image{},
		sandboxes:      map[string]*sandbox{},
		containers:     map[string]*container{},
		sandboxNames:   map[string]string{},
		containerNames: map[string]string{},
		ips:            map[netip.Addr]string{},
		conditions: []*runtimeapi.RuntimeCondition{
			{Type: runtimeapi.RuntimeReady, Status: true},
			{Type: runtimeapi.NetworkReady, Status: true},
		},
	}
	r.base, r.cancel = context.WithCancel(context.Background())
	r.podNet, _ = netip.ParsePrefix(cfg.PodCIDR) // checked by Validate in Start
	r.podNet = r.podNet.Masked()
	r.script.load(cfg.Script)
	r.calls.max = cfg.CallLogSize
	r.calls.hooks = map[string]Hook{}
	for name, h := range cfg.Hooks {
		r.calls.hooks[name] = h
	}
	r.events.buffer = cfg.EventBuffer
	for _, img := range cfg.Images {
		r.addImageLocked(img)
	}
	return r
}

// Start validates the config, listens on the socket and serves in the background until Close. ctx
// bounds the start only. A stale socket file left at SocketPath is replaced.
func (r *Runtime) Start(ctx context.Context) error {
	if err := r.cfg.Validate(); err != nil {
		return err
	}
	if r.cfg.SocketPath == "" {
		return fmt.Errorf("%w: no SocketPath", ErrInvalidConfig)
	}
	r.life.Lock()
	defer r.life.Unlock()
	switch {
	case r.closed:
		return ErrClosed
	case r.srv != nil:
		return ErrStarted
	}
	if fi, err := os.Lstat(r.cfg.SocketPath); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if err := os.Remove(r.cfg.SocketPath); err != nil {
			return fmt.Errorf("fakecri: remove stale socket: %w", err)
		}
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "unix", r.cfg.SocketPath)
	if err != nil {
		return fmt.Errorf("fakecri: listen: %w", err)
	}
	r.srv = grpc.NewServer(grpc.ChainUnaryInterceptor(r.unaryInterceptor), grpc.ChainStreamInterceptor(r.streamInterceptor))
	runtimeapi.RegisterRuntimeServiceServer(r.srv, &runtimeService{r: r})
	runtimeapi.RegisterImageServiceServer(r.srv, &imageService{r: r})
	r.served = make(chan struct{})
	go func(srv *grpc.Server, served chan<- struct{}) {
		defer close(served)
		_ = srv.Serve(lis) // returns when Close stops the server
	}(r.srv, r.served)
	return nil
}

// Serve is Start followed by waiting until ctx ends or Close is called; then it closes the Runtime.
func (r *Runtime) Serve(ctx context.Context) error {
	if err := r.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-r.base.Done():
	}
	return r.Close()
}

// Endpoint returns the CRI endpoint of the Runtime: "unix://" and the socket path.
func (r *Runtime) Endpoint() string { return "unix://" + r.cfg.SocketPath }

// SocketPath returns the path of the Runtime's unix socket.
func (r *Runtime) SocketPath() string { return r.cfg.SocketPath }

// Close stops serving: calls in flight and event streams end (those still running after a grace period
// are cut), timers stop, and the socket is removed. The state is dropped with the Runtime. Close is
// idempotent; a second call waits for the first to finish.
func (r *Runtime) Close() error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()

	r.mu.Lock()
	for _, c := range r.containers {
		c.stopTimer()
	}
	r.mu.Unlock()

	if r.srv == nil {
		return nil
	}
	stopped := make(chan struct{})
	go func() {
		r.srv.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(closeGrace)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		r.srv.Stop()
		<-stopped
	}
	<-r.served
	if err := os.Remove(r.cfg.SocketPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fakecri: remove socket: %w", err)
	}
	return nil
}

// now returns the Runtime's clock reading.
func (r *Runtime) now() time.Time { return r.cfg.Now() }

// sleep waits for d, or until ctx ends (the call's client gave up or the Runtime closed).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runtimeService and imageService are the gRPC faces of a Runtime. They are separate types so that the
// Runtime's own method set stays the Go API for tests.
type runtimeService struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	r *Runtime
}

type imageService struct {
	runtimeapi.UnimplementedImageServiceServer
	r *Runtime
}

// Compile-time checks.
var (
	_ runtimeapi.RuntimeServiceServer = (*runtimeService)(nil)
	_ runtimeapi.ImageServiceServer   = (*imageService)(nil)
)
