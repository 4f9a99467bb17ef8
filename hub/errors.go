package hub

import "errors"

// Errors of the hub contract. Compare with errors.Is; they are wrapped with the offending value or field.
var (
	// ErrBadKey: a resource key that is not <namespace>/<kind>/<name> under the naming rules.
	ErrBadKey = errors.New("hub: malformed resource key")
	// ErrBadNodeName: a node name that is not a DNS-1123 subdomain.
	ErrBadNodeName = errors.New("hub: invalid node name")
	// ErrBadCommonName: a certificate CommonName that is not system:node:<valid node name>.
	ErrBadCommonName = errors.New("hub: common name is not system:node:<name>")
	// ErrFrameTooLarge: a frame over the receiver's size limit, refused before it is read into memory.
	ErrFrameTooLarge = errors.New("hub: frame too large")
	// ErrBadFrame: bytes that are not a well-formed frame (bad magic, truncated, non-canonical, trailing
	// bytes, a field over its limit).
	ErrBadFrame = errors.New("hub: malformed frame")
	// ErrVersion: a frame of a protocol version this package does not speak.
	ErrVersion = errors.New("hub: unsupported protocol version")
	// ErrContent: a message content that has no byte form (see FrameFromMessage).
	ErrContent = errors.New("hub: content cannot be encoded")
	// ErrBadDigest: bytes that are not a well-formed resync digest.
	ErrBadDigest = errors.New("hub: malformed resync digest")
	// ErrForbidden: a node asked to write what does not belong to it. The error is a *ForbiddenError.
	ErrForbidden = errors.New("hub: forbidden")
)
