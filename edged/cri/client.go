package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Errors returned by Dial. Compare with errors.Is.
var (
	// ErrNoRuntime: nothing serves the endpoint (the socket is absent or refuses connections).
	ErrNoRuntime = errors.New("cri: no runtime at endpoint")
	// ErrUnsupportedAPI: something answers on the endpoint, but not CRI v1.
	ErrUnsupportedAPI = errors.New("cri: endpoint does not speak CRI v1")
	// ErrInvalidConfig: the Config cannot work.
	ErrInvalidConfig = errors.New("cri: invalid config")
)

// APIVersion is the runtime API version Dial requires.
const APIVersion = "v1"

// Defaults for Config fields left zero.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxMessageSize = 16 << 20 // as kubelet: lists of many containers exceed gRPC's 4 MiB default
)

// Config says where the runtime is.
type Config struct {
	// Endpoint is "unix:///path/to.sock" or an absolute socket path.
	Endpoint string
	// ConnectTimeout bounds Dial's Version check when ctx has no earlier deadline
	// (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// MaxMessageSize bounds received messages, in bytes (default DefaultMaxMessageSize).
	MaxMessageSize int
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	if _, err := socketPath(c.Endpoint); err != nil {
		return err
	}
	if c.ConnectTimeout < 0 || c.MaxMessageSize < 0 {
		return fmt.Errorf("%w: negative timeout or message size", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	return c
}

// socketPath returns the file path of a unix endpoint.
func socketPath(endpoint string) (string, error) {
	p := endpoint
	if strings.Contains(p, "://") {
		scheme, rest, _ := strings.Cut(p, "://")
		if scheme != "unix" {
			return "", fmt.Errorf("%w: endpoint %q: only unix:// is supported", ErrInvalidConfig, endpoint)
		}
		p = rest
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: endpoint %q: want an absolute unix socket path", ErrInvalidConfig, endpoint)
	}
	return p, nil
}

// Client holds one gRPC connection to a CRI runtime and its two services.
type Client struct {
	Runtime runtimeapi.RuntimeServiceClient
	Image   runtimeapi.ImageServiceClient
	// Version is the runtime's answer to Version at Dial.
	Version *runtimeapi.VersionResponse

	conn      *grpc.ClientConn
	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the runtime at cfg.Endpoint and checks that it speaks CRI v1.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	path, _ := socketPath(cfg.Endpoint)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoRuntime, path, err)
	}
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxMessageSize)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoRuntime, path, err)
	}
	c := &Client{
		Runtime: runtimeapi.NewRuntimeServiceClient(conn),
		Image:   runtimeapi.NewImageServiceClient(conn),
		conn:    conn,
	}
	vctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	v, err := c.Runtime.Version(vctx, &runtimeapi.VersionRequest{Version: APIVersion})
	if err != nil {
		_ = conn.Close()
		return nil, classify(ctx, path, err)
	}
	if v.GetRuntimeApiVersion() != APIVersion {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: %s: runtime %s %s reports API %q", ErrUnsupportedAPI, path,
			v.GetRuntimeName(), v.GetRuntimeVersion(), v.GetRuntimeApiVersion())
	}
	c.Version = v
	return c, nil
}

// classify turns a failed Version call into one of the package's errors.
func classify(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cri: %s: version: %w", path, ctx.Err())
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unimplemented:
		return fmt.Errorf("%w: %s: %v", ErrUnsupportedAPI, path, st.Message())
	case codes.Unavailable:
		msg := st.Message()
		if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such file") {
			return fmt.Errorf("%w: %s: %v", ErrNoRuntime, path, msg)
		}
		// A connection was made but the peer did not speak HTTP/2 gRPC.
		return fmt.Errorf("%w: %s: %v", ErrUnsupportedAPI, path, msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s: no answer to Version: %v", ErrUnsupportedAPI, path, st.Message())
	}
	return fmt.Errorf("%w: %s: version: %v", ErrUnsupportedAPI, path, err)
}

// RuntimeName returns the runtime's name ("containerd"), used as the scheme of container IDs in pod
// status ("containerd://<id>").
func (c *Client) RuntimeName() string { return c.Version.GetRuntimeName() }

// Close closes the connection. It is safe to call twice.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.conn.Close() })
	return c.closeErr
}
