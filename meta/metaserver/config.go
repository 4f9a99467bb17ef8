package metaserver

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/edgehive/edgehive/meta"
)

// ErrInvalidConfig is returned for a Config that cannot work.
var ErrInvalidConfig = errors.New("metaserver: invalid config")

// Defaults for Config fields left zero.
const (
	// DefaultAddr is KubeEdge's MetaServer address.
	DefaultAddr = "127.0.0.1:10550"
	// DefaultMaxWatchTimeout bounds one watch; clients reconnect from their last resourceVersion.
	DefaultMaxWatchTimeout = 30 * time.Minute
	// DefaultShutdownTimeout bounds how long Close waits for requests in progress.
	DefaultShutdownTimeout = 5 * time.Second
)

// Config configures a Server. Only Store is required.
type Config struct {
	// Store is what the server reads. The server never writes to it and does not close it.
	Store meta.Store
	// Addr is the listening address (default DefaultAddr; port 0 picks a free port). The host must be a
	// loopback address: the server has no authentication.
	Addr string
	// MaxWatchTimeout bounds one watch request (default DefaultMaxWatchTimeout); a client's smaller
	// timeoutSeconds wins.
	MaxWatchTimeout time.Duration
	// ShutdownTimeout bounds the wait for requests in progress at Close (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	if c.Store == nil {
		return fmt.Errorf("%w: Store is nil", ErrInvalidConfig)
	}
	if c.MaxWatchTimeout < 0 || c.ShutdownTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	if c.Addr != "" {
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fmt.Errorf("%w: Addr %q: %w", ErrInvalidConfig, c.Addr, err)
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%w: Addr %q: the host must be a loopback address (the server has no authentication)", ErrInvalidConfig, c.Addr)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxWatchTimeout == 0 {
		c.MaxWatchTimeout = DefaultMaxWatchTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}
