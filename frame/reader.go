package frame

import (
	"encoding/binary"
	"io"
)

// PrefixLen is the size of the big-endian length prefix in front of every frame.
const PrefixLen = 4

// Reader defaults.
const (
	DefaultMaxFrame   = 64 << 20 // default max frame body size (bytes after the prefix)
	DefaultReaderSize = 64 << 10 // default initial buffer size
	minReaderSize     = 64
	maxEmptyReads     = 100 // consecutive (0, nil) reads before io.ErrNoProgress
)

// Reader reads frames from a stream. It reassembles frames split across reads and returns many
// frames per underlying read; it does not allocate per frame in steady state. Its buffer only
// grows when it is full of one incomplete frame: it doubles (capped at PrefixLen+max) as that
// frame's bytes arrive, so a peer cannot make it allocate more than about twice what it actually
// sent. By default it then keeps the grown buffer, so a stream of large frames costs no
// allocation per frame. With SetShrink(true), once a frame that needed a grown buffer has been
// returned, the next call to Next goes back to the initial buffer (kept for that: no
// allocation) as soon as what is buffered fits in it, so one large frame does not hold its
// memory for the life of the stream (a client that expects small frames). A Reader is not safe
// for concurrent use.
type Reader struct {
	rd         io.Reader
	buf        []byte
	base       []byte // the initial buffer, which buf returns to after growing
	start, end int    // buffered, unreturned bytes are buf[start:end]
	max        int    // max frame body size
	err        error  // sticky error from rd, or a *FrameTooLargeError
	shrinks    bool   // go back to base after a large frame (SetShrink)
}

// SetShrink sets whether the Reader goes back to its initial buffer after a frame that made it
// grow (see Reader). Default: false.
func (r *Reader) SetShrink(on bool) { r.shrinks = on }

// NewReader returns a Reader on r with an initial buffer of bufSize bytes (at least 64) and a
// maximum frame body size of maxFrame bytes. Zero or negative values select the defaults
// (DefaultReaderSize, DefaultMaxFrame).
func NewReader(r io.Reader, bufSize, maxFrame int) *Reader {
	if bufSize <= 0 {
		bufSize = DefaultReaderSize
	}
	if bufSize < minReaderSize {
		bufSize = minReaderSize
	}
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	buf := make([]byte, bufSize)
	return &Reader{rd: r, buf: buf, base: buf, max: maxFrame}
}

// BufferSize returns the size of the Reader's buffer now: the initial size, or more while a
// large frame is being read or was just returned.
func (r *Reader) BufferSize() int { return len(r.buf) }

// shrink goes back to the initial buffer when the buffer grew and what is buffered fits in the
// initial one. The frame Next returned last aliases the grown buffer: call only from Next, when
// that frame is no longer valid.
func (r *Reader) shrink() {
	if !r.shrinks || len(r.buf) == len(r.base) || r.end-r.start > len(r.base) {
		return
	}
	r.end = copy(r.base, r.buf[r.start:r.end])
	r.start = 0
	r.buf = r.base
}

// Reset discards all buffered data and any error and makes the Reader read from r, keeping its
// buffer and limits (for a reconnect).
func (r *Reader) Reset(rd io.Reader) {
	r.rd, r.start, r.end, r.err = rd, 0, 0, nil
}

// Buffered returns the number of bytes read from the stream but not yet returned by Next.
func (r *Reader) Buffered() int { return r.end - r.start }

// Next returns the next frame body (the bytes after the prefix; empty for a zero-length frame),
// valid until the next call to Next or Reset; the caller may modify it (Header.Parse does).
//
// A frame whose length prefix exceeds max gives *FrameTooLargeError{Size, Max}
// (errors.Is(err, ErrFrameTooLarge)); the stream is then unusable and every later call returns
// the same error. A stream that ends in the middle of a frame (prefix included) gives
// io.ErrUnexpectedEOF; one that ends at a frame boundary gives io.EOF. Other read errors are
// returned as they are, after every complete frame read before them.
func (r *Reader) Next() ([]byte, error) {
	r.shrink()
	for {
		avail := r.end - r.start
		if avail >= PrefixLen {
			size := binary.BigEndian.Uint32(r.buf[r.start:])
			if uint64(size) > uint64(r.max) {
				if _, ok := r.err.(*FrameTooLargeError); !ok {
					r.err = &FrameTooLargeError{Size: uint64(size), Max: uint64(r.max)}
				}
				return nil, r.err
			}
			need := PrefixLen + int(size)
			if avail >= need {
				s := r.start + PrefixLen
				e := r.start + need
				if e == r.end {
					r.start, r.end = 0, 0
				} else {
					r.start = e
				}
				return r.buf[s:e:e], nil
			}
		}
		if avail == len(r.buf) {
			// Full, with an incomplete frame in it: grow toward it. Growing step by step as
			// data arrives, not to the announced size at once, keeps a peer from making the
			// Reader allocate max bytes with a 4-byte prefix.
			r.grow(r.start + avail + 1)
		}
		if r.err != nil {
			if r.err == io.EOF && r.end > r.start {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, r.err
		}
		r.fill()
	}
}

// grow replaces the buffer by one twice as large (at least min bytes), capped at the largest
// frame allowed, and moves the unreturned bytes to its front.
func (r *Reader) grow(min int) {
	size := 2 * len(r.buf)
	if limit := PrefixLen + r.max; size > limit {
		size = limit
	}
	if size < min {
		size = min
	}
	nb := make([]byte, size)
	r.end = copy(nb, r.buf[r.start:r.end])
	r.start = 0
	r.buf = nb
}

// fill moves the unreturned bytes to the front of the buffer and reads once (retrying empty
// reads a bounded number of times). The caller guarantees free space after compaction.
func (r *Reader) fill() {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	for i := 0; i < maxEmptyReads; i++ {
		n, err := r.rd.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.err = io.ErrShortBuffer // a broken io.Reader; never index with its count
			return
		}
		r.end += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}
