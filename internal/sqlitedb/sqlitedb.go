package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Synchronous is SQLite's PRAGMA synchronous setting: how often the WAL is fsynced.
type Synchronous int

const (
	// SyncFull fsyncs the WAL at every commit: a committed transaction survives a power loss. Default.
	SyncFull Synchronous = iota
	// SyncNormal fsyncs only at checkpoints: a commit survives a crash of the process but the last
	// commits before a power loss or an OS crash may be rolled back (never corrupted). Faster.
	SyncNormal
)

func (s Synchronous) String() string {
	switch s {
	case SyncFull:
		return "FULL"
	case SyncNormal:
		return "NORMAL"
	}
	return "Synchronous(" + strconv.Itoa(int(s)) + ")"
}

// Defaults for Options fields left zero.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultReadConns   = 4
)

// Options are the settings of Open. The zero Options is valid: a file with no schema, FULL durability.
type Options struct {
	// Synchronous is SyncFull (the default) or SyncNormal; see the package doc for the trade-off.
	Synchronous Synchronous
	// BusyTimeout is how long a connection waits for a lock held by another process before failing with
	// SQLITE_BUSY (default DefaultBusyTimeout). Rounded down to milliseconds; at least 1 ms.
	BusyTimeout time.Duration
	// ReadConns bounds the read pool (default DefaultReadConns).
	ReadConns int
	// Migrations are the schema steps, in order; the schema version is the number applied.
	Migrations []Migration
}

// Migration is one schema step: SQL (one or more statements) or Func, exactly one of them. Both run
// inside the migration transaction.
type Migration struct {
	Name string
	SQL  string
	Func func(ctx context.Context, tx *sql.Tx) error
}

// Validate reports a clear error for settings that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Synchronous != SyncFull && o.Synchronous != SyncNormal:
		return fmt.Errorf("%w: unknown synchronous mode %d", ErrInvalidOptions, o.Synchronous)
	case o.BusyTimeout < 0:
		return fmt.Errorf("%w: negative busy timeout %v", ErrInvalidOptions, o.BusyTimeout)
	case o.ReadConns < 0:
		return fmt.Errorf("%w: negative read pool size %d", ErrInvalidOptions, o.ReadConns)
	}
	for i, m := range o.Migrations {
		if (m.SQL == "") == (m.Func == nil) {
			return fmt.Errorf("%w: migration %d (%q) needs exactly one of SQL and Func", ErrInvalidOptions, i+1, m.Name)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.ReadConns == 0 {
		o.ReadConns = DefaultReadConns
	}
	return o
}

// DB is an open SQLite file: one writer connection and a pool of readers. It is safe for concurrent use.
type DB struct {
	path    string
	version int
	w, r    *sql.DB

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the SQLite file at path, checks WAL mode, applies the missing
// migrations and opens the read pool. ctx bounds the opening work.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("%w: path %q must be a file name", ErrInvalidOptions, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: open %s: %w", path, err)
	}
	db := &DB{path: abs}
	db.w, err = sql.Open("sqlite3", dsn(abs, opts, true))
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: open %s: %w", abs, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	if err := db.setup(ctx, opts); err != nil {
		_ = db.w.Close()
		return nil, err
	}
	db.r, err = sql.Open("sqlite3", dsn(abs, opts, false))
	if err == nil {
		db.r.SetMaxOpenConns(opts.ReadConns)
		db.r.SetMaxIdleConns(opts.ReadConns)
		err = db.r.PingContext(ctx)
	}
	if err != nil {
		_ = db.w.Close()
		if db.r != nil {
			_ = db.r.Close()
		}
		return nil, fmt.Errorf("sqlitedb: open %s readers: %w", abs, Classify(err))
	}
	return db, nil
}

// setup checks the writer's journal mode and runs the migrations.
func (db *DB) setup(ctx context.Context, opts Options) error {
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlitedb: open %s: %w", db.path, Classify(err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("%w: %s is in journal mode %q", ErrNoWAL, db.path, mode)
	}
	v, err := migrate(ctx, db.w, db.path, opts.Migrations)
	if err != nil {
		return err
	}
	db.version = v
	return nil
}

// dsn builds the driver's connection string: a file: URI whose query carries the driver's per-connection
// settings (the driver applies them to every new connection of the pool).
func dsn(path string, opts Options, writer bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(max(1, opts.BusyTimeout.Milliseconds()), 10))
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", opts.Synchronous.String())
	if writer {
		q.Set("_journal_mode", "WAL")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	return "file:" + escapePath(path) + "?" + q.Encode()
}

// escapePath escapes the characters that end or alter the path of a SQLite URI.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

// Path returns the absolute path of the file.
func (db *DB) Path() string { return db.path }

// SchemaVersion returns the schema version after Open's migrations (len(Options.Migrations)).
func (db *DB) SchemaVersion() int { return db.version }

// Writer returns the single-connection write pool. Its transactions begin IMMEDIATE. Holding a
// transaction or a *sql.Conn from it blocks every other writer of the process: keep them short.
func (db *DB) Writer() *sql.DB { return db.w }

// Reader returns the read pool (query_only connections).
func (db *DB) Reader() *sql.DB { return db.r }

// Write runs fn in one write transaction and commits it if fn returns nil; it rolls back if fn returns
// an error, panics, or ctx ends first. Writers queue for the single writer connection while ctx lasts.
// SQLite errors in the result are classified (see Classify).
func (db *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.wrapErr(err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return db.wrapErr(err)
	}
	return db.wrapErr(tx.Commit())
}

func (db *DB) wrapErr(err error) error {
	if err != nil && (db.closed.Load() || errors.Is(err, sql.ErrConnDone)) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return Classify(err)
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil if SQLite answers "ok", else an error
// wrapping ErrCorrupt with SQLite's first findings.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	rows, err := db.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return db.wrapErr(err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return db.wrapErr(err)
		}
		if len(found) < 10 {
			found = append(found, s)
		}
	}
	if err := rows.Err(); err != nil {
		return db.wrapErr(err)
	}
	if len(found) == 1 && found[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%w: integrity_check: %s", ErrCorrupt, strings.Join(found, "; "))
}

// Close closes both pools, waiting for the queries in progress. Calling it again returns the first
// result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closed.Store(true)
		db.closeErr = errors.Join(db.r.Close(), db.w.Close())
	})
	return db.closeErr
}
