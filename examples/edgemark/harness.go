package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgehive/edgehive/hub/edgehub"
)

// Defaults of Config.
const (
	DefaultNodes       = 10000
	DefaultObjects     = 10
	DefaultObjectSize  = 1024
	DefaultRate        = 2000
	DefaultDuration    = 10 * time.Second
	DefaultChanged     = 1
	DefaultDown        = time.Second
	DefaultStartRate   = 2000
	DefaultSQLiteMax   = 500
	DefaultKeepalive   = 15 * time.Second
	DefaultPhaseTimout = 5 * time.Minute
)

// childEnv is set in the cloud child's environment, so that a test binary re-executed as the child
// knows it (a main binary sees the "cloud" subcommand).
const childEnv = "EDGEMARK_CHILD"

// Config is one edgemark run. Zero fields take the defaults.
type Config struct {
	// Exe is the program run as the cloud child with the arguments "cloud …" (default: this program).
	Exe string
	// Dir holds the CA, the ticket key, the state file and SQLite stores (default: a temporary
	// directory, removed at the end).
	Dir string
	// Nodes, Objects per node, ObjectSize in bytes.
	Nodes, Objects, ObjectSize int
	// Rate (messages/s) and Duration of the delivery phase.
	Rate     int
	Duration time.Duration
	// Changed objects per node while the cloud is down, and how long it stays down.
	Changed int
	Down    time.Duration
	// SIGTERM stops the cloud with SIGTERM instead of SIGKILL.
	SIGTERM bool
	// StartRate: hollow nodes started per second.
	StartRate int
	// Store: "sqlite" (a meta SQLite store and a SQLite outbox per node), "mem" (meta.MemStore and
	// edgehub.MemoryOutbox), or "auto": sqlite up to SQLiteMax nodes, mem above.
	Store     string
	SQLiteMax int
	// Keepalive interval of both ends; BackoffInitial and BackoffMax of the edges (edgehub defaults).
	Keepalive                  time.Duration
	BackoffInitial, BackoffMax time.Duration
	// Resume enables TLS session resumption: the cloud issues tickets under a key kept in Dir across
	// its restarts, each edge keeps a session cache.
	Resume bool
	// MaxHandshakes is the cloud hub's bound on handshakes in progress (0: cloudhub's default).
	MaxHandshakes int
	// CPUProfile, if set, is a path prefix: the cloud child writes <prefix>-connect.pprof (while the
	// nodes first connect) and <prefix>-reconnect.pprof (from its restart until all nodes resynced).
	CPUProfile string
	// PhaseTimeout bounds each waiting phase.
	PhaseTimeout time.Duration
	// Logf receives progress lines (optional); Stderr the child's stderr (default os.Stderr).
	Logf   func(format string, args ...any)
	Stderr io.Writer
}

func (c Config) withDefaults() Config {
	setI := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setD := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setI(&c.Nodes, DefaultNodes)
	setI(&c.Objects, DefaultObjects)
	setI(&c.ObjectSize, DefaultObjectSize)
	setI(&c.Rate, DefaultRate)
	setI(&c.StartRate, DefaultStartRate)
	setI(&c.SQLiteMax, DefaultSQLiteMax)
	setI(&c.Changed, DefaultChanged)
	setD(&c.Duration, DefaultDuration)
	setD(&c.Down, DefaultDown)
	setD(&c.Keepalive, DefaultKeepalive)
	setD(&c.BackoffInitial, edgehub.DefaultBackoffInitial)
	setD(&c.BackoffMax, edgehub.DefaultBackoffMax)
	setD(&c.PhaseTimeout, DefaultPhaseTimout)
	if c.Store == "" {
		c.Store = "auto"
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Nodes < 0, c.Objects < 0, c.Rate < 0, c.Changed < 0, c.StartRate < 0, c.SQLiteMax < 0, c.MaxHandshakes < 0:
		return bad("negative count")
	case c.Duration < 0, c.Down < 0, c.Keepalive < 0, c.BackoffInitial < 0, c.BackoffMax < 0, c.PhaseTimeout < 0:
		return bad("negative duration")
	case c.ObjectSize != 0 && (c.ObjectSize < 256 || c.ObjectSize > 1<<20):
		return bad("object size %d outside [256, 1 MiB]", c.ObjectSize)
	case c.Store != "" && c.Store != "auto" && c.Store != "mem" && c.Store != "sqlite":
		return bad("store %q is not auto, mem or sqlite", c.Store)
	case c.Changed > c.Objects:
		return bad("changed %d > objects %d", c.Changed, c.Objects)
	}
	return nil
}

// Result is what a run measured.
type Result struct {
	Nodes  int
	Store  string
	Resume bool
	// ConnectAll: first node started → every node connected; SyncAll: → every node holds its
	// objects (the initial resync).
	ConnectAll, SyncAll time.Duration
	// CloudRSSPerConn and CloudHeapPerConn: the cloud child's growth (VmRSS; heap + stacks after GC)
	// from before the first node to all connected and synced, divided by the nodes. The desired state
	// is loaded before, so it is not counted.
	CloudRSSPerConn, CloudHeapPerConn float64
	CloudRSS                          int64
	// EdgeHeapPerNode: the harness's own heap + stacks per hollow node.
	EdgeHeapPerNode float64
	// CloudCPUConnect: CPU time the cloud used from the first node to all synced; HarnessCPUConnect
	// the same for this process (the edges' side of every handshake and sync).
	CloudCPUConnect, HarnessCPUConnect time.Duration
	// Delivery: updates sent at Rate for Duration; Delivered commits seen at the edges; SendRate the
	// rate achieved; P50/P99/Max from the cloud's send stamp to the edge store's commit.
	Sent, Delivered int
	SendRate        float64
	P50, P99, Max   time.Duration
	// Reconnect: the restarted cloud child started → every node reconnected and resynced with the
	// changed objects committed. FromKill adds the downtime. CloudReady is the restart → listening.
	Reconnect, FromKill, CloudReady time.Duration
	// CloudCPUReconnect: CPU time of the restarted cloud until all resynced; HarnessCPUReconnect the
	// same for this process, from the kill.
	CloudCPUReconnect, HarnessCPUReconnect time.Duration
	// Resync counters of the restarted cloud: resync exchanges, digest bytes received, change frames
	// and their bytes, and every frame byte in and out (pings included) until all resynced.
	Resyncs, DigestBytes, ResyncChanges, ResyncBytes, FrameBytesIn, FrameBytesOut uint64
	// ResyncBytesPerNode is (DigestBytes + ResyncBytes) / Nodes.
	ResyncBytesPerNode float64
	// Reconnects counts how many connections the restarted cloud accepted (more than Nodes: some
	// dropped and redialed); Handshake failures show as edge dial errors.
	Connects, DialErrors uint64
	// Shed and FailedHandshakes: the restarted cloud's handshakes refused over MaxHandshakes, and
	// those that failed or timed out (ConnectShed, ConnectFailed: the same in the connect phase).
	Shed, FailedHandshakes, ConnectShed, ConnectFailed uint64
	// Resumed counts the restarted cloud's connections that resumed a TLS session.
	Resumed uint64
	// ConnectDialErrors and ReconnectDialErrors count the edges' failed dials of each phase by kind.
	ConnectDialErrors, ReconnectDialErrors []string
	// FDs: the harness's open file descriptors with every node connected, and its limit.
	FDs, FDLimit int
}

// Run runs the whole benchmark: PKI, cloud child, hollow nodes, connect, delivery, cloud restart and
// resync, shutdown. It returns when everything it started has stopped.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	logf := cfg.Logf
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return res, err
		}
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "edgemark-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	n, k := cfg.Nodes, cfg.Objects
	sqlite := cfg.Store == "sqlite" || (cfg.Store == "auto" && n <= cfg.SQLiteMax)
	res.Nodes, res.Resume, res.Store = n, cfg.Resume, "mem"
	if sqlite {
		res.Store = "sqlite"
	}

	t := time.Now()
	ca, err := makePKI(ctx, cfg.Dir, n)
	if err != nil {
		return res, err
	}
	logf("PKI: CA and %d node certificates in %v", n, time.Since(t).Round(time.Millisecond))

	want := make([]uint64, n*k)
	for i := range want {
		want[i] = 1
	}
	var rv uint64 = 1
	nextRV := func() uint64 { rv++; return rv }

	profile := func(phase string) string {
		if cfg.CPUProfile == "" {
			return ""
		}
		return cfg.CPUProfile + "-" + phase + ".pprof"
	}
	cl, err := startCloud(ctx, cfg, "", "", "")
	if err != nil {
		return res, err
	}
	defer func() {
		if cl != nil { // an early return (or ctx ended): stop the child cleanly all the same
			err = errors.Join(err, cl.stop(context.WithoutCancel(ctx), false))
		}
	}()
	logf("cloud child %d listening on %s (ulimit -n: parent %d)", cl.cmd.Process.Pid, cl.addr, fdLimit())
	base, err := cl.ctl.stats(ctx, true)
	if err != nil {
		return res, err
	}
	if p := profile("connect"); p != "" {
		if err := cl.ctl.ok(ctx, "pprof-start "+p); err != nil {
			return res, err
		}
	}

	rec := newRecorder(n, k)
	dialErrs := newDialErrors()
	ecfg := &edgeConfig{
		url: "wss://" + cl.addr + "/v1/hub", ca: ca, sqlite: sqlite, dir: cfg.Dir, keepalive: cfg.Keepalive,
		backoffInit: cfg.BackoffInitial, backoffMx: cfg.BackoffMax, resume: cfg.Resume, rec: rec,
		logger: slog.New(dialErrs),
	}
	heap0 := heapInUse()
	cpu0 := cpuTime()
	nodes := make([]*hollow, n)
	defer func() {
		t := time.Now()
		err = errors.Join(err, stopAll(nodes))
		logf("hollow nodes stopped in %v", time.Since(t).Round(time.Millisecond))
	}()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	perTick := max(1, cfg.StartRate/100)
	for i := range n {
		if i > 0 && i%perTick == 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				tick.Stop()
				return res, ctx.Err()
			}
		}
		if nodes[i], err = startHollow(ctx, ecfg, i); err != nil {
			tick.Stop()
			return res, fmt.Errorf("node %d: %w", i, err)
		}
	}
	tick.Stop()
	logf("%d hollow nodes started in %v (%s stores)", n, time.Since(start).Round(time.Millisecond), res.Store)
	connected := func() int {
		c := 0
		for _, h := range nodes {
			if h.hub.Connected() {
				c++
			}
		}
		return c
	}
	err = waitFor(ctx, cfg.PhaseTimeout, func() (bool, string) {
		c := connected()
		if c == n && res.ConnectAll == 0 {
			res.ConnectAll = time.Since(start)
			logf("all %d nodes connected in %v", n, res.ConnectAll.Round(time.Millisecond))
		}
		b := rec.behind(want)
		return res.ConnectAll != 0 && b == 0, fmt.Sprintf("%d of %d connected, %d objects behind", c, n, b)
	})
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}
	res.SyncAll = time.Since(start)
	res.FDs, res.FDLimit = openFDs(), fdLimit()
	if cfg.CPUProfile != "" {
		if err := cl.ctl.ok(ctx, "pprof-stop"); err != nil {
			return res, err
		}
	}
	full, err := cl.ctl.stats(ctx, true)
	if err != nil {
		return res, err
	}
	res.CloudRSS = full.RSS
	res.CloudRSSPerConn = float64(full.RSS-base.RSS) / float64(n)
	res.CloudHeapPerConn = (float64(full.Heap) - float64(base.Heap)) / float64(n)
	res.CloudCPUConnect, res.HarnessCPUConnect = full.CPU-base.CPU, cpuTime()-cpu0
	res.ConnectShed, res.ConnectFailed = full.Hub.ShedHandshakes, full.Hub.FailedHandshakes
	res.EdgeHeapPerNode = (float64(heapInUse()) - float64(heap0)) / float64(n)
	res.ConnectDialErrors = dialErrs.take()
	logf("all synced in %v; cloud RSS %d MiB (%.0f B/conn), heap %.0f B/conn, %d goroutines, CPU %v; harness %.0f B/node, %d fds of %d",
		res.SyncAll.Round(time.Millisecond), full.RSS>>20, res.CloudRSSPerConn, res.CloudHeapPerConn, full.Goroutines,
		res.CloudCPUConnect.Round(time.Millisecond), res.EdgeHeapPerNode, res.FDs, res.FDLimit)

	// Delivery at a fixed rate: message m goes to node m%n, object (m/n)%k, in batches every 10 ms.
	total := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	// Every 5 ms the harness sends what the rate owes since the start, so that a late tick (a loaded
	// machine) is caught up rather than lost.
	rec.recording.Store(true)
	tick = time.NewTicker(5 * time.Millisecond)
	start = time.Now()
	for m := 0; m < total; {
		select {
		case <-tick.C:
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		}
		owed := min(total, int(time.Since(start).Seconds()*float64(cfg.Rate)))
		for ; m < owed; m++ {
			node, obj := m%n, (m/n)%k
			v := nextRV()
			want[node*k+obj] = v
			if err := cl.ctl.update(node, obj, v); err != nil {
				tick.Stop()
				return res, err
			}
		}
		if err := cl.ctl.flush(); err != nil {
			tick.Stop()
			return res, err
		}
	}
	tick.Stop()
	sendTime := time.Since(start)
	err = waitFor(ctx, cfg.PhaseTimeout, func() (bool, string) {
		b := rec.behind(want)
		return b == 0, fmt.Sprintf("%d objects behind", b)
	})
	rec.recording.Store(false)
	if err != nil {
		return res, fmt.Errorf("delivery: %w (update errors: %q)", err, cl.ctl.updateErrors())
	}
	lat := rec.latencies()
	res.Sent, res.Delivered = total, len(lat)
	if total > 0 {
		res.SendRate = float64(total) / sendTime.Seconds()
	}
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	logf("delivery: %d sent at %.0f/s, %d commits; p50 %v, p99 %v, max %v", total, res.SendRate, len(lat), res.P50, res.P99, res.Max)

	// The cloud goes down; objects change meanwhile; it comes back and the nodes resync.
	resyncs0 := make([]uint64, n)
	var dial0 uint64
	for i, h := range nodes {
		st := h.hub.Stats()
		resyncs0[i], dial0 = st.Resyncs, dial0+st.DialErrors
	}
	killed, cpu0 := time.Now(), cpuTime()
	if err := cl.stop(ctx, !cfg.SIGTERM); err != nil && !cfg.SIGTERM {
		logf("cloud child killed: %v", err)
	} else if err != nil {
		return res, err
	}
	cl = nil
	for i := range n {
		for j := range cfg.Changed {
			want[i*k+j] = nextRV()
		}
	}
	statePath := filepath.Join(cfg.Dir, "state")
	if err := writeStateFile(statePath, want, k); err != nil {
		return res, err
	}
	if err := sleepCtx(ctx, cfg.Down-time.Since(killed)); err != nil {
		return res, err
	}
	restart := time.Now()
	cl, err = startCloud(ctx, cfg, ecfg.url[len("wss://"):len(ecfg.url)-len("/v1/hub")], statePath, profile("reconnect"))
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	res.CloudReady = time.Since(restart)
	logf("cloud down %v, restarted (pid %d), listening after %v", restart.Sub(killed).Round(time.Millisecond), cl.cmd.Process.Pid, res.CloudReady.Round(time.Millisecond))
	err = waitFor(ctx, cfg.PhaseTimeout, func() (bool, string) {
		back := 0
		for i, h := range nodes {
			if h.hub.Connected() && h.hub.Stats().Resyncs > resyncs0[i] {
				back++
			}
		}
		b := rec.behind(want)
		return back == n && b == 0, fmt.Sprintf("%d of %d back and resynced, %d objects behind", back, n, b)
	})
	if err != nil {
		return res, fmt.Errorf("reconnect: %w", err)
	}
	res.Reconnect, res.FromKill, res.HarnessCPUReconnect = time.Since(restart), time.Since(killed), cpuTime()-cpu0
	if cfg.CPUProfile != "" {
		if err := cl.ctl.ok(ctx, "pprof-stop"); err != nil {
			return res, err
		}
	}
	st, err := cl.ctl.stats(ctx, false)
	if err != nil {
		return res, err
	}
	for _, h := range nodes {
		res.DialErrors += h.hub.Stats().DialErrors
	}
	res.DialErrors -= dial0
	res.ReconnectDialErrors = dialErrs.take()
	res.CloudCPUReconnect = st.CPU
	res.Resyncs, res.DigestBytes, res.ResyncChanges, res.ResyncBytes = st.Hub.Resyncs, st.Hub.DigestBytes, st.Hub.ResyncChanges, st.Hub.ResyncBytes
	res.FrameBytesIn, res.FrameBytesOut, res.Connects = st.Hub.BytesIn, st.Hub.BytesOut, st.Hub.Connects
	res.Shed, res.FailedHandshakes, res.Resumed = st.Hub.ShedHandshakes, st.Hub.FailedHandshakes, st.Hub.Resumed
	res.ResyncBytesPerNode = float64(st.Hub.DigestBytes+st.Hub.ResyncBytes) / float64(n)
	logf("reconnect: all %d nodes back and resynced %v after the restart (%v after the kill); %d connects, %d dial errors; cloud CPU %v; digests %d B, %d changes %d B (%.0f B/node); frames in %d B, out %d B",
		n, res.Reconnect.Round(time.Millisecond), res.FromKill.Round(time.Millisecond), res.Connects, res.DialErrors,
		res.CloudCPUReconnect.Round(time.Millisecond), res.DigestBytes, res.ResyncChanges, res.ResyncBytes, res.ResyncBytesPerNode, res.FrameBytesIn, res.FrameBytesOut)
	if errs := cl.ctl.updateErrors(); len(errs) > 0 {
		return res, fmt.Errorf("the cloud refused updates: %q", errs)
	}
	err = cl.stop(ctx, false)
	cl = nil
	return res, err
}
