package edgehub

import (
	"crypto/tls"
	"testing"
)

// TestSessionCache: a failed handshake (Put nil) keeps the session; clear (rotation) drops it.
func TestSessionCache(t *testing.T) {
	c := newSessionCache()
	s := &tls.ClientSessionState{}
	c.Put("cloud", s)
	c.Put("cloud", nil)
	if got, ok := c.Get("cloud"); !ok || got != s {
		t.Fatal("a failed handshake evicted the session")
	}
	c.clear()
	if _, ok := c.Get("cloud"); ok {
		t.Fatal("clear kept the session")
	}
}
