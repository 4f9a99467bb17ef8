package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestKubeSmoke starts a control plane and drives it with client-go and with the built kubectl.
func TestKubeSmoke(t *testing.T) {
	t.Parallel()
	began := time.Now()
	k := StartKube(t)
	t.Logf("StartKube returned after %v", time.Since(began).Round(time.Millisecond))
	ctx := t.Context()
	const ns = "edgehive-smoke"

	cs := k.Clientset(t)
	nsCreated := time.Now()
	if _, err := cs.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list namespaces: %v", err)
	}
	if !slices.ContainsFunc(list.Items, func(n corev1.Namespace) bool { return n.Name == ns }) {
		t.Fatalf("namespace %s not in the list: %v", ns, list.Items)
	}

	names := strings.Fields(k.Kubectl(t, "get", "namespaces", "-o", "name"))
	if !slices.Contains(names, "namespace/"+ns) {
		t.Fatalf("kubectl get namespaces: no namespace/%s in %q", ns, names)
	}

	var version struct {
		ClientVersion struct{ GitVersion string } `json:"clientVersion"`
		ServerVersion struct{ GitVersion string } `json:"serverVersion"`
	}
	out := k.Kubectl(t, "version", "-o", "json")
	if err := json.Unmarshal([]byte(out), &version); err != nil {
		t.Fatalf("kubectl version -o json: %v\n%s", err, out)
	}
	if version.ServerVersion.GitVersion != K8sVersion || version.ClientVersion.GitVersion != K8sVersion {
		t.Fatalf("kubectl version: client %q, server %q, want %s",
			version.ClientVersion.GitVersion, version.ServerVersion.GitVersion, K8sVersion)
	}
	t.Logf("namespace %s created and listed with client-go; kubectl %s lists namespace/%s from server %s",
		ns, version.ClientVersion.GitVersion, ns, version.ServerVersion.GitVersion)

	// The default ServiceAccount comes from kube-controller-manager: this proves it runs.
	if err := k.WaitDefaultServiceAccount(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Logf("default ServiceAccount in %s %v after the namespace, %v after StartKube began",
		ns, time.Since(nsCreated).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// TestKubeIsolated starts two control planes side by side and checks that neither sees the other's
// objects nor accepts the other's credentials.
func TestKubeIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two control planes; skipped with -short")
	}
	t.Parallel()
	var kubes [2]*Kube
	for i := range kubes {
		kubes[i] = StartKube(t)
	}
	a, b := kubes[0], kubes[1]
	if a.URL == b.URL || a.Etcd.URL == b.Etcd.URL {
		t.Fatalf("control planes share an address: %s %s, %s %s", a.URL, b.URL, a.Etcd.URL, b.Etcd.URL)
	}
	ctx := t.Context()
	if _, err := a.Clientset(t).CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace in a: %v", err)
	}
	_, err := b.Clientset(t).CoreV1().Namespaces().Get(ctx, "only-in-a", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("namespace of a in b: got %v, want NotFound", err)
	}

	// b's token, sent to a (trusting a's CA): a does not know it.
	cross := b.RESTConfig()
	cross.Host = a.URL
	cross.CAData = a.CACertPEM()
	csCross, err := kubernetes.NewForConfig(cross)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := csCross.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("b's token at a: got %v, want Unauthorized", err)
	}
	// b's kubeconfig pointed at a: b's CA does not verify a's certificate.
	if out, err := b.RunKubectl(ctx, "--server="+a.URL, "get", "namespaces"); err == nil {
		t.Fatalf("b's kubeconfig accepted by a:\n%s", out)
	}
}

// TestKubeStartRetriesTakenPort checks the harness's answer to a port taken between FreePort and the
// component's bind: the start is retried, and a process that exits ends the wait at once.
func TestKubeStartRetriesTakenPort(t *testing.T) {
	t.Parallel()
	sh := LookPath(t, "sh")
	dir := t.TempDir()
	attempts := 0
	began := time.Now()
	startRetrying(t, "fake", func(attempt int) (*Process, error) {
		attempts++
		script := "sleep 60"
		if attempt == 0 {
			script = "echo 'listen tcp 127.0.0.1:1: bind: address already in use' >&2; exit 1"
		}
		p := StartProcess(t, dir, "fake"+attemptSuffix(attempt), sh, "-c", script)
		return p, waitReady(t.Context(), p, time.Minute, func(context.Context) error {
			if attempt == 0 {
				return errors.New("not ready") // never: only the exit ends this attempt
			}
			return nil
		})
	})
	if attempts != 2 {
		t.Fatalf("attempts = %d, want 2", attempts)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Fatalf("the exited attempt was waited on for %v", d)
	}
}
