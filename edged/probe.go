package edged

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type probeKind int

const (
	probeLiveness probeKind = iota
	probeReadiness
	probeStartup
)

func (k probeKind) String() string {
	return [...]string{"liveness", "readiness", "startup"}[k]
}

type probeResult int

const (
	resultUnknown probeResult = iota
	resultSuccess
	resultFailure
)

type probeKey struct {
	id   string
	kind probeKind
}

// probeSet runs the probes of one pod's running containers: one goroutine per container and probe
// kind, each probing every PeriodSeconds after InitialDelaySeconds and recording a result once
// SuccessThreshold or FailureThreshold consecutive outcomes agree. A changed result kicks the pod
// worker, which acts on it (restart on liveness or startup failure, readiness in the status).
type probeSet struct {
	m    *Manager
	kick func()

	mu      sync.Mutex
	cancels map[probeKey]context.CancelFunc
	results map[probeKey]probeResult
	wg      sync.WaitGroup
}

func newProbeSet(m *Manager, kick func()) *probeSet {
	return &probeSet{m: m, kick: kick, cancels: map[probeKey]context.CancelFunc{}, results: map[probeKey]probeResult{}}
}

func (ps *probeSet) result(id string, kind probeKind) probeResult {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.results[probeKey{id, kind}]
}

func (ps *probeSet) set(k probeKey, r probeResult) {
	ps.mu.Lock()
	old := ps.results[k]
	_, live := ps.cancels[k]
	if live {
		ps.results[k] = r
	}
	ps.mu.Unlock()
	if live && old != r {
		ps.kick()
	}
}

// update starts the probes of running containers that have none yet and stops those of containers
// that no longer run.
func (ps *probeSet) update(ctx context.Context, pod *corev1.Pod, running map[string]*containerView, podIP string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for k, cancel := range ps.cancels {
		if _, ok := running[k.id]; !ok {
			cancel()
			delete(ps.cancels, k)
			delete(ps.results, k)
		}
	}
	for id, v := range running {
		for kind, p := range map[probeKind]*corev1.Probe{
			probeLiveness: v.spec.LivenessProbe, probeReadiness: v.spec.ReadinessProbe, probeStartup: v.spec.StartupProbe,
		} {
			k := probeKey{id, kind}
			if p == nil || ps.cancels[k] != nil {
				continue
			}
			pctx, cancel := context.WithCancel(ctx)
			ps.cancels[k] = cancel
			started := time.Unix(0, v.cur.StartedAt)
			ps.wg.Add(1)
			go func() {
				defer ps.wg.Done()
				ps.run(pctx, k, pod, v.spec, p, podIP, started)
			}()
		}
	}
}

// stop ends every probe and waits for them. The set can be used again.
func (ps *probeSet) stop() {
	ps.mu.Lock()
	for k, cancel := range ps.cancels {
		cancel()
		delete(ps.cancels, k)
		delete(ps.results, k)
	}
	ps.mu.Unlock()
	ps.wg.Wait()
}

func (ps *probeSet) run(ctx context.Context, k probeKey, pod *corev1.Pod, c *corev1.Container, p *corev1.Probe, podIP string, started time.Time) {
	period := secondsOr(p.PeriodSeconds, 10)
	timeout := secondsOr(p.TimeoutSeconds, 1)
	successThreshold := max(p.SuccessThreshold, 1)
	failureThreshold := max(p.FailureThreshold, 1)
	if p.FailureThreshold == 0 {
		failureThreshold = 3
	}
	if delay := time.Until(started.Add(time.Duration(p.InitialDelaySeconds) * time.Second)); delay > 0 && !sleepCtx(ctx, delay) {
		return
	}
	var successes, failures int32
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		skip := k.kind != probeStartup && c.StartupProbe != nil && ps.result(k.id, probeStartup) != resultSuccess
		if !skip {
			ok, detail := ps.m.probe(ctx, k.id, c, p, podIP, timeout)
			if ctx.Err() != nil {
				return
			}
			if ok {
				successes, failures = successes+1, 0
				if successes >= successThreshold {
					ps.set(k, resultSuccess)
					if k.kind == probeStartup {
						return // a startup probe stops once it succeeded
					}
				}
			} else {
				successes, failures = 0, failures+1
				if failures >= failureThreshold {
					if ps.result(k.id, k.kind) != resultFailure {
						ps.m.log.Info("edged: probe failed", "pod", podRef(pod), "container", c.Name, "probe", k.kind.String(), "detail", detail)
					}
					ps.set(k, resultFailure)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func secondsOr(s int32, def int32) time.Duration {
	if s <= 0 {
		s = def
	}
	return time.Duration(s) * time.Second
}

// probe runs one probe of container id once: exec through the runtime, HTTP GET or TCP connect to the
// pod's address. It reports success and, on failure, why.
func (m *Manager) probe(ctx context.Context, id string, c *corev1.Container, p *corev1.Probe, podIP string, timeout time.Duration) (bool, string) {
	host := podIP
	if host == "" {
		host = "127.0.0.1"
	}
	switch {
	case p.Exec != nil:
		ctx, cancel := context.WithTimeout(ctx, timeout+m.cfg.RuntimeRequestTimeout)
		defer cancel()
		resp, err := m.rt.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: p.Exec.Command,
			Timeout: int64(timeout / time.Second)})
		if err != nil {
			return false, grpcMessage(err)
		}
		if resp.ExitCode != 0 {
			return false, fmt.Sprintf("exit code %d: %s%s", resp.ExitCode, resp.Stdout, resp.Stderr)
		}
		return true, ""
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := resolvePort(g.Port, c)
		if err != nil {
			return false, err.Error()
		}
		if g.Host != "" {
			host = g.Host
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: g.Path}
		if u.Path == "" {
			u.Path = "/"
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return false, err.Error()
		}
		req.Header.Set("User-Agent", "edgehive-probe/1.0")
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		tr := &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // kubelet does not verify probe TLS either
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}).Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return false, "HTTP probe failed with statuscode: " + strconv.Itoa(resp.StatusCode)
		}
		return true, ""
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	}
	return false, "probe type not supported (only exec, httpGet and tcpSocket)"
}

// resolvePort resolves a probe's port, by number or by the name of one of the container's ports.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n <= 65535 {
		return n, nil
	}
	return 0, fmt.Errorf("no port named %q in container %q", p.StrVal, c.Name)
}
