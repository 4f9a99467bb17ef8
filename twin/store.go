package twin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// Durability says when a commit reaches the disk.
type Durability int

const (
	// DurabilityFull fsyncs at every commit (SQLite synchronous=FULL): an acknowledged write survives a
	// power loss. The default.
	DurabilityFull Durability = iota
	// DurabilityNormal fsyncs at checkpoints only (synchronous=NORMAL): an acknowledged write survives the
	// process being killed, but the last writes before a power loss may be lost (never corrupted).
	DurabilityNormal
)

// Defaults for Config fields left zero.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultReadConns   = 4
	DefaultWatchBuffer = 1024
	DefaultMaxBatch    = 10000
)

// Config is a Store's settings. The zero Config is valid.
type Config struct {
	// Durability is DurabilityFull (default) or DurabilityNormal.
	Durability Durability
	// BusyTimeout bounds the wait for a lock held by another process on the same file
	// (default DefaultBusyTimeout).
	BusyTimeout time.Duration
	// ReadConns bounds the read connections (default DefaultReadConns).
	ReadConns int
	// WatchBuffer is each watcher's channel capacity, in events (default DefaultWatchBuffer). A watcher
	// that falls this far behind is ended with ErrWatchOverflow.
	WatchBuffer int
	// MaxBatch bounds the changes of one Update call (default DefaultMaxBatch).
	MaxBatch int
	// Now is the clock that stamps writes (default time.Now).
	Now func() time.Time
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Durability != DurabilityFull && c.Durability != DurabilityNormal:
		return fmt.Errorf("%w: unknown durability %d", ErrInvalidConfig, c.Durability)
	case c.BusyTimeout < 0:
		return fmt.Errorf("%w: negative busy timeout", ErrInvalidConfig)
	case c.ReadConns < 0 || c.WatchBuffer < 0 || c.MaxBatch < 0:
		return fmt.Errorf("%w: negative size", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.ReadConns == 0 {
		c.ReadConns = DefaultReadConns
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = DefaultWatchBuffer
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Store keeps devices and their twins in one SQLite file. It is safe for concurrent use. Writes are
// serialized; each is one transaction, acknowledged (the call returns nil) only after it committed.
type Store struct {
	cfg Config
	db  *sqlitedb.DB
	st  *stmts

	// wsem is the write lock: held across a transaction and the publication of its events, so that
	// watchers see events in commit order. A channel so that waiting honours the caller's context.
	wsem chan struct{}
	seq  uint64 // last event sequence number; guarded by wsem

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	wmu      sync.Mutex
	watchers map[*Watcher]struct{}
}

// Open opens (or creates) the store in the SQLite file at path.
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := sqlitedb.Options{
		BusyTimeout: cfg.BusyTimeout,
		ReadConns:   cfg.ReadConns,
		Migrations:  migrations(),
	}
	if cfg.Durability == DurabilityNormal {
		opts.Synchronous = sqlitedb.SyncNormal
	}
	db, err := sqlitedb.Open(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("twin: open store: %w", err)
	}
	st, err := prepare(ctx, db.Writer())
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{cfg: cfg, db: db, st: st, wsem: make(chan struct{}, 1), watchers: map[*Watcher]struct{}{}}, nil
}

// Close waits for the write in progress, ends every watcher (Err returns ErrClosed) and closes the file.
// Calls after the first return the first result; every other method then returns ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.wsem <- struct{}{} // wait for the write in progress; later writers see closed
		s.wmu.Lock()
		for w := range s.watchers {
			s.endWatcherLocked(w, ErrClosed)
		}
		s.wmu.Unlock()
		s.st.close()
		s.closeErr = s.db.Close()
		<-s.wsem
	})
	return s.closeErr
}

// write runs fn in one transaction under the write lock and, after the commit, publishes the events fn
// returned.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) ([]Event, error)) error {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()
	if s.closed.Load() {
		return ErrClosed
	}
	var events []Event
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		events, err = fn(tx)
		return err
	})
	if err != nil {
		return s.mapErr(err)
	}
	s.publish(events)
	return nil
}

// mapErr turns storage errors of a closed store into ErrClosed and leaves the others (already wrapped
// with context) alone.
func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() || errors.Is(err, sqlitedb.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

func (s *Store) now() int64 { return s.cfg.Now().UnixMilli() }

// PutDevice creates or replaces a device (as the cloud's membership does): its description, attributes
// and the set of its twins. Twins missing from d.Twins are deleted. A new twin is created with the values
// and versions given in d.Twins; a twin that already exists keeps its values and versions (change them
// with SetDesired and SetReported) and takes the Type and Optional given. An empty d.State keeps the
// stored state ("unknown" for a new device).
func (s *Store) PutDevice(ctx context.Context, d Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	id := d.ID()
	attrs, err := attrsJSON(d.Attributes)
	if err != nil {
		return fmt.Errorf("twin: device %s: attributes: %w", id, err)
	}
	return s.write(ctx, func(tx *sql.Tx) ([]Event, error) {
		old, err := readDevice(ctx, tx, id)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		state, lastOnline := d.State, old.LastOnline
		if state == "" {
			state = old.State
		}
		if state == "" {
			state = StateUnknown
		}
		if _, err := tx.ExecContext(ctx, sqlPutDevice, id, d.Namespace, d.Name, d.Description, string(state),
			lastOnline, attrs); err != nil {
			return nil, fmt.Errorf("twin: put device %s: %w", id, err)
		}
		keep := make(map[string]bool, len(d.Twins))
		for _, t := range d.Twins {
			keep[t.Name] = true
		}
		for _, t := range old.Twins {
			if !keep[t.Name] {
				if _, err := tx.ExecContext(ctx, sqlDeleteTwin, id, t.Name); err != nil {
					return nil, fmt.Errorf("twin: put device %s: delete twin %s: %w", id, t.Name, err)
				}
			}
		}
		put := tx.StmtContext(ctx, s.st.putTwin)
		for _, t := range d.Twins {
			if cur, ok := old.Twin(t.Name); ok && exists {
				cur.Type, cur.Optional = t.Type, t.Optional
				t = cur
			}
			if _, err := put.ExecContext(ctx, twinArgs(id, t)...); err != nil {
				return nil, fmt.Errorf("twin: put device %s: twin %s: %w", id, t.Name, err)
			}
		}
		stored, err := readDevice(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		return []Event{{Kind: EventDevice, DeviceID: id, Device: stored}}, nil
	})
}

// DeleteDevice deletes a device and its twins; ErrNotFound if there is none.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) ([]Event, error) {
		res, err := tx.ExecContext(ctx, sqlDeleteDevice, id)
		if err != nil {
			return nil, fmt.Errorf("twin: delete device %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return nil, fmt.Errorf("%w: device %s", ErrNotFound, id)
		}
		return []Event{{Kind: EventDeviceDeleted, DeviceID: id}}, nil
	})
}

// SetState records the state a device reported (KubeEdge's state/update). LastOnline is set to the
// write's time when the state is online, and kept otherwise (it is the last time the device was seen
// online). ErrNotFound if the device does not exist.
func (s *Store) SetState(ctx context.Context, id string, state DeviceState) error {
	if !state.Valid() {
		return fmt.Errorf("%w: device state %q", ErrInvalid, state)
	}
	return s.write(ctx, func(tx *sql.Tx) ([]Event, error) {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT last_online FROM device WHERE id = ?`, id).Scan(&last); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("%w: device %s", ErrNotFound, id)
			}
			return nil, fmt.Errorf("twin: set state of %s: %w", id, err)
		}
		if state == StateOnline {
			last = s.now()
		}
		if _, err := tx.ExecContext(ctx, sqlSetState, string(state), last, id); err != nil {
			return nil, fmt.Errorf("twin: set state of %s: %w", id, err)
		}
		return []Event{{Kind: EventState, DeviceID: id, State: state, LastOnline: last}}, nil
	})
}
