package beehive

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Context is a module's handle on its hive: the only way a module sends and receives messages. The hive
// passes it to Module.Run; it stays valid across restarts of the module and is safe for concurrent use.
type Context struct {
	hive *Hive
	self *entry
}

// Name is the module's name.
func (c *Context) Name() string { return c.self.name }

// NewMessage returns a message from this module with a fresh ID and the current time. Prepare messages
// with it; Send also stamps a message that has no ID.
func (c *Context) NewMessage(group Group, op Operation, resource string, content any) Message {
	return Message{
		Header:  Header{ID: c.hive.nextID(), Timestamp: time.Now().UnixNano()},
		Router:  Router{Source: c.self.name, Group: group, Operation: op, Resource: resource},
		Content: content,
	}
}

// stamp marks m as coming from this module and gives it an ID and timestamp if it has none.
func (c *Context) stamp(m *Message) {
	m.Router.Source = c.self.name
	if m.Header.ID.IsZero() {
		m.Header.ID = c.hive.nextID()
		if m.Header.Timestamp == 0 {
			m.Header.Timestamp = time.Now().UnixNano()
		}
	}
}

// Send delivers m to the module named to, waiting while its mailbox is full until ctx ends. It fails with
// ErrUnknownModule, ErrModuleStopped, ErrClosed or ctx's error; it never drops a message silently.
func (c *Context) Send(ctx context.Context, to string, m Message) error {
	dst, err := c.hive.lookup(to)
	if err != nil {
		return err
	}
	c.stamp(&m)
	m.reply = replyHandle{}
	return c.deliver(ctx, dst, m)
}

// TrySend delivers m to the module named to if its mailbox has room, and fails with ErrMailboxFull
// (counted as a drop on the receiver) if not. It never blocks.
func (c *Context) TrySend(to string, m Message) error {
	dst, err := c.hive.lookup(to)
	if err != nil {
		return err
	}
	if err := c.checkOpen(dst); err != nil {
		return err
	}
	c.stamp(&m)
	m.reply = replyHandle{}
	select {
	case dst.mailbox <- m:
		c.self.sent.Add(1)
		return nil
	default:
		dst.dropped.Add(1)
		return fmt.Errorf("%w: %q", ErrMailboxFull, dst.name)
	}
}

func (c *Context) checkOpen(dst *entry) error {
	if c.hive.state.Load() == stateClosed {
		return ErrClosed
	}
	if dst.stopped.Load() {
		return fmt.Errorf("%w: %q", ErrModuleStopped, dst.name)
	}
	return nil
}

// deliver puts m into dst's mailbox, blocking while it is full.
func (c *Context) deliver(ctx context.Context, dst *entry, m Message) error {
	if err := c.checkOpen(dst); err != nil {
		return err
	}
	select {
	case dst.mailbox <- m:
		c.self.sent.Add(1)
		return nil
	default:
	}
	select {
	case dst.mailbox <- m:
		c.self.sent.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.hive.done:
		return ErrClosed
	}
}

// Receive returns the next message in this module's mailbox, waiting until one arrives or ctx ends.
func (c *Context) Receive(ctx context.Context) (Message, error) {
	select {
	case m := <-c.self.mailbox:
		c.self.received.Add(1)
		return m, nil
	default:
	}
	select {
	case m := <-c.self.mailbox:
		c.self.received.Add(1)
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// SendToGroup delivers a copy of m to every module of group except the sender, blocking on full mailboxes
// until ctx ends. It fails with ErrUnknownGroup if no module has that group; failures for single members
// (a stopped module, say) are joined into the returned error after the others have been served.
func (c *Context) SendToGroup(ctx context.Context, group Group, m Message) error {
	members, ok := c.hive.groups[group]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownGroup, group)
	}
	c.stamp(&m)
	m.reply = replyHandle{}
	var errs []error
	for _, dst := range members {
		if dst == c.self {
			continue
		}
		if err := c.deliver(ctx, dst, m); err != nil {
			if errors.Is(err, ErrClosed) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
