package filestore

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPipeline runs the client's whole pattern at once: producers claim,
// append and mark their frames done out of order, within the client's
// bound; a writer commits the done prefix and persists what it committed
// a little earlier, so that segments are deleted and made while producers
// write. A reopen then recovers exactly the unpersisted frames.
func TestPipeline(t *testing.T) {
	for _, d := range []Durability{DurabilityNone, DurabilityGroup} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := small()
			o.Durability = d
			s := mustOpen(t, dir, o)
			recoverAll(t, s)
			const seq0, n, window = 10, 20000, 200
			st := newStream(s, seq0, 5)
			var (
				done      [n]atomic.Bool
				poss      [n + 1]atomic.Uint64
				persisted atomic.Uint64 // frames [seq0, seq0+persisted) persisted
				wg        sync.WaitGroup
				left      atomic.Int64
			)
			left.Store(n)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						st.mu.Lock()
						for st.next-seq0 >= persisted.Load()+window {
							st.mu.Unlock()
							runtime.Gosched()
							st.mu.Lock()
						}
						seq, pos, size := st.next, st.pos, frameSize(st.next)
						st.next++
						st.pos += uint64(size)
						st.mu.Unlock()
						poss[seq-seq0].Store(pos)
						s.Append(seq, pos, makeFrame(seq, size))
						done[seq-seq0].Store(true)
					}
				}()
			}
			// The writer.
			stop := make(chan struct{})
			var ww sync.WaitGroup
			ww.Add(1)
			go func() {
				defer ww.Done()
				var c uint64 // frames [0, c) committed
				for {
					for c < n && done[c].Load() {
						c++
					}
					if c > 0 {
						// Frame c starts where the last done one ends.
						end := poss[c-1].Load() + uint64(frameSize(seq0+c-1))
						poss[c].Store(end)
						s.Committed(seq0+c, end)
						// The server persisted all but the last 50 committed.
						if p := c - min(c, 50); p > persisted.Load() {
							s.Persisted(seq0+p-1, poss[p].Load(), seq0+p-1)
							persisted.Store(p)
						}
					}
					select {
					case <-stop:
						if c == n {
							return
						}
					default:
					}
					runtime.Gosched()
				}
			}()
			wg.Wait()
			close(stop)
			ww.Wait()
			p := persisted.Load()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if files := len(segFiles(t, dir)); files > int(s.ahead)+2 {
				t.Fatalf("%d segment files left, want about %d", files, s.ahead)
			}
			s = mustOpen(t, dir, small())
			defer s.Close()
			rec, g := recoverAll(t, s)
			if rec.Persisted != seq0+p-1 || rec.Last != seq0+n-1 || len(rec.Lost) != 0 {
				t.Fatalf("Recovery %+v, want Persisted %d, Last %d", rec, seq0+p-1, seq0+n-1)
			}
			checkFrames(t, g, seq0+p, seq0+n-1, nil)
		})
	}
}
