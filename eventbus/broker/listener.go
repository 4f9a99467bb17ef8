package broker

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// tcpListener is a mochi listener that owns every goroutine it starts, so that Close returns only when
// they have all ended. mochi's own TCP listener neither waits for its accept loop nor closes sockets
// that have not sent CONNECT yet (their goroutines would block in a read with no deadline, and mochi's
// Close would wait for them forever); this one bounds the wait for CONNECT and closes them all.
//
// It also does not use the CloseFn mochi passes to Close: mochi v2.7.9's Clients.GetByListener, which
// that function calls, takes the clients' read lock twice, and deadlocks when a client disconnecting
// at the same moment (as clients do when a broker stops) queues for the write lock in between.
// disconnect, set by the Broker, does the same work with one lock.
type tcpListener struct {
	id             string
	ln             net.Listener // already listening: bound in Start with the caller's context
	connectTimeout time.Duration
	disconnect     func(listener string) // disconnects the listener's clients; may be nil
	log            *slog.Logger

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	clients sync.WaitGroup // one per accepted connection, until mochi's establish returns
	served  chan struct{}  // closed when Serve returns
	serving bool           // mochi has started a goroutine that runs Serve (see markServing)
}

func newTCPListener(id string, ln net.Listener, connectTimeout time.Duration) *tcpListener {
	return &tcpListener{
		id: id, ln: ln, connectTimeout: connectTimeout,
		conns: make(map[net.Conn]struct{}), served: make(chan struct{}),
	}
}

func (l *tcpListener) ID() string       { return l.id }
func (l *tcpListener) Address() string  { return l.ln.Addr().String() }
func (l *tcpListener) Protocol() string { return "tcp" }

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}

// Serve accepts connections until Close. mochi calls it in a goroutine of its own.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	defer close(l.served)
	delay := time.Duration(0)
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or the like: back off, as net/http does, rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.log.Warn("accept failed", "error", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !l.track(conn) {
			_ = conn.Close()
			return
		}
		// mochi replaces this deadline with the keepalive's once CONNECT has been read.
		_ = conn.SetReadDeadline(time.Now().Add(l.connectTimeout))
		go func() {
			defer l.untrack(conn)
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("client connection ended", "remote", conn.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

// markServing records that mochi's Server.Serve succeeded, so a goroutine running Serve exists (or has
// run) and Close must wait for it.
func (l *tcpListener) markServing() {
	l.mu.Lock()
	l.serving = true
	l.mu.Unlock()
}

func (l *tcpListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *tcpListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.clients.Add(1)
	return true
}

func (l *tcpListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	_ = c.Close()
	l.clients.Done()
}

// Close stops accepting, disconnects the clients (see the type's comment on mochi's CloseFn), closes
// whatever sockets are left, and waits for the accept loop and every connection goroutine to return.
func (l *tcpListener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	serving := l.serving
	l.mu.Unlock()

	_ = l.ln.Close()
	if l.disconnect != nil {
		l.disconnect(l.id)
	}
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.clients.Wait()
	if serving {
		<-l.served
	}
}

var _ listeners.Listener = (*tcpListener)(nil)
