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
	timeout := 2 * c.cfg.heartbeat
	beats := newBeatPacer(c, s)
	defer beats.stop()
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
			beats.heartbeat(time.Now())
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
	if string(h.Status) != "failure" {
		return
	}
	if len(h.CommandID) > 0 {
		// Not a publish's (they carry no command id): a flush that timed
		// out and was forgotten, answered late. It is no rejected publish
		// (a review saw it counted as one).
		if h.CommandID[0] == flushCIDPrefix {
			c.reportError(&ServerError{Command: "flush", Status: "failure", Reason: string(h.Reason)})
		}
		return
	}
	c.counters.rejected.Add(1)
	c.reportError(&ServerError{Command: "publish", Status: "failure", Reason: string(h.Reason)})
}
