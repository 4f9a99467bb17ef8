package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
)

// cloudFlags are the child's flags (the hidden "cloud" subcommand), set by the harness.
type cloudFlags struct {
	dir, addr, state, cpuprofile string
	nodes, objects, objectSize   int
	maxHandshakes                int
	keepalive, handshake         time.Duration
	tickets                      bool
	verbose                      bool
}

func parseCloudFlags(args []string, stderr io.Writer) (cloudFlags, error) {
	var f cloudFlags
	fs := flag.NewFlagSet("edgemark cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.dir, "dir", "", "the harness's directory: ca/ (the CA) and ticket.key")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:0", "listen address")
	fs.StringVar(&f.state, "state", "", "file of versions other than 1 (\"<node> <object> <rv>\" lines)")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run here")
	fs.IntVar(&f.nodes, "nodes", 0, "number of nodes")
	fs.IntVar(&f.objects, "objects", 0, "objects per node")
	fs.IntVar(&f.objectSize, "object-size", 1024, "bytes per object")
	fs.DurationVar(&f.keepalive, "keepalive", cloudhub.DefaultKeepaliveInterval, "keepalive interval")
	fs.DurationVar(&f.handshake, "handshake-timeout", cloudhub.DefaultHandshakeTimeout, "TLS + upgrade timeout")
	fs.IntVar(&f.maxHandshakes, "max-handshakes", 0, "cloudhub MaxHandshakes (0: its default)")
	fs.BoolVar(&f.tickets, "session-tickets", false, "accept TLS session resumption with the ticket key in --dir")
	fs.BoolVar(&f.verbose, "v", false, "log the cloud hub at info level to stderr")
	if err := fs.Parse(args); err != nil {
		return f, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if f.dir == "" || f.nodes <= 0 || f.objects <= 0 || f.objectSize < 256 || fs.NArg() != 0 {
		return f, fmt.Errorf("%w: cloud needs --dir, --nodes > 0, --objects > 0, --object-size ≥ 256", ErrUsage)
	}
	return f, nil
}

// runCloud is the cloud child: a hive with the cloud hub serving the nodes' desired state, driven by
// control lines on stdin (see control.go) until stdin ends, "quit", or ctx ends (SIGTERM).
func runCloud(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	f, err := parseCloudFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			_ = pf.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile() // a no-op if "pprof-stop" stopped it already
			if cerr := pf.Close(); err == nil {
				err = cerr
			}
		}()
	}
	ca, err := certs.LoadCA(filepath.Join(f.dir, "ca"))
	if err != nil {
		return err
	}
	auth, err := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	if err != nil {
		return err
	}
	srv, err := auth.IssueServerCert(certs.ServerCertConfig{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		return err
	}
	tlsConf := certs.ServerTLSConfig(ca.Certificate(), srv, nil)
	if f.tickets {
		b, err := os.ReadFile(filepath.Join(f.dir, "ticket.key"))
		if err != nil {
			return err
		}
		if len(b) != 32 {
			return fmt.Errorf("ticket.key: %d bytes, want 32", len(b))
		}
		tlsConf.SetSessionTicketKeys([][32]byte{[32]byte(b)})
	} else {
		tlsConf.SessionTicketsDisabled = true
	}

	want := make([]uint64, f.nodes*f.objects)
	for i := range want {
		want[i] = 1
	}
	if f.state != "" {
		sf, err := os.Open(f.state)
		if err != nil {
			return err
		}
		err = readState(sf, want, f.nodes, f.objects)
		_ = sf.Close()
		if err != nil {
			return err
		}
	}
	state := hub.NewMemState()
	now := time.Now().UnixNano()
	for i, rv := range want {
		j := i % f.objects
		state.Put(nodeName(i/f.objects), hub.Object{Key: objectKey(j), ResourceVersion: strconv.FormatUint(rv, 10), Content: objectContent(j, rv, now, f.objectSize)})
	}

	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ch, err := cloudhub.New(cloudhub.Config{
		Addr:              f.addr,
		TLS:               tlsConf,
		Authority:         auth,
		DesiredState:      state,
		KeepaliveInterval: f.keepalive,
		HandshakeTimeout:  f.handshake,
		MaxNodes:          f.nodes,
		MaxHandshakes:     f.maxHandshakes,
		Logger:            logger,
	})
	if err != nil {
		return err
	}
	hive, err := beehive.New(beehive.Config{Logger: logger, StopTimeout: 30 * time.Second})
	if err != nil {
		return err
	}
	feeder := newPort("feeder", beehive.GroupUser)
	sink := newPort("sink", beehive.GroupController) // upstream frames (hollow nodes send none)
	for _, m := range []beehive.Module{ch, feeder, sink} {
		if err := hive.Add(m); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hiveDone := make(chan error, 1)
	go func() { hiveDone <- hive.Run(ctx) }()
	defer func() {
		cancel()
		if herr := <-hiveDone; err == nil && herr != nil && !errors.Is(herr, context.Canceled) {
			err = herr
		}
	}()

	for ch.Addr() == nil {
		select {
		case <-ctx.Done():
			return nil
		case herr := <-hiveDone:
			hiveDone <- herr
			return fmt.Errorf("cloud hub did not start: %w", herr)
		case <-time.After(5 * time.Millisecond):
		}
	}
	out := bufio.NewWriter(stdout)
	reply := func(format string, args ...any) error {
		fmt.Fprintf(out, format+"\n", args...)
		return out.Flush()
	}
	if err := reply("ready %s", ch.Addr()); err != nil {
		return err
	}
	var bee *beehive.Context
	select {
	case bee = <-feeder.ctx:
	case <-ctx.Done():
		return nil
	}

	var prof *os.File // the profile of "pprof-start"
	defer func() {
		if prof != nil {
			pprof.StopCPUProfile()
			_ = prof.Close()
		}
	}()
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := lineReader(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				readErr <- nil
				return
			}
		}
		readErr <- scanErr(sc) // nil at the end of stdin: the parent is gone or done
	}()
	for {
		var line string
		select {
		case line = <-lines:
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return nil
		}
		cmd, rest, _ := strings.Cut(line, " ")
		switch cmd {
		case "update":
			u, err := parseUpdate(strings.Fields(rest), f.nodes, f.objects)
			if err == nil {
				err = sendUpdate(ctx, bee, state, u, f.objectSize)
			}
			if err != nil && ctx.Err() == nil {
				if err := reply("uerr %s", oneLine(err)); err != nil {
					return err
				}
			}
		case "stats":
			st := collectStats(ch, rest == "gc")
			b, err := json.Marshal(st)
			if err != nil {
				return err
			}
			if err := reply("stats %s", b); err != nil {
				return err
			}
		case "pprof-start":
			var perr error
			if prof != nil || f.cpuprofile != "" {
				perr = errors.New("a profile is running")
			} else {
				prof, perr = startProfile(rest)
			}
			if err := reply("%s", okOr(perr)); err != nil {
				return err
			}
		case "pprof-stop":
			pprof.StopCPUProfile()
			var perr error
			if prof != nil {
				perr = prof.Close()
				prof = nil
			}
			if err := reply("%s", okOr(perr)); err != nil {
				return err
			}
		case "quit":
			return nil
		default:
			if err := reply("error unknown command %.40q", cmd); err != nil {
				return err
			}
		}
	}
}

// sendUpdate makes the update desired, then sends it to the cloud hub (the order cloudhub requires).
func sendUpdate(ctx context.Context, bee *beehive.Context, state *hub.MemState, u updateCmd, size int) error {
	node, key := nodeName(u.node), objectKey(u.object)
	rv := strconv.FormatUint(u.rv, 10)
	content := objectContent(u.object, u.rv, time.Now().UnixNano(), size)
	state.Put(node, hub.Object{Key: key, ResourceVersion: rv, Content: content})
	m := bee.NewMessage(beehive.GroupMeta, hub.OpUpdate, cloudhub.NodeResource(node, key), content)
	m.Header.ResourceVersion = rv
	return bee.Send(ctx, cloudhub.Name, m)
}

// startProfile starts a CPU profile into a new file at path; the caller closes it after
// pprof.StopCPUProfile.
func startProfile(path string) (*os.File, error) {
	if path == "" {
		return nil, errors.New("no file")
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		_ = pf.Close()
		return nil, err
	}
	return pf, nil
}

func okOr(err error) string {
	if err != nil {
		return "error " + oneLine(err)
	}
	return "ok"
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func collectStats(ch *cloudhub.CloudHub, gc bool) cloudStats {
	if gc {
		runtime.GC()
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := cloudStats{Hub: ch.Stats(), RSS: readRSS(), Heap: ms.HeapInuse + ms.StackInuse, Goroutines: runtime.NumGoroutine()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		st.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return st
}

// readRSS returns VmRSS of /proc/self/status in bytes (0 if unreadable).
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// port is a module that hands its beehive context out and discards what it receives.
type port struct {
	name  string
	group beehive.Group
	ctx   chan *beehive.Context
}

func newPort(name string, g beehive.Group) *port {
	return &port{name: name, group: g, ctx: make(chan *beehive.Context, 1)}
}

func (p *port) Name() string         { return p.name }
func (p *port) Group() beehive.Group { return p.group }

func (p *port) Run(ctx context.Context, c *beehive.Context) error {
	select {
	case p.ctx <- c:
	default:
	}
	for {
		if _, err := c.Receive(ctx); err != nil {
			return nil
		}
	}
}

var _ beehive.Module = (*port)(nil)
