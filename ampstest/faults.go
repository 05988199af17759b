package ampstest

// Fault hooks for publish-store, reconnect and failover tests: random kills, dropped and
// failed persisted acks, garbage from the server, and a stalled server. Restart lives in
// server.go, the shared State in state.go.

import (
	"math/rand/v2"
	"sync"
)

// Garbage is what SendGarbage writes: a well-formed 4-byte length prefix (11) and a body that
// is not a header (it does not start with '{'), so a strict client fails on the header, not
// on the framing.
const Garbage = "\x00\x00\x00\x0bnot a frame"

// DefaultFailReason is the reason FailSequence uses when given "" (a real server's reason for
// a publish it could not write to its transaction log).
const DefaultFailReason = "tx store failure"

// faultHooks is the state of the hooks in this file, guarded by mu (Server.hookMu is not used,
// so that no lock order exists between the two).
type faultHooks struct {
	mu sync.Mutex

	killRng     *rand.Rand // nil while KillPublishers is disarmed
	killMin     int
	killMax     int
	killLeft    int // frames still to count before the next kill
	ackDropLeft int // DropPersistedAcks: successful persisted acks still to drop
	ackDropRng  *rand.Rand
	ackDropP    float64
	fails       map[failKey]string
	stall       chan struct{} // non-nil while stalled; closed by Unstall
}

type failKey struct {
	name string
	seq  uint64
}

// KillPublishers arms a repeating, seeded fault: after a number of handled inbound frames
// drawn uniformly from [minFrames, maxFrames], the connection that handled the last of them is
// closed abruptly; then the next number is drawn, and so on until KillPublishers is called
// with minFrames ≤ 0, which disarms it. As with CloseAfterFrames, that frame is processed
// completely (state updated, deliveries queued) before the close, and the connection's queued
// output (acks included) is discarded. The close reason is CloseKilled; Stats.Faults.Kills
// counts the kills.
//
// Only publisher connections are counted and killed: a connection becomes a publisher with its
// first publish or delta_publish command (which counts), and a connection that holds a
// subscription is never counted or killed, so subscribers and verifiers survive. Frames are
// counted server-wide in processing order: with one publishing connection the kill points
// depend on seed alone (the same seed gives the same kills), with several on their
// interleaving. maxFrames below minFrames is taken as minFrames. While armed, plain publishes
// leave the discard path (they must be counted). Arming again replaces the previous draw.
func (s *Server) KillPublishers(seed uint64, minFrames, maxFrames int) {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if minFrames <= 0 {
		f.killRng = nil
		s.flags.And(^flagKill)
		return
	}
	f.killRng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f.killMin, f.killMax = minFrames, max(maxFrames, minFrames)
	f.killLeft = f.drawKillLocked()
	s.flags.Or(flagKill)
}

func (f *faultHooks) drawKillLocked() int {
	return f.killMin + f.killRng.IntN(f.killMax-f.killMin+1)
}

// killHit counts one frame handled by a publisher connection and reports whether that
// connection must be killed now.
func (s *Server) killHit() bool {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killRng == nil {
		return false
	}
	f.killLeft--
	if f.killLeft > 0 {
		return false
	}
	f.killLeft = f.drawKillLocked()
	s.faults.kills.Add(1)
	return true
}

// DropPersistedAcks makes the server silently discard the next n successful persisted acks
// of publishes it would send (server-wide, in the order they are produced; calls add up;
// n ≤ 0 cancels those still pending). In Immediate mode that is one ack per publish; in
// Conflated mode one merged ack, including one forced out by a flush (the flush's own ack is
// still sent). The next ack that is sent carries a higher "s" and so covers the dropped ones,
// as a client that missed some conflated acks must handle. Failure and duplicate acks are never
// dropped (a real server never merges a failure away). Stats.Faults.DroppedAcks counts them.
func (s *Server) DropPersistedAcks(n int) {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= 0 {
		f.ackDropLeft = 0
	} else {
		f.ackDropLeft += n
	}
	f.updateAckFaultLocked(s)
}

// DropPersistedAcksRandomly makes the server discard each successful persisted ack with
// probability p, drawn from a generator seeded with seed (the same seed and the same acks give
// the same drops), with the same scope as DropPersistedAcks. p ≤ 0 disarms it; p ≥ 1 drops
// every one. It works alongside DropPersistedAcks, whose count is used up first.
func (s *Server) DropPersistedAcksRandomly(seed uint64, p float64) {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if p <= 0 {
		f.ackDropRng, f.ackDropP = nil, 0
	} else {
		f.ackDropRng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		f.ackDropP = p
	}
	f.updateAckFaultLocked(s)
}

func (f *faultHooks) updateAckFaultLocked(s *Server) {
	s.ackFault.Store(f.ackDropLeft > 0 || f.ackDropRng != nil)
}

// takeAckDrop reports whether the successful persisted ack being produced must be dropped.
func (s *Server) takeAckDrop() bool {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	drop := false
	switch {
	case f.ackDropLeft > 0:
		f.ackDropLeft--
		drop = true
	case f.ackDropRng != nil:
		drop = f.ackDropRng.Float64() < f.ackDropP
	}
	f.updateAckFaultLocked(s)
	if drop {
		s.faults.droppedAcks.Add(1)
	}
	return drop
}

// FailSequence makes the first publish (or delta_publish) from clientName that carries "s" =
// seq, and is not a duplicate, fail: it is not accepted (the name's last sequence does not
// move), not delivered and not counted in Publishes; its processed ack, if requested, is a
// failure with reason; its persisted ack is a failure with that reason and s = seq, split as
// amps-protocol.md §4.2 describes (in Conflated mode the pending success covering the earlier
// sequences goes first, so 1..5 with 3 failed gives success s=2, failure s=3, success s=5).
// Later publishes succeed. The fault is used up by that one publish: a replay of the same
// sequence afterwards is handled normally (accepted if still above the last sequence). Calls
// for several sequences accumulate; a call for a pending one replaces its reason; seq 0 (no
// sequence) is ignored; reason "" means DefaultFailReason. It applies on this server only
// (in a group, to publishes this server handles). Such publishes count in Stats.Rejected and
// Stats.Faults.FailedSequences.
func (s *Server) FailSequence(clientName string, seq uint64, reason string) {
	if seq == 0 {
		return
	}
	if reason == "" {
		reason = DefaultFailReason
	}
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails == nil {
		f.fails = map[failKey]string{}
	}
	f.fails[failKey{clientName, seq}] = reason
	s.failN.Store(int64(len(f.fails)))
}

// takeFail reports the reason for a publish that FailSequence makes fail, using the fault up.
func (s *Server) takeFail(name string, seq uint64) (string, bool) {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	k := failKey{name, seq}
	reason, ok := f.fails[k]
	if ok {
		delete(f.fails, k)
		s.failN.Store(int64(len(f.fails)))
		s.faults.failedSeqs.Add(1)
	}
	return reason, ok
}

// SendGarbage queues Garbage on the live connection of clientName on this server, behind
// every frame already queued for its writer (acks held by WithholdAcks or DelayAcks stay
// held), and reports whether there was such a connection. The server keeps the connection
// open and keeps serving it: what the client does with a stream it cannot parse is what the
// test checks. Stats.Faults.Garbage counts the writes queued.
func (s *Server) SendGarbage(clientName string) bool {
	s.mu.Lock()
	var c *conn
	if cl := s.clients[clientName]; cl != nil && cl.live != nil && !cl.live.dead.Load() {
		c = cl.live
	}
	s.mu.Unlock()
	if c == nil || !c.lockSpace(nil) {
		return false
	}
	c.out = append(c.out, Garbage...)
	c.mu.Unlock()
	c.kickWriter()
	s.faults.garbage.Add(1)
	return true
}

// Stall freezes the server as a process that stopped being scheduled: on every connection,
// present and future, it stops reading and processing frames and stops writing (no acks, no
// deliveries, no heartbeats, no conflated or delayed acks); the heartbeat timeout does not
// fire either. Connections stay open and listeners keep accepting (a new connection gets no
// logon ack). A client that asked for heartbeats sees silence and should give up on the
// connection; the server notices only after Unstall. A write already in progress completes.
// Stall on a stalled server does nothing. Stop, Restart and Close still work while stalled;
// the stall outlasts Stop and Start.
func (s *Server) Stall() {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stall == nil {
		f.stall = make(chan struct{})
		s.flags.Or(flagStall)
		s.faults.stalls.Add(1)
	}
}

// Unstall undoes Stall: frames received meanwhile are processed in order, queued output is
// written, and each connection's heartbeat timeout starts afresh (inbound silence during the
// stall does not count against the client).
func (s *Server) Unstall() {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stall != nil {
		close(f.stall)
		f.stall = nil
		s.flags.And(^flagStall)
	}
}

// Stalled reports whether the server is between Stall and Unstall.
func (s *Server) Stalled() bool {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stall != nil
}

func (s *Server) stallChan() chan struct{} {
	f := &s.hooks
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stall
}

// waitUnstall blocks the writer while the server is stalled; it returns false if the
// connection was aborted meanwhile. After a stall the heartbeat timeout starts afresh.
func (c *conn) waitUnstall() bool {
	ch := c.srv.stallChan()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		c.lastIn.Store(c.srv.now())
		return true
	case <-c.done:
		return false
	}
}
