package main

// The publish store and reconnect (--ack persisted, --reconnect, several
// --uri): the client options, the handlers that watch the connections,
// and the report's resilience part.
//
// The counters come from fastpub's Client.Stats, read after the final
// flush. The client's handlers run on a goroutine of the client's own, in
// order: they add the events (bounded, loadreport.MaxEvents per run), the
// reconnect attempts, the failovers, the gaps and give-ups, and the first
// failed write. With a reconnect policy a lost connection is an event, not
// an error: fastpub hands the same error to the event handler
// (EventDisconnected) and then to the error handler, which skips it; what
// ends a run is the client giving up (EventGaveUp, also an error), a
// failed write, or a publish gap.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/loadreport"
	"github.com/fastpub/fastpub/store"
)

// resilience collects what the handlers of every connection saw.
type resilience struct {
	start atomic.Int64 // the run's start, Unix ns; 0 before publishing

	mu               sync.Mutex
	events           []loadreport.Event
	dropped          uint64
	attempts         uint64
	failovers        uint64
	gaps             uint64
	gaveUp           uint64
	firstFailedWrite string
}

// watcher is one connection's handlers' state. Its fields are touched by
// the client's event goroutine only.
type watcher struct {
	res       *resilience
	errs      *errorLog
	conn      int
	reconnect bool
	lost      string // the URI of the last lost connection
	skip      bool   // the next ErrDisconnected is the one just reported as an event
}

func (w *watcher) onEvent(ev fastpub.Event) {
	if ev.Kind == fastpub.EventDisconnected && w.reconnect {
		w.skip = true
	}
	res := w.res
	res.mu.Lock()
	defer res.mu.Unlock()
	switch ev.Kind {
	case fastpub.EventDisconnected:
		w.lost = ev.URI
	case fastpub.EventReconnecting:
		res.attempts++
	case fastpub.EventReconnected:
		if ev.URI != w.lost {
			res.failovers++
		}
	case fastpub.EventPublishGap:
		res.gaps++
	case fastpub.EventGaveUp:
		res.gaveUp++
	}
	if len(res.events) >= loadreport.MaxEvents {
		res.dropped++
		return
	}
	e := loadreport.Event{Conn: w.conn, Kind: ev.Kind.String(), URI: ev.URI, Attempt: ev.Attempt,
		Delay: ev.Delay.Seconds(), Replayed: ev.Replayed}
	if ev.Err != nil {
		e.Err = ev.Err.Error()
	}
	if t0 := res.start.Load(); t0 != 0 {
		e.T = time.Duration(time.Now().UnixNano() - t0).Seconds()
	}
	res.events = append(res.events, e)
}

func (w *watcher) onError(err error) {
	if errors.Is(err, fastpub.ErrClosed) {
		return
	}
	if w.skip && errors.Is(err, fastpub.ErrDisconnected) {
		w.skip = false // counted as a disconnect; the client reconnects
		return
	}
	w.errs.add(err)
}

func (w *watcher) onFailedWrite(f fastpub.FailedWrite) {
	w.res.mu.Lock()
	defer w.res.mu.Unlock()
	if w.res.firstFailedWrite == "" {
		w.res.firstFailedWrite = fmt.Sprintf("connection %d, %s to topic %s, seq %d, status %s, reason %q", w.conn, f.Command, f.Topic, f.Seq, f.Status, f.Reason)
	}
}

// clientOptions are the fastpub options of connection idx.
func (r *loadRun) clientOptions(idx int) ([]fastpub.Option, error) {
	cfg := r.cfg
	w := &watcher{res: &r.res, errs: &r.errs, conn: idx, reconnect: cfg.reconnect}
	opts := []fastpub.Option{
		fastpub.WithErrorHandler(w.onError),
		fastpub.WithEventHandler(w.onEvent),
		fastpub.WithFailedWriteHandler(w.onFailedWrite),
		fastpub.WithCloseTimeout(cfg.flushTimeout), // Close drains what a failed run left queued, bounded
	}
	if r.stores != nil {
		opts = append(opts, r.stores.opt(idx))
	} else if cfg.ack == ackPersisted {
		st, err := store.NewMemory(store.Limits{Bytes: cfg.storeBytes, Messages: cfg.storeMessages})
		if err != nil {
			return nil, err
		}
		opts = append(opts, fastpub.WithStore(st))
	} else {
		opts = append(opts, fastpub.WithBufferSize(cfg.bufferSize))
	}
	if cfg.reconnect {
		opts = append(opts, fastpub.WithReconnect(fastpub.ReconnectPolicy{
			Servers:      cfg.failover,
			MaxOutage:    cfg.maxOutage,
			LogonTimeout: cfg.connectTimeout,
		}))
	}
	return opts, nil
}

// collectResilience fills the report's resilience part. It closes the
// clients first (closeClients: a store's Close flushes once more, and waits
// for the client's event goroutine to run what it had), so that the
// counters are final: Stats.Unpersisted lags a persisted ack until the
// writer frees the frames, which Close makes sure of.
func (r *loadRun) collectResilience() {
	cfg := r.cfg
	if cfg.ack != ackPersisted && !cfg.reconnect {
		return
	}
	if r.stores != nil {
		r.rep.Store = r.stores.report() // after the final flush, before Close
	}
	r.closeClients()
	rs := &loadreport.Resilience{}
	for _, c := range r.conns {
		st := c.client.Stats()
		if s := r.rep.Store; s != nil {
			s.Recovered += st.Recovered
			s.Lost += st.StoreLost
		}
		rs.Disconnects += st.Disconnects
		rs.Reconnects += st.Reconnects
		rs.Replayed += st.Replayed
		if cfg.ack == ackPersisted {
			rs.Unpersisted += st.Unpersisted
		}
		for k, v := range st.FailedWrites {
			if rs.FailedWrites == nil {
				rs.FailedWrites = map[string]uint64{}
			}
			rs.FailedWrites[k] += v
		}
	}
	res := &r.res
	res.mu.Lock()
	rs.Attempts, rs.Failovers, rs.Gaps, rs.GaveUp = res.attempts, res.failovers, res.gaps, res.gaveUp
	rs.Events = append([]loadreport.Event(nil), res.events...)
	rs.EventsDropped = res.dropped
	rs.FirstFailedWrite = res.firstFailedWrite
	res.mu.Unlock()
	r.rep.Resilience = rs
	if s := r.rep.Store; s != nil && s.Errors > 0 {
		r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf("the file stores' background work failed %s time(s) and was retried (first: %s): a durability figure may be behind", commas(s.Errors), s.FirstError))
	}
}
