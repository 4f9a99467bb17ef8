package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/internal/sqlitedb"
	"github.com/edgehive/edgehive/meta"
)

// recorder sees every commit of every hollow node's store: the versions held (to tell when a node is
// in sync) and, while recording, the delay from the cloud's send stamp to the commit.
type recorder struct {
	objects int
	held    []atomic.Uint64 // node*objects+object → the version committed

	recording atomic.Bool
	mu        sync.Mutex
	lat       []time.Duration
}

func newRecorder(nodes, objects int) *recorder {
	return &recorder{objects: objects, held: make([]atomic.Uint64, nodes*objects)}
}

// committed is called after node's store committed (or already held) version rv of key.
func (r *recorder) committed(node int, key hub.Key, rv string, value []byte) {
	j := objectIndex(key)
	v, err := strconv.ParseUint(rv, 10, 64)
	if j < 0 || j >= r.objects || err != nil {
		return
	}
	r.held[node*r.objects+j].Store(v)
	if r.recording.Load() {
		if sent := sentTime(value); sent > 0 {
			d := time.Duration(time.Now().UnixNano() - sent)
			r.mu.Lock()
			r.lat = append(r.lat, d)
			r.mu.Unlock()
		}
	}
}

// behind returns how many objects differ from want.
func (r *recorder) behind(want []uint64) int {
	n := 0
	for i := range want {
		if r.held[i].Load() != want[i] {
			n++
		}
	}
	return n
}

// latencies returns the sorted samples and forgets them.
func (r *recorder) latencies() []time.Duration {
	r.mu.Lock()
	l := r.lat
	r.lat = nil
	r.mu.Unlock()
	slices.Sort(l)
	return l
}

// timedStore is a meta.Store that reports its commits to the recorder.
type timedStore struct {
	meta.Store
	node int
	rec  *recorder
}

func (s *timedStore) Put(ctx context.Context, key hub.Key, rv string, value []byte) (int64, error) {
	r, err := s.Store.Put(ctx, key, rv, value)
	if err == nil {
		s.rec.committed(s.node, key, rv, value)
	}
	return r, err
}

// hollow is one simulated edge node: a hive with the real edge hub and the real meta module on a
// store of its own.
type hollow struct {
	hub   *edgehub.EdgeHub
	store meta.Store
	stop  context.CancelFunc
	done  chan error
}

// edgeConfig is what every hollow node shares.
type edgeConfig struct {
	url                    string
	ca                     *tlsCA
	sqlite                 bool
	dir                    string
	keepalive              time.Duration
	backoffInit, backoffMx time.Duration
	resume                 bool
	rec                    *recorder
	logger                 *slog.Logger
}

// tlsCA is the CA certificate and each node's client certificate.
type tlsCA struct {
	pool  *certs.CA
	certs []tls.Certificate
}

// startHollow starts node i.
func startHollow(ctx context.Context, cfg *edgeConfig, i int) (*hollow, error) {
	var store meta.Store
	outbox := edgehub.MemoryOutbox
	if cfg.sqlite {
		d := filepath.Join(cfg.dir, "nodes", strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		s, err := meta.Open(ctx, meta.Config{Path: filepath.Join(d, "meta.db"), Synchronous: sqlitedb.SyncNormal})
		if err != nil {
			return nil, err
		}
		store, outbox = s, filepath.Join(d, "outbox.db")
	} else {
		store = meta.NewMemStore()
	}
	ts := &timedStore{Store: store, node: i, rec: cfg.rec}
	tc := certs.ClientTLSConfig(cfg.ca.pool.Certificate(), "127.0.0.1", certs.NewCertHolder(cfg.ca.certs[i]))
	eh, err := edgehub.New(edgehub.Config{
		URL:               cfg.url,
		TLS:               tc,
		OutboxPath:        outbox,
		OutboxRelaxedSync: true,
		DigestSource:      ts,
		NotifyGroups:      []beehive.Group{beehive.GroupMeta},
		BackoffInitial:    cfg.backoffInit,
		BackoffMax:        cfg.backoffMx,
		KeepaliveInterval: cfg.keepalive,
		SessionResumption: cfg.resume,
		Logger:            cfg.logger,
	})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	mm, err := meta.NewModule(meta.ModuleConfig{Store: ts, WriteWorkers: 1, MaxQueries: 4, Logger: cfg.logger})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	hv, err := beehive.New(beehive.Config{Logger: cfg.logger, StopTimeout: 30 * time.Second})
	if err == nil {
		err = errors.Join(hv.Add(smallMailbox{eh}), hv.Add(smallMailbox{mm}))
	}
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	hctx, stop := context.WithCancel(ctx)
	h := &hollow{hub: eh, store: store, stop: stop, done: make(chan error, 1)}
	go func() { h.done <- hv.Run(hctx) }()
	return h, nil
}

// hollowMailbox is the mailbox size of a hollow node's modules. beehive's default (1,024 messages of
// about 160 bytes) would cost over 300 KB per node in channel buffers alone; a hollow node receives a
// few messages a second.
const hollowMailbox = 64

// smallMailbox gives a module a mailbox of hollowMailbox messages (beehive.Configurer).
type smallMailbox struct{ beehive.Module }

func (m smallMailbox) ModuleConfig() beehive.ModuleConfig {
	return beehive.ModuleConfig{MailboxSize: hollowMailbox}
}

// close stops the node's hive and closes its store.
func (h *hollow) close() error {
	h.stop()
	err := <-h.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return errors.Join(err, h.store.Close())
}

// stopAll stops the nodes, a few at a time.
func stopAll(nodes []*hollow) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	sem := make(chan struct{}, 64)
	for i, h := range nodes {
		if h == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.close(); err != nil {
				errs[i] = fmt.Errorf("node %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
