package filestore

import (
	"bytes"
	"hash/crc32"
	"math"
	"os"

	"github.com/fastpub/fastpub/store"
)

// rseg is a segment file found at Open: mapped read-only, verified, and
// kept until the server persists the highest sequence number in it.
type rseg struct {
	idx     uint64
	path    string
	f       *os.File
	m       []byte // the whole mapping (nil for a file too short to map)
	data    []byte // m[segHdr:]: logical [idx·S, (idx+1)·S)
	maxSeq  uint64 // the highest seq of a record overlapping it
	nonzero bool   // it holds a record or non-zero bytes
	full    bool   // the file has its whole size and a valid header
	ext     []extent
}

// extent is a range of a segment's data, relative to its start, that may
// hold bytes other than zeros; the rest is holes (SEEK_DATA), read as
// zeros without being read.
type extent struct{ a, b uint64 }

// run is a stretch of segment files with consecutive indices: logical
// bytes read across its files as one.
type run struct {
	first uint64
	segs  []*rseg
}

// span is a chain of valid records back to back with consecutive
// sequence numbers: Recover walks it by re-reading the lengths.
type span struct {
	r          *run
	start, end uint64 // logical offsets
	first      uint64 // seq of the first record
	last       uint64 // seq of the last record
}

// scanner verifies a store's segments.
type scanner struct {
	shift     uint
	size      uint64 // segment data bytes, 1<<shift
	persisted uint64 // from the state file: records at or below are skipped
	stateLast uint64 // from the state file: the highest seq known used

	runs   []*run
	spans  []span
	lost   []store.Range
	frames uint64 // records above persisted

	valid   bool   // any valid record found
	prevSeq uint64 // seq of the last valid record
	lastEnd uint64 // logical end of the last valid record
	lastRun *run
	garbage bool  // non-zero bytes since the last valid record
	gbytes  int64 // how many (to the last non-zero byte of each region)
	torn    int64 // garbage after the last valid record: the torn tail
	maxSeq  uint64

	crcBytes uint64 // bytes validAt checked (the record CRCs of candidates)
}

func (r *run) start(shift uint) uint64 { return r.first << shift }
func (r *run) end(shift uint) uint64   { return (r.first + uint64(len(r.segs))) << shift }

// piece returns the bytes of logical [o, o+n) that lie in o's segment.
func (sc *scanner) piece(r *run, o, n uint64) []byte {
	s := r.segs[(o>>sc.shift)-r.first]
	off := o & (sc.size - 1)
	if off+n > sc.size {
		n = sc.size - off
	}
	return s.data[off : off+n]
}

// read copies logical [o, o+len(dst)) into dst.
func (sc *scanner) read(r *run, o uint64, dst []byte) {
	for len(dst) > 0 {
		p := sc.piece(r, o, uint64(len(dst)))
		copy(dst, p)
		dst = dst[len(p):]
		o += uint64(len(p))
	}
}

func (sc *scanner) crc(r *run, crc uint32, o, n uint64) uint32 {
	for n > 0 {
		p := sc.piece(r, o, n)
		crc = crc32.Update(crc, castagoli, p)
		o += uint64(len(p))
		n -= uint64(len(p))
	}
	return crc
}

// validAt reports whether a valid record starts at o, ending by end, with
// a seq above after.
func (sc *scanner) validAt(r *run, o, end, after uint64) (seq uint64, n uint32, ok bool) {
	if o+recHdr > end {
		return 0, 0, false
	}
	var h [recHdr]byte
	if p := sc.piece(r, o, recHdr); len(p) == recHdr {
		copy(h[:], p)
	} else {
		sc.read(r, o, h[:])
	}
	if le.Uint32(h[0:]) != recMagic {
		return 0, 0, false
	}
	n = le.Uint32(h[16:])
	seq = le.Uint64(h[8:])
	if n > maxRecord || o+recHdr+uint64(n) > end || seq == 0 || seq == math.MaxUint64 || seq <= after {
		return 0, 0, false
	}
	sc.crcBytes += uint64(n)
	if sc.crc(r, recCRC(o, seq, n), o+recHdr, uint64(n)) != le.Uint32(h[4:]) {
		return 0, 0, false
	}
	return seq, n, true
}

// dataSpan returns the first stretch [a, b) at or after o, within one
// segment and before end, that is not a hole; a == end if none.
func (sc *scanner) dataSpan(r *run, o, end uint64) (a, b uint64) {
	for o < end {
		k := o >> sc.shift
		base := k << sc.shift
		for _, e := range r.segs[k-r.first].ext {
			if o-base < e.b {
				a, b = max(o, base+e.a), min(base+e.b, end)
				if a < b {
					return a, b
				}
			}
		}
		o = base + sc.size
	}
	return end, end
}

// nextMagic returns the first offset in [from, end) where the record magic
// starts, or end.
func (sc *scanner) nextMagic(r *run, from, end uint64) uint64 {
	for from+4 <= end {
		a, b := sc.dataSpan(r, from, end)
		if a >= end {
			break
		}
		if i := bytes.Index(sc.piece(r, a, b-a), recMagicB[:]); i >= 0 {
			return a + uint64(i)
		}
		// The magic may straddle into the next segment.
		for q := max(a, b-min(b, 3)); q < b && q+4 <= end; q++ {
			var m [4]byte
			sc.read(r, q, m[:])
			if m == recMagicB {
				return q
			}
		}
		from = b
	}
	return end
}

var zeros [4096]byte

// region examines the invalid bytes [a, b): it marks the segments holding
// non-zero bytes, and returns whether any were and how far the last one
// reaches past a.
func (sc *scanner) region(r *run, a, b uint64) (nonzero bool, reach int64) {
	for o := a; o < b; {
		x, y := sc.dataSpan(r, o, b)
		if x >= b {
			break
		}
		if last := lastNonZero(sc.piece(r, x, y-x)); last >= 0 {
			r.segs[(x>>sc.shift)-r.first].nonzero = true
			nonzero = true
			reach = int64(x-a) + int64(last) + 1
		}
		o = y
	}
	return nonzero, reach
}

// lastNonZero returns the index of p's last non-zero byte, or -1.
func lastNonZero(p []byte) int {
	for end := len(p); end > 0; {
		start := max(end-len(zeros), 0)
		c := p[start:end]
		if !bytes.Equal(c, zeros[:len(c)]) {
			for i := len(c) - 1; ; i-- {
				if c[i] != 0 {
					return start + i
				}
			}
		}
		end = start
	}
	return -1
}

func (sc *scanner) addLost(from, to uint64) {
	from = max(from, sc.persisted+1)
	if from > to {
		return
	}
	if n := len(sc.lost); n > 0 && sc.lost[n-1].To+1 >= from {
		sc.lost[n-1].To = max(sc.lost[n-1].To, to)
		return
	}
	sc.lost = append(sc.lost, store.Range{From: from, To: to})
}

// scan verifies every run, in order.
func (sc *scanner) scan() {
	// Whether a loss before the first valid record can be bounded: by the
	// persisted state, or by a valid record.
	known := sc.persisted > 0
	var prevRunEnd, total uint64
	for _, r := range sc.runs {
		total += r.end(sc.shift) - r.start(sc.shift)
	}
	budget := scanBudget(total)
	for ri, r := range sc.runs {
		start, end := r.start(sc.shift), r.end(sc.shift)
		if ri > 0 && start > prevRunEnd && sc.valid {
			// Missing segment files between two runs: unknown bytes.
			sc.garbage = true
		}
		prevRunEnd = end
		for o := start; o < end; {
			if seq, n, ok := sc.validAt(r, o, end, sc.prevSeq); ok {
				if from := max(sc.prevSeq, sc.persisted) + 1; sc.garbage && known && seq > from {
					sc.addLost(from, seq-1)
				}
				sc.accept(r, o, seq, n)
				known = true
				o += recHdr + uint64(n)
				continue
			}
			p := sc.nextMagic(r, o+1, end)
			for p < end {
				if sc.crcBytes > budget {
					p = end // see scanBudget
					break
				}
				if _, _, ok := sc.validAt(r, p, end, sc.prevSeq); ok {
					break
				}
				p = sc.nextMagic(r, p+1, end)
			}
			if nz, reach := sc.region(r, o, p); nz {
				sc.garbage = true
				sc.gbytes += reach
			}
			o = p
		}
	}
	if sc.garbage {
		sc.torn = sc.gbytes
		// The tail held records the earlier process had committed (the
		// state's last), and the damaged record right after the last valid
		// one still names its sequence number when its header survived.
		lost := sc.stateLast
		if r := sc.lastRun; sc.valid && r != nil && sc.lastEnd+recHdr <= r.end(sc.shift) {
			var h [recHdr]byte
			sc.read(r, sc.lastEnd, h[:])
			if le.Uint32(h[0:]) == recMagic && le.Uint64(h[8:]) == sc.prevSeq+1 {
				lost = max(lost, sc.prevSeq+1)
			}
		}
		if known && lost > sc.prevSeq {
			sc.addLost(sc.prevSeq+1, lost)
		}
	}
}

func (sc *scanner) accept(r *run, o, seq uint64, n uint32) {
	end := o + recHdr + uint64(n)
	for k := o >> sc.shift; k <= (end-1)>>sc.shift; k++ {
		s := r.segs[k-r.first]
		s.nonzero = true
		s.maxSeq = max(s.maxSeq, seq)
	}
	if seq > sc.persisted {
		sc.frames++
		if i := len(sc.spans) - 1; i >= 0 && sc.spans[i].r == r && sc.spans[i].end == o && sc.spans[i].last+1 == seq {
			sc.spans[i].end, sc.spans[i].last = end, seq
		} else {
			sc.spans = append(sc.spans, span{r: r, start: o, end: end, first: seq, last: seq})
		}
	}
	sc.valid, sc.prevSeq, sc.lastEnd, sc.lastRun = true, seq, end, r
	sc.maxSeq = max(sc.maxSeq, seq)
	sc.garbage, sc.gbytes = false, 0
}

// walk calls fn for every record of the spans, in seq order, skipping
// those at or below skip(). frame is the stored bytes (copied into a
// scratch buffer only where a record straddles two files).
func (sc *scanner) walk(skip func() uint64, fn func(seq uint64, frame []byte) error) error {
	var scratch []byte
	for _, sp := range sc.spans {
		o := sp.start
		for seq := sp.first; seq <= sp.last; seq++ {
			var h [recHdr]byte
			sc.read(sp.r, o, h[:])
			n := uint64(le.Uint32(h[16:]))
			if seq > skip() {
				var f []byte
				if n > 0 {
					f = sc.piece(sp.r, o+recHdr, n)
				}
				if uint64(len(f)) < n {
					if uint64(cap(scratch)) < n {
						scratch = make([]byte, n)
					}
					f = scratch[:n]
					sc.read(sp.r, o+recHdr, f)
				}
				if err := fn(seq, f); err != nil {
					return err
				}
			}
			o += recHdr + n
		}
	}
	return nil
}

// scanBudget is the most record bytes the scan of runs of n bytes in all
// CRCs (64 MiB + 8n, and the candidate that crosses it): a few tenths of a second at most. Walking valid
// records costs n once; only a damaged stretch costs more, a CRC for each
// record magic in it whose length fits, and random damage holds almost
// none (a 4-byte magic), while a crafted one can hold one every 20 bytes,
// each checked to the run's end: quadratic, minutes for one 16 MiB
// segment. Past the budget the rest of a damaged stretch is taken as
// garbage: records it may hide count as a torn tail's (lost, and reported
// as far as the state or a later record knows their sequence numbers), and
// the scan goes on from the next run.
func scanBudget(n uint64) uint64 { return 64<<20 + 8*n }
