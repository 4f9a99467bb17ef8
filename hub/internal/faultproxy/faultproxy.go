// Package faultproxy is a TCP proxy for tests of the hub link: it forwards connections to a target and,
// on demand, cuts them all (Cut) or silently drops their traffic in both directions while keeping them
// open (SetBlackhole), which makes both ends see a half-open connection.
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards TCP connections from its listener to a target address.
type Proxy struct {
	ln        net.Listener
	target    string
	blackhole atomic.Bool
	cuts      atomic.Uint64

	mu     sync.Mutex
	conns  map[*pair]struct{}
	closed bool
	wg     sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	dead           atomic.Bool // blackholed once: stays silent forever
}

func (p *pair) close() {
	_ = p.client.Close()
	if p.server != nil {
		_ = p.server.Close()
	}
}

// New listens on 127.0.0.1 (a free port) and forwards to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[*pair]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cuts returns how many connections Cut has closed.
func (p *Proxy) Cuts() uint64 { return p.cuts.Load() }

// SetBlackhole turns silent dropping on or off. Connections that were open while it was on stay silent
// after it is turned off (their bytes are lost); new connections work again.
func (p *Proxy) SetBlackhole(on bool) {
	p.blackhole.Store(on)
	if on {
		p.mu.Lock()
		for c := range p.conns {
			c.dead.Store(true)
		}
		p.mu.Unlock()
	}
}

// Cut closes every open connection.
func (p *Proxy) Cut() {
	p.mu.Lock()
	for c := range p.conns {
		c.close()
		p.cuts.Add(1)
	}
	p.mu.Unlock()
}

// Close stops the proxy, closes every connection and waits for its goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		pr := &pair{client: c}
		if p.blackhole.Load() {
			pr.dead.Store(true)
		} else if s, err := net.Dial("tcp", p.target); err == nil {
			pr.server = s
		} else {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pr.close()
			return
		}
		p.conns[pr] = struct{}{}
		if pr.server == nil { // accepted while blackholed: read and drop until it ends
			p.wg.Add(1)
			p.mu.Unlock()
			go p.pipe(pr, pr.client, nil)
			continue
		}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(pr, pr.client, pr.server)
		go p.pipe(pr, pr.server, pr.client)
	}
}

// pipe copies from src to dst until either fails; a dead pair's bytes are read and dropped.
func (p *Proxy) pipe(pr *pair, src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		pr.close()
		p.mu.Lock()
		delete(p.conns, pr)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pr.dead.Load() && dst != nil {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
