package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// migrations returns the store's schema; the schema version is the number of steps (sqlitedb). Append
// only: never edit or reorder a released step.
func migrations() []sqlitedb.Migration {
	return []sqlitedb.Migration{
		{Name: "objects", SQL: `
CREATE TABLE objects (
	key              TEXT PRIMARY KEY,
	kind             TEXT NOT NULL,
	namespace        TEXT NOT NULL,
	name             TEXT NOT NULL,
	resource_version TEXT NOT NULL,
	revision         INTEGER NOT NULL,
	value            TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX objects_kind_ns ON objects (kind, namespace, name);
CREATE TABLE store_state (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	revision INTEGER NOT NULL
);
INSERT INTO store_state (id, revision) VALUES (1, 1);`},
	}
}

// SchemaVersion is the schema version of the files this package writes.
func SchemaVersion() int { return len(migrations()) }

// SQLiteStore is the Store on one SQLite file (WAL mode, one writer goroutine batching the writes of
// concurrent callers into one transaction). Create it with Open.
type SQLiteStore struct {
	cfg    Config
	db     *sqlitedb.DB
	accept func(hub.Kind) bool

	reqs    chan *writeReq
	closing chan struct{}
	done    chan struct{} // closed when the writer goroutine has returned
	rev     atomic.Int64  // last committed revision
	bc      *broadcaster

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store at cfg.Path and starts its writer goroutine. ctx bounds the
// opening work only. Close the store when done.
func Open(ctx context.Context, cfg Config) (*SQLiteStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	db, err := sqlitedb.Open(ctx, cfg.Path, sqlitedb.Options{Synchronous: cfg.Synchronous, Migrations: migrations()})
	if err != nil {
		return nil, fmt.Errorf("meta: open: %w", err)
	}
	var rev int64
	if err := db.Reader().QueryRowContext(ctx, `SELECT revision FROM store_state WHERE id = 1`).Scan(&rev); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("meta: open: read revision: %w", sqlitedb.Classify(err))
	}
	extra := slices.Clone(cfg.ExtraKinds)
	s := &SQLiteStore{
		cfg:     cfg,
		db:      db,
		accept:  func(k hub.Kind) bool { return k.Known() || slices.Contains(extra, k) },
		reqs:    make(chan *writeReq, cfg.QueueSize),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		bc:      newBroadcaster(cfg.WatchBuffer, cfg.WatchHistory, rev),
	}
	s.rev.Store(rev)
	w, err := newWriter(s)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	go w.run()
	return s, nil
}

// Revision returns the last committed revision.
func (s *SQLiteStore) Revision() int64 { return s.rev.Load() }

func (s *SQLiteStore) readErr(err error) error {
	select {
	case <-s.closing:
		return fmt.Errorf("%w: %w", ErrClosed, err)
	default:
	}
	return sqlitedb.Classify(err)
}

// Get implements Store.
func (s *SQLiteStore) Get(ctx context.Context, key hub.Key) (Object, error) {
	if err := key.Validate(); err != nil {
		return Object{}, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	o := Object{Key: key}
	var v string
	err := s.db.Reader().QueryRowContext(ctx,
		`SELECT resource_version, revision, value FROM objects WHERE key = ?`, key.String()).Scan(&o.ResourceVersion, &o.Revision, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Object{}, fmt.Errorf("meta: get %s: %w", key, s.readErr(err))
	}
	o.Value = []byte(v)
	return o, nil
}

// List implements Store. The objects and the revision come from one read snapshot.
func (s *SQLiteStore) List(ctx context.Context, opts ListOptions) (ListResult, error) {
	tx, err := s.db.Reader().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return ListResult{}, fmt.Errorf("meta: list: %w", s.readErr(err))
	}
	defer func() { _ = tx.Rollback() }()
	var res ListResult
	if err := tx.QueryRowContext(ctx, `SELECT revision FROM store_state WHERE id = 1`).Scan(&res.Revision); err != nil {
		return ListResult{}, fmt.Errorf("meta: list: %w", s.readErr(err))
	}
	q := `SELECT key, resource_version, revision, value FROM objects`
	var args []any
	switch {
	case opts.Kind != "" && opts.Namespace != "":
		q += ` WHERE kind = ? AND namespace = ?`
		args = append(args, string(opts.Kind), opts.Namespace)
	case opts.Kind != "":
		q += ` WHERE kind = ?`
		args = append(args, string(opts.Kind))
	case opts.Namespace != "":
		q += ` WHERE namespace = ?`
		args = append(args, opts.Namespace)
	}
	q += ` ORDER BY namespace, name, kind`
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return ListResult{}, fmt.Errorf("meta: list: %w", s.readErr(err))
	}
	defer rows.Close()
	sel := opts.Selector
	if sel != nil && sel.Empty() {
		sel = nil
	}
	for rows.Next() {
		var o Object
		var k, v string
		if err := rows.Scan(&k, &o.ResourceVersion, &o.Revision, &v); err != nil {
			return ListResult{}, fmt.Errorf("meta: list: %w", s.readErr(err))
		}
		if o.Key, err = hub.ParseKey(k); err != nil {
			return ListResult{}, fmt.Errorf("meta: list: stored key: %w", err)
		}
		o.Value = []byte(v)
		if sel != nil && !sel.Matches(objectLabels(o.Value)) {
			continue
		}
		res.Items = append(res.Items, o)
	}
	if err := rows.Err(); err != nil {
		return ListResult{}, fmt.Errorf("meta: list: %w", s.readErr(err))
	}
	return res, nil
}

// Digest implements hub.DigestSource: the {key → resourceVersion} of every object held. It reflects
// every write whose Put or Delete has returned.
func (s *SQLiteStore) Digest(ctx context.Context) (hub.Digest, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT key, resource_version FROM objects`)
	if err != nil {
		return nil, fmt.Errorf("meta: digest: %w", s.readErr(err))
	}
	defer rows.Close()
	d := make(hub.Digest)
	for rows.Next() {
		var k, rv string
		if err := rows.Scan(&k, &rv); err != nil {
			return nil, fmt.Errorf("meta: digest: %w", s.readErr(err))
		}
		key, err := hub.ParseKey(k)
		if err != nil {
			return nil, fmt.Errorf("meta: digest: stored key: %w", err)
		}
		d[key] = rv
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: digest: %w", s.readErr(err))
	}
	return d, nil
}

// Watch implements Store.
func (s *SQLiteStore) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	if opts.Since < 0 {
		return nil, fmt.Errorf("%w: negative revision %d", ErrExpired, opts.Since)
	}
	return s.bc.add(ctx, opts, s.rev.Load)
}

// IntegrityCheck runs SQLite's integrity check (sqlitedb.DB.IntegrityCheck).
func (s *SQLiteStore) IntegrityCheck(ctx context.Context) error { return s.db.IntegrityCheck(ctx) }

// Close stops the writer (pending writes fail with ErrClosed), ends every watch with ErrClosed and
// closes the file. It is idempotent.
func (s *SQLiteStore) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.done
		s.bc.close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

var _ Store = (*SQLiteStore)(nil)
