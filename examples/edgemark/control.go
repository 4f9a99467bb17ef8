package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgehive/edgehive/hub/cloudhub"
)

// The control channel between the harness (parent) and the cloud child is text lines on the child's
// stdin (commands) and stdout (replies), each at most maxLine bytes; a longer line is a protocol error
// that ends the reader (ErrLineTooLong). Commands:
//
//	update <node> <object> <rv>   make object <object> of node hollow-<node> version <rv> and send it
//	                              (no reply unless it fails: "uerr <text>")
//	stats [gc]                    reply "stats <JSON of cloudStats>"; "gc" collects garbage first
//	pprof-start <file>            start a CPU profile of the child; reply "ok" or "error <text>"
//	pprof-stop                    stop it and write the file; reply "ok" or "error <text>"
//	quit                          stop cleanly (as SIGTERM or the end of stdin do)
//
// The child announces "ready <listen address>" once the cloud hub listens.
const maxLine = 64 << 10

// ErrLineTooLong is returned when a control line exceeds maxLine bytes.
var ErrLineTooLong = errors.New("edgemark: control line too long")

// ErrControl is returned for a malformed control line or a child that stopped answering.
var ErrControl = errors.New("edgemark: control channel")

// lineReader returns a scanner of lines bounded by maxLine.
func lineReader(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	return sc
}

// scanErr maps a scanner's error to ErrLineTooLong where it applies.
func scanErr(sc *bufio.Scanner) error {
	err := sc.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		return ErrLineTooLong
	}
	return err
}

// cloudStats is the child's answer to "stats".
type cloudStats struct {
	Hub cloudhub.Stats
	// RSS is the resident set (VmRSS of /proc/self/status), in bytes.
	RSS int64
	// Heap is HeapInuse + StackInuse of runtime.MemStats, in bytes.
	Heap       uint64
	Goroutines int
	// CPU is the user + system time the process has used.
	CPU time.Duration
}

// updateCmd is a parsed "update" command.
type updateCmd struct {
	node, object int
	rv           uint64
}

// parseUpdate parses the fields after "update", refusing indexes outside [0, nodes) and [0, objects).
func parseUpdate(fields []string, nodes, objects int) (updateCmd, error) {
	if len(fields) != 3 {
		return updateCmd{}, fmt.Errorf("%w: update wants 3 fields, got %d", ErrControl, len(fields))
	}
	n, err1 := strconv.Atoi(fields[0])
	o, err2 := strconv.Atoi(fields[1])
	rv, err3 := strconv.ParseUint(fields[2], 10, 64)
	switch {
	case err1 != nil || err2 != nil || err3 != nil:
		return updateCmd{}, fmt.Errorf("%w: update %q: not numbers", ErrControl, strings.Join(fields, " "))
	case n < 0 || n >= nodes || o < 0 || o >= objects || rv == 0:
		return updateCmd{}, fmt.Errorf("%w: update %q: out of range", ErrControl, strings.Join(fields, " "))
	}
	return updateCmd{node: n, object: o, rv: rv}, nil
}

// control is the parent's end of the channel: one writer at a time, a reader goroutine that routes
// replies to the waiting request and counts the asynchronous update errors.
type control struct {
	mu      sync.Mutex // one request at a time
	w       *bufio.Writer
	replies chan string
	done    chan struct{} // closed when the reader ends (the child closed stdout or died)
	errMu   sync.Mutex
	uerrs   []string
	readErr error
}

func newControl(w io.Writer, r io.Reader) (*control, string, error) {
	c := &control{w: bufio.NewWriterSize(w, 64<<10), replies: make(chan string, 1), done: make(chan struct{})}
	sc := lineReader(r)
	if !sc.Scan() {
		err := scanErr(sc)
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, "", fmt.Errorf("%w: waiting for ready: %w", ErrControl, err)
	}
	addr, ok := strings.CutPrefix(sc.Text(), "ready ")
	if !ok {
		return nil, "", fmt.Errorf("%w: want ready, got %q", ErrControl, sc.Text())
	}
	go c.read(sc)
	return c, addr, nil
}

func (c *control) read(sc *bufio.Scanner) {
	defer close(c.done)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "uerr "); ok {
			c.errMu.Lock()
			if len(c.uerrs) < 100 {
				c.uerrs = append(c.uerrs, rest)
			}
			c.errMu.Unlock()
			continue
		}
		select {
		case c.replies <- line:
		case <-time.After(time.Minute):
			// nobody asked: drop it
		}
	}
	c.errMu.Lock()
	c.readErr = scanErr(sc)
	c.errMu.Unlock()
}

// updateErrors returns the update failures the child reported.
func (c *control) updateErrors() []string {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return append([]string(nil), c.uerrs...)
}

// update queues an update command; Flush sends the queued ones.
func (c *control) update(node, object int, rv uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := fmt.Fprintf(c.w, "update %d %d %d\n", node, object, rv)
	return err
}

func (c *control) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Flush()
}

// request sends a command and waits for its reply line.
func (c *control) request(ctx context.Context, cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.w.WriteString(cmd + "\n"); err != nil {
		return "", err
	}
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	select {
	case r := <-c.replies:
		if rest, ok := strings.CutPrefix(r, "error "); ok {
			return "", fmt.Errorf("%w: %s: %s", ErrControl, cmd, rest)
		}
		return r, nil
	case <-c.done:
		c.errMu.Lock()
		err := c.readErr
		c.errMu.Unlock()
		return "", fmt.Errorf("%w: %s: child gone (%v)", ErrControl, cmd, err)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stats asks the child for its stats.
func (c *control) stats(ctx context.Context, gc bool) (cloudStats, error) {
	cmd := "stats"
	if gc {
		cmd = "stats gc"
	}
	r, err := c.request(ctx, cmd)
	if err != nil {
		return cloudStats{}, err
	}
	body, ok := strings.CutPrefix(r, "stats ")
	if !ok {
		return cloudStats{}, fmt.Errorf("%w: want stats, got %.100q", ErrControl, r)
	}
	var st cloudStats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return cloudStats{}, fmt.Errorf("%w: stats: %w", ErrControl, err)
	}
	return st, nil
}

// ok sends a command answered by "ok".
func (c *control) ok(ctx context.Context, cmd string) error {
	r, err := c.request(ctx, cmd)
	if err != nil {
		return err
	}
	if r != "ok" {
		return fmt.Errorf("%w: %s: got %.100q", ErrControl, cmd, r)
	}
	return nil
}
