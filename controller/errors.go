package controller

import (
	"errors"

	"github.com/edgehive/edgehive/hub"
)

// Errors of the controller. Compare with errors.Is.
//
// For an upstream report, ErrBadContent, ErrGone and hub.ErrForbidden are final: the report can never be
// applied, and the hub should refuse it (OpNack) rather than resend it. Other errors (the API server
// unreachable, a conflict that outlived its retries, ErrNotRunning) are transient.
var (
	ErrInvalidConfig   = errors.New("controller: invalid config")
	ErrNotRunning      = errors.New("controller: not running (caches not synced)")
	ErrAlreadyRunning  = errors.New("controller: already running")
	ErrBadContent      = errors.New("controller: malformed content")
	ErrGone            = errors.New("controller: object no longer exists")
	ErrDevicesDisabled = errors.New("controller: device controller disabled (no dynamic client)")
	ErrUnsupported     = errors.New("controller: unsupported report")
)

// Final reports whether err, returned by HandleUpstream, means the report can never be applied.
func Final(err error) bool {
	return errors.Is(err, ErrBadContent) || errors.Is(err, ErrGone) || errors.Is(err, ErrUnsupported) ||
		errors.Is(err, hub.ErrForbidden)
}
