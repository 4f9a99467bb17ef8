package edged

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRoot writes a machine's /proc, /sys and /etc files under a temporary root.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var machineFiles = map[string]string{
	"proc/meminfo": "MemTotal:        4015000 kB\nMemFree:          100000 kB\nMemAvailable:    2000000 kB\n" +
		"Buffers:           1000 kB\n",
	"proc/loadavg":                   "0.10 0.20 0.30 4/113 27625\n",
	"proc/sys/kernel/pid_max":        "32768\n",
	"proc/sys/kernel/threads-max":    "192686\n",
	"proc/sys/kernel/osrelease":      "6.1.0-28-amd64\n",
	"proc/sys/kernel/random/boot_id": "0b5b6a1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n",
	"sys/devices/system/cpu/online":  "0-3,6\n",
	"sys/class/dmi/id/product_uuid":  "ec2a0c1e-0000-0000-0000-000000000001\n",
	"etc/machine-id":                 "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e\n",
	"etc/os-release":                 "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
}

func TestReadMachine(t *testing.T) {
	data := t.TempDir()
	f := readMachine(fakeRoot(t, machineFiles), data)
	want := machineFacts{cpus: 5, memKnown: true, memTotal: 4015000 * 1024, memAvailable: 2000000 * 1024,
		pidsUsed: 113, pidLimit: 32768, kernel: "6.1.0-28-amd64", osImage: "Debian GNU/Linux 12 (bookworm)",
		machineID: "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", systemUUID: "ec2a0c1e-0000-0000-0000-000000000001",
		bootID: "0b5b6a1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}
	if f.fsTotal <= 0 || f.fsAvail <= 0 || f.fsAvail > f.fsTotal || f.inodesTotal <= 0 {
		t.Errorf("statfs of the data dir: total %d avail %d inodes %d", f.fsTotal, f.fsAvail, f.inodesTotal)
	}
	f.fsTotal, f.fsAvail, f.inodesTotal, f.inodesFree = 0, 0, 0, 0
	if f != want {
		t.Errorf("readMachine =\n%+v\nwant\n%+v", f, want)
	}

	// An empty root: nothing known but the CPUs (from the Go runtime), no verdicts.
	empty := readMachine(t.TempDir(), "")
	if empty.cpus <= 0 || empty.memKnown || empty.pidLimit != 0 || empty.fsTotal != 0 || empty.kernel != "" {
		t.Errorf("readMachine(empty root) = %+v", empty)
	}
}

func TestMachineParsers(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-1": 2, "0-3,6,8-9": 7, "": 0, "x": 0, "3-1": 0} {
		if got := onlineCPUs(in); got != want {
			t.Errorf("onlineCPUs(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int64{"0.1 0.2 0.3 4/113 27625": 113, "0.1 0.2": 0, "a b c d": 0} {
		if got := parseLoadavgThreads(in); got != want {
			t.Errorf("parseLoadavgThreads(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]string{"PRETTY_NAME='Alpine Linux v3.20'": "Alpine Linux v3.20",
		"ID=x\nPRETTY_NAME=Plain": "Plain", "ID=x": "Linux"} {
		if got := osImage([]byte(in)); got != want {
			t.Errorf("osImage(%q) = %q, want %q", in, got, want)
		}
	}
	if _, _, ok := parseMeminfo([]byte("MemTotal: 10 kB\n")); ok {
		t.Error("parseMeminfo without MemAvailable: ok")
	}
}

// healthyFacts is a machine with room everywhere and a ready runtime with two images.
func healthyFacts() nodeFacts {
	return nodeFacts{
		machine: machineFacts{cpus: 2, memKnown: true, memTotal: 4 << 30, memAvailable: 2 << 30,
			fsTotal: 100 << 30, fsAvail: 50 << 30, inodesTotal: 1000, inodesFree: 900, pidsUsed: 200, pidLimit: 32768,
			kernel: "6.1.0", osImage: "Debian", machineID: "m", bootID: "b", systemUUID: "u"},
		hostname: "host-1",
		runtime: runtimeFacts{name: "containerd", version: "v2.0.0",
			conditions: []*runtimeapi.RuntimeCondition{{Type: runtimeapi.RuntimeReady, Status: true}, {Type: runtimeapi.NetworkReady, Status: true}},
			images: []*runtimeapi.Image{
				{Id: "sha256:small", RepoTags: []string{"busybox:1"}, Size: 1 << 20},
				{Id: "sha256:none", Size: 1 << 30}, // no name: left out
				{Id: "sha256:big", RepoTags: []string{"nginx:1"}, RepoDigests: []string{"nginx@sha256:abc"}, Size: 100 << 20},
			}},
	}
}

func TestBuildNodeStatus(t *testing.T) {
	cfg := NodeStatusConfig{NodeName: "edge-1", NodeIP: "192.0.2.10",
		Reserved: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}.withDefaults(Config{})
	st := buildNodeStatus(cfg, healthyFacts())

	qty := func(l corev1.ResourceList, n corev1.ResourceName) string { q := l[n]; return q.String() }
	for _, c := range []struct {
		name            corev1.ResourceName
		capacity, alloc string
	}{
		{corev1.ResourceCPU, "2", "1500m"},
		{corev1.ResourceMemory, "4Gi", "3996Mi"}, // minus the 100Mi eviction threshold
		{corev1.ResourcePods, "110", "110"},
		{corev1.ResourceEphemeralStorage, "100Gi", "90Gi"}, // minus 10 %
	} {
		if got := qty(st.Capacity, c.name); got != c.capacity {
			t.Errorf("capacity %s = %s, want %s", c.name, got, c.capacity)
		}
		if got := qty(st.Allocatable, c.name); got != c.alloc {
			t.Errorf("allocatable %s = %s, want %s", c.name, got, c.alloc)
		}
	}
	wantCond := map[corev1.NodeConditionType]corev1.ConditionStatus{corev1.NodeReady: corev1.ConditionTrue,
		corev1.NodeMemoryPressure: corev1.ConditionFalse, corev1.NodeDiskPressure: corev1.ConditionFalse, corev1.NodePIDPressure: corev1.ConditionFalse}
	if got := conditions(st); !equalConds(got, wantCond) {
		t.Errorf("conditions %v, want %v", got, wantCond)
	}
	if len(st.Addresses) != 2 || st.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}) ||
		st.Addresses[1] != (corev1.NodeAddress{Type: corev1.NodeHostName, Address: "host-1"}) {
		t.Errorf("addresses %v", st.Addresses)
	}
	ni := st.NodeInfo
	if ni.ContainerRuntimeVersion != "containerd://v2.0.0" || ni.KubeletVersion != DefaultKubeletVersion || ni.KernelVersion != "6.1.0" ||
		ni.OSImage != "Debian" || ni.MachineID != "m" || ni.BootID != "b" || ni.SystemUUID != "u" || ni.OperatingSystem == "" || ni.Architecture == "" {
		t.Errorf("nodeInfo %+v", ni)
	}
	if len(st.Images) != 2 || st.Images[0].Names[0] != "nginx:1" || len(st.Images[0].Names) != 2 || st.Images[0].SizeBytes != 100<<20 ||
		st.Images[1].Names[0] != "busybox:1" {
		t.Errorf("images %+v, want nginx then busybox", st.Images)
	}
	for _, c := range st.Conditions {
		if !c.LastHeartbeatTime.IsZero() || !c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s has times: the cloud stamps them", c.Type)
		}
	}
}

func TestNodeConditions(t *testing.T) {
	cfg := NodeStatusConfig{NodeName: "n"}.withDefaults(Config{})
	type want = map[corev1.NodeConditionType]corev1.ConditionStatus
	const T, F, U = corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown
	for _, tc := range []struct {
		name   string
		change func(*nodeFacts)
		want   want
	}{
		{"healthy", func(*nodeFacts) {}, want{"Ready": T, "MemoryPressure": F, "DiskPressure": F, "PIDPressure": F}},
		{"runtime down", func(f *nodeFacts) { f.runtime = runtimeFacts{err: errors.New("container runtime is down")} },
			want{"Ready": F, "MemoryPressure": F, "DiskPressure": F, "PIDPressure": F}},
		{"runtime not ready", func(f *nodeFacts) { f.runtime.conditions[0].Status = false },
			want{"Ready": F, "MemoryPressure": F, "DiskPressure": F, "PIDPressure": F}},
		{"network not ready", func(f *nodeFacts) { f.runtime.conditions[1].Status = false },
			want{"Ready": F, "MemoryPressure": F, "DiskPressure": F, "PIDPressure": F}},
		{"no network condition", func(f *nodeFacts) { f.runtime.conditions = f.runtime.conditions[:1] },
			want{"Ready": F, "MemoryPressure": F, "DiskPressure": F, "PIDPressure": F}},
		{"memory short", func(f *nodeFacts) { f.machine.memAvailable = 99 << 20 },
			want{"Ready": T, "MemoryPressure": T, "DiskPressure": F, "PIDPressure": F}},
		{"disk short", func(f *nodeFacts) { f.machine.fsAvail = 9 << 30 },
			want{"Ready": T, "MemoryPressure": F, "DiskPressure": T, "PIDPressure": F}},
		{"inodes short", func(f *nodeFacts) { f.machine.inodesFree = 40 },
			want{"Ready": T, "MemoryPressure": F, "DiskPressure": T, "PIDPressure": F}},
		{"pids short", func(f *nodeFacts) { f.machine.pidsUsed = 30000 },
			want{"Ready": T, "MemoryPressure": F, "DiskPressure": F, "PIDPressure": T}},
		{"machine unreadable", func(f *nodeFacts) { f.machine = machineFacts{} },
			want{"Ready": T, "MemoryPressure": U, "DiskPressure": U, "PIDPressure": U}},
	} {
		f := healthyFacts()
		tc.change(&f)
		st := buildNodeStatus(cfg, f)
		if got := conditions(st); !equalConds(got, tc.want) {
			t.Errorf("%s: conditions %v, want %v", tc.name, got, tc.want)
		}
		if r := conditionByType(st, corev1.NodeReady); r.Status == corev1.ConditionFalse && (r.Reason != reasonNotReady || r.Message == "") {
			t.Errorf("%s: NotReady without reason or message: %+v", tc.name, r)
		}
	}
}

func TestNodeStatusConfigValidate(t *testing.T) {
	for _, c := range []NodeStatusConfig{
		{UpdateInterval: -1},
		{LeaseDuration: 100},
		{LeaseDuration: 10e9, LeaseRenewInterval: 10e9},
		{MaxPods: -1},
		{DiskAvailableMinPercent: 101},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig", c, err)
		}
	}
	d := NodeStatusConfig{}.withDefaults(Config{NodeName: "n", NodeIP: "192.0.2.1", DataDir: "/data"})
	if d.NodeName != "n" || d.NodeIP != "192.0.2.1" || d.DataDir != "/data" || d.LeaseRenewInterval != DefaultLeaseDuration/4 ||
		d.UpdateInterval != DefaultNodeStatusUpdateInterval || d.Root != "/" {
		t.Errorf("defaults %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func conditions(st corev1.NodeStatus) map[corev1.NodeConditionType]corev1.ConditionStatus {
	out := map[corev1.NodeConditionType]corev1.ConditionStatus{}
	for _, c := range st.Conditions {
		out[c.Type] = c.Status
	}
	return out
}

func equalConds(a, b map[corev1.NodeConditionType]corev1.ConditionStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func conditionByType(st corev1.NodeStatus, typ corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.NodeCondition{}
}
