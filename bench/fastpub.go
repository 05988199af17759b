package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

var bufSize = 4194304

// Result is one measured run.
type Result struct {
	Frames  int
	Elapsed time.Duration
	Allocs  uint64        // heap allocations during the run, whole process
	GCs     uint32        // GC cycles during the run
	Writes  uint64        // the client's write system calls
	CPU     time.Duration // user+system CPU time of the whole process (test servers included) during the run; 0 where not measured
}

// CPUPerFrame is the process's CPU time per frame, in nanoseconds.
func (r Result) CPUPerFrame() float64 { return float64(r.CPU.Nanoseconds()) / float64(r.Frames) }

// processCPU is the user+system CPU time this process has used so far
// (getrusage RUSAGE_SELF: every thread), 0 if it cannot be read.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Rate is frames per second.
func (r Result) Rate() float64 { return float64(r.Frames) / r.Elapsed.Seconds() }

// Publish runs fastpub against a fresh test server: producers goroutines
// publish frames messages of payloadSize bytes in total to topic over one
// client, then PublishFlush waits for the server to have processed them all.
// The time runs from the first publish to the flush's ack.
func Publish(topic string, payloadSize, frames, producers int) (Result, error) {
	srv, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := fastpub.NewClient("bench-publisher", fastpub.WithBufferSize(bufSize))
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	if err := c.Connect(ctx, srv.URI("json")); err != nil {
		return Result{}, err
	}
	if err := c.Logon(ctx); err != nil {
		return Result{}, err
	}
	payload := Payload(payloadSize)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	errs := make(chan error, producers)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		n := frames / producers
		if p < frames%producers {
			n++
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := c.Publish(topic, payload); err != nil {
					errs <- err
					return
				}
			}
		}(n)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Result{}, err
	}
	if err := c.PublishFlush(ctx); err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if got := srv.Stats().Publishes; got != uint64(frames) {
		return Result{}, fmt.Errorf("bench: server counted %d publishes, want %d", got, frames)
	}
	return Result{Frames: frames, Elapsed: elapsed, Allocs: after.Mallocs - before.Mallocs, GCs: after.NumGC - before.NumGC, Writes: c.Stats().Writes}, nil
}
