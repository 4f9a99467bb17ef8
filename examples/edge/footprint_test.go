package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	capi "github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/edged/fakecri"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/testenv"
	"github.com/edgehive/edgehive/twin"
)

// The edge's footprint budgets (DESIGN.md, "Performance budgets"), in MB of 10^6 bytes. Anchor: KubeEdge
// edgecore, "minimum 70 MB" of memory.
const (
	budgetRSSIdle   = 25e6
	budgetRSSLoaded = 40e6
	budgetBinary    = 25e6

	fpPods    = 100
	fpDevices = 1000
	fpNode    = hub.NodeName("footprint")
	fpNS      = "default"
)

// footprint is what one measurement found.
type footprint struct {
	Binary       int64   // stripped binary, bytes
	Idle, Loaded procMem // the child's memory, joined and idle / with the pods and devices
	HeapIdleMB   int64   // live heap after the last GC before the idle reading (gctrace, MiB)
	HeapLoadedMB int64
	Syms         string // the unstripped binary, when asked for
}

// fpOptions tune a measurement.
type fpOptions struct {
	Settle  time.Duration // wait before each reading
	Symbols bool          // also build an unstripped binary
}

// measureFootprint builds examples/edge stripped, starts it as a child process with all its modules
// against a fake CRI runtime (served by this process over a unix socket) and a cloud hub in this
// process, reads its memory once joined, connected and idle, then sends it fpPods pods and fpDevices
// Devices through the cloud hub, waits until it reports the pods Running and a status for every
// device, and reads its memory again. It stops the child with SIGTERM (it must exit 0) and checks that
// its twin store holds every device.
func measureFootprint(t testing.TB, opt fpOptions) footprint {
	t.Helper()
	if runtime.GOOS != "linux" {
		testenv.Missing(t, "the footprint is read from /proc (Linux), not available on %s", runtime.GOOS)
	}
	var fp footprint
	bin, size, syms := buildStripped(t, opt.Symbols)
	fp.Binary, fp.Syms = size, syms

	rt := fakecri.StartForTest(t, fakecri.Config{Images: []fakecri.Image{{Tags: []string{"busybox:1.36"}}}})
	cloud := startCloud(t, fpNode)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "edge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	cmd := exec.Command(bin, "--node-name", string(fpNode), "--data-dir", dataDir, "--token", cloud.token,
		"--cloud", cloud.hubAddr, "--join", cloud.joinAddr, "--cri-endpoint", rt.Endpoint(),
		"--metaserver", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "--node-ip", "127.0.0.1")
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			dumpFile(t, "edge", logPath)
			cloud.dumpLog(t)
		}
	})
	pid := cmd.Process.Pid
	ctx := context.Background()
	wait := func(what string, timeout time.Duration, cond func(context.Context) error) {
		t.Helper()
		err := testenv.Eventually(ctx, timeout, 100*time.Millisecond, func(ctx context.Context) error {
			select {
			case err := <-done:
				exited = true
				return fmt.Errorf("the edge exited: %v", err)
			default:
			}
			return cond(ctx)
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Idle: joined, connected, its node status reported, no pods, no devices.
	wait("the edge joins, connects and reports its node", 60*time.Second, func(context.Context) error {
		if n := cloud.hub.Stats().ConnectedNodes; n != 1 {
			return fmt.Errorf("%d nodes connected", n)
		}
		if node, _, _ := cloud.port.counts(""); !node {
			return errors.New("no node status yet")
		}
		return nil
	})
	time.Sleep(opt.Settle)
	if fp.Idle, err = readProcMem(pid); err != nil {
		t.Fatal(err)
	}
	fp.HeapIdleMB, _ = lastLiveHeap(readFile(t, logPath))

	// Loaded: the pods and devices, through the cloud hub.
	if err := sendLoad(ctx, cloud); err != nil {
		t.Fatal(err)
	}
	wait(fmt.Sprintf("%d pods Running and %d device statuses reported", fpPods, fpDevices), 3*time.Minute, func(context.Context) error {
		_, pods, devices := cloud.port.counts(string(corev1.PodRunning))
		if pods < fpPods || devices < fpDevices {
			return fmt.Errorf("%d pods Running, %d device statuses", pods, devices)
		}
		return nil
	})
	running := 0
	for _, c := range rt.Containers(fakecri.Match{Namespace: fpNS}) {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			running++
		}
	}
	if running != fpPods {
		t.Fatalf("the runtime runs %d containers, want %d", running, fpPods)
	}
	time.Sleep(opt.Settle)
	if fp.Loaded, err = readProcMem(pid); err != nil {
		t.Fatal(err)
	}
	fp.HeapLoadedMB, _ = lastLiveHeap(readFile(t, logPath))

	// A clean stop, then the twins must be in the store.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("the edge after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the edge did not stop within 60 s of SIGTERM")
	}
	store, err := twin.Open(ctx, filepath.Join(dataDir, "twin.db"), twin.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	devs, err := store.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	withDesired := 0
	for _, d := range devs {
		if tw, ok := d.Twin("temperature"); ok && tw.Desired.Value != "" {
			withDesired++
		}
	}
	if len(devs) != fpDevices || withDesired != fpDevices {
		t.Fatalf("twin store: %d devices, %d with a desired temperature; want %d", len(devs), withDesired, fpDevices)
	}
	return fp
}

// childEnv is this process's environment without the Go runtime settings that change the footprint
// (the edge's own defaults are measured), plus gctrace for the live heap.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GODEBUG=gctrace=1")
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendLoad sends a DeviceModel, fpDevices Devices with one twin each, the node's membership and fpPods
// pods to the edge.
func sendLoad(ctx context.Context, cloud *fpCloud) error {
	model := map[string]any{
		"apiVersion": "devices.kubeedge.io/v1beta1", "kind": "DeviceModel",
		"metadata": map[string]any{"name": "thermometer", "namespace": fpNS, "resourceVersion": "1"},
		"spec": map[string]any{"properties": []any{
			map[string]any{"name": "temperature", "type": "INT", "accessMode": "ReadWrite"},
		}},
	}
	if err := cloud.put(ctx, hub.Key{Namespace: fpNS, Kind: hub.KindDeviceModel, Name: "thermometer"}, "1", model); err != nil {
		return err
	}
	members := capi.Membership{Node: string(fpNode)}
	for i := range fpDevices {
		name := fmt.Sprintf("thermometer-%04d", i)
		rv := strconv.Itoa(10 + i)
		dev := map[string]any{
			"apiVersion": "devices.kubeedge.io/v1beta1", "kind": "Device",
			"metadata": map[string]any{"name": name, "namespace": fpNS, "generation": 1, "resourceVersion": rv,
				"uid": fmt.Sprintf("00000000-0000-0000-0001-%012d", i)},
			"spec": map[string]any{
				"deviceModelRef": map[string]any{"name": "thermometer"},
				"nodeName":       string(fpNode),
				"protocol":       map[string]any{"protocolName": "modbus"},
				"properties": []any{map[string]any{
					"name":    "temperature",
					"desired": map[string]any{"value": strconv.Itoa(20 + i%10), "metadata": map[string]any{"type": "int"}},
				}},
			},
		}
		if err := cloud.put(ctx, hub.Key{Namespace: fpNS, Kind: hub.KindDevice, Name: name}, rv, dev); err != nil {
			return err
		}
		members.Devices = append(members.Devices, fpNS+"/"+name)
	}
	if err := cloud.put(ctx, hub.Key{Kind: hub.KindMembership, Name: string(fpNode)}, "m1", members); err != nil {
		return err
	}
	for i := range fpPods {
		pod := fpPod(i)
		if err := cloud.put(ctx, hub.Key{Namespace: fpNS, Kind: hub.KindPod, Name: pod.Name}, pod.ResourceVersion, pod); err != nil {
			return err
		}
	}
	return nil
}

// fpPod is a busybox pod bound to the node, as the API server returns it (with its defaults).
func fpPod(i int) *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("sleeper-%03d", i), Namespace: fpNS, ResourceVersion: strconv.Itoa(5000 + i),
			UID:    types.UID(fmt.Sprintf("00000000-0000-0000-0002-%012d", i)),
			Labels: map[string]string{"app": "sleeper"},
		},
		Spec: corev1.PodSpec{
			NodeName:                      string(fpNode),
			RestartPolicy:                 corev1.RestartPolicyAlways,
			DNSPolicy:                     corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: &grace,
			SchedulerName:                 corev1.DefaultSchedulerName,
			Containers: []corev1.Container{{
				Name:                     "sleep",
				Image:                    "busybox:1.36",
				Command:                  []string{"sh", "-c", "sleep 3600"},
				Env:                      []corev1.EnvVar{{Name: "INDEX", Value: strconv.Itoa(i)}},
				ImagePullPolicy:          corev1.PullIfNotPresent,
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}
}

// TestEdgeFootprint runs the footprint measurement with short settling and checks that it works: the
// edge joins, runs the pods, stores the twins and stops cleanly. It also holds the binary to its budget
// (the size does not depend on the machine's load) and logs the memory figures; the memory budgets are
// the benchmark's to report (BenchmarkEdgeFootprint), since a loaded machine moves them.
func TestEdgeFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the edge and runs it with 100 pods and 1,000 devices (about 30 s)")
	}
	fp := measureFootprint(t, fpOptions{Settle: 2 * time.Second})
	t.Logf("binary %s (budget %s); idle: %v, live heap %d MiB; loaded (%d pods, %d devices): %v, live heap %d MiB",
		fmtMB(fp.Binary), fmtMB(budgetBinary), fp.Idle, fp.HeapIdleMB, fpPods, fpDevices, fp.Loaded, fp.HeapLoadedMB)
	if fp.Binary > budgetBinary {
		t.Errorf("stripped binary %s, over the %s budget", fmtMB(fp.Binary), fmtMB(budgetBinary))
	}
}

// BenchmarkEdgeFootprint reports the edge's footprint against its budgets: binary-MB (go build
// -ldflags='-s -w' ./examples/edge), rss-idle-MB (VmRSS joined and connected, no pods or devices, after
// settling), rss-loaded-MB (with 100 pods on the fake runtime and 1,000 device twins), and heap-idle-MB
// (the live heap after the last GC before the idle reading). One iteration is one whole measurement,
// whatever b.N is. EDGEHIVE_FOOTPRINT_SETTLE changes the settling time (default 5s).
func BenchmarkEdgeFootprint(b *testing.B) {
	settle := 5 * time.Second
	if s := os.Getenv("EDGEHIVE_FOOTPRINT_SETTLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("EDGEHIVE_FOOTPRINT_SETTLE: %v", err)
		}
		settle = d
	}
	var fp footprint
	for b.Loop() {
		fp = measureFootprint(b, fpOptions{Settle: settle, Symbols: true})
	}
	b.ReportMetric(float64(fp.Binary)/1e6, "binary-MB")
	b.ReportMetric(float64(fp.Idle.RSS)/1e6, "rss-idle-MB")
	b.ReportMetric(float64(fp.Loaded.RSS)/1e6, "rss-loaded-MB")
	b.ReportMetric(float64(fp.HeapIdleMB)*(1<<20)/1e6, "heap-idle-MB")
	b.Logf("idle: %v; loaded: %v; live heap idle %d MiB, loaded %d MiB", fp.Idle, fp.Loaded, fp.HeapIdleMB, fp.HeapLoadedMB)
	pkgs, total := sizeByPackage(b, fp.Syms, 3)
	var top bytes.Buffer
	for _, p := range pkgs[:min(15, len(pkgs))] {
		fmt.Fprintf(&top, "\n%9s  %s", fmtMB(p.Size), p.Pkg)
	}
	b.Logf("symbols by package (of %s in symbols):%s", fmtMB(total), top.String())
}
