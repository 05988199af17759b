package ring

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// newRing builds a ring for a test, starting at stream position pos and
// frame count seq.
func newRing(t testing.TB, cfg Config, pos, seq uint64) *Ring {
	t.Helper()
	r, err := newAt(cfg, pos, seq)
	if err != nil {
		t.Fatalf("newAt(%+v): %v", cfg, err)
	}
	return r
}

// pattern is the byte expected at offset i of frame seq in the simple tests.
func pattern(seq uint64, i int) byte { return byte(seq*7 + uint64(i)*13 + 1) }

func fillPattern(b []byte, seq uint64) {
	for i := range b {
		b[i] = pattern(seq, i)
	}
}

// waitFor polls cond until it holds or the timeout passes; it reports
// whether cond held. Bounded in time and in iterations.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for i := 0; i < 50_000_000; i++ {
		if cond() {
			return true
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(50 * time.Microsecond)
		} else {
			runtime.Gosched()
		}
	}
	return cond()
}

// Stress frame layout: [len u32][seq u64][end u64][pid u8][cnt u32][fill...].
const frameHdr = 4 + 8 + 8 + 1 + 4

func fillFill(i int, seq uint64) byte { return byte(uint64(i)*31 + seq) }

// fillRows()[s] holds fillFill(i, s) for every i below fillTableLen, so that
// frames are filled and checked with copy and bytes.Equal (cheap under
// -race). Frames in the tests are at most fillTableLen bytes.
const fillTableLen = 16 << 10

var fillRows = sync.OnceValue(func() [][]byte {
	t := make([][]byte, 256)
	for s := range t {
		t[s] = make([]byte, fillTableLen)
		for i := range t[s] {
			t[s][i] = fillFill(i, uint64(s))
		}
	}
	return t
})

// encodeFrame writes a stress frame into b (len(b) >= frameHdr).
func encodeFrame(b []byte, c *Claim, pid uint8, cnt uint32) {
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	binary.LittleEndian.PutUint64(b[4:], c.Seq)
	binary.LittleEndian.PutUint64(b[12:], c.End)
	b[20] = pid
	binary.LittleEndian.PutUint32(b[21:], cnt)
	copy(b[frameHdr:], fillRows()[byte(c.Seq)][frameHdr:len(b)])
}

// streamChecker parses the stream of stress frames and checks it: every
// frame exactly once, per producer in order, Seq gapless, End consistent,
// bytes intact.
type streamChecker struct {
	buf     []byte // unparsed stream bytes
	pos     uint64 // stream position of buf[0]
	nextSeq uint64
	next    []uint32 // next counter per producer
	frames  int
}

func newStreamChecker(producers int, pos, seq uint64) *streamChecker {
	return &streamChecker{pos: pos, nextSeq: seq, next: make([]uint32, producers)}
}

// feed appends stream bytes and parses complete frames.
func (s *streamChecker) feed(p []byte) error {
	s.buf = append(s.buf, p...)
	for len(s.buf) >= 4 {
		n := int(binary.LittleEndian.Uint32(s.buf))
		if n < frameHdr {
			return fmt.Errorf("frame at %d: bad length %d", s.pos, n)
		}
		if len(s.buf) < n {
			break
		}
		f := s.buf[:n]
		seq := binary.LittleEndian.Uint64(f[4:])
		end := binary.LittleEndian.Uint64(f[12:])
		pid := int(f[20])
		cnt := binary.LittleEndian.Uint32(f[21:])
		switch {
		case seq != s.nextSeq:
			return fmt.Errorf("frame at %d: seq %d, want %d", s.pos, seq, s.nextSeq)
		case end != s.pos+uint64(n):
			return fmt.Errorf("frame seq %d: End %d, want %d", seq, end, s.pos+uint64(n))
		case pid >= len(s.next):
			return fmt.Errorf("frame seq %d: producer %d out of range", seq, pid)
		case cnt != s.next[pid]:
			return fmt.Errorf("frame seq %d: producer %d counter %d, want %d", seq, pid, cnt, s.next[pid])
		}
		if !bytes.Equal(f[frameHdr:], fillRows()[byte(seq)][frameHdr:n]) {
			for i := frameHdr; i < n; i++ {
				if f[i] != fillFill(i, seq) {
					return fmt.Errorf("frame seq %d: byte %d is %#x, want %#x", seq, i, f[i], fillFill(i, seq))
				}
			}
		}
		s.next[pid]++
		s.nextSeq++
		s.frames++
		s.pos += uint64(n)
		s.buf = s.buf[n:]
	}
	if len(s.buf) == 0 {
		s.buf = s.buf[:0:0] // let the backing array go
	}
	return nil
}
