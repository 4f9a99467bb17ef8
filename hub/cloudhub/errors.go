package cloudhub

import "errors"

// Errors of the cloud hub; compare with errors.Is.
var (
	// ErrBadResource: a message to the cloud hub whose Resource is not "node/<node>/<key>".
	ErrBadResource = errors.New("cloudhub: malformed node resource")
	// ErrBadOperation: a downstream message whose operation the cloud hub does not forward.
	ErrBadOperation = errors.New("cloudhub: operation not forwarded downstream")
)
