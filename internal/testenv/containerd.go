package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// CNIBinDir is where Debian's containernetworking-plugins installs the CNI plugins.
	CNIBinDir = "/usr/lib/cni"
	// cniCacheDir is libcni's cache of ADD results, which containerd 1.6 does not let us move.
	cniCacheDir = "/var/lib/cni"

	// containerdNamespace is the containerd namespace the CRI plugin works in; images must be imported
	// there to be visible through CRI.
	containerdNamespace = "k8s.io"

	// podNetFirst and podNetLast bound X in the pod subnets 198.18.X.0/24 handed to containerd instances.
	// Low values of X are left to tests that build their own network namespaces in 198.18.0.0/15.
	podNetFirst, podNetLast = 100, 254

	containerdReadyTimeout = 30 * time.Second
	containerdStopTimeout  = 60 * time.Second
)

// Containerd is a containerd with its CRI plugin, started for one test by StartContainerd. Everything it
// writes lives under Dir, except the pod network's bridge (Bridge) and, while shims run, their sockets
// in /run/containerd/s (a path compiled into containerd 1.6); the test's cleanup removes all of it.
type Containerd struct {
	Dir      string // short temporary directory holding root, state, socket, config and logs
	Root     string // containerd's persistent root (content, snapshots, metadata)
	State    string // containerd's state dir (shim bundles, sandbox /dev/shm and network namespaces)
	Socket   string // the gRPC unix socket; CRI is served on it too
	Endpoint string // "unix://" + Socket, the CRI runtime and image endpoint

	Image      string   // a busybox image, imported and visible through CRI (BusyboxImage)
	PauseImage string   // the sandbox (pause) image, the same busybox under another name (PauseImage)
	ImageInfo  OCIImage // digests of the imported image; ImageInfo.ConfigDigest is its CRI image ID

	Bridge     string // the Linux bridge of the pod network, unique to this instance: "ehcni<X>"
	PodCIDR    string // pods with their own network namespace get an address in "198.18.X.0/24"
	PodGateway string // "198.18.X.1", the bridge's address: pods reach the host there
	LogRoot    string // an empty directory for pod sandbox LogDirectory values

	Process *Process // the containerd process

	conn *grpc.ClientConn
}

// RuntimeService returns a CRI runtime client on the instance's connection (closed at test end).
func (c *Containerd) RuntimeService() runtimeapi.RuntimeServiceClient {
	return runtimeapi.NewRuntimeServiceClient(c.conn)
}

// ImageService returns a CRI image client on the instance's connection (closed at test end).
func (c *Containerd) ImageService() runtimeapi.ImageServiceClient {
	return runtimeapi.NewImageServiceClient(c.conn)
}

// Conn returns the instance's gRPC connection (closed at test end).
func (c *Containerd) Conn() *grpc.ClientConn { return c.conn }

// StartContainerd starts containerd with its CRI plugin, runc and a bridge CNI network, imports the
// busybox image (BuildBusyboxImage) under the names BusyboxImage and PauseImage, and returns when CRI
// lists the image. It needs root and the containerd, ctr, containerd-shim-runc-v2, runc and ip binaries
// and the CNI plugins in CNIBinDir; when one is missing the test stops through Missing.
//
// When the test ends, every pod sandbox still known to the runtime is stopped and removed, containerd is
// stopped, and then leftovers of a crash are swept: runc containers, shims (reparented to init, so they
// outlive containerd), mounts under Dir, the bridge, and Dir itself. Tests may run many instances one
// after another or side by side.
func StartContainerd(t TB) *Containerd {
	t.Helper()
	RequireRoot(t, "containerd")
	bins := containerdBinaries{
		containerd: LookPath(t, "containerd", "/usr/bin", "/usr/local/bin"),
		ctr:        LookPath(t, "ctr", "/usr/bin", "/usr/local/bin"),
		shim:       LookPath(t, "containerd-shim-runc-v2", "/usr/bin", "/usr/local/bin"),
		runc:       LookPath(t, "runc", "/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"),
		ip:         LookPath(t, "ip", "/usr/sbin", "/sbin", "/usr/bin", "/bin"),
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(CNIBinDir, plugin)); err != nil {
			Missing(t, "requires the CNI plugin %s in %s (apt-get install -y containernetworking-plugins)",
				plugin, CNIBinDir)
		}
	}

	// Unix socket paths must fit in 108 bytes (sun_path), and containerd adds ".ttrpc" to its socket's
	// path: t.TempDir() paths, which carry the test's name, can be longer than that.
	dir, err := os.MkdirTemp(shortTempRoot(), "ctrd")
	if err != nil {
		t.Fatalf("containerd: %v", err)
	}
	c := &Containerd{
		Dir:        dir,
		Root:       filepath.Join(dir, "root"),
		State:      filepath.Join(dir, "state"),
		Socket:     filepath.Join(dir, "containerd.sock"),
		Image:      BusyboxImage,
		PauseImage: PauseImage,
		LogRoot:    filepath.Join(dir, "pods"),
	}
	c.Endpoint = "unix://" + c.Socket
	// Registered first, so it runs last: after the sandboxes are removed and containerd has stopped.
	t.Cleanup(func() { c.sweep(t, bins) })

	for _, d := range []string{c.Root, c.State, c.LogRoot, filepath.Join(dir, "cni", "net.d"), filepath.Join(dir, "image")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("containerd: %v", err)
		}
	}
	c.claimPodNetwork(t, bins.ip)
	config := filepath.Join(dir, "config.toml")
	if err := c.writeConfig(config, bins); err != nil {
		t.Fatalf("containerd: %v", err)
	}
	c.ImageInfo = BuildBusyboxImage(t, filepath.Join(dir, "image"), c.Image, c.PauseImage)

	start := time.Now()
	c.Process = StartProcess(t, dir, "containerd", bins.containerd, "--config", config)
	ctx, cancel := context.WithTimeout(context.Background(), containerdReadyTimeout)
	defer cancel()
	// Stop waiting as soon as containerd exits (a bad config, a required plugin that failed to load).
	go func() {
		select {
		case <-c.Process.Exited():
			cancel()
		case <-ctx.Done():
		}
	}()
	// Dial only once the socket accepts connections: a gRPC channel that failed to connect backs off
	// for a second or more before it tries again.
	if err := Eventually(ctx, containerdReadyTimeout, 20*time.Millisecond, func(ctx context.Context) error {
		if err := c.Process.CheckAlive(); err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", c.Socket)
		if err != nil {
			return err
		}
		return conn.Close()
	}); err != nil {
		t.Fatalf("containerd: socket: %v", err)
	}
	c.conn, err = grpc.NewClient(c.Endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}))
	if err != nil {
		t.Fatalf("containerd: dial %s: %v", c.Endpoint, err)
	}
	t.Cleanup(func() {
		c.removePods(t)
		_ = c.conn.Close()
	})

	var version *runtimeapi.VersionResponse
	if err := Eventually(ctx, containerdReadyTimeout, 20*time.Millisecond, func(ctx context.Context) error {
		if err := c.Process.CheckAlive(); err != nil {
			return err
		}
		version, err = c.RuntimeService().Version(ctx, &runtimeapi.VersionRequest{})
		return err
	}); err != nil {
		t.Fatalf("containerd: CRI Version: %v", err)
	}
	ready := time.Since(start)

	start = time.Now()
	c.importImage(ctx, t, bins.ctr)
	t.Logf("containerd %s (CRI %s) ready in %v; busybox image %s imported in %v; pod network %s on %s",
		version.GetRuntimeVersion(), version.GetRuntimeApiVersion(), ready.Round(time.Millisecond),
		shortDigest(c.ImageInfo.ConfigDigest), time.Since(start).Round(time.Millisecond), c.PodCIDR, c.Bridge)
	return c
}

// containerdBinaries are the absolute paths of the programs a Containerd runs. containerd gets them by
// path in its config rather than through PATH, which under `go test` may lack /usr/sbin.
type containerdBinaries struct {
	containerd, ctr, shim, runc, ip string
}

// shortTempRoot is os.TempDir(), or /tmp when TMPDIR is too long for socket paths below it.
func shortTempRoot() string {
	if d := os.TempDir(); len(d) <= 40 {
		return d
	}
	return "/tmp"
}

// importImage imports the busybox archive into the CRI namespace and waits until CRI sees both names.
func (c *Containerd) importImage(ctx context.Context, t TB, ctr string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, ctr, "--address", c.Socket, "--namespace", containerdNamespace,
		"images", "import", c.ImageInfo.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("containerd: ctr images import: %v\n%s", err, out)
	}
	// The CRI plugin learns about images from containerd's events, a moment after the import returns.
	images := c.ImageService()
	if err := Eventually(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		for _, name := range []string{c.Image, c.PauseImage} {
			st, err := images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: name}})
			if err != nil {
				return err
			}
			if st.GetImage() == nil {
				return fmt.Errorf("image %s not known to CRI", name)
			}
			if id := st.GetImage().GetId(); id != c.ImageInfo.ConfigDigest {
				return fmt.Errorf("image %s has ID %s, want %s", name, id, c.ImageInfo.ConfigDigest)
			}
		}
		list, err := images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
		if err != nil {
			return err
		}
		for _, img := range list.GetImages() {
			if img.GetId() == c.ImageInfo.ConfigDigest {
				return nil
			}
		}
		return fmt.Errorf("image %s not in ListImages", c.ImageInfo.ConfigDigest)
	}); err != nil {
		t.Fatalf("containerd: imported image: %v", err)
	}
}

// claimPodNetwork picks X for the pod subnet 198.18.X.0/24 and creates the bridge "ehcni<X>" with the
// gateway address 198.18.X.1. Creating a link of a given name is atomic, so the bridge itself is the
// claim: parallel instances, in this process or another, never share a subnet. The bridge CNI plugin
// reuses the existing bridge.
func (c *Containerd) claimPodNetwork(t TB, ip string) {
	t.Helper()
	span := podNetLast - podNetFirst + 1
	offset := os.Getpid() % span
	for i := range span {
		x := podNetFirst + (offset+i)%span
		name := "ehcni" + strconv.Itoa(x)
		if _, err := net.InterfaceByName(name); err == nil || subnetInUse(x) {
			continue
		}
		out, err := exec.Command(ip, "link", "add", "name", name, "type", "bridge").CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "File exists") {
				continue // another instance was quicker
			}
			t.Fatalf("containerd: create bridge %s: %v: %s", name, err, out)
		}
		c.Bridge = name
		c.PodCIDR = fmt.Sprintf("198.18.%d.0/24", x)
		c.PodGateway = fmt.Sprintf("198.18.%d.1", x)
		for _, args := range [][]string{
			{"addr", "add", c.PodGateway + "/24", "dev", name},
			{"link", "set", name, "up"},
		} {
			if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
				t.Fatalf("containerd: ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		return
	}
	t.Fatalf("containerd: no free pod subnet 198.18.%d-%d.0/24", podNetFirst, podNetLast)
}

// subnetInUse reports whether a host interface already has an address in 198.18.x.0/24.
func subnetInUse(x int) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	_, subnet, _ := net.ParseCIDR(fmt.Sprintf("198.18.%d.0/24", x))
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && subnet.Contains(ipn.IP) {
			return true
		}
	}
	return false
}

// writeConfig writes containerd's config and the CNI network.
func (c *Containerd) writeConfig(path string, bins containerdBinaries) error {
	data := map[string]string{
		"Root":       c.Root,
		"State":      c.State,
		"Temp":       filepath.Join(c.Dir, "tmp"),
		"Socket":     c.Socket,
		"PauseImage": c.PauseImage,
		"Shim":       bins.shim,
		"Runc":       bins.runc,
		"RuncRoot":   filepath.Join(c.State, "runc"),
		"CNIBinDir":  CNIBinDir,
		"CNIConfDir": filepath.Join(c.Dir, "cni", "net.d"),
		"Bridge":     c.Bridge,
		"Subnet":     c.PodCIDR,
		"RangeStart": strings.TrimSuffix(c.PodGateway, ".1") + ".10",
		"Gateway":    c.PodGateway,
		"IPAMDir":    filepath.Join(c.Dir, "cni", "ipam"),
	}
	if err := os.MkdirAll(data["Temp"], 0o755); err != nil {
		return err
	}
	for file, tmpl := range map[string]*template.Template{
		path: containerdConfigTemplate,
		filepath.Join(data["CNIConfDir"], "10-edgehive.conflist"): cniConfigTemplate,
	} {
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		err = tmpl.Execute(f, data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
	}
	return nil
}

// containerdConfigTemplate is containerd 1.6's config (version 2). The traps it avoids:
//
//   - restrict_oom_score_adj: containerd gives sandboxes the OOM score adjustment of a kubelet pod, but
//     the test process (and so containerd) may run with a score it is not allowed to lower; without the
//     restriction every sandbox fails with "failed to update /proc/self/oom_score_adj: Permission denied".
//   - disable_apparmor: the kernel may have AppArmor while the profile containerd would load is absent.
//   - SystemdCgroup = false: PID 1 is not systemd and the host has cgroup v1 (hybrid).
//   - netns_mounts_under_state_dir: otherwise network namespaces are bind-mounted in /var/run/netns,
//     outside Dir, and a crash would leave them there.
//   - runc Root under State: otherwise runc keeps its state in /run/containerd/runc, shared by every
//     instance.
//   - sandbox_image: no registry can be reached; the imported busybox runs `sleep 2147483647` as pause.
//   - stream_server_port "0" and no debug or metrics address: nothing listens on a fixed port, so
//     instances never collide.
//   - disabled_plugins: the snapshotters that cannot work here (aufs, btrfs, zfs, devmapper) only log
//     errors at start-up; tracing is not needed; the "opt" plugin would create /opt/containerd. The
//     v1 linux runtime stays although CRI uses runc v2: in 1.6 the tasks service requires it, and CRI
//     requires the tasks service.
//   - required_plugins: if the CRI plugin fails to load, containerd exits at once instead of serving
//     a socket without CRI, and the harness reports its log.
var containerdConfigTemplate = template.Must(template.New("config.toml").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`
version = 2
root = {{q .Root}}
state = {{q .State}}
temp = {{q .Temp}}
oom_score = 0
required_plugins = ["io.containerd.grpc.v1.cri"]
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = {{q .Socket}}

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {{q .PauseImage}}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      runtime_path = {{q .Shim}}

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = {{q .Runc}}
        Root = {{q .RuncRoot}}
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {{q .CNIBinDir}}
    conf_dir = {{q .CNIConfDir}}
    max_conf_num = 1
`))

// cniConfigTemplate is the pod network: the instance's own bridge with host-local addresses. The
// bridge is not the gateway for the plugin (isGateway false) because the plugin would then switch on IP
// forwarding for the whole host; claimPodNetwork gave the bridge its address instead, and the default
// route leads there. No masquerading: pods reach the host, not the outside. host-local keeps its leases
// under Dir, not in /var/lib/cni/networks.
var cniConfigTemplate = template.Must(template.New("cni").Parse(`{
  "cniVersion": "1.0.0",
  "name": "edgehive",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "{{.Bridge}}",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "{{.Subnet}}", "rangeStart": "{{.RangeStart}}", "gateway": "{{.Gateway}}"}]],
        "routes": [{"dst": "0.0.0.0/0", "gw": "{{.Gateway}}"}],
        "dataDir": "{{.IPAMDir}}"
      }
    }
  ]
}
`))

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// removePods stops and removes every pod sandbox (and so every container) the runtime still has. It is
// the orderly path: afterwards containerd has no shim left and stops cleanly.
func (c *Containerd) removePods(t TB) {
	if c.Process.CheckAlive() != nil {
		return // sweep will clean up after the crash
	}
	ctx, cancel := context.WithTimeout(context.Background(), containerdStopTimeout)
	defer cancel()
	rt := c.RuntimeService()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Logf("containerd cleanup: list pod sandboxes: %v", err)
		return
	}
	for _, p := range pods.GetItems() {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.GetId()}); err != nil {
			t.Logf("containerd cleanup: stop pod sandbox %s: %v", p.GetMetadata().GetName(), err)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.GetId()}); err != nil {
			t.Logf("containerd cleanup: remove pod sandbox %s: %v", p.GetMetadata().GetName(), err)
		}
	}
}

// sweep runs after containerd has stopped and removes what a crash, a killed test or a failed
// removePods can leave behind, in dependency order: runc containers (their processes are not children
// of this test), shims (reparented to init when containerd started them), their sockets, mounts under
// Dir (rootfs overlays, sandbox /dev/shm, network namespaces), the bridge, and finally Dir.
func (c *Containerd) sweep(t TB, bins containerdBinaries) {
	if c.Process != nil {
		c.Process.Stop(10 * time.Second) // normally done already by StartProcess's own cleanup
	}

	// The shim sockets live in /run/containerd/s (compiled into containerd 1.6); each bundle records
	// its shim's address. Read them before the bundles go.
	addrFiles, _ := filepath.Glob(filepath.Join(c.State, "io.containerd.runtime.v2.task", "*", "*", "address"))
	var shimSockets []string
	for _, f := range addrFiles {
		if b, err := os.ReadFile(f); err == nil {
			shimSockets = append(shimSockets, strings.TrimPrefix(strings.TrimSpace(string(b)), "unix://"))
		}
	}

	nsDirs, _ := filepath.Glob(filepath.Join(c.State, "runc", "*"))
	for _, nsDir := range nsDirs {
		states, _ := filepath.Glob(filepath.Join(nsDir, "*", "state.json"))
		for _, st := range states {
			id := filepath.Base(filepath.Dir(st))
			out, err := exec.Command(bins.runc, "--root", nsDir, "delete", "--force", id).CombinedOutput()
			t.Logf("containerd cleanup: leftover runc container %s deleted: err=%v %s", id, err, out)
		}
	}

	for _, pid := range shimPIDs(c.Dir) {
		t.Logf("containerd cleanup: killing leftover shim pid %d", pid)
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
	if err := Eventually(context.Background(), 10*time.Second, 20*time.Millisecond, func(context.Context) error {
		if pids := shimPIDs(c.Dir); len(pids) > 0 {
			return fmt.Errorf("shims still running: %v", pids)
		}
		return nil
	}); err != nil {
		t.Errorf("containerd cleanup: %v", err)
	}
	for _, s := range shimSockets {
		if strings.HasPrefix(s, "/run/containerd/s/") {
			_ = os.Remove(s)
		}
	}

	// A sandbox whose network was never torn down (no CNI DEL) leaves libcni's cached results in
	// /var/lib/cni/results, named <network>-<sandbox id>-<interface>; containerd 1.6 cannot move them.
	sandboxes, _ := filepath.Glob(filepath.Join(c.Root, "io.containerd.grpc.v1.cri", "sandboxes", "*"))
	for _, sb := range sandboxes {
		cached, _ := filepath.Glob(filepath.Join(cniCacheDir, "results", "*-"+filepath.Base(sb)+"-*"))
		for _, f := range cached {
			_ = os.Remove(f)
		}
	}

	if err := unmountUnder(c.Dir); err != nil {
		t.Errorf("containerd cleanup: %v", err)
	}
	if c.Bridge != "" {
		if out, err := exec.Command(bins.ip, "link", "del", c.Bridge).CombinedOutput(); err != nil {
			t.Errorf("containerd cleanup: delete bridge %s: %v: %s", c.Bridge, err, out)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		t.Errorf("containerd cleanup: %v", err)
	}
}

// shimPIDs returns the processes of containerd shims started by the instance under dir: their command
// line carries "-address <dir>/containerd.sock".
func shimPIDs(dir string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for _, a := range args[1:] {
			if a == dir || strings.HasPrefix(a, dir+"/") {
				if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}
