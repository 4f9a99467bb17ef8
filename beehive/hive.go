package beehive

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultStopTimeout = 30 * time.Second
	DefaultSyncTimeout = 10 * time.Second
)

// Config is a Hive's settings. The zero Config is valid: every field has a default.
type Config struct {
	// Logger receives module failures, panics and restarts. Default: slog.Default().
	Logger *slog.Logger
	// StopTimeout bounds how long Run waits, after its context ends, for modules to return
	// (default DefaultStopTimeout). Run then returns ErrStopTimeout naming the modules still running.
	StopTimeout time.Duration
	// SyncTimeout bounds SendSync when its context has no deadline (default DefaultSyncTimeout).
	SyncTimeout time.Duration
	// OnRestart, if set, is called (from the module's supervisor goroutine) each time a module is about
	// to be restarted, before the backoff delay. It must not block.
	OnRestart func(RestartEvent)
}

// RestartEvent describes one restart decision.
type RestartEvent struct {
	Module  string
	Attempt int           // 1 for the first restart since the module last ran stably
	Delay   time.Duration // backoff before the module runs again
	Err     error         // why it stopped: its error, a *PanicError, or nil (RestartAlways)
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	if c.StopTimeout < 0 || c.SyncTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	return c
}

// PanicError is the error a module's run ends with when it panicked.
type PanicError struct {
	Module string
	Value  any
	Stack  []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("beehive: module %q panicked: %v", e.Module, e.Value)
}

const (
	stateNew int32 = iota
	stateRunning
	stateClosed
)

// Hive runs modules and carries the messages between them. Create one with New, Add modules, then Run.
// A Hive holds no package-level state: any number of hives may run in one process.
type Hive struct {
	cfg   Config
	log   *slog.Logger
	epoch uint64
	seq   atomic.Uint64

	mu      sync.Mutex
	state   atomic.Int32
	modules map[string]*entry // written only before Run, read without locking after
	groups  map[Group][]*entry
	order   []*entry
	done    chan struct{} // closed when the hive stops accepting messages

	waiters *waiterPool
	// runCtx is the context Run gives every module. It ends exactly when the hive closes, and the
	// waiter sweeper then releases every pending SendSync, so a SendSync on it needs no select.
	runCtx context.Context
}

// New returns a Hive with cfg. It returns an error if cfg is invalid.
func New(cfg Config) (*Hive, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("beehive: message id epoch: %w", err)
	}
	h := &Hive{
		cfg:     cfg,
		log:     cfg.Logger,
		epoch:   binary.LittleEndian.Uint64(b[:]) | 1, // never zero, so an ID is never the zero ID
		modules: make(map[string]*entry),
		groups:  make(map[Group][]*entry),
		done:    make(chan struct{}),
	}
	h.waiters = newWaiterPool(cfg.SyncTimeout)
	return h, nil
}

// entry is a module in the hive together with its mailbox and counters.
type entry struct {
	name    string
	group   Group
	mod     Module
	cfg     ModuleConfig
	mailbox chan Message
	ctx     Context

	stopped atomic.Bool // returned and will not be restarted
	running atomic.Bool

	// Counters. sent and received are written by different goroutines on every message, so they sit on
	// separate cache lines.
	_            [64]byte
	sent         atomic.Uint64
	_            [56]byte
	received     atomic.Uint64
	_            [56]byte
	dropped      atomic.Uint64
	syncTimeouts atomic.Uint64
	late         atomic.Uint64
	restarts     atomic.Uint64
	lastErr      atomic.Pointer[string]
}

// Add registers m. It fails with ErrEmptyName, ErrDuplicateName, ErrInvalidConfig, or ErrRunning once the
// hive has started.
func (h *Hive) Add(m Module) error {
	name := m.Name()
	if name == "" {
		return ErrEmptyName
	}
	var mc ModuleConfig
	if c, ok := m.(Configurer); ok {
		mc = c.ModuleConfig()
	}
	if err := mc.Validate(); err != nil {
		return fmt.Errorf("module %q: %w", name, err)
	}
	mc = mc.withDefaults()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state.Load() {
	case stateRunning:
		return ErrRunning
	case stateClosed:
		return ErrClosed
	}
	if _, dup := h.modules[name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateName, name)
	}
	e := &entry{name: name, group: m.Group(), mod: m, cfg: mc, mailbox: make(chan Message, mc.MailboxSize)}
	e.ctx = Context{hive: h, self: e}
	h.modules[name] = e
	if e.group != "" {
		h.groups[e.group] = append(h.groups[e.group], e)
	}
	h.order = append(h.order, e)
	return nil
}

// Run starts every module and supervises it until ctx ends, then waits for all modules to return
// (at most Config.StopTimeout) and returns. A Hive runs once: a second Run returns ErrRunning or
// ErrClosed. Sends after Run has returned fail with ErrClosed.
func (h *Hive) Run(ctx context.Context) error {
	h.mu.Lock()
	switch h.state.Load() {
	case stateRunning:
		h.mu.Unlock()
		return ErrRunning
	case stateClosed:
		h.mu.Unlock()
		return ErrClosed
	}
	h.state.Store(stateRunning)
	entries := append([]*entry(nil), h.order...)
	h.mu.Unlock()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	h.runCtx = runCtx // written before any module starts; read-only after
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.waiters.run(h.done)
	}()
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.supervise(runCtx, e)
		}()
	}
	<-ctx.Done()
	cancel()
	h.mu.Lock()
	h.state.Store(stateClosed)
	close(h.done)
	h.mu.Unlock()

	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	timer := time.NewTimer(h.cfg.StopTimeout)
	defer timer.Stop()
	select {
	case <-all:
		return nil
	case <-timer.C:
		var stuck []string
		for _, e := range entries {
			if e.running.Load() {
				stuck = append(stuck, e.name)
			}
		}
		return fmt.Errorf("%w after %v: %s", ErrStopTimeout, h.cfg.StopTimeout, strings.Join(stuck, ", "))
	}
}

// supervise runs e until ctx ends, restarting it by its policy with capped exponential backoff.
func (h *Hive) supervise(ctx context.Context, e *entry) {
	delay := e.cfg.BackoffInitial
	attempt := 0
	for {
		start := time.Now()
		err := h.runOnce(ctx, e)
		if ctx.Err() != nil {
			if err != nil && !isContextErr(err) {
				h.log.Warn("module stopped with error during shutdown", "module", e.name, "err", err)
			}
			return
		}
		failed := err != nil
		if failed {
			msg := err.Error()
			e.lastErr.Store(&msg)
		}
		restart := e.cfg.Restart == RestartAlways || (e.cfg.Restart == RestartOnFailure && failed)
		if !restart {
			e.stopped.Store(true)
			if failed {
				h.log.Error("module failed; not restarting", "module", e.name, "policy", e.cfg.Restart, "err", err)
			} else {
				h.log.Info("module returned; not restarting", "module", e.name, "policy", e.cfg.Restart)
			}
			return
		}
		if time.Since(start) > e.cfg.BackoffMax {
			delay, attempt = e.cfg.BackoffInitial, 0
		}
		attempt++
		e.restarts.Add(1)
		h.log.Warn("module stopped; restarting", "module", e.name, "attempt", attempt, "backoff", delay, "err", err)
		if h.cfg.OnRestart != nil {
			h.cfg.OnRestart(RestartEvent{Module: e.name, Attempt: attempt, Delay: delay, Err: err})
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, e.cfg.BackoffMax)
	}
}

// runOnce runs the module once and turns a panic into a *PanicError, logged with the stack.
func (h *Hive) runOnce(ctx context.Context, e *entry) (err error) {
	e.running.Store(true)
	defer e.running.Store(false)
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Module: e.name, Value: v, Stack: debug.Stack()}
			h.log.Error("module panicked", "module", e.name, "panic", fmt.Sprint(v), "stack", string(pe.Stack))
			err = pe
		}
	}()
	return e.mod.Run(ctx, &e.ctx)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// lookup finds a module by name. The map is read without a lock: it is written only before Run.
func (h *Hive) lookup(name string) (*entry, error) {
	e, ok := h.modules[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownModule, name)
	}
	return e, nil
}

func (h *Hive) nextID() ID { return ID{Epoch: h.epoch, Seq: h.seq.Add(1)} }

// Modules returns the names of the registered modules, sorted.
func (h *Hive) Modules() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.order))
	for _, e := range h.order {
		names = append(names, e.name)
	}
	sort.Strings(names)
	return names
}
