package main

import (
	"runtime"
	"slices"
	"time"
)

// The send schedule.
//
// At a fixed --rate R, message g of the run (numbered from 0 across every
// producer) is due at start + g/R. Producer k of P sends messages k, k+P,
// k+2P, … so together they follow the one schedule. A producer never sends a
// message before it is due; when it is behind (a slow publish, a flush, a
// stall in the server) it sends the overdue messages back to back, with no
// wait, until it has caught up: at any instant the number sent is at most the
// number due, so a catch-up burst is never larger than what the schedule
// itself allows. Latency is measured from the due time, not from when the
// send happened, so a stall is charged to every message it delayed
// (no coordinated omission). A producer that is ahead waits until the next
// due time: it sleeps through most of the wait and yields the processor for
// the last spinFor of it, since timers wake late by tens of microseconds.
// Nothing ever sleeps after a send.

// schedule is the fixed-rate schedule; rate 0 means unpaced.
type schedule struct {
	rate float64 // messages per second over all producers
}

// paced reports whether the schedule sets due times.
func (s schedule) paced() bool { return s.rate > 0 }

// due returns when message g (0-based, across every producer) is due,
// relative to the start of the run.
func (s schedule) due(g uint64) time.Duration {
	return time.Duration(float64(g) * 1e9 / s.rate)
}

// defaultSpinFor is the least of a wait spent yielding instead of sleeping
// with --spin auto, and what --spin auto means before it is measured.
// Go timers wake late (tens of microseconds on bare metal, about 600 µs on
// some VMs); spinning the last stretch keeps sends on time at the cost of a
// busy processor while paced.
const defaultSpinFor = 100 * time.Microsecond

// maxAutoSpin caps --spin auto: a timer later than this is reported (the
// pacer lateness figure and its warning), not spun around.
const maxAutoSpin = 5 * time.Millisecond

// autoSpin is --spin auto: twice the 90th percentile of the timer's
// lateness on this machine (measureTimerLateness), at least defaultSpinFor,
// at most maxAutoSpin.
func autoSpin(lateness time.Duration) time.Duration {
	return min(max(2*lateness, defaultSpinFor), maxAutoSpin)
}

// measureTimerLateness sleeps n times for d and returns the 90th
// percentile of how late the timer woke the goroutine.
func measureTimerLateness(n int, d time.Duration) time.Duration {
	t := time.NewTimer(time.Hour)
	t.Stop()
	late := make([]time.Duration, n)
	for i := range late {
		t0 := time.Now()
		t.Reset(d)
		<-t.C
		late[i] = max(time.Since(t0)-d, 0)
	}
	slices.Sort(late)
	return late[len(late)*9/10]
}

// pacer waits until due times. Its clock and sleep are replaceable for tests.
type pacer struct {
	clock   func() time.Duration                             // time since the start of the run (monotonic)
	sleep   func(d time.Duration, stop <-chan struct{}) bool // false when stop closed first
	yield   func()
	spinFor time.Duration

	// Counters for the report and the tests.
	sleeps uint64 // calls to sleep
	waits  uint64 // calls to wait that found the producer ahead
}

// newPacer returns a pacer on the real clock measured from start that spends
// the last spinFor of each wait yielding instead of sleeping.
func newPacer(start time.Time, spinFor time.Duration) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{
		clock: func() time.Duration { return time.Since(start) },
		sleep: func(d time.Duration, stop <-chan struct{}) bool {
			t.Reset(d)
			select {
			case <-t.C:
				return true
			case <-stop:
				t.Stop() // Go ≥ 1.23 timers: no stale value is left in t.C
				return false
			}
		},
		yield:   runtime.Gosched,
		spinFor: spinFor,
	}
}

// wait returns once the clock has reached due, with the clock's value, or
// early with ok false when stop is closed. now is the caller's latest clock
// reading: when it is already at or past due, wait returns at once without
// reading the clock, sleeping or yielding (the catch-up path).
func (p *pacer) wait(due, now time.Duration, stop <-chan struct{}) (time.Duration, bool) {
	if now >= due {
		return now, true
	}
	p.waits++
	if ahead := due - now; ahead > p.spinFor {
		p.sleeps++
		if !p.sleep(ahead-p.spinFor, stop) {
			return p.clock(), false
		}
	}
	// Bounded by the clock: it passes due within spinFor plus a timer's
	// lateness; stop is checked on every round.
	for {
		now = p.clock()
		if now >= due {
			return now, true
		}
		select {
		case <-stop:
			return now, false
		default:
		}
		p.yield()
	}
}
