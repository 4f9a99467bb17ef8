package twin

import "errors"

// Errors of the package. Compare with errors.Is; they are wrapped with context (the device id, the twin).
var (
	ErrNotFound      = errors.New("twin: not found")
	ErrClosed        = errors.New("twin: store closed")
	ErrInvalid       = errors.New("twin: invalid")
	ErrInvalidConfig = errors.New("twin: invalid config")
	ErrBatchTooLarge = errors.New("twin: batch too large")
	ErrWatchOverflow = errors.New("twin: watcher fell behind")
	ErrTooLarge      = errors.New("twin: payload too large")
	ErrBadPayload    = errors.New("twin: bad payload")
	ErrBadTopic      = errors.New("twin: not a device twin topic")
)
