package fastpub

// The writer: one goroutine per connection that moves committed bytes from
// the ring to the socket.
//
// States (see DESIGN.md for the diagram):
//
//	parked   — ring.Wait: nothing committed; the goroutine sleeps on the
//	           ring's wake channel. The Commit of the frame it waits for
//	           wakes it (the ring records that frame before its re-check, so
//	           no wake-up is lost).
//	writing  — ring.Peek hands out the committed stream as one or two arena
//	           slices plus any oversized frames; one writev sends them all
//	           (at most IOV_MAX entries); Release frees what the kernel took
//	           so producers waiting for room resume at once.
//	blocked  — the socket's buffer is full (EAGAIN): RawConn.Write parks the
//	           goroutine on the netpoller until the socket is writable, then
//	           writev resumes where the partial write stopped.
//	draining — Close closed the ring: keep writing until Wait reports the
//	           ring closed and empty, then exit.
//	stopped  — a write failed or the reader saw the connection end (stop is
//	           closed): exit at once.
//	lent     — parked, while a publish holds the ring's consumer role and
//	           writes its own frame (the inline write, below); anything
//	           that wakes the writer meanwhile waits for the role first.
//
// The writer never waits for a batch to fill: it writes whatever is committed
// the moment it wakes, so one publish on an idle client goes out at once, and
// under load each writev carries everything committed while the previous one
// ran: batches grow with the load by themselves.

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fastpub/fastpub/ring"
)

// nanotime is the runtime's monotonic clock: a few nanoseconds, no
// allocation (time.Now also reads the wall clock).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// iovMax is the most iovecs one writev takes (Linux's IOV_MAX).
const iovMax = 1024

type writer struct {
	conn net.Conn
	rc   syscall.RawConn // nil when writev does not apply (TLS)

	segs   [][]byte      // what ring.Peek returned
	iovs   []unix.Iovec  // the same, as iovecs; advanced in place on partial writes
	cur    []unix.Iovec  // what the next writev sends
	n      int           // its result
	err    syscall.Errno // its errno
	fn     func(fd uintptr) bool
	fnOnce func(fd uintptr) bool // the inline write's: never waits
}

func newWriter(conn net.Conn) *writer {
	w := &writer{
		conn: conn,
		segs: make([][]byte, 0, iovMax),
		iovs: make([]unix.Iovec, iovMax),
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
		}
	}
	w.fn = w.writev // bound once: RawConn.Write gets no new closure per call
	w.fnOnce = w.writevOnce
	return w
}

// writeLoop is the writer goroutine of session s. It is the ring's
// consumer while it runs; with a store it also applies the persisted acks
// the reader posts (a Kick wakes it for them) before it looks for frames.
// Its first Peek on a resumed session is the replay: every frame kept from
// before, in order, as the same writev batches as new frames.
func (c *Client) writeLoop(s *session) {
	defer close(s.writerDone)
	w := s.w
	if w.rc != nil && c.cfg.inlineAfter > 0 {
		c.inline.Store(s)
		defer c.inline.Store(nil)
	}
	for {
		if err := c.ring.Wait(s.stop); err != nil {
			return // closed and drained, or stopped
		}
		if c.store != nil {
			c.applyAcks(false)
		}
		// Write everything committed. While producers keep committing,
		// Wait returns at once and each writev carries what they committed
		// during the previous one: batches grow with the load by themselves.
		segs, n := c.ring.Peek(w.segs[:0])
		if c.store != nil {
			// Every frame Peek has seen is appended to the store (Append
			// comes before Commit): a durable store may sync up to here.
			seq, pos := c.ring.Seen()
			c.store.Committed(c.seqBase+seq, pos)
		}
		if n == 0 {
			// Nothing to send: a beat the reader asked for goes now (with
			// frames to send, they are the traffic; the request waits).
			if s.beat.Load() && s.beat.Swap(false) {
				if err := w.writeBeat(c); err != nil {
					c.fail(s, "write", err)
					return
				}
			}
			continue
		}
		var err error
		if w.rc != nil {
			err = w.writeSegments(c, segs)
		} else {
			err = w.writeEach(c, segs)
		}
		if err != nil {
			c.fail(s, "write", err)
			return
		}
		c.freeBeats()
	}
}

// freeBeats frees sent heartbeat beats at the head of a store's ring (see
// freeSentBeats) after a write, by whichever goroutine holds the consumer
// role: one atomic load when there is none.
func (c *Client) freeBeats() {
	if c.store != nil && c.acks.beats.Load() > c.ring.ReleasedSeq() && c.freeSentBeats() {
		c.storePersisted()
	}
}

// writeSegments sends segs with writev, resuming partial writes, releasing
// ring space as the kernel accepts bytes.
func (w *writer) writeSegments(c *Client, segs [][]byte) error {
	cur := w.load(segs)
	for len(cur) > 0 {
		w.cur = cur
		if err := w.rc.Write(w.fn); err != nil {
			return err // the poller's error: the connection was closed
		}
		if w.err != 0 {
			return &net.OpError{Op: "write", Net: w.conn.LocalAddr().Network(), Source: w.conn.LocalAddr(), Addr: w.conn.RemoteAddr(), Err: os.NewSyscallError("writev", w.err)}
		}
		n := w.n
		if n <= 0 {
			return io.ErrShortWrite
		}
		w.wrote(c, n)
		for n > 0 {
			l := int(cur[0].Len)
			if n < l {
				cur[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(cur[0].Base), n))
				cur[0].SetLen(l - n)
				break
			}
			n -= l
			cur = cur[1:]
		}
	}
	return nil
}

// load turns segs into the writer's iovecs, skipping empty ones.
func (w *writer) load(segs [][]byte) []unix.Iovec {
	k := 0
	for _, sg := range segs {
		if len(sg) == 0 {
			continue
		}
		w.iovs[k].Base = &sg[0]
		w.iovs[k].SetLen(len(sg))
		k++
	}
	return w.iovs[:k]
}

// wrote records that the kernel took n more bytes: it advances the ring's
// send cursor (without a store that frees every frame now written whole,
// waking producers that wait for room; with one, frames stay until their
// persisted ack), counts the call, and logs the stream position reached, in
// that order.
func (w *writer) wrote(c *Client, n int) {
	c.ring.Sent(n)
	c.counters.writes.Store(c.counters.writes.Load() + 1)
	c.lastWrite.Store(nanotime())
	c.wlog.add(c.ring.SendPos())
}

// The inline write (WithInlineWrite): a publish whose Commit finds the
// writer parked for this very frame, with nothing written for the inline
// threshold or with a credit left (wantInline), takes the ring's consumer
// role (ring.CommitTake) and sends
// what is committed with one non-blocking writev on the publishing
// goroutine. Everything sent: the role goes back and the writer stays
// parked (ring.Return). EAGAIN, a partial write or an error: the role goes
// back and the writer wakes to send the rest or fail the session
// (ring.HandOff). The writer's buffers are the holder's while it holds the
// role: the writer does not touch them while parked.

// wantInline says whether a publish that finds the writer parked should
// write its frame itself. It should when the socket has been idle for the
// threshold, and that write earns one credit (at most maxInlineCredit are
// kept). It should also when the last write was closer than the threshold
// and a credit is left, which it spends: a paced publisher whose thread
// lost the CPU for a while catches up with its frames back to back, and
// waking the writer for them would cost a scheduler turn (milliseconds
// when the other core is busy) where the catch-up costs a system call per
// frame, as a naive inline write() pays. A publisher that outruns the
// writer earns a credit only when it pauses for the threshold with the
// writer parked, so it makes at most one write of this kind per such pause
// beyond the credits it may have saved before, and the writer batches for
// it as before. The credit changes by CAS, so concurrent publishes never
// undo each other's updates; a credit earned or spent by a publish whose
// take then fails (ring.CommitTake) goes without a write. Bound once to
// c.inlineWant, so CommitTake gets no new closure.
func (c *Client) wantInline() bool {
	if c.inline.Load() == nil {
		return false
	}
	idle := nanotime()-c.lastWrite.Load() >= int64(c.cfg.inlineAfter)
	for {
		n := c.inlineCredit.Load()
		switch {
		case idle && n < maxInlineCredit:
			if c.inlineCredit.CompareAndSwap(n, n+1) {
				return true
			}
		case idle:
			return true
		case n > 0:
			if c.inlineCredit.CompareAndSwap(n, n-1) {
				return true
			}
		default:
			return false
		}
	}
}

// maxInlineCredit is the most inline writes closer together than the
// threshold that wantInline lets a publisher save up: a paced publisher at
// 50,000 msgs/s covers a stall of 5 ms with it.
const maxInlineCredit = 256

// commit commits a claimed frame, writing it inline when wantInline says
// so.
func (c *Client) commit(cl *ring.Claim) {
	if c.inlineWant == nil {
		c.ring.Commit(cl)
		return
	}
	if c.ring.CommitTake(cl, c.inlineWant) {
		c.writeInline()
	}
}

// writeInline is the publish's write while it holds the consumer role.
func (c *Client) writeInline() {
	s := c.inline.Load()
	if s == nil {
		c.ring.HandOff()
		return
	}
	w := s.w
	segs, n := c.ring.Peek(w.segs[:0])
	if c.store != nil {
		seq, pos := c.ring.Seen()
		c.store.Committed(c.seqBase+seq, pos)
	}
	if n == 0 {
		c.ring.Return()
		return
	}
	w.cur = w.load(segs)
	if err := w.rc.Write(w.fnOnce); err != nil || w.err != 0 || w.n <= 0 {
		c.ring.HandOff() // the writer meets the error itself, or waits for room
		return
	}
	w.wrote(c, w.n)
	c.counters.inline.Store(c.counters.inline.Load() + 1)
	c.freeBeats()
	if w.n < n {
		c.ring.HandOff()
		return
	}
	c.ring.Return()
}

// writevOnce is writev for RawConn.Write that never waits: EAGAIN is a
// zero-byte result (the writer then takes over).
func (w *writer) writevOnce(fd uintptr) bool {
	if !w.writev(fd) {
		w.n, w.err = 0, 0
	}
	return true
}

// writev is called by RawConn.Write with the socket's descriptor. It returns
// false on EAGAIN so that the netpoller waits for the socket to be writable
// and calls it again.
func (w *writer) writev(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.cur[0])), uintptr(len(w.cur)))
		switch e {
		case 0:
			w.n, w.err = int(r), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			w.n, w.err = 0, e
			return true
		}
	}
}

// writeEach writes each segment with conn.Write: for connections without a
// descriptor of their own (TLS), where each Peek's one or two large slices
// become a few TLS records.
func (w *writer) writeEach(c *Client, segs [][]byte) error {
	for _, s := range segs {
		n, err := w.conn.Write(s)
		if n > 0 {
			w.wrote(c, n)
		}
		if err != nil {
			return err
		}
		if n != len(s) {
			return io.ErrShortWrite
		}
	}
	return nil
}
