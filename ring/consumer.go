package ring

import "runtime"

// The consumer side: Wait, Peek and Release are called by ONE goroutine at
// a time (handing the role to another goroutine needs a happens-before edge,
// e.g. a channel or mutex).

// Wait blocks until committed, unreleased data exists (returns nil), or done
// is closed or the ring is closed with nothing left to consume (ErrClosed).
// Data takes precedence: while committed bytes remain, Wait returns nil even
// if done or the ring is closed. After Close, Wait keeps waiting for frames
// claimed before Close until they are committed. A nil done never fires.
//
// No lost wake-ups: Wait spins briefly, then stores waitSeq = next frame + 1
// and re-loads that frame's commit-table entry before it parks on a 1-slot
// channel; Commit stores the entry and then loads waitSeq, and if it names
// its frame, clears it (CAS) and does a non-blocking send. With sequentially
// consistent atomics at least one side sees the other's store.
func (r *Ring) Wait(done <-chan struct{}) error {
	closeCh := *r.closeCh.Load()
	for i := 0; ; i++ {
		if r.hasData() || r.takeKick() {
			return nil
		}
		if r.drainedClosed() {
			return ErrClosed
		}
		if i < waitSpins {
			continue
		}
		// From this store on a producer may take the role (CommitTake):
		// the re-check reads only the slot and copies, and every way out
		// goes through acquire.
		nseq, cpos := r.nseq, r.cpos
		r.waitSeq.Store(nseq + 1)
		if r.done[r.slot(nseq)].Load()&^extFlag > cpos || r.kicked.Load() {
			r.acquire()
			continue
		}
		select {
		case <-r.data:
		case <-done:
			r.acquire()
			if r.hasData() {
				return nil
			}
			return ErrClosed
		case <-closeCh:
			closeCh = nil // closed: from now on only commits can change anything
		}
		r.acquire()
	}
}

// acquire makes the parked consumer the consumer again: it clears waitSeq,
// first waiting (spinning, then yielding) while a producer holds the role.
func (r *Ring) acquire() {
	for i := 0; ; i++ {
		v := r.waitSeq.Load()
		if v&takenBit == 0 {
			if r.waitSeq.CompareAndSwap(v, 0) {
				return
			}
			continue
		}
		if i >= waitSpins {
			runtime.Gosched()
		}
	}
}

// hasData reports whether committed bytes are unsent: seen already, or the
// next frame is committed.
func (r *Ring) hasData() bool {
	return r.cpos != r.sent || r.done[r.slot(r.nseq)].Load()&^extFlag > r.cpos
}

// takeKick consumes a pending Kick.
func (r *Ring) takeKick() bool {
	return r.kicked.Load() && r.kicked.Swap(false)
}

// Kick makes the consumer's current or next Wait return nil even when there
// is nothing to send, so that it can act on something other than data (a
// publish store's acknowledgement, say). Safe from any goroutine; kicks
// coalesce.
func (r *Ring) Kick() {
	if !r.kicked.Load() {
		r.kicked.Store(true)
	}
	// A consumer that is not parked sees the flag on its next Wait; one
	// that parks stores waitSeq before it checks the flag, so one of the two
	// loads sees the other's store (as for Commit).
	if r.waitSeq.Load() != 0 {
		select {
		case r.data <- struct{}{}:
		default:
		}
	}
}

// drainedClosed reports whether the ring is closed and every frame claimed
// before Close is committed and sent.
func (r *Ring) drainedClosed() bool {
	if !r.closed.Load() {
		return false
	}
	return (r.claim.Load()-r.sent)&posMask == 0
}

// walk advances the consumer's view over the frames committed in order
// since it last looked, queueing the external ones, and publishes it.
//
// The entry of frame nseq is its End once committed. Any other value in the
// slot is the End of an older frame (nseq - k*MaxFrames, already seen, so at
// most cpos) or zero: it stops the walk. It cannot be a newer frame's, since
// frame nseq+MaxFrames cannot be claimed before seqBase passes nseq.
func (r *Ring) walk() {
	seq, pos := r.nseq, r.cpos
	var extBytes uint64
	for {
		i := r.slot(seq)
		v := r.done[i].Load()
		end := v &^ extFlag
		if end <= pos {
			break
		}
		if v&extFlag != 0 {
			e := &r.ext[r.tail&(r.extSlots-1)]
			*e = extEntry{start: pos, n: end - pos, bb: r.doneBB[i].Load()}
			r.doneBB[i].Store(nil)
			r.tail++
			extBytes += end - pos
		}
		pos = end
		seq++
	}
	if seq == r.nseq {
		return
	}
	r.nseq, r.cpos = seq, pos
	if extBytes != 0 {
		r.seenExtB += extBytes
		r.seenExt.Store(r.seenExtB)
	}
	// seqBase counts released frames, which never pass the frames seen
	// committed: Committed relies on it (a reader that saw the old committed
	// word and then a slot rewritten by a frame that a newer seqBase
	// admitted sees a new committed word on its re-check).
	r.committed.Store(pack(seq, pos))
	if r.advanceFloor() {
		r.wakeProducer() // the floor moved past an external frame
	}
}

// Peek appends to iov, up to cap(iov) entries, the committed and unreleased
// stream in order, and returns iov and the number of bytes it covers. Arena
// bytes come as one slice per contiguous run (two where a run wraps the arena
// end); each external frame comes as its own entry. The slices alias the
// ring: they stay valid until Release covers them, and must not be written.
// Peek does not consume; calling it again returns the same bytes plus any
// newly committed ones. It never allocates (it appends only within cap).
func (r *Ring) Peek(iov [][]byte) ([][]byte, int) {
	r.walk()
	pos := r.sent
	h := r.head
	for h < r.tail && r.ext[h&(r.extSlots-1)].start+r.ext[h&(r.extSlots-1)].n <= pos {
		h++ // sent already, kept until released
	}
	for pos < r.cpos && len(iov) < cap(iov) {
		next := r.cpos // start of the next external frame, capped at cpos
		var e *extEntry
		if h < r.tail {
			e = &r.ext[h&(r.extSlots-1)]
			next = min(next, e.start)
		}
		if pos < next {
			off := pos & r.mask
			n := min(next-pos, r.size-off)
			iov = append(iov, r.arena[off:off+n:off+n])
			pos += n
			continue
		}
		// pos is inside external frame e (partially released ones included).
		iov = append(iov, e.bb.B[pos-e.start:e.n:e.n])
		pos = e.start + e.n
		h++
	}
	return iov, int(pos - r.sent)
}

// Release marks n stream bytes, from the oldest unreleased, as written and
// frees them: it frees their arena space, returns fully released external
// buffers to the pool, and wakes producers blocked in Claim. Slices from Peek
// that n covers must not be used afterwards. Releasing more than is committed
// panics. Release frees bytes exactly, also in the middle of a frame; a
// consumer that may need to send a frame again (after a reconnect) uses
// Sent, which frees whole frames only, or Retain with DiscardThrough.
func (r *Ring) Release(n int) {
	if n <= 0 {
		if n < 0 {
			panic("ring: Release of a negative count")
		}
		return
	}
	nr := r.rel + uint64(n)
	if nr > r.cpos || nr < r.rel {
		r.walk() // Release without Peek
	}
	if nr > r.cpos || nr < r.rel {
		panic("ring: Release beyond the committed stream")
	}
	seq, bound := r.relSeq, r.relBound
	for seq < r.nseq {
		end := r.done[r.slot(seq)].Load() &^ extFlag
		if end > nr {
			break
		}
		seq, bound = seq+1, end
	}
	r.releaseTo(nr, seq, bound)
	if r.sent < nr {
		r.sent = nr
		r.sentA.Store(nr)
	}
	r.sentWhole()
}

// sentWhole advances sentSeq past the frames now sent whole: O(1) when
// everything seen is sent, else one step per frame over the ring's life.
func (r *Ring) sentWhole() {
	if r.sent == r.cpos {
		r.sentSeq = max(r.sentSeq, r.nseq)
		return
	}
	q := max(r.sentSeq, r.relSeq)
	for q < r.nseq && r.done[r.slot(q)].Load()&^extFlag <= r.sent {
		q++
	}
	r.sentSeq = q
}

// Sent reports that n more bytes from the send cursor (the start of what
// Peek returns) went to the socket: the next Peek starts after them. Without
// Retain it frees every frame that is now sent whole (a frame cut by a
// partial write stays until the rest of it is sent, so Rewind can send it
// again from its start); with Retain it frees nothing. Sending more than is
// committed panics.
func (r *Ring) Sent(n int) {
	if n < 0 {
		panic("ring: Sent of a negative count")
	}
	ns := r.sent + uint64(n)
	if ns > r.cpos {
		panic("ring: Sent beyond the committed stream")
	}
	r.sent = ns
	r.sentA.Store(ns)
	r.sentWhole()
	if r.retain || n == 0 {
		return
	}
	if ns == r.cpos { // the usual case: everything peeked went out
		r.releaseTo(ns, r.nseq, ns)
		return
	}
	seq, bound := r.relSeq, r.relBound
	for seq < r.nseq {
		end := r.done[r.slot(seq)].Load() &^ extFlag
		if end > ns {
			break
		}
		seq, bound = seq+1, end
	}
	if seq != r.relSeq {
		r.releaseTo(bound, seq, bound)
	}
}

// DiscardThrough frees every frame up to and including frame seq (Claim.Seq),
// sent or not, in O(1) plus one step per external frame freed: the frame's
// end is in the commit table. Frames not yet committed cannot be discarded:
// seq is clamped to the last committed frame. Frames already freed are
// ignored. If the send cursor was below the new release point, it moves up.
// For a Retain ring (a publish store's acknowledgements); also valid
// without Retain.
func (r *Ring) DiscardThrough(seq uint64) {
	if seq < r.relSeq {
		return
	}
	if seq >= r.nseq {
		r.walk()
		if seq >= r.nseq {
			if r.nseq == r.relSeq {
				return
			}
			seq = r.nseq - 1
		}
	}
	end := r.done[r.slot(seq)].Load() &^ extFlag
	r.releaseTo(end, seq+1, end)
	if r.sent < end {
		r.sent = end
		r.sentA.Store(end)
	}
	r.sentSeq = max(r.sentSeq, seq+1)
}

// SentEver returns the number of frames (Claim.Seq + 1 of the last one)
// that the consumer has reported sent whole at some time, across Rewinds:
// frames released count too. A frame a Rewind made to send again still
// counts. Consumer only; O(1).
func (r *Ring) SentEver() uint64 { return max(r.sentSeq, r.relSeq) }

// Rewind moves the send cursor back to the first unreleased byte, the start
// of the oldest frame not yet freed: the next Peek returns every unreleased
// frame again, whole, in order (a new connection's replay).
func (r *Ring) Rewind() {
	r.sent = r.relBound
	if r.rel != r.relBound {
		// Release freed part of frame relSeq; it cannot be sent whole.
		r.sent = r.rel
	}
	r.sentA.Store(r.sent)
}

// AppendFrame appends the bytes of frame seq (Claim.Seq) to dst, provided
// the frame is committed, seen by the consumer (Wait/Peek) and not freed,
// and reports whether it was. For a consumer that frees whole frames (Sent,
// DiscardThrough): a frame cut by Release is not available.
func (r *Ring) AppendFrame(dst []byte, seq uint64) ([]byte, bool) {
	if seq < r.relSeq || seq >= r.nseq || (seq == r.relSeq && r.rel != r.relBound) {
		return dst, false
	}
	start := r.relBound
	if seq > r.relSeq {
		start = r.done[r.slot(seq-1)].Load() &^ extFlag
	}
	v := r.done[r.slot(seq)].Load()
	end := v &^ extFlag
	if v&extFlag != 0 {
		for h := r.head; h < r.tail; h++ {
			if e := &r.ext[h&(r.extSlots-1)]; e.start == start {
				return append(dst, e.bb.B[:e.n]...), true
			}
		}
		return dst, false
	}
	off := start & r.mask
	n := end - start
	if off+n <= r.size {
		return append(dst, r.arena[off:off+n]...), true
	}
	dst = append(dst, r.arena[off:]...)
	return append(dst, r.arena[:n-(r.size-off)]...), true
}

// Head returns the size of the oldest unreleased frame (Claim.Seq
// ReleasedSeq) and whether the consumer has reported it sent whole (Sent or
// Release up to its end); ok is false when there is no such frame the
// consumer has seen, or Release freed part of it. Consumer only: with
// AppendFrame, it lets a Retain ring's consumer free a frame that needs no
// acknowledgement once it is sent.
func (r *Ring) Head() (size int, sent, ok bool) {
	if r.relSeq >= r.nseq || r.rel != r.relBound {
		return 0, false, false
	}
	end := r.done[r.slot(r.relSeq)].Load() &^ extFlag
	return int(end - r.relBound), r.sent >= end, true
}

// releaseTo frees the stream up to nr: frames below seq are released whole
// (the first byte of frame seq is bound), and nr may lie inside frame seq.
func (r *Ring) releaseTo(nr, seq, bound uint64) {
	old := r.rel
	var freedBytes, freedCount, extRel uint64
	for h := r.head; h < r.tail; h++ {
		e := &r.ext[h&(r.extSlots-1)]
		if e.start >= nr {
			break
		}
		end := e.start + e.n
		extRel += min(end, nr) - max(e.start, old)
		if end > nr {
			break
		}
		freedBytes += e.n
		freedCount++
		r.extPool.Put(e.bb)
		*e = extEntry{}
		r.head = h + 1
	}
	r.rel = nr
	r.released.Store(nr)
	if extRel != 0 {
		r.relExtCt += extRel
		r.relExt.Store(r.relExtCt)
	}
	if seq != r.relSeq {
		r.relSeq, r.relBound = seq, bound
		r.relSeqA.Store(seq)
		r.seqBase.Store(seq)
	}
	r.advanceFloor()
	if freedCount != 0 {
		r.extUse.Add(^(freedCount<<extCountShift + freedBytes - 1))
	}
	r.wakeProducer()
}

// advanceFloor recomputes the arena floor: the release position, moved past
// the seen external frames that start at or before it (they hold no arena
// bytes). It publishes the floor and reports whether it moved.
func (r *Ring) advanceFloor() bool {
	f := r.rel
	for h := r.head; h < r.tail; h++ {
		e := &r.ext[h&(r.extSlots-1)]
		if e.start > f {
			break
		}
		f = max(f, e.start+e.n)
	}
	if f == r.fl {
		return false
	}
	r.fl = f
	r.floor.Store(f)
	return true
}

// Close closes the ring: later Claims and TryClaims fail with ErrClosed,
// blocked ones return ErrClosed, and a parked Wait wakes. Frames claimed
// before Close can still be committed, and the consumer may Peek and Release
// everything committed; Wait returns ErrClosed once it is all released.
// Idempotent and safe from any goroutine.
func (r *Ring) Close() {
	if r.claim.Or(closedBit)&closedBit == 0 {
		r.closed.Store(true)
		close(*r.closeCh.Load())
	}
}

// Reopen undoes Close: claims succeed again, and the frames kept in the ring
// (unsent ones, and with Retain unreleased ones) stay where they are, so a
// client can resume on a new connection. Call it from the consumer's
// goroutine once no Wait is running; producers may race with it (a claim
// that saw the ring closed fails with ErrClosed, as before).
func (r *Ring) Reopen() {
	if !r.closed.Load() {
		return
	}
	ch := make(chan struct{})
	r.closeCh.Store(&ch)
	r.closed.Store(false)
	r.claim.And(^uint64(closedBit))
}

// SentUnreleased returns the number of unreleased frames whose bytes the
// consumer has already reported sent, in part or whole: what Rewind would
// make it send again (as opposed to frames not sent yet). Consumer only;
// it walks those frames' commit-table entries.
func (r *Ring) SentUnreleased() uint64 {
	n := uint64(0)
	start := r.relBound
	for q := r.relSeq; q < r.nseq && start < r.sent; q++ {
		n++
		start = r.done[r.slot(q)].Load() &^ extFlag
	}
	return n
}

// Seen returns the frame count and stream position the consumer has seen
// committed (its last Peek or Wait): every frame below seq is committed, and
// frame seq starts at pos. Consumer only.
func (r *Ring) Seen() (seq, pos uint64) { return r.nseq, r.cpos }
