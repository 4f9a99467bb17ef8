package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ErrUsage wraps every error of bad flags or arguments (exit code 2).
var ErrUsage = errors.New("usage")

// ErrInterrupted is returned when SIGINT or SIGTERM stopped the run (exit code 130).
var ErrInterrupted = errors.New("interrupted")

// ErrBudget is returned with --check when a figure misses its budget (exit code 3).
var ErrBudget = errors.New("budget missed")

// Budgets of DESIGN.md checked by --check.
const (
	budgetNodes = 10000
	budgetP99   = 50 * time.Millisecond
	budgetRate  = 2000
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and maps it to the exit code: 0 success (or --help), 2 usage, 3 budget missed,
// 130 interrupted, 1 anything else.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrInterrupted):
		fmt.Fprintln(stderr, "edgemark:", err)
		return 130
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(stderr, "edgemark:", err)
		return 2
	case errors.Is(err, ErrBudget):
		fmt.Fprintln(stderr, "edgemark:", err)
		return 3
	default:
		fmt.Fprintln(stderr, "edgemark:", err)
		return 1
	}
}

// run is the command: the harness, or the cloud child ("cloud", hidden).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "cloud" {
		return runCloud(ctx, args[1:], stdin, stdout, stderr)
	}
	var cfg Config
	var asJSON, check, quiet bool
	fs := flag.NewFlagSet("edgemark", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `edgemark: simulated ("hollow") edge nodes against one cloud hub, as KubeEdge's Edgemark.

Runs the cloud hub in a child process (this program, re-executed) and N hollow nodes — real edge
hubs and meta modules over mutual-TLS WebSockets — here; measures the time to connect them all, the
cloud's memory per connection, the cloud→edge delivery latency at a fixed rate, and, after killing
and restarting the cloud, the time until every node is back and resynced and the bytes it took.

Usage: edgemark [flags]

Exit codes: 0 done, 1 failure, 2 bad usage, 3 a budget missed (with --check), 130 interrupted
(SIGINT or SIGTERM: the cloud child and every node are stopped first).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.Nodes, "nodes", DefaultNodes, "hollow nodes")
	fs.IntVar(&cfg.Objects, "objects", DefaultObjects, "objects (config maps) per node")
	fs.IntVar(&cfg.ObjectSize, "object-size", DefaultObjectSize, "bytes per object")
	fs.IntVar(&cfg.Rate, "rate", DefaultRate, "updates per second in the delivery phase, across the nodes")
	fs.DurationVar(&cfg.Duration, "duration", DefaultDuration, "length of the delivery phase")
	fs.IntVar(&cfg.Changed, "changed", DefaultChanged, "objects changed per node while the cloud is down")
	fs.DurationVar(&cfg.Down, "down", DefaultDown, "how long the cloud stays down")
	fs.BoolVar(&cfg.SIGTERM, "sigterm", false, "stop the cloud with SIGTERM (clean) instead of SIGKILL")
	fs.IntVar(&cfg.StartRate, "start-rate", DefaultStartRate, "hollow nodes started per second")
	fs.StringVar(&cfg.Store, "store", "auto", "per-node store: sqlite (meta SQLite store + SQLite outbox), mem (meta.MemStore + in-memory outbox), auto (sqlite up to --sqlite-max nodes)")
	fs.IntVar(&cfg.SQLiteMax, "sqlite-max", DefaultSQLiteMax, "largest node count for which auto picks sqlite (each node holds ~10 file descriptors)")
	fs.DurationVar(&cfg.Keepalive, "keepalive", DefaultKeepalive, "keepalive interval of both ends")
	fs.DurationVar(&cfg.BackoffInitial, "backoff-initial", 0, "edge reconnect backoff, initial (default edgehub's, 1s)")
	fs.DurationVar(&cfg.BackoffMax, "backoff-max", 0, "edge reconnect backoff, cap (default edgehub's, 1m)")
	fs.IntVar(&cfg.MaxHandshakes, "max-handshakes", 0, "the cloud hub's bound on TLS handshakes in progress (default cloudhub's)")
	fs.BoolVar(&cfg.Resume, "resume", false, "TLS session resumption: tickets under a key that survives the cloud's restart")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "path prefix of the cloud's CPU profiles: <prefix>-connect.pprof, <prefix>-reconnect.pprof")
	fs.DurationVar(&cfg.PhaseTimeout, "phase-timeout", DefaultPhaseTimout, "bound on each waiting phase")
	fs.StringVar(&cfg.Dir, "dir", "", "working directory (default a temporary one, removed)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&check, "check", false, "exit 3 if a DESIGN.md budget is missed (10,000 nodes; p99 ≤ 50 ms at 2,000 msg/s)")
	fs.BoolVar(&quiet, "q", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	if !quiet {
		cfg.Logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
		}
	}
	cfg.Stderr = stderr
	res, err := Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: everything started was stopped (%v)", ErrInterrupted, err)
		}
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printResult(stdout, res)
	}
	if check {
		var missed []error
		if res.Nodes < budgetNodes {
			missed = append(missed, fmt.Errorf("%d nodes < %d", res.Nodes, budgetNodes))
		}
		if res.P99 > budgetP99 {
			missed = append(missed, fmt.Errorf("p99 %v > %v", res.P99, budgetP99))
		}
		if res.SendRate < budgetRate*0.95 {
			missed = append(missed, fmt.Errorf("rate %.0f/s < %d/s", res.SendRate, budgetRate))
		}
		if len(missed) > 0 {
			return fmt.Errorf("%w: %w", ErrBudget, errors.Join(missed...))
		}
	}
	return nil
}

func printResult(w io.Writer, r Result) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "nodes                  %d (%s stores, TLS resumption %v)\n", r.Nodes, r.Store, r.Resume)
	fmt.Fprintf(w, "connect all            %s (all objects synced: %s)\n", ms(r.ConnectAll), ms(r.SyncAll))
	fmt.Fprintf(w, "cloud memory           RSS %d MiB; %.0f B/conn RSS, %.0f B/conn heap+stacks; CPU %v to connect\n",
		r.CloudRSS>>20, r.CloudRSSPerConn, r.CloudHeapPerConn, r.CloudCPUConnect.Round(time.Millisecond))
	fmt.Fprintf(w, "harness                %.0f B/node heap+stacks; %d fds open of %d; CPU %v to connect, %v to reconnect\n",
		r.EdgeHeapPerNode, r.FDs, r.FDLimit, r.HarnessCPUConnect.Round(time.Millisecond), r.HarnessCPUReconnect.Round(time.Millisecond))
	fmt.Fprintf(w, "delivery               %d sent at %.0f msg/s, %d commits; p50 %s, p99 %s, max %s\n", r.Sent, r.SendRate, r.Delivered, ms(r.P50), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "reconnect + resync     %s after the restart (%s after the kill; cloud listening after %s)\n", ms(r.Reconnect), ms(r.FromKill), ms(r.CloudReady))
	fmt.Fprintf(w, "resync bytes           digests %d B + %d changes %d B = %.0f B/node; frames in %d B, out %d B\n",
		r.DigestBytes, r.ResyncChanges, r.ResyncBytes, r.ResyncBytesPerNode, r.FrameBytesIn, r.FrameBytesOut)
	fmt.Fprintf(w, "handshakes             connect: %d shed, %d failed; reconnect: %d shed, %d failed (cloud side)\n", r.ConnectShed, r.ConnectFailed, r.Shed, r.FailedHandshakes)
	fmt.Fprintf(w, "restarted cloud        %d connects (%d resumed TLS sessions), %d resyncs, %d edge dial errors, CPU %v\n", r.Connects, r.Resumed, r.Resyncs, r.DialErrors, r.CloudCPUReconnect.Round(time.Millisecond))
	for _, e := range r.ConnectDialErrors {
		fmt.Fprintf(w, "  dial error, connect   %s\n", e)
	}
	for _, e := range r.ReconnectDialErrors {
		fmt.Fprintf(w, "  dial error, reconnect %s\n", e)
	}
}
