package filestore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// prepare creates this process's first segments at Open: enough for the
// client's whole bound, reusing the empty files an earlier process left
// where they fit.
func (s *Store) prepare(created *[]string) error {
	size := uint64(4)
	for size < 2*s.ahead {
		size <<= 1
	}
	s.tab.Store(&table{mask: size - 1, slots: make([]atomicSegment, size)})
	reuse := map[uint64]*rseg{}
	for _, rs := range s.reuse {
		reuse[rs.idx] = rs
	}
	s.reuse = nil
	for idx := s.lowIdx; idx < s.lowIdx+s.ahead; idx++ {
		rs := reuse[idx]
		delete(reuse, idx)
		seg, err := s.createSeg(idx, rs)
		if err != nil {
			for _, rs := range reuse {
				s.deleteRseg(rs)
			}
			return err
		}
		if rs == nil {
			*created = append(*created, s.segPath(seg))
		}
		s.install(seg)
	}
	// The empty recovered files left over: each is closed and unmapped even
	// when deleting an earlier one failed, so that a failed Open keeps none.
	var delErr error
	for _, rs := range reuse {
		if err := s.deleteRseg(rs); err != nil && delErr == nil {
			delErr = err
		}
	}
	if delErr != nil {
		return delErr
	}
	if s.opt.Durability != DurabilityNone {
		if err := syncDir(s.dir); err != nil {
			return newErr("sync", s.dir, nil, err)
		}
	}
	return nil
}

// createSeg makes segment idx ready: a file (rs's, when reusing an empty
// recovered one) allocated in full, its header written, mapped read-write.
// On failure nothing it created is left.
func (s *Store) createSeg(idx uint64, rs *rseg) (*segment, error) {
	path := filepath.Join(s.dir, segFile(idx))
	full := int64(segHdr + s.size)
	var f *os.File
	if rs != nil {
		munmap(rs.m)
		rs.m, rs.data = nil, nil
		f = rs.f
		s.files.Add(-1) // counted again below
	} else {
		var err error
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil, newErr("create", path, ErrNoSpace, err)
			}
			return nil, newErr("create", path, nil, err)
		}
	}
	fail := func(op string, err error) (*segment, error) {
		f.Close()
		os.Remove(path)
		var kind error
		if errors.Is(err, syscall.ENOSPC) {
			kind = ErrNoSpace
		}
		return nil, newErr(op, path, kind, err)
	}
	if err := fallocate(int(f.Fd()), 0, full); err != nil {
		return fail("allocate", sysErr("fallocate", err))
	}
	var h [segHdrUsed]byte
	encodeSegHdr(h[:], idx, s.size)
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return fail("write", err)
	}
	m, err := mmap(f, int(full), true)
	if err != nil {
		return fail("map", err)
	}
	s.files.Add(1)
	seg := &segment{fd: int(f.Fd()), f: f, m: m, data: m[segHdr:]}
	seg.idx.Store(idx)
	seg.name.set(idx)
	return seg, nil
}

// install makes seg visible to the producers, growing the table when the
// live segments would not fit.
func (s *Store) install(seg *segment) {
	idx := seg.idx.Load()
	t := s.tab.Load()
	if idx-s.lowIdx >= uint64(len(t.slots)) {
		size := uint64(len(t.slots))
		for idx-s.lowIdx >= size {
			size <<= 1
		}
		nt := &table{mask: size - 1, slots: make([]atomicSegment, size)}
		for i := s.lowIdx; i < s.headIdx; i++ {
			nt.slots[i&nt.mask].Store(t.slots[i&t.mask].Load())
		}
		s.tab.Store(nt)
		t = nt
	}
	t.slots[idx&t.mask].Store(seg)
	s.headIdx = idx + 1
}

func (s *Store) lookup(k uint64) *segment {
	t := s.tab.Load()
	if seg := t.slots[k&t.mask].Load(); seg != nil && seg.idx.Load() == k {
		return seg
	}
	return nil
}

func (s *Store) segPath(seg *segment) string {
	return filepath.Join(s.dir, segFile(seg.idx.Load()))
}

// unhook takes own segment idx out of the table, and returns it.
func (s *Store) unhook(idx uint64) *segment {
	t := s.tab.Load()
	seg := t.slots[idx&t.mask].Load()
	if seg == nil || seg.idx.Load() != idx {
		return nil
	}
	t.slots[idx&t.mask].Store(nil)
	return seg
}

// dropSeg deletes own segment idx, all of whose records are persisted.
func (s *Store) dropSeg(idx uint64) error {
	seg := s.unhook(idx)
	if seg == nil {
		return nil
	}
	return s.deleteSeg(seg)
}

func (s *Store) deleteSeg(seg *segment) error {
	munmap(seg.m)
	seg.m, seg.data = nil, nil
	seg.f.Close()
	s.files.Add(-1)
	if err := unlinkat(s.dirfd, &seg.name); err != nil && err != unix.ENOENT {
		return newErr("delete", s.segPath(seg), nil, sysErr("unlinkat", err))
	}
	return nil
}

// recycle turns own segment from, all of whose records are persisted, into
// segment to, ready for the producers: its data zeroed (allocated, reading
// as zeros, as a new file's), renamed, its header rewritten; its file and
// mapping kept. Nothing allocates, so that a client's steady state
// allocates nothing on any goroutine. On failure the segment is deleted.
func (s *Store) recycle(from, to uint64) error {
	seg := s.unhook(from)
	if seg == nil {
		return nil
	}
	err := zeroRange(seg.fd, segHdr, int64(s.size))
	var next segName
	next.set(to)
	if err == nil {
		err = renameat(s.dirfd, &seg.name, &next)
	}
	if err == nil {
		seg.name = next
		encodeSegHdr(seg.m[:segHdrUsed], to, s.size)
		if s.opt.Durability != DurabilityNone {
			if err = unix.Fdatasync(seg.fd); err == nil {
				err = unix.Fsync(s.dirfd)
			}
		}
	}
	if err != nil {
		var kind error
		if err == unix.ENOSPC {
			kind = ErrNoSpace
		}
		e := newErr("recycle", s.segPath(seg), kind, sysErr("recycle", err))
		s.deleteSeg(seg)
		return e
	}
	seg.idx.Store(to)
	s.install(seg)
	return nil
}

// release unmaps and closes everything (Open's failure path and Close).
func (s *Store) release() {
	if s.dirfd >= 0 {
		unix.Close(s.dirfd)
		s.dirfd = -1
	}
	if t := s.tab.Load(); t != nil {
		for i := range t.slots {
			if seg := t.slots[i].Load(); seg != nil {
				t.slots[i].Store(nil)
				munmap(seg.m)
				seg.f.Close()
			}
		}
	}
	for _, rs := range append(s.rsegs, s.reuse...) {
		if rs != nil && rs.f != nil {
			munmap(rs.m)
			rs.m, rs.data = nil, nil
			rs.f.Close()
		}
	}
	s.rsegs, s.reuse = nil, nil
	if s.stateF != nil {
		s.stateF.Close()
	}
	if s.lockF != nil {
		s.lockF.Close() // releases the flock
	}
}
