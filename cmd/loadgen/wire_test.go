package main

import (
	"context"
	"github.com/fastpub/fastpub/ampstest"
	"math/bits"
	"testing"
	"time"

	"github.com/fastpub/fastpub/fastpub"
)

// fakeWire models fastpub's writer as the sampler sees it: each write
// updates the Stats counters first and the wire log after (logged lags
// behind the writes while a write is "in between"), and the log keeps the
// last keep writes.
type fakeWire struct {
	epoch  time.Time
	writes []fakeWrite // every write so far: the stream position reached and when
	logged int         // how many of them are in the log
	keep   int
}

type fakeWrite struct {
	pos uint64
	at  time.Duration
}

// write adds a write that reached pos at epoch+at; logged says whether the
// log has it yet.
func (f *fakeWire) write(pos uint64, at time.Duration, logged bool) {
	f.writes = append(f.writes, fakeWrite{pos, at})
	if logged {
		f.logged = len(f.writes)
	}
}

func (f *fakeWire) written() (uint64, uint64) {
	if len(f.writes) == 0 {
		return 0, 0
	}
	return f.writes[len(f.writes)-1].pos, uint64(len(f.writes))
}

// WireTime answers as fastpub's wireLog.find does: the oldest retained
// write that reached pos, provided an older retained write, or the start of
// the history, bounds it.
func (f *fakeWire) WireTime(pos uint64) (time.Time, bool) {
	first := max(0, f.logged-f.keep)
	for i := first; i < f.logged; i++ {
		if f.writes[i].pos >= pos {
			if i == first && first > 0 {
				return time.Time{}, false // the bounding write rolled out
			}
			return f.epoch.Add(f.writes[i].at), true
		}
	}
	return time.Time{}, false
}

func newTestSampler(capacity int) wireSampler {
	return newWireSampler(wirePlan{every: 16, resolveEvery: 64, capacity: capacity})
}

func TestWireSamplerResolve(t *testing.T) {
	start := time.Now()
	ms := time.Millisecond
	tests := []struct {
		name string
		run  func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist)
		want wireCounts
		left int   // still pending
		vals []int // recorded latencies, in ms
	}{
		{
			name: "written and logged",
			run: func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist) {
				w.push(100, 0)
				w.push(200, ms/2)
				f.write(150, ms, true)
				f.write(250, 2*ms, true)
				w.resolve(f, start, h)
			},
			want: wireCounts{sampled: 2, resolved: 2},
			vals: []int{1, 1}, // 1 ms, and 2 ms - 0.5 ms rounded down
		},
		{
			name: "not written yet stays pending, then resolves",
			run: func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist) {
				w.push(100, 0)
				w.push(300, 0)
				f.write(150, ms, true)
				w.resolve(f, start, h)
				if w.n != 1 || w.counts.resolved != 1 {
					t.Errorf("after the first pass: %d pending, %+v", w.n, w.counts)
				}
				f.write(300, 3*ms, true)
				w.resolve(f, start, h)
			},
			want: wireCounts{sampled: 2, resolved: 2},
			vals: []int{1, 3},
		},
		{
			name: "written but not logged yet is not rolled over",
			run: func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist) {
				w.push(100, 0)
				f.write(150, 4*ms, false) // Stats counted it, the log not yet
				w.resolve(f, start, h)
				w.resolve(f, start, h) // no write since: still undecided
				if w.n != 1 || w.counts.rolledOver != 0 {
					t.Fatalf("declared before the writer logged: %d pending, %+v", w.n, w.counts)
				}
				f.logged = len(f.writes)
				w.resolve(f, start, h)
			},
			want: wireCounts{sampled: 1, resolved: 1},
			vals: []int{4},
		},
		{
			name: "rolled out of the log, counted once a later write proves it",
			run: func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist) {
				w.push(100, 0)
				for i := 1; i <= 2000; i++ {
					f.write(uint64(i)*100, time.Duration(i)*time.Microsecond, true)
				}
				w.push(199_950, 0) // behind it, still in the log
				w.resolve(f, start, h)
				if w.n != 2 {
					t.Fatalf("first miss decided at once: %d pending, %+v", w.n, w.counts)
				}
				f.write(200_100, 2001*time.Microsecond, true)
				w.resolve(f, start, h)
			},
			want: wireCounts{sampled: 2, resolved: 1, rolledOver: 1},
			vals: []int{2},
		},
		{
			name: "full queue counts what it could not take",
			run: func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist) {
				for i := uint64(1); i <= 6; i++ {
					w.push(i*10, 0)
				}
				f.write(100, ms, true)
				w.resolve(f, start, h)
				w.push(200, 0) // room again
				f.write(200, ms, true)
				w.resolve(f, start, h)
			},
			want: wireCounts{sampled: 7, resolved: 5, queueFull: 2},
			vals: []int{1, 1, 1, 1, 1},
		},
		{
			name: "drain: unwritten after a failure, rolled over, and one behind it",
			run: func(t *testing.T, w *wireSampler, f *fakeWire, h *wireHist) {
				w.push(50, 0) // rolls out
				for i := 1; i <= 1100; i++ {
					f.write(uint64(i)*100, time.Duration(i)*time.Microsecond, true)
				}
				w.push(109_950, 0)  // resolvable behind it: 1.1 ms
				w.push(500_000, 0)  // never written
				w.push(600_000, ms) // never written
				w.drain(f, start, h, time.Now().Add(5*time.Millisecond))
			},
			want: wireCounts{sampled: 4, resolved: 1, rolledOver: 1, unwritten: 2},
			vals: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestSampler(4)
			f := &fakeWire{epoch: start, keep: wireLogWrites}
			h := &wireHist{h: newHistogram()}
			tt.run(t, &w, f, h)
			if w.counts != tt.want {
				t.Errorf("counts %+v, want %+v", w.counts, tt.want)
			}
			if w.n != tt.left {
				t.Errorf("%d pending, want %d", w.n, tt.left)
			}
			c := w.counts
			if c.sampled != c.resolved+c.rolledOver+c.unwritten+c.queueFull+uint64(w.n) {
				t.Errorf("samples unaccounted for: %+v, %d pending", c, w.n)
			}
			if got := h.h.TotalCount(); got != int64(len(tt.vals)) {
				t.Fatalf("%d values recorded, want %d", got, len(tt.vals))
			}
			for i, v := range tt.vals {
				// Within the histogram's precision of v ms (rounded down).
				q := 100 * float64(i+1) / float64(len(tt.vals))
				got := time.Duration(h.h.ValueAtQuantile(q))
				if got/ms != time.Duration(v) {
					t.Errorf("value %d: %v, want %d ms", i, got, v)
				}
			}
		})
	}
}

func TestPlanWire(t *testing.T) {
	tests := []struct {
		name                 string
		buffer, frame, prods int
		every, resolveEvery  uint64
		capacity             int
		flat                 bool // flat out: 1 in 64 at the densest; paced: 1 in 16
	}{
		{"defaults", 4 << 20, 155, 1, 64, 256, 1024, true},
		{"paced", 4 << 20, 155, 1, 16, 256, 4096, false},
		{"small frames", 4 << 20, 43, 1, 16, 256, 8192, false},
		{"four producers", 4 << 20, 155, 4, 16, 64, 4096, false},
		{"three producers round down", 4 << 20, 155, 3, 16, 64, 4096, false},
		{"many producers", 4 << 20, 155, 300, 16, 1, 4096, false},
		{"1 GiB buffer", 1 << 30, 43, 1, 4096, 256, 8192, false},
		{"1 GiB buffer flat out", 1 << 30, 43, 1, 4096, 256, 8192, true},
		{"small buffer", 4 << 10, 155, 1, 16, 256, 64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planWire(tt.buffer, tt.frame, tt.prods, !tt.flat)
			if p.every != tt.every || p.resolveEvery != tt.resolveEvery || p.capacity != tt.capacity {
				t.Errorf("plan %+v, want every %d resolveEvery %d capacity %d", p, tt.every, tt.resolveEvery, tt.capacity)
			}
			// The invariants, whatever the numbers.
			ringFrames := uint64((tt.buffer + tt.frame - 1) / tt.frame)
			if bits.OnesCount64(p.every) != 1 || bits.OnesCount64(p.resolveEvery) != 1 || bits.OnesCount(uint(p.capacity)) != 1 {
				t.Errorf("not powers of two: %+v", p)
			}
			if p.capacity > wirePendingMax || uint64(p.capacity) < ringFrames/p.every+2*(p.resolveEvery/p.every) {
				t.Errorf("capacity %d for %d frames in the buffer, 1 in %d", p.capacity, ringFrames, p.every)
			}
			if p.resolveEvery > 1 && p.resolveEvery*uint64(tt.prods) > wireConnWrites {
				t.Errorf("a pass every %d messages × %d producers exceeds %d writes", p.resolveEvery, tt.prods, wireConnWrites)
			}
		})
	}
}

// TestWireSamplerClient resolves samples against a real fastpub client:
// every sample resolves after the flush, and a sample left for longer than
// the wire log remembers is counted as rolled over.
func TestWireSamplerClient(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	client := logonClient(t, ctx, s, "wire-test")
	c := &connection{client: client}
	c.wire.h = newHistogram()
	src := (*clientWire)(c)
	start := time.Now()
	w := newWireSampler(planWire(fastpub.DefaultBufferSize, 40, 1, true))
	payload := []byte(`{"x":1}`)
	for j := uint64(0); j < 5000; j++ {
		due := time.Since(start)
		if err := client.Publish("t", payload); err != nil {
			t.Fatal(err)
		}
		if j&w.mask == 0 {
			w.push(client.Queued(), due)
		}
		if (j+1)&w.resolveMask == 0 {
			w.resolve(src, start, &c.wire)
		}
	}
	if err := client.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	w.drain(src, start, &c.wire, time.Now().Add(wireDrainWait))
	// Not the flush's return: the writer notes the time when it runs again
	// after its writev, which can be after the server has already acked.
	elapsed := time.Since(start)
	const samples = (5000 + 15) / 16 // messages 0, 16, …, 4992
	if want := (wireCounts{sampled: samples, resolved: samples}); w.counts != want || w.n != 0 {
		t.Fatalf("counts %+v (%d pending), want %+v", w.counts, w.n, want)
	}
	// Max is the top of its bucket: up to 0.1% above the value.
	if h := c.wire.h; h.TotalCount() != samples || h.Min() < 1 || time.Duration(h.Max()) > elapsed+elapsed/500 {
		t.Errorf("%d values from %v to %v, the run took %v", h.TotalCount(), time.Duration(h.Min()), time.Duration(h.Max()), elapsed)
	}

	// One sample, then more writes than the log holds (a flush each, so
	// each publish is a write of its own).
	w.push(client.Queued(), time.Since(start))
	if err := client.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < wireLogWrites+200; i++ {
		if err := client.Publish("t", payload); err != nil {
			t.Fatal(err)
		}
		if err := client.PublishFlush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.drain(src, start, &c.wire, time.Now().Add(5*time.Millisecond))
	if w.counts.rolledOver != 1 || w.counts.sampled != samples+1 || w.n != 0 {
		t.Errorf("counts %+v (%d pending), want one rolled over", w.counts, w.n)
	}
}

// TestWireSamplerUnwritten: a client that fails before writing leaves its
// samples unwritten, and the drain says so within its bound.
func TestWireSamplerUnwritten(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	client := logonClient(t, ctx, s, "wire-unwritten")
	c := &connection{client: client}
	c.wire.h = newHistogram()
	w := newTestSampler(16)
	w.push(client.Queued()+1<<20, 0) // a position the client will never reach
	t0 := time.Now()
	w.drain((*clientWire)(c), t0, &c.wire, t0.Add(20*time.Millisecond))
	if w.counts != (wireCounts{sampled: 1, unwritten: 1}) || w.n != 0 {
		t.Errorf("counts %+v (%d pending)", w.counts, w.n)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("drain took %v", el)
	}
}

// logonClient returns a fastpub client logged on to s, closed with the test.
func logonClient(t testing.TB, ctx context.Context, s *ampstest.Server, name string) *fastpub.Client {
	t.Helper()
	client, err := fastpub.NewClient(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := client.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	return client
}
