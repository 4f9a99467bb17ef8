package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEdgemarkSmall runs the whole harness at 50 nodes with SQLite stores: every node connects and
// syncs, every update is committed at the edges, after the cloud's SIGKILL and restart every node is
// back with the changed objects, and nothing is left running.
func TestEdgemarkSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a cloud child and 50 edge hubs for a few seconds")
	}
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	cfg := Config{
		Dir: dir, Nodes: 50, Objects: 4, ObjectSize: 512, Rate: 400, Duration: time.Second, Changed: 2,
		Down: 200 * time.Millisecond, BackoffInitial: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		Store: "auto", Resume: true, CPUProfile: dir + "/cpu", PhaseTimeout: time.Minute, Logf: t.Logf,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Store != "sqlite" {
		t.Errorf("store %q, want sqlite at 50 nodes", res.Store)
	}
	if res.ConnectAll <= 0 || res.SyncAll < res.ConnectAll {
		t.Errorf("connect %v, sync %v", res.ConnectAll, res.SyncAll)
	}
	if res.Sent != 400 || res.Delivered != res.Sent {
		t.Errorf("sent %d, delivered %d: every update is a new key version and must be committed once", res.Sent, res.Delivered)
	}
	if res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("latency p50 %v p99 %v", res.P50, res.P99)
	}
	// Run itself waited for every node to be back, resynced (OpResyncDone on a new connection) and
	// holding every changed version; the restarted cloud's counters must say the same.
	if res.Reconnect <= 0 || res.Resyncs < 50 || res.ResyncChanges != 100 {
		t.Errorf("reconnect %v, %d resyncs, %d changes (want 50 nodes × 2)", res.Reconnect, res.Resyncs, res.ResyncChanges)
	}
	if res.ResyncBytesPerNode < 2*512 || res.ResyncBytesPerNode > 4*512 {
		t.Errorf("resync moved %.0f B/node, want about 2 objects of 512 B", res.ResyncBytesPerNode)
	}
	for _, p := range []string{"-connect.pprof", "-reconnect.pprof"} {
		if st, err := os.Stat(cfg.CPUProfile + p); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", p, err)
		}
	}
	if fds := openFDs(); fds > 64 {
		t.Errorf("%d file descriptors open after the run", fds)
	}
	// goleak (TestMain) checks the goroutines at the end; report early here too.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+2 {
		t.Errorf("%d goroutines after the run, %d before", g, before)
	}
}

// BenchmarkEdgemark is the harness as a benchmark: EDGEHIVE_EDGEMARK_NODES hollow nodes (default 200)
// with 10 objects of 1 KiB each, 2,000 updates/s for 3 s, a SIGKILL of the cloud with one object per
// node changed while it is down. b.N is ignored: one run per call.
func BenchmarkEdgemark(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("EDGEHIVE_EDGEMARK_NODES")); err == nil && v > 0 {
		n = v
	}
	cfg := Config{Nodes: n, Duration: 3 * time.Second, Logf: b.Logf}
	if n <= 1000 {
		cfg.BackoffInitial, cfg.BackoffMax = 200*time.Millisecond, 5*time.Second
	}
	var res Result
	for b.Loop() {
		var err error
		if res, err = Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(res.Nodes), "nodes")
	b.ReportMetric(ms(res.ConnectAll), "ms-to-connect-all")
	b.ReportMetric(res.CloudRSSPerConn, "cloud-bytes/conn")
	b.ReportMetric(ms(res.P50), "p50-ms")
	b.ReportMetric(ms(res.P99), "p99-ms")
	b.ReportMetric(res.SendRate, "msgs/s")
	b.ReportMetric(ms(res.Reconnect), "reconnect-ms")
	b.ReportMetric(res.ResyncBytesPerNode, "resync-bytes/node")
}

// TestControlLines: the child's line reader refuses an oversized line, and update parsing refuses
// what is out of range.
func TestControlLines(t *testing.T) {
	sc := lineReader(strings.NewReader("stats\n" + strings.Repeat("x", maxLine+1) + "\n"))
	if !sc.Scan() || sc.Text() != "stats" {
		t.Fatal("first line not read")
	}
	if sc.Scan() {
		t.Fatal("oversized line read")
	}
	if err := scanErr(sc); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v, want ErrLineTooLong", err)
	}
	for _, in := range []string{"1 2", "a 1 1", "-1 0 1", "5 0 1", "0 3 1", "0 0 0", "0 0 99999999999999999999"} {
		if _, err := parseUpdate(strings.Fields(in), 5, 3); !errors.Is(err, ErrControl) {
			t.Errorf("%q: err %v, want ErrControl", in, err)
		}
	}
	if u, err := parseUpdate([]string{"4", "2", "7"}, 5, 3); err != nil || u != (updateCmd{4, 2, 7}) {
		t.Errorf("got %+v, %v", u, err)
	}
	var buf bytes.Buffer
	want := []uint64{1, 5, 1, 9}
	if err := writeState(&buf, want, 2); err != nil {
		t.Fatal(err)
	}
	got := []uint64{1, 1, 1, 1}
	if err := readState(&buf, got, 2, 2); err != nil || got[1] != 5 || got[3] != 9 {
		t.Fatalf("state round trip: %v, %v", got, err)
	}
	c := objectContent(3, 12, 1234567, 600)
	if len(c) < 590 || sentTime(c) != 1234567 {
		t.Fatalf("content %d bytes, sent %d", len(c), sentTime(c))
	}
}

// TestCommandLine: --help exits 0, bad flags 2, and the cloud subcommand checks its flags.
func TestCommandLine(t *testing.T) {
	var out, errb bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"--help"}, nil, &out, &errb); !errors.Is(err, flag.ErrHelp) || exitCode(err, &errb) != 0 {
		t.Errorf("--help: %v", err)
	}
	if !strings.Contains(errb.String(), "Exit codes") {
		t.Errorf("help text: %q", errb.String())
	}
	for _, args := range [][]string{{"--nodes", "x"}, {"--store", "disk"}, {"extra"}, {"cloud"}, {"cloud", "--dir", "d", "--nodes", "1"}} {
		if err := run(ctx, args, nil, &out, &errb); exitCode(err, &errb) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
