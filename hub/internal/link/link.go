// Package link is the WebSocket connection shared by the cloud hub and the edge hub: one writer
// goroutine fed by a bounded queue, a read loop that decodes hub frames under a size limit, and the
// application keepalive (OpPing/OpPong) with deadlines. It knows nothing of sessions, acks or nodes.
package link

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// ErrClosed is returned by Send on a closed connection.
var ErrClosed = errors.New("link: connection closed")

// ErrKeepalive is returned by Run when nothing arrived for two keepalive intervals.
var ErrKeepalive = errors.New("link: keepalive timeout (half-open connection)")

// Config of a Conn. All fields are required (the hubs fill them from their own defaults).
type Config struct {
	// Interval is the keepalive interval: a ping goes out when nothing was written for an interval,
	// and the connection is dropped when nothing was read for two.
	Interval time.Duration
	// WriteTimeout bounds each write.
	WriteTimeout time.Duration
	// MaxFrameSize bounds a received frame body (SetReadLimit and hub.Decode).
	MaxFrameSize int
	// QueueSize bounds the frames waiting for the writer.
	QueueSize int
	// Source is Router.Source of the pings and pongs.
	Source string
}

// Counters are the traffic counters of one or many connections.
type Counters struct {
	FramesIn, FramesOut, BytesIn, BytesOut atomic.Uint64
	// TooLarge counts frames refused for their size; BadFrames frames that did not decode.
	TooLarge, BadFrames atomic.Uint64
}

// IDs hands out frame IDs: a random epoch and a counter, as beehive does.
type IDs struct {
	epoch uint64
	seq   atomic.Uint64
}

// NewIDs returns a generator with a random epoch.
func NewIDs() *IDs { return &IDs{epoch: rand.Uint64() | 1} }

// Next returns a fresh ID.
func (g *IDs) Next() beehive.ID { return beehive.ID{Epoch: g.epoch, Seq: g.seq.Add(1)} }

// Conn is one WebSocket connection carrying hub frames.
type Conn struct {
	ws   *websocket.Conn
	cfg  Config
	ids  *IDs
	ctr  *Counters
	out  chan []byte
	done chan struct{}
	once sync.Once

	lastWrite atomic.Int64 // unix nanos of the last write
}

// New wraps ws. Call Run to start it.
func New(ws *websocket.Conn, cfg Config, ids *IDs, ctr *Counters) *Conn {
	ws.SetReadLimit(int64(cfg.MaxFrameSize))
	return &Conn{ws: ws, cfg: cfg, ids: ids, ctr: ctr, out: make(chan []byte, cfg.QueueSize), done: make(chan struct{})}
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection at once (no close handshake); Run returns soon after. Safe to call twice.
func (c *Conn) Close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// Send queues f for the writer, waiting while the queue is full until ctx ends or the connection
// closes. A frame without an ID gets one.
func (c *Conn) Send(ctx context.Context, f *hub.Frame) error {
	b, err := c.encode(f)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	select {
	case c.out <- b:
		return nil
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Conn) encode(f *hub.Frame) ([]byte, error) {
	if f.Header.ID.IsZero() {
		f.Header.ID = c.ids.Next()
	}
	if f.Header.Timestamp == 0 {
		f.Header.Timestamp = time.Now().UnixNano()
	}
	if f.Router.Source == "" {
		f.Router.Source = c.cfg.Source
	}
	return f.MarshalBinary()
}

// Run reads frames and hands each to handle, in order, until the connection fails, handle returns an
// error, ctx ends or Close is called. Pings are answered here and pongs swallowed; handle sees every
// other frame. Run runs the writer in a goroutine, closes the connection and waits for the writer before
// it returns. handle may call Send; it must not keep f.Content beyond its own use unless it copies it
// (it is not reused here, so keeping it is safe too).
func (c *Conn) Run(ctx context.Context, handle func(f *hub.Frame) error) error {
	c.lastWrite.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop(ctx)
	}()
	stop := context.AfterFunc(ctx, c.Close)
	err := c.readLoop(handle)
	stop()
	c.Close()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (c *Conn) readLoop(handle func(f *hub.Frame) error) error {
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * c.cfg.Interval))
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.ctr.TooLarge.Add(1)
				return fmt.Errorf("%w: %w", hub.ErrFrameTooLarge, err)
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("%w: %w", ErrKeepalive, err)
			}
			return err
		}
		c.ctr.FramesIn.Add(1)
		c.ctr.BytesIn.Add(uint64(len(data)))
		if mt != websocket.BinaryMessage {
			c.ctr.BadFrames.Add(1)
			return fmt.Errorf("%w: websocket message type %d", hub.ErrBadFrame, mt)
		}
		f, err := hub.Decode(data, c.cfg.MaxFrameSize)
		if err != nil {
			if errors.Is(err, hub.ErrFrameTooLarge) {
				c.ctr.TooLarge.Add(1)
			} else {
				c.ctr.BadFrames.Add(1)
			}
			return err
		}
		switch f.Router.Operation {
		case hub.OpPing:
			pong := hub.Frame{Header: beehive.Header{ParentID: f.Header.ID}, Router: beehive.Router{Operation: hub.OpPong}}
			if b, err := c.encode(&pong); err == nil {
				select {
				case c.out <- b:
				default: // the queue is full: the peer sees traffic anyway
				}
			}
			continue
		case hub.OpPong:
			continue
		}
		if err := handle(&f); err != nil {
			return err
		}
	}
}

func (c *Conn) writeLoop(ctx context.Context) {
	defer c.Close()
	t := time.NewTimer(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case b := <-c.out:
			if !c.write(b) {
				return
			}
		case <-t.C:
			idle := time.Duration(time.Now().UnixNano() - c.lastWrite.Load())
			if idle >= c.cfg.Interval {
				ping := hub.Frame{Router: beehive.Router{Operation: hub.OpPing}}
				b, err := c.encode(&ping)
				if err != nil || !c.write(b) {
					return
				}
				idle = 0
			}
			t.Reset(c.cfg.Interval - idle)
		case <-c.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (c *Conn) write(b []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return false
	}
	c.lastWrite.Store(time.Now().UnixNano())
	c.ctr.FramesOut.Add(1)
	c.ctr.BytesOut.Add(uint64(len(b)))
	return true
}
