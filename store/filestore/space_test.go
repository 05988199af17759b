package filestore

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/store"
)

// setFallocate swaps the fallocate hook; with a store open, under its lock
// (the background goroutine reads it under the same lock).
func setFallocate(t *testing.T, s *Store, f func(fd int, off, n int64) error) {
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	old := fallocate
	fallocate = f
	t.Cleanup(func() {
		if s != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
		}
		fallocate = old
	})
}

func TestFullDiskTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (%v: %s); TestFullDiskInjected covers it", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	var before syscall.Statfs_t
	syscall.Statfs(mnt, &before)
	dir := filepath.Join(mnt, "store")
	// 1 MiB segments, 5 of them ready: 5 MiB does not fit in 4.
	o := Options{Limits: store.Limits{Bytes: 1 << 20, Messages: 256}}
	_, err := Open(dir, "pub-1", o)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open on a full disk: %v, want ErrNoSpace and ENOSPC", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		es, _ := os.ReadDir(dir)
		t.Fatalf("Open left %v behind", es)
	}
	var after syscall.Statfs_t
	syscall.Statfs(mnt, &after)
	if after.Bfree != before.Bfree {
		t.Fatalf("free blocks %d before, %d after", before.Bfree, after.Bfree)
	}
	// A store that fits works there, and recycles its segments (tmpfs has
	// no FALLOC_FL_ZERO_RANGE: a punched hole, allocated again).
	so := small()
	so.OnError = func(err error) { t.Errorf("background: %v", err) }
	s, err := Open(dir, "pub-1", so)
	if err != nil {
		t.Fatal(err)
	}
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	for range 10 {
		st.run(2, 300)
		s.Persisted(st.next-101, st.posOf(st.next-100), st.next-101)
	}
	waitFor(t, "recycling", func() bool {
		fs := segFiles(t, dir)
		return len(fs) == int(s.ahead) && fs[0] != segFile(0)
	})
	s.Close()
	s = mustOpen(t, dir, small())
	defer s.Close()
	rec, g := recoverAll(t, s)
	if len(rec.Lost) != 0 || s.Stats().TornBytes != 0 {
		t.Fatalf("Recovery %+v, Stats %+v", rec, s.Stats())
	}
	checkFrames(t, g, st.next-100, st.next-1, nil)
}

func TestFullDiskInjected(t *testing.T) {
	// A new store: nothing left behind, the directory included.
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	var calls atomic.Int32
	setFallocate(t, nil, func(fd int, off, n int64) error {
		if calls.Add(1) > 2 {
			return syscall.ENOSPC
		}
		return syscall.Fallocate(fd, 0, off, n)
	})
	_, err := Open(dir, "pub-1", small())
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open: %v, want ErrNoSpace", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Open left %s behind: %v", dir, err)
	}

	// An existing store: no new file, its records intact.
	fallocate = realFallocate
	dir = t.TempDir()
	writeStore(t, dir, 1, 3000, nil)
	names := func() []string {
		es, _ := os.ReadDir(dir)
		var n []string
		for _, e := range es {
			n = append(n, e.Name())
		}
		return n
	}
	was := names()
	calls.Store(0)
	fallocate = func(fd int, off, n int64) error {
		if calls.Add(1) > 1 {
			return syscall.ENOSPC
		}
		return syscall.Fallocate(fd, 0, off, n)
	}
	if _, err := Open(dir, "pub-1", small()); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Open: %v, want ErrNoSpace", err)
	}
	for _, n := range names() {
		if !slices.Contains(was, n) {
			t.Fatalf("Open left new file %s", n)
		}
	}
	fallocate = realFallocate
	s := mustOpen(t, dir, small())
	defer s.Close()
	_, g := recoverAll(t, s)
	checkFrames(t, g, 1, 3000, nil)
}

func TestSegmentNotReadyWaits(t *testing.T) {
	dir := t.TempDir()
	errs := make(chan error, 100)
	o := small()
	o.OnError = func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	s := mustOpen(t, dir, o)
	defer s.Close()
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	var fail atomic.Bool
	fail.Store(true)
	setFallocate(t, s, func(fd int, off, n int64) error {
		if fail.Load() {
			return syscall.ENOSPC
		}
		return syscall.Fallocate(fd, 0, off, n)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.run(2, 4000) // ~500 KiB: beyond the 5 segments ready
	}()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("OnError got %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no error reported")
	}
	select {
	case <-done:
		t.Fatal("appends finished without their segments")
	default:
	}
	fail.Store(false)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("appends still waiting after the disk has room")
	}
	if s.Stats().AppendWaits == 0 || s.Stats().Errors == 0 {
		t.Fatalf("Stats %+v", s.Stats())
	}
	s.Close()
	s = mustOpen(t, dir, small())
	defer s.Close()
	_, g := recoverAll(t, s)
	checkFrames(t, g, 1, 4000, nil)
}

func realFallocate(fd int, off, n int64) error { return syscall.Fallocate(fd, 0, off, n) }
