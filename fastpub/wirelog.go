package fastpub

import (
	"sync/atomic"
	"time"
)

// wireLogSize is how many of the writer's most recent system calls the wire
// log remembers.
const wireLogSize = 1024

// wireLog records, for each of the writer's recent system calls, the stream
// position it reached and when it returned. The writer is its only writer;
// WireTime reads it from any goroutine. Fixed size: nothing grows.
type wireLog struct {
	epoch time.Time
	head  atomic.Uint64 // entries written so far
	ents  [wireLogSize]struct {
		pos atomic.Uint64 // stream bytes written when the call returned
		at  atomic.Int64  // nanoseconds since epoch
	}
}

// add records that the stream reached pos now. Writer goroutine only.
func (l *wireLog) add(pos uint64) {
	h := l.head.Load()
	e := &l.ents[h%wireLogSize]
	e.pos.Store(pos)
	e.at.Store(int64(time.Since(l.epoch)))
	l.head.Store(h + 1)
}

// reached returns the stream position of the newest entry: 0 before the
// first write. Safe from any goroutine.
func (l *wireLog) reached() uint64 {
	h := l.head.Load()
	if h == 0 {
		return 0
	}
	return l.ents[(h-1)%wireLogSize].pos.Load()
}

// find returns when the first write that reached pos returned.
func (l *wireLog) find(pos uint64) (time.Time, bool) {
	h := l.head.Load()
	if h == 0 {
		return time.Time{}, false
	}
	// Walk back from the newest entry to the oldest one that reaches pos.
	// Without an older entry below pos the first write that reached it may
	// be older than the log, unless the log holds the whole history.
	var at int64
	found, bounded := false, h < wireLogSize
	for i := uint64(1); i <= min(h, wireLogSize-1); i++ {
		e := &l.ents[(h-i)%wireLogSize]
		p, t := e.pos.Load(), e.at.Load()
		if p < pos {
			bounded = true
			break
		}
		at, found = t, true
	}
	// The entries read may have been overwritten while we read them: only
	// trust the answer if the writer did not lap the part we walked.
	if !found || !bounded || l.head.Load()-h >= wireLogSize/2 {
		return time.Time{}, false
	}
	return l.epoch.Add(time.Duration(at)), true
}

// Queued returns the number of bytes queued on this client so far:
// every frame claimed in the send buffer, control frames included. Right
// after a Publish returns, Queued is at least the position just past that
// publish's frame (more, when other goroutines publish on the same client).
// Zero before Logon.
func (c *Client) Queued() uint64 {
	c.mu.Lock()
	r := c.ring
	c.mu.Unlock()
	if r == nil {
		return 0
	}
	return r.Claimed()
}

// WireTime reports when the client's writer finished the system call that
// handed the kernel the byte at stream position pos-1, that is, every frame
// queued before Queued() returned pos. It remembers the last 1024 write calls;
// for an older position, or one not yet written, ok is false. Together with
// Queued it measures publish-to-wire latency without touching the publish
// path: note Queued() after a publish, and ask WireTime later.
func (c *Client) WireTime(pos uint64) (t time.Time, ok bool) {
	return c.wlog.find(pos)
}
