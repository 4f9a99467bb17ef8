package edgeapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"
	"github.com/edgehive/edgehive/eventbus"
	"github.com/edgehive/edgehive/eventbus/broker"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
	"github.com/edgehive/edgehive/meta/metaserver"
	"github.com/edgehive/edgehive/twin"
	"github.com/edgehive/edgehive/twin/twinmodule"
)

// Defaults of the flags.
const (
	DefaultCloud          = "127.0.0.1:10000"
	DefaultJoin           = "127.0.0.1:10002"
	DefaultDataDir        = "/var/lib/edgehive/edge"
	DefaultCRIEndpoint    = "unix:///run/containerd/containerd.sock"
	DefaultMQTT           = "embedded"
	DefaultMQTTListen     = broker.DefaultListen
	DefaultMetaServer     = metaserver.DefaultAddr
	DefaultStatusInterval = 10 * time.Second
)

// ErrUsage marks a bad command line: main exits with status 2.
var ErrUsage = errors.New("usage")

// config is the parsed command line.
type config struct {
	NodeName       hub.NodeName
	Cloud          string
	Join           string
	Token          string
	DataDir        string
	CRIEndpoint    string
	MQTT           string
	MQTTListen     string
	MetaServer     string
	NodeIP         string
	StatusInterval time.Duration
	LogLevel       slog.Level
}

const usageText = `Usage: edge --node-name NAME --token TOKEN [flags]

An edgehive edge node. It keeps what the cloud sends in a local store (--data-dir/meta.db), serves it
read-only as a Kubernetes-style API on --metaserver (kubectl --server http://ADDR get pods), runs the
pods bound to the node on the CRI runtime of --cri-endpoint, keeps device twins behind an MQTT broker
(--mqtt), and reports node, pod and device status to the cloud.

The first start joins the cloud: it fetches the CA from the join endpoint (--join), pins it by the
token's hash, and trades the token for a node certificate, kept in the data dir (node.crt, node.key
0600, ca.crt), so later starts need no token. Joining and connecting to the hub (--cloud) go on in the
background with retries: the local modules serve at once, also while the cloud is away.

SIGINT or SIGTERM stop it cleanly; the pods keep running and are adopted at the next start.

Flags:
`

// parseArgs parses and checks the command line.
func parseArgs(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var node string
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&node, "node-name", defaultNodeName(), "this node's name (a DNS-1123 subdomain), its Node in Kubernetes")
	fs.StringVar(&cfg.Cloud, "cloud", DefaultCloud, "host:port of the cloud hub (wss, mutual TLS)")
	fs.StringVar(&cfg.Join, "join", DefaultJoin, "host:port of the cloud's join endpoint (HTTPS)")
	fs.StringVar(&cfg.Token, "token", "", "join token printed by the cloud's token subcommand (needed until the node has a certificate in --data-dir)")
	fs.StringVar(&cfg.DataDir, "data-dir", DefaultDataDir, "directory of the node's state: meta.db, twin.db, outbox.db, node certificate and key, pod volumes and logs")
	fs.StringVar(&cfg.CRIEndpoint, "cri-endpoint", DefaultCRIEndpoint, "CRI runtime endpoint: unix:///path/to.sock or an absolute socket path")
	fs.StringVar(&cfg.MQTT, "mqtt", DefaultMQTT, "MQTT broker: \"embedded\" (serve one on --mqtt-listen) or a broker URL (tcp://host:port, ssl://…)")
	fs.StringVar(&cfg.MQTTListen, "mqtt-listen", DefaultMQTTListen, "host:port of the embedded MQTT broker (loopback: it allows anonymous clients)")
	fs.StringVar(&cfg.MetaServer, "metaserver", DefaultMetaServer, "host:port of the MetaServer, a read-only Kubernetes-style API (loopback only)")
	fs.StringVar(&cfg.NodeIP, "node-ip", "", "the node's address, reported in its status and as hostIP of its pods (default: the address of the route to --cloud)")
	fs.DurationVar(&cfg.StatusInterval, "status-interval", DefaultStatusInterval, "how often the node status is checked (and reported when it changed) and the node lease renewed")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	n, err := hub.ParseNodeName(node)
	if err != nil {
		return cfg, fmt.Errorf("%w: --node-name: %v", ErrUsage, err)
	}
	cfg.NodeName = n
	for _, a := range []struct{ flag, addr string }{
		{"--cloud", cfg.Cloud}, {"--join", cfg.Join}, {"--metaserver", cfg.MetaServer},
	} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return cfg, fmt.Errorf("%w: %s %q: %v", ErrUsage, a.flag, a.addr, err)
		}
	}
	if cfg.MQTT == DefaultMQTT {
		if _, _, err := net.SplitHostPort(cfg.MQTTListen); err != nil {
			return cfg, fmt.Errorf("%w: --mqtt-listen %q: %v", ErrUsage, cfg.MQTTListen, err)
		}
	} else if u, err := url.Parse(cfg.MQTT); err != nil || u.Host == "" {
		return cfg, fmt.Errorf("%w: --mqtt %q: want \"embedded\" or a URL such as tcp://127.0.0.1:1883", ErrUsage, cfg.MQTT)
	}
	if cfg.DataDir == "" {
		return cfg, fmt.Errorf("%w: --data-dir must not be empty", ErrUsage)
	}
	if cfg.CRIEndpoint == "" {
		return cfg, fmt.Errorf("%w: --cri-endpoint must not be empty", ErrUsage)
	}
	if cfg.StatusInterval <= 0 {
		return cfg, fmt.Errorf("%w: --status-interval must be positive", ErrUsage)
	}
	if cfg.NodeIP != "" && net.ParseIP(cfg.NodeIP) == nil {
		return cfg, fmt.Errorf("%w: --node-ip %q is not an IP address", ErrUsage, cfg.NodeIP)
	}
	return cfg, nil
}

// defaultNodeName is the host name in lower case, or "" if it has none.
func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
}

// routeIP returns the local address of the route to addr, or 127.0.0.1.
func routeIP(addr string) string {
	c, err := net.Dial("udp", addr) // no packet is sent: this only picks the route
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return a.IP.String()
	}
	return "127.0.0.1"
}

// Run is the whole edge process: it parses args and runs until ctx ends.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	if cfg.NodeIP == "" {
		cfg.NodeIP = routeIP(cfg.Cloud)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("node", cfg.NodeName)
	return runEdge(ctx, cfg, log)
}

// runEdge assembles and runs the edge until ctx ends.
func runEdge(ctx context.Context, cfg config, log *slog.Logger) (err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	creds, err := newCredentials(cfg)
	if err != nil {
		return err
	}
	if !creds.joined() && cfg.Token == "" {
		return fmt.Errorf("%w: --token is required: %s holds no node certificate yet", ErrUsage, cfg.DataDir)
	}

	store, err := meta.Open(ctx, meta.Config{Path: filepath.Join(cfg.DataDir, "meta.db")})
	if err != nil {
		return fmt.Errorf("data dir %s: meta store: %w", cfg.DataDir, err)
	}
	defer store.Close()
	since := store.Revision()
	twins, err := twin.Open(ctx, filepath.Join(cfg.DataDir, "twin.db"), twin.Config{})
	if err != nil {
		return fmt.Errorf("data dir %s: twin store: %w", cfg.DataDir, err)
	}
	defer twins.Close()

	ms, err := metaserver.New(metaserver.Config{Store: store, Addr: cfg.MetaServer})
	if err != nil {
		return fmt.Errorf("metaserver: %w", err)
	}
	defer ms.Close()

	brokerURL := cfg.MQTT
	if cfg.MQTT == DefaultMQTT {
		b, err := broker.New(broker.Config{Listen: cfg.MQTTListen, Logger: log.With("module", "broker")})
		if err != nil {
			return fmt.Errorf("mqtt broker: %w", err)
		}
		if err := b.Start(ctx); err != nil {
			return fmt.Errorf("mqtt broker on %s: %w", cfg.MQTTListen, err)
		}
		defer b.Close()
		brokerURL = b.URL()
	}

	mods, err := edgeModules(cfg, log, store, twins, creds, brokerURL, since)
	if err != nil {
		return err
	}
	hive, err := beehive.New(beehive.Config{Logger: log})
	if err != nil {
		return err
	}
	for _, m := range mods {
		if err := hive.Add(m); err != nil {
			return err
		}
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	msErr := make(chan error, 1)
	go func() { msErr <- ms.Run(ctx) }()
	log.Info("edge starting", "cloud", cfg.Cloud, "join", cfg.Join, "metaserver", ms.URL(), "mqtt", brokerURL,
		"cri", cfg.CRIEndpoint, "nodeIP", cfg.NodeIP, "dataDir", cfg.DataDir, "joined", creds.joined())
	runErr := hive.Run(ctx)
	stop()
	if err := <-msErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("metaserver: %w", err)
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	log.Info("edge stopped", "err", runErr)
	return runErr
}

// edgeModules builds the edge's beehive modules.
func edgeModules(cfg config, log *slog.Logger, store *meta.SQLiteStore, twins *twin.Store, creds *credentials,
	brokerURL string, since int64) ([]beehive.Module, error) {
	metaMod, err := meta.NewModule(meta.ModuleConfig{Store: store, Logger: log.With("module", meta.DefaultModuleName)})
	if err != nil {
		return nil, err
	}
	edgedMod, err := edged.NewModule(edged.ModuleConfig{
		Runtime: cri.Config{Endpoint: cfg.CRIEndpoint},
		Manager: edged.Config{
			DataDir:  filepath.Join(cfg.DataDir, "edged"),
			NodeName: string(cfg.NodeName),
			NodeIP:   cfg.NodeIP,
			Logger:   log.With("module", edged.DefaultModuleName),
		},
		Source:     storeSource{store: store},
		NodeStatus: nodeStatusConfig(cfg.StatusInterval),
	})
	if err != nil {
		return nil, err
	}
	twinMod, err := twinmodule.New(twinmodule.Config{Store: twins, NodeName: string(cfg.NodeName),
		Logger: log.With("module", twinmodule.DefaultName)})
	if err != nil {
		return nil, err
	}
	bus, err := eventbus.New(eventbus.Config{BrokerURL: brokerURL, ClientID: "edgehive-" + string(cfg.NodeName),
		Logger: log}) // the bus names its module itself
	if err != nil {
		return nil, err
	}
	link := &linkModule{cfg: cfg, creds: creds, digests: store, log: log.With("module", "edgehub")}
	return []beehive.Module{
		metaMod, edgedMod, twinMod, bus, link,
		&bridge{store: store, since: since, edged: edged.DefaultModuleName, twin: twinmodule.DefaultName,
			log: log.With("module", bridgeName)},
	}, nil
}
