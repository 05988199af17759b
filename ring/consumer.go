package ring

// The consumer side: Wait, Peek and Release are called by ONE goroutine at
// a time (handing the role to another goroutine needs a happens-before edge,
// e.g. a channel or mutex).

// Wait blocks until committed, unreleased data exists (returns nil), or done
// is closed or the ring is closed with nothing left to consume (ErrClosed).
// Data takes precedence: while committed bytes remain, Wait returns nil even
// if done or the ring is closed. After Close, Wait keeps waiting for frames
// claimed before Close until they are committed. A nil done never fires.
//
// No lost wake-ups: Wait stores parked=1 and then re-loads the commit word;
// Commit stores the commit word and then loads parked, and if it is set,
// clears it and does a non-blocking send on a 1-slot channel. With
// sequentially consistent atomics at least one side sees the other, so a
// commit either is seen by the re-check or leaves a token in the channel.
func (r *Ring) Wait(done <-chan struct{}) error {
	closeCh := r.closeCh
	for i := 0; ; i++ {
		if r.hasData() {
			return nil
		}
		if r.drainedClosed() {
			return ErrClosed
		}
		if i < waitSpins {
			continue
		}
		r.parked.Store(1)
		if r.hasData() {
			r.parked.Store(0)
			return nil
		}
		if r.drainedClosed() {
			r.parked.Store(0)
			return ErrClosed
		}
		select {
		case <-r.data:
		case <-done:
			r.parked.Store(0)
			if r.hasData() {
				return nil
			}
			return ErrClosed
		case <-closeCh:
			closeCh = nil // closed: from now on only commits can change anything
		}
		r.parked.Store(0)
	}
}

// hasData reports whether committed bytes are unreleased.
func (r *Ring) hasData() bool {
	return (r.commit.Load()-r.rel)&posMask != 0
}

// drainedClosed reports whether the ring is closed and every frame claimed
// before Close is committed and released.
func (r *Ring) drainedClosed() bool {
	if !r.closed.Load() {
		return false
	}
	return (r.claim.Load()-r.rel)&posMask == 0
}

// Peek appends to iov, up to cap(iov) entries, the committed and unreleased
// stream in order, and returns iov and the number of bytes it covers. Arena
// bytes come as one slice per contiguous run (two where a run wraps the arena
// end); each external frame comes as its own entry. The slices alias the
// ring: they stay valid until Release covers them, and must not be written.
// Peek does not consume; calling it again returns the same bytes plus any
// newly committed ones. It never allocates when cap(iov) suffices (it
// appends only within cap).
func (r *Ring) Peek(iov [][]byte) ([][]byte, int) {
	cw := r.commit.Load()
	cpos := unpackPos(cw, r.rel)
	r.cpos = cpos
	if cseq := unpackSeq(cw, r.sb); cseq != r.sb {
		r.sb = cseq
		r.seqBase.Store(cseq)
	}
	tail := r.extTail.Load() // after cw: every external frame below cpos is visible
	if r.advanceFloor(tail) {
		r.wakeProducer()
	}
	pos := r.rel
	head := r.head
	for pos < cpos && len(iov) < cap(iov) {
		next := cpos // start of the next external frame, capped at cpos
		var e *extEntry
		if head < tail {
			e = &r.ext[head&(r.extSlots-1)]
			if e.start < next {
				next = e.start
			}
		}
		if pos < next {
			off := pos & r.mask
			n := next - pos
			if n > r.size-off {
				n = r.size - off
			}
			iov = append(iov, r.arena[off:off+n:off+n])
			pos += n
			continue
		}
		// pos is inside external frame e (partially released ones included).
		end := e.start + e.n
		iov = append(iov, e.bb.B[pos-e.start:e.n:e.n])
		pos = end
		head++
	}
	return iov, int(pos - r.rel)
}

// Release marks n stream bytes, from the oldest, as written: it frees their
// arena space, returns fully released external buffers to the pool, and
// wakes producers blocked in Claim. Slices from Peek that n covers must not
// be used afterwards. Releasing more than is committed panics. Release is
// the single point where bytes are freed.
func (r *Ring) Release(n int) {
	if n <= 0 {
		if n < 0 {
			panic("ring: Release of a negative count")
		}
		return
	}
	old := r.rel
	nr := old + uint64(n)
	if nr > r.cpos || nr < old {
		r.cpos = unpackPos(r.commit.Load(), old) // Release without Peek
	}
	if nr > r.cpos || nr < old {
		panic("ring: Release beyond the committed stream")
	}
	tail := r.extTail.Load()
	var freedBytes, freedCount, extRel uint64
	for h := r.head; h < tail; h++ {
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
	r.advanceFloor(tail)
	if freedCount != 0 {
		r.extUse.Add(^(freedCount<<extCountShift + freedBytes - 1))
	}
	r.wakeProducer()
}

// advanceFloor recomputes the arena floor: the release position, moved past
// external frames that start at or before it (they hold no arena bytes). It
// publishes the floor and reports whether it moved.
func (r *Ring) advanceFloor(tail uint64) bool {
	f := r.rel
	for h := r.head; h < tail; h++ {
		e := &r.ext[h&(r.extSlots-1)]
		if e.start > f {
			break
		}
		if end := e.start + e.n; end > f {
			f = end
		}
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
		close(r.closeCh)
	}
}
