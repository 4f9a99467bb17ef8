package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgehive/edgehive/examples/cloud/cloudapp"
	"github.com/edgehive/edgehive/examples/edge/edgeapp"
	"github.com/edgehive/edgehive/internal/testenv"
)

//go:embed manifests.yaml
var manifests string

var (
	errHelp  = errors.New("help requested")
	errUsage = errors.New("usage")
)

type options struct {
	dataDir  string
	nodeName string
	mapper   string
	check    bool
	timeout  time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for every component's state and logs (default: a new directory under $TMPDIR, kept after exit)")
	fs.StringVar(&o.nodeName, "node-name", "edge-1", "the edge node's name")
	fs.StringVar(&o.mapper, "mapper", "", "path of the examples/mapper binary (default: \"mapper\" next to this program)")
	fs.BoolVar(&o.check, "check", false, "exit 0 as soon as the sample pod runs on the edge and the Device has a reported value (for CI)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "with --check: how long to wait before failing")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: quickstart [flags]

Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, the edgehive cloud,
one edge node joined with a token, and a simulated thermostat; applies a Deployment pinned to the edge
node and a Device; prints where to look; runs until Ctrl-C and stops everything it started.
Needs root and what 'make test' installs (run it through 'make quickstart').

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if o.mapper == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the mapper next to this program: %w", err)
		}
		o.mapper = filepath.Join(filepath.Dir(exe), "mapper")
	}
	if _, err := os.Stat(o.mapper); err != nil {
		return o, fmt.Errorf("%w: mapper binary: %v (build it: go build -o bin/ ./examples/mapper)", errUsage, err)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.dataDir == "" {
		if o.dataDir, err = os.MkdirTemp("", "edgehive-quickstart-"); err != nil {
			return err
		}
	}
	if o.dataDir, err = filepath.Abs(o.dataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	step := func(format string, a ...any) { fmt.Fprintf(stdout, "==> "+format+"\n", a...) }
	return testenv.RunSession(ctx, o.dataDir, stderr, func(s *testenv.Session) error {
		return quickstart(ctx, s, o, stdout, step)
	})
}

// quickstart starts everything inside the session s; s's cleanups stop it all, last started first.
func quickstart(ctx context.Context, s *testenv.Session, o options, stdout io.Writer, step func(string, ...any)) error {
	testenv.RequireRoot(s, "the quickstart (containerd)")
	step("starting etcd, kube-apiserver, kube-controller-manager")
	k := testenv.StartKubeWith(s, testenv.KubeOptions{NodeLifecycle: true})
	step("starting kube-scheduler")
	k.StartScheduler(s)
	if err := k.WaitDefaultServiceAccount(ctx, "default"); err != nil {
		return fmt.Errorf("step kube-controller-manager: %w", err)
	}
	step("starting containerd with the local busybox image")
	ctrd := testenv.StartContainerd(s)

	hub, join := addr(s), addr(s)
	meta, mqtt := addr(s), addr(s)
	cloudDir, edgeDir := filepath.Join(o.dataDir, "cloud"), filepath.Join(o.dataDir, "edge")

	step("creating a join token")
	var tok bytes.Buffer
	if err := cloudapp.Run(ctx, []string{"token", "--data-dir", cloudDir}, &tok, io.Discard); err != nil {
		return fmt.Errorf("step token: %w", err)
	}

	// The cloud and the edge run in this process until the session ends; their cleanup, registered
	// after containerd's, runs before it.
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	exited := make(chan string, 2)
	s.Cleanup(func() { cancel(); wg.Wait() })
	start := func(name string, fn func(context.Context, []string, io.Writer, io.Writer) error, args ...string) error {
		logf, err := os.Create(filepath.Join(o.dataDir, name+".log"))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer logf.Close()
			if err := fn(runCtx, args, logf, logf); err != nil && runCtx.Err() == nil {
				fmt.Fprintf(logf, "exited: %v\n", err)
			}
			if runCtx.Err() == nil {
				exited <- name
			}
		}()
		return nil
	}
	step("starting the edgehive cloud (hub %s, join %s)", hub, join)
	if err := start("cloud", cloudapp.Run, "--kubeconfig", k.KubeconfigPath, "--listen", hub,
		"--join-listen", join, "--data-dir", cloudDir); err != nil {
		return err
	}
	step("starting the edge %q (MetaServer http://%s, MQTT %s)", o.nodeName, meta, mqtt)
	if err := start("edge", edgeapp.Run, "--node-name", o.nodeName, "--cloud", hub, "--join", join,
		"--token", strings.TrimSpace(tok.String()), "--data-dir", edgeDir, "--cri-endpoint", ctrd.Endpoint,
		"--mqtt-listen", mqtt, "--metaserver", meta, "--node-ip", "127.0.0.1"); err != nil {
		return err
	}

	cs := k.Clientset(s)
	step("waiting for node %s to be Ready", o.nodeName)
	if err := wait(ctx, exited, 2*time.Minute, func(ctx context.Context) error {
		n, err := cs.CoreV1().Nodes().Get(ctx, o.nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s not Ready yet", o.nodeName)
	}); err != nil {
		return fmt.Errorf("step join: %w", err)
	}

	step("starting the thermostat simulator (examples/mapper)")
	testenv.StartProcess(s, o.dataDir, "mapper", o.mapper, "--broker", "tcp://"+mqtt,
		"--device", "default/thermostat", "--interval", "1s")

	step("applying a Deployment pinned to the edge node and a thermostat Device")
	mf := filepath.Join(o.dataDir, "samples.yaml")
	if err := os.WriteFile(mf, []byte(strings.ReplaceAll(manifests, "EDGE_NODE", o.nodeName)), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, k.Kubectl(s, "apply", "-f", mf))

	kubectl := fmt.Sprintf("%s --kubeconfig %s", k.KubectlPath, k.KubeconfigPath)
	fmt.Fprintf(stdout, `
edgehive quickstart is running. State and logs: %s
  %s get nodes -o wide
  %s get pods -o wide
  %s get devices.devices.kubeedge.io thermostat -o jsonpath='{.status.twins}'
  %s --server http://%s get pods -A        # the edge's MetaServer, also offline
  logs: %s/{cloud,edge}.log, mapper: %s/mapper.log
`, o.dataDir, kubectl, kubectl, kubectl, k.KubectlPath, meta, o.dataDir, o.dataDir)

	if !o.check {
		fmt.Fprintln(stdout, "Press Ctrl-C to stop everything.")
		select {
		case <-ctx.Done():
		case name := <-exited:
			return fmt.Errorf("the %s stopped on its own: see %s.log", name, filepath.Join(o.dataDir, name))
		}
		step("stopping")
		return nil
	}

	step("checking: the sample pod runs on the edge")
	if err := wait(ctx, exited, o.timeout, func(ctx context.Context) error {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=hello-edge"})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == o.nodeName && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				return nil
			}
		}
		return fmt.Errorf("no Running hello-edge pod on %s yet", o.nodeName)
	}); err != nil {
		return fmt.Errorf("step pod: %w", err)
	}
	step("checking: the Device has a reported value")
	if err := wait(ctx, exited, o.timeout, func(ctx context.Context) error {
		out, err := k.RunKubectl(ctx, "get", "devices.devices.kubeedge.io", "thermostat", "-o",
			"jsonpath={.status.twins[*].reported.value}")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return errors.New("no reported twin value yet")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("step device: %w", err)
	}
	fmt.Fprintln(stdout, "quickstart check: OK — the pod runs on the edge and the Device has reported values")
	return nil
}

// wait polls cond every 500ms until it returns nil, the timeout passes, ctx ends or a process exits.
func wait(ctx context.Context, exited <-chan string, timeout time.Duration, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		last = cond(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", timeout, last)
		case name := <-exited:
			return fmt.Errorf("the %s stopped on its own (see its log): %w", name, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func addr(s *testenv.Session) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(s)) }
