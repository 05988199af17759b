package sidebyside

import (
	"syscall"
	_ "unsafe" // go:linkname
)

// nanotime is the runtime's monotonic clock: on Linux, clock_gettime
// (CLOCK_MONOTONIC) through the vDSO, about 20 ns and no system call. The
// publisher and the sink are two processes on one machine, so a stamp taken
// in one is comparable with a reading taken in the other
// (TestNanotimeIsClockMonotonic checks it against the system call).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// cpuTime is the user and system CPU time this process has used so far, in
// nanoseconds (getrusage RUSAGE_SELF: every thread of the process).
func cpuTime() (user, sys int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return ru.Utime.Nano(), ru.Stime.Nano()
}

// spinUntil busy-waits until nanotime reaches due and returns the reading
// that passed it. It never sleeps or yields: a sleeping pacer wakes hundreds
// of microseconds late on a VM and would measure the timer.
func spinUntil(due int64) int64 {
	for {
		if now := nanotime(); now >= due {
			return now
		}
	}
}
