package beehive

import (
	"context"
	"fmt"
	"time"
)

// Module is a unit of work in a Hive. The hive calls Run in a goroutine of its own with a context that
// ends when the hive stops, and a *Context through which the module sends and receives messages.
//
// Lifecycle:
//  1. Add registers the module (its Name must be unique and non-empty).
//  2. Run starts it; it should loop on c.Receive(ctx) and return when ctx ends.
//  3. If Run returns an error or panics before the hive stops, the module's RestartPolicy decides whether
//     it runs again, after an exponential backoff. Its mailbox survives a restart: no message is lost.
//  4. When the hive stops, ctx ends; Run must return promptly (Config.StopTimeout).
//
// A module may also implement Configurer to choose its own restart policy and mailbox size.
type Module interface {
	Name() string
	Group() Group
	Run(ctx context.Context, c *Context) error
}

// Configurer is implemented by modules that set their own ModuleConfig; the hive asks once, in Add.
type Configurer interface {
	ModuleConfig() ModuleConfig
}

// RestartPolicy says when a module that returned is started again.
type RestartPolicy int

const (
	// RestartOnFailure restarts a module that returned an error or panicked. It is the default.
	RestartOnFailure RestartPolicy = iota
	// RestartAlways restarts a module whenever it returns before the hive stops, error or not.
	RestartAlways
	// RestartNever leaves a returned module stopped; sends to it fail with ErrModuleStopped.
	RestartNever
)

func (p RestartPolicy) String() string {
	switch p {
	case RestartOnFailure:
		return "on-failure"
	case RestartAlways:
		return "always"
	case RestartNever:
		return "never"
	}
	return fmt.Sprintf("RestartPolicy(%d)", int(p))
}

// Defaults for ModuleConfig fields left zero.
const (
	DefaultMailboxSize    = 1024
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// ModuleConfig is a module's own settings. Zero fields take the Default values.
type ModuleConfig struct {
	// Restart is the restart policy (default RestartOnFailure).
	Restart RestartPolicy
	// MailboxSize bounds the module's mailbox, in messages (default DefaultMailboxSize).
	MailboxSize int
	// BackoffInitial is the delay before the first restart; each further restart doubles it up to
	// BackoffMax. A module that ran for longer than BackoffMax before failing starts again from
	// BackoffInitial.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
}

func (c ModuleConfig) withDefaults() ModuleConfig {
	if c.MailboxSize == 0 {
		c.MailboxSize = DefaultMailboxSize
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = DefaultBackoffInitial
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	return c
}

// Validate reports a clear error for settings that cannot work.
func (c ModuleConfig) Validate() error {
	switch {
	case c.Restart < RestartOnFailure || c.Restart > RestartNever:
		return fmt.Errorf("%w: unknown restart policy %d", ErrInvalidConfig, c.Restart)
	case c.MailboxSize < 0:
		return fmt.Errorf("%w: mailbox size %d < 0", ErrInvalidConfig, c.MailboxSize)
	case c.BackoffInitial < 0 || c.BackoffMax < 0:
		return fmt.Errorf("%w: negative backoff", ErrInvalidConfig)
	case c.BackoffMax != 0 && c.BackoffInitial > c.BackoffMax:
		return fmt.Errorf("%w: backoff initial %v > max %v", ErrInvalidConfig, c.BackoffInitial, c.BackoffMax)
	}
	return nil
}

// ModuleFunc is a Module made of a name, a group, a config and a function: handy for small modules,
// tests and examples.
type ModuleFunc struct {
	ModuleName  string
	ModuleGroup Group
	Config      ModuleConfig
	Fn          func(ctx context.Context, c *Context) error
}

// Name implements Module.
func (m *ModuleFunc) Name() string { return m.ModuleName }

// Group implements Module.
func (m *ModuleFunc) Group() Group { return m.ModuleGroup }

// Run implements Module.
func (m *ModuleFunc) Run(ctx context.Context, c *Context) error { return m.Fn(ctx, c) }

// ModuleConfig implements Configurer.
func (m *ModuleFunc) ModuleConfig() ModuleConfig { return m.Config }

var (
	_ Module     = (*ModuleFunc)(nil)
	_ Configurer = (*ModuleFunc)(nil)
)
