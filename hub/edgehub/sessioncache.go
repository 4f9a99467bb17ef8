package edgehub

import (
	"crypto/tls"
	"sync"
)

// sessionCache is the edge hub's TLS client session cache (Config.SessionResumption): the sessions
// (tickets) the cloud issued, by server, so that a reconnect resumes instead of running a full
// handshake. clear forgets them, so that the next connection presents the current certificate.
type sessionCache struct {
	mu       sync.Mutex
	sessions map[string]*tls.ClientSessionState
}

func newSessionCache() *sessionCache {
	return &sessionCache{sessions: make(map[string]*tls.ClientSessionState)}
}

// Get implements tls.ClientSessionCache.
func (c *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[key]
	return s, ok
}

// Put implements tls.ClientSessionCache. A nil state, which crypto/tls puts after any failed
// handshake, is ignored: in a reconnect storm most failures are the cloud shedding load (see
// cloudhub's MaxHandshakes), and dropping the ticket then would turn the next attempt into a full
// handshake, twice the cloud's work. Keeping it is safe: a ticket the cloud cannot use any more (new
// ticket keys, expired) only makes the cloud fall back to a full handshake, and a resumed session
// is checked against the denylist like a new one. clear drops the sessions on rotation. An edge
// talks to one cloud, so the cache holds at most a few entries: past 8 it starts over.
func (c *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	if cs == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= 8 {
		clear(c.sessions)
	}
	c.sessions[key] = cs
}

func (c *sessionCache) clear() {
	c.mu.Lock()
	clear(c.sessions)
	c.mu.Unlock()
}

var _ tls.ClientSessionCache = (*sessionCache)(nil)
