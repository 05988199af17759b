package filestore

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastpub/fastpub/store"
)

// small are the options of most tests: the smallest limits, 64 KiB
// segments.
func small() Options {
	return Options{Limits: store.Limits{Bytes: store.MinBytes, Messages: store.MinMessages}, SegmentBytes: MinSegmentBytes}
}

func mustOpen(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, "pub-1", o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// makeFrame builds a wire-like frame for seq: a 4-byte big-endian length
// prefix, then a body whose bytes depend on seq.
func makeFrame(seq uint64, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(size-4))
	for i := 4; i < size; i++ {
		b[i] = byte(seq*31 + uint64(i)*7 + 1)
	}
	return b
}

func frameSize(seq uint64) int { return 8 + int(seq*37%200) }

// stream is what a client does: claims (seq, pos) under one atomic word,
// appends concurrently, commits in order.
type stream struct {
	s          *Store
	seq0, pos0 uint64
	mu         sync.Mutex
	next, pos  uint64
	sizes      map[uint64]int
}

func newStream(s *Store, seq0, pos0 uint64) *stream {
	if err := s.Begin(seq0, pos0); err != nil {
		panic(err)
	}
	return &stream{s: s, seq0: seq0, pos0: pos0, next: seq0, pos: pos0, sizes: map[uint64]int{}}
}

// claim gives the next frame its sequence number, position and size.
func (st *stream) claim() (seq, pos uint64, size int) {
	st.mu.Lock()
	seq, pos, size = st.next, st.pos, frameSize(st.next)
	st.next++
	st.pos += uint64(size)
	st.sizes[seq] = size
	st.mu.Unlock()
	return
}

// run appends n frames from g goroutines, out of order, then commits.
func (st *stream) run(g, n int) {
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(n))
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				seq, pos, size := st.claim()
				st.s.Append(seq, pos, makeFrame(seq, size))
			}
		}()
	}
	wg.Wait()
	st.s.Committed(st.next, st.pos)
}

// posOf returns the stream position of frame seq.
func (st *stream) posOf(seq uint64) uint64 {
	p := st.pos0
	for q := st.seq0; q < seq; q++ {
		p += uint64(st.sizes[q])
	}
	return p
}

type got struct {
	seqs   []uint64
	frames map[uint64][]byte
}

func recoverAll(t testing.TB, s *Store) (store.Recovery, got) {
	t.Helper()
	g := got{frames: map[uint64][]byte{}}
	rec, err := s.Recover(func(seq uint64, f []byte) error {
		g.seqs = append(g.seqs, seq)
		g.frames[seq] = append([]byte(nil), f...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sort.SliceIsSorted(g.seqs, func(i, j int) bool { return g.seqs[i] < g.seqs[j] }) {
		t.Fatalf("Recover out of order: %v", g.seqs)
	}
	return rec, g
}

// checkFrames checks that g holds exactly the frames of seqs [from, to]
// except those in skip, byte for byte.
func checkFrames(t testing.TB, g got, from, to uint64, skip map[uint64]bool) {
	t.Helper()
	want := 0
	for seq := from; seq <= to; seq++ {
		if skip[seq] {
			if _, ok := g.frames[seq]; ok {
				t.Fatalf("seq %d recovered, want it dropped", seq)
			}
			continue
		}
		want++
		f, ok := g.frames[seq]
		if !ok {
			t.Fatalf("seq %d not recovered (got %d frames)", seq, len(g.seqs))
		}
		if w := makeFrame(seq, frameSize(seq)); string(f) != string(w) {
			t.Fatalf("seq %d: frame differs", seq)
		}
	}
	if len(g.seqs) != want {
		t.Fatalf("recovered %d frames, want %d", len(g.seqs), want)
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), segPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func segPath(dir string, idx uint64) string { return filepath.Join(dir, segFile(idx)) }

// waitFor polls cond for up to 3 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recOff is the logical offset of frame seq's record in a store whose
// stream began at l0 (0 for a new store).
func (st *stream) recOff(l0, seq uint64) uint64 {
	return l0 + st.posOf(seq) - st.pos0 + recHdr*(seq-st.seq0)
}

// fileAt returns the segment file and the file offset of logical offset o.
func fileAt(dir string, o uint64, segBytes uint64) (string, int64) {
	return segPath(dir, o/segBytes), int64(segHdr + o%segBytes)
}

// patch overwrites the bytes at logical offset o with b.
func patch(t testing.TB, dir string, o uint64, b []byte) {
	t.Helper()
	for len(b) > 0 {
		path, off := fileAt(dir, o, MinSegmentBytes)
		n := min(uint64(len(b)), MinSegmentBytes-o%MinSegmentBytes)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(b[:n], off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		b, o = b[n:], o+n
	}
}

// writeStore writes frames [seq0, seq0+n) into a new store in dir (from 4
// goroutines) and closes it; skip lists frames claimed and never appended.
func writeStore(t testing.TB, dir string, seq0 uint64, n int, skip map[uint64]bool) *stream {
	t.Helper()
	s := mustOpen(t, dir, small())
	recoverAll(t, s)
	st := newStream(s, seq0, 0)
	for range n {
		seq, pos, size := st.claim()
		if !skip[seq] {
			s.Append(seq, pos, makeFrame(seq, size))
		}
	}
	s.Committed(st.next, st.pos)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

// writeBothStateSlots overwrites both slots of dir's state file with st.
func writeBothStateSlots(t testing.TB, dir string, st persistState) {
	t.Helper()
	var b [stateUsed]byte
	encodeState(b[:], st)
	f, err := os.OpenFile(filepath.Join(dir, stateName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, stateSlot} {
		if _, err := f.WriteAt(b[:], off); err != nil {
			t.Fatal(err)
		}
	}
}
