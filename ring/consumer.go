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
// No lost wake-ups: Wait spins briefly, then stores waitSeq = next frame + 1
// and re-loads that frame's commit-table entry before it parks on a 1-slot
// channel; Commit stores the entry and then loads waitSeq, and if it names
// its frame, clears it (CAS) and does a non-blocking send. With sequentially
// consistent atomics at least one side sees the other's store.
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
		r.waitSeq.Store(r.nseq + 1)
		if r.hasData() {
			r.waitSeq.Store(0)
			return nil
		}
		if r.drainedClosed() {
			r.waitSeq.Store(0)
			return ErrClosed
		}
		select {
		case <-r.data:
		case <-done:
			r.waitSeq.Store(0)
			if r.hasData() {
				return nil
			}
			return ErrClosed
		case <-closeCh:
			closeCh = nil // closed: from now on only commits can change anything
		}
		r.waitSeq.Store(0)
	}
}

// hasData reports whether committed bytes are unreleased: seen already, or
// the next frame is committed.
func (r *Ring) hasData() bool {
	return r.cpos != r.rel || r.done[r.slot(r.nseq)].Load()&^extFlag > r.cpos
}

// drainedClosed reports whether the ring is closed and every frame claimed
// before Close is committed and released.
func (r *Ring) drainedClosed() bool {
	if !r.closed.Load() {
		return false
	}
	return (r.claim.Load()-r.rel)&posMask == 0
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
	// committed before seqBase: Committed relies on it (a reader that saw
	// the old committed word and then a slot rewritten by a frame that the
	// new seqBase admitted sees the new committed word on its re-check).
	r.committed.Store(pack(seq, pos))
	r.seqBase.Store(seq)
	r.advanceFloor()
	r.wakeProducer() // seqBase (and maybe the floor) moved
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
	pos := r.rel
	for h := r.head; pos < r.cpos && len(iov) < cap(iov); {
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
		r.walk() // Release without Peek
	}
	if nr > r.cpos || nr < old {
		panic("ring: Release beyond the committed stream")
	}
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
		close(r.closeCh)
	}
}
