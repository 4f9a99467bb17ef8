package hub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"

	"github.com/edgehive/edgehive/beehive"
)

// Constants of the wire format; doc.go describes it byte by byte.
const (
	// Magic is the first byte of every frame body. It is neither '{' nor valid as the first byte of UTF-8
	// text, so a JSON or text message on the same socket is told apart at once.
	Magic byte = 0xEB
	// Version is the protocol version this package writes and reads.
	Version byte = 1
	// DefaultMaxFrameSize is the receiver's default limit on a frame body, in bytes.
	DefaultMaxFrameSize = 4 << 20
	// MaxFieldLen bounds each string field of a frame (resourceVersion, source, group, operation,
	// resource), in bytes.
	MaxFieldLen = 1024
	// LengthPrefixLen is the size of the big-endian uint32 that precedes a frame body on a byte stream.
	LengthPrefixLen = 4
)

const (
	fixedLen   = 3 + 8 // magic, version, flags, timestamp
	idLen      = 16
	flagSync   = 1 << 0
	flagID     = 1 << 1
	flagParent = 1 << 2
	flagsKnown = flagSync | flagID | flagParent
	readChunk  = 64 << 10 // ReadFrame grows its buffer as bytes arrive, from this size up
)

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// Size returns the length of f's body encoding.
func (f *Frame) Size() int {
	n := fixedLen + uvarintLen(f.Seq) + uvarintLen(uint64(len(f.Content))) + len(f.Content)
	if !f.Header.ID.IsZero() {
		n += idLen
	}
	if !f.Header.ParentID.IsZero() {
		n += idLen
	}
	for _, s := range f.fields() {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n
}

// fields returns the string fields in wire order.
func (f *Frame) fields() [5]string {
	return [5]string{f.Header.ResourceVersion, f.Router.Source, string(f.Router.Group),
		string(f.Router.Operation), f.Router.Resource}
}

// fieldName names string field i of fields, for errors.
func fieldName(i int) string {
	switch i {
	case 0:
		return "resourceVersion"
	case 1:
		return "source"
	case 2:
		return "group"
	case 3:
		return "operation"
	}
	return "resource"
}

// AppendBinary appends f's body encoding to b (encoding.BinaryAppender). It allocates nothing when b has
// room for f.Size() more bytes. A string field over MaxFieldLen is an error wrapping ErrBadFrame, and b
// is returned unchanged.
func (f *Frame) AppendBinary(b []byte) ([]byte, error) {
	fields := f.fields()
	for i, s := range fields {
		if len(s) > MaxFieldLen {
			return b, fmt.Errorf("%w: %s field is %d bytes, over %d", ErrBadFrame, fieldName(i), len(s), MaxFieldLen)
		}
	}
	b = slices.Grow(b, f.Size())
	var flags byte
	if f.Header.Sync {
		flags |= flagSync
	}
	if !f.Header.ID.IsZero() {
		flags |= flagID
	}
	if !f.Header.ParentID.IsZero() {
		flags |= flagParent
	}
	b = append(b, Magic, Version, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Header.Timestamp))
	if flags&flagID != 0 {
		b = appendID(b, f.Header.ID)
	}
	if flags&flagParent != 0 {
		b = appendID(b, f.Header.ParentID)
	}
	b = binary.AppendUvarint(b, f.Seq)
	for _, s := range fields {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(f.Content)))
	return append(b, f.Content...), nil
}

func appendID(b []byte, id beehive.ID) []byte {
	b = binary.BigEndian.AppendUint64(b, id.Epoch)
	return binary.BigEndian.AppendUint64(b, id.Seq)
}

// MarshalBinary returns f's body encoding (encoding.BinaryMarshaler).
func (f *Frame) MarshalBinary() ([]byte, error) { return f.AppendBinary(make([]byte, 0, f.Size())) }

// UnmarshalBinary decodes a body (encoding.BinaryUnmarshaler) under DefaultMaxFrameSize. Unlike Decode it
// copies b, so the caller may reuse b afterwards.
func (f *Frame) UnmarshalBinary(b []byte) error {
	if len(b) > DefaultMaxFrameSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(b), DefaultMaxFrameSize)
	}
	v, err := Decode(slices.Clone(b), DefaultMaxFrameSize)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// AppendFrame appends f for a byte stream: the body's length as a big-endian uint32, then the body.
func AppendFrame(b []byte, f *Frame) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := f.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	n := len(b) - start - LengthPrefixLen
	if uint64(n) > math.MaxUint32 {
		return b[:start], fmt.Errorf("%w: %d bytes do not fit the length prefix", ErrFrameTooLarge, n)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// Decode decodes one frame body, such as a WebSocket binary message. A body longer than max bytes is
// refused with ErrFrameTooLarge before anything else is looked at; max <= 0 means DefaultMaxFrameSize.
// Any malformed input is an error wrapping ErrBadFrame (or ErrVersion); Decode never panics.
//
// The encoding is canonical: Decode accepts only what AppendBinary writes, so a decoded frame re-encodes
// to the same bytes. The returned frame's Content aliases b, so b must not be modified while the frame
// is in use; its string fields are copied (in one allocation).
func Decode(b []byte, max int) (Frame, error) {
	if max <= 0 {
		max = DefaultMaxFrameSize
	}
	if len(b) > max {
		return Frame{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(b), max)
	}
	if len(b) < fixedLen {
		return Frame{}, fmt.Errorf("%w: %d bytes, shorter than the fixed header", ErrBadFrame, len(b))
	}
	if b[0] != Magic {
		return Frame{}, fmt.Errorf("%w: first byte %#02x is not the magic %#02x", ErrBadFrame, b[0], Magic)
	}
	if b[1] != Version {
		return Frame{}, fmt.Errorf("%w: version %d, this end speaks %d", ErrVersion, b[1], Version)
	}
	flags := b[2]
	if flags&^flagsKnown != 0 {
		return Frame{}, fmt.Errorf("%w: unknown flag bits %#02x", ErrBadFrame, flags&^flagsKnown)
	}
	var f Frame
	f.Header.Sync = flags&flagSync != 0
	f.Header.Timestamp = int64(binary.BigEndian.Uint64(b[3:]))
	d := decoder{b: b, off: fixedLen}
	if flags&flagID != 0 {
		if f.Header.ID = d.id(); d.err == nil && f.Header.ID.IsZero() {
			d.fail("ID flag set but ID is zero")
		}
	}
	if flags&flagParent != 0 {
		if f.Header.ParentID = d.id(); d.err == nil && f.Header.ParentID.IsZero() {
			d.fail("parent flag set but parent ID is zero")
		}
	}
	f.Seq = d.uvarint()
	// The five strings are copied together: one allocation, then substrings of it.
	start := d.off
	var spans [5][2]int
	for i := range spans {
		n := d.uvarint()
		if d.err == nil && n > MaxFieldLen {
			d.fail(fieldName(i) + " field over the limit")
		}
		spans[i] = [2]int{d.off - start, d.off - start + int(n)}
		d.skip(int(n))
	}
	if d.err != nil {
		return Frame{}, d.err
	}
	var all string
	if d.off > start {
		all = string(b[start:d.off])
	}
	f.Header.ResourceVersion = all[spans[0][0]:spans[0][1]]
	f.Router.Source = all[spans[1][0]:spans[1][1]]
	f.Router.Group = beehive.Group(all[spans[2][0]:spans[2][1]])
	f.Router.Operation = beehive.Operation(all[spans[3][0]:spans[3][1]])
	f.Router.Resource = all[spans[4][0]:spans[4][1]]
	n := d.uvarint()
	if d.err == nil && n != uint64(len(b)-d.off) {
		d.fail(fmt.Sprintf("content length %d, %d bytes remain", n, len(b)-d.off))
	}
	if d.err != nil {
		return Frame{}, d.err
	}
	if n > 0 {
		f.Content = b[d.off:len(b):len(b)]
	}
	return f, nil
}

// decoder reads canonical varints and fixed fields from b; the first error sticks.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrBadFrame, why, d.off)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail("truncated varint")
		return 0
	case n < 0:
		d.fail("varint overflows 64 bits")
		return 0
	case n != uvarintLen(x):
		d.fail("non-minimal varint")
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) skip(n int) {
	if d.err != nil {
		return
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("truncated field")
		return
	}
	d.off += n
}

func (d *decoder) id() beehive.ID {
	if d.err != nil {
		return beehive.ID{}
	}
	if len(d.b)-d.off < idLen {
		d.fail("truncated message id")
		return beehive.ID{}
	}
	id := beehive.ID{Epoch: binary.BigEndian.Uint64(d.b[d.off:]), Seq: binary.BigEndian.Uint64(d.b[d.off+8:])}
	d.off += idLen
	return id
}

// ReadFrame reads one length-prefixed frame (see AppendFrame) from a byte stream. It reads the 4-byte
// prefix first and refuses a body over max bytes with ErrFrameTooLarge without reading or allocating it
// (the stream is then out of step: close it); max <= 0 means DefaultMaxFrameSize. The body buffer grows
// as bytes arrive, so a peer that announces a large frame and stalls holds little memory. At a clean end
// of stream ReadFrame returns io.EOF; a stream cut inside a frame gives io.ErrUnexpectedEOF. The frame's
// Content aliases a buffer of its own.
func ReadFrame(r io.Reader, max int) (Frame, error) {
	if max <= 0 {
		max = DefaultMaxFrameSize
	}
	var p [LengthPrefixLen]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Frame{}, io.EOF
		}
		return Frame{}, fmt.Errorf("hub: read frame length: %w", err)
	}
	n := uint64(binary.BigEndian.Uint32(p[:]))
	if n > uint64(max) {
		return Frame{}, fmt.Errorf("%w: %d bytes announced, limit %d", ErrFrameTooLarge, n, max)
	}
	if n < fixedLen {
		return Frame{}, fmt.Errorf("%w: %d bytes announced, shorter than the fixed header", ErrBadFrame, n)
	}
	size := int(n)
	buf := make([]byte, 0, min(size, readChunk))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(size-len(buf), cap(buf)))
		}
		end := min(size, cap(buf))
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, fmt.Errorf("hub: read frame body: %w", err)
		}
	}
	return Decode(buf, max)
}
