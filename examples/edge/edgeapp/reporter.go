package edgeapp

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/edgehub"
)

const (
	reporterName  = "nodestatus"
	reporterGroup = beehive.Group(reporterName)
	// maxPods is the pod capacity reported, kubelet's default.
	maxPods = 110
	// kubeletVersion is what the node reports as its kubelet version.
	kubeletVersion = "v1.36.3-edgehive"
)

// nodeReporter is the module "nodestatus": it registers the node with the cloud and reports the node's
// status and renews its lease every StatusInterval, and again as soon as the link comes up. The
// reports go through the edge hub's durable outbox, coalesced per key, so an edge that was offline
// sends only its newest status when it reconnects.
type nodeReporter struct {
	cfg config
	hub string
	log *slog.Logger
}

func (r *nodeReporter) Name() string         { return reporterName }
func (r *nodeReporter) Group() beehive.Group { return reporterGroup }

// Run implements beehive.Module.
func (r *nodeReporter) Run(ctx context.Context, c *beehive.Context) error {
	if err := r.send(ctx, c, beehive.OpInsert, hub.Key{Kind: hub.KindNode, Name: string(r.cfg.NodeName)}, []byte("{}")); err != nil {
		return nil
	}
	r.report(ctx, c)
	next := time.Now().Add(r.cfg.StatusInterval)
	for {
		rctx, cancel := context.WithDeadline(ctx, next)
		m, err := c.Receive(rctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			if m.Router.Operation == edgehub.OpCloudConnected {
				r.report(ctx, c)
			}
		default: // the interval is over
			r.report(ctx, c)
			next = time.Now().Add(r.cfg.StatusInterval)
		}
	}
}

// report sends the node status and the lease.
func (r *nodeReporter) report(ctx context.Context, c *beehive.Context) {
	st, err := json.Marshal(nodeStatus(r.cfg, time.Now()))
	if err == nil {
		err = r.send(ctx, c, beehive.OpUpdate, hub.Key{Kind: hub.KindNodeStatus, Name: string(r.cfg.NodeName)}, st)
	}
	if err == nil {
		err = r.send(ctx, c, beehive.OpUpdate,
			hub.Key{Namespace: hub.NodeLeaseNamespace, Kind: hub.KindLease, Name: string(r.cfg.NodeName)}, []byte("{}"))
	}
	if err != nil && ctx.Err() == nil {
		r.log.Warn("node status", "err", err)
	}
}

func (r *nodeReporter) send(ctx context.Context, c *beehive.Context, op beehive.Operation, key hub.Key, content []byte) error {
	return c.Send(ctx, r.hub, c.NewMessage(beehive.GroupController, op, key.String(), content))
}

// nodeStatus is the node's status as a kubelet would report it: Ready, its addresses, capacity and
// system info.
func nodeStatus(cfg config, now time.Time) corev1.NodeStatus {
	t := metav1.NewTime(now)
	res := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	host, _ := os.Hostname()
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.NodeIP}}
	if host != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: host})
	}
	return corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "EdgeReady",
			Message: "edgehive edge node is posting ready status", LastHeartbeatTime: t,
		}},
		Addresses:   addrs,
		Capacity:    res,
		Allocatable: res,
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:  kubeletVersion,
			OperatingSystem: runtime.GOOS,
			Architecture:    runtime.GOARCH,
			KernelVersion:   kernelVersion(),
			MachineID:       readTrim("/etc/machine-id"),
		},
	}
}

// memTotal returns the machine's memory in bytes from /proc/meminfo, or 0.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func kernelVersion() string { return readTrim("/proc/sys/kernel/osrelease") }

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
