package fastpub

import (
	"bytes"
	"errors"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// readLoop is the reader goroutine: it reads acks and server heartbeats until
// the connection ends. Deliveries (a publisher has no subscriptions) and
// unknown commands are ignored.
//
// Persisted acks are posted for the ring's consumer to apply (persist.go);
// flush acks go to the waiting PublishFlush; other failures to the error
// handler. Nothing here runs user code: handlers run on the event goroutine.
func (c *Client) readLoop(s *session) {
	defer close(s.readerDone)
	var h frame.Header
	// A publisher with a store gets a persisted ack per publish or per
	// interval, all of one shape: after the first, Parse is skipped.
	var acks frame.PersistedAckCache
	interval := c.cfg.heartbeat
	timeout := 2 * interval
	var lastBeat time.Time
	// From here on every read system call first pushes the deadline to
	// timeout from now (inbound.Read).
	s.in.timeout = timeout
	for {
		body, err := s.fr.Next()
		if err != nil {
			if timeout > 0 && isTimeout(err) {
				err = errors.Join(errors.New("no traffic from the server for twice the heartbeat interval"), err)
			}
			c.fail(s, "read", readErr(err))
			return
		}
		if seq, ok := acks.Match(body); ok {
			if c.store != nil {
				c.onPersisted(seq, statusSuccess, nil)
			}
			continue
		}
		escaped := bytes.IndexByte(body, '\\') >= 0
		h.Reset()
		payload, err := h.Parse(body)
		if err != nil {
			c.fail(s, "read", protocolErr(err))
			return
		}
		switch h.Command {
		case frame.CmdAck:
			acks.Learn(body, escaped, &h, payload)
			c.handleAck(&h)
		case frame.CmdHeartbeat:
			// Answer a server heartbeat with a beat, at most once per half
			// interval: a server that answers beats with heartbeats would
			// otherwise ping-pong. Not once per interval, as the official JS
			// and Go clients do: the server sends one heartbeat per interval
			// of its own silence, so two arrive here about one interval
			// apart, and whenever the second came sooner than that (the
			// first one's reading was late) it went unanswered; the server,
			// which drops a client after 2 x interval without traffic, then
			// had only the first answer's lateness as margin for the third
			// (CI saw an idle client dropped at 3 s with a 1 s interval).
			// Never block the reader on a full buffer: a full buffer means
			// the writer is busy and the server sees traffic.
			if now := time.Now(); interval == 0 || now.Sub(lastBeat) >= interval/2 {
				lastBeat = now
				if c.enqueueBeat() == nil {
					c.counters.beats.Add(1)
				}
			}
		}
	}
}

// statusSuccess is the status of a persisted ack the reader did not parse.
var statusSuccess = []byte("success")

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// handleAck routes an ack to the PublishFlush waiting for its command id, or
// reports a failure nobody waits for to the error handler.
func (c *Client) handleAck(h *frame.Header) {
	if len(h.CommandID) > 0 {
		c.mu.Lock()
		f, ok := c.flushes[string(h.CommandID)]
		if ok {
			delete(c.flushes, string(h.CommandID))
		}
		c.mu.Unlock()
		if ok {
			if string(h.Status) == "success" {
				f.done <- nil
			} else {
				f.done <- &ServerError{Command: "flush", Status: string(h.Status), Reason: string(h.Reason)}
			}
			return
		}
	}
	if h.Ack.Has(frame.AckPersisted) && h.HasSeq && c.store != nil {
		c.onPersisted(h.Seq, h.Status, h.Reason)
		return
	}
	if string(h.Status) == "failure" {
		c.reportError(&ServerError{Command: "publish", Status: "failure", Reason: string(h.Reason)})
	}
}
