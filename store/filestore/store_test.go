package filestore

import (
	"testing"
)

func TestRoundTripConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	rec, g := recoverAll(t, s)
	if rec.Last != 0 || rec.Persisted != 0 || len(rec.Lost) != 0 || len(g.seqs) != 0 {
		t.Fatalf("new store recovered %+v, %d frames", rec, len(g.seqs))
	}
	st := newStream(s, 1000, 77)
	const n = 3000 // ~330 KiB of records: several 64 KiB segments, straddles
	st.run(4, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir, small())
	defer s.Close()
	rec, g = recoverAll(t, s)
	if rec.Last != 1000+n-1 || len(rec.Lost) != 0 || rec.Persisted != 0 {
		t.Fatalf("Recovery %+v", rec)
	}
	checkFrames(t, g, 1000, 1000+n-1, nil)
	if s.Stats().Recovered != n {
		t.Fatalf("Stats %+v", s.Stats())
	}
}
