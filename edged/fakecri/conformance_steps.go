package fakecri

import (
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The steps of RunCRIConformance, in order; each relies on the ones before it.

func (s *conformance) version(t *testing.T) {
	v, err := s.rt.Version(s.ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v.GetRuntimeApiVersion() != "v1" || v.GetRuntimeName() == "" || v.GetRuntimeVersion() == "" {
		t.Errorf("Version: %v, want runtime API v1 and a runtime name and version", v)
	}
	st, err := s.rt.Status(s.ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, cond := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
		if !slices.ContainsFunc(st.GetStatus().GetConditions(), func(c *runtimeapi.RuntimeCondition) bool {
			return c.GetType() == cond && c.GetStatus()
		}) {
			t.Errorf("Status: condition %s not true in %v", cond, st.GetStatus())
		}
	}
}

func (s *conformance) imageStatus(t *testing.T, ref string) *runtimeapi.Image {
	t.Helper()
	st, err := s.im.ImageStatus(s.ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		t.Fatalf("ImageStatus %s: %v", ref, err)
	}
	return st.GetImage()
}

func (s *conformance) listImageIDs(t *testing.T, filter string) []string {
	t.Helper()
	req := &runtimeapi.ListImagesRequest{}
	if filter != "" {
		req.Filter = &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: filter}}
	}
	list, err := s.im.ListImages(s.ctx, req)
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	var ids []string
	for _, img := range list.GetImages() {
		ids = append(ids, img.GetId())
	}
	return ids
}

func (s *conformance) images(t *testing.T) {
	img := s.imageStatus(t, s.cfg.Image)
	if img == nil {
		t.Fatalf("ImageStatus %s: absent; the suite needs it present", s.cfg.Image)
	}
	s.imageID = img.GetId()
	if !isImageID(s.imageID) || !slices.Contains(img.GetRepoTags(), normalizeRef(s.cfg.Image)) || img.GetSize() == 0 {
		t.Errorf("ImageStatus %s: %v, want a sha256 ID, the tag %s and a size", s.cfg.Image, img, normalizeRef(s.cfg.Image))
	}
	names := []string{s.imageID, s.imageID[len("sha256:") : len("sha256:")+12]}
	if short, ok := strings.CutPrefix(normalizeRef(s.cfg.Image), "docker.io/library/"); ok {
		names = append(names, short)
	}
	for _, name := range names {
		if got := s.imageStatus(t, name); got.GetId() != s.imageID {
			t.Errorf("ImageStatus %s: %v, want image %s", name, got, s.imageID)
		}
	}
	if ids := s.listImageIDs(t, ""); !slices.Contains(ids, s.imageID) {
		t.Errorf("ListImages: %v, want %s among them", ids, s.imageID)
	}
	if ids := s.listImageIDs(t, s.cfg.Image); !slices.Contains(ids, s.imageID) {
		t.Errorf("ListImages filtered by %s: %v, want %s among them", s.cfg.Image, ids, s.imageID)
	}
	const absent = "cri-conformance.invalid/absent:none"
	if got := s.imageStatus(t, absent); got != nil {
		t.Errorf("ImageStatus %s: %v, want no image", absent, got)
	}
	_, err := s.im.RemoveImage(s.ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: absent}})
	wantCode(t, "RemoveImage of an absent image", err, codes.OK)
	fs, err := s.im.ImageFsInfo(s.ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		t.Fatalf("ImageFsInfo: %v", err)
	}
	if len(fs.GetImageFilesystems()) == 0 || fs.GetImageFilesystems()[0].GetFsId().GetMountpoint() == "" {
		t.Errorf("ImageFsInfo: %v, want an image filesystem with a mount point", fs)
	}
}

func (s *conformance) pull(t *testing.T) {
	if s.cfg.MissingImage != "" {
		_, err := s.im.PullImage(s.ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: s.cfg.MissingImage}})
		wantCode(t, "PullImage "+s.cfg.MissingImage, err, codes.NotFound)
	}
	ref := s.cfg.PullImage
	if ref == "" {
		t.Skip("requires ConformanceConfig.PullImage (not configured)")
	}
	if img := s.imageStatus(t, ref); img != nil {
		t.Fatalf("ImageStatus %s: present before the pull", ref)
	}
	resp, err := s.im.PullImage(s.ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		t.Fatalf("PullImage %s: %v", ref, err)
	}
	img := s.imageStatus(t, ref)
	if img == nil || img.GetId() != resp.GetImageRef() || img.GetId() == s.imageID {
		t.Fatalf("ImageStatus %s after the pull: %v, want image %s (not %s)", ref, img, resp.GetImageRef(), s.imageID)
	}
	if !slices.Contains(img.GetRepoTags(), normalizeRef(ref)) || len(img.GetRepoDigests()) == 0 ||
		!strings.HasPrefix(img.GetRepoDigests()[0], repository(normalizeRef(ref))+"@sha256:") {
		t.Errorf("ImageStatus %s after the pull: %v, want its tag and a repo digest", ref, img)
	}
	if ids := s.listImageIDs(t, ""); !slices.Contains(ids, img.GetId()) {
		t.Errorf("ListImages after the pull: %v, want %s among them", ids, img.GetId())
	}
	if _, err := s.im.RemoveImage(s.ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
		t.Fatalf("RemoveImage %s: %v", ref, err)
	}
	if got := s.imageStatus(t, ref); got != nil {
		t.Errorf("ImageStatus %s after RemoveImage: %v, want none", ref, got)
	}
	if ids := s.listImageIDs(t, ""); slices.Contains(ids, img.GetId()) || !slices.Contains(ids, s.imageID) {
		t.Errorf("ListImages after RemoveImage: %v, want %s gone and %s kept", ids, img.GetId(), s.imageID)
	}
}

func (s *conformance) runPod(t *testing.T, name string, hostNetwork bool) podUnderTest {
	t.Helper()
	config := s.podConfig(t, name, hostNetwork)
	resp, err := s.rt.RunPodSandbox(s.ctx, &runtimeapi.RunPodSandboxRequest{Config: config})
	if err != nil {
		t.Fatalf("RunPodSandbox %s: %v", name, err)
	}
	return podUnderTest{id: resp.GetPodSandboxId(), config: config}
}

func (s *conformance) listPods(t *testing.T, f *runtimeapi.PodSandboxFilter) []string {
	t.Helper()
	if f.LabelSelector == nil {
		f.LabelSelector = map[string]string{}
	}
	f.LabelSelector["cri-conformance"] = s.uid
	list, err := s.rt.ListPodSandbox(s.ctx, &runtimeapi.ListPodSandboxRequest{Filter: f})
	if err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}
	var ids []string
	for _, p := range list.GetItems() {
		ids = append(ids, p.GetId())
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func (s *conformance) sandboxes(t *testing.T) {
	s.web = s.runPod(t, "web", false)
	st := s.sandboxStatus(t, s.web.id)
	if st.GetId() != s.web.id || st.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY || st.GetCreatedAt() == 0 ||
		!proto.Equal(st.GetMetadata(), s.web.config.GetMetadata()) {
		t.Errorf("PodSandboxStatus: %v, want READY with the metadata %v", st, s.web.config.GetMetadata())
	}
	if !maps.Equal(st.GetLabels(), s.web.config.GetLabels()) || !maps.Equal(st.GetAnnotations(), s.web.config.GetAnnotations()) {
		t.Errorf("PodSandboxStatus: labels %v, annotations %v; want %v, %v", st.GetLabels(), st.GetAnnotations(),
			s.web.config.GetLabels(), s.web.config.GetAnnotations())
	}
	ip, err := netip.ParseAddr(st.GetNetwork().GetIp())
	if err != nil {
		t.Errorf("PodSandboxStatus: pod IP %q: %v", st.GetNetwork().GetIp(), err)
	} else if p, err := netip.ParsePrefix(s.cfg.PodCIDR); err == nil && !p.Contains(ip) {
		t.Errorf("PodSandboxStatus: pod IP %s not in %s", ip, p)
	}
	if n := st.GetLinux().GetNamespaces().GetOptions().GetNetwork(); n != runtimeapi.NamespaceMode_POD {
		t.Errorf("PodSandboxStatus: network namespace mode %v, want POD", n)
	}
	_, err = s.rt.RunPodSandbox(s.ctx, &runtimeapi.RunPodSandboxRequest{Config: s.web.config})
	wantError(t, "RunPodSandbox of the same pod attempt again", err)

	s.host = s.runPod(t, "host", true)
	st = s.sandboxStatus(t, s.host.id)
	if st.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY || st.GetNetwork().GetIp() != "" ||
		st.GetLinux().GetNamespaces().GetOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		t.Errorf("PodSandboxStatus on the host network: %v, want READY, no pod IP, network mode NODE", st)
	}
	if got := s.sandboxStatus(t, s.web.id[:12]); got.GetId() != s.web.id {
		t.Errorf("PodSandboxStatus by ID prefix: %s, want %s", got.GetId(), s.web.id)
	}

	ready := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}
	notReady := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	for _, c := range []struct {
		what   string
		filter *runtimeapi.PodSandboxFilter
		want   []string
	}{
		{"all", &runtimeapi.PodSandboxFilter{}, sorted(s.web.id, s.host.id)},
		{"by ID", &runtimeapi.PodSandboxFilter{Id: s.web.id}, []string{s.web.id}},
		{"by ID prefix", &runtimeapi.PodSandboxFilter{Id: s.web.id[:12]}, []string{s.web.id}},
		{"by unknown ID", &runtimeapi.PodSandboxFilter{Id: strings.Repeat("f", 64)}, nil},
		{"by label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "host"}}, []string{s.host.id}},
		{"READY", &runtimeapi.PodSandboxFilter{State: ready}, sorted(s.web.id, s.host.id)},
		{"NOTREADY", &runtimeapi.PodSandboxFilter{State: notReady}, nil},
	} {
		if got := s.listPods(t, c.filter); !slices.Equal(got, c.want) {
			t.Errorf("ListPodSandbox %s: %v, want %v", c.what, got, c.want)
		}
	}
}

func (s *conformance) listContainers(t *testing.T, f *runtimeapi.ContainerFilter) []string {
	t.Helper()
	list, err := s.rt.ListContainers(s.ctx, &runtimeapi.ListContainersRequest{Filter: f})
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	var ids []string
	for _, c := range list.GetContainers() {
		ids = append(ids, c.GetId())
	}
	slices.Sort(ids)
	return ids
}

func (s *conformance) exec(t *testing.T, id string, cmd []string, timeout int64) (*runtimeapi.ExecSyncResponse, error) {
	t.Helper()
	return s.rt.ExecSync(s.ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: timeout})
}

func (s *conformance) containers(t *testing.T) {
	s.ids = map[string]string{}
	config := s.containerConfig("sleeper", conformanceSleeperCmd)
	id := s.create(t, s.web, config)
	s.ids["sleeper"] = id
	logPath := filepath.Join(s.web.config.GetLogDirectory(), config.GetLogPath())
	st := s.containerStatus(t, id)
	if st.GetId() != id || st.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED || st.GetCreatedAt() == 0 ||
		st.GetStartedAt() != 0 || st.GetFinishedAt() != 0 || st.GetMetadata().GetName() != "sleeper" || st.GetLogPath() != logPath ||
		!maps.Equal(st.GetLabels(), config.GetLabels()) || !maps.Equal(st.GetAnnotations(), config.GetAnnotations()) {
		t.Errorf("ContainerStatus after CreateContainer: %v, want CREATED with the config's metadata, labels, annotations and log path %s", st, logPath)
	}
	img := s.imageStatus(t, s.cfg.Image)
	if st.GetImageRef() != s.imageID && !slices.Contains(img.GetRepoDigests(), st.GetImageRef()) {
		t.Errorf("ContainerStatus: image_ref %q, want the image ID %s or a repo digest", st.GetImageRef(), s.imageID)
	}
	if name := st.GetImage().GetImage(); name != s.cfg.Image && !slices.Contains(img.GetRepoTags(), name) {
		t.Errorf("ContainerStatus: image %q, want %s or one of its tags", name, s.cfg.Image)
	}
	list, err := s.rt.ListContainers(s.ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: id}})
	if err != nil || len(list.GetContainers()) != 1 || list.GetContainers()[0].GetImage().GetImage() != s.cfg.Image ||
		list.GetContainers()[0].GetImageRef() != s.imageID || list.GetContainers()[0].GetPodSandboxId() != s.web.id {
		t.Errorf("ListContainers by ID: %v %v, want the container with image %s (%s) in sandbox %s", list, err, s.cfg.Image, s.imageID, s.web.id)
	}
	_, err = s.rt.CreateContainer(s.ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: s.web.id, Config: config, SandboxConfig: s.web.config})
	wantError(t, "CreateContainer of the same container attempt again", err)
	absent := s.containerConfig("absent-image", conformanceForeverCmd)
	absent.Image.Image = "cri-conformance.invalid/absent:none"
	_, err = s.rt.CreateContainer(s.ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: s.web.id, Config: absent, SandboxConfig: s.web.config})
	wantCode(t, "CreateContainer with an absent image", err, codes.NotFound)

	s.start(t, id)
	if st := s.containerStatus(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING || st.GetStartedAt() < st.GetCreatedAt() {
		t.Errorf("ContainerStatus after StartContainer: %v, want RUNNING, started after created", st)
	}
	_, err = s.rt.StartContainer(s.ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	wantError(t, "StartContainer of a running container", err)
	if st := s.containerStatus(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("ContainerStatus after a second StartContainer: %v, want RUNNING", st.GetState())
	}
	s.waitLog(t, logPath, [2]string{"stdout", "hello-conformance"}, [2]string{"stderr", "to-stderr"})

	if r, err := s.exec(t, id, conformanceExecOutErr, 10); err != nil || r.GetExitCode() != 3 ||
		string(r.GetStdout()) != "out\n" || string(r.GetStderr()) != "err\n" {
		t.Errorf("ExecSync %q: %v %v, want exit code 3, stdout \"out\\n\", stderr \"err\\n\"", conformanceExecOutErr, r, err)
	}
	if r, err := s.exec(t, id, conformanceExecEnv, 10); err != nil || r.GetExitCode() != 0 || string(r.GetStdout()) != "from-config\n" {
		t.Errorf("ExecSync %q: %v %v, want the container's environment", conformanceExecEnv, r, err)
	}
	if r, err := s.exec(t, id, []string{"true"}, 0); err != nil || r.GetExitCode() != 0 {
		t.Errorf("ExecSync true: %v %v, want exit code 0", r, err)
	}
	_, err = s.exec(t, id, conformanceExecSleep, 1)
	wantCode(t, "ExecSync beyond its timeout", err, codes.DeadlineExceeded)

	stats, err := s.rt.ContainerStats(s.ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
	if err != nil || stats.GetStats().GetAttributes().GetId() != id || stats.GetStats().GetWritableLayer() == nil {
		t.Errorf("ContainerStats: %v %v, want the container's attributes and writable layer", stats, err)
	}
	all, err := s.rt.ListContainerStats(s.ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: s.web.id}})
	if err != nil || !slices.ContainsFunc(all.GetStats(), func(st *runtimeapi.ContainerStats) bool { return st.GetAttributes().GetId() == id }) {
		t.Errorf("ListContainerStats of the sandbox: %v %v, want the container among them", all, err)
	}

	// Containers that exit by themselves.
	exit3 := s.containerConfig("exit3", conformanceExit3Cmd)
	s.ids["exit3"] = s.create(t, s.web, exit3)
	s.start(t, s.ids["exit3"])
	st = s.waitExited(t, s.ids["exit3"])
	// No order between started_at and finished_at: containerd 1.6 stamps started_at when the task's
	// start returns, which can be after the exit of a container that ends at once.
	if st.GetExitCode() != 3 || st.GetReason() != "Error" || st.GetStartedAt() == 0 || st.GetFinishedAt() == 0 {
		t.Errorf("ContainerStatus of a container that exited with code 3: %v, want exit code 3, reason Error, started and finished", st)
	}
	s.waitLog(t, filepath.Join(s.web.config.GetLogDirectory(), exit3.GetLogPath()), [2]string{"stdout", "bye"})
	s.ids["done"] = s.create(t, s.web, s.containerConfig("done", []string{"true"}))
	s.start(t, s.ids["done"])
	if st := s.waitExited(t, s.ids["done"]); st.GetExitCode() != 0 || st.GetReason() != "Completed" {
		t.Errorf("ContainerStatus of a container that exited with code 0: %v, want reason Completed", st)
	}
	_, err = s.exec(t, s.ids["exit3"], []string{"true"}, 0)
	wantError(t, "ExecSync in an exited container", err)
	_, err = s.rt.StartContainer(s.ctx, &runtimeapi.StartContainerRequest{ContainerId: s.ids["exit3"]})
	wantError(t, "StartContainer of an exited container", err)

	running := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}
	exited := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_EXITED}
	for _, c := range []struct {
		what   string
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		{"by ID", &runtimeapi.ContainerFilter{Id: id}, []string{id}},
		{"by ID prefix", &runtimeapi.ContainerFilter{Id: id[:12]}, []string{id}},
		{"by unknown ID", &runtimeapi.ContainerFilter{Id: strings.Repeat("f", 64)}, nil},
		{"by sandbox", &runtimeapi.ContainerFilter{PodSandboxId: s.web.id}, sorted(id, s.ids["exit3"], s.ids["done"])},
		{"by sandbox prefix", &runtimeapi.ContainerFilter{PodSandboxId: s.web.id[:12]}, sorted(id, s.ids["exit3"], s.ids["done"])},
		{"by sandbox, RUNNING", &runtimeapi.ContainerFilter{PodSandboxId: s.web.id, State: running}, []string{id}},
		{"by sandbox, EXITED", &runtimeapi.ContainerFilter{PodSandboxId: s.web.id, State: exited}, sorted(s.ids["exit3"], s.ids["done"])},
		{"by label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"cri-conformance": s.uid, "name": "exit3"}}, []string{s.ids["exit3"]}},
	} {
		if got := s.listContainers(t, c.filter); !slices.Equal(got, c.want) {
			t.Errorf("ListContainers %s: %v, want %v", c.what, got, c.want)
		}
	}

	// The runtime outlives its clients: a new connection sees the same containers.
	conn, err := dialCRI(s.cfg.Endpoint)
	if err != nil {
		t.Fatalf("dial again: %v", err)
	}
	again, err := runtimeapi.NewRuntimeServiceClient(conn).ListContainers(s.ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{PodSandboxId: s.web.id},
	})
	_ = conn.Close()
	if err != nil || len(again.GetContainers()) != 3 {
		t.Errorf("ListContainers on a second connection: %v %v, want the 3 containers", again, err)
	}

	// Stop and remove.
	if _, err := s.rt.StopContainer(s.ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0}); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if st := s.containerStatus(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED ||
		st.GetExitCode() != 137 || st.GetReason() != "Error" || st.GetFinishedAt() == 0 {
		t.Errorf("ContainerStatus after StopContainer with timeout 0: %v, want EXITED, killed (137), reason Error", st)
	}
	_, err = s.rt.StopContainer(s.ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0})
	wantCode(t, "StopContainer of a stopped container", err, codes.OK)
	_, err = s.exec(t, id, []string{"true"}, 0)
	wantError(t, "ExecSync in a stopped container", err)
	done := s.ids["done"]
	if _, err := s.rt.RemoveContainer(s.ctx, &runtimeapi.RemoveContainerRequest{ContainerId: done}); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	_, err = s.rt.ContainerStatus(s.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: done})
	wantCode(t, "ContainerStatus of a removed container", err, codes.NotFound)
	_, err = s.rt.RemoveContainer(s.ctx, &runtimeapi.RemoveContainerRequest{ContainerId: done})
	wantCode(t, "RemoveContainer of a removed container", err, codes.OK)
	// The name is free again: the same container attempt can be created anew.
	s.ids["done"] = s.create(t, s.web, s.containerConfig("done", []string{"true"}))
}

func (s *conformance) stopSandbox(t *testing.T) {
	runner := s.create(t, s.web, s.containerConfig("runner", conformanceForeverCmd))
	s.start(t, runner)
	late := s.create(t, s.web, s.containerConfig("late", conformanceForeverCmd))
	s.ids["runner"], s.ids["late"] = runner, late

	if _, err := s.rt.StopPodSandbox(s.ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.web.id}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if st := s.sandboxStatus(t, s.web.id); st.GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || st.GetNetwork().GetIp() != "" {
		t.Errorf("PodSandboxStatus after StopPodSandbox: %v, want NOTREADY without pod IP", st)
	}
	if st := s.containerStatus(t, runner); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetExitCode() != 137 {
		t.Errorf("ContainerStatus of a running container after StopPodSandbox: %v, want EXITED, killed (137)", st)
	}
	if st := s.containerStatus(t, late); st.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("ContainerStatus of a created container after StopPodSandbox: %v, want still CREATED", st.GetState())
	}
	_, err := s.rt.StopPodSandbox(s.ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.web.id})
	wantCode(t, "StopPodSandbox of a stopped sandbox", err, codes.OK)
	_, err = s.rt.CreateContainer(s.ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: s.web.id, Config: s.containerConfig("too-late", conformanceForeverCmd), SandboxConfig: s.web.config,
	})
	wantError(t, "CreateContainer in a stopped sandbox", err)
	_, err = s.rt.StartContainer(s.ctx, &runtimeapi.StartContainerRequest{ContainerId: late})
	wantError(t, "StartContainer in a stopped sandbox", err)
	if st := s.containerStatus(t, late); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetReason() != "StartError" {
		t.Errorf("ContainerStatus after a failed start: %v, want EXITED with reason StartError", st)
	}
	notReady := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	if got := s.listPods(t, &runtimeapi.PodSandboxFilter{State: notReady}); !slices.Equal(got, []string{s.web.id}) {
		t.Errorf("ListPodSandbox NOTREADY: %v, want %v", got, []string{s.web.id})
	}
}

func (s *conformance) removeSandbox(t *testing.T) {
	if _, err := s.rt.RemovePodSandbox(s.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.web.id}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if got := s.listContainers(t, &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"cri-conformance": s.uid}}); len(got) != 0 {
		t.Errorf("ListContainers after RemovePodSandbox: %v, want none", got)
	}
	for name, id := range s.ids {
		_, err := s.rt.ContainerStatus(s.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		wantCode(t, "ContainerStatus of "+name+" after RemovePodSandbox", err, codes.NotFound)
	}
	_, err := s.rt.PodSandboxStatus(s.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: s.web.id})
	wantCode(t, "PodSandboxStatus of a removed sandbox", err, codes.NotFound)
	_, err = s.rt.StopPodSandbox(s.ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.web.id})
	wantCode(t, "StopPodSandbox of a removed sandbox", err, codes.NotFound)
	_, err = s.rt.RemovePodSandbox(s.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.web.id})
	wantCode(t, "RemovePodSandbox of a removed sandbox", err, codes.OK)

	// A READY sandbox with a running container goes in one call.
	hostc := s.create(t, s.host, s.containerConfig("hostc", conformanceForeverCmd))
	s.start(t, hostc)
	if _, err := s.rt.RemovePodSandbox(s.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.host.id}); err != nil {
		t.Fatalf("RemovePodSandbox of a READY sandbox: %v", err)
	}
	_, err = s.rt.ContainerStatus(s.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: hostc})
	wantCode(t, "ContainerStatus after RemovePodSandbox of a READY sandbox", err, codes.NotFound)
	if got := s.listPods(t, &runtimeapi.PodSandboxFilter{}); len(got) != 0 {
		t.Errorf("ListPodSandbox after removing both: %v, want none", got)
	}
	// The pod's name is free again.
	again, err := s.rt.RunPodSandbox(s.ctx, &runtimeapi.RunPodSandboxRequest{Config: s.host.config})
	if err != nil {
		t.Fatalf("RunPodSandbox after RemovePodSandbox of the same pod: %v", err)
	}
	if _, err := s.rt.RemovePodSandbox(s.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: again.GetPodSandboxId()}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
}

func (s *conformance) unknownIDs(t *testing.T) {
	unknown := strings.Repeat("f", 64)
	_, err := s.rt.ContainerStatus(s.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: unknown})
	wantCode(t, "ContainerStatus", err, codes.NotFound)
	_, err = s.rt.StartContainer(s.ctx, &runtimeapi.StartContainerRequest{ContainerId: unknown})
	wantCode(t, "StartContainer", err, codes.NotFound)
	_, err = s.rt.StopContainer(s.ctx, &runtimeapi.StopContainerRequest{ContainerId: unknown})
	wantCode(t, "StopContainer", err, codes.NotFound)
	_, err = s.rt.RemoveContainer(s.ctx, &runtimeapi.RemoveContainerRequest{ContainerId: unknown})
	wantCode(t, "RemoveContainer", err, codes.OK)
	_, err = s.exec(t, unknown, []string{"true"}, 0)
	wantCode(t, "ExecSync", err, codes.NotFound)
	_, err = s.rt.ContainerStats(s.ctx, &runtimeapi.ContainerStatsRequest{ContainerId: unknown})
	wantCode(t, "ContainerStats", err, codes.NotFound)
	_, err = s.rt.PodSandboxStatus(s.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: unknown})
	wantCode(t, "PodSandboxStatus", err, codes.NotFound)
	_, err = s.rt.StopPodSandbox(s.ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: unknown})
	wantCode(t, "StopPodSandbox", err, codes.NotFound)
	_, err = s.rt.RemovePodSandbox(s.ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: unknown})
	wantCode(t, "RemovePodSandbox", err, codes.OK)
	_, err = s.rt.PodSandboxStats(s.ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: unknown})
	wantCode(t, "PodSandboxStats", err, codes.NotFound)
	_, err = s.rt.CreateContainer(s.ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: unknown, Config: s.containerConfig("orphan", conformanceForeverCmd),
	})
	wantCode(t, "CreateContainer in an unknown sandbox", err, codes.NotFound)
}
