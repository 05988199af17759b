package main

// The producers: the measured loop.
//
// Each producer is one goroutine publishing on its connection's fastpub
// client. Per message it paces (see pace.go), renders the payload into a
// buffer it reuses (template.go), publishes, reads the clock once, and
// records the enqueue latency in its own histogram: no lock, no channel, no
// allocation, nothing shared but the run's stop flag and its own padded
// counters. For the publish-to-wire latency it notes the stream position of
// 1 message in wirePlan.every and resolves those samples in passes (wire.go);
// only a pass touches something shared, the connection's wire histogram.
// Histograms are merged after the run.

import (
	"context"
	"errors"
	"fmt"
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
	flushH   *hdrhistogram.Histogram
	samples  wireSampler // publish-to-wire samples, resolved into conn.wire
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

// loop is the producer's hot path: pace, render, publish, measure. It
// allocates nothing per message.
func (p *producer) loop(r *loadRun) {
	cfg := p.cfg
	client := p.conn.client
	start := r.start
	paced := p.sched.paced()
	total := uint64(p.total)
	f := fields{producer: p.id, run: p.run}
	buf := make([]byte, 0, p.tmpl.maxLen(cfg.symbols))
	var msg fastpub.Message
	symbols := cfg.symbols
	rng := uint64(p.id)*0x9e3779b97f4a7c15 + 1
	ti := p.id % len(p.topics)
	var sent, payload, wire uint64
	ws := &p.samples
	src := (*clientWire)(p.conn)

	watchdog := time.AfterFunc(time.Hour, func() {
		r.errs.add(errFlushTimeout)
		r.stop(errFlushTimeout)
	})
	watchdog.Stop()
	defer watchdog.Stop()

	now := time.Since(start)
	lastFlush, lastStore := now, now
	for j := uint64(0); !p.limited || j < p.limit; j++ {
		if r.stopped.Load() {
			break
		}
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
			}
		} else {
			if p.end > 0 && now >= p.end {
				break
			}
			due = now
		}
		f.seq = j + 1
		f.ts = p.wall0 + int64(due)
		// xorshift64: a symbol per message without allocating or locking.
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		f.symbol = symbols[rng%uint64(len(symbols))]
		buf = p.tmpl.render(buf[:0], &f)
		topic := p.topics[ti]

		var err error
		switch cfg.api {
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
		}
		now = time.Since(start)
		if err != nil {
			p.fail(r, err)
			break
		}
		if j&ws.mask == 0 {
			// After the clock: the enqueue latency does not include it.
			ws.push(client.Queued(), due)
		}
		record(p.hist, int64(now-due))
		sent++
		payload += uint64(len(buf))
		wire += uint64(p.overhead[ti] + len(buf))
		// An atomic store is a full barrier on amd64: flat out, publish the
		// totals every 64 messages; paced or slow, every message (the stall
		// check relies on it).
		if paced || sent&63 == 0 || now-lastStore > time.Millisecond {
			p.live.sent.Store(sent)
			p.live.bytes.Store(payload)
			lastStore = now
		}
		if ti++; ti == len(p.topics) {
			ti = 0
		}

		if (cfg.flushEvery > 0 && f.seq%cfg.flushEvery == 0) ||
			(cfg.flushInterval > 0 && now-lastFlush >= cfg.flushInterval) {
			// The watchdog, not a per-flush context (which allocates),
			// bounds the flush: past --flush-timeout it fails the run.
			watchdog.Reset(cfg.flushTimeout)
			err := client.PublishFlush(r.ctx)
			watchdog.Stop()
			t := time.Since(start)
			record(p.flushH, int64(t-now))
			now, lastFlush = t, t
			if err != nil {
				p.fail(r, err)
				break
			}
		}
		if sent&ws.resolveMask == 0 && ws.n > 0 {
			ws.resolve(src, start, &p.conn.wire)
			now = time.Since(start) // flat out, the next send starts after the pass
		}
	}
	p.live.sent.Store(sent)
	p.live.bytes.Store(payload)
	p.live.done.Store(true)
	p.sent, p.payload, p.wire = sent, payload, wire
	p.lastDone = now
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

// calibrate measures loadgen's own cost per message, everything the loop
// does except the publish itself: render, clock read, histogram record. The
// report states it, since at max rate it is part of each measured send.
func calibrate(tmpl *template, symbols []string, run uint32) float64 {
	const n = 1 << 16
	h := newHistogram()
	buf := make([]byte, 0, tmpl.maxLen(symbols))
	f := fields{run: run}
	start := time.Now()
	prev := time.Since(start)
	for i := 0; i < n; i++ {
		f.seq, f.ts, f.symbol = uint64(i+1), int64(prev), symbols[i%len(symbols)]
		buf = tmpl.render(buf[:0], &f)
		now := time.Since(start)
		record(h, int64(now-prev))
		prev = now
	}
	if len(buf) < 0 { // keep buf alive
		panic("unreachable")
	}
	return float64(time.Since(start)) / n
}
