package filestore

import (
	"os"
	"slices"
	"testing"
)

func TestPersistedDeletesSegments(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	defer s.Close()
	recoverAll(t, s)
	before := segFiles(t, dir)
	if len(before) != int(s.ahead) {
		t.Fatalf("Open made %d segments, want %d", len(before), s.ahead)
	}
	st := newStream(s, 1, 0)
	st.run(4, 3000) // beyond the window: segments made on demand too
	files := segFiles(t, dir)
	// Persist through the first record of segment 3: 0..2 can go.
	var seq uint64
	for seq = 1; st.recOff(0, seq+1) < 3*MinSegmentBytes; seq++ {
	}
	if err := s.Persisted(seq, st.posOf(seq+1), seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "segments 0-2 deleted", func() bool {
		fs := segFiles(t, dir)
		return len(fs) > 0 && fs[0] == segFile(3)
	})
	for _, f := range files[:3] {
		if _, err := os.Stat(dir + "/" + f); !os.IsNotExist(err) {
			t.Fatalf("%s: %v, want it deleted", f, err)
		}
	}
	// Everything persisted: only the window ahead stays.
	if err := s.Persisted(st.next-1, st.pos, st.next-1); err != nil {
		t.Fatal(err)
	}
	low := st.recOff(0, st.next) / MinSegmentBytes
	waitFor(t, "all persisted segments deleted", func() bool {
		fs := segFiles(t, dir)
		return len(fs) > 0 && fs[0] == segFile(low) && len(fs) == int(s.ahead) && s.Stats().Segments == int(s.ahead)
	})
}

func TestRecoveredSegmentsDeletedBySeq(t *testing.T) {
	dir := t.TempDir()
	st := writeStore(t, dir, 1, 3000, nil)
	s := mustOpen(t, dir, small())
	defer s.Close()
	rec, _ := recoverAll(t, s)
	if rec.Last != 3000 {
		t.Fatalf("Recovery %+v", rec)
	}
	if err := s.Begin(3001, st.pos); err != nil {
		t.Fatal(err)
	}
	// Persist a sequence in the middle of segment 2: 0 and 1 go, 2 stays.
	var seq uint64
	for seq = 1; st.recOff(0, seq) < 2*MinSegmentBytes+100; seq++ {
	}
	if err := s.Persisted(seq, 0, seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovered segments 0-1 deleted", func() bool {
		fs := segFiles(t, dir)
		return len(fs) > 0 && fs[0] == segFile(2)
	})
	if err := s.Persisted(3000, 0, 3000); err != nil {
		t.Fatal(err)
	}
	first := st.recOff(0, 3001)/MinSegmentBytes + 1 // this process's first segment
	waitFor(t, "every recovered segment deleted", func() bool {
		fs := segFiles(t, dir)
		return len(fs) > 0 && fs[0] == segFile(first)
	})
}

func TestStateSurvivesWithoutSegments(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	recoverAll(t, s)
	st := newStream(s, 5000, 0)
	st.run(1, 2000)
	if err := s.Persisted(6999, st.pos, 6999); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Every segment file gone (deleted by the store or by hand).
	for _, f := range segFiles(t, dir) {
		os.Remove(dir + "/" + f)
	}
	s = mustOpen(t, dir, small())
	defer s.Close()
	rec, g := recoverAll(t, s)
	if rec.Last != 6999 || rec.Persisted != 6999 || len(rec.Lost) != 0 || len(g.seqs) != 0 {
		t.Fatalf("Recovery %+v, %d frames", rec, len(g.seqs))
	}
}

func TestPartlyPersistedRecovery(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	st.run(3, 1000)
	if err := s.Persisted(600, st.posOf(601), 600); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, dir, small())
	defer s.Close()
	rec, g := recoverAll(t, s)
	if rec.Persisted != 600 || rec.Last != 1000 {
		t.Fatalf("Recovery %+v", rec)
	}
	checkFrames(t, g, 601, 1000, nil)
}

func TestMethodsAfterClose(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	st.run(1, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Append(11, st.pos, []byte("x"))
	s.Committed(12, st.pos+1)
	for _, err := range []error{s.Persisted(10, st.pos, 10), s.Sync(), s.Begin(20, 0)} {
		if !errorsIs(err, ErrClosed) {
			t.Fatalf("after Close: %v, want ErrClosed", err)
		}
	}
	if _, err := s.Recover(nil); !errorsIs(err, ErrClosed) {
		t.Fatal(err)
	}
	_ = s.Stats()
	if s.DurableThrough() != 10 {
		t.Fatalf("DurableThrough after Close %d, want 10", s.DurableThrough())
	}
	if !slices.Equal(segFiles(t, dir)[:1], []string{segFile(0)}) {
		t.Fatal(segFiles(t, dir))
	}
}

func TestSegmentHeaders(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	defer s.Close()
	for _, name := range segFiles(t, dir) {
		idx, _ := parseSegFile(name)
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != segHdr+MinSegmentBytes || !segHdrOK(b, idx, MinSegmentBytes) {
			t.Fatalf("%s: %d bytes, header ok %v", name, len(b), segHdrOK(b, idx, MinSegmentBytes))
		}
	}
	if st := s.Stats(); st.BytesOnDisk < int64(st.Segments)*(segHdr+MinSegmentBytes) || st.Segments != int(s.ahead) {
		t.Fatalf("Stats %+v", st)
	}
}
