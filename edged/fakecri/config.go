package fakecri

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Names the runtime reports through Version.
const (
	RuntimeName    = "fakecri"
	RuntimeVersion = "0.1.0"
	// RuntimeAPIVersion is the CRI version the fake serves.
	RuntimeAPIVersion = "v1"
)

// Defaults of Config.
const (
	DefaultPodCIDR           = "10.88.0.0/16" // containerd's default CNI network
	DefaultImageFsMountpoint = "/var/lib/fakecri/images"
	DefaultImageSize         = 1 << 20
	DefaultEventBuffer       = 1000 // containerd's container event channel
	defaultMemoryBytes       = 4 << 20
)

// Errors of the Go API (the gRPC methods return status errors instead).
var (
	ErrInvalidConfig = errors.New("fakecri: invalid config")
	ErrStarted       = errors.New("fakecri: already started")
	ErrClosed        = errors.New("fakecri: closed")
	ErrNotFound      = errors.New("fakecri: not found")
	ErrNotRunning    = errors.New("fakecri: not running")
	// ErrImageNotFound, as PullBehavior.Err, makes PullImage fail with codes.NotFound and containerd's
	// message for an image the registry does not have.
	ErrImageNotFound = errors.New("fakecri: image not found")
)

// Hook runs before the handler of a gRPC method. Returning an error fails the call with it (a gRPC
// status error keeps its code, any other error becomes codes.Unknown). ctx ends when the call's client
// gives up or the Runtime closes; a hook that blocks must watch it.
type Hook func(ctx context.Context, call Call) error

// Config configures a Runtime. The zero Config is valid for New; Start needs a SocketPath.
type Config struct {
	// SocketPath is the unix socket the runtime listens on. Start requires it; StartForTest makes one.
	// It must be shorter than 108 bytes (the limit of unix socket addresses).
	SocketPath string
	// Images are present from the start, as if pulled.
	Images []Image
	// PodCIDR is the pod network: a sandbox that does not use the host network gets the next free
	// address after the gateway (the first address after the network's). Default DefaultPodCIDR.
	PodCIDR string
	// SystemdCgroup makes RuntimeConfig report the systemd cgroup driver instead of cgroupfs.
	SystemdCgroup bool
	// ImageFsMountpoint is the mount point ImageFsInfo and the stats report. Default
	// DefaultImageFsMountpoint.
	ImageFsMountpoint string
	// Script is the behaviour from the start; the Set* methods change it at run time.
	Script Script
	// Hooks maps gRPC method names ("StartContainer", "PullImage") to hooks; SetHook changes them at
	// run time.
	Hooks map[string]Hook
	// Now returns the time stamped on sandboxes, containers, log lines and calls. Default time.Now.
	Now func() time.Time
	// CallLogSize is how many calls the call log keeps (the newest); default DefaultCallLogSize.
	CallLogSize int
	// EventBuffer is how many events GetContainerEvents holds per subscriber before it drops new ones.
	// Default DefaultEventBuffer.
	EventBuffer int
}

// Image is an image in the fake's store.
type Image struct {
	// Tags are the image's references; the fake stores them normalised
	// ("busybox:1.36" → "docker.io/library/busybox:1.36").
	Tags []string
	// ID is "sha256:" and 64 hexadecimal characters. Default: derived from the first tag.
	ID string
	// Digests are repo digests ("docker.io/library/busybox@sha256:…").
	Digests []string
	// Size in bytes; default DefaultImageSize.
	Size uint64
	// User is the user of the image's config: a number is reported as the image's UID, a name as its
	// username (kubelet's runAsNonRoot check reads them).
	User string
	// Pinned images are reported as pinned.
	Pinned bool
}

// Validate reports what is wrong with c, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if len(c.SocketPath) >= 108 {
		return fmt.Errorf("%w: socket path %q is %d bytes, unix sockets allow 107", ErrInvalidConfig, c.SocketPath, len(c.SocketPath))
	}
	if c.PodCIDR != "" {
		p, err := netip.ParsePrefix(c.PodCIDR)
		if err != nil {
			return fmt.Errorf("%w: PodCIDR: %v", ErrInvalidConfig, err)
		}
		if p.Addr().BitLen()-p.Bits() < 2 {
			return fmt.Errorf("%w: PodCIDR %s has no room for pods", ErrInvalidConfig, c.PodCIDR)
		}
	}
	for i, img := range c.Images {
		if len(img.Tags) == 0 && img.ID == "" {
			return fmt.Errorf("%w: Images[%d] has neither tags nor ID", ErrInvalidConfig, i)
		}
		if img.ID != "" && !isImageID(img.ID) {
			return fmt.Errorf("%w: Images[%d]: ID %q is not sha256:<64 hex>", ErrInvalidConfig, i, img.ID)
		}
	}
	for name := range c.Hooks {
		if !knownMethod(name) {
			return fmt.Errorf("%w: hook for unknown CRI method %q", ErrInvalidConfig, name)
		}
	}
	if c.EventBuffer < 0 || c.CallLogSize < 0 {
		return fmt.Errorf("%w: negative EventBuffer or CallLogSize", ErrInvalidConfig)
	}
	return nil
}

// withDefaults returns c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.PodCIDR == "" {
		c.PodCIDR = DefaultPodCIDR
	}
	if c.ImageFsMountpoint == "" {
		c.ImageFsMountpoint = DefaultImageFsMountpoint
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.CallLogSize == 0 {
		c.CallLogSize = DefaultCallLogSize
	}
	return c
}

// knownMethod reports whether name is a method of the CRI runtime or image service.
func knownMethod(name string) bool {
	for _, sd := range []*grpc.ServiceDesc{&runtimeapi.RuntimeService_ServiceDesc, &runtimeapi.ImageService_ServiceDesc} {
		for _, m := range sd.Methods {
			if m.MethodName == name {
				return true
			}
		}
		for _, st := range sd.Streams {
			if st.StreamName == name {
				return true
			}
		}
	}
	return false
}

// methodName is the last element of a gRPC full method name: "/runtime.v1.RuntimeService/Version" →
// "Version".
func methodName(fullMethod string) string { return path.Base(fullMethod) }
