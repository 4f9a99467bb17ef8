// Package fakecri is an in-process fake CRI runtime for fast tests of edged: a real gRPC server on a
// unix socket serving the CRI v1 RuntimeService and ImageService (k8s.io/cri-api) from in-memory state.
// Clients talk to it exactly as to containerd — same protocol, same state machine, same gRPC codes —
// but nothing runs: what a container prints, when it exits and what exec returns is scripted.
//
// # Use
//
//	rt := fakecri.StartForTest(t, fakecri.Config{
//		Images: []fakecri.Image{{Tags: []string{"busybox:1.36"}}},
//	})
//	// point the code under test at rt.Endpoint() ("unix:///tmp/fcri…/cri.sock")
//
// Outside tests: New(cfg), then Start(ctx) (serves in the background) or Serve(ctx) (blocks), and
// Close. The Runtime outlives its clients, so a test can restart edged against the same runtime and
// check what it adopts.
//
// # State
//
// Images: Config.Images are present from the start; PullImage stores any reference (with an ID, a
// repo digest and a size derived from the name) unless scripted otherwise; references are normalised
// as Docker does ("busybox" is "docker.io/library/busybox:latest"), and images are found by tag, repo
// digest, ID or unique ID prefix. Pod sandboxes: RunPodSandbox reserves the pod attempt's name
// (<name>_<namespace>_<uid>_<attempt>), gives a pod on the pod network the next free address of
// Config.PodCIDR after the gateway, or none on the host network. Containers: CreateContainer requires a
// READY sandbox and a present image and reserves the container attempt's name; states go CREATED →
// RUNNING → EXITED. As with containerd, a container's log path is the LogDirectory of the
// CreateContainer request's SandboxConfig joined with its LogPath: a client that leaves SandboxConfig
// out gets no log file. IDs are 64 random hex characters; every method takes a unique ID prefix too.
//
// # Scripting
//
// Rules match by Match{Namespace, Pod, PodUID, Container, Image}; the most specific matching rule wins,
// ties go to the rule set last. Set them in Config.Script or at run time (safe for concurrent use):
//
//   - SetBehavior: a container's CreateErr, StartErr, StartDelay, Log lines written to its CRI log file
//     at start, Exit{After, Code, Reason} (it exits by itself), Term (how it reacts to StopContainer's
//     SIGTERM), MemoryBytes for the stats.
//   - SetExec: ExecSync's result per container and command (exit code, stdout, stderr, delay, error);
//     change it at run time to make a liveness probe start failing.
//   - SetPull: a pull's error (ErrImageNotFound gives containerd's NotFound), delay, or resulting image.
//   - SetSandbox: RunPodSandbox's error or delay.
//   - SetHook: a function that runs before any gRPC method, may block (watching its context) or fail it.
//   - ExitContainer, FailSandbox, WriteLog: events from outside — a crash, an OOM kill, a dead sandbox,
//     more log output.
//   - SetCondition: the RuntimeReady and NetworkReady conditions Status reports.
//   - Config.Now: the clock stamped on objects, log lines and calls (delays use real timers).
//
// Unscripted, a container starts at once, logs nothing, runs until stopped and exits on SIGTERM at once
// with code 143; StopContainer with timeout 0, StopPodSandbox and RemoveContainer kill (137); ExecSync
// succeeds with no output; pulls succeed.
//
// # Inspection
//
// Every call is logged with the pod, container and image it concerned: CallCount("StartContainer",
// Match{Pod: "web"}) proves that no duplicate container was started after an edged restart; Calls
// returns the calls themselves, CallCounts the totals per method. Containers and Sandboxes return what
// the runtime holds, with the configs it received (command, args, env, mounts, labels, annotations).
// GetContainerEvents streams created/started/stopped/deleted events.
//
// # Conformance
//
// RunCRIConformance drives any CRI endpoint through the lifecycle edged depends on; this package runs it
// against the fake (scripted by ConformanceScript) and against a real containerd (internal/testenv), so
// the fake's behaviour is checked against containerd's wherever the suite looks.
//
// # Where the fake differs from containerd (1.6, the version the tests run)
//
//   - Nothing runs: no processes, namespaces, mounts, cgroups or network; exec results, output and exits
//     are scripted. The pod IP is bookkeeping only. The log file is written only from the script and
//     WriteLog.
//   - Exec, Attach and PortForward (streaming), CheckpointContainer and the metrics methods return
//     codes.Unimplemented. Verbose status info is empty.
//   - GetContainerEvents, RuntimeConfig (cgroupfs by default), the Stream* list methods and
//     PodSandboxStatus's container statuses are served; containerd 1.6 lacks them (1.7 and later have
//     them). Every events subscriber gets every event; containerd shares one channel among them.
//   - ContainerStats works for a container that is not running (containerd fails); PodSandboxStats
//     returns sums of fake numbers (containerd 1.6 fails without a pod cgroup). CPU is 1% of a core,
//     memory 4 MiB or the script's.
//   - ListImages honours its filter (containerd 1.6 lists everything).
//   - State lives in memory: the Runtime survives client restarts, not its own Close.
//   - A container that exits at once has finished_at ≥ started_at; containerd may report finished_at a
//     little before started_at.
//   - The default reaction to SIGTERM is to exit at once with 143; busybox as PID 1 ignores SIGTERM, so
//     containerd kills it after the timeout (137).
package fakecri
