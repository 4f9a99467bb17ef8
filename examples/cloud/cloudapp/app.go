package cloudapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/controller"
	"github.com/edgehive/edgehive/controller/crds"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
)

// Defaults of the flags.
const (
	DefaultListen     = "127.0.0.1:10000"
	DefaultJoinListen = "127.0.0.1:10002"
	DefaultDataDir    = "/var/lib/edgehive/cloud"
	// crdTimeout bounds the installation of the device CRDs at start.
	crdTimeout = time.Minute
	// registerTimeout bounds the registration of a Node when an edge joins.
	registerTimeout = 30 * time.Second
)

// ErrUsage marks a bad command line: main exits with status 2.
var ErrUsage = errors.New("usage")

// config is the parsed command line.
type config struct {
	Kubeconfig  string
	Listen      string
	JoinListen  string
	DataDir     string
	ServerNames []string
	TokenTTL    time.Duration
	LogLevel    slog.Level
}

const usageText = `Usage:
  cloud [flags]                        run the cloud: hub, join endpoint, edge and device controllers
  cloud token --data-dir DIR [--ttl D] print a new join token for an edge node on stdout

The cloud connects to the Kubernetes API server of --kubeconfig, installs the device CRDs
(devices.kubeedge.io/v1beta1) if absent, and serves edge nodes: the hub (WebSocket over mutual TLS) on
--listen, and the join endpoint (HTTPS: the CA certificate and node certificates for a join token) on
--join-listen. Its CA and join tokens live in --data-dir. Edge nodes are registered as Nodes labelled
node-role.kubernetes.io/edge when they join or first connect; pods bound to them (spec.nodeName) run there.

SIGINT or SIGTERM stop it cleanly.

Flags:
`

// newFlagSet returns the flags of the cloud (and of its token subcommand) bound to cfg.
func newFlagSet(name string, cfg *config, stderr io.Writer, token bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DataDir, "data-dir", DefaultDataDir,
		"directory of the cloud's state: the CA (ca/ca.crt, ca/ca.key) and the join tokens (tokens.json); created 0700 if missing")
	fs.DurationVar(&cfg.TokenTTL, "ttl", certs.DefaultTokenTTL, "lifetime of a join token printed by the token subcommand")
	if !token {
		fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "",
			"kubeconfig of the Kubernetes API server (default: $KUBECONFIG, then ~/.kube/config, then the in-cluster configuration)")
		fs.StringVar(&cfg.Listen, "listen", DefaultListen, "host:port of the hub that edge nodes connect to (wss, mutual TLS)")
		fs.StringVar(&cfg.JoinListen, "join-listen", DefaultJoinListen,
			"host:port of the join endpoint (HTTPS): GET /ca.crt and POST /node/csr with a join token")
		fs.Func("server-name", "extra DNS name or IP address that edges dial, put in the server certificate (repeatable; the listen hosts, localhost and the hostname are always in)",
			func(s string) error {
				if s == "" {
					return errors.New("empty name")
				}
				cfg.ServerNames = append(cfg.ServerNames, s)
				return nil
			})
		fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses the command line; it returns whether the token subcommand was asked for.
func parseArgs(args []string, stderr io.Writer) (cfg config, token bool, err error) {
	if len(args) > 0 && args[0] == "token" {
		token, args = true, args[1:]
	}
	name := "cloud"
	if token {
		name = "cloud token"
	}
	fs := newFlagSet(name, &cfg, stderr, token)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, token, err
		}
		return cfg, token, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, token, fmt.Errorf("%w: unexpected argument %q (subcommands: token)", ErrUsage, fs.Arg(0))
	}
	if cfg.DataDir == "" {
		return cfg, token, fmt.Errorf("%w: --data-dir must not be empty", ErrUsage)
	}
	if cfg.TokenTTL <= 0 {
		return cfg, token, fmt.Errorf("%w: --ttl must be positive", ErrUsage)
	}
	if token {
		return cfg, token, nil
	}
	for _, a := range []struct{ flag, addr string }{{"--listen", cfg.Listen}, {"--join-listen", cfg.JoinListen}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return cfg, token, fmt.Errorf("%w: %s %q: %v", ErrUsage, a.flag, a.addr, err)
		}
	}
	return cfg, token, nil
}

// Run is the whole cloud process: it parses args and runs until ctx ends. The token subcommand prints
// a token on stdout and returns.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, token, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if token {
		return printToken(ctx, cfg, stdout)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	return runCloud(ctx, cfg, log)
}

// openAuthority loads (or creates) the CA of the data dir and returns the Authority over it with the
// data dir's token store.
func openAuthority(ctx context.Context, cfg config) (*certs.Authority, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	ca, err := certs.LoadOrCreateCA(filepath.Join(cfg.DataDir, "ca"), certs.CAConfig{})
	if err != nil {
		return nil, fmt.Errorf("data dir %s: CA: %w", cfg.DataDir, err)
	}
	tokens, err := certs.OpenFileTokenStore(ctx, filepath.Join(cfg.DataDir, "tokens.json"))
	if err != nil {
		return nil, fmt.Errorf("data dir %s: join tokens: %w", cfg.DataDir, err)
	}
	auth, err := certs.NewAuthority(certs.AuthorityConfig{
		CA:       ca,
		Tokens:   tokens,
		TokenTTL: cfg.TokenTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("authority: %w", err)
	}
	return auth, nil
}

// printToken issues a join token recorded in the data dir and prints it.
func printToken(ctx context.Context, cfg config, stdout io.Writer) error {
	auth, err := openAuthority(ctx, cfg)
	if err != nil {
		return err
	}
	tok, err := auth.IssueToken(ctx, 0)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok.String())
	return err
}

// serverNames returns the DNS names and IP addresses of the hub's server certificate.
func serverNames(cfg config) ([]string, []net.IP) {
	var dns []string
	var ips []net.IP
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		if ip := net.ParseIP(s); ip != nil {
			if !ip.IsUnspecified() {
				ips = append(ips, ip)
			}
			return
		}
		dns = append(dns, s)
	}
	for _, a := range []string{cfg.Listen, cfg.JoinListen} {
		host, _, _ := net.SplitHostPort(a)
		add(host)
	}
	add("localhost")
	add("127.0.0.1")
	if h, err := os.Hostname(); err == nil {
		add(strings.ToLower(h))
	}
	for _, s := range cfg.ServerNames {
		add(s)
	}
	return dns, ips
}

// runCloud assembles and runs the cloud until ctx ends.
func runCloud(ctx context.Context, cfg config, log *slog.Logger) error {
	// Fail at once, with a clear message, on an address that cannot be listened on (the hub module
	// would otherwise be restarted by the hive over and over).
	probe, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("hub --listen: %w", err)
	}
	probe.Close()
	auth, err := openAuthority(ctx, cfg)
	if err != nil {
		return err
	}
	dns, ips := serverNames(cfg)
	srv, err := auth.IssueServerCert(certs.ServerCertConfig{DNSNames: dns, IPAddresses: ips})
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.Kubeconfig
	rest, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	crdCtx, cancel := context.WithTimeout(ctx, crdTimeout)
	err = crds.Ensure(crdCtx, dyn)
	cancel()
	if err != nil {
		return fmt.Errorf("install device CRDs on %s: %w", rest.Host, err)
	}

	down := controller.NewHiveDownstream(cloudhub.Name)
	ctl, err := controller.New(controller.Config{
		Client: client, Dynamic: dyn, Downstream: down, SkipCRDInstall: true,
		Logger: log, // the controller names its module itself
	})
	if err != nil {
		return err
	}
	ch, err := cloudhub.New(cloudhub.Config{
		Addr:           cfg.Listen,
		TLS:            certs.ServerTLSConfig(auth.CA().Certificate(), srv, auth.Denylist()),
		Denylist:       auth.Denylist(),
		Authority:      auth,
		DesiredState:   ctl,
		Bindings:       ctl.Bindings(),
		UpstreamModule: controller.ModuleName,
		Logger:         log.With("module", cloudhub.Name),
	})
	if err != nil {
		return err
	}
	hive, err := beehive.New(beehive.Config{Logger: log})
	if err != nil {
		return err
	}
	for _, m := range []beehive.Module{&syncedHub{hub: ch, ctl: ctl}, controller.NewModule(ctl, down, 0)} {
		if err := hive.Add(m); err != nil {
			return err
		}
	}

	// The join endpoint registers each node that joins, in the background.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	join, err := auth.JoinHandler(certs.JoinConfig{
		OnJoin: func(nc certs.NodeCert) {
			log.Info("edge node joined", "node", nc.Node, "serial", nc.Certificate.SerialNumber.Text(16))
			wg.Add(1)
			go func() {
				defer wg.Done()
				registerNode(ctx, ctl, nc.Node, log)
			}()
		},
		OnRefuse: func(r *http.Request, err error) {
			log.Warn("join refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.JoinListen)
	if err != nil {
		return fmt.Errorf("join endpoint --join-listen: %w", err)
	}
	joinSrv := &http.Server{
		Handler:           join,
		TLSConfig:         certs.JoinTLSConfig(srv),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	joinErr := make(chan error, 1)
	go func() { joinErr <- joinSrv.ServeTLS(ln, "", "") }()

	log.Info("cloud starting", "hub", cfg.Listen, "join", cfg.JoinListen, "apiserver", rest.Host,
		"dataDir", cfg.DataDir, "caHash", auth.CA().Hash())
	hiveErr := make(chan error, 1)
	go func() { hiveErr <- hive.Run(ctx) }()

	var runErr error
	select {
	case runErr = <-hiveErr:
		stop()
	case err := <-joinErr:
		runErr = fmt.Errorf("join endpoint: %w", err)
		stop()
		if err := <-hiveErr; err != nil && !errors.Is(err, context.Canceled) {
			runErr = errors.Join(runErr, err)
		}
	case <-ctx.Done():
		runErr = <-hiveErr
	}
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	if err := joinSrv.Shutdown(shutCtx); err != nil {
		joinSrv.Close()
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	log.Info("cloud stopped", "err", runErr)
	return runErr
}

// registerNode creates the Node of a node that joined, retrying for a while.
func registerNode(ctx context.Context, ctl *controller.EdgeController, node hub.NodeName, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		_, err := ctl.RegisterNode(ctx, node)
		if err == nil {
			log.Info("node registered", "node", node)
			return
		}
		select {
		case <-ctx.Done():
			log.Warn("register node", "node", node, "err", err)
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// syncedHub runs the cloud hub once the controller's caches have synced, so that the hub never answers
// an edge's resync (or authorizes its reports) from empty caches: a resync answered then would miss
// the deletes of objects the edge holds and the cloud no longer wants. Downstream messages wait in
// the hub's mailbox meanwhile.
type syncedHub struct {
	hub *cloudhub.CloudHub
	ctl *controller.EdgeController
}

func (s *syncedHub) Name() string         { return s.hub.Name() }
func (s *syncedHub) Group() beehive.Group { return s.hub.Group() }

// Run implements beehive.Module.
func (s *syncedHub) Run(ctx context.Context, c *beehive.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !s.ctl.Synced() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return s.hub.Run(ctx, c)
}
