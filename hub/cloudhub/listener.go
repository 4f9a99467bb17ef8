package cloudhub

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// handshakeQueueFactor bounds the connections waiting for a handshake slot: factor × MaxHandshakes.
const handshakeQueueFactor = 16

// handshakeListener accepts TCP connections and runs their TLS handshakes, at most max at a time,
// first come first served; Accept returns the connections whose handshake succeeded (as *tls.Conn, so
// that net/http fills Request.TLS). A connection waits for a slot at most half the handshake timeout,
// and at most max × handshakeQueueFactor connections wait; one beyond either bound is closed unserved
// (shed). Each handshake has the rest of the timeout, counted from the accept.
//
// Why: in a reconnect storm every node dials within seconds. Handshakes all started at once share
// the CPUs, so each one takes as long as all of them together; past the clients' handshake timeout
// every one of them fails after having cost its CPU, the clients back off further, and the storm
// lasts minutes (measured by examples/edgemark at 10,000 nodes on 2 cores). With a bound, a started
// handshake finishes in milliseconds, a connection whose client would have given up is refused before
// any CPU is spent on it, and its client backs off with jitter.
type handshakeListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
	slots   chan struct{} // handshakes in progress
	queue   chan struct{} // connections waiting for a slot or in a handshake
	out     chan net.Conn
	done    chan struct{}
	ctx     context.Context // ends at Close: interrupts waits and handshakes
	cancel  context.CancelFunc
	once    sync.Once
	wg      sync.WaitGroup

	errMu sync.Mutex
	err   error // the raw listener's Accept error, returned by Accept after Close

	shed, failed func() // counters
}

func newHandshakeListener(ln net.Listener, cfg *tls.Config, max int, timeout time.Duration, shed, failed func()) *handshakeListener {
	l := &handshakeListener{
		Listener: ln, cfg: cfg, timeout: timeout,
		slots: make(chan struct{}, max), queue: make(chan struct{}, max*handshakeQueueFactor),
		out: make(chan net.Conn), done: make(chan struct{}),
		shed: shed, failed: failed,
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // a temporary failure (EMFILE …): try again
				continue
			}
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			_ = l.Close()
			return
		}
		select {
		case l.queue <- struct{}{}:
		default:
			l.shed()
			_ = c.Close()
			continue
		}
		l.wg.Add(1)
		go l.handshake(c, time.Now())
	}
}

func (l *handshakeListener) handshake(c net.Conn, accepted time.Time) {
	defer l.wg.Done()
	defer func() { <-l.queue }()
	wait := time.NewTimer(l.timeout / 2)
	select {
	case l.slots <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		l.shed()
		_ = c.Close()
		return
	case <-l.ctx.Done():
		wait.Stop()
		_ = c.Close()
		return
	}
	tc := tls.Server(c, l.cfg)
	deadline := accepted.Add(l.timeout)
	_ = c.SetDeadline(deadline)
	// crypto/tls ends the handshake when ctx ends by closing the connection.
	ctx, cancel := context.WithDeadline(l.ctx, deadline)
	err := tc.HandshakeContext(ctx)
	cancel()
	<-l.slots
	if err != nil {
		l.failed()
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	select {
	case l.out <- tc:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next connection with a completed handshake.
func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.out:
		return c, nil
	case <-l.done:
		l.errMu.Lock()
		defer l.errMu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting and ends the waits and handshakes in progress; Wait waits for them.
func (l *handshakeListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.cancel()
		err = l.Listener.Close()
	})
	return err
}

// Wait waits for the accept loop and the handshakes after Close.
func (l *handshakeListener) Wait() { l.wg.Wait() }
