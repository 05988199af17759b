// Package store defines the publish store of a fastpub client: where every
// publish is kept from the moment Publish returns nil until the server has
// persisted it, so that a disconnect, a failover or (with a durable store) a
// restart of the process loses nothing and duplicates nothing.
//
// The client keeps unpersisted frames in its send ring (see package ring,
// Config.Retain): the ring is the memory store, and the frames it replays
// after a reconnect are the exact bytes that went out the first time. A
// Store says how much the ring may hold (Limits) and, when it is durable,
// keeps a second copy that outlives the process. Memory is the store that
// adds nothing to the ring: bounded, fast, lost with the process.
//
// A Store is called by the client only, in this order:
//
//   - Recover, at the first logon: the frames an earlier process kept, in
//     sequence order, for the client to load into its ring and replay.
//     Once, unless that logon fails before Begin (a publish gap under
//     GapFail, a sequence ahead): the client then drops what it loaded,
//     and its next first logon calls Recover again, which must return the
//     same frames;
//   - Begin, once, right after: where the frames of this process start;
//   - Append, for every frame the client puts in its ring (publishes and
//     the flush frames between them alike, so that the store sees one
//     dense stream), on the goroutine that claimed it, before the frame is
//     committed and before Publish returns: it must not block, allocate or
//     make system calls (except as a durability mode documents);
//   - Committed, on the ring's consumer (the writer goroutine), after each
//     batch it takes: every frame before a point has been appended;
//   - Persisted, on the ring's consumer, when every frame up to a
//     sequence number may be freed, with the highest sequence number the
//     server has said it holds;
//   - Close, once, from Client.Close.
package store

import (
	"errors"
	"fmt"
)

// Default limits of a Memory store (NewMemory with zero fields).
const (
	// DefaultBytes is the most bytes of frames kept unpersisted (64 MiB).
	DefaultBytes = 64 << 20
	// DefaultMessages is the most messages kept unpersisted (1 Mi).
	DefaultMessages = 1 << 20
	// MinBytes and MaxBytes bound Limits.Bytes (a power of two).
	MinBytes = 64 << 10
	MaxBytes = 1 << 30
	// MinMessages and MaxMessages bound Limits.Messages.
	MinMessages = 256
	MaxMessages = 1 << 24
)

// ErrInvalidLimits is matched by the error NewMemory returns for limits out
// of range.
var ErrInvalidLimits = errors.New("store: invalid limits")

// Limits bound what a store keeps unpersisted. When either is reached,
// Publish blocks until the server persists older messages (PublishContext
// honours its context, TryPublish returns fastpub.ErrBufferFull): nothing is
// ever dropped to make room.
type Limits struct {
	// Bytes bounds the bytes of stored frames (header and payload), a power
	// of two in [MinBytes, MaxBytes]. Messages larger than a sixteenth of it
	// are held in buffers of their own, which may hold as many bytes again
	// (and always one message, however large).
	Bytes int
	// Messages bounds the number of stored frames, in [MinMessages,
	// MaxMessages]; rounded up to a power of two. Control frames the client
	// sends between publishes (flush, heartbeat) count too.
	Messages int
}

// Validate reports whether l is in range, as an error matching
// ErrInvalidLimits.
func (l Limits) Validate() error {
	switch {
	case l.Bytes < MinBytes || l.Bytes > MaxBytes || l.Bytes&(l.Bytes-1) != 0:
		return fmt.Errorf("%w: Bytes %d is not a power of two in [%d, %d]", ErrInvalidLimits, l.Bytes, MinBytes, MaxBytes)
	case l.Messages < MinMessages || l.Messages > MaxMessages:
		return fmt.Errorf("%w: Messages %d is not in [%d, %d]", ErrInvalidLimits, l.Messages, MinMessages, MaxMessages)
	}
	return nil
}

// Store is a publish store. See the package documentation for who calls
// what, and when.
//
// Sequence numbers are the AMPS sequence numbers of the frames ("s" of a
// publish); every frame of the client's stream has one, control frames
// included, and they are dense: the frame after seq is seq+1. Positions are
// offsets in the client's stream of bytes (its ring), dense too: frame
// seq+1 starts where frame seq ends.
type Store interface {
	// Limits returns the bounds on what the client keeps unpersisted.
	Limits() Limits
	// Recover calls fn for every frame kept by an earlier process, in
	// sequence order (seq is the frame's sequence number, frame its wire
	// bytes, length prefix included, valid only during the call), and
	// returns what the store knows of the earlier stream. Sequence numbers
	// may have gaps where records were lost (Recovery.Lost says which). An
	// error from fn stops the walk and is returned.
	Recover(fn func(seq uint64, frame []byte) error) (Recovery, error)
	// Begin says where this process's stream starts: the first frame
	// Append will see has sequence number seq and starts at stream
	// position pos; seq is above every sequence number Recover returned.
	Begin(seq, pos uint64) error
	// Append records one frame: seq is its sequence number, pos its
	// position in the stream, frame its wire bytes, valid only during the
	// call. Producers call it concurrently and out of order. It must not
	// block, allocate or make system calls, except as the store's
	// documented durability mode says.
	Append(seq, pos uint64, frame []byte)
	// Committed reports that every frame with a sequence number below seq
	// has been appended, and that frame seq starts at stream position pos.
	// Called by the client's writer goroutine after each batch; it must be
	// cheap (a few atomic stores).
	Committed(seq, pos uint64)
	// Persisted reports that every frame up to and including seq may be
	// freed: the server persisted it or reported its write failed, or it
	// is a control frame the server needs no more. pos is the stream
	// position where frame seq+1 starts, when that frame was appended in
	// this process (seq+1 >= Begin's seq); otherwise it is 0.
	//
	// acked (at most seq) is the highest sequence number the server has
	// said it holds: a success or duplicate persisted ack, or the last
	// sequence of a logon. It is what a durable store returns as
	// Recovery.Persisted. The two differ because control frames (flushes,
	// heartbeat beats) take sequence numbers in the stream that never go
	// on the wire, and a refused write is freed but not held: a restart
	// must not take the server's last sequence below seq for a gap.
	//
	// Both only grow from call to call. A non-nil error (a durable store
	// that cannot record them) is reported to the client's error handler;
	// the frames are then kept.
	Persisted(seq, pos, acked uint64) error
	// Close releases the store's resources. Frames not yet persisted stay
	// for the next process in a durable store, and are lost in a Memory
	// store.
	Close() error
}

// Recovery is what a store knows, at Recover, of the stream an earlier
// process left.
type Recovery struct {
	// Last is the highest sequence number the earlier process stored, 0 if
	// none: the client's sequence continues above it.
	Last uint64
	// Persisted is the highest sequence number the earlier process knew
	// the server to hold (the acked of its last Persisted), 0 if none: a
	// server whose last sequence is below it has lost messages (a publish
	// gap). Recover returns no frame at or below the seq of that last
	// Persisted, which may be above this value.
	Persisted uint64
	// Lost lists the sequence ranges the store had promised and could not
	// recover (corrupt records), in order. They are not passed to fn.
	Lost []Range
}

// Range is an inclusive range of sequence numbers.
type Range struct{ From, To uint64 }

// ErrCorrupt is matched by the errors of a store that finds damaged
// records; a *DamageError names them.
var ErrCorrupt = errors.New("store: corrupt records")

// DamageError reports records a store had promised and could not recover.
type DamageError struct {
	Path string  // the file or directory
	Lost []Range // the sequence numbers lost, in order
}

func (e *DamageError) Error() string {
	msg := "store: " + e.Path + ": lost corrupt records"
	for i, r := range e.Lost {
		if i == 8 {
			msg += fmt.Sprintf(" and %d more ranges", len(e.Lost)-i)
			break
		}
		if r.From == r.To {
			msg += fmt.Sprintf(" %d", r.From)
		} else {
			msg += fmt.Sprintf(" %d-%d", r.From, r.To)
		}
	}
	return msg
}

// Unwrap returns ErrCorrupt.
func (e *DamageError) Unwrap() error { return ErrCorrupt }

// Memory is the in-memory publish store: the client's send ring retains
// every frame until the server persists it, within Limits. Nothing survives
// the process. The zero value is not usable; call NewMemory.
type Memory struct {
	limits Limits
}

// NewMemory returns a memory store bounded by l; zero fields take
// DefaultBytes and DefaultMessages. Out-of-range limits return an error
// matching ErrInvalidLimits.
func NewMemory(l Limits) (*Memory, error) {
	if l.Bytes == 0 {
		l.Bytes = DefaultBytes
	}
	if l.Messages == 0 {
		l.Messages = DefaultMessages
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &Memory{limits: l}, nil
}

// Limits returns the bounds given to NewMemory, defaults filled in.
func (m *Memory) Limits() Limits { return m.limits }

// Recover finds nothing: a memory store starts empty.
func (m *Memory) Recover(func(uint64, []byte) error) (Recovery, error) { return Recovery{}, nil }

// Begin does nothing.
func (m *Memory) Begin(uint64, uint64) error { return nil }

// Append does nothing: the client's ring already holds the frame.
func (m *Memory) Append(uint64, uint64, []byte) {}

// Committed does nothing.
func (m *Memory) Committed(uint64, uint64) {}

// Persisted does nothing: the client frees the ring's copy.
func (m *Memory) Persisted(uint64, uint64, uint64) error { return nil }

// Close does nothing.
func (m *Memory) Close() error { return nil }
