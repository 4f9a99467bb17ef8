package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestWriteOCIArchiveImage checks the image builder on a small synthetic image: byte-identical output
// for the same spec, and an index, manifest and config that reference each other by digest and size.
func TestWriteOCIArchiveImage(t *testing.T) {
	spec := ImageSpec{
		Names: []string{"example.test/edgehive/tiny:v1", "example.test/edgehive/tiny:latest"},
		Files: []ImageFile{
			{Path: "bin", Mode: fs.ModeDir | 0o755},
			{Path: "bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\necho tool\n")},
			{Path: "bin/alias", Mode: fs.ModeSymlink | 0o777, Link: "tool"},
			{Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		},
		Cmd: []string{"/bin/tool"},
	}
	var first, second bytes.Buffer
	img, err := WriteOCIArchive(&first, spec)
	if err != nil {
		t.Fatal(err)
	}
	again, err := WriteOCIArchive(&second, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) || img.ManifestDigest != again.ManifestDigest {
		t.Fatalf("two builds differ: %+v vs %+v", img, again)
	}
	cfg, layer := checkOCIArchive(t, first.Bytes(), img)
	if got := strings.Join(cfg.Config.Cmd, " "); got != "/bin/tool" {
		t.Errorf("config Cmd = %q", got)
	}
	want := map[string]string{"bin/": "dir 755", "bin/tool": "file 755", "bin/alias": "link tool", "tmp/": "dir 1777"}
	for name, w := range want {
		if layer[name] != w {
			t.Errorf("layer entry %s = %q, want %q", name, layer[name], w)
		}
	}

	if _, err := WriteOCIArchive(io.Discard, ImageSpec{}); err == nil {
		t.Error("image without a name: no error")
	}
	if _, err := WriteOCIArchive(io.Discard, ImageSpec{Names: []string{"x:y"}, Files: []ImageFile{{Path: "../etc"}}}); err == nil {
		t.Error("path escaping the root: no error")
	}
}

// TestBuildBusyboxImage builds the busybox image twice (no root needed) and checks that the digests
// repeat and that the layer holds busybox and its applets.
func TestBuildBusyboxImage(t *testing.T) {
	img := BuildBusyboxImage(t, t.TempDir())
	again := BuildBusyboxImage(t, t.TempDir())
	if img.ManifestDigest != again.ManifestDigest || img.ConfigDigest != again.ConfigDigest {
		t.Fatalf("two builds differ: %s/%s vs %s/%s", img.ManifestDigest, img.ConfigDigest,
			again.ManifestDigest, again.ConfigDigest)
	}
	b, err := os.ReadFile(img.Path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, layer := checkOCIArchive(t, b, img)
	if got := strings.Join(cfg.Config.Cmd, " "); got != "sleep 2147483647" {
		t.Errorf("config Cmd = %q, want the pause command", got)
	}
	if layer["bin/busybox"] != "file 755" {
		t.Errorf("bin/busybox = %q", layer["bin/busybox"])
	}
	for _, applet := range []string{"sh", "echo", "cat", "sleep", "ls", "true", "false", "wget", "env", "mkdir"} {
		if layer["bin/"+applet] != "link busybox" {
			t.Errorf("bin/%s = %q, want a symlink to busybox", applet, layer["bin/"+applet])
		}
	}
	t.Logf("busybox image %s: %d layer entries, config %s", img.ManifestDigest, len(layer), img.ConfigDigest)
}

// checkOCIArchive parses an OCI image-layout archive, checks that it matches img and that each of its
// documents references the next by digest and size, and returns the config and a summary of the layer
// entries ("dir 755", "file 644", "link TARGET").
func checkOCIArchive(t *testing.T, archive []byte, img OCIImage) (ociConfig, map[string]string) {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("archive: %v", err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if files[hdr.Name], err = io.ReadAll(tr); err != nil {
				t.Fatalf("archive %s: %v", hdr.Name, err)
			}
		}
	}
	blob := func(d ociDescriptor) []byte {
		t.Helper()
		b, ok := files[blobPath(d.Digest)]
		if !ok {
			t.Fatalf("blob %s missing", d.Digest)
		}
		if digestOf(b) != d.Digest || int64(len(b)) != d.Size {
			t.Fatalf("blob %s: digest %s size %d, descriptor says size %d", d.Digest, digestOf(b), len(b), d.Size)
		}
		return b
	}
	decode := func(what string, b []byte, v any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	var index ociIndex
	decode("index.json", files["index.json"], &index)
	if index.SchemaVersion != 2 || index.MediaType != mediaTypeIndex || len(index.Manifests) != len(img.Names) {
		t.Fatalf("index: %+v", index)
	}
	for i, d := range index.Manifests {
		if d.Digest != img.ManifestDigest || d.MediaType != mediaTypeManifest {
			t.Errorf("index entry %d: %+v, want manifest %s", i, d, img.ManifestDigest)
		}
		name := d.Annotations[annotationImageName]
		if name != img.Names[i] || !strings.HasSuffix(name, ":"+d.Annotations[annotationRefName]) {
			t.Errorf("index entry %d annotations %v, want name %s", i, d.Annotations, img.Names[i])
		}
		if d.Platform == nil || d.Platform.Architecture != runtime.GOARCH || d.Platform.OS != "linux" {
			t.Errorf("index entry %d platform %+v", i, d.Platform)
		}
	}

	var manifest ociManifest
	decode("manifest", blob(index.Manifests[0]), &manifest)
	if manifest.SchemaVersion != 2 || manifest.MediaType != mediaTypeManifest || len(manifest.Layers) != 1 ||
		manifest.Config.MediaType != mediaTypeConfig || manifest.Layers[0].MediaType != mediaTypeLayer {
		t.Fatalf("manifest: %+v", manifest)
	}
	if manifest.Config.Digest != img.ConfigDigest || manifest.Layers[0].Digest != img.LayerDigest {
		t.Errorf("manifest %+v does not match %+v", manifest, img)
	}
	var cfg ociConfig
	decode("config", blob(manifest.Config), &cfg)
	if cfg.Architecture != runtime.GOARCH || cfg.OS != "linux" || cfg.RootFS.Type != "layers" {
		t.Errorf("config: %+v", cfg)
	}

	zr, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0])))
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	layerTar, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != digestOf(layerTar) || img.DiffID != digestOf(layerTar) {
		t.Errorf("diff_ids %v, uncompressed layer is %s", cfg.RootFS.DiffIDs, digestOf(layerTar))
	}
	layer := map[string]string{}
	lr := tar.NewReader(bytes.NewReader(layerTar))
	for {
		hdr, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer: %v", err)
		}
		if !hdr.ModTime.Equal(imageEpoch) || hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("layer %s: mtime %v uid %d gid %d", hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			layer[hdr.Name] = fmt.Sprintf("dir %o", hdr.Mode)
		case tar.TypeReg:
			layer[hdr.Name] = fmt.Sprintf("file %o", hdr.Mode)
		case tar.TypeSymlink:
			layer[hdr.Name] = "link " + hdr.Linkname
		}
	}
	return cfg, layer
}

// TestContainerdSmoke runs a pod with one container through CRI v1 alone, once on the host network
// and once on the pod network (the bridge CNI), and checks the container's log, its status and its
// address, then takes everything down again.
func TestContainerdSmoke(t *testing.T) {
	c := StartContainerd(t)
	t.Run("host-network", func(t *testing.T) { runSmokePod(t, c, true) })
	t.Run("pod-network", func(t *testing.T) { runSmokePod(t, c, false) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := c.RuntimeService().ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pods.GetItems()); n != 0 {
		t.Errorf("ListPodSandbox after the test: %d sandboxes, want none", n)
	}
}

func runSmokePod(t *testing.T, c *Containerd, hostNetwork bool) {
	const greeting = "hello-from-edgehive"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt := c.RuntimeService()
	name := "smoke-" + strings.TrimPrefix(t.Name(), "TestContainerdSmoke/")
	logDir := filepath.Join(c.LogRoot, name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}

	network := runtimeapi.NamespaceMode_POD
	hostname := name
	if hostNetwork {
		// A pod on the host network shares the host's UTS namespace: giving it a hostname fails with
		// "unable to set hostname without a private UTS namespace".
		network, hostname = runtimeapi.NamespaceMode_NODE, ""
	}
	podConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Uid: name + "-uid", Namespace: "edgehive-test"},
		Hostname:     hostname,
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: network},
			},
		},
	}

	start := time.Now()
	pod, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	runPod := time.Since(start)
	podID := pod.GetPodSandboxId()

	podStatus, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
	if err != nil {
		t.Fatalf("PodSandboxStatus: %v", err)
	}
	if st := podStatus.GetStatus().GetState(); st != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("sandbox state %v", st)
	}
	podIP := podStatus.GetStatus().GetNetwork().GetIp()
	if !hostNetwork {
		_, subnet, _ := net.ParseCIDR(c.PodCIDR)
		if ip := net.ParseIP(podIP); ip == nil || !subnet.Contains(ip) {
			t.Fatalf("pod IP %q not in the pod network %s", podIP, c.PodCIDR)
		}
	}

	start = time.Now()
	created, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: podID,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "hello"},
			Image:    &runtimeapi.ImageSpec{Image: c.Image},
			Command:  []string{"sh", "-c", "echo " + greeting + "; sleep 3600"},
			LogPath:  "hello.log", // relative to the sandbox's LogDirectory
		},
		SandboxConfig: podConfig,
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	createContainer := time.Since(start)
	id := created.GetContainerId()

	start = time.Now()
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	startContainer := time.Since(start)

	logPath := filepath.Join(logDir, "hello.log")
	var lines []criLogLine
	if err := Eventually(ctx, 10*time.Second, 10*time.Millisecond, func(context.Context) error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		if lines, err = parseCRILog(b); err != nil {
			return err
		}
		if len(lines) == 0 {
			return fmt.Errorf("%s is empty", logPath)
		}
		return nil
	}); err != nil {
		t.Fatalf("container log: %v", err)
	}
	if got := lines[0]; got.Stream != "stdout" || got.Tag != "F" || got.Content != greeting {
		t.Errorf("log line %+v, want a full stdout line %q", got, greeting)
	}
	logged := time.Since(start)

	st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStatus: %v", err)
	}
	if state := st.GetStatus().GetState(); state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container state %v, want RUNNING", state)
	}
	if !hostNetwork {
		checkPodReachesHost(ctx, t, c, id, podIP)
	}
	t.Logf("RunPodSandbox %v, CreateContainer %v, StartContainer %v, log line %v after StartContainer began (pod IP %q)",
		runPod.Round(time.Microsecond), createContainer.Round(time.Microsecond),
		startContainer.Round(time.Microsecond), logged.Round(time.Microsecond), podIP)

	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0}); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{Id: podID},
	})
	if err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}
	if n := len(pods.GetItems()); n != 0 {
		t.Errorf("ListPodSandbox after RemovePodSandbox: %d items", n)
	}
}

// checkPodReachesHost runs, in the container, `ip` to see the pod's address on eth0 and `wget` against
// an HTTP server that the test serves on the bridge's address.
func checkPodReachesHost(ctx context.Context, t *testing.T, c *Containerd, id, podIP string) {
	t.Helper()
	rt := c.RuntimeService()
	addr, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"ip", "-4", "addr", "show", "eth0"}, Timeout: 10})
	if err != nil || addr.GetExitCode() != 0 || !strings.Contains(string(addr.GetStdout()), "inet "+podIP+"/") {
		t.Errorf("ip addr in the pod: err=%v exit=%d\n%s%s", err, addr.GetExitCode(), addr.GetStdout(), addr.GetStderr())
	}

	l, err := net.Listen("tcp", net.JoinHostPort(c.PodGateway, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	// No `wget -T`: Debian's busybox-static 1.35 wget crashes (SIGSEGV, exit 139) with a timeout set.
	// ExecSync's own timeout bounds the call instead.
	get, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{
		ContainerId: id, Cmd: []string{"wget", "-q", "-O", "-", "http://" + l.Addr().String() + "/"}, Timeout: 10,
	})
	if err != nil || get.GetExitCode() != 0 || !strings.HasPrefix(string(get.GetStdout()), "hello "+podIP+":") {
		t.Errorf("wget from the pod to %s: err=%v exit=%d stdout=%q stderr=%q",
			l.Addr(), err, get.GetExitCode(), get.GetStdout(), get.GetStderr())
	}
}

// TestContainerdCleanupAfterCrash kills containerd with a pod still running and checks that the
// cleanup sweeps what the crash left: the container's processes, the shims, the mounts, the bridge and
// the directory.
func TestContainerdCleanupAfterCrash(t *testing.T) {
	var (
		c       *Containerd
		podID   string
		podPIDs []int
	)
	t.Run("crash", func(t *testing.T) {
		c = StartContainerd(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rt := c.RuntimeService()
		podConfig := &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "crash", Uid: "crash-uid", Namespace: "edgehive-test"},
			Hostname: "crash",
		}
		pod, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig})
		if err != nil {
			t.Fatalf("RunPodSandbox: %v", err)
		}
		podID = pod.GetPodSandboxId()
		created, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId:  podID,
			Config:        &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "sleeper"}, Image: &runtimeapi.ImageSpec{Image: c.Image}},
			SandboxConfig: podConfig,
		})
		if err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.GetContainerId()}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: created.GetContainerId(), Verbose: true})
		if err != nil {
			t.Fatalf("ContainerStatus: %v", err)
		}
		var info struct{ Pid int }
		if err := json.Unmarshal([]byte(st.GetInfo()["info"]), &info); err != nil || info.Pid == 0 {
			t.Fatalf("container pid from verbose status: %v %q", err, st.GetInfo()["info"])
		}
		podPIDs = append(podPIDs, info.Pid)
		if len(shimPIDs(c.Dir)) == 0 {
			t.Fatal("no shim running for the pod")
		}

		if err := c.Process.Cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-c.Process.Exited()
	})
	if c == nil { // StartContainerd stopped the subtest: skipped (missing component) or failed
		if !t.Failed() {
			t.Skip("requires containerd: it did not start (missing component, reported above)")
		}
		return
	}

	if pids := shimPIDs(c.Dir); len(pids) > 0 {
		t.Errorf("shims left running: %v", pids)
	}
	for _, pid := range podPIDs {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("container process %d left running: %q", pid, b)
		}
	}
	if mounts, err := mountPointsUnder(c.Dir); err != nil || len(mounts) > 0 {
		t.Errorf("mounts left under %s: %v %v", c.Dir, mounts, err)
	}
	if _, err := net.InterfaceByName(c.Bridge); err == nil {
		t.Errorf("bridge %s left", c.Bridge)
	}
	if _, err := os.Stat(c.Dir); err == nil {
		t.Errorf("%s left", c.Dir)
	}
	if cached, _ := filepath.Glob(filepath.Join(cniCacheDir, "results", "*-"+podID+"-*")); len(cached) > 0 {
		t.Errorf("CNI results left: %v", cached)
	}
}

// criLogLine is one line of a CRI container log: "<RFC 3339 time> <stream> <tag> <content>", where the
// tag is F for a full line and P for a partial one.
type criLogLine struct {
	Time    time.Time
	Stream  string
	Tag     string
	Content string
}

func parseCRILog(b []byte) ([]criLogLine, error) {
	var lines []criLogLine
	for _, raw := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(raw, "\n") {
			break // a line still being written
		}
		f := strings.SplitN(strings.TrimSuffix(raw, "\n"), " ", 4)
		if len(f) != 4 {
			return nil, fmt.Errorf("CRI log line %q: want 4 fields", raw)
		}
		ts, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			return nil, fmt.Errorf("CRI log line %q: %w", raw, err)
		}
		if (f[1] != "stdout" && f[1] != "stderr") || (f[2] != "F" && f[2] != "P") {
			return nil, fmt.Errorf("CRI log line %q: bad stream or tag", raw)
		}
		lines = append(lines, criLogLine{Time: ts, Stream: f[1], Tag: f[2], Content: f[3]})
	}
	return lines, nil
}
