package certs

import (
	"context"
	"fmt"
	"math/big"
	"sync"

	"github.com/edgehive/edgehive/hub"
)

// Denylist is the revocation list the cloud hub consults on every handshake (ServerTLSConfig) and, for
// open connections, whenever it changes (see Notifier) or on each keepalive. Denial is for good: there
// is no way back for a denied node name or serial in this interface. A node whose certificate alone
// was compromised is denied by serial and may join again (with a token) under a new certificate.
//
// Implementations must be safe for concurrent use. Denied is called inside TLS handshakes and must
// answer from memory without blocking.
type Denylist interface {
	// DenyNode refuses every certificate of node, now and later.
	DenyNode(ctx context.Context, node hub.NodeName) error
	// DenySerial refuses the certificate with this serial number.
	DenySerial(ctx context.Context, serial *big.Int) error
	// Denied reports whether node, or the certificate with this serial (nil: none), is refused.
	Denied(node hub.NodeName, serial *big.Int) bool
}

// Notifier is implemented by denylists that announce changes: Changed returns a channel that is closed
// at the next change (call it again for the one after), so that a cloud hub can re-check its open
// connections at once.
type Notifier interface {
	Changed() <-chan struct{}
}

// MemDenylist is an in-memory Denylist and Notifier. The zero value is not usable; call NewMemDenylist.
type MemDenylist struct {
	mu      sync.RWMutex
	nodes   map[hub.NodeName]struct{}
	serials map[string]struct{}
	changed chan struct{}
}

// NewMemDenylist returns an empty denylist.
func NewMemDenylist() *MemDenylist {
	return &MemDenylist{
		nodes:   make(map[hub.NodeName]struct{}),
		serials: make(map[string]struct{}),
		changed: make(chan struct{}),
	}
}

// DenyNode implements Denylist.
func (d *MemDenylist) DenyNode(ctx context.Context, node hub.NodeName) error {
	if err := node.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nodes[node] = struct{}{}
	d.notify()
	return nil
}

// DenySerial implements Denylist.
func (d *MemDenylist) DenySerial(ctx context.Context, serial *big.Int) error {
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("%w: serial must be positive", ErrBadCertificate)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.serials[string(serial.Bytes())] = struct{}{}
	d.notify()
	return nil
}

// notify wakes the waiters of Changed; d.mu must be held.
func (d *MemDenylist) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// Denied implements Denylist.
func (d *MemDenylist) Denied(node hub.NodeName, serial *big.Int) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.nodes[node]; ok {
		return true
	}
	if serial == nil {
		return false
	}
	_, ok := d.serials[string(serial.Bytes())]
	return ok
}

// Changed implements Notifier.
func (d *MemDenylist) Changed() <-chan struct{} {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.changed
}

var (
	_ Denylist = (*MemDenylist)(nil)
	_ Notifier = (*MemDenylist)(nil)
)
