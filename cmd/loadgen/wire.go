package main

// Publish-to-wire latency: from a message's due time to the return of the
// writer's system call that handed its frame to the kernel.
//
// fastpub does not report per frame when it was written; it reports, off the
// hot path, the stream position queued so far (Client.Queued, read right
// after a publish returns) and when the writev that reached a position
// returned (Client.WireTime), remembering only the last 1024 writev calls.
// So each producer samples 1 message in `every` (64 flat out, 16 paced;
// systematically: messages 1,
// every+1, 2·every+1, … of the producer): it notes (Queued(), due time) in a
// fixed-size pending queue, and resolves the queue in passes: every
// resolveEvery messages from the producer loop, and once more after its
// connection's final flush. A pass walks the queue from the oldest sample and
// stops at the first one not written yet; positions only grow, so the rest
// are not written either. Nothing is allocated per message and nothing runs
// beside the producers; the only cost on the loop is one Queued() per sampled
// message and one pass per resolveEvery messages (a Stats() and a WireTime()
// per sample resolved), charged to the next message when paced and behind.
//
// A sample that could not be resolved is counted, never dropped silently:
// rolled over (written, but gone from the 1024-write log before the pass
// asked), unwritten (never written: the connection failed first), or queue
// full (not taken: the pending queue had no room; the sizing below makes that
// unlikely). Telling "rolled over" from "written a moment ago, not logged
// yet" relies on fastpub's writer updating Stats before the log, one system
// call at a time: a sample that is written (Stats.BytesWritten reaches it)
// but not found is declared rolled over only once Stats.Writes has moved past
// the value seen when it was first missed, since by then the writer has
// logged the write that covered it.
//
// With several producers on one connection, Queued() after a publish may
// include frames other producers claimed just after it, so the write that
// reached that position can only be the same or a later one: the sampled
// latency is then an upper bound on the frame's own (an over-estimate, never
// an under-estimate). With one producer per connection it is exact, up to
// the control frames fastpub itself queues (heartbeats, flushes). Either
// way the time is read when fastpub's writer goroutine runs again after the
// system call, so a scheduling delay there is included: the server may
// already have acknowledged the bytes (TestWireSamplerClient allows for it).

import (
	"math/bits"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fastpub/fastpub/loadreport"
)

const (
	// wireEveryMin is the densest sampling: 1 message in 16 per producer
	// when paced; flat out 1 in 64 (wireEveryFlat), since each sample is
	// also a timed message (two clock readings: producer.go).
	wireEveryMin  = 16
	wireEveryFlat = 64
	// wirePendingMax bounds a producer's pending queue (16 bytes an entry:
	// at most 128 KiB); sampling gets sparser before the queue grows past it.
	wirePendingMax = 8192
	// wireConnWrites is about how many of a connection's messages may go
	// out between two passes of one producer: fastpub's log holds 1024
	// writes, so a written sample must be asked about well within that.
	wireConnWrites = 256
	// wireDrainWait bounds the wait, after a connection's final flush, for
	// samples that are written but not yet in the log.
	wireDrainWait = 50 * time.Millisecond
	// wireLogWrites is the length of fastpub's wire log (for the report).
	wireLogWrites = 1024
)

// wirePlan is the sampling every producer of the run follows.
type wirePlan struct {
	every        uint64 // sample 1 message in every per producer (a power of two)
	resolveEvery uint64 // a pass every resolveEvery messages of the producer (a power of two)
	capacity     int    // pending-queue entries per producer (a power of two)
}

// planWire sizes the sampling. A producer can have at most one send buffer
// of frames queued and unwritten (bufferSize/minFrame frames), so at most
// that many over every of its samples are waiting to be written; written
// samples wait at most one pass, two when the oldest is being checked for
// roll-over. The queue holds all of those, and every doubles until it fits
// in wirePendingMax: with the defaults (4 MiB buffer, 128-byte payloads) 1 in
// 64 and 1024 entries flat out, 1 in 16 and 4096 entries (64 KiB) paced
// (half as much again as the bound, for jitter). producers is per connection: the more share
// a connection (and its writes), the more often each one resolves.
func planWire(bufferSize, minFrame, producers int, paced bool) wirePlan {
	minFrame = max(minFrame, 1)
	ringFrames := uint64((bufferSize + minFrame - 1) / minFrame)
	p := wirePlan{every: wireEveryFlat, resolveEvery: 1}
	if paced {
		p.every = wireEveryMin
	}
	if n := wireConnWrites / max(producers, 1); n > 1 {
		p.resolveEvery = 1 << (bits.Len(uint(n)) - 1) // round down to a power of two
	}
	need := func(every uint64) uint64 {
		ceil := func(a uint64) uint64 { return (a + every - 1) / every }
		return ceil(ringFrames) + 2*ceil(p.resolveEvery) + 2
	}
	for need(p.every) > wirePendingMax {
		p.every *= 2
	}
	// Half as much again for jitter (a pass that runs late, the writer
	// descheduled between its system call and its log), rounded up to a
	// power of two, at most wirePendingMax.
	n := need(p.every)
	p.capacity = min(1<<bits.Len64(n+n/2-1), wirePendingMax)
	return p
}

// wireSample is one sampled message.
type wireSample struct {
	pos uint64        // Client.Queued() right after its publish returned
	due time.Duration // its due time since the start of the run
}

// wireCounts is what became of a producer's samples.
type wireCounts struct {
	sampled    uint64 // messages selected; every one ends in exactly one of the next four
	resolved   uint64 // recorded in the connection's publish-to-wire histogram
	rolledOver uint64 // written, but gone from fastpub's log before a pass asked
	unwritten  uint64 // never written (the connection failed, or was closed first)
	queueFull  uint64 // not queued: the pending queue was full
}

func (c *wireCounts) add(o wireCounts) {
	c.sampled += o.sampled
	c.resolved += o.resolved
	c.rolledOver += o.rolledOver
	c.unwritten += o.unwritten
	c.queueFull += o.queueFull
}

// wireSampler is one producer's pending samples. The producer goroutine owns
// it while it runs, its connection's finish goroutine after that.
type wireSampler struct {
	mask        uint64       // sample message j (0-based) when j&mask == 0
	resolveMask uint64       // a pass when the producer's sent count &resolveMask == 0
	q           []wireSample // a ring: len a power of two
	head, n     int
	// suspect is Stats().Writes when the oldest sample was first found
	// written but not in the log; 0 when it was not.
	suspect uint64
	counts  wireCounts
}

func newWireSampler(p wirePlan) wireSampler {
	return wireSampler{mask: p.every - 1, resolveMask: p.resolveEvery - 1, q: make([]wireSample, p.capacity)}
}

// push queues a sample; a full queue counts it as queueFull.
func (w *wireSampler) push(pos uint64, due time.Duration) {
	w.counts.sampled++
	if w.n == len(w.q) {
		w.counts.queueFull++
		return
	}
	w.q[(w.head+w.n)&(len(w.q)-1)] = wireSample{pos: pos, due: due}
	w.n++
}

func (w *wireSampler) pop() {
	w.head = (w.head + 1) & (len(w.q) - 1)
	w.n--
	w.suspect = 0
}

// wireSource is what the sampler asks fastpub: a *fastpub.Client's Stats
// counters and WireTime.
type wireSource interface {
	WireTime(pos uint64) (time.Time, bool)
	written() (bytes, writes uint64)
}

// resolve records every pending sample that has been written, oldest first,
// into h, and stops at the first one that has not. start is the run's
// start, the origin of the due times.
func (w *wireSampler) resolve(src wireSource, start time.Time, h *wireHist) {
	if w.n == 0 {
		return
	}
	written, writes := src.written() // before WireTime: see the file comment
	for w.n > 0 {
		s := &w.q[w.head]
		if s.pos > written {
			return // not written yet
		}
		if at, ok := src.WireTime(s.pos); ok {
			h.record(int64(at.Sub(start) - s.due))
			w.counts.resolved++
		} else if w.suspect != 0 && writes > w.suspect {
			w.counts.rolledOver++
		} else {
			if w.suspect == 0 {
				w.suspect = writes
			}
			return // written a moment ago: the next pass decides
		}
		w.pop()
	}
}

// drain resolves what is left after the connection's final flush (or its
// failure): it retries until deadline while something is pending, then
// classifies the rest as rolled over (written) or unwritten.
func (w *wireSampler) drain(src wireSource, start time.Time, h *wireHist, deadline time.Time) {
	for w.n > 0 {
		w.resolve(src, start, h)
		if w.n == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	written, _ := src.written()
	for ; w.n > 0; w.pop() {
		s := &w.q[w.head]
		if at, ok := src.WireTime(s.pos); ok { // behind a rolled-over oldest one
			h.record(int64(at.Sub(start) - s.due))
			w.counts.resolved++
		} else if s.pos > written {
			w.counts.unwritten++
		} else {
			w.counts.rolledOver++
		}
	}
}

// wireHist is a connection's publish-to-wire histogram, shared by its
// producers (one histogram per connection, not per producer: it holds 1 in
// every messages, and a lock per resolved sample costs next to nothing).
type wireHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func (w *wireHist) record(v int64) {
	w.mu.Lock()
	record(w.h, v)
	w.mu.Unlock()
}

// flushTo hands what was recorded to the run's series (intervals.go).
func (w *wireHist) flushTo(s *series) {
	w.mu.Lock()
	s.flush(w.h)
	w.mu.Unlock()
}

// clientWire adapts a connection's fastpub client to wireSource.
type clientWire connection

func (c *clientWire) WireTime(pos uint64) (time.Time, bool) { return c.client.WireTime(pos) }

func (c *clientWire) written() (uint64, uint64) {
	st := c.client.Stats()
	return st.BytesWritten, st.Writes
}

// wireSamplingInfo builds the report's sampling section.
func wireSamplingInfo(p wirePlan, c wireCounts, producersPerConn int) loadreport.WireSampling {
	return loadreport.WireSampling{
		Every:        p.every,
		ResolveEvery: p.resolveEvery,
		Pending:      p.capacity,
		LogWrites:    wireLogWrites,
		Sampled:      c.sampled,
		Resolved:     c.resolved,
		Unresolved:   c.rolledOver + c.unwritten + c.queueFull,
		RolledOver:   c.rolledOver,
		Unwritten:    c.unwritten,
		QueueFull:    c.queueFull,
		UpperBound:   producersPerConn > 1,
	}
}
