package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Timeouts of the Kubernetes harness. Alone on an idle machine etcd is healthy in ~1 s and the apiserver
// ready ~2 s later; the limits are generous because a 2-core CI machine running several control planes
// next to other -race tests is many times slower.
const (
	DefaultEtcdStartTimeout = 30 * time.Second
	DefaultKubeStartTimeout = 90 * time.Second
	// DefaultKubeWaitTimeout bounds WaitDefaultServiceAccount when its context has no earlier deadline.
	DefaultKubeWaitTimeout = 60 * time.Second
	// DefaultKubectlTimeout bounds one kubectl run.
	DefaultKubectlTimeout = 2 * time.Minute
)

// Fixed settings of every test control plane.
const (
	kubeAdminUser   = "edgehive-admin"
	kubeKCMUser     = "system:kube-controller-manager"
	kubeServiceCIDR = "10.96.0.0/24" // a config value only: nothing routes to it
	kubeSAIssuer    = "https://kubernetes.default.svc"
	// kubeControllers are kube-controller-manager's controllers: all the default ones but the two that
	// manage nodes. nodeipam wants a pod CIDR to carve up; nodelifecycle would taint and evict from nodes
	// that stop posting status, which a test that registers fake nodes does not want.
	kubeControllers = "*,-nodeipam,-nodelifecycle"
	// portAttempts is how many times a component is started on fresh ports before the test fails.
	portAttempts = 3
	// pollInterval is how often readiness is probed.
	pollInterval = 25 * time.Millisecond
)

// Etcd is an etcd server started for one test.
type Etcd struct {
	// URL is the client URL, http://127.0.0.1:PORT.
	URL string
	// DataDir is the --data-dir, inside the test's temporary directory.
	DataDir string
	// Process is the running etcd; the test's cleanup stops it.
	Process *Process
}

// StartEtcd starts etcd on free loopback client and peer ports with a data dir in the test's temporary
// directory, waits until GET /health reports healthy, and stops it when the test ends. A missing etcd
// binary stops the test through Missing.
func StartEtcd(t TB) *Etcd {
	t.Helper()
	return startEtcd(t, LookPath(t, "etcd"), t.TempDir())
}

func startEtcd(t TB, bin, dir string) *Etcd {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("testenv: etcd dir: %v", err)
	}
	began := time.Now()
	var e *Etcd
	startRetrying(t, "etcd", func(attempt int) (*Process, error) {
		ports := freePorts(t, 2)
		client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		// A fresh data dir per attempt: a member that died half-way keeps its peer URL in its WAL and
		// would refuse to start with another one.
		dataDir := filepath.Join(dir, "data"+attemptSuffix(attempt))
		p := StartProcess(t, dir, "etcd"+attemptSuffix(attempt), bin,
			"--name=testenv",
			"--data-dir="+dataDir,
			"--listen-client-urls="+client,
			"--advertise-client-urls="+client,
			"--listen-peer-urls="+peer,
			"--initial-advertise-peer-urls="+peer,
			"--initial-cluster=testenv="+peer,
			"--initial-cluster-state=new",
			// etcd 3.4 defaults to the deprecated capnslog logger and warns about it on every start.
			"--logger=zap",
			"--log-outputs=stderr",
		)
		e = &Etcd{URL: client, DataDir: dataDir, Process: p}
		return p, waitReady(t.Context(), p, DefaultEtcdStartTimeout, func(ctx context.Context) error {
			return etcdHealthy(ctx, client)
		})
	})
	t.Logf("testenv: etcd %s healthy in %v", e.URL, time.Since(began).Round(time.Millisecond))
	return e
}

// etcdHealthy asks etcd's /health endpoint, which answers {"health":"true"} once the member has a leader
// and can serve a quorum read (a bare TCP accept comes earlier, before the member elected itself).
func etcdHealthy(ctx context.Context, url string) error {
	body, err := httpGet(ctx, plainHTTP(), url+"/health", "")
	if err != nil {
		return err
	}
	var h struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(body, &h); err != nil || h.Health != "true" {
		return fmt.Errorf("etcd not healthy: %s", bytes.TrimSpace(body))
	}
	return nil
}

// Kube is a Kubernetes control plane started for one test: etcd, kube-apiserver and
// kube-controller-manager, all on loopback, with their files in Dir. There is no scheduler and no kubelet:
// pods stay Pending unless the test binds them to a node itself.
//
// Clients authenticate as an admin in group system:masters with a bearer token; RESTConfig, Clientset,
// KubeconfigPath and Kubectl all use it.
type Kube struct {
	// URL is the apiserver's address, https://127.0.0.1:PORT.
	URL string
	// KubeconfigPath is an admin kubeconfig for URL (CA data and bearer token inline).
	KubeconfigPath string
	// KubectlPath is the kubectl binary of the same Kubernetes version (K8sVersion).
	KubectlPath string
	// Dir holds the certificates, the kubeconfigs, the data dir and each component's log.
	Dir string

	Etcd              *Etcd
	APIServer         *Process
	ControllerManager *Process

	caPEM []byte
	token string
}

// StartKube starts a control plane and returns once the apiserver is ready (/readyz is ok and the
// `default` namespace exists). kube-controller-manager is started then and keeps starting in the
// background; WaitDefaultServiceAccount waits for the ServiceAccount it creates, which pods need.
// Everything is stopped when the test ends. A missing binary stops the test through Missing.
func StartKube(t TB) *Kube {
	t.Helper()
	return StartKubeWith(t, KubeOptions{})
}

// KubeOptions changes what StartKubeWith starts.
type KubeOptions struct {
	// NodeLifecycle runs kube-controller-manager's node lifecycle controller, which removes the
	// node.kubernetes.io/not-ready taint from a Node once it reports Ready (so that kube-scheduler places
	// pods on it) and marks Nodes whose heartbeats stop NotReady. Tests leave it off; the quickstart,
	// which schedules a Deployment, turns it on.
	NodeLifecycle bool
}

// StartKubeWith is StartKube with options.
func StartKubeWith(t TB, opts KubeOptions) *Kube {
	t.Helper()
	controllers := kubeControllers
	if opts.NodeLifecycle {
		controllers = "*,-nodeipam"
	}
	// Look every binary up before starting anything, so a missing one skips at once.
	binDir := K8sBinDir()
	etcdBin := LookPath(t, "etcd")
	apiserverBin := LookPath(t, "kube-apiserver", binDir)
	kcmBin := LookPath(t, "kube-controller-manager", binDir)
	kubectlBin := LookPath(t, "kubectl", binDir)

	// Trap: t.TempDir must be created before any process starts. Cleanups run last-in first-out, so the
	// directory is then removed only after the processes are stopped; the other way round RemoveAll
	// can race with etcd still writing and fail the test with "directory not empty".
	dir := t.TempDir()
	began := time.Now()

	pki, err := newKubePKI()
	if err != nil {
		t.Fatalf("testenv: kube certificates: %v", err)
	}
	files, err := pki.write(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatalf("testenv: write kube certificates: %v", err)
	}

	// Cleanups run in reverse order of registration, so every component stops before what it depends
	// on: the controller-manager, then the apiserver, then etcd.
	etcd := startEtcd(t, etcdBin, filepath.Join(dir, "etcd"))
	etcdDone := time.Now()

	k := &Kube{
		KubectlPath: kubectlBin,
		Dir:         dir,
		Etcd:        etcd,
		caPEM:       pki.caCertPEM,
		token:       pki.adminToken,
	}
	client := tlsHTTP(pki.caCertPEM)
	defer client.CloseIdleConnections()
	startRetrying(t, "kube-apiserver", func(attempt int) (*Process, error) {
		port := FreePort(t)
		k.URL = "https://127.0.0.1:" + strconv.Itoa(port)
		k.APIServer = startAPIServer(t, apiserverBin, dir, attempt, port, etcd.URL, files)
		ready := func(ctx context.Context) error { return apiServerReady(ctx, client, k.URL, k.token) }
		return k.APIServer, waitReady(t.Context(), k.APIServer, DefaultKubeStartTimeout, ready)
	})
	apiDone := time.Now()

	k.KubeconfigPath = filepath.Join(dir, "admin.kubeconfig")
	kcmKubeconfig := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	for path, user := range map[string][2]string{
		k.KubeconfigPath: {kubeAdminUser, pki.adminToken},
		kcmKubeconfig:    {kubeKCMUser, pki.kcmToken},
	} {
		if err := writeKubeconfig(path, k.URL, pki.caCertPEM, user[0], user[1]); err != nil {
			t.Fatalf("testenv: kubeconfig: %v", err)
		}
	}

	// The controller-manager starts only now, not next to the apiserver: it polls the apiserver's /healthz
	// once a second and exits if that is not ok within 10 s, so a parallel start costs up to a second
	// and, on a busy machine, can kill it.
	k.ControllerManager = StartProcess(t, dir, "kube-controller-manager", kcmBin,
		"--kubeconfig="+kcmKubeconfig,
		"--controllers="+controllers,
		// Without this a restarted controller-manager could wait out the previous one's lease (15 s);
		// and there is nothing to elect among: each control plane has one controller-manager.
		"--leader-elect=false",
		// Trap: with --use-service-account-credentials=true each controller would act as its own
		// ServiceAccount; with false (simpler, no token round trip) they all act as the kubeconfig's user,
		// and the bootstrap role system:kube-controller-manager lacks most of what the controllers need
		// (the namespace controller deletes everything). Hence that user is in system:masters.
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+files.SAKey,
		"--root-ca-file="+files.CACert,
		// The test CA signs CertificateSigningRequests, so a test can hand an edge node a client
		// certificate the apiserver (--client-ca-file is the same CA) accepts.
		"--cluster-signing-cert-file="+files.CACert,
		"--cluster-signing-key-file="+files.CAKey,
		// Trap: the default --secure-port is the fixed 10257, which parallel tests would fight over.
		// 0 turns serving (healthz, metrics) off; readiness is judged by what the controllers do.
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	)
	// Trap: a graceful kube-apiserver shutdown takes ~1.1 s (its controllers wind down one by one), for
	// every control plane of every test, and the test throws the state away anyway: the cleanup kills it.
	// Registered after the processes' own cleanups, this one runs before them (theirs then find the
	// processes gone and only print the logs of a failed test). Kube.Stop, which a test calls on purpose,
	// stays graceful.
	t.Cleanup(func() {
		k.ControllerManager.Stop(10 * time.Second)
		k.APIServer.Stop(0)
	})

	t.Logf("testenv: kube-apiserver %s ready in %v (etcd %v, apiserver %v); kube-controller-manager started",
		k.URL, time.Since(began).Round(time.Millisecond), etcdDone.Sub(began).Round(time.Millisecond),
		apiDone.Sub(etcdDone).Round(time.Millisecond))
	return k
}

// startAPIServer starts kube-apiserver (one attempt) listening on 127.0.0.1:port.
func startAPIServer(t TB, bin, dir string, attempt, port int, etcdURL string, f kubePKIFiles) *Process {
	t.Helper()
	return StartProcess(t, dir, "kube-apiserver"+attemptSuffix(attempt), bin,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--advertise-address=127.0.0.1",
		// Trap: the default reconciler writes the advertise address into the `kubernetes` Endpoints, whose
		// validation rejects loopback addresses; with none nothing is written (no pod talks to it anyway).
		"--endpoint-reconciler-type=none",
		// Trap: the default --cert-dir is /var/run/kubernetes, shared by every test on the machine.
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+f.ServingCert,
		"--tls-private-key-file="+f.ServingKey,
		"--client-ca-file="+f.CACert,
		"--token-auth-file="+f.TokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer="+kubeSAIssuer,
		"--service-account-key-file="+f.SAPub,
		"--service-account-signing-key-file="+f.SAKey,
		"--etcd-servers="+etcdURL,
		"--service-cluster-ip-range="+kubeServiceCIDR,
	)
}

// apiServerReady reports whether /readyz is ok and the `default` namespace exists.
//
// Trap: /readyz turns ok when the post-start hooks have run, but the system namespaces are created by a
// controller that may not have written `default` yet; a test that creates something there at once would
// get "namespaces \"default\" not found".
func apiServerReady(ctx context.Context, client *http.Client, url, token string) error {
	// ?verbose makes a failure list the checks that are not ok yet ("[-]poststarthook/... failed").
	if _, err := httpGet(ctx, client, url+"/readyz?verbose", token); err != nil {
		return err
	}
	_, err := httpGet(ctx, client, url+"/api/v1/namespaces/default", token)
	return err
}

// RESTConfig returns a new client configuration for the admin user; the caller may change it freely.
// Client-side rate limiting is raised well above client-go's default (5 QPS), which slows tests down.
func (k *Kube) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            k.URL,
		BearerToken:     k.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: bytes.Clone(k.caPEM)},
		QPS:             200,
		Burst:           400,
		UserAgent:       "edgehive-testenv",
	}
}

// Clientset returns a new clientset for the admin user, failing the test if it cannot be built.
func (k *Kube) Clientset(t TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(k.RESTConfig())
	if err != nil {
		t.Fatalf("testenv: clientset: %v", err)
	}
	return cs
}

// CACertPEM returns the PEM of the CA that signed the apiserver's certificate.
func (k *Kube) CACertPEM() []byte { return bytes.Clone(k.caPEM) }

// WaitDefaultServiceAccount waits until the `default` ServiceAccount exists in namespace. The
// controller-manager creates it shortly after the namespace; until then the ServiceAccount admission
// plugin rejects every pod in the namespace. It waits at most DefaultKubeWaitTimeout or until ctx ends,
// and fails at once if the controller-manager has exited.
func (k *Kube) WaitDefaultServiceAccount(ctx context.Context, namespace string) error {
	cs, err := kubernetes.NewForConfig(k.RESTConfig())
	if err != nil {
		return fmt.Errorf("testenv: clientset: %w", err)
	}
	err = waitReady(ctx, k.ControllerManager, DefaultKubeWaitTimeout, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("testenv: default ServiceAccount in namespace %q: %w", namespace, err)
	}
	return nil
}

// Kubectl runs kubectl with args against the control plane and returns its standard output. It fails
// the test, with kubectl's standard error, if kubectl fails; so, like t.Fatal, call it from the test's
// goroutine, and use RunKubectl where a failure is expected or from other goroutines.
func (k *Kube) Kubectl(t TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), DefaultKubectlTimeout)
	defer cancel()
	out, err := k.RunKubectl(ctx, args...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return out
}

// RunKubectl runs kubectl with args and returns its standard output; the error includes its standard
// error.
//
// Trap: kubectl reads more than its kubeconfig. It caches discovery in ~/.kube/cache (shared by every
// test and by the developer's own clusters) and applies the preferences and aliases of ~/.kube/kuberc
// (on by default in kubectl 1.36). Both are turned off here: the cache goes to Dir, KUBERC=off, and
// KUBECONFIG is dropped from the environment.
func (k *Kube) RunKubectl(ctx context.Context, args ...string) (string, error) {
	full := append([]string{
		"--kubeconfig=" + k.KubeconfigPath,
		"--cache-dir=" + filepath.Join(k.Dir, "kubectl-cache"),
	}, args...)
	cmd := exec.CommandContext(ctx, k.KubectlPath, full...)
	cmd.Dir = k.Dir
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "KUBERC=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "KUBERC=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err,
			bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// Stop stops the controller-manager, the apiserver and etcd, in that order. The test's cleanup does the
// same; call Stop to observe what a client does when the control plane goes away. Safe to call twice.
func (k *Kube) Stop() {
	for _, p := range []*Process{k.ControllerManager, k.APIServer, k.Etcd.Process} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
}

// writeKubeconfig writes a kubeconfig for one token user of the control plane at server.
func writeKubeconfig(path, server string, caPEM []byte, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testenv"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testenv"] = &clientcmdapi.Context{Cluster: "testenv", AuthInfo: user}
	cfg.CurrentContext = "testenv"
	return clientcmd.WriteToFile(*cfg, path)
}

// startRetrying runs start, which starts a component and waits until it is ready, and fails the test if
// it does not get ready.
//
// Trap: FreePort's port was free "a moment ago". Between the probe and the component's bind another test
// running in parallel (or any process) may take it, and the component dies with "address already in
// use". Rare, but real with several control planes in one package run, so such a start is retried on
// fresh ports (up to portAttempts times) instead of failing the test.
func startRetrying(t TB, name string, start func(attempt int) (*Process, error)) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		p, err := start(attempt)
		if err == nil {
			return
		}
		portTaken := errors.Is(err, ErrExited) && strings.Contains(p.Tail(50), "address already in use")
		if portTaken && attempt+1 < portAttempts {
			t.Logf("testenv: %s lost its port to another process; retrying on a new one", name)
			continue
		}
		t.Fatalf("testenv: %s did not get ready: %v", name, err)
	}
}

// attemptSuffix names the files of a retried start apart from the first one's.
func attemptSuffix(attempt int) string {
	if attempt == 0 {
		return ""
	}
	return "-retry" + strconv.Itoa(attempt)
}

// waitReady polls check until it succeeds or timeout passes. If p exits meanwhile it returns at once
// with ErrExited and the end of p's log instead of waiting out the timeout.
func waitReady(ctx context.Context, p *Process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var exited error
	err := Eventually(ctx, timeout, pollInterval, func(ctx context.Context) error {
		if exited = p.CheckAlive(); exited != nil {
			cancel()
			return exited
		}
		// One probe must not use up the whole wait: a request to a process that accepted the connection
		// but is still starting can hang.
		ctx, cancelProbe := context.WithTimeout(ctx, 5*time.Second)
		defer cancelProbe()
		return check(ctx)
	})
	if exited != nil {
		return exited
	}
	return err
}

// freePorts returns n distinct free ports on 127.0.0.1. It holds every probe listener open until it has
// all n: separate FreePort calls may return the same port twice.
func freePorts(t TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// plainHTTP is a client for etcd's plain-HTTP endpoints. Keep-alives are off so that no idle connection
// (and no goroutine behind it) outlives the probe.
func plainHTTP() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// tlsHTTP is a client that trusts only the control plane's CA.
func tlsHTTP(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
	}}
}

// httpGet GETs url (with a bearer token unless it is empty) and returns the body of a 200 answer; any
// other status is an error that carries the body.
func httpGet(ctx context.Context, client *http.Client, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", req.URL.Path, resp.Status, failedChecks(body))
	}
	return body, nil
}

// failedChecks shortens a /readyz?verbose body to its failing checks; other bodies are returned whole.
func failedChecks(body []byte) string {
	var failed []string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "[-]") {
			failed = append(failed, strings.TrimSpace(line))
		}
	}
	if len(failed) == 0 {
		return string(bytes.TrimSpace(body))
	}
	return strings.Join(failed, "; ")
}

// StartScheduler starts kube-scheduler against k (tests leave it out: they bind pods themselves; the
// quickstart runs it so that a Deployment with a nodeSelector is scheduled onto the edge node).
func (k *Kube) StartScheduler(t TB) *Process {
	t.Helper()
	bin := LookPath(t, "kube-scheduler", K8sBinDir())
	return StartProcess(t, k.Dir, "kube-scheduler", bin,
		"--kubeconfig="+k.KubeconfigPath,
		"--authentication-kubeconfig="+k.KubeconfigPath,
		"--authorization-kubeconfig="+k.KubeconfigPath,
		"--leader-elect=false",
		// As for the controller-manager: no fixed port (10259) to fight over.
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	)
}
