package cri_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/edged/cri"
	"github.com/edgehive/edgehive/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sockDir is a short directory for unix sockets (sun_path holds 108 bytes).
func sockDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "cri")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(sockDir(t), "s.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return l, path
}

type oldRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	api string
}

func (r oldRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "old", RuntimeVersion: "0.1", RuntimeApiVersion: r.api}, nil
}

func serveGRPC(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	l, path := listen(t)
	s := grpc.NewServer()
	register(s)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return path
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	stale := filepath.Join(sockDir(t), "stale.sock")
	if l, err := net.Listen("unix", stale); err != nil {
		t.Fatal(err)
	} else {
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
	}

	httpL, httpPath := listen(t)
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	httpDone := make(chan struct{})
	go func() { defer close(httpDone); _ = srv.Serve(httpL) }()
	t.Cleanup(func() { srv.Close(); <-httpDone })

	healthOnly := serveGRPC(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, health.NewServer()) })
	v1alpha := serveGRPC(t, func(s *grpc.Server) { runtimeapi.RegisterRuntimeServiceServer(s, oldRuntime{api: "v1alpha2"}) })
	good := serveGRPC(t, func(s *grpc.Server) { runtimeapi.RegisterRuntimeServiceServer(s, oldRuntime{api: "v1"}) })

	for _, tc := range []struct {
		name     string
		endpoint string
		want     error
	}{
		{"absent socket", "unix:///nonexistent/edgehive/cri.sock", cri.ErrNoRuntime},
		{"stale socket", "unix://" + stale, cri.ErrNoRuntime},
		{"http server", "unix://" + httpPath, cri.ErrUnsupportedAPI},
		{"grpc without CRI", "unix://" + healthOnly, cri.ErrUnsupportedAPI},
		{"CRI v1alpha2", v1alpha, cri.ErrUnsupportedAPI},
		{"tcp endpoint", "tcp://127.0.0.1:1", cri.ErrInvalidConfig},
		{"relative path", "run/cri.sock", cri.ErrInvalidConfig},
		{"CRI v1", "unix://" + good, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cri.Dial(ctx, cri.Config{Endpoint: tc.endpoint, ConnectTimeout: 3 * time.Second})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Dial(%s) = %v, want %v", tc.endpoint, err, tc.want)
			}
			t.Logf("Dial: %v", err)
			if c != nil {
				if c.RuntimeName() != "old" {
					t.Errorf("RuntimeName = %q", c.RuntimeName())
				}
				if err := c.Close(); err != nil {
					t.Error(err)
				}
				_ = c.Close() // twice is fine
			}
		})
	}
}

func TestDialContainerd(t *testing.T) {
	if testing.Short() {
		t.Skip("containerd: -short")
	}
	ctr := testenv.StartContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := cri.Dial(ctx, cri.Config{Endpoint: ctr.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RuntimeName() != "containerd" {
		t.Errorf("RuntimeName = %q", c.RuntimeName())
	}
	st, err := c.Image.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ctr.Image}})
	if err != nil || st.GetImage() == nil {
		t.Fatalf("ImageStatus(%s) = %v, %v", ctr.Image, st, err)
	}
}
