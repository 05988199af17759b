package fastpub

import (
	"sync"
	"sync/atomic"
)

// Stats are a client's counters. The transport ones are updated by the
// writer goroutine once per system call, the others once per event: never
// per publish.
type Stats struct {
	BytesWritten uint64 // bytes the kernel accepted, replays included (the ring's send position)
	Writes       uint64 // writev (or TLS write) calls that moved bytes
	InlineWrites uint64 // of those, made by a publishing goroutine itself (WithInlineWrite)
	Buffered     int    // bytes queued (claimed by publishes and control frames) and not yet written, oversized frames included
	BufferSize   int    // the ring's size (WithBufferSize, or the store's Limits.Bytes)

	// Frames in the ring: queued and not yet written whole, or (with a
	// store) not yet persisted; control frames count too.
	Unpersisted uint64
	// The bytes of those frames: the store's fill level.
	UnpersistedBytes uint64
	// With a store: the highest sequence number the server has persisted
	// (0 before the first persisted ack).
	PersistedSeq uint64

	Disconnects  uint64            // connections lost
	Reconnects   uint64            // successful logons of the reconnect loop (WithReconnect); a Connect and Logon by hand after a lost connection is not counted
	Replayed     uint64            // frames sent again after reconnects, in all
	LastReplay   uint64            // frames sent again after the last reconnect
	Beats        uint64            // heartbeat beats sent in answer to the server
	Recovered    uint64            // frames loaded from a durable store at the first logon (an earlier process's, to replay; beats filling lost sequence numbers included)
	StoreLost    uint64            // sequence numbers a durable store had kept and could not recover (corrupt records)
	Rejected     uint64            // failure acks for publishes without a store (each also goes to WithErrorHandler, if set); with a store see FailedWrites
	FailedWrites map[string]uint64 // stored publishes refused in persisted acks, by reason (the ack's status, "failure", when it had none); nil when none
}

// counters are the client's event counters.
type counters struct {
	writes      atomic.Uint64 // the ring's consumer only
	inline      atomic.Uint64 // the ring's consumer only
	persisted   atomic.Uint64 // with a store: highest AMPS sequence freed as persisted
	serverHas   atomic.Uint64 // with a store: highest sequence the server said it has (a success or duplicate ack, a logon's last sequence); a failed write's does not count
	replayed    atomic.Uint64
	lastReplay  atomic.Uint64
	disconnects atomic.Uint64
	reconnects  atomic.Uint64
	beats       atomic.Uint64
	recovered   atomic.Uint64
	storeLost   atomic.Uint64
	rejected    atomic.Uint64

	mu     sync.Mutex
	failed map[string]uint64
}

func (k *counters) countFailure(reason, status string) {
	if reason == "" && status != "success" {
		reason = status
	}
	k.mu.Lock()
	if k.failed == nil {
		k.failed = make(map[string]uint64)
	}
	k.failed[reason]++
	k.mu.Unlock()
}

// Stats returns the client's counters. Safe from any goroutine; the buffer
// fields are zero before the first Logon.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	r := c.ring
	c.mu.Unlock()
	st := Stats{
		BufferSize:   c.cfg.bufferSize,
		Writes:       c.counters.writes.Load(),
		InlineWrites: c.counters.inline.Load(),
		PersistedSeq: c.counters.persisted.Load(),
		Disconnects:  c.counters.disconnects.Load(),
		Reconnects:   c.counters.reconnects.Load(),
		Replayed:     c.counters.replayed.Load(),
		LastReplay:   c.counters.lastReplay.Load(),
		Beats:        c.counters.beats.Load(),
		Recovered:    c.counters.recovered.Load(),
		StoreLost:    c.counters.storeLost.Load(),
		Rejected:     c.counters.rejected.Load(),
	}
	if c.store != nil {
		st.BufferSize = c.store.Limits().Bytes
	}
	c.counters.mu.Lock()
	if len(c.counters.failed) > 0 {
		st.FailedWrites = make(map[string]uint64, len(c.counters.failed))
		for k, v := range c.counters.failed {
			st.FailedWrites[k] = v
		}
	}
	c.counters.mu.Unlock()
	if r == nil {
		return st
	}
	// The consumer's cursors first: the claim cursors are read after them,
	// so they are not behind them.
	freed, freedSeq, sent := r.Released(), r.ReleasedSeq(), r.SendPos()
	claimed := r.Claimed()
	st.Buffered = int(claimed - min(sent, claimed))
	st.UnpersistedBytes = claimed - min(freed, claimed)
	st.Unpersisted = r.ClaimedSeq() - freedSeq
	st.BytesWritten = sent
	return st
}
