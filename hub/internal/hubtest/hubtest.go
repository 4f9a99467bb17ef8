// Package hubtest starts real cloud and edge hubs for tests: a CA and node certificates from hub/certs,
// a cloud hive with the cloud hub and a recording controller, edge hives with the edge hub and a fake
// meta module that applies downstream frames as meta must (ack after commit, no version twice).
package hubtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
)

// Logger discards logs unless HUBTEST_LOG is set (then debug logs go to stderr).
func Logger() *slog.Logger {
	if os.Getenv("HUBTEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// PKI is a cloud's CA, authority and server TLS configuration.
type PKI struct {
	CA        *certs.CA
	Auth      *certs.Authority
	Deny      *certs.MemDenylist
	ServerTLS *tls.Config
	// ServerCert is the server certificate, also for the join endpoint.
	ServerCert tls.Certificate
}

// NewPKI creates a CA, an authority with a MemDenylist and a server certificate for 127.0.0.1.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := certs.NewCA(certs.CAConfig{})
	if err != nil {
		t.Fatal(err)
	}
	deny := certs.NewMemDenylist()
	auth, err := certs.NewAuthority(certs.AuthorityConfig{CA: ca, Denylist: deny})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := auth.IssueServerCert(certs.ServerCertConfig{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{CA: ca, Auth: auth, Deny: deny, ServerTLS: certs.ServerTLSConfig(ca.Certificate(), srv, deny), ServerCert: srv}
}

// NodeTLS issues a certificate for node (through a token, as a join does) and returns the edge's TLS
// configuration.
func (p *PKI) NodeTLS(t testing.TB, node hub.NodeName) *tls.Config {
	t.Helper()
	c, _ := p.NodeTLSHolder(t, node)
	return c
}

// NodeTLSHolder is NodeTLS that also returns the configuration's certificate holder.
func (p *PKI) NodeTLSHolder(t testing.TB, node hub.NodeName) (*tls.Config, *certs.CertHolder) {
	t.Helper()
	ctx := context.Background()
	tok, err := p.Auth.IssueToken(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := certs.NewNodeCSR(node, key)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := p.Auth.SignNodeCSR(ctx, csr, tok.String())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := certs.NewTLSCertificate(nc.ChainPEM, key)
	if err != nil {
		t.Fatal(err)
	}
	h := certs.NewCertHolder(cert)
	return certs.ClientTLSConfig(p.CA.Certificate(), "127.0.0.1", h), h
}

// Hive runs a beehive in the background.
type Hive struct {
	Hive   *beehive.Hive
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// RunHive adds modules to a new hive and runs it until Stop (registered with t.Cleanup too).
func RunHive(t testing.TB, modules ...beehive.Module) *Hive {
	t.Helper()
	h, err := beehive.New(beehive.Config{Logger: Logger(), StopTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modules {
		if err := h.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Hive{Hive: h, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- h.Run(ctx) }()
	t.Cleanup(r.Stop)
	return r
}

// Stop stops the hive and waits for it.
func (h *Hive) Stop() {
	h.once.Do(func() {
		h.cancel()
		<-h.done
	})
}

// Port is a module that hands its *beehive.Context to the test, to send from outside the hive.
type Port struct {
	name  string
	group beehive.Group
	ready chan struct{}
	c     *beehive.Context
	// OnMessage, if set, is called for every message the port receives (from its goroutine).
	OnMessage func(c *beehive.Context, m beehive.Message)
}

// NewPort returns a port module.
func NewPort(name string, group beehive.Group, on func(*beehive.Context, beehive.Message)) *Port {
	return &Port{name: name, group: group, ready: make(chan struct{}), OnMessage: on}
}

// Name implements beehive.Module.
func (p *Port) Name() string { return p.name }

// Group implements beehive.Module.
func (p *Port) Group() beehive.Group { return p.group }

// Run implements beehive.Module.
func (p *Port) Run(ctx context.Context, c *beehive.Context) error {
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
		if p.OnMessage != nil {
			p.OnMessage(c, m)
		}
	}
}

// Context waits until the port runs and returns its context.
func (p *Port) Context() *beehive.Context {
	<-p.ready
	return p.c
}

// Cloud is a running cloud hub with a recording controller and a port to send downstream.
type Cloud struct {
	Hub  *cloudhub.CloudHub
	Hive *Hive
	Addr string
	URL  string
	Port *Port
	Ctl  *Recorder
}

// CloudConfig fills the test defaults of a cloud hub config: the PKI's TLS, a free port (if Addr is
// empty), short keepalive.
func (p *PKI) CloudConfig(cfg cloudhub.Config) cloudhub.Config {
	if cfg.TLS == nil {
		cfg.TLS = p.ServerTLS
	}
	if cfg.Denylist == nil {
		cfg.Denylist = p.Deny
	}
	if cfg.Authority == nil {
		cfg.Authority = p.Auth
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	return cfg
}

// StartCloud runs a cloud hub for cfg (see CloudConfig) and waits until it listens.
func StartCloud(t testing.TB, p *PKI, cfg cloudhub.Config) *Cloud {
	t.Helper()
	cfg = p.CloudConfig(cfg)
	h, err := cloudhub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder()
	ctl := NewPort("controller", beehive.GroupController, func(c *beehive.Context, m beehive.Message) { rec.Add(m) })
	port := NewPort("feeder", beehive.GroupUser, nil)
	hv := RunHive(t, h, ctl, port)
	deadline := time.Now().Add(10 * time.Second)
	for h.Addr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("cloud hub did not listen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	addr := h.Addr().String()
	return &Cloud{Hub: h, Hive: hv, Addr: addr, URL: "wss://" + addr + cloudhub.DefaultPath, Port: port, Ctl: rec}
}

// Send sends a downstream object to node through the cloud hub.
func (c *Cloud) Send(ctx context.Context, node hub.NodeName, op beehive.Operation, key hub.Key, rv string, content []byte) error {
	bc := c.Port.Context()
	m := bc.NewMessage(beehive.GroupMeta, op, cloudhub.NodeResource(node, key), content)
	m.Header.ResourceVersion = rv
	return bc.Send(ctx, cloudhub.Name, m)
}

// Recorder keeps messages.
type Recorder struct {
	mu   sync.Mutex
	msgs []beehive.Message
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Add records m.
func (r *Recorder) Add(m beehive.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// Messages returns a copy of the recorded messages.
func (r *Recorder) Messages() []beehive.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]beehive.Message(nil), r.msgs...)
}

// Len returns the number of recorded messages.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Meta is a fake meta module: it applies downstream frames to a map, acknowledges a version it holds
// already without applying it again, and records each key's applied versions. It is a DigestSource.
type Meta struct {
	mu       sync.Mutex
	held     map[hub.Key]string
	history  map[hub.Key][]string
	dups     int
	events   []beehive.Operation
	fail     bool
	messages []beehive.Message
	// OnApply, if set before the module runs, is called with each frame applied (from its goroutine).
	OnApply func(beehive.Message)
	// Quiet stops the recording of messages (for benchmarks).
	Quiet bool
}

// NewMeta returns an empty fake meta.
func NewMeta() *Meta {
	return &Meta{held: make(map[hub.Key]string), history: make(map[hub.Key][]string)}
}

// Name implements beehive.Module: "meta".
func (m *Meta) Name() string { return "meta" }

// Group implements beehive.Module.
func (m *Meta) Group() beehive.Group { return beehive.GroupMeta }

// SetFail makes the module refuse (true) or apply (false) frames.
func (m *Meta) SetFail(fail bool) {
	m.mu.Lock()
	m.fail = fail
	m.mu.Unlock()
}

// Run implements beehive.Module.
func (m *Meta) Run(ctx context.Context, c *beehive.Context) error {
	for {
		msg, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		if msg.Router.Operation == edgehub.OpCloudConnected || msg.Router.Operation == edgehub.OpCloudDisconnected {
			m.mu.Lock()
			m.events = append(m.events, msg.Router.Operation)
			m.mu.Unlock()
			continue
		}
		err = m.apply(msg)
		if msg.Header.Sync {
			if err != nil {
				_ = c.RespondError(msg, err)
			} else {
				_ = c.Respond(msg, nil)
			}
		}
	}
}

func (m *Meta) apply(msg beehive.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.Quiet {
		m.messages = append(m.messages, msg)
	}
	if m.OnApply != nil {
		defer m.OnApply(msg)
	}
	if m.fail {
		return errors.New("meta: refusing")
	}
	key, err := hub.ParseKey(msg.Router.Resource)
	if err != nil {
		return err
	}
	rv := msg.Header.ResourceVersion
	switch msg.Router.Operation {
	case hub.OpDelete:
		if _, ok := m.held[key]; !ok {
			m.dups++
			return nil
		}
		delete(m.held, key)
		m.history[key] = append(m.history[key], "deleted:"+rv)
	default:
		if m.held[key] == rv {
			m.dups++
			return nil
		}
		m.held[key] = rv
		m.history[key] = append(m.history[key], rv)
	}
	return nil
}

// Digest implements hub.DigestSource.
func (m *Meta) Digest(ctx context.Context) (hub.Digest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := make(hub.Digest, len(m.held))
	for k, v := range m.held {
		d[k] = v
	}
	return d, nil
}

// Held returns a copy of what the module holds.
func (m *Meta) Held() map[hub.Key]string {
	d, _ := m.Digest(context.Background())
	return d
}

// History returns a copy of each key's applied versions.
func (m *Meta) History() map[hub.Key][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[hub.Key][]string, len(m.history))
	for k, v := range m.history {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Dups returns how many frames were acknowledged without being applied (versions already held).
func (m *Meta) Dups() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dups
}

// Events returns the connection notifications received.
func (m *Meta) Events() []beehive.Operation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]beehive.Operation(nil), m.events...)
}

// Messages returns the frames received.
func (m *Meta) Messages() []beehive.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]beehive.Message(nil), m.messages...)
}

// Edge is a running edge hub with the fake meta and a port to send upstream.
type Edge struct {
	Hub  *edgehub.EdgeHub
	Hive *Hive
	Meta *Meta
	Port *Port
}

// EdgeConfig fills the test defaults of an edge hub config.
func EdgeConfig(t testing.TB, cfg edgehub.Config) edgehub.Config {
	if cfg.OutboxPath == "" {
		cfg.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	if cfg.BackoffInitial == 0 {
		cfg.BackoffInitial = 20 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 200 * time.Millisecond
	}
	if cfg.NotifyGroups == nil {
		cfg.NotifyGroups = []beehive.Group{beehive.GroupMeta}
	}
	return cfg
}

// StartEdge runs an edge hub for cfg (see EdgeConfig) with meta (a new one if nil) as its
// DigestSource and downstream module.
func StartEdge(t testing.TB, cfg edgehub.Config, meta *Meta) *Edge {
	t.Helper()
	if meta == nil {
		meta = NewMeta()
	}
	cfg = EdgeConfig(t, cfg)
	if cfg.DigestSource == nil {
		cfg.DigestSource = meta
	}
	h, err := edgehub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	port := NewPort("sender", beehive.GroupUser, nil)
	hv := RunHive(t, h, meta, port)
	return &Edge{Hub: h, Hive: hv, Meta: meta, Port: port}
}

// Send puts an upstream message into the edge hub's outbox and waits until it is stored.
func (e *Edge) Send(ctx context.Context, op beehive.Operation, key string, rv string, content []byte) error {
	bc := e.Port.Context()
	m := bc.NewMessage(beehive.GroupController, op, key, content)
	m.Header.ResourceVersion = rv
	_, err := bc.SendSync(ctx, edgehub.Name, m)
	return err
}

// Wait polls cond every 10 ms until it returns nil or timeout passes.
func Wait(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %v: %v", what, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PodKey returns the key of pod i in namespace "default".
func PodKey(i int) hub.Key {
	return hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "pod-" + strconv.Itoa(i)}
}

// Errorf is fmt.Errorf, for conditions.
var Errorf = fmt.Errorf
