package filestore

import (
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/fastpub/fastpub/store"
	"golang.org/x/sys/unix"
)

// Limits returns the bounds the store was opened with, defaults filled in.
func (s *Store) Limits() store.Limits { return s.opt.Limits }

// Recover calls fn for every record an earlier process left above the
// persisted state, in sequence order, and returns what the verification
// at Open found: the highest sequence used (Last, from the records and
// the persisted state), the highest known persisted, and the exact ranges
// of sequence numbers whose records were damaged (Lost). frame is the
// stored bytes, valid only during the call. It may be called again before
// Begin (the same frames again); after Begin it returns an error.
func (s *Store) Recover(fn func(seq uint64, frame []byte) error) (store.Recovery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.st.Load() {
	case stClosed:
		return store.Recovery{}, newErr("recover", s.dir, ErrClosed, nil)
	case stOpen:
		return store.Recovery{}, newErr("recover", s.dir, nil, errors.New("Recover after Begin"))
	}
	rec := s.rec
	rec.Lost = append([]store.Range(nil), s.rec.Lost...)
	err := s.sc.walk(s.pseq.Load, fn)
	return rec, err
}

// Begin fixes where this process's stream starts: its first frame has
// sequence number seq, above every one Recover returned, and starts at
// stream position pos.
func (s *Store) Begin(seq, pos uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.st.Load() == stClosed:
		return newErr("begin", s.dir, ErrClosed, nil)
	case s.st.Load() == stOpen:
		return newErr("begin", s.dir, nil, errors.New("Begin called twice"))
	case seq <= s.sc.maxSeq || seq == 0:
		return newErr("begin", s.dir, nil, errors.New("Begin's sequence "+itoa(seq)+" is not above the recovered "+itoa(s.sc.maxSeq)))
	}
	// Recover has handed the client its losses: the next Open need not
	// report them again. A failed removal only reports them twice.
	if s.hasLost {
		if err := os.Remove(filepath.Join(s.dir, lostName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.report(newErr("delete", filepath.Join(s.dir, lostName), nil, err))
		} else {
			s.hasLost = false
		}
	}
	s.seq0, s.pos0 = seq, pos
	s.cseq.Store(seq)
	s.coff.Store(s.l0)
	s.synced = s.l0
	s.plow.Store(s.l0)
	s.st.Store(stOpen)
	return nil
}

// off is the logical offset of the record of frame (seq, pos).
func (s *Store) off(seq, pos uint64) uint64 {
	return s.l0 + (pos - s.pos0) + recHdr*(seq-s.seq0)
}

// Append copies the frame into its record, at the place its sequence
// number and position give it: no lock, no atomic write, no allocation,
// and no system call except in DurabilityEveryPublish. It does nothing
// before Begin or after Close, nor for a frame before Begin's. It must not
// run concurrently with Close.
func (s *Store) Append(seq, pos uint64, frame []byte) {
	if s.st.Load() != stOpen || seq < s.seq0 || pos < s.pos0 {
		return
	}
	o := s.off(seq, pos)
	n := uint64(recHdr + len(frame))
	var h [recHdr]byte
	le.PutUint32(h[0:], recMagic)
	le.PutUint32(h[4:], crc32.Update(recCRC(o, seq, uint32(len(frame))), castagoli, frame))
	le.PutUint64(h[8:], seq)
	le.PutUint32(h[16:], uint32(len(frame)))
	k, off := o>>s.shift, o&s.mask
	seg := s.lookup(k)
	if seg != nil && off+n <= s.size {
		copy(seg.data[off+recHdr:], frame)
		copy(seg.data[off:], h[:])
	} else if !s.write(o, h[:], frame) {
		return
	}
	if off == 0 || off+n > s.size {
		// Entering a segment (once per segment): the background prepares
		// the next.
		last := (o + n - 1) >> s.shift
		for old := s.entered.Load(); last > old && !s.entered.CompareAndSwap(old, last); old = s.entered.Load() {
		}
		s.kick()
	}
	if s.opt.Durability == DurabilityEveryPublish {
		s.flush(o, n)
	}
}

// write copies a record that straddles segments, or whose segment is not
// ready, waiting for it.
func (s *Store) write(o uint64, h, frame []byte) bool {
	for _, b := range [2][]byte{h, frame} {
		for len(b) > 0 {
			seg := s.lookup(o >> s.shift)
			if seg == nil {
				if seg = s.waitSeg(o >> s.shift); seg == nil {
					return false
				}
			}
			c := copy(seg.data[o&s.mask:], b)
			b, o = b[c:], o+uint64(c)
		}
	}
	return true
}

// waitSeg waits for segment k to be ready: it asks the background for it,
// spins, yields, then parks.
func (s *Store) waitSeg(k uint64) *segment {
	s.waits.Add(1)
	for old := s.need.Load(); old < k+1 && !s.need.CompareAndSwap(old, k+1); old = s.need.Load() {
	}
	s.kick()
	for i := 0; ; i++ {
		if seg := s.lookup(k); seg != nil {
			return seg
		}
		if s.st.Load() == stClosed {
			return nil
		}
		switch {
		case i < 64:
		case i < 128:
			runtime.Gosched()
		default:
			s.waitMu.Lock()
			for s.lookup(k) == nil && s.st.Load() != stClosed {
				s.waitCond.Wait()
			}
			s.waitMu.Unlock()
		}
	}
}

// flush msyncs the pages of logical [o, o+n).
func (s *Store) flush(o, n uint64) {
	for end := o + n; o < end; {
		seg := s.lookup(o >> s.shift)
		off := o & s.mask
		c := min(end-o, s.size-off)
		if seg != nil {
			if err := msync(seg.m, segHdr+off, segHdr+off+c); err != nil {
				s.report(newErr("sync", s.segPath(seg), nil, err))
			}
		}
		o += c
	}
	s.syncs.Add(1)
}

func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Committed records that every frame below seq is appended and that frame
// seq starts at pos: a few atomic operations, and in DurabilityGroup a
// non-blocking wake of the store's goroutine when a flush is due.
func (s *Store) Committed(seq, pos uint64) {
	if s.st.Load() != stOpen || seq < s.seq0 || pos < s.pos0 {
		return
	}
	o := s.off(seq, pos)
	s.coff.Store(o) // before cseq: a reader of cseq sees at least this offset
	s.cseq.Store(seq)
	switch s.opt.Durability {
	case DurabilityGroup:
		if !s.armed.Load() {
			s.armed.Store(true)
			s.kick()
		} else if o-s.kickOff.Load() >= uint64(s.opt.SyncBytes) {
			s.kickOff.Store(o)
			s.kick()
		}
	case DurabilityEveryPublish:
		s.advanceDurable(seq - 1)
	}
}

func (s *Store) advanceDurable(v uint64) {
	for old := s.durable.Load(); v > old && !s.durable.CompareAndSwap(old, v); old = s.durable.Load() {
	}
}

// Persisted records that every frame up to seq may be freed (pos: where
// frame seq+1 starts, or 0 for a frame of an earlier process) and that the
// server holds every sequence number up to acked, which the next Open's
// Recovery.Persisted returns. The store's goroutine deletes the segments
// that hold nothing else and writes the persisted state; Persisted itself
// only stores three numbers, and wakes that goroutine when a segment is
// freed. It returns
// ErrClosed after Close, nil otherwise: the goroutine's failures go to
// Options.OnError and are retried.
func (s *Store) Persisted(seq, pos, acked uint64) error {
	if s.st.Load() == stClosed {
		return newErr("persisted", s.dir, ErrClosed, nil)
	}
	if acked > s.aseq.Load() {
		s.aseq.Store(acked) // one caller: the client's ring consumer
	}
	wake := false
	if seq > s.pseq.Load() {
		s.pseq.Store(seq)
		wake = s.recWaiting(seq)
	}
	if s.st.Load() == stOpen && seq+1 >= s.seq0 && pos >= s.pos0 {
		low := s.off(seq+1, pos)
		if low > s.plow.Load() {
			if low>>s.shift != s.plow.Load()>>s.shift {
				wake = true
			}
			s.plow.Store(low)
		}
	}
	if wake {
		s.kick()
	}
	return nil
}

// recWaiting reports whether a recovered segment can be freed at persisted
// seq. Its answer is a hint: the goroutine checks under its lock.
func (s *Store) recWaiting(seq uint64) bool {
	return s.nextRecMax.Load() != 0 && seq >= s.nextRecMax.Load()
}

// DurableThrough returns the highest sequence number such that it and
// every one below it is on disk: advanced by the group commit, by every
// publish's flush, and in DurabilityNone only by Sync and Close.
func (s *Store) DurableThrough() uint64 { return s.durable.Load() }

// Sync flushes everything committed, and the persisted state, to disk now.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Load() == stClosed {
		return newErr("sync", s.dir, ErrClosed, nil)
	}
	return s.syncAll()
}

// syncAll flushes the recovered segments (once), the committed records and
// the persisted state. Called with mu held.
func (s *Store) syncAll() error {
	if err := s.syncRecovered(); err != nil {
		return err
	}
	s.advanceDurable(s.rec.Last)
	if s.st.Load() == stOpen || s.seq0 != 0 {
		if err := s.syncTo(); err != nil {
			return err
		}
	}
	return s.writeState(true)
}

// syncTo flushes the records below the last Committed, then advances
// DurableThrough. Called with mu held.
func (s *Store) syncTo() error {
	s.armed.Store(false) // before the snapshot: a later commit wakes us again
	seq := s.cseq.Load()
	to := s.coff.Load()
	from := s.synced
	if low := s.lowIdx << s.shift; from < low {
		from = low // deleted already
	}
	for o := from; o < to; {
		k := o >> s.shift
		off := o & s.mask
		c := min(to-o, s.size-off)
		if seg := s.lookup(k); seg != nil {
			if err := msync(seg.m, segHdr+off, segHdr+off+c); err != nil {
				return newErr("sync", s.segPath(seg), nil, err)
			}
		}
		o += c
	}
	s.syncs.Add(1)
	s.synced = max(s.synced, to)
	s.dirtyAt = time.Time{}
	if seq > s.seq0 {
		s.advanceDurable(seq - 1)
	}
	return nil
}

// writeState writes the persisted state into the older slot if it
// changed, and flushes it when sync is set. Called with mu held.
func (s *Store) writeState(sync bool) error {
	last := s.rec.Last
	if c := s.cseq.Load(); s.seq0 != 0 && c > s.seq0 {
		last = max(last, c-1)
	}
	p, a := s.pseq.Load(), s.aseq.Load()
	if p == s.state.persisted && last == s.state.last && a == s.state.acked {
		return nil
	}
	next := persistState{gen: s.state.gen + 1, persisted: max(p, s.state.persisted), last: max(last, s.state.last), acked: max(a, s.state.acked)}
	b := s.stateBuf[:]
	encodeState(b, next)
	if _, err := s.stateF.WriteAt(b, int64(s.slot*stateSlot)); err != nil {
		return newErr("write", s.stateF.Name(), nil, err)
	}
	if sync {
		if err := fdatasync(s.stateF); err != nil {
			return newErr("sync", s.stateF.Name(), nil, err)
		}
	}
	s.state, s.slot, s.stateAt = next, 1-s.slot, time.Now()
	return nil
}

func (s *Store) report(err error) {
	s.bgErrs.Add(1)
	if s.opt.OnError != nil {
		s.opt.OnError(err)
	}
}

// loop is the store's goroutine: it frees persisted segments, prepares
// the next ones, flushes in DurabilityGroup and writes the persisted
// state.
func (s *Store) loop() {
	defer close(s.done)
	t := time.NewTimer(idleTick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-t.C:
		}
		s.mu.Lock()
		next := s.maintain(time.Now())
		s.mu.Unlock()
		for s.syncStep() || s.prefaultStep() {
			select {
			case <-s.stop:
				return
			case <-s.wake:
				s.mu.Lock()
				next = s.maintain(time.Now())
				s.mu.Unlock()
			default:
			}
		}
		t.Reset(next)
	}
}

// prefaultChunk is how much prefaultStep maps at a time.
const prefaultChunk = 1 << 20

// prefaultStep prefaults the next chunk of the segments up to the one after
// the producers' current one, and reports whether there is more to do.
// Only the loop goroutine maps, installs and drops own segments after
// Open, so it reads them here without the lock.
func (s *Store) prefaultStep() bool {
	if s.noPrefault {
		return false
	}
	if s.pfIdx < s.lowIdx {
		s.pfIdx, s.pfOff = s.lowIdx, 0
	}
	target := max(s.entered.Load(), s.l0>>s.shift) + 1
	if s.pfIdx > target {
		return false
	}
	seg := s.lookup(s.pfIdx)
	if seg == nil {
		return false
	}
	c := min(uint64(prefaultChunk), s.size-s.pfOff)
	if !prefault(seg.data[s.pfOff : s.pfOff+c]) {
		s.noPrefault = true
		return false
	}
	if s.pfOff += c; s.pfOff == s.size {
		s.pfIdx, s.pfOff = s.pfIdx+1, 0
	}
	return true
}

// maintain does the background work due now and returns when to look
// again. Called with mu held.
func (s *Store) maintain(now time.Time) time.Duration {
	next := idleTick
	// Free what is persisted: the state first, so that Recovery.Last and
	// Persisted survive the deletion of every segment.
	p := s.pseq.Load()
	low := s.lowIdx
	if s.st.Load() == stOpen {
		low = max(low, min(s.plow.Load(), s.coff.Load())>>s.shift)
	}
	// Recovered segments go only after Begin: until then Recover may walk
	// them again.
	recFree := s.st.Load() != stNew && len(s.rsegs) > 0 && s.rsegs[0].maxSeq <= p
	if recFree || low > s.lowIdx || now.Sub(s.stateAt) >= idleTick {
		if err := s.writeState(s.opt.Durability != DurabilityNone && (recFree || low > s.lowIdx)); err != nil {
			s.fail(err)
			return 10 * time.Millisecond
		}
	}
	if recFree {
		if err := s.deleteRecovered(p); err != nil {
			s.fail(err)
		}
		s.setNextRec()
	}
	// Persisted segments become the segments ahead (recycled), or go.
	target := max(low+s.ahead, s.need.Load())
	made := false
	for ; s.lowIdx < low; s.lowIdx++ {
		if s.headIdx < target && s.headIdx > s.lowIdx {
			if err := s.recycle(s.lowIdx, s.headIdx); err != nil {
				s.fail(err)
			} else {
				made = true
			}
			continue
		}
		if err := s.dropSeg(s.lowIdx); err != nil {
			s.fail(err)
		}
	}
	if s.headIdx < s.lowIdx {
		s.headIdx = s.lowIdx
	}
	// Make the rest of the segments ahead.
	for s.headIdx < target {
		seg, err := s.createSeg(s.headIdx, nil)
		if err != nil {
			s.fail(err)
			next = 10 * time.Millisecond
			break
		}
		s.install(seg)
		made = true
	}
	if made {
		if s.opt.Durability != DurabilityNone {
			if err := unix.Fsync(s.dirfd); err != nil {
				s.fail(newErr("sync", s.dir, nil, sysErr("fsync", err)))
			}
		}
		s.waitMu.Lock()
		s.waitCond.Broadcast()
		s.waitMu.Unlock()
		if s.lastErr != "" && next == idleTick {
			s.lastErr = ""
		}
	}
	// Group commit: start one when due; the loop runs it chunk by chunk
	// (syncStep), outside the lock, so that a slow disk never holds up the
	// segments' maintenance.
	if s.job.active {
		next = min(next, s.opt.SyncInterval) // to look again when it is done
	}
	if s.opt.Durability == DurabilityGroup && s.st.Load() == stOpen && !s.job.active {
		if to := s.coff.Load(); to > s.synced {
			if s.dirtyAt.IsZero() {
				s.dirtyAt = now
			}
			if d := s.opt.SyncInterval - now.Sub(s.dirtyAt); d <= 0 || to-s.synced >= uint64(s.opt.SyncBytes) {
				s.armed.Store(false) // before the snapshot: a later commit wakes us again
				seq := s.cseq.Load()
				s.job = syncJob{active: true, seq: seq, cur: max(s.synced, s.lowIdx<<s.shift), to: s.coff.Load()}
				next = min(next, s.opt.SyncInterval)
			} else {
				next = min(next, d)
			}
		}
	}
	return next
}

// syncJob is a group commit in progress, owned by the loop goroutine: the
// records in [cur, to) are flushed a chunk at a time, then every frame
// below seq is durable.
type syncJob struct {
	active       bool
	seq, cur, to uint64
}

// syncChunk is the most syncStep flushes at a time.
const syncChunk = 4 << 20

// syncStep flushes the next chunk of the group commit in progress, and
// reports whether it did anything. Only the loop goroutine unmaps own
// segments, so it flushes them here without the lock.
func (s *Store) syncStep() bool {
	j := &s.job
	if !j.active {
		return false
	}
	if j.cur < j.to {
		off := j.cur & s.mask
		c := min(j.to-j.cur, s.size-off, syncChunk)
		if seg := s.lookup(j.cur >> s.shift); seg != nil {
			if err := msync(seg.m, segHdr+off, segHdr+off+c); err != nil {
				j.active = false
				s.mu.Lock()
				s.fail(newErr("sync", s.segPath(seg), nil, err))
				s.mu.Unlock()
				return false
			}
		}
		if j.cur += c; j.cur < j.to {
			return true
		}
	}
	j.active = false
	s.syncs.Add(1)
	s.mu.Lock()
	s.synced = max(s.synced, j.to)
	if j.seq > s.seq0 {
		s.advanceDurable(j.seq - 1)
	}
	if s.coff.Load() > s.synced {
		s.dirtyAt = time.Now()
	} else {
		s.dirtyAt = time.Time{}
	}
	s.mu.Unlock()
	return true
}

// fail reports a background error, once until the work succeeds again.
func (s *Store) fail(err error) {
	if msg := err.Error(); msg != s.lastErr {
		s.lastErr = msg
		s.report(err)
	} else {
		s.bgErrs.Add(1)
	}
}

func (s *Store) setNextRec() {
	if len(s.rsegs) > 0 {
		s.nextRecMax.Store(max(s.rsegs[0].maxSeq, 1))
	} else {
		s.nextRecMax.Store(0)
	}
}

// Stats is a snapshot of the store's state.
type Stats struct {
	BytesOnDisk     int64  // of segment files (header and data), meta and state files
	Segments        int    // segment files on disk, recovered ones included
	SegmentBytes    int    // data bytes of one segment
	AppendedThrough uint64 // every sequence number up to it is appended (from Committed)
	DurableThrough  uint64 // every sequence number up to it is on disk
	Persisted       uint64 // the highest sequence number the client let the store free
	Acked           uint64 // the highest sequence number the server said it holds (Recovery.Persisted)
	Syncs           uint64 // flushes made (group commits, every-publish msyncs, Sync)
	AppendWaits     uint64 // Appends that found their segment not ready and waited
	Errors          uint64 // background errors (see Options.OnError)
	Recovered       uint64 // records Open found above the persisted state
	TornBytes       int64  // bytes of the torn tail Open cut
	LostRanges      int    // ranges in Recovery.Lost
}

// Stats returns a snapshot of the store's counters; safe at any time.
func (s *Store) Stats() Stats {
	st := Stats{
		Segments:       int(s.files.Load()),
		SegmentBytes:   int(s.size),
		DurableThrough: s.durable.Load(),
		Persisted:      s.pseq.Load(),
		Acked:          s.aseq.Load(),
		Syncs:          s.syncs.Load(),
		AppendWaits:    s.waits.Load(),
		Errors:         s.bgErrs.Load(),
		Recovered:      s.sc.frames,
		TornBytes:      s.tornBytes,
		LostRanges:     len(s.rec.Lost),
	}
	st.BytesOnDisk = int64(st.Segments)*int64(segHdr+s.size) + stateSize + int64(metaFixed+len(s.name)+4)
	if c := s.cseq.Load(); c > 0 {
		st.AppendedThrough = c - 1
	}
	if st.AppendedThrough < s.rec.Last {
		st.AppendedThrough = s.rec.Last
	}
	return st
}

// Close flushes everything committed and the persisted state to disk,
// unmaps and closes the files, stops the store's goroutine and releases
// the lock. Frames not persisted stay for the next Open. After Close,
// Append and Committed do nothing and the other methods return ErrClosed
// (Close itself nil). It must not run concurrently with Append.
func (s *Store) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	err := s.syncAll()
	s.st.Store(stClosed)
	s.release()
	s.mu.Unlock()
	s.waitMu.Lock()
	s.waitCond.Broadcast()
	s.waitMu.Unlock()
	return err
}
