package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fastpub/fastpub/loadreport"
)

// progress prints the live line on stderr once per --interval: elapsed time,
// msgs/s and MB/s over the last interval, total messages, send-buffer fill
// (the fullest connection's, now), errors, and with --verify the deliveries
// received. On a terminal it redraws one line; otherwise (a file, a pipe, CI)
// it prints one line per interval. It also samples the fill every 10 ms for
// the report's maximum and mean, even with --quiet.
type progress struct {
	w        io.Writer
	tty      bool
	quiet    bool
	interval time.Duration
	start    time.Time
	prods    []*producer
	conns    []*connection
	ver      *verifier
	errs     *errorLog
	store    bool // --ack persisted: the fill is the store's
	recon    bool // --reconnect: the line counts reconnects
	// storeSample samples the file stores (--store) with the fill; set
	// before startLoop.
	storeSample func()

	stallAfter time.Duration
	onStall    func()
	stalled    bool
	lastSent   []uint64    // per producer, at the last check
	lastChange []time.Time // when lastSent last changed

	stopCh chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	fill    float64 // highest sample
	fillSum float64
	fillN   int
	drawn   bool // a terminal line is on screen
	points  loadreport.Timeline
}

// timeline returns the messages published at each tick, and at end.
func (p *progress) timeline(end time.Duration) loadreport.Timeline {
	msgs, _ := p.totals()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append(loadreport.Timeline{{T: 0}}, p.points...)
	if last := out[len(out)-1]; end.Seconds() > last.T {
		out = append(out, loadreport.TimelinePoint{T: end.Seconds(), Messages: msgs})
	}
	return out
}

func newProgress(cfg *config, w io.Writer, start time.Time, prods []*producer, conns []*connection, ver *verifier, errs *errorLog, onStall func()) *progress {
	return &progress{
		w: w, tty: isTerminal(w), quiet: cfg.quiet, interval: cfg.interval, start: start,
		prods: prods, conns: conns, ver: ver, errs: errs,
		store: cfg.ack == ackPersisted, recon: cfg.reconnect,
		stallAfter: cfg.flushTimeout, onStall: onStall,
		lastSent: make([]uint64, len(prods)), lastChange: make([]time.Time, len(prods)),
		stopCh: make(chan struct{}),
	}
}

// checkStall calls onStall (once) when a producer that is not done has not
// completed a message for stallAfter past the time its next one was due:
// its publish is blocked on a full send buffer and the server is not
// reading. (Flushes have their own watchdog.)
func (p *progress) checkStall(now time.Time) {
	if p.onStall == nil || p.stalled {
		return
	}
	for i, pr := range p.prods {
		if pr.live.done.Load() {
			continue
		}
		sent := pr.live.sent.Load()
		if sent != p.lastSent[i] || p.lastChange[i].IsZero() || pr.live.flush.Load() {
			p.lastSent[i], p.lastChange[i] = sent, now
			continue
		}
		since := p.lastChange[i]
		if pr.sched.paced() {
			// Paced, counters are published after every message, so the
			// next one's due time is known.
			if due := p.start.Add(pr.sched.due(uint64(pr.id) + sent*uint64(pr.total))); due.After(since) {
				since = due
			}
		}
		if now.Sub(since) > p.stallAfter {
			p.stalled = true
			p.onStall()
			return
		}
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) startLoop() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		fillT := time.NewTicker(fillSampleEvery)
		defer fillT.Stop()
		var lastMsgs, lastBytes uint64
		last := p.start
		for {
			select {
			case <-p.stopCh:
				return
			case now := <-fillT.C:
				p.sample()
				if p.storeSample != nil {
					p.storeSample()
				}
				p.checkStall(now)
			case now := <-t.C:
				msgs, bytes := p.totals()
				dt := now.Sub(last).Seconds()
				line := p.line(now.Sub(p.start), float64(msgs-lastMsgs)/dt, float64(bytes-lastBytes)/dt/1e6, msgs)
				lastMsgs, lastBytes, last = msgs, bytes, now
				p.mu.Lock()
				p.points = append(p.points, loadreport.TimelinePoint{T: now.Sub(p.start).Seconds(), Messages: msgs})
				p.mu.Unlock()
				if !p.quiet {
					p.print(line)
				}
			}
		}
	}()
}

// stopLoop stops the ticker and ends a terminal line so the report starts
// on a fresh one.
func (p *progress) stopLoop() {
	close(p.stopCh)
	p.wg.Wait()
	if p.drawn {
		fmt.Fprint(p.w, "\n")
	}
}

func (p *progress) totals() (msgs, bytes uint64) {
	for _, pr := range p.prods {
		msgs += pr.live.sent.Load()
		bytes += pr.live.bytes.Load()
	}
	return msgs, bytes
}

// sampleFill returns the send buffers' fill (0 to 1): the fullest
// connection's, from fastpub's Stats. With a store (--ack persisted) the
// buffer is the store and its fill is what is not yet persisted
// (Stats.UnpersistedBytes); without one, what is not yet written.
func (p *progress) sampleFill() (float64, bool) {
	var fill float64
	for _, c := range p.conns {
		st := c.client.Stats()
		if st.BufferSize <= 0 {
			return 0, false
		}
		used := uint64(st.Buffered)
		if p.store {
			used = st.UnpersistedBytes
		}
		fill = max(fill, float64(used)/float64(st.BufferSize))
	}
	return fill, len(p.conns) > 0
}

func (p *progress) line(elapsed time.Duration, rate, mbps float64, total uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%6.1fs] %11s msg/s %8.1f MB/s  total %13s", elapsed.Seconds(), commas(uint64(rate+0.5)), mbps, commas(total))
	if fill, ok := p.sample(); ok {
		fmt.Fprintf(&b, "  ring %5.1f%%", fill*100)
	} else {
		b.WriteString("  ring n/a")
	}
	fmt.Fprintf(&b, "  errors %s", commas(p.errs.count.Load()))
	if p.recon {
		var n uint64
		for _, c := range p.conns {
			n += c.client.Stats().Reconnects
		}
		fmt.Fprintf(&b, "  reconnects %s", commas(n))
	}
	if p.ver != nil {
		fmt.Fprintf(&b, "  delivered %s", commas(p.ver.received.Load()))
	}
	return b.String()
}

func (p *progress) print(line string) {
	if p.tty {
		fmt.Fprint(p.w, "\r"+line+"\x1b[K")
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// fillSampleEvery is how often the send buffers' fill is sampled for the
// report's maximum and mean.
const fillSampleEvery = 10 * time.Millisecond

// sample records one fill sample and returns it.
func (p *progress) sample() (float64, bool) {
	fill, ok := p.sampleFill()
	if ok {
		p.mu.Lock()
		p.fill = max(p.fill, fill)
		p.fillSum += fill
		p.fillN++
		p.mu.Unlock()
	}
	return fill, ok
}

// fillStats returns the highest and the mean fill sampled, or nils when
// none was.
func (p *progress) fillStats() (maxFill, meanFill *float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fillN == 0 {
		return nil, nil
	}
	m, avg := p.fill, p.fillSum/float64(p.fillN)
	return &m, &avg
}
