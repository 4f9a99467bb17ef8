package edged

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"
)

// ErrInvalidConfig is returned for a Config or ModuleConfig that cannot work.
var ErrInvalidConfig = errors.New("edged: invalid config")

// Defaults for Config fields left zero.
const (
	// DefaultBackoffInitial and DefaultBackoffMax bound the CrashLoopBackOff delay between restarts of a
	// failing container, as kubelet: 10 s doubling up to 5 min.
	DefaultBackoffInitial = 10 * time.Second
	DefaultBackoffMax     = 5 * time.Minute
	// DefaultImagePullBackoffInitial and DefaultImagePullBackoffMax bound ImagePullBackOff.
	DefaultImagePullBackoffInitial = 10 * time.Second
	DefaultImagePullBackoffMax     = 5 * time.Minute
	// DefaultResyncInterval is how often each pod worker compares the runtime with its pod when
	// nothing else woke it (kubelet's PLEG relists every second; an edge node trades latency for CPU).
	DefaultResyncInterval = 2 * time.Second
	// DefaultRuntimeRequestTimeout bounds each CRI call except image pulls (kubelet: 2 min).
	DefaultRuntimeRequestTimeout = 2 * time.Minute
	// DefaultImagePullTimeout bounds one image pull.
	DefaultImagePullTimeout = 10 * time.Minute
	// DefaultManagerID is the value of LabelManagedBy on what this manager creates.
	DefaultManagerID = "edgehive-edged"
)

// Config is a pod Manager's settings. DataDir is required; every other field has a default.
type Config struct {
	// DataDir holds per-pod directories: configMap, secret, emptyDir and projected volumes
	// (<DataDir>/pods/<uid>/volumes/...). Use the same DataDir across restarts.
	DataDir string
	// LogDir holds the pods' container logs (<LogDir>/<namespace>_<name>_<uid>/<container>/<n>.log).
	// Default: <DataDir>/logs.
	LogDir string
	// NodeName is the node's name, given to pods as spec.nodeName when theirs is empty.
	NodeName string
	// NodeIP is the node's address: status.hostIP, and status.podIP of host-network pods.
	NodeIP string
	// ManagerID labels everything this manager creates (LabelManagedBy); the manager adopts and removes
	// only what carries its ID, so two managers (or a kubelet) can share a runtime. Default
	// DefaultManagerID.
	ManagerID string

	// BackoffInitial and BackoffMax bound the restart back-off of failing containers
	// (defaults DefaultBackoffInitial, DefaultBackoffMax).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// ImagePullBackoffInitial and ImagePullBackoffMax bound the back-off of failed image pulls.
	ImagePullBackoffInitial time.Duration
	ImagePullBackoffMax     time.Duration
	// ResyncInterval is the period of each pod worker's sync (default DefaultResyncInterval).
	ResyncInterval time.Duration
	// RuntimeRequestTimeout bounds each CRI call except pulls (default DefaultRuntimeRequestTimeout).
	RuntimeRequestTimeout time.Duration
	// ImagePullTimeout bounds each image pull (default DefaultImagePullTimeout).
	ImagePullTimeout time.Duration

	// Logger receives what the manager does and what fails. Default: slog.Default().
	Logger *slog.Logger
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	case !filepath.IsAbs(c.DataDir):
		return fmt.Errorf("%w: DataDir %q is not absolute", ErrInvalidConfig, c.DataDir)
	case c.LogDir != "" && !filepath.IsAbs(c.LogDir):
		return fmt.Errorf("%w: LogDir %q is not absolute", ErrInvalidConfig, c.LogDir)
	case c.NodeIP != "" && net.ParseIP(c.NodeIP) == nil:
		return fmt.Errorf("%w: NodeIP %q is not an IP address", ErrInvalidConfig, c.NodeIP)
	case c.BackoffInitial < 0 || c.BackoffMax < 0 || c.ImagePullBackoffInitial < 0 || c.ImagePullBackoffMax < 0:
		return fmt.Errorf("%w: negative back-off", ErrInvalidConfig)
	case c.BackoffMax != 0 && c.BackoffInitial > c.BackoffMax:
		return fmt.Errorf("%w: BackoffInitial %v > BackoffMax %v", ErrInvalidConfig, c.BackoffInitial, c.BackoffMax)
	case c.ImagePullBackoffMax != 0 && c.ImagePullBackoffInitial > c.ImagePullBackoffMax:
		return fmt.Errorf("%w: ImagePullBackoffInitial %v > ImagePullBackoffMax %v", ErrInvalidConfig,
			c.ImagePullBackoffInitial, c.ImagePullBackoffMax)
	case c.ResyncInterval < 0 || c.RuntimeRequestTimeout < 0 || c.ImagePullTimeout < 0:
		return fmt.Errorf("%w: negative interval or timeout", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.LogDir == "" {
		c.LogDir = filepath.Join(c.DataDir, "logs")
	}
	if c.ManagerID == "" {
		c.ManagerID = DefaultManagerID
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = DefaultBackoffInitial
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffInitial)
	}
	if c.ImagePullBackoffInitial == 0 {
		c.ImagePullBackoffInitial = DefaultImagePullBackoffInitial
	}
	if c.ImagePullBackoffMax == 0 {
		c.ImagePullBackoffMax = max(DefaultImagePullBackoffMax, c.ImagePullBackoffInitial)
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = DefaultResyncInterval
	}
	if c.RuntimeRequestTimeout == 0 {
		c.RuntimeRequestTimeout = DefaultRuntimeRequestTimeout
	}
	if c.ImagePullTimeout == 0 {
		c.ImagePullTimeout = DefaultImagePullTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
