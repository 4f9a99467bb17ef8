package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
)

// fpCloud is the cloud side of the footprint measurement, in the test process: a CA and join endpoint
// (hub/certs), a cloud hub (hub/cloudhub) whose desired state is a hub.MemState, and a module that
// sends objects down and records what the edge reports up. Everything is bound to one node.
type fpCloud struct {
	node     hub.NodeName
	token    string
	hubAddr  string
	joinAddr string
	logPath  string
	state    *hub.MemState
	hub      *cloudhub.CloudHub
	port     *fpPort
}

// startCloud starts the cloud for node; it stops at the end of the test.
func startCloud(t testing.TB, node hub.NodeName) *fpCloud {
	t.Helper()
	ctx := context.Background()
	c := &fpCloud{node: node, state: hub.NewMemState(), logPath: filepath.Join(t.TempDir(), "cloud.log")}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ca, err := certs.NewCA(certs.CAConfig{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := auth.IssueServerCert(certs.ServerCertConfig{IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.IssueToken(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.token = tok.String()

	// The join endpoint.
	join, err := auth.JoinHandler(certs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.joinAddr = ln.Addr().String()
	joinSrv := &http.Server{Handler: join, TLSConfig: certs.JoinTLSConfig(srv), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	joinDone := make(chan error, 1)
	go func() { joinDone <- joinSrv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		joinSrv.Close()
		if err := <-joinDone; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("join endpoint: %v", err)
		}
	})

	// The cloud hub and the port module, in one hive.
	bound := func(namespace, name string) (hub.NodeName, bool) { return node, true }
	c.hub, err = cloudhub.New(cloudhub.Config{
		Addr:           "127.0.0.1:0",
		TLS:            certs.ServerTLSConfig(ca.Certificate(), srv, auth.Denylist()),
		Denylist:       auth.Denylist(),
		Authority:      auth,
		DesiredState:   c.state,
		Bindings:       hub.Bindings{Pods: hub.PodBindingFunc(bound), Devices: hub.DeviceBindingFunc(bound)},
		UpstreamModule: fpPortName,
		Logger:         log.With("module", cloudhub.Name),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.port = newPort()
	hive, err := beehive.New(beehive.Config{Logger: log, StopTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []beehive.Module{c.hub, c.port} {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	hctx, cancel := context.WithCancel(ctx)
	hiveDone := make(chan error, 1)
	go func() { hiveDone <- hive.Run(hctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-hiveDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("cloud hive: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.hub.Addr() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.hub.Addr() == nil {
		t.Fatal("the cloud hub did not listen within 10 s")
	}
	c.hubAddr = c.hub.Addr().String()
	return c
}

// put makes obj desired on the node and sends it down (the cloud hub drops a message whose version
// the desired state does not hold, so the state comes first, as the edge controller does it).
func (c *fpCloud) put(ctx context.Context, key hub.Key, rv string, obj any) error {
	content, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	c.state.Put(c.node, hub.Object{Key: key, ResourceVersion: rv, Content: content})
	bc, err := c.port.context(ctx)
	if err != nil {
		return err
	}
	m := bc.NewMessage(beehive.GroupMeta, beehive.OpInsert, cloudhub.NodeResource(c.node, key), content)
	m.Header.ResourceVersion = rv
	return bc.Send(ctx, cloudhub.Name, m)
}

// dumpLog logs the end of the cloud's log.
func (c *fpCloud) dumpLog(t testing.TB) { dumpFile(t, "cloud", c.logPath) }

const fpPortName = "footprint-cloud"

// fpPort is the cloud's stand-in for the controllers: it hands its beehive context to the test (to
// send downstream) and records the upstream reports, the newest per key.
type fpPort struct {
	ready chan struct{}
	c     *beehive.Context

	mu        sync.Mutex
	nodeSeen  bool
	podPhase  map[string]string // "<ns>/<name>" → status.phase
	devStatus map[string]bool   // "<ns>/<name>" → a devicestatus arrived
}

func newPort() *fpPort {
	return &fpPort{ready: make(chan struct{}), podPhase: map[string]string{}, devStatus: map[string]bool{}}
}

func (p *fpPort) Name() string         { return fpPortName }
func (p *fpPort) Group() beehive.Group { return beehive.GroupController }

// Run implements beehive.Module.
func (p *fpPort) Run(ctx context.Context, c *beehive.Context) error {
	select {
	case <-p.ready:
	default:
		p.c = c
		close(p.ready)
	}
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		p.record(m)
	}
}

func (p *fpPort) context(ctx context.Context) (*beehive.Context, error) {
	select {
	case <-p.ready:
		return p.c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// record notes one upstream message.
func (p *fpPort) record(m beehive.Message) {
	_, key, err := cloudhub.ParseNodeResource(m.Router.Resource)
	if err != nil {
		return
	}
	content, _ := m.Content.([]byte)
	id := key.Namespace + "/" + key.Name
	p.mu.Lock()
	defer p.mu.Unlock()
	switch key.Kind {
	case hub.KindNodeStatus:
		p.nodeSeen = true
	case hub.KindPodStatus:
		var st struct {
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		}
		if json.Unmarshal(content, &st) == nil {
			p.podPhase[id] = st.Status.Phase
		}
	case hub.KindDeviceStatus:
		p.devStatus[id] = true
	}
}

// counts returns whether the node reported its status, how many pods reported phase, and how many
// devices reported a status.
func (p *fpPort) counts(phase string) (node bool, pods, devices int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ph := range p.podPhase {
		if ph == phase {
			pods++
		}
	}
	return p.nodeSeen, pods, len(p.devStatus)
}

// dumpFile logs the last lines of a log file.
func dumpFile(t testing.TB, name, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Logf("%s: no log: %v", name, err)
		return
	}
	defer f.Close()
	const tail = 16 << 10
	if st, err := f.Stat(); err == nil && st.Size() > tail {
		f.Seek(st.Size()-tail, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	t.Logf("---- %s log (last %d bytes) ----\n%s", name, len(b), b)
}

// fmtMB formats bytes as MB (10^6 bytes, the unit of the budgets).
func fmtMB(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/1e6) }
