package metaserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/internal/testenv"
)

// kubectl runs the built kubectl against e with no kubeconfig, no kuberc and a private cache dir.
func kubectl(t *testing.T, e *env, args ...string) string {
	t.Helper()
	bin := testenv.LookPath(t, "kubectl", testenv.K8sBinDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"--server", e.url, "--cache-dir", t.TempDir(), "--request-timeout", "20s"}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "KUBERC=off", "KUBECONFIG=", "HOME="+home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	if s := stderr.String(); s != "" {
		t.Logf("kubectl %s stderr:\n%s", strings.Join(args, " "), s)
	}
	return string(out)
}

func TestKubectl(t *testing.T) {
	e := start(t)
	e.seed(t)

	out := kubectl(t, e, "get", "pods", "-A")
	t.Logf("kubectl get pods -A:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAMESPACE") || !strings.Contains(lines[0], "STATUS") {
		t.Fatalf("unexpected table:\n%s", out)
	}
	for i, want := range []string{"default db-1 1/1 Running 2", "default web-1 1/1 Running 2", "kube-system proxy 1/1 Running 2"} {
		if got := strings.Join(strings.Fields(lines[i+1])[:5], " "); got != want {
			t.Errorf("row %d = %q, want %q", i+1, got, want)
		}
	}

	out = kubectl(t, e, "get", "pods", "-A", "-o", "json")
	var l struct {
		Kind  string
		Items []struct {
			Metadata struct{ Name, Namespace string }
		}
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.Kind != "List" && l.Kind != "PodList" || len(l.Items) != 3 {
		t.Fatalf("kubectl get pods -A -o json: %v\n%s", err, out)
	}

	out = kubectl(t, e, "get", "configmaps", "-n", "default")
	t.Logf("kubectl get configmaps:\n%s", out)
	if !strings.Contains(out, "settings") || !strings.Contains(out, "DATA") {
		t.Fatalf("configmaps:\n%s", out)
	}
	out = kubectl(t, e, "get", "nodes")
	t.Logf("kubectl get nodes:\n%s", out)
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) < 3 || f[0] != "edge-1" || f[1] != "Ready" || f[2] != "edge" {
		t.Fatalf("nodes:\n%s", out)
	}
	out = kubectl(t, e, "get", "devices.devices.kubeedge.io", "-A")
	t.Logf("kubectl get devices:\n%s", out)
	if !strings.Contains(out, "thermo") {
		t.Fatalf("devices:\n%s", out)
	}
	out = kubectl(t, e, "get", "pod", "web-1", "-o", "jsonpath={.spec.nodeName}")
	if out != "edge-1" {
		t.Fatalf("jsonpath: %q", out)
	}
}

// TestKubectlWatch runs kubectl get pods -A -w: the list, then a row for an update applied to the store,
// printed from the server's Table (no fallback to kubectl's own printing).
func TestKubectlWatch(t *testing.T) {
	e := start(t)
	e.seed(t)
	bin := testenv.LookPath(t, "kubectl", testenv.K8sBinDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--server", e.url, "--cache-dir", t.TempDir(), "get", "pods", "-A", "-w")
	cmd.Env = append(os.Environ(), "KUBERC=off", "KUBECONFIG=", "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 4 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 4 {
		t.Fatalf("kubectl printed %q; stderr %s", lines, stderr.String())
	}
	e.put(t, "default/pod/web-1", "500", strings.Replace(podJSON("default", "web-1", "edge-1", "500", nil), `"phase":"Running"`, `"phase":"Pending"`, 1))
	if !sc.Scan() {
		t.Fatalf("no watch line; stderr %s", stderr.String())
	}
	line := sc.Text()
	if f := strings.Fields(line); len(f) < 4 || f[0] != "default" || f[1] != "web-1" || f[3] != "Running" && f[3] != "Pending" {
		t.Fatalf("watch line %q", line)
	}
	cancel()
	_ = cmd.Wait()
	if strings.Contains(stderr.String(), "Unable to decode") {
		t.Fatalf("kubectl fell back to its own printing: %s", stderr.String())
	}
	t.Logf("kubectl get pods -A -w:\n%s\n%s", strings.Join(lines, "\n"), line)
}
