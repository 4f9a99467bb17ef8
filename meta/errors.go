package meta

import "errors"

// Errors of the meta store and module. Compare with errors.Is; they are wrapped with the offending key
// or value. SQLite failures additionally carry internal/sqlitedb's classification (ErrBusy, ErrFull, …).
var (
	// ErrNotFound: the store holds no object under the key. Offline answers also wrap ErrOffline.
	ErrNotFound = errors.New("meta: not found")
	// ErrOffline: the object is not held locally and the cloud is not connected to ask.
	ErrOffline = errors.New("meta: offline, cloud not connected")
	// ErrStale: a write carried a resourceVersion older than the one held; the store is unchanged.
	ErrStale = errors.New("meta: stale resourceVersion")
	// ErrClosed: the store (or module) is closed.
	ErrClosed = errors.New("meta: closed")
	// ErrBadKey: a malformed key (see hub.ParseKey) or a kind the store does not accept.
	ErrBadKey = errors.New("meta: bad key")
	// ErrBadValue: a value that is not a JSON object.
	ErrBadValue = errors.New("meta: bad value")
	// ErrTooLarge: a value over Config.MaxValueBytes.
	ErrTooLarge = errors.New("meta: value too large")
	// ErrExpired: a watch asked to start at a revision older than the history the store keeps; list
	// again and watch from the list's revision (Kubernetes' 410 Gone).
	ErrExpired = errors.New("meta: revision too old, history compacted")
	// ErrWatcherTooSlow: a watcher did not drain its buffer and was dropped so as not to block the writer.
	ErrWatcherTooSlow = errors.New("meta: watcher too slow, dropped")
	// ErrBadQuery: a query message the module cannot read.
	ErrBadQuery = errors.New("meta: bad query")
	// ErrInvalidConfig: a Config or ModuleConfig that cannot work.
	ErrInvalidConfig = errors.New("meta: invalid config")
)
