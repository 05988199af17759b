package fastpub

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A heartbeat read at or after a deferred beat's time, while the runtime
// has not yet run that beat's timer (timers run late when the Ps are
// busy), must not push the overdue beat back by another half interval
// (timer.Reset): the heartbeat it answers would wait almost a whole
// interval for its answer instead of at most half. Here the only P is
// kept busy past the beat's time (shorter than sysmon's 10 ms preemption),
// so the timer is genuinely overdue when the next heartbeat is read. From
// a review; if anything preempts the spin the test passes without proving
// anything, it never fails falsely.
func TestBeatPacerOverdueBeatGoesAtOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const half = 8 * time.Millisecond
	var wants atomic.Int32
	p := &beatPacer{half: half, want: func() { wants.Add(1) }}
	defer p.stop()
	runtime.Gosched()
	t0 := time.Now()
	p.heartbeat(t0)                     // answered at once; next beat from t0+half
	p.heartbeat(time.Now())             // too soon: a beat deferred to t0+half (pendingAt)
	for time.Since(t0) < half+half/16 { // the P stays busy: the timer cannot run
	}
	fired := wants.Load() // 1 unless something preempted the spin
	now := time.Now()
	p.heartbeat(now) // read after pendingAt; the timer has not run yet
	time.Sleep(half / 4)
	if n := wants.Load(); n < 2 {
		t.Fatalf("beats asked %d (%d before the third heartbeat); the beat due at t0+%v, read overdue at t0+%v, was pushed back to t0+%v by Reset: want it asked by t0+%v",
			n, fired, half, now.Sub(t0), 2*half, time.Since(t0).Round(100*time.Microsecond))
	}
}
