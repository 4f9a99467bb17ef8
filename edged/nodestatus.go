package edged

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged/cri"
)

// Defaults for NodeStatusConfig fields left zero.
const (
	// DefaultNodeStatusUpdateInterval is how often the node status is computed and sent when it
	// changed (kubelet's nodeStatusUpdateFrequency).
	DefaultNodeStatusUpdateInterval = 10 * time.Second
	// DefaultNodeStatusReportInterval is how often an unchanged node status is sent anyway (kubelet's
	// nodeStatusReportFrequency).
	DefaultNodeStatusReportInterval = 5 * time.Minute
	// DefaultLeaseDuration is the node lease's leaseDurationSeconds (kubelet's nodeLeaseDurationSeconds).
	DefaultLeaseDuration = 40 * time.Second
	// DefaultMaxPods is the pod capacity reported (kubelet's maxPods).
	DefaultMaxPods = 110
	// DefaultKubeletVersion is the node's status.nodeInfo.kubeletVersion.
	DefaultKubeletVersion = "v1.36.3-edgehive"
	// DefaultMemoryAvailableMin is the MemoryPressure threshold on MemAvailable (kubelet's hard
	// eviction threshold memory.available<100Mi); it is also held back from allocatable memory.
	DefaultMemoryAvailableMin = 100 << 20
	// DefaultDiskAvailableMinPercent is the DiskPressure threshold on the free space of the data dir's
	// filesystem (kubelet's nodefs.available<10%); it is also held back from allocatable
	// ephemeral-storage. DefaultInodesFreeMinPercent is the one on its free inodes (nodefs.inodesFree<5%).
	DefaultDiskAvailableMinPercent = 10
	DefaultInodesFreeMinPercent    = 5
	// DefaultPIDAvailableMinPercent is the PIDPressure threshold: the node is short of process IDs when
	// fewer than this share of the kernel's limit (min of pid_max and threads-max) is left.
	DefaultPIDAvailableMinPercent = 10
	// MaxNodeStatusImages is how many images the status lists at most, largest first (kubelet's
	// nodeStatusMaxImages).
	MaxNodeStatusImages = 50
)

// NodeStatusConfig configures the node status and lease that edged reports (ModuleConfig.NodeStatus), as
// a kubelet does. Every field has a default; NodeName, NodeIP and DataDir default to the manager's.
type NodeStatusConfig struct {
	// NodeName is the node's name (default Config.NodeName; required one way or the other).
	NodeName string
	// NodeIP is the node's InternalIP address (default Config.NodeIP).
	NodeIP string
	// Hostname is the node's Hostname address (default os.Hostname()).
	Hostname string
	// DataDir's filesystem is the node's ephemeral-storage and the one DiskPressure watches (default
	// Config.DataDir).
	DataDir string
	// Root is where /proc, /sys and /etc are read from (default "/"); tests point it at a fake tree.
	Root string

	// UpdateInterval is how often the status is computed; it is sent when it changed
	// (default DefaultNodeStatusUpdateInterval).
	UpdateInterval time.Duration
	// ReportInterval is how often the status is sent even when unchanged
	// (default DefaultNodeStatusReportInterval).
	ReportInterval time.Duration
	// LeaseDuration is the lease's leaseDurationSeconds (default DefaultLeaseDuration).
	LeaseDuration time.Duration
	// LeaseRenewInterval is how often the lease is renewed (default a quarter of LeaseDuration, as
	// kubelet).
	LeaseRenewInterval time.Duration
	// ReportOn are the operations of notices (messages with an empty Resource) on which the module
	// sends the status and renews the lease at once, such as edgehub.OpCloudConnected.
	ReportOn []beehive.Operation

	// MaxPods is the pod capacity (default DefaultMaxPods).
	MaxPods int64
	// Reserved is subtracted from capacity to give allocatable (kubelet's system-reserved and
	// kube-reserved together), besides the eviction thresholds of memory and ephemeral-storage.
	Reserved corev1.ResourceList
	// KubeletVersion is the reported kubelet version (default DefaultKubeletVersion).
	KubeletVersion string
	// MemoryAvailableMin, DiskAvailableMinPercent, InodesFreeMinPercent and PIDAvailableMinPercent are
	// the pressure thresholds (defaults DefaultMemoryAvailableMin, DefaultDiskAvailableMinPercent,
	// DefaultInodesFreeMinPercent, DefaultPIDAvailableMinPercent).
	MemoryAvailableMin      int64
	DiskAvailableMinPercent int
	InodesFreeMinPercent    int
	PIDAvailableMinPercent  int
}

// Validate reports a clear error for settings that cannot work. NodeName may still be empty: the
// module takes the manager's.
func (c NodeStatusConfig) Validate() error {
	switch {
	case c.UpdateInterval < 0 || c.ReportInterval < 0 || c.LeaseDuration < 0 || c.LeaseRenewInterval < 0:
		return fmt.Errorf("%w: negative node status interval", ErrInvalidConfig)
	case c.LeaseDuration != 0 && c.LeaseDuration < time.Second:
		return fmt.Errorf("%w: LeaseDuration %v under a second", ErrInvalidConfig, c.LeaseDuration)
	case c.LeaseRenewInterval != 0 && c.LeaseDuration != 0 && c.LeaseRenewInterval >= c.LeaseDuration:
		return fmt.Errorf("%w: LeaseRenewInterval %v not below LeaseDuration %v", ErrInvalidConfig,
			c.LeaseRenewInterval, c.LeaseDuration)
	case c.MaxPods < 0 || c.MemoryAvailableMin < 0:
		return fmt.Errorf("%w: negative MaxPods or MemoryAvailableMin", ErrInvalidConfig)
	case !percent(c.DiskAvailableMinPercent) || !percent(c.InodesFreeMinPercent) || !percent(c.PIDAvailableMinPercent):
		return fmt.Errorf("%w: a pressure percentage outside 0..100", ErrInvalidConfig)
	}
	return nil
}

func percent(p int) bool { return p >= 0 && p <= 100 }

// withDefaults fills the zero fields, the node's identity from the manager's Config m.
func (c NodeStatusConfig) withDefaults(m Config) NodeStatusConfig {
	if c.NodeName == "" {
		c.NodeName = m.NodeName
	}
	if c.NodeIP == "" {
		c.NodeIP = m.NodeIP
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.DataDir == "" {
		c.DataDir = m.DataDir
	}
	if c.Root == "" {
		c.Root = "/"
	}
	if c.UpdateInterval == 0 {
		c.UpdateInterval = DefaultNodeStatusUpdateInterval
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = max(DefaultNodeStatusReportInterval, c.UpdateInterval)
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = max(DefaultLeaseDuration, 2*c.LeaseRenewInterval)
	}
	if c.LeaseRenewInterval == 0 {
		c.LeaseRenewInterval = c.LeaseDuration / 4
	}
	if c.MaxPods == 0 {
		c.MaxPods = DefaultMaxPods
	}
	if c.KubeletVersion == "" {
		c.KubeletVersion = DefaultKubeletVersion
	}
	if c.MemoryAvailableMin == 0 {
		c.MemoryAvailableMin = DefaultMemoryAvailableMin
	}
	if c.DiskAvailableMinPercent == 0 {
		c.DiskAvailableMinPercent = DefaultDiskAvailableMinPercent
	}
	if c.InodesFreeMinPercent == 0 {
		c.InodesFreeMinPercent = DefaultInodesFreeMinPercent
	}
	if c.PIDAvailableMinPercent == 0 {
		c.PIDAvailableMinPercent = DefaultPIDAvailableMinPercent
	}
	return c
}

// NodeStatusBuilder computes the node's status from the machine and the CRI runtime. It holds no state
// between calls; it is safe for concurrent use.
type NodeStatusBuilder struct {
	cfg NodeStatusConfig
	rt  *cri.Client
}

// NewNodeStatusBuilder returns a builder for the node of cfg (its zero fields defaulted from the
// manager's Config m) on the runtime rt.
func NewNodeStatusBuilder(cfg NodeStatusConfig, m Config, rt *cri.Client) (*NodeStatusBuilder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(m)
	if cfg.NodeName == "" {
		return nil, fmt.Errorf("%w: node status needs a NodeName", ErrInvalidConfig)
	}
	if rt == nil {
		return nil, fmt.Errorf("%w: no CRI client", ErrInvalidConfig)
	}
	return &NodeStatusBuilder{cfg: cfg, rt: rt}, nil
}

// Config returns the builder's settings, defaults filled in.
func (b *NodeStatusBuilder) Config() NodeStatusConfig { return b.cfg }

// Build reads the machine (/proc, /etc, statfs of the data dir) and asks the runtime (Version, Status,
// ListImages) and returns the node's status. What cannot be read is left out, and a runtime that
// does not answer makes the node NotReady; Build itself does not fail. Condition times are left zero:
// the cloud stamps them with its own clock (the edge's may be off), keeping a transition time while
// the condition's status stays the same.
func (b *NodeStatusBuilder) Build(ctx context.Context) corev1.NodeStatus {
	f := nodeFacts{machine: readMachine(b.cfg.Root, b.cfg.DataDir), hostname: b.cfg.Hostname}
	f.runtime = b.runtimeFacts(ctx)
	return buildNodeStatus(b.cfg, f)
}

// runtimeFacts asks the CRI runtime for its version, conditions and images.
func (b *NodeStatusBuilder) runtimeFacts(ctx context.Context) runtimeFacts {
	ctx, cancel := context.WithTimeout(ctx, nodeStatusRuntimeTimeout)
	defer cancel()
	var f runtimeFacts
	v, err := b.rt.Runtime.Version(ctx, &runtimeapi.VersionRequest{Version: cri.APIVersion})
	if err != nil {
		f.err = fmt.Errorf("container runtime is down: %v", grpcMessage(err))
		return f
	}
	f.name, f.version = v.GetRuntimeName(), v.GetRuntimeVersion()
	st, err := b.rt.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		f.err = fmt.Errorf("container runtime status check may not have completed yet: %v", grpcMessage(err))
		return f
	}
	f.conditions = st.GetStatus().GetConditions()
	imgs, err := b.rt.Image.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err == nil {
		f.images = imgs.GetImages()
	}
	return f
}

// nodeStatusRuntimeTimeout bounds the runtime calls of one Build.
const nodeStatusRuntimeTimeout = 10 * time.Second

// nodeFacts is what a node status is made of: the pure input of buildNodeStatus.
type nodeFacts struct {
	machine  machineFacts
	hostname string
	runtime  runtimeFacts
}

// runtimeFacts is what the CRI runtime said.
type runtimeFacts struct {
	err           error // the runtime did not answer Version or Status
	name, version string
	conditions    []*runtimeapi.RuntimeCondition
	images        []*runtimeapi.Image
}

// Condition reasons and messages, kubelet's.
const (
	reasonReady               = "KubeletReady"
	reasonNotReady            = "KubeletNotReady"
	reasonSufficientMemory    = "KubeletHasSufficientMemory"
	reasonInsufficientMemory  = "KubeletHasInsufficientMemory"
	reasonNoDiskPressure      = "KubeletHasNoDiskPressure"
	reasonDiskPressure        = "KubeletHasDiskPressure"
	reasonSufficientPID       = "KubeletHasSufficientPID"
	reasonInsufficientPID     = "KubeletHasInsufficientPID"
	messageReady              = "kubelet is posting ready status"
	messageSufficientMemory   = "kubelet has sufficient memory available"
	messageInsufficientMemory = "kubelet has insufficient memory available"
	messageNoDiskPressure     = "kubelet has no disk pressure"
	messageDiskPressure       = "kubelet has disk pressure"
	messageSufficientPID      = "kubelet has sufficient PID available"
	messageInsufficientPID    = "kubelet has insufficient PID available"
	messageUnknown            = "kubelet cannot read the machine's state"
)

// buildNodeStatus is the node status of facts f under cfg: a pure function.
func buildNodeStatus(cfg NodeStatusConfig, f nodeFacts) corev1.NodeStatus {
	m := f.machine
	capacity := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(cfg.MaxPods, resource.DecimalSI)}
	if m.cpus > 0 {
		capacity[corev1.ResourceCPU] = *resource.NewQuantity(int64(m.cpus), resource.DecimalSI)
	}
	if m.memTotal > 0 {
		capacity[corev1.ResourceMemory] = *resource.NewQuantity(m.memTotal, resource.BinarySI)
	}
	if m.fsTotal > 0 {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(m.fsTotal, resource.BinarySI)
	}
	held := corev1.ResourceList{}
	for k, v := range cfg.Reserved {
		held[k] = v.DeepCopy()
	}
	addHeld(held, corev1.ResourceMemory, cfg.MemoryAvailableMin)
	addHeld(held, corev1.ResourceEphemeralStorage, m.fsTotal*int64(cfg.DiskAvailableMinPercent)/100)
	allocatable := corev1.ResourceList{}
	for k, v := range capacity {
		a := v.DeepCopy()
		if h, ok := held[k]; ok {
			a.Sub(h)
			if a.Sign() < 0 {
				a = *resource.NewQuantity(0, v.Format)
			}
		}
		allocatable[k] = a
	}

	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Conditions: []corev1.NodeCondition{
			readyCondition(f.runtime),
			pressure(corev1.NodeMemoryPressure, m.memKnown, m.memAvailable < cfg.MemoryAvailableMin,
				reasonInsufficientMemory, messageInsufficientMemory, reasonSufficientMemory, messageSufficientMemory),
			pressure(corev1.NodeDiskPressure, m.fsTotal > 0,
				m.fsAvail*100 < m.fsTotal*int64(cfg.DiskAvailableMinPercent) ||
					m.inodesTotal > 0 && m.inodesFree*100 < m.inodesTotal*int64(cfg.InodesFreeMinPercent),
				reasonDiskPressure, messageDiskPressure, reasonNoDiskPressure, messageNoDiskPressure),
			pressure(corev1.NodePIDPressure, m.pidLimit > 0,
				(m.pidLimit-m.pidsUsed)*100 < m.pidLimit*int64(cfg.PIDAvailableMinPercent),
				reasonInsufficientPID, messageInsufficientPID, reasonSufficientPID, messageSufficientPID),
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:      m.machineID,
			SystemUUID:     m.systemUUID,
			BootID:         m.bootID,
			KernelVersion:  m.kernel,
			OSImage:        m.osImage,
			KubeletVersion: cfg.KubeletVersion,
			// The Go runtime's: an edge binary runs on the machine it was built for.
			OperatingSystem: runtime.GOOS,
			Architecture:    runtime.GOARCH,
		},
		Images: nodeImages(f.runtime.images),
	}
	if f.runtime.name != "" {
		st.NodeInfo.ContainerRuntimeVersion = f.runtime.name + "://" + f.runtime.version
	}
	if cfg.NodeIP != "" {
		st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: cfg.NodeIP})
	}
	if f.hostname != "" {
		st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: f.hostname})
	}
	return st
}

func addHeld(held corev1.ResourceList, name corev1.ResourceName, n int64) {
	if n <= 0 {
		return
	}
	q := held[name]
	q.Add(*resource.NewQuantity(n, resource.BinarySI))
	held[name] = q
}

// readyCondition is Ready as kubelet decides it from the runtime: NotReady when the runtime does not
// answer, or reports RuntimeReady or NetworkReady false.
func readyCondition(r runtimeFacts) corev1.NodeCondition {
	c := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: reasonReady, Message: messageReady}
	var problem string
	if r.err != nil {
		problem = r.err.Error()
	} else {
		for _, want := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
			var found *runtimeapi.RuntimeCondition
			for _, rc := range r.conditions {
				if rc.GetType() == want {
					found = rc
				}
			}
			switch {
			case found == nil:
				problem = fmt.Sprintf("container runtime does not report %s", want)
			case !found.GetStatus() && want == runtimeapi.RuntimeReady:
				problem = fmt.Sprintf("container runtime status check: %s=false reason:%s message:%s", want, found.GetReason(), found.GetMessage())
			case !found.GetStatus():
				problem = fmt.Sprintf("container runtime network not ready: %s=false reason:%s message:%s", want, found.GetReason(), found.GetMessage())
			}
			if problem != "" {
				break
			}
		}
	}
	if problem != "" {
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, reasonNotReady, problem
	}
	return c
}

// pressure is a pressure condition: Unknown when the machine could not be read.
func pressure(typ corev1.NodeConditionType, known, under bool, reasonTrue, msgTrue, reasonFalse, msgFalse string) corev1.NodeCondition {
	switch {
	case !known:
		return corev1.NodeCondition{Type: typ, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: messageUnknown}
	case under:
		return corev1.NodeCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reasonTrue, Message: msgTrue}
	}
	return corev1.NodeCondition{Type: typ, Status: corev1.ConditionFalse, Reason: reasonFalse, Message: msgFalse}
}

// nodeImages is the runtime's images as the node lists them: tags and digests as names, largest first,
// at most MaxNodeStatusImages. Images without a name are left out.
func nodeImages(imgs []*runtimeapi.Image) []corev1.ContainerImage {
	out := make([]corev1.ContainerImage, 0, len(imgs))
	for _, img := range imgs {
		names := append(append([]string(nil), img.GetRepoTags()...), img.GetRepoDigests()...)
		if len(names) == 0 {
			continue
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: int64(img.GetSize())})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].SizeBytes != out[j].SizeBytes {
			return out[i].SizeBytes > out[j].SizeBytes
		}
		return out[i].Names[0] < out[j].Names[0]
	})
	if len(out) > MaxNodeStatusImages {
		out = out[:MaxNodeStatusImages]
	}
	return out
}
