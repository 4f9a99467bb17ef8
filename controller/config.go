package controller

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Defaults for Config fields left zero.
const (
	// DefaultEdgeLabel marks edge nodes, as in KubeEdge. Its value does not matter.
	DefaultEdgeLabel = "node-role.kubernetes.io/edge"
	// DefaultWorkers is the number of goroutines that bring nodes to their desired state.
	DefaultWorkers = 4
	// DefaultResyncPeriod is the informers' resync period: 0, no periodic resync. Changes arrive by
	// watch; a node that reconnects is brought up to date by the hub's resync (Desired).
	DefaultResyncPeriod = time.Duration(0)
	// DefaultLeaseDuration is the leaseDurationSeconds of node leases the controller creates, as a
	// kubelet's (40 s).
	DefaultLeaseDuration = 40 * time.Second
	// DefaultRetryInitial and DefaultRetryMax bound the backoff of a node whose changes Downstream
	// refused.
	DefaultRetryInitial = 50 * time.Millisecond
	DefaultRetryMax     = 30 * time.Second
	// DefaultUpstreamWorkers is the number of goroutines of the beehive module that apply upstream
	// reports (reports of one key always go to the same one, in order).
	DefaultUpstreamWorkers = 4
	// DefaultFieldManager is the field manager of the controller's writes.
	DefaultFieldManager = "edgehive-controller"
)

// Config configures an EdgeController. Zero fields take the Default values.
type Config struct {
	// Client talks to the Kubernetes API server. Required.
	Client kubernetes.Interface
	// Dynamic, if set, turns the device controller on: Devices and DeviceModels
	// (devices.kubeedge.io/v1beta1) are watched and sent to their nodes, and device status reports are
	// written back. Without it devicestatus reports fail with ErrDevicesDisabled.
	Dynamic dynamic.Interface
	// SkipCRDInstall leaves the device CRDs alone; by default Run installs them if absent (crds.Ensure).
	SkipCRDInstall bool
	// Downstream carries changes to the nodes (normally the cloud hub). Required.
	Downstream Downstream

	// EdgeLabel is the label that makes a Node an edge node (default DefaultEdgeLabel).
	EdgeLabel string
	// RegisterTaints are put on Nodes that RegisterNode creates. None by default, as in KubeEdge (whose
	// edge nodes are told apart by their label, and whose workloads select them with a nodeSelector).
	RegisterTaints []corev1.Taint
	// Workers (default DefaultWorkers) and ResyncPeriod (default DefaultResyncPeriod).
	Workers      int
	ResyncPeriod time.Duration
	// LeaseDuration is the duration of node leases the controller creates (default
	// DefaultLeaseDuration), whole seconds.
	LeaseDuration time.Duration
	// RetryInitial and RetryMax: a node whose changes Downstream refused is tried again after
	// RetryInitial, doubling up to RetryMax (defaults DefaultRetryInitial, DefaultRetryMax).
	RetryInitial, RetryMax time.Duration
	// FieldManager names the controller's writes (default DefaultFieldManager).
	FieldManager string
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.EdgeLabel == "" {
		c.EdgeLabel = DefaultEdgeLabel
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = DefaultRetryInitial
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.FieldManager == "" {
		c.FieldManager = DefaultFieldManager
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports a clear error, wrapping ErrInvalidConfig, for settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Client == nil:
		return bad("no Kubernetes client")
	case c.Downstream == nil:
		return bad("no Downstream")
	case c.Workers < 0:
		return bad("workers %d < 0", c.Workers)
	case c.ResyncPeriod < 0, c.RetryInitial < 0, c.RetryMax < 0:
		return bad("negative duration")
	case c.LeaseDuration < 0 || c.LeaseDuration%time.Second != 0:
		return bad("lease duration %v is not a whole, positive number of seconds", c.LeaseDuration)
	case c.RetryMax != 0 && c.RetryInitial > c.RetryMax:
		return bad("retry initial %v > max %v", c.RetryInitial, c.RetryMax)
	}
	if c.EdgeLabel != "" {
		if errs := validation.IsQualifiedName(c.EdgeLabel); len(errs) > 0 {
			return bad("edge label %q: %s", c.EdgeLabel, strings.Join(errs, "; "))
		}
	}
	return nil
}
