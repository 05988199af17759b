package main

// Latency over time, and --hlog.
//
// Every histogram a producer (or the verifier, or a connection's wire
// samples) records into is its own, for the current interval (--interval,
// 1 s by default). When the recorder's clock passes an interval boundary
// (start + k·interval) it merges its histogram into the run's series for
// that kind, under one lock, and resets it: once per interval per
// recorder, never per message. The interval writer wakes half an interval
// after each boundary, takes what the series gathered (everything recorded
// before the boundary, from every recorder whose clock has passed it), adds
// it to the run's total and, with --hlog, writes it as one interval
// histogram per kind in the HdrHistogram interval log format, tagged with
// the kind (wire, enqueue, pacer, delivery, flush). A recorder that was
// blocked past the half interval lands in the next interval: values are
// never lost or counted twice, and the report's histograms are exactly the
// sum of the logged intervals.

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fastpub/fastpub/loadreport"
)

// series gathers one latency kind's intervals.
type series struct {
	tag   string
	mu    sync.Mutex
	cur   *hdrhistogram.Histogram // flushed into since the last write
	spare *hdrhistogram.Histogram
	total *hdrhistogram.Histogram // everything written so far
}

// flush merges local into the series and resets local.
func (s *series) flush(local *hdrhistogram.Histogram) {
	if local == nil || local.TotalCount() == 0 {
		return
	}
	s.mu.Lock()
	s.cur.Merge(local)
	s.mu.Unlock()
	local.Reset()
}

// take swaps out what was gathered since the last take.
func (s *series) take() *hdrhistogram.Histogram {
	s.mu.Lock()
	h := s.cur
	s.cur, s.spare = s.spare, nil
	s.mu.Unlock()
	return h
}

// intervals is the run's series and the interval writer.
type intervals struct {
	start  time.Time
	every  time.Duration
	series map[string]*series

	log    *hdrhistogram.HistogramLogWriter // nil without --hlog
	file   *os.File
	baseMs int64
	err    error // the first write error

	last   time.Duration // end of the last interval written
	stopCh chan struct{}
	wg     sync.WaitGroup
}

// newIntervals prepares the series; with a --hlog file it writes the log's
// header (the run, the tags, the start and base times).
func newIntervals(start time.Time, every time.Duration, f *os.File, run string) *intervals {
	iv := &intervals{start: start, every: every, series: map[string]*series{}, file: f, stopCh: make(chan struct{})}
	for _, tag := range loadreport.Tags {
		iv.series[tag] = &series{tag: tag, cur: newHistogram(), spare: newHistogram(), total: newHistogram()}
	}
	if f != nil {
		startMs := start.UnixMilli()
		iv.baseMs = startMs - startMs%1000 // the log's BaseTime line holds whole seconds
		iv.log = hdrhistogram.NewHistogramLogWriter(f)
		iv.log.SetBaseTime(iv.baseMs)
		iv.note(iv.log.OutputLogFormatVersion())
		iv.note(iv.log.OutputComment(fmt.Sprintf("[loadgen run %s, report_version %d: one interval histogram per latency kind, tagged %v; values in nanoseconds, interval max in ms]",
			run, loadreport.Version, loadreport.Tags)))
		iv.note(iv.log.OutputStartTime(startMs))
		iv.note(iv.log.OutputBaseTime(iv.baseMs))
		iv.note(iv.log.OutputLegend())
	}
	return iv
}

func (iv *intervals) note(err error) {
	if err != nil && iv.err == nil {
		iv.err = err
	}
}

// boundary returns the first interval boundary after t (since start).
func (iv *intervals) boundary(t time.Duration) time.Duration {
	return (t/iv.every + 1) * iv.every
}

// startLoop starts the writer: half an interval after each boundary.
func (iv *intervals) startLoop() {
	iv.wg.Add(1)
	go func() {
		defer iv.wg.Done()
		next := iv.every + iv.every/2
		t := time.NewTimer(next)
		defer t.Stop()
		for {
			select {
			case <-iv.stopCh:
				return
			case <-t.C:
				iv.write(next - iv.every/2)
				next += iv.every
				t.Reset(time.Until(iv.start.Add(next)))
			}
		}
	}()
}

// finish stops the writer and writes what is left as the last interval,
// ending at end. Call it once every recorder has flushed for good.
func (iv *intervals) finish(end time.Duration) error {
	close(iv.stopCh)
	iv.wg.Wait()
	iv.write(max(end, iv.last))
	if iv.file != nil {
		iv.note(iv.file.Close())
	}
	return iv.err
}

// write takes every series' gathering and logs it as [last, end).
func (iv *intervals) write(end time.Duration) {
	for _, tag := range loadreport.Tags {
		s := iv.series[tag]
		h := s.take()
		if h.TotalCount() > 0 {
			s.total.Merge(h)
			if iv.log != nil {
				h.SetTag(tag)
				h.SetStartTimeMs(iv.start.Add(iv.last).UnixMilli())
				h.SetEndTimeMs(iv.start.Add(end).UnixMilli())
				iv.note(iv.log.OutputIntervalHistogram(h))
			}
			h.Reset()
		}
		s.mu.Lock()
		s.spare = h
		s.mu.Unlock()
	}
	iv.last = end
}

// total returns a kind's whole-run histogram, nil when nothing was recorded.
func (iv *intervals) total(tag string) *hdrhistogram.Histogram {
	if h := iv.series[tag].total; h.TotalCount() > 0 {
		return h
	}
	return nil
}
