package fastpub

import "time"

// Heartbeat beats: the answers to the server's heartbeats.
//
// The reader decides when to answer (beatPacer) and asks the writer, which
// writes the beat straight to the socket the next time it finds nothing in
// the ring to send (writeLoop): a beat never takes room or a sequence
// number in the ring. It used to be a ring frame, and then a store's ring
// full of sent frames awaiting their persisted acks (a server slow to
// persist) had no room for it: the beat was dropped and the server,
// seeing nothing for two intervals, dropped the client. While the ring has
// frames to send, they are the traffic the server sees, and the beat waits
// (the request stays set; it goes at the next idle moment).

// beatPacer answers server heartbeats at most once per half interval and
// never drops one: a heartbeat that comes sooner than half an interval
// after the last beat is answered by a beat deferred to that time (one at
// most is pending; it answers every heartbeat before it). The server sends
// a heartbeat per interval of its own silence and drops a client after
// two intervals without inbound traffic; an answer dropped for coming too
// soon (once per interval, as the official JS and Go clients pace it, and
// then once per half interval) left the next answer too little margin, and
// an idle client was dropped (CI; a review's schedule of late heartbeats).
// Half an interval caps a ping-pong with a server that answers beats with
// heartbeats at two beats per interval. Reader goroutine only, but for the
// timer's callback, which only asks for a beat.
type beatPacer struct {
	half      time.Duration // interval/2; 0: answer every heartbeat at once
	next      time.Time     // the earliest the next beat may go
	pendingAt time.Time     // a deferred beat goes then (zero: none)
	timer     *time.Timer   // the deferred beat's; made at the first deferral
	want      func()        // asks the writer for a beat
}

func newBeatPacer(c *Client, s *session) *beatPacer {
	return &beatPacer{half: c.cfg.heartbeat / 2, want: func() {
		s.beat.Store(true)
		c.ring.Kick()
	}}
}

// heartbeat answers a server heartbeat read at now.
func (p *beatPacer) heartbeat(now time.Time) {
	switch {
	case p.half == 0 || !now.Before(p.next):
		p.want()
		p.next = now.Add(p.half)
	case now.Before(p.pendingAt):
		// The deferred beat, still to go, answers this one too.
	case p.timer != nil && p.timer.Stop():
		// Its time has passed but its timer has not run (timers run late
		// on busy Ps): it goes now, not half an interval later (Reset
		// would push it back; a review). It still goes at least half an
		// interval after the beat before it.
		p.want()
		p.next = now.Add(p.half)
	default:
		d := p.next.Sub(now)
		p.pendingAt = p.next
		p.next = p.next.Add(p.half)
		if p.timer == nil {
			p.timer = time.AfterFunc(d, p.want)
		} else {
			p.timer.Reset(d)
		}
	}
}

// stop cancels a deferred beat; the reader calls it as it exits.
func (p *beatPacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// writeBeat writes one heartbeat beat straight to the connection. Writer
// only, when the ring has nothing left to send: every frame before it was
// written whole, so the beat starts on a frame boundary.
func (w *writer) writeBeat(c *Client) error {
	if _, err := w.conn.Write(beatFrame); err != nil {
		return err
	}
	c.counters.beats.Add(1)
	return nil
}
