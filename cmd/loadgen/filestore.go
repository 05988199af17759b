package main

// --store: a file store (store/filestore) per connection, in
// --store/<client name>, instead of the memory store.
//
// The stores are opened before any connection, so that a store in use
// (ErrLocked), of another client name (ErrForeign), of another format
// version (ErrVersion), not a store (ErrFormat) or without room for its
// segments (ErrNoSpace) stops the run before anything is published, with
// what to do about it. Each store is then read once (Recover, which may be
// called again before the client's Begin) for what an earlier run left: its
// persisted sequence and the publishes above it. The embedded server is new
// each run, so it is told each client's persisted sequence
// (SetLastSequence), as a server that kept its state would know it: the
// client then replays what is above it, and the server's count of accepted
// publishes is checked against this run's publishes plus those.
//
// While publishing, the progress loop samples every store (Stats, a few
// atomic loads) every 10 ms: bytes on disk and segments (peak) and the
// durable-through lag, AppendedThrough − DurableThrough (maximum). The
// report's figures at the end are read after the final flush, before Close.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/loadreport"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/store/filestore"
)

// fileStore is one connection's file store.
type fileStore struct {
	name, dir string
	st        *filestore.Store
	handed    bool   // given to its client, which closes it
	persisted uint64 // Recovery.Persisted at open
	replay    uint64 // publishes above persisted the earlier run left
	base      uint64 // AppendedThrough once logged on: this run's sequences are above it
}

// lag is the store's durable-through lag now, and its stats.
func (f *fileStore) lag() (uint64, filestore.Stats) {
	s := f.st.Stats()
	durable := max(s.DurableThrough, f.base)
	if s.AppendedThrough <= durable {
		return 0, s
	}
	return s.AppendedThrough - durable, s
}

// storeWatch is the run's file stores and their samples.
type storeWatch struct {
	stores []*fileStore

	mu        sync.Mutex
	bytesPeak int64
	segsPeak  int
	lagMax    uint64
	firstErr  string
}

// connName is connection i's client name.
func (c *config) connName(i int) string { return c.clientName + "-" + strconv.Itoa(i) }

// openStores opens every connection's file store (--store).
func (r *loadRun) openStores() error {
	cfg := r.cfg
	w := &storeWatch{}
	r.stores = w
	r.onClose(func() { // the ones no client took
		for _, f := range w.stores {
			if !f.handed {
				f.st.Close()
			}
		}
	})
	for i := 0; i < cfg.connections; i++ {
		name := cfg.connName(i)
		dir := filepath.Join(cfg.storeDir, name)
		st, err := filestore.Open(dir, name, filestore.Options{
			Limits:       store.Limits{Bytes: cfg.storeBytes, Messages: cfg.storeMessages},
			Durability:   cfg.durability,
			SyncInterval: cfg.syncInterval,
			SyncBytes:    cfg.syncBytes,
			OnError:      w.onError,
		})
		if err != nil {
			return storeOpenError(cfg, dir, err)
		}
		f := &fileStore{name: name, dir: dir, st: st}
		w.stores = append(w.stores, f)
		if err := f.scan(); err != nil {
			return fmt.Errorf("--store %s: reading what an earlier run left: %w", dir, err)
		}
		if r.embedded != nil && f.persisted > 0 {
			r.embedded.SetLastSequence(name, f.persisted)
		}
		if f.persisted > 0 || f.replay > 0 {
			r.info("--store %s: resuming %s: persisted through %d, %d publish(es) above it to replay", dir, name, f.persisted, f.replay)
		}
	}
	if r.embedded != nil {
		r.info("--store: the embedded server is new each run; it was told each client's persisted sequence from its store, as a server that kept its state would know it")
	}
	return nil
}

// scan reads what an earlier run left in the store: the persisted
// sequence, and how many publishes above it the client will replay (as
// fastpub counts them: records whose header carries their own sequence;
// the others are control frames, sent as heartbeats).
func (f *fileStore) scan() error {
	rec, err := f.st.Recover(func(uint64, []byte) error { return nil })
	if err != nil {
		return err
	}
	f.persisted = rec.Persisted
	var h frame.Header
	var scratch []byte
	_, err = f.st.Recover(func(seq uint64, b []byte) error {
		if seq <= f.persisted || len(b) < 4 {
			return nil
		}
		scratch = append(scratch[:0], b[4:]...)
		if _, err := h.Parse(scratch); err == nil && h.HasSeq && h.Seq == seq {
			f.replay++
		}
		return nil
	})
	return err
}

// storeOpenError says what went wrong opening a store, and what to do.
func storeOpenError(cfg *config, dir string, err error) error {
	var hint string
	switch {
	case errors.Is(err, filestore.ErrLocked):
		hint = "another process has this store open (another loadgen with the same --store and --client-name?): stop it, or give another --store or --client-name"
	case errors.Is(err, filestore.ErrForeign):
		hint = "with --store the directory of connection i is --store/<client name>: give the --client-name the store was made with, or another --store"
	case errors.Is(err, filestore.ErrVersion):
		hint = "the store was written in another format version: use a fresh --store directory"
	case errors.Is(err, filestore.ErrFormat):
		hint = "the directory is not a fastpub file store: give an empty or new --store directory"
	case errors.Is(err, filestore.ErrNoSpace):
		hint = fmt.Sprintf("each store reserves its disk at open, 2 × --store-bytes + 20 B × --store-messages + two segments (%s / %s here, %d connection(s)): free disk space or lower --store-bytes / --store-messages",
			ibytes(uint64(cfg.storeBytes)), commas(uint64(cfg.storeMessages)), cfg.connections)
	}
	if hint == "" {
		return fmt.Errorf("--store: opening %s: %w", dir, err)
	}
	return fmt.Errorf("--store: opening %s: %w (%s)", dir, err, hint)
}

func (w *storeWatch) onError(err error) {
	w.mu.Lock()
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
	w.mu.Unlock()
}

// opts are the client options of connection i's store.
func (w *storeWatch) opt(i int) fastpub.Option {
	return fastpub.WithStore(w.stores[i].st)
}

// loggedOn notes connection i's base once its client logged on (and so
// called the store's Begin).
func (w *storeWatch) loggedOn(i int) {
	f := w.stores[i]
	f.base = f.st.Stats().AppendedThrough
}

// sample takes one sample of every store (the progress loop, every 10 ms).
func (w *storeWatch) sample() {
	var bytes int64
	var segs int
	var lagMax uint64
	for _, f := range w.stores {
		lag, s := f.lag()
		bytes += s.BytesOnDisk
		segs += s.Segments
		lagMax = max(lagMax, lag)
	}
	w.mu.Lock()
	w.bytesPeak = max(w.bytesPeak, bytes)
	w.segsPeak = max(w.segsPeak, segs)
	w.lagMax = max(w.lagMax, lagMax)
	w.mu.Unlock()
}

// report returns the stores' part of the report, at the end: call it after
// the final flush, before Close.
func (w *storeWatch) report() *loadreport.Store {
	w.sample()
	out := &loadreport.Store{Stores: len(w.stores)}
	for _, f := range w.stores {
		lag, s := f.lag()
		out.SegmentBytes = s.SegmentBytes
		out.BytesOnDisk += s.BytesOnDisk
		out.Segments += s.Segments
		out.DurableLagEnd = max(out.DurableLagEnd, lag)
		out.Syncs += s.Syncs
		out.AppendWaits += s.AppendWaits
		out.Errors += s.Errors
		out.RecoveredRecords += s.Recovered
		out.TornBytes += s.TornBytes
		out.LostRanges += s.LostRanges
	}
	w.mu.Lock()
	out.BytesOnDiskPeak, out.SegmentsPeak, out.DurableLagMax, out.FirstError = w.bytesPeak, w.segsPeak, w.lagMax, w.firstErr
	w.mu.Unlock()
	return out
}

// replayed is the publishes the clients replay from the stores to the
// embedded server: above the persisted sequence it was told.
func (w *storeWatch) replayed() uint64 {
	if w == nil {
		return 0
	}
	var n uint64
	for _, f := range w.stores {
		n += f.replay
	}
	return n
}
