package beehive

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// Operation says what a message asks for or reports. Operations are typed so that a misspelling is a
// compile error where the constant is used; packages define their own as typed constants too.
type Operation string

// Operations shared by the edgehive modules. They match KubeEdge's operation names where one exists.
const (
	OpInsert   Operation = "insert"
	OpUpdate   Operation = "update"
	OpPatch    Operation = "patch"
	OpDelete   Operation = "delete"
	OpQuery    Operation = "query"
	OpResponse Operation = "response"
	OpError    Operation = "error"
	OpPublish  Operation = "publish"
)

// Group names a set of modules that receive broadcasts together (SendToGroup).
type Group string

// Well-known groups of the edgehive modules, as in KubeEdge.
const (
	GroupHub        Group = "hub"
	GroupMeta       Group = "meta"
	GroupTwin       Group = "twin"
	GroupEdged      Group = "edged"
	GroupBus        Group = "bus"
	GroupController Group = "controller"
	GroupUser       Group = "user"
)

// ID identifies a message. The first half is a random epoch drawn once per Hive, the second a counter,
// so IDs cost one atomic add, are unique within a hive, and are unique across restarts of the process
// (a new epoch each time) when they cross the wire. The zero ID means "none".
type ID struct {
	Epoch uint64
	Seq   uint64
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// String returns the 32 hex digits of id, or "" for the zero ID.
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], id.Epoch)
	binary.BigEndian.PutUint64(b[8:], id.Seq)
	return hex.EncodeToString(b[:])
}

// ErrBadID is returned by ParseID for text that is not 32 hex digits.
var ErrBadID = errors.New("beehive: malformed message id")

// ParseID parses the String form of an ID. The empty string is the zero ID.
func ParseID(s string) (ID, error) {
	if s == "" {
		return ID{}, nil
	}
	if len(s) != 32 {
		return ID{}, ErrBadID
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return ID{}, ErrBadID
	}
	return ID{Epoch: binary.BigEndian.Uint64(b[:8]), Seq: binary.BigEndian.Uint64(b[8:])}, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Header carries a message's identity and bookkeeping.
type Header struct {
	ID       ID
	ParentID ID // the request's ID in a response
	// Timestamp is the creation time in Unix nanoseconds.
	Timestamp int64
	// Sync marks a request that waits for a response (SendSync), and that response.
	Sync bool
	// ResourceVersion is the version of the resource the message carries, when it has one.
	ResourceVersion string
}

// Router says where a message comes from and what it is about.
type Router struct {
	// Source is the sending module's name; the hive sets it on Send, so it cannot be forged by a module.
	Source    string
	Group     Group
	Operation Operation
	Resource  string
}

// Message is the only thing modules exchange. It is passed by value; Content is shared, so treat a
// received Content as read-only.
type Message struct {
	Header  Header
	Router  Router
	Content any

	// reply routes the response of a SendSync request back to its waiter.
	reply replyHandle
}

// IsResponse reports whether m answers a request (its ParentID is set).
func (m *Message) IsResponse() bool { return !m.Header.ParentID.IsZero() }

// Err returns the error carried by a response built with RespondError, or nil.
func (m *Message) Err() error {
	if m.Router.Operation != OpError {
		return nil
	}
	if err, ok := m.Content.(error); ok {
		return err
	}
	return ErrRemote
}
