package edgehub

import "errors"

// Errors of the edge hub; compare with errors.Is.
var (
	// ErrTooLarge: an upstream message larger than the whole outbox budget.
	ErrTooLarge = errors.New("edgehub: message larger than the outbox")
	// ErrBadMessage: an upstream message the edge hub cannot carry (no operation, a protocol
	// operation, an object operation without a valid key, content with no byte form).
	ErrBadMessage = errors.New("edgehub: bad upstream message")
)
