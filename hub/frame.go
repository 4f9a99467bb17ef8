package hub

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/edgehive/edgehive/beehive"
)

// Frame is one message on the link: beehive's header and router, a delivery sequence number, and the
// content as bytes (usually the JSON of a Kubernetes object). Router.Resource is a Key's String form, or
// empty for protocol frames (ping, pong, resync, resync-done, cert-rotate). Router.Group names the group
// of modules on the receiving end that the frame is for (beehive.GroupMeta for objects,
// beehive.GroupTwin for device twins, …). The node a frame comes from or goes to is not in the frame: it
// is the authenticated peer of the connection.
type Frame struct {
	Header beehive.Header
	Router beehive.Router
	// Seq is the sender's delivery sequence number, strictly increasing per sender and stream (upstream:
	// the outbox row's ID, which survives edge restarts; downstream: a per-node counter), or 0 for none.
	// An OpAck or OpNack echoes the Seq of the frame it answers.
	Seq uint64
	// Content is opaque to the hub. A decoded frame's Content aliases the decoded buffer (see Decode);
	// empty content decodes as nil.
	Content []byte
}

// Equal reports whether f and g encode to the same bytes (nil and empty Content are equal).
func (f *Frame) Equal(g *Frame) bool {
	return f.Header == g.Header && f.Router == g.Router && f.Seq == g.Seq && bytes.Equal(f.Content, g.Content)
}

// Key parses Router.Resource as a Key (ErrBadKey if it is not one, including when it is empty).
func (f *Frame) Key() (Key, error) { return ParseKey(f.Router.Resource) }

// RemoteError is the content of a beehive message made from an OpError frame: the error the other end
// reported, as text. errors.Is(err, beehive.ErrRemote) holds for it, so beehive.Message.Err works across
// the link.
type RemoteError struct {
	Text string
}

func (e *RemoteError) Error() string { return "hub: remote error: " + e.Text }

// Is makes a RemoteError match beehive.ErrRemote.
func (e *RemoteError) Is(target error) bool { return target == beehive.ErrRemote }

// FrameFromMessage returns the frame that carries m, with Seq 0. Content becomes bytes:
//
//   - nil → no content; []byte and json.RawMessage are taken as they are (not copied); string → its bytes;
//   - an error (as beehive's RespondError sends) → its text;
//   - any other value → its JSON (encoding/json); a value JSON cannot encode is an error wrapping
//     ErrContent.
func FrameFromMessage(m *beehive.Message) (Frame, error) {
	f := Frame{Header: m.Header, Router: m.Router}
	switch c := m.Content.(type) {
	case nil:
	case []byte:
		f.Content = c
	case json.RawMessage:
		f.Content = c
	case string:
		f.Content = []byte(c)
	case error:
		f.Content = []byte(c.Error())
	default:
		b, err := json.Marshal(c)
		if err != nil {
			return Frame{}, fmt.Errorf("%w: %w", ErrContent, err)
		}
		f.Content = b
	}
	return f, nil
}

// Message returns the beehive message that f carries. Content is f.Content as []byte (nil when empty),
// except for an OpError frame, whose content becomes a *RemoteError with the text. Seq has no place in a
// beehive message and is dropped: it belongs to the transport.
func (f *Frame) Message() beehive.Message {
	m := beehive.Message{Header: f.Header, Router: f.Router}
	switch {
	case f.Router.Operation == OpError:
		m.Content = &RemoteError{Text: string(f.Content)}
	case len(f.Content) > 0:
		m.Content = f.Content
	}
	return m
}
