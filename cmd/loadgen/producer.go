package main

// The producers: the measured loop.
//
// Each producer is one goroutine publishing on its connection's fastpub
// client. Flat out, loadgen keeps its own work per message to a few
// nanoseconds, so the report measures the engine, not loadgen:
//   - the clock is read once per clockEvery messages (64; every message with
//     --verify, whose stamps carry the send time) and for each timed message;
//   - 1 message in wirePlan.every (64 flat out) is timed: the clock is read
//     before its render and after its publish (the enqueue latency), and its
//     stream position is noted for the publish-to-wire latency (wire.go);
//   - the payload is rendered per message only when the template has a
//     per-message field (template.perMessage); otherwise once for the run.
//
// The default run (flat out, one topic, a payload rendered once, no
// --verify, no periodic flush) takes loopFlat, which does the same per batch
// of 64 messages: the batch's first is the timed and sampled one, the other
// 63 are bare PublishContext calls, and the stop flag, the duration, the
// live counters and the interval boundary are checked once per batch (two
// clock reads per 64 messages). It cut loadgen's own cost per message from
// about 21 ns to 5 ns on the 2-core VM (the report's overhead line).
//
// Paced (--rate), the clock is read after every publish anyway (to pace),
// so every message's enqueue latency is recorded, and 1 in 16 is sampled
// for publish-to-wire.
//
// Nothing is locked, sent on a channel or allocated per message; nothing is
// shared but the run's stop flag and the producer's own padded counters. Only
// a resolution pass (wire.go) touches something shared, the connection's
// wire histogram. Histograms are merged after the run.
//
// The loop without the publish call is loadgen's own cost: calibrateHarness
// runs exactly this loop with the call left out (apiNone) before the run,
// and the report sets it against each producer's time per message.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/cpu"

	"github.com/fastpub/fastpub/fastpub"
)

// liveCounters are one producer's running totals, read by the progress line.
// Each producer stores its own (no contention); the padding keeps producers
// off each other's cache lines.
type liveCounters struct {
	_     cpu.CacheLinePad
	sent  atomic.Uint64
	bytes atomic.Uint64
	done  atomic.Bool // the producer has returned
	flush atomic.Bool // in a PublishFlush (its watchdog, not the stall check, bounds it)
	_     cpu.CacheLinePad
}

// producer is one publishing goroutine.
type producer struct {
	id       int // 0 … connections×producers-1, unique in the run
	total    int // connections × producers
	conn     *connection
	cfg      *config
	tmpl     *template
	sched    schedule
	pacer    *pacer
	limited  bool
	limit    uint64        // messages for this producer when limited
	end      time.Duration // stop at this time since start (0: no limit)
	topics   []string
	overhead []int // frame bytes around the payload, per topic
	run      uint32
	wall0    int64                   // start, in Unix nanoseconds
	hist     *hdrhistogram.Histogram // enqueue latency
	pacerH   *hdrhistogram.Histogram // the pacer's wake-up lateness (paced)
	flushH   *hdrhistogram.Histogram
	api      apiMode         // cfg.api; apiNone when calibrating
	client   *fastpub.Client // nil when calibrating
	queued   func() uint64   // client.Queued
	wsrc     wireSource      // where samples are resolved
	wireH    *wireHist       // and recorded
	samples  wireSampler     // publish-to-wire samples, resolved into conn.wire
	live     liveCounters

	// Results, written by the producer before it returns.
	sent, payload, wire uint64
	bufferFull          uint64
	lastDone            time.Duration
}

// connection is one fastpub client and its producers.
type connection struct {
	idx    int
	client *fastpub.Client
	prods  []*producer
	failed atomic.Bool   // a publish or flush failed: no end markers, no final flush
	done   time.Duration // when its final flush was acknowledged (written by finish)
	// deadline ends the connection's shutdown: its producers' end plus
	// --flush-timeout bounds the final flush and Close together (written by
	// finish before the final flush).
	deadline time.Time
	wire     wireHist // publish-to-wire latency of its producers' samples
}

// clockEvery is how many messages share one clock reading: flat out 64,
// except with --verify (every stamp carries its send time) and when paced
// (the pacer reads it per message anyway).
func clockEvery(cfg *config) int {
	if cfg.rate > 0 || cfg.verify {
		return 1
	}
	return flatClockEvery
}

const flatClockEvery = 64

// loop is the producer's hot path: pace, render, publish, measure. It
// allocates nothing per message.
func (p *producer) loop(r *loadRun) {
	cfg := p.cfg
	client := p.client
	api := p.api
	start := r.start
	paced := p.sched.paced()
	total := uint64(p.total)
	f := fields{producer: p.id, run: p.run}
	buf := make([]byte, 0, p.tmpl.maxLen(cfg.symbols))
	perMsg := p.tmpl.perMessage()
	if !perMsg {
		buf = p.tmpl.render(buf[:0], &f)
	}
	if p.flat(perMsg) {
		p.loopFlat(r, buf)
		return
	}
	var msg fastpub.Message
	symbols := cfg.symbols
	rng := uint64(p.id)*0x9e3779b97f4a7c15 + 1
	ti := p.id % len(p.topics)
	var sent, payload, wire uint64
	ws := &p.samples
	// Locals for everything the loop reads per message: it calls out to
	// fastpub, so the compiler would reload fields through p on every one.
	clockMask := uint64(clockEvery(cfg) - 1)
	sampleMask, resolveMask := ws.mask, ws.resolveMask
	flushEvery, flushInterval := cfg.flushEvery, cfg.flushInterval
	topics, overhead := p.topics, p.overhead
	stopped := &r.stopped
	limit := p.limit
	if !p.limited {
		limit = math.MaxUint64
	}
	iv := r.iv // nil when calibrating
	nextB := time.Duration(math.MaxInt64)

	watchdog := time.AfterFunc(time.Hour, func() {
		r.errs.add(errFlushTimeout)
		r.stop(errFlushTimeout)
	})
	watchdog.Stop()
	defer watchdog.Stop()

	now := time.Since(start)
	lastFlush, lastStore := now, now
	if iv != nil {
		nextB = iv.boundary(now)
	}
	for j := uint64(0); j < limit; j++ {
		if stopped.Load() {
			break
		}
		sample := j&sampleMask == 0 // a publish-to-wire sample (and, flat out, timed)
		var due time.Duration
		if paced {
			due = p.sched.due(uint64(p.id) + j*total)
			if p.end > 0 && due >= p.end {
				break
			}
			if now < due {
				var ok bool
				if now, ok = p.pacer.wait(due, now, r.stopCh); !ok {
					break
				}
				record(p.pacerH, int64(now-due))
			}
		} else {
			if sample || j&clockMask == 0 {
				now = time.Since(start)
				if p.end > 0 && now >= p.end {
					break
				}
			}
			due = now
		}
		if perMsg {
			f.seq = j + 1
			f.ts = p.wall0 + int64(due)
			// xorshift64: a symbol per message without allocating or locking.
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			f.symbol = symbols[rng%uint64(len(symbols))]
			buf = p.tmpl.render(buf[:0], &f)
		}
		topic := topics[ti]

		var err error
		switch api {
		case apiPublish:
			err = client.PublishContext(r.ctx, topic, buf)
		case apiMessage:
			msg.Topic, msg.Data = topic, buf
			err = client.PublishMessage(r.ctx, &msg)
		case apiTry:
			for {
				err = client.TryPublish(topic, buf)
				if err == nil || !errors.Is(err, fastpub.ErrBufferFull) || r.stopped.Load() {
					break
				}
				p.bufferFull++
				runtime.Gosched()
			}
		case apiNone: // calibrateHarness: the loop without the publish
		}
		if err != nil {
			now = time.Since(start)
			p.fail(r, err)
			break
		}
		if paced || sample {
			now = time.Since(start)
			record(p.hist, int64(now-due))
			if sample {
				// After the clock: the enqueue latency does not include it.
				ws.push(p.queued(), due)
			}
		}
		sent++
		payload += uint64(len(buf))
		wire += uint64(overhead[ti] + len(buf))
		// An atomic store is a full barrier on amd64: flat out, publish the
		// totals every 64 messages; paced, every message (the stall check
		// relies on it).
		if paced || sent&63 == 0 {
			p.live.sent.Store(sent)
			p.live.bytes.Store(payload)
			lastStore = now
		} else if now-lastStore > time.Millisecond {
			p.live.sent.Store(sent)
			p.live.bytes.Store(payload)
			lastStore = now
		}
		if ti++; ti == len(topics) {
			ti = 0
		}
		if now >= nextB { // an interval boundary passed: once per --interval
			p.flushIntervals(iv)
			nextB = iv.boundary(now)
		}

		if (flushEvery > 0 && (j+1)%flushEvery == 0) ||
			(flushInterval > 0 && now-lastFlush >= flushInterval) {
			// The watchdog, not a per-flush context (which allocates),
			// bounds the flush: past --flush-timeout it fails the run.
			t0 := time.Since(start)
			watchdog.Reset(cfg.flushTimeout)
			p.live.flush.Store(true)
			err := client.PublishFlush(r.ctx)
			p.live.flush.Store(false)
			watchdog.Stop()
			t := time.Since(start)
			record(p.flushH, int64(t-t0))
			now, lastFlush = t, t
			if err != nil {
				p.fail(r, err)
				break
			}
		}
		if sent&resolveMask == 0 && ws.n > 0 {
			ws.resolve(p.wsrc, start, p.wireH)
			if paced {
				now = time.Since(start) // the next send starts after the pass
			}
		}
	}
	if !paced {
		now = time.Since(start)
	}
	if iv != nil {
		p.flushIntervals(iv)
	}
	p.live.sent.Store(sent)
	p.live.bytes.Store(payload)
	p.live.done.Store(true)
	p.sent, p.payload, p.wire = sent, payload, wire
	p.lastDone = now
}

// flat says whether the run can take loopFlat: flat out, one topic, one
// payload for the whole run, PublishContext, no periodic flush, no
// per-message stamp. That is loadgen's default run, and the one whose
// msgs/s people compare with a bare Publish loop. It depends on the run's
// configuration only, so calibrateHarness measures the loop the run uses.
func (p *producer) flat(perMsg bool) bool {
	cfg := p.cfg
	return !perMsg && !p.sched.paced() && cfg.api == apiPublish && !cfg.verify &&
		cfg.flushEvery == 0 && cfg.flushInterval == 0 && len(p.topics) == 1
}

// loopFlat is loop for a flat run: the same measurements, with the
// bookkeeping done once per batch of wirePlan.every messages (the sampling
// period, 64 flat out) instead of once per message. The batch's first
// message is the timed and sampled one (from the clock reading that ended
// the previous batch, just before it, to one just after it; its stream
// position queued); the others are bare publishes. The stop
// flag, the duration, the live counters and the interval boundaries are
// checked between batches, so a run overshoots its --duration by less than
// one batch. With apiNone (calibrateHarness) the publish calls are left out.
func (p *producer) loopFlat(r *loadRun, buf []byte) {
	client, ctx, start := p.client, r.ctx, r.start
	call := p.api == apiPublish
	topic := p.topics[0]
	frameLen := uint64(p.overhead[0] + len(buf))
	ws := &p.samples
	batch := ws.mask + 1
	resolveBatches := max((ws.resolveMask+1)/batch, 1)
	stopped := &r.stopped
	limit := p.limit
	if !p.limited {
		limit = math.MaxUint64
	}
	iv := r.iv
	nextB := time.Duration(math.MaxInt64)
	now := time.Since(start)
	if iv != nil {
		nextB = iv.boundary(now)
	}
	var sent uint64
	var err error
	for b := uint64(1); sent < limit && !stopped.Load(); b++ {
		if p.end > 0 && now >= p.end {
			break
		}
		due := now
		if call {
			if err = client.PublishContext(ctx, topic, buf); err != nil {
				break
			}
		}
		now = time.Since(start)
		record(p.hist, int64(now-due))
		ws.push(p.queued(), due)
		sent++
		n := min(batch-1, limit-sent)
		if call {
			for k := uint64(0); k < n; k++ {
				if err = client.PublishContext(ctx, topic, buf); err != nil {
					n = k
					break
				}
			}
		}
		sent += n
		if err != nil {
			break
		}
		p.live.sent.Store(sent)
		p.live.bytes.Store(sent * uint64(len(buf)))
		if b%resolveBatches == 0 && ws.n > 0 {
			ws.resolve(p.wsrc, start, p.wireH)
		}
		now = time.Since(start)
		if now >= nextB {
			p.flushIntervals(iv)
			nextB = iv.boundary(now)
		}
	}
	now = time.Since(start)
	if err != nil {
		p.fail(r, err)
	}
	if iv != nil {
		p.flushIntervals(iv)
	}
	p.live.sent.Store(sent)
	p.live.bytes.Store(sent * uint64(len(buf)))
	p.live.done.Store(true)
	p.sent, p.payload, p.wire = sent, sent*uint64(len(buf)), sent*frameLen
	p.lastDone = now
}

// flushIntervals hands the producer's interval histograms, and its
// connection's wire samples, to the run's series (intervals.go).
func (p *producer) flushIntervals(iv *intervals) {
	iv.series["enqueue"].flush(p.hist)
	iv.series["pacer"].flush(p.pacerH)
	iv.series["flush"].flush(p.flushH)
	p.conn.wire.flushTo(iv.series["wire"])
}

// fail records a producer's error and stops the run, unless the run was
// already stopping (then the error is the stop reaching this producer).
func (p *producer) fail(r *loadRun, err error) {
	if r.stopped.Load() && (errors.Is(err, context.Canceled) || errors.Is(err, fastpub.ErrTimedOut)) {
		if c := context.Cause(r.ctx); c == errPublishStalled || c == errFlushTimeout {
			p.conn.failed.Store(true)
		}
		return
	}
	p.conn.failed.Store(true)
	r.errs.add(err)
	r.stop(err)
}

// finish waits for the connection's producers, publishes the verifier's end
// markers, and flushes: once the flush is acknowledged the server has
// processed every message of this connection. It runs after an interrupt
// too, bounded by --flush-timeout. Then it resolves the producers' last
// publish-to-wire samples (bounded by wireDrainWait, not part of the
// connection's duration).
func (c *connection) finish(r *loadRun, wg *sync.WaitGroup, markers bool, run uint32) {
	wg.Wait()
	c.deadline = time.Now().Add(r.cfg.flushTimeout)
	c.flushFinal(r, markers, run)
	c.done = time.Since(r.start)
	deadline := time.Now().Add(wireDrainWait)
	for _, p := range c.prods {
		p.samples.drain((*clientWire)(c), r.start, &c.wire, deadline)
	}
	c.wire.flushTo(r.iv.series["wire"])
}

// flushFinal publishes the verifier's end markers and the final flush,
// unless the connection failed.
func (c *connection) flushFinal(r *loadRun, markers bool, run uint32) {
	if c.failed.Load() {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	defer cancel()
	if markers {
		var buf []byte
		for _, t := range r.cfg.topics {
			buf = append(buf[:0], `{"lg":"`...)
			buf = appendStamp(buf, run, 'E', uint64(c.idx), 0, time.Now().UnixNano())
			buf = append(buf, `"}`...)
			if err := c.client.PublishContext(ctx, t, buf); err != nil {
				c.failed.Store(true)
				r.errs.add(fmt.Errorf("connection %d: publishing the verifier's end marker: %w", c.idx, err))
				return
			}
		}
	}
	if err := c.client.PublishFlush(ctx); err != nil {
		c.failed.Store(true)
		r.errs.add(fmt.Errorf("connection %d: final flush: %w", c.idx, err))
	}
}

// calibrateHarness measures loadgen's own cost per message: the producer
// loop exactly as the run will use it, flat out, with the publish call left
// out (apiNone), against a stand-in wire log that resolves every sample at
// once. It runs a fixed count of messages five times and keeps the fastest
// (the least disturbed by other processes): about a millisecond in all. The payload and histograms stay
// in cache here, which they may not next to a real publish: if anything, an
// under-estimate, which the self-check (loadgen selfcheck) keeps honest.
func calibrateHarness(cfg *config, tmpl *template, run uint32, plan wirePlan, overhead []int) float64 {
	const n = 1 << 15
	c := *cfg
	c.rate, c.flushEvery, c.flushInterval, c.duration = 0, 0, 0, 0
	best := math.Inf(1)
	for round := 0; round < 5; round++ {
		r := &loadRun{cfg: &c, stopCh: make(chan struct{}), start: time.Now()}
		r.ctx, r.cancel = context.WithCancelCause(context.Background())
		conn := &connection{}
		conn.wire.h = newHistogram()
		stub := &stubWire{}
		p := &producer{
			total: 1, conn: conn, cfg: &c, tmpl: tmpl, topics: c.topics, overhead: overhead,
			run: run, hist: newHistogram(), samples: newWireSampler(plan),
			api: apiNone, limited: true, limit: n, queued: stub.queued, wsrc: stub, wireH: &conn.wire,
		}
		t0 := time.Now()
		p.loop(r)
		el := time.Since(t0)
		r.cancel(nil)
		best = min(best, float64(el)/n)
	}
	return best
}

// stubWire stands in for fastpub's wire log when calibrating: every
// position is written at once.
type stubWire struct{ pos uint64 }

func (s *stubWire) queued() uint64 { s.pos += 100; return s.pos }

func (s *stubWire) WireTime(uint64) (time.Time, bool) { return time.Now(), true }

func (s *stubWire) written() (uint64, uint64) { return s.pos, s.pos / 100 }
