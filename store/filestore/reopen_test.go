package filestore

import (
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// stateSlots decodes both slots of dir's state file.
func stateSlots(t *testing.T, dir string) (s [2]persistState, ok [2]bool, size int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if len(b) >= i*stateSlot+stateUsedV1 {
			s[i], ok[i] = decodeState(b[i*stateSlot:])
		}
	}
	return s, ok, len(b)
}

// After a reopen the next state write goes to the slot that does not hold
// the newest state, so that a torn write leaves the newest intact. (The
// state file is 40 or 552 bytes long, never stateSize: Open used to test
// for stateSize and so always wrote slot 0 first, over the newest state
// whenever that was slot 0.)
func TestReopenWritesTheOlderStateSlot(t *testing.T) {
	dir := t.TempDir()
	for round := uint64(1); round <= 4; round++ {
		s := mustOpen(t, dir, small())
		recoverAll(t, s)
		if err := s.Persisted(round*10, 0, round*10); err != nil { // a new persisted value: the state changes
			t.Fatal(err)
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		before, okB, size := stateSlots(t, dir)
		best := 0
		if okB[1] && (!okB[0] || before[1].gen > before[0].gen) {
			best = 1
		}
		s.Close()
		s = mustOpen(t, dir, small())
		recoverAll(t, s)
		s.Persisted(round*10+5, 0, round*10+5)
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		after, okA, _ := stateSlots(t, dir)
		s.Close()
		if !okA[best] || after[best] != before[best] {
			t.Fatalf("round %d: state file is %d bytes (< stateSize %d); newest state %+v was in slot %d and the next write overwrote it (now %+v, ok=%v): a torn write there would leave only the older slot %+v",
				round, size, stateSize, before[best], best, after[best], okA[best], after[1-best])
		}
	}
}

// Recover may be called again before Begin, also after a Persisted: the
// store's goroutine must not free recovered segments before Begin (it did,
// and the second Recover read an unmapped segment and panicked).
func TestRecoverAgainAfterPersisted(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 1, 3000, nil)
	s := mustOpen(t, dir, small())
	defer s.Close()
	recoverAll(t, s)
	if err := s.Persisted(2000, 0, 2000); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the goroutine frees recovered segment 0 (Persisted woke it)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("second Recover panicked: %v", r)
		}
	}()
	_, g := recoverAll(t, s)
	checkFrames(t, g, 2001, 3000, nil)
}

// A segment file name whose index overflows the stream offset (idx<<shift)
// is a format error, not a panic.
func TestOpenRejectsHugeSegmentIndex(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, small()).Close()
	for _, f := range segFiles(t, dir) {
		os.Remove(filepath.Join(dir, f))
	}
	os.WriteFile(filepath.Join(dir, "seg-0001000000000000"), []byte("x"), 0o644)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Open panicked: %v", r)
		}
	}()
	s, err := Open(dir, "pub-1", small())
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("Open = %v, want ErrFormat", err)
	}
}

// The highest index: without the check Open succeeded with no segment at
// all (lowIdx+ahead overflowed), and the first Append blocked for ever.
func TestOpenRejectsMaxSegmentIndex(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, small()).Close()
	for _, f := range segFiles(t, dir) {
		os.Remove(filepath.Join(dir, f))
	}
	os.WriteFile(filepath.Join(dir, "seg-ffffffffffffffff"), nil, 0o644)
	s, err := Open(dir, "pub-1", small())
	if errors.Is(err, ErrFormat) {
		return
	}
	if err != nil {
		t.Fatalf("Open = %v, want ErrFormat", err)
	}
	t.Errorf("Open succeeded, want ErrFormat; segments on disk %d, lowIdx %#x headIdx %#x", s.Stats().Segments, s.lowIdx, s.headIdx)
	recoverAll(t, s)
	if err := s.Begin(1, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Append(1, 0, makeFrame(1, 16)); close(done) }()
	select {
	case <-done:
		s.Close()
	case <-time.After(2 * time.Second):
		s.Close() // wakes the waiting Append
		<-done
		t.Fatalf("Append blocked for 2 s: no segment can ever be made (lowIdx+ahead overflows)")
	}
}

// An empty record whose header ends exactly at the end of the last segment
// file is recovered (Recover used to index past the run's segments).
func TestRecoverEmptyRecordAtRunEnd(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, metaName), encodeMeta("pub-1", MinSegmentBytes), 0o644)
	seg := make([]byte, segHdr+MinSegmentBytes)
	encodeSegHdr(seg[:segHdrUsed], 0, MinSegmentBytes)
	o := uint64(MinSegmentBytes - recHdr)
	h := seg[segHdr+o:]
	le.PutUint32(h[0:], recMagic)
	le.PutUint32(h[4:], recCRC(o, 7, 0))
	le.PutUint64(h[8:], 7)
	le.PutUint32(h[16:], 0)
	os.WriteFile(filepath.Join(dir, segFile(0)), seg, 0o644)
	s, err := Open(dir, "pub-1", small())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Recover panicked: %v", r)
		}
	}()
	recoverAll(t, s)
}

// Two Opens of a new store racing: the loser (ErrLocked) must leave the
// lock file the winner holds its flock on (it used to remove it, and a
// third Open then succeeded beside the winner). 400 tries, at most 20 s.
func TestOpenRaceKeepsTheLock(t *testing.T) {
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		dir := filepath.Join(t.TempDir(), "store")
		var wg sync.WaitGroup
		var ss [2]*Store
		var errs [2]error
		start := make(chan struct{})
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ss[j], errs[j] = Open(dir, "pub-1", small())
			}()
		}
		close(start)
		wg.Wait()
		var winner *Store
		for j := range 2 {
			if errs[j] == nil {
				winner = ss[j]
			} else if !errors.Is(errs[j], ErrLocked) {
				t.Logf("iteration %d: Open %d: %v", i, j, errs[j])
			}
		}
		if winner == nil {
			continue
		}
		third, err := Open(dir, "pub-1", small())
		if err == nil {
			third.Close()
			winner.Close()
			t.Fatalf("iteration %d: a third Open succeeded while another Open holds the store (lock file was removed by the losing Open)", i)
		}
		for j := range 2 {
			if ss[j] != nil {
				ss[j].Close()
			}
		}
	}
}

func countFDs(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(es)
}

// An Open that fails while it deletes recovered segments (unlink refused:
// an immutable directory) closes and unmaps the empty ones it had set
// aside for reuse too (it used to leave their descriptors open).
func TestFailedOpenClosesReusedSegments(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 1, 200, nil) // segment 0 holds them; 1.. are empty
	writeBothStateSlots(t, dir, persistState{gen: 9, persisted: 200, last: 200})
	if err := exec.Command("chattr", "+i", dir).Run(); err != nil {
		t.Skip("chattr:", err)
	}
	defer exec.Command("chattr", "-i", dir).Run()
	before := countFDs(t)
	_, err := Open(dir, "pub-1", small())
	if err == nil {
		t.Fatal("Open succeeded in an immutable directory")
	}
	t.Logf("Open: %v", err)
	if after := countFDs(t); after != before {
		t.Fatalf("Open failed and left %d file descriptors open", after-before)
	}
}

// A reopened store starts from the persisted sequence it recorded: Stats
// reports it, and an idle store does not rewrite its state file (it used
// to start from 0 and write a new generation on every idle tick).
func TestReopenRestoresPersisted(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 1, 100, nil)
	s := mustOpen(t, dir, small())
	recoverAll(t, s)
	s.Persisted(50, 0, 50)
	s.Sync()
	s.Close()
	s = mustOpen(t, dir, small())
	defer s.Close()
	recoverAll(t, s)
	s.mu.Lock()
	g0 := s.state.gen
	s.mu.Unlock()
	time.Sleep(550 * time.Millisecond)
	s.mu.Lock()
	g1 := s.state.gen
	s.mu.Unlock()
	if g1 != g0 {
		t.Errorf("nothing changed, yet the state was rewritten %d times in 550 ms", g1-g0)
	}
	if p := s.Stats().Persisted; p != 50 {
		t.Errorf("Stats().Persisted = %d after reopen, the store knows 50", p)
	}
}

// What the server holds (Persisted's acked) is kept apart from what may be
// freed: the next Open returns the acked as Recovery.Persisted, and still
// returns no record at or below the freed one. A client frees control
// frames (a flush at Close) above the last sequence the server has; taking
// the freed value for the server's (as the first layout did) made every
// restart after a clean Close a publish gap.
func TestAckedSurvivesReopenApartFromFreed(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 1, 100, nil)
	s := mustOpen(t, dir, small())
	recoverAll(t, s)
	if err := s.Persisted(60, 0, 58); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Persisted != 60 || st.Acked != 58 {
		t.Fatalf("Stats Persisted %d Acked %d, want 60 and 58", st.Persisted, st.Acked)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, small())
	defer s.Close()
	rec, g := recoverAll(t, s)
	if rec.Persisted != 58 || rec.Last != 100 {
		t.Fatalf("Recovery %+v, want Persisted 58 and Last 100", rec)
	}
	checkFrames(t, g, 61, 100, nil)
}

// A state file of the first layout (magic "FSTA", 32 bytes a slot, no
// acked) still opens: its persisted value still says what was freed, and
// what the server holds is unknown (0): that value counted the control
// frames freed at every Close, and as acked made the first logon after an
// upgrade a false publish gap (found by a review).
func TestStateFirstLayoutReads(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 1, 100, nil)
	var b [stateSlot + stateUsedV1]byte
	for i, st := range []persistState{{gen: 4, persisted: 30, last: 100}, {gen: 5, persisted: 40, last: 100}} {
		v := b[i*stateSlot:]
		le.PutUint32(v[0:], stateMagicV1)
		le.PutUint64(v[4:], st.gen)
		le.PutUint64(v[12:], st.persisted)
		le.PutUint64(v[20:], st.last)
		le.PutUint32(v[28:], crc32.Checksum(v[:28], castagoli))
	}
	if err := os.WriteFile(filepath.Join(dir, stateName), b[:], 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir, small())
	rec, g := recoverAll(t, s)
	if rec.Persisted != 0 || rec.Last != 100 {
		t.Fatalf("Recovery %+v, want Persisted 0 (unknown) and Last 100", rec)
	}
	checkFrames(t, g, 41, 100, nil)
	// The next write is of the new layout, into slot 0 (slot 1 is newest).
	if err := s.Begin(101, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Persisted(50, 0, 45); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sl, ok, _ := stateSlots(t, dir)
	if !ok[0] || sl[0].gen != 6 || sl[0].persisted != 50 || sl[0].acked != 45 || !ok[1] || sl[1].persisted != 40 || sl[1].acked != 0 {
		t.Fatalf("slots after a write %+v %v", sl, ok)
	}
}
