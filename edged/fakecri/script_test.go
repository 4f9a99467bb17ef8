package fakecri

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestNormalizeRef(t *testing.T) {
	t.Parallel()
	id := "sha256:" + strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		"busybox":                         "docker.io/library/busybox:latest",
		"busybox:1.36":                    "docker.io/library/busybox:1.36",
		"library/busybox":                 "docker.io/library/busybox:latest",
		"docker.io/busybox":               "docker.io/library/busybox:latest",
		"index.docker.io/library/busybox": "docker.io/library/busybox:latest",
		"kubeedge/edgecore:v1.20":         "docker.io/kubeedge/edgecore:v1.20",
		"registry.k8s.io/pause:3.9":       "registry.k8s.io/pause:3.9",
		"localhost/app":                   "localhost/app:latest",
		"127.0.0.1:5000/a/b":              "127.0.0.1:5000/a/b:latest",
		"127.0.0.1:5000/a/b:v1":           "127.0.0.1:5000/a/b:v1",
		"busybox@" + id:                   "docker.io/library/busybox@" + id,
		"quay.io/x/y:1@" + id:             "quay.io/x/y:1@" + id,
		id:                                id,
		"":                                "",
	} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
	if got := repository("127.0.0.1:5000/a/b:v1"); got != "127.0.0.1:5000/a/b" {
		t.Errorf("repository = %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"long socket":   {SocketPath: "/" + strings.Repeat("x", 120)},
		"bad CIDR":      {PodCIDR: "10.0.0.0/33"},
		"tiny CIDR":     {PodCIDR: "10.0.0.1/32"},
		"empty image":   {Images: []Image{{}}},
		"bad image ID":  {Images: []Image{{ID: "sha256:nothex"}}},
		"unknown hook":  {Hooks: map[string]Hook{"StartContainerz": nil}},
		"negative size": {EventBuffer: -1},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", name, err)
		}
		if err := New(c).Start(context.Background()); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Start() = %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if err := New(Config{}).Start(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Start without SocketPath: %v, want ErrInvalidConfig", err)
	}
}

func TestScriptPrecedence(t *testing.T) {
	t.Parallel()
	var sc script
	sc.setContainer(Match{}, Behavior{MemoryBytes: 1})
	sc.setContainer(Match{Container: "app"}, Behavior{MemoryBytes: 2})
	sc.setContainer(Match{Image: "busybox"}, Behavior{MemoryBytes: 3}) // as specific as the one before, set later
	sc.setContainer(Match{Pod: "web", Container: "app"}, Behavior{MemoryBytes: 4})
	for _, c := range []struct {
		s    subject
		want uint64
	}{
		{subject{Container: "other", Image: "docker.io/library/nginx:latest"}, 1},
		{subject{Container: "app", Image: "docker.io/library/nginx:latest"}, 2},
		{subject{Container: "app", Image: "docker.io/library/busybox:latest"}, 3},
		{subject{Pod: "web", Container: "app", Image: "docker.io/library/busybox:latest"}, 4},
	} {
		if got := sc.container(c.s).MemoryBytes; got != c.want {
			t.Errorf("container(%+v) = rule %d, want %d", c.s, got, c.want)
		}
	}
	sc.setContainer(Match{Container: "app"}, Behavior{MemoryBytes: 5}) // replaces rule 2 and is now newest
	if got := sc.container(subject{Container: "app", Image: "docker.io/library/busybox:latest"}).MemoryBytes; got != 5 {
		t.Errorf("after replacing: rule %d, want 5", got)
	}
	id := "sha256:" + strings.Repeat("0", 64)
	sc.setContainer(Match{Image: id}, Behavior{MemoryBytes: 6})
	if got := sc.container(subject{Container: "x", Image: "docker.io/library/a:latest", ImageID: id}).MemoryBytes; got != 6 {
		t.Errorf("by image ID: rule %d, want 6", got)
	}

	sc.setExec(Match{Pod: "web", Container: "app"}, nil, ExecResult{ExitCode: 1})
	sc.setExec(Match{}, []string{"cat", "/healthy"}, ExecResult{ExitCode: 2})
	web := subject{Pod: "web", Container: "app"}
	if got := sc.exec(web, []string{"cat", "/healthy"}).ExitCode; got != 2 {
		t.Errorf("exec with a command rule: %d, want 2 (a command outranks the Match)", got)
	}
	if got := sc.exec(web, []string{"ls"}).ExitCode; got != 1 {
		t.Errorf("exec of another command: %d, want 1", got)
	}
	if got := sc.exec(subject{Pod: "db"}, []string{"ls"}); got.ExitCode != 0 || got.Err != nil {
		t.Errorf("unscripted exec: %+v, want success", got)
	}
}

func TestContainerExitsByItself(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.rt.SetBehavior(Match{Container: "job"}, Behavior{Exit: &Exit{After: 30 * time.Millisecond, Code: 2, Message: "boom"}})
	e.rt.SetBehavior(Match{Container: "oom"}, Behavior{Exit: &Exit{Code: 137, Reason: "OOMKilled"}})
	podID, pod := e.runPod("batch")
	job := e.create(podID, pod, "job")
	e.start(job)
	if st := e.status(job); st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("right after StartContainer: %v, want RUNNING", st.GetState())
	}
	st := e.waitState(job, runtimeapi.ContainerState_CONTAINER_EXITED)
	if st.GetExitCode() != 2 || st.GetReason() != "Error" || st.GetMessage() != "boom" ||
		st.GetFinishedAt()-st.GetStartedAt() < int64(30*time.Millisecond) {
		t.Errorf("exited job: %v, want code 2, Error, boom, after 30ms", st)
	}
	oom := e.create(podID, pod, "oom")
	e.start(oom)
	if st := e.status(oom); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetReason() != "OOMKilled" {
		t.Errorf("oom: %v, want EXITED at once, OOMKilled", st)
	}
}

func TestStartScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.rt.SetBehavior(Match{Container: "slow"}, Behavior{StartDelay: 150 * time.Millisecond})
	e.rt.SetBehavior(Match{Container: "broken"}, Behavior{StartErr: errors.New("exec: \"app\": not found")})
	e.rt.SetBehavior(Match{Container: "refused"}, Behavior{CreateErr: status.Error(codes.ResourceExhausted, "no room")})
	podID, pod := e.runPod("p")

	slow := e.create(podID, pod, "slow")
	done := make(chan error, 1)
	begin := time.Now()
	go func() {
		_, err := e.rs.StartContainer(e.ctx, &runtimeapi.StartContainerRequest{ContainerId: slow})
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	if st := e.status(slow); st.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("during a slow start: %v, want CREATED", st.GetState())
	}
	_, err := e.rs.StartContainer(e.ctx, &runtimeapi.StartContainerRequest{ContainerId: slow})
	wantStatus(t, "a second StartContainer during the first", err, codes.Unknown)
	if err := <-done; err != nil || time.Since(begin) < 150*time.Millisecond {
		t.Errorf("slow StartContainer: %v after %v, want success after 150ms", err, time.Since(begin))
	}

	broken := e.create(podID, pod, "broken")
	_, err = e.rs.StartContainer(e.ctx, &runtimeapi.StartContainerRequest{ContainerId: broken})
	wantStatus(t, "StartContainer with StartErr", err, codes.Unknown)
	if st := e.status(broken); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetExitCode() != 128 ||
		st.GetReason() != "StartError" || !strings.Contains(st.GetMessage(), "not found") {
		t.Errorf("after a failed start: %v, want EXITED 128 StartError with the message", st)
	}

	_, err = e.tryCreate(podID, pod, "refused")
	wantStatus(t, "CreateContainer with CreateErr", err, codes.ResourceExhausted)
	e.rt.SetBehavior(Match{Container: "refused"}, Behavior{})
	e.create(podID, pod, "refused") // the name was not kept by the failed attempt
}

func TestSandboxScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.rt.SetSandbox(Match{Pod: "flaky"}, SandboxBehavior{RunErr: errors.New("CNI failed")})
	_, err := e.rs.RunPodSandbox(e.ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("flaky")})
	wantStatus(t, "RunPodSandbox with RunErr", err, codes.Unknown)
	e.rt.SetSandbox(Match{Pod: "flaky"}, SandboxBehavior{RunDelay: 50 * time.Millisecond})
	begin := time.Now()
	if _, err := e.rs.RunPodSandbox(e.ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig("flaky")}); err != nil {
		t.Fatalf("RunPodSandbox after the failure: %v (the name must be free again)", err)
	}
	if d := time.Since(begin); d < 50*time.Millisecond {
		t.Errorf("RunPodSandbox took %v, want the 50ms delay", d)
	}
}

func TestPullScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Images: []Image{}})
	pull := func(ref string) (string, error) {
		resp, err := e.is.PullImage(e.ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		return resp.GetImageRef(), err
	}
	id, err := pull("nginx:1.27")
	if err != nil || !isImageID(id) {
		t.Fatalf("PullImage: %q %v", id, err)
	}
	st, _ := e.is.ImageStatus(e.ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/nginx:1.27"}})
	if img := st.GetImage(); img.GetId() != id || len(img.GetRepoDigests()) != 1 ||
		!strings.HasPrefix(img.GetRepoDigests()[0], "docker.io/library/nginx@sha256:") || img.GetSize() != DefaultImageSize {
		t.Errorf("pulled image: %v", img)
	}
	if again, _ := pull("docker.io/library/nginx:1.27"); again != id {
		t.Errorf("pulling again: %s, want the same ID %s", again, id)
	}

	e.rt.SetPull("ghost", PullBehavior{Err: ErrImageNotFound})
	_, err = pull("docker.io/library/ghost:latest")
	wantStatus(t, "pull of a missing image", err, codes.NotFound)
	e.rt.SetPull("private/app:1", PullBehavior{Err: status.Error(codes.PermissionDenied, "unauthorized")})
	_, err = pull("private/app:1")
	wantStatus(t, "pull with a status error", err, codes.PermissionDenied)
	e.rt.SetPull("flaky:1", PullBehavior{Err: errors.New("connection reset")})
	_, err = pull("flaky:1")
	wantStatus(t, "pull with a plain error", err, codes.Unknown)

	e.rt.SetPull("big:1", PullBehavior{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	_, err = e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "big:1"}})
	wantStatus(t, "a slow pull the client gave up on", err, codes.DeadlineExceeded)

	want := "sha256:" + strings.Repeat("1", 64)
	e.rt.SetPull("pinned:1", PullBehavior{Image: Image{ID: want, Size: 42, Pinned: true, User: "1000:1000"}})
	if id, err := pull("pinned:1"); err != nil || id != want {
		t.Errorf("pull with a scripted image: %s %v, want %s", id, err, want)
	}
	st, _ = e.is.ImageStatus(e.ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "pinned:1"}})
	if img := st.GetImage(); img.GetSize() != 42 || !img.GetPinned() || img.GetUid().GetValue() != 1000 {
		t.Errorf("scripted image: %v", img)
	}
}

func TestExecScriptAtRunTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	podID, pod := e.runPod("web")
	id := e.create(podID, pod, "app")
	e.start(id)
	probe := []string{"cat", "/tmp/healthy"}
	exec := func(timeout int64) (*runtimeapi.ExecSyncResponse, error) {
		return e.rs.ExecSync(e.ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: probe, Timeout: timeout})
	}
	if r, err := exec(1); err != nil || r.GetExitCode() != 0 {
		t.Fatalf("unscripted exec: %v %v", r, err)
	}
	e.rt.SetExec(Match{Pod: "web", Container: "app"}, probe, ExecResult{ExitCode: 1, Stderr: "cat: can't open"})
	if r, err := exec(1); err != nil || r.GetExitCode() != 1 || string(r.GetStderr()) != "cat: can't open" {
		t.Errorf("failing probe: %v %v", r, err)
	}
	e.rt.SetExec(Match{Pod: "web", Container: "app"}, probe, ExecResult{Delay: 2 * time.Second})
	begin := time.Now()
	_, err := exec(1)
	wantStatus(t, "exec beyond its timeout", err, codes.DeadlineExceeded)
	if d := time.Since(begin); d < time.Second || d > 1900*time.Millisecond {
		t.Errorf("exec timed out after %v, want about 1s", d)
	}
	e.rt.SetExec(Match{Pod: "web", Container: "app"}, probe, ExecResult{Err: errors.New(`exec: "cat": executable file not found in $PATH`)})
	_, err = exec(1)
	wantStatus(t, "exec of a missing program", err, codes.Unknown)
	if n := e.rt.CallCount("ExecSync", Match{Pod: "web"}); n != 4 {
		t.Errorf("ExecSync calls for pod web: %d, want 4", n)
	}
}

func TestStopContainerTerm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.rt.SetBehavior(Match{Container: "graceful"}, Behavior{Term: &Term{After: 40 * time.Millisecond}})
	e.rt.SetBehavior(Match{Container: "stubborn"}, Behavior{Term: &Term{Ignore: true}})
	podID, pod := e.runPod("p")
	stop := func(name string, timeout int64) (*runtimeapi.ContainerStatus, time.Duration) {
		id := e.create(podID, pod, name)
		e.start(id)
		begin := time.Now()
		if _, err := e.rs.StopContainer(e.ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: timeout}); err != nil {
			t.Fatalf("StopContainer %s: %v", name, err)
		}
		return e.status(id), time.Since(begin)
	}
	if st, d := stop("plain", 30); st.GetExitCode() != 143 || d > 100*time.Millisecond {
		t.Errorf("unscripted container stopped with timeout 30: code %d after %v, want 143 at once", st.GetExitCode(), d)
	}
	if st, d := stop("graceful", 30); st.GetExitCode() != 0 || st.GetReason() != "Completed" || d < 40*time.Millisecond {
		t.Errorf("graceful container: %v after %v, want code 0 after 40ms", st, d)
	}
	if st, d := stop("stubborn", 1); st.GetExitCode() != 137 || d < time.Second {
		t.Errorf("container ignoring SIGTERM: code %d after %v, want 137 after the 1s timeout", st.GetExitCode(), d)
	}
}

func TestLogFile(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	e := newEnv(t, Config{Now: func() time.Time { return now }})
	e.rt.SetBehavior(Match{Image: "busybox:1.36"}, Behavior{Log: []LogLine{
		{Stream: Stdout, Text: "one\ntwo"},
		{Stream: Stderr, Text: "oops"},
		{Text: "part", Partial: true},
	}})
	podID, pod := e.runPod("p")
	id := e.create(podID, pod, "app")
	e.start(id)
	path := e.status(id).GetLogPath()
	if path == "" || !strings.HasPrefix(path, pod.GetLogDirectory()) {
		t.Fatalf("log path %q, want it under %s", path, pod.GetLogDirectory())
	}
	if err := e.rt.WriteLog(id[:8], StdoutLines("later")...); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "2025-01-02T03:04:05.0000006Z stdout F one\n" +
		"2025-01-02T03:04:05.0000006Z stdout F two\n" +
		"2025-01-02T03:04:05.0000006Z stderr F oops\n" +
		"2025-01-02T03:04:05.0000006Z stdout P part\n" +
		"2025-01-02T03:04:05.0000006Z stdout F later\n"
	if string(b) != want {
		t.Errorf("log file:\n%s\nwant:\n%s", b, want)
	}
	lines, err := readCRILog(path)
	if err != nil || len(lines) != 5 {
		t.Errorf("readCRILog: %v %v", lines, err)
	}
}
