package ampstest

// The writer side of a connection.
//
// State machine. Producers append encoded frames to conn.out under conn.mu and wake the
// writer with a non-blocking send on the 1-slot conn.kick channel (skipped when a wake-up is
// already pending). The writer loops:
//
//  1. under mu: emit a due conflated persisted ack; move due acks from the hook queue
//     (ackBuf/ackEnts; skipped while WithholdAcks is on) to out; swap out with its spare
//     buffer; wake producers blocked on MaxOutbound if space was freed;
//  2. outside mu: write the whole swapped buffer with one Write, then loop again;
//  3. with nothing to write: if a graceful close was requested, close the socket and return;
//     heartbeat duties (send {"c":"heartbeat"} after N s of outbound silence, close after 2N s
//     of inbound silence); then sleep until kicked, until the next timed event (delayed ack,
//     conflated ack, heartbeat), or until the connection is aborted.
//
// Acks subject to WithholdAcks/DelayAcks go through the hook queue whenever a hook is active
// or the queue is not empty, so they keep their order among themselves; other frames
// (deliveries, logon and subscribe acks, heartbeats) go straight to out.

import (
	"bytes"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// maxKeepBuf is the largest buffer the writer keeps for reuse after a write.
const maxKeepBuf = 16 << 20

type ackEnt struct {
	end int   // end offset of the encoded ack in ackBuf
	due int64 // Server.now at which it may be sent
}

// lockSpace locks c.mu once c's queued output is below MaxOutbound. It returns false (lock not
// held) if c is aborted, or if other (the producing connection's done channel; nil for none)
// is closed while waiting.
func (c *conn) lockSpace(other <-chan struct{}) bool {
	max := c.srv.cfg.MaxOutbound
	for {
		c.mu.Lock()
		if c.dead.Load() {
			c.mu.Unlock()
			return false
		}
		if len(c.out)+len(c.ackBuf)-c.ackStart < max {
			return true
		}
		if c.spaceCh == nil {
			c.spaceCh = make(chan struct{})
		}
		ch := c.spaceCh
		c.mu.Unlock()
		c.kickWriter()
		select {
		case <-ch:
		case <-c.done:
			return false
		case <-other:
			return false
		}
	}
}

// sendAck queues one ack; hooked acks obey WithholdAcks and DelayAcks.
func (c *conn) sendAck(a *frame.Ack, hooked bool) {
	if !c.lockSpace(nil) {
		return
	}
	c.appendAckLocked(a, hooked, c.srv.now())
	c.mu.Unlock()
	c.kickWriter()
}

func (c *conn) appendAckLocked(a *frame.Ack, hooked bool, now int64) {
	queued, due := c.ackRoute(hooked, now)
	dst := c.out
	if queued {
		dst = c.ackBuf
	}
	b, err := frame.AppendAck(dst, a)
	if err != nil {
		c.srv.logf("ampstest: conn %d: encoding ack: %v", c.id, err)
		return
	}
	c.ackAppended(b, queued, due)
}

// ackRoute says where the next ack goes: the hook queue (with the time it is due; a hooked ack
// while DelayAcks or WithholdAcks is on or the queue is not empty, counted as delayed or
// withheld) or straight to out.
func (c *conn) ackRoute(hooked bool, now int64) (queued bool, due int64) {
	s := c.srv
	if hooked {
		d, held := s.delay.Load(), s.withhold.Load()
		if d > 0 || held || c.ackHead < len(c.ackEnts) {
			if d > 0 {
				s.faults.delayedAcks.Add(1)
			}
			if held {
				s.faults.withheldAcks.Add(1)
			}
			if now == nowUnread {
				now = s.now()
			}
			return true, now + d
		}
	}
	return false, 0
}

// nowUnread, passed to ackRoute for now, has it read the clock only if the
// ack is queued: an immediate persisted ack is sent at once unless a hook
// holds acks, and the clock read would be most of its cost.
const nowUnread = -1

// ackAppended stores b, the buffer ackRoute chose with one more ack appended.
func (c *conn) ackAppended(b []byte, queued bool, due int64) {
	if queued {
		c.ackBuf = b
		c.ackEnts = append(c.ackEnts, ackEnt{end: len(b), due: due})
		return
	}
	c.out = b
}

// appendPersistLocked queues a persisted ack (hooked): no cid, "s" and "bm" when hasSeq.
func (c *conn) appendPersistLocked(seq uint64, hasSeq bool, status, reason string, now int64) {
	if status == statusSuccess && reason == "" && c.srv.ackFault.Load() && c.srv.takeAckDrop() {
		return
	}
	if hasSeq && status == statusSuccess && reason == "" {
		if t := c.persistTemplate(); t != nil {
			queued, due := c.ackRoute(true, now)
			dst := c.out
			if queued {
				dst = c.ackBuf
			}
			c.ackAppended(t.append(dst, seq), queued, due)
			return
		}
	}
	a := frame.Ack{Type: frame.AckPersisted, Status: status, Reason: reason}
	if hasSeq {
		a.Seq, a.HasSeq = seq, true
		a.Bookmark = b2s(appendBookmark(c.persistBm[:0], c.cl.hashStr, seq))
	}
	c.appendAckLocked(&a, true, now)
}

// persistAck is a connection's successful persisted ack, split around its two copies of the
// sequence ("s" and the bookmark's second field): what frame.AppendAck writes for it, with
// the sequence formatted twice instead of every field encoded.
type persistAck struct {
	pre, mid, post []byte
}

// append appends the frame of the ack for seq.
func (t *persistAck) append(dst []byte, seq uint64) []byte {
	start := len(dst)
	dst = append(dst, t.pre...)
	dst = frame.AppendUint(dst, seq)
	dst = append(dst, t.mid...)
	dst = frame.AppendUint(dst, seq)
	dst = append(dst, t.post...)
	frame.SetLength(dst[start:])
	return dst
}

// persistAckChecks are the sequences at which a derived template must give frame.AppendAck's
// bytes exactly before it is used.
var persistAckChecks = [...]uint64{0, 1, 9, 10, 99, 12345, 1764680000000000123, 1<<64 - 1}

// persistTemplate returns the connection's persisted-ack template, deriving it on first use
// from frame.AppendAck's own output; nil (and frame.AppendAck for every persisted ack) if the
// derived template does not reproduce that output exactly. Guarded by mu.
func (c *conn) persistTemplate() *persistAck {
	if c.persistTmplDone {
		return c.persistTmpl
	}
	c.persistTmplDone = true
	enc := func(seq uint64) []byte {
		var bm [48]byte
		b, err := frame.AppendAck(nil, &frame.Ack{Type: frame.AckPersisted, Status: statusSuccess,
			Seq: seq, HasSeq: true, Bookmark: string(appendBookmark(bm[:0], c.cl.hashStr, seq))})
		if err != nil {
			return nil
		}
		return b
	}
	ref := enc(1)
	i := bytes.Index(ref, []byte(`"s":1,`))
	j := bytes.LastIndex(ref, []byte(`|1|`))
	if i < 0 || j < i {
		return nil
	}
	t := &persistAck{pre: ref[: i+4 : i+4], mid: ref[i+5 : j+1 : j+1], post: ref[j+2:]}
	for _, seq := range persistAckChecks {
		if !bytes.Equal(t.append(nil, seq), enc(seq)) {
			return nil
		}
	}
	c.persistTmpl = t
	return t
}

// emitPendingLocked sends the pending conflated success ack.
func (c *conn) emitPendingLocked(now int64) {
	c.pendPersist = false
	c.appendPersistLocked(c.pendSeq, true, statusSuccess, "", now)
}

// persistSuccess acknowledges an accepted publish that requested persisted: at once in
// Immediate mode, merged into the pending conflated ack otherwise.
func (c *conn) persistSuccess(seq uint64) {
	if !c.lockSpace(nil) {
		return
	}
	wake := true
	if iv := c.srv.cfg.conflate; iv == 0 {
		c.appendPersistLocked(seq, true, statusSuccess, "", nowUnread)
	} else {
		wake = !c.pendPersist
		if !c.pendPersist {
			c.pendPersist = true
			c.persistDue = c.srv.now() + int64(iv)
		}
		if seq > c.pendSeq {
			c.pendSeq = seq
		}
	}
	c.mu.Unlock()
	if wake {
		c.kickWriter()
	}
}

// persistFailure reports a publish that was not accepted: the pending conflated success (if
// any) goes first, so the failure is never merged away (amps-protocol.md §4.2).
func (c *conn) persistFailure(seq uint64, hasSeq bool, status, reason string) {
	if !c.lockSpace(nil) {
		return
	}
	now := c.srv.now()
	if c.pendPersist {
		c.emitPendingLocked(now)
	}
	c.appendPersistLocked(seq, hasSeq, status, reason, now)
	c.mu.Unlock()
	c.kickWriter()
}

// queueDelivery appends a delivery frame for this (subscriber) connection. from is the
// publishing connection: its abort also ends a wait for space. It reports whether the frame
// was queued.
func (c *conn) queueDelivery(from *conn, d *frame.Delivery, payload []byte) bool {
	if !c.lockSpace(from.done) {
		return false
	}
	b, err := frame.AppendDelivery(c.out, d, payload)
	if err == nil {
		c.out = b
	}
	c.mu.Unlock()
	if err != nil {
		c.srv.logf("ampstest: conn %d: encoding delivery: %v", c.id, err)
		return false
	}
	c.kickWriter()
	return true
}

// pumpLocked does the timed work due at now; it returns the time of the next timed event
// (0 for none) and whether queued space was freed.
func (c *conn) pumpLocked(now int64) (wake int64, moved bool) {
	s := c.srv
	if c.pendPersist {
		if now >= c.persistDue {
			c.emitPendingLocked(now)
		} else {
			wake = c.persistDue
		}
	}
	if c.ackHead < len(c.ackEnts) && !s.withhold.Load() {
		for c.ackHead < len(c.ackEnts) {
			e := c.ackEnts[c.ackHead]
			if e.due > now {
				wake = minWake(wake, e.due)
				break
			}
			c.out = append(c.out, c.ackBuf[c.ackStart:e.end]...)
			c.ackStart = e.end
			c.ackHead++
			moved = true
		}
		if c.ackHead == len(c.ackEnts) {
			c.ackBuf, c.ackEnts = c.ackBuf[:0], c.ackEnts[:0]
			c.ackHead, c.ackStart = 0, 0
		}
	}
	return wake, moved
}

func minWake(a, b int64) int64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func (c *conn) writeLoop() {
	defer c.exit()
	s := c.srv
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	lastOut := s.now()
	deadlineSet := false
	for {
		if s.flags.Load()&flagStall != 0 {
			if !c.waitUnstall() {
				return
			}
			continue
		}
		now := s.now()
		c.mu.Lock()
		wake, moved := c.pumpLocked(now)
		buf := c.out
		closing := c.closing
		if len(buf) > 0 {
			c.out, c.spare = c.spare[:0], nil
		}
		if c.spaceCh != nil && (moved || len(buf) > 0) {
			close(c.spaceCh)
			c.spaceCh = nil
		}
		c.mu.Unlock()

		if len(buf) > 0 {
			if closing && !deadlineSet {
				c.nc.SetWriteDeadline(time.Now().Add(gracefulTimeout))
				deadlineSet = true
			}
			_, err := c.nc.Write(buf)
			if cap(buf) <= maxKeepBuf {
				c.mu.Lock()
				if c.spare == nil {
					c.spare = buf[:0]
				}
				c.mu.Unlock()
			}
			if err != nil {
				c.abort(CloseWriteError)
				return
			}
			lastOut = s.now()
			continue
		}
		if closing {
			c.abort(CloseWriteError) // reason already recorded by graceful
			return
		}
		if hb := c.hbNanos.Load(); hb > 0 {
			lastIn := c.lastIn.Load()
			if now-lastIn > 2*hb {
				c.abort(CloseHeartbeatTimeout)
				return
			}
			if now-lastOut >= hb {
				c.mu.Lock()
				c.out = frame.AppendServerHeartbeat(c.out)
				c.mu.Unlock()
				continue
			}
			wake = minWake(wake, lastOut+hb)
			wake = minWake(wake, lastIn+2*hb+int64(time.Millisecond))
		}
		if wake > 0 {
			timer.Reset(time.Duration(wake - now))
		}
		select {
		case <-c.kick:
		case <-timer.C:
		case <-c.done:
			return
		}
		timer.Stop()
	}
}
