package meta

import (
	"fmt"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// Defaults for Config fields left zero.
const (
	// DefaultMaxValueBytes is the largest object value accepted: 1.5 MiB, etcd's default request limit,
	// so that anything the Kubernetes API server stores fits.
	DefaultMaxValueBytes = 3 << 19
	// DefaultMaxBatch bounds the writes grouped into one transaction.
	DefaultMaxBatch = 256
	// DefaultQueueSize bounds the writes waiting for the writer goroutine.
	DefaultQueueSize = 1024
	// DefaultWatchBuffer is each watcher's buffer, in events; a watcher that lets it fill is dropped.
	DefaultWatchBuffer = 1024
	// DefaultWatchHistory is how many recent events the store keeps to start watches in the past.
	DefaultWatchHistory = 4096
)

// Config configures the SQLite store. Only Path is required.
type Config struct {
	// Path is the SQLite file (created if missing).
	Path string
	// Synchronous is sqlitedb.SyncFull (default: a committed write survives power loss) or SyncNormal.
	Synchronous sqlitedb.Synchronous
	// MaxValueBytes bounds one object's JSON (default DefaultMaxValueBytes).
	MaxValueBytes int
	// MaxBatch bounds the writes of one transaction (default DefaultMaxBatch).
	MaxBatch int
	// QueueSize bounds the writes waiting for the writer (default DefaultQueueSize); callers beyond it wait.
	QueueSize int
	// WatchBuffer is each watcher's buffer in events (default DefaultWatchBuffer).
	WatchBuffer int
	// WatchHistory is the number of recent events kept for watches that start in the past
	// (default DefaultWatchHistory).
	WatchHistory int
	// ExtraKinds are kinds accepted besides the hub's known kinds (hub.Kind.Known), for vendor modules.
	ExtraKinds []hub.Kind
	// BeforeCommit, if set, is called by the writer goroutine before each commit with the number of
	// writes in the transaction. It is a seam for tests and fault injection: blocking in it holds the
	// commit (and every writer). Leave it nil in production.
	BeforeCommit func(writes int)
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("%w: Path is empty", ErrInvalidConfig)
	case c.MaxValueBytes < 0, c.MaxBatch < 0, c.QueueSize < 0, c.WatchBuffer < 0, c.WatchHistory < 0:
		return fmt.Errorf("%w: negative limit", ErrInvalidConfig)
	case c.Synchronous != sqlitedb.SyncFull && c.Synchronous != sqlitedb.SyncNormal:
		return fmt.Errorf("%w: unknown synchronous mode %d", ErrInvalidConfig, c.Synchronous)
	}
	for _, k := range c.ExtraKinds {
		if k.Known() {
			continue
		}
		if _, err := hub.NewKey("x", k, "x"); err != nil {
			return fmt.Errorf("%w: extra kind %q: %w", ErrInvalidConfig, k, err)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = DefaultMaxValueBytes
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = DefaultWatchBuffer
	}
	if c.WatchHistory == 0 {
		c.WatchHistory = DefaultWatchHistory
	}
	return c
}
