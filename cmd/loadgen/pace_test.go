package main

import (
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/loadreport"
)

func TestScheduleDue(t *testing.T) {
	tests := []struct {
		rate float64
		g    uint64
		want time.Duration
	}{
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{1000, 1500, 1500 * time.Millisecond},
		{50_000, 50_000, time.Second},
		{3, 1, 333_333_333},
		{1e6, 1e9, 1000 * time.Second}, // no drift over long runs
	}
	for _, tt := range tests {
		if got := (schedule{rate: tt.rate}).due(tt.g); got != tt.want {
			t.Errorf("rate %v: due(%d) = %v, want %v", tt.rate, tt.g, got, tt.want)
		}
	}
	if (schedule{}).paced() || !(schedule{rate: 1}).paced() {
		t.Error("paced() wrong")
	}
}

// fakeClock is a pacer whose time only moves when sleep, yield or the test
// move it.
type fakeClock struct {
	now    time.Duration
	slept  []time.Duration
	yields int
}

func (f *fakeClock) pacer() *pacer {
	return &pacer{
		clock: func() time.Duration { return f.now },
		sleep: func(d time.Duration, stop <-chan struct{}) bool {
			select {
			case <-stop:
				return false
			default:
			}
			f.slept = append(f.slept, d)
			f.now += d + 3*time.Microsecond // timers wake a little late
			return true
		},
		yield:   func() { f.yields++; f.now += time.Microsecond },
		spinFor: 50 * time.Microsecond,
	}
}

func TestPacerWait(t *testing.T) {
	t.Run("behind: no sleep, no yield, no clock read", func(t *testing.T) {
		f := &fakeClock{now: 10 * time.Millisecond}
		p := f.pacer()
		p.clock = func() time.Duration { t.Fatal("clock read while behind"); return 0 }
		now, ok := p.wait(5*time.Millisecond, f.now, nil)
		if !ok || now != 10*time.Millisecond || len(f.slept) != 0 || f.yields != 0 || p.waits != 0 {
			t.Errorf("now %v ok %v slept %v yields %d waits %d", now, ok, f.slept, f.yields, p.waits)
		}
	})
	t.Run("ahead by more than spinFor: one sleep then yields until due", func(t *testing.T) {
		f := &fakeClock{}
		p := f.pacer()
		now, ok := p.wait(time.Millisecond, 0, nil)
		if !ok || now < time.Millisecond {
			t.Fatalf("returned at %v (ok %v) before due 1ms", now, ok)
		}
		if len(f.slept) != 1 || f.slept[0] != time.Millisecond-p.spinFor {
			t.Errorf("slept %v, want one sleep of %v", f.slept, time.Millisecond-p.spinFor)
		}
		if now > time.Millisecond+2*time.Microsecond {
			t.Errorf("returned at %v: overshot due by more than one yield", now)
		}
	})
	t.Run("ahead by less than spinFor: yields only", func(t *testing.T) {
		f := &fakeClock{}
		p := f.pacer()
		now, ok := p.wait(20*time.Microsecond, 0, nil)
		if !ok || now != 20*time.Microsecond || len(f.slept) != 0 || f.yields != 20 {
			t.Errorf("now %v ok %v slept %v yields %d", now, ok, f.slept, f.yields)
		}
	})
	t.Run("stop during sleep", func(t *testing.T) {
		f := &fakeClock{}
		p := f.pacer()
		stop := make(chan struct{})
		close(stop)
		if _, ok := p.wait(time.Second, 0, stop); ok {
			t.Error("ok after stop")
		}
	})
	t.Run("stop during spin", func(t *testing.T) {
		f := &fakeClock{}
		p := f.pacer()
		stop := make(chan struct{})
		close(stop)
		if _, ok := p.wait(10*time.Microsecond, 0, stop); ok {
			t.Error("ok after stop")
		}
		if f.yields > 1 {
			t.Errorf("%d yields after stop", f.yields)
		}
	})
}

// TestPacedSendsFollowSchedule drives the producer's pacing steps (the same
// calls loop makes) over a simulated run with a slow send and a 20 ms stall,
// and checks the schedule's promises: nothing is sent before it is due, the
// number sent never exceeds the number due, overdue messages go out back to
// back without any wait, the producer is back on schedule after the stall,
// and there is never a sleep after a send.
func TestPacedSendsFollowSchedule(t *testing.T) {
	const (
		rate     = 10_000.0 // one message every 100 µs
		n        = 2000
		sendCost = 20 * time.Microsecond
		stallAt  = 500
		stall    = 20 * time.Millisecond
	)
	sched := schedule{rate: rate}
	f := &fakeClock{}
	p := f.pacer()
	sent := make([]time.Duration, n)
	waitsBehind := 0
	now := f.now
	for j := 0; j < n; j++ {
		due := sched.due(uint64(j))
		sleepsBefore := len(f.slept)
		if now < due {
			var ok bool
			if now, ok = p.wait(due, now, nil); !ok {
				t.Fatal("stopped")
			}
		} else if j > 0 {
			waitsBehind++
			if len(f.slept) != sleepsBefore {
				t.Fatalf("message %d: slept while behind schedule", j)
			}
		}
		sent[j] = now
		f.now += sendCost
		if j == stallAt {
			f.now += stall
		}
		now = f.now
	}
	var lateAfterStall int
	for j, at := range sent {
		due := sched.due(uint64(j))
		if at < due {
			t.Fatalf("message %d sent at %v, before its due time %v", j, at, due)
		}
		// Sent so far ≤ due so far: at the moment message j goes out,
		// messages 0..j are all due.
		if dueCount := int(float64(at)*rate/1e9) + 1; j+1 > dueCount {
			t.Fatalf("at %v: %d sent, only %d due", at, j+1, dueCount)
		}
		if j > stallAt && at-due > sendCost+10*time.Microsecond {
			lateAfterStall++
		}
	}
	// The stall delays 20 ms / 100 µs = 200 messages; catching up at 20 µs a
	// send recovers 80 µs per message, so about 250 are late, then none.
	if lateAfterStall < 200 || lateAfterStall > 300 {
		t.Errorf("%d messages late after the stall, want about 250", lateAfterStall)
	}
	if last := sent[n-1] - sched.due(n-1); last > sendCost {
		t.Errorf("last message %v late: never caught up", last)
	}
	if waitsBehind < 200 {
		t.Errorf("only %d sends without waiting; the catch-up should send back to back", waitsBehind)
	}
	// One sleep per message that found the producer ahead, never more.
	if uint64(len(f.slept)) > p.waits || p.waits > n {
		t.Errorf("%d sleeps for %d waits", len(f.slept), p.waits)
	}
}

// TestPacerRealClock checks the real clock and timer: a short wait ends at
// or after the due time, not long after.
func TestPacerRealClock(t *testing.T) {
	start := time.Now()
	p := newPacer(start, defaultSpinFor)
	due := 3 * time.Millisecond
	now, ok := p.wait(due, p.clock(), make(chan struct{}))
	if !ok || now < due {
		t.Fatalf("wait returned %v, %v before due %v", now, ok, due)
	}
	if late := time.Since(start) - due; late > 500*time.Millisecond {
		t.Errorf("woke %v late", late)
	}
	if p.sleeps != 1 {
		t.Errorf("sleeps = %d, want 1", p.sleeps)
	}
	stop := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(stop) })
	if _, ok := p.wait(p.clock()+time.Hour, p.clock(), stop); ok {
		t.Error("a stopped wait reported ok")
	}
}

func TestAutoSpin(t *testing.T) {
	for _, c := range []struct{ late, want time.Duration }{
		{0, defaultSpinFor}, {20 * time.Microsecond, defaultSpinFor}, {600 * time.Microsecond, 1200 * time.Microsecond},
		{time.Second, maxAutoSpin},
	} {
		if got := autoSpin(c.late); got != c.want {
			t.Errorf("autoSpin(%v) = %v, want %v", c.late, got, c.want)
		}
	}
	if late := measureTimerLateness(4, 100*time.Microsecond); late < 0 || late > time.Second {
		t.Errorf("timer lateness %v", late)
	}
}

// TestPacerLatenessReported: a paced run reports how late its own pacer
// woke, apart from the client's latency, and the spin --spin auto chose.
func TestPacerLatenessReported(t *testing.T) {
	code, r, stderr := runJSON(t, nil, "--count", "300", "--rate", "3000", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	pc := r.Latency.Pacer
	if pc == nil || pc.Count == 0 || pc.Count > 300 || !strings.Contains(pc.What, "not the client's") {
		t.Fatalf("pacer lateness %+v", pc)
	}
	if r.Workload.Spin < defaultSpinFor.Seconds() || r.Workload.TimerLateness < 0 {
		t.Errorf("workload %+v", r.Workload)
	}
	code, out, _ := runT(t, nil, "--count", "100", "--rate", "2000", "--quiet", "--spin", "0")
	if code != exitOK || !strings.Contains(out, "pacer       pacer lateness") || !strings.Contains(out, "sleeping only") {
		t.Errorf("text report:\n%s", out)
	}
	// Flat out there is no pacer.
	code, r, _ = runJSON(t, nil, "--count", "100", "--quiet")
	if code != exitOK || r.Latency.Pacer != nil {
		t.Errorf("flat out: pacer %+v", r.Latency.Pacer)
	}
}

// TestPacerWarning: the report warns when the pacer's lateness is most of
// the publish-to-wire latency, and not otherwise.
func TestPacerWarning(t *testing.T) {
	mk := func(p50 int64) *loadreport.Stats {
		h := newHistogram()
		record(h, p50)
		return loadreport.NewStats("x", "y", h)
	}
	r := &loadRun{rep: &loadreport.Report{}}
	r.rep.Latency.Pacer, r.rep.Latency.Wire = mk(500_000), mk(600_000)
	r.pacerWarning()
	if len(r.rep.Warnings) != 1 || !strings.Contains(r.rep.Warnings[0], "raise --spin") {
		t.Errorf("warnings %q", r.rep.Warnings)
	}
	r.rep.Warnings = nil
	r.rep.Latency.Pacer = mk(5_000)
	r.pacerWarning()
	if len(r.rep.Warnings) != 0 {
		t.Errorf("warnings %q", r.rep.Warnings)
	}
}
