package filestore

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fastpub/fastpub/store"
	"golang.org/x/sys/unix"
)

const (
	stNew    = iota // opened, Begin not yet called
	stOpen          // Begin called: Append records
	stClosed        // closed
)

// idleTick is how often the background goroutine looks for work nobody
// woke it for: the persisted state to write, a failed segment to retry.
const idleTick = 100 * time.Millisecond

// segment is a segment file of this process, mapped read-write and
// allocated in full.
type segment struct {
	idx  atomic.Uint64 // changes when the segment is recycled
	fd   int
	f    *os.File
	name segName // its file name, NUL-terminated, for the raw system calls
	m    []byte  // the mapping: header and data
	data []byte  // m[segHdr:]
}

// segName is a segment's file name and a NUL.
type segName [len(segPrefix) + 16 + 1]byte

func (n *segName) set(idx uint64) {
	copy(n[:], segPrefix)
	for i := len(segPrefix) + 15; i >= len(segPrefix); i-- {
		n[i] = "0123456789abcdef"[idx&15]
		idx >>= 4
	}
	n[len(n)-1] = 0
}

// table maps a segment index to its segment for the producers: slot
// idx&mask holds the segment of idx when it is ready.
type atomicSegment = atomic.Pointer[segment]

type table struct {
	mask  uint64
	slots []atomicSegment
}

// Store is a crash-safe file-backed publish store (a store.Store). See the
// package documentation.
type Store struct {
	dir, name string
	opt       Options
	size      uint64 // segment data bytes
	shift     uint
	mask      uint64 // size-1
	ahead     uint64
	l0        uint64 // logical offset of this process's first record

	// Fixed by Begin, before any Append.
	seq0, pos0 uint64

	st      atomic.Uint32
	closing atomic.Bool
	tab     atomic.Pointer[table]

	// Written by Committed (coff before cseq) and Persisted.
	cseq, coff atomic.Uint64
	kickOff    atomic.Uint64
	armed      atomic.Bool
	pseq, plow atomic.Uint64
	aseq       atomic.Uint64 // Persisted's acked
	need       atomic.Uint64 // 1 + the highest segment a producer waits for
	entered    atomic.Uint64 // the highest segment a producer has entered
	nextRecMax atomic.Uint64 // maxSeq of the first recovered segment, 0 if none

	durable, syncs, waits, bgErrs atomic.Uint64
	files                         atomic.Int64 // segment files on disk

	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	waitMu   sync.Mutex
	waitCond *sync.Cond

	mu        sync.Mutex // background work, Sync, Recover, Begin, Close
	lockF     *os.File
	dirfd     int // the directory, for fsync and the *at system calls; -1 if none
	stateF    *os.File
	sc        *scanner
	rec       store.Recovery
	hasLost   bool    // the lost file exists (Begin removes it)
	rsegs     []*rseg // recovered segments not yet deleted, in index order
	rsynced   bool    // the recovered segments were flushed
	lowIdx    uint64  // own segments live in [lowIdx, headIdx)
	headIdx   uint64
	synced    uint64 // logical offset flushed through
	dirtyAt   time.Time
	state     persistState // as last written
	stateBuf  [stateUsed]byte
	stateAt   time.Time
	slot      int
	lastErr   string
	bgErr     error
	tornBytes int64
	reuse     []*rseg // empty recovered files where this process starts

	// The loop goroutine's own: the group commit in progress, the next
	// chunk to prefault.
	job          syncJob
	pfIdx, pfOff uint64
	noPrefault   bool // prefault unsupported
}

var _ store.Store = (*Store)(nil)

// Open opens the store in dir for the client name, creating dir and the
// store if needed, and verifies everything an earlier process left:
// every record's checksum, a torn tail cut, damaged records named
// (Recover returns the result). It then reserves (fallocate) the
// segments the client's whole bound needs, 2·Limits.Bytes plus 20 bytes
// per message plus two segments, so that an Append never waits for space
// nor faults on a full disk; no room returns an error matching ErrNoSpace,
// and leaves no file behind. A store open elsewhere returns ErrLocked, one
// of another name ErrForeign, of another format version ErrVersion, a
// directory that is not a store ErrFormat, bad options ErrInvalidOptions.
func Open(dir, name string, o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if name == "" || len(name) > maxName {
		return nil, invalid("name must be 1 to %d bytes, got %d", maxName, len(name))
	}
	s := &Store{dirfd: -1, dir: dir, name: name, opt: o, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.waitCond = sync.NewCond(&s.waitMu)
	var created []string // files this Open created, removed if it fails
	dirCreated := false
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, newErr("open", dir, nil, err)
		}
		dirCreated = true
	}
	fail := func(err error) (*Store, error) {
		s.release()
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i])
		}
		if dirCreated {
			os.Remove(dir)
		}
		return nil, err
	}

	// The lock.
	lockPath := filepath.Join(dir, lockName)
	_, statErr := os.Stat(lockPath)
	lockNew := errors.Is(statErr, fs.ErrNotExist)
	if s.lockF, err = os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return fail(newErr("open", lockPath, nil, err))
	}
	if err := flock(s.lockF); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			dirCreated = false // the holder's, not ours
			return fail(newErr("lock", lockPath, ErrLocked, nil))
		}
		return fail(newErr("lock", lockPath, nil, sysErr("flock", err)))
	}
	// The file locked must still be the one at the path: a failing Open
	// that held it may have unlinked it meanwhile.
	if fi, err := s.lockF.Stat(); err == nil {
		if pi, err := os.Stat(lockPath); err != nil || !os.SameFile(fi, pi) {
			dirCreated = false
			return fail(newErr("lock", lockPath, ErrLocked, errors.New("lock file replaced")))
		}
	}
	if lockNew {
		created = append(created, lockPath)
	}

	if s.dirfd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		s.dirfd = -1
		return fail(newErr("open", dir, nil, sysErr("open", err)))
	}

	// The meta file.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fail(newErr("open", dir, nil, err))
	}
	var segIdx []uint64
	hasState := false
	for _, e := range entries {
		if idx, ok := parseSegFile(e.Name()); ok {
			segIdx = append(segIdx, idx)
		}
		hasState = hasState || e.Name() == stateName
	}
	sort.Slice(segIdx, func(i, j int) bool { return segIdx[i] < segIdx[j] })
	metaPath := filepath.Join(dir, metaName)
	segBytes := uint64(o.SegmentBytes)
	if b, err := os.ReadFile(metaPath); errors.Is(err, fs.ErrNotExist) {
		if len(segIdx) > 0 || hasState {
			return fail(newErr("open", metaPath, ErrFormat, errors.New("segments without a meta file")))
		}
		if err := writeMeta(dir, metaPath, encodeMeta(name, segBytes)); err != nil {
			return fail(err)
		}
		created = append(created, metaPath)
	} else if err != nil {
		return fail(newErr("open", metaPath, nil, err))
	} else {
		got, sb, v, err := decodeMeta(b)
		switch {
		case err == errVersion:
			return fail(newErr("open", metaPath, ErrVersion, errors.New("format version "+itoa(uint64(v))+", this package reads "+itoa(Version))))
		case err != nil:
			return fail(newErr("open", metaPath, ErrFormat, err))
		case got != name:
			return fail(newErr("open", metaPath, ErrForeign, errors.New("the store is client "+quote(got)+"'s, not "+quote(name)+"'s")))
		}
		segBytes = sb
	}
	s.size, s.mask = segBytes, segBytes-1
	for 1<<s.shift != segBytes {
		s.shift++
	}
	s.ahead = ahead(o.Limits, segBytes)
	if n := len(segIdx); n > 0 && segIdx[n-1] >= math.MaxUint64>>s.shift-2*s.ahead {
		return fail(newErr("open", filepath.Join(dir, segFile(segIdx[n-1])), ErrFormat, errors.New("segment index out of range")))
	}

	// The persisted state.
	statePath := filepath.Join(dir, stateName)
	if !hasState {
		created = append(created, statePath)
	}
	if s.stateF, err = os.OpenFile(statePath, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return fail(newErr("open", statePath, nil, err))
	}
	sb := make([]byte, stateSize)
	n, _ := s.stateF.ReadAt(sb, 0)
	st, _ := bestState(sb[:n])
	s.state = st
	s.pseq.Store(st.persisted)
	s.aseq.Store(st.acked)
	// The next write goes to the slot that does not hold the newest state,
	// so that a torn write leaves it intact. The file is as long as the
	// slots written so far (40 or 552 bytes; 32 or 544 in the first layout), never stateSize: decodeState
	// checks the length it is given.
	s.slot = 0
	if s0, ok := decodeState(sb[:n]); ok && s0.gen == st.gen {
		s.slot = 1
	}

	// Losses an earlier Open found and no Begin has followed: they are
	// reported again (see recoverSegments).
	var pending []store.Range
	lostPath := filepath.Join(dir, lostName)
	if b, err := os.ReadFile(lostPath); err == nil {
		if pending, err = decodeLost(b); err != nil {
			return fail(newErr("open", lostPath, ErrFormat, err))
		}
		s.hasLost = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(newErr("open", lostPath, nil, err))
	}

	// Verify the segments.
	if err := s.recoverSegments(segIdx, st, pending); err != nil {
		return fail(err)
	}

	// Reserve this process's segments.
	if err := s.prepare(&created); err != nil {
		return fail(err)
	}
	go s.loop()
	return s, nil
}

func quote(s string) string { return "\"" + s + "\"" }

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// writeMeta writes the meta file atomically: a temporary file, fsync,
// rename, fsync of the directory.
func writeMeta(dir, path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return newErr("create", tmp, nil, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = sysErr("fsync", f.Sync())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		if errors.Is(err, syscall.ENOSPC) {
			return newErr("create", path, ErrNoSpace, err)
		}
		return newErr("create", path, nil, err)
	}
	return nil
}

// recoverSegments maps and verifies the segment files, cuts a torn tail,
// and deletes the files no record needs.
func (s *Store) recoverSegments(idxs []uint64, st persistState, pending []store.Range) error {
	sc := &scanner{shift: s.shift, size: s.size, persisted: st.persisted, stateLast: st.last}
	s.sc = sc
	full := int64(segHdr + s.size)
	var all []*rseg
	for _, idx := range idxs {
		path := filepath.Join(s.dir, segFile(idx))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return newErr("open", path, nil, err)
		}
		rs := &rseg{idx: idx, path: path, f: f}
		all = append(all, rs)
		s.rsegs = all
		fi, err := f.Stat()
		if err != nil {
			return newErr("stat", path, nil, err)
		}
		if fi.Size() < full {
			// A short file reads as zeros to its full size (a hole; never
			// written through the read-only mapping).
			if err := f.Truncate(full); err != nil {
				return newErr("truncate", path, nil, err)
			}
		}
		if rs.m, err = mmap(f, int(full), false); err != nil {
			return newErr("map", path, nil, err)
		}
		rs.data = rs.m[segHdr:]
		rs.ext = dataExtents(f, segHdr, full)
		rs.full = fi.Size() >= full && segHdrOK(rs.m, idx, s.size)
		if n := len(sc.runs); n > 0 && sc.runs[n-1].first+uint64(len(sc.runs[n-1].segs)) == idx {
			sc.runs[n-1].segs = append(sc.runs[n-1].segs, rs)
		} else {
			sc.runs = append(sc.runs, &run{first: idx, segs: []*rseg{rs}})
		}
	}
	s.files.Store(int64(len(all)))
	sc.scan()
	s.tornBytes = sc.torn
	s.rec = store.Recovery{Last: max(st.last, st.persisted, sc.maxSeq), Persisted: st.acked, Lost: sc.lost}
	// The damage is about to go (the torn tail cut, damaged segments
	// deleted): what it cost is kept in the lost file until a Begin says
	// the client has had it from Recover. An Open that fails later, or a
	// process that ends before its logon, would otherwise leave the next
	// Open nothing to report.
	if len(pending) > 0 || len(sc.lost) > 0 {
		var lost []store.Range
		for _, r := range mergeRanges(pending, sc.lost) {
			if r.To > st.persisted {
				lost = append(lost, store.Range{From: max(r.From, st.persisted+1), To: r.To})
			}
		}
		s.rec.Lost = lost
		if !slices.Equal(lost, pending) {
			if err := writeMeta(s.dir, filepath.Join(s.dir, lostName), encodeLost(lost)); err != nil {
				return err
			}
			s.hasLost = true
		}
	}

	// What to keep: every segment up to the one holding the end of the
	// last valid record. This process starts in the next one.
	keep := -1
	switch {
	case sc.valid:
		ke := (sc.lastEnd - 1) >> s.shift
		for i, rs := range all {
			if rs.idx <= ke {
				keep = i
			}
		}
		s.lowIdx = ke + 1
		// Cut the torn tail: zeros from the end of the last record to the
		// end of its segment, so that it is never read again.
		if off := sc.lastEnd & s.mask; sc.torn > 0 && off != 0 {
			rs := all[keep]
			if lastNonZero(rs.data[off:]) >= 0 {
				if _, err := rs.f.WriteAt(make([]byte, s.size-off), int64(segHdr+off)); err != nil {
					return newErr("cut torn tail", rs.path, nil, err)
				}
				if s.opt.Durability != DurabilityNone {
					if err := fdatasync(rs.f); err != nil {
						return newErr("cut torn tail", rs.path, nil, err)
					}
				}
			}
		}
	case len(all) > 0:
		s.lowIdx = all[0].idx
	}
	s.l0 = s.lowIdx << s.shift
	s.headIdx = s.lowIdx

	// A kept segment without records of its own is freed with the ones
	// before it.
	var running uint64
	var kept []*rseg
	var reuse []*rseg
	for i, rs := range all {
		if i <= keep {
			running = max(running, rs.maxSeq)
			rs.maxSeq = running
			kept = append(kept, rs)
			continue
		}
		if rs.full && !rs.nonzero && rs.idx < s.lowIdx+s.ahead {
			reuse = append(reuse, rs) // an empty segment where this process starts
			continue
		}
		if err := s.deleteRseg(rs); err != nil {
			return err
		}
	}
	s.rsegs = kept
	s.reuse = reuse
	if err := s.deleteRecovered(st.persisted); err != nil {
		return err
	}
	if s.opt.Durability != DurabilityNone {
		if err := s.syncRecovered(); err != nil {
			return err
		}
		s.durable.Store(s.rec.Last)
	}
	s.reuse = reuse
	s.setNextRec()
	return nil
}

func (s *Store) deleteRseg(rs *rseg) error {
	munmap(rs.m)
	rs.m, rs.data = nil, nil
	rs.f.Close()
	if err := os.Remove(rs.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return newErr("delete", rs.path, nil, err)
	}
	s.files.Add(-1)
	return nil
}

// deleteRecovered deletes, in order, the recovered segments whose records
// are all persisted.
func (s *Store) deleteRecovered(persisted uint64) error {
	for len(s.rsegs) > 0 && s.rsegs[0].maxSeq <= persisted {
		if err := s.deleteRseg(s.rsegs[0]); err != nil {
			return err
		}
		s.rsegs[0] = nil
		s.rsegs = s.rsegs[1:]
	}
	return nil
}

func (s *Store) syncRecovered() error {
	if s.rsynced {
		return nil
	}
	for _, rs := range s.rsegs {
		if err := fdatasync(rs.f); err != nil {
			return newErr("sync", rs.path, nil, err)
		}
	}
	s.rsynced = true
	return nil
}
