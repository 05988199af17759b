package fastpub

import (
	"context"
	"errors"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// readLoop is the reader goroutine: it reads acks and server heartbeats until
// the connection ends. Deliveries (a publisher has no subscriptions) and
// unknown commands are ignored.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	var h frame.Header
	timeout := 2 * c.cfg.heartbeat
	for {
		if timeout > 0 {
			c.conn.SetReadDeadline(time.Now().Add(timeout))
		}
		body, err := c.fr.Next()
		if err != nil {
			if timeout > 0 && isTimeout(err) {
				err = errors.Join(errors.New("no traffic from the server for twice the heartbeat interval"), err)
			}
			c.fail("read", readErr(err))
			return
		}
		h.Reset()
		if _, err := h.Parse(body); err != nil {
			c.fail("read", protocolErr(err))
			return
		}
		switch h.Command {
		case frame.CmdAck:
			c.handleAck(&h)
		case frame.CmdHeartbeat:
			// As the official C client: answer every server heartbeat with
			// a beat. Never block the reader on a full buffer: a full
			// buffer means the writer is busy and the server sees traffic.
			var buf [32]byte
			c.enqueue(context.Background(), "heartbeat", frame.AppendHeartbeatBeat(buf[:0]), false)
		}
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// handleAck routes an ack to the PublishFlush waiting for its command id, or
// reports a failure nobody waits for to the error handler.
func (c *Client) handleAck(h *frame.Header) {
	if len(h.CommandID) > 0 {
		c.mu.Lock()
		ch, ok := c.flushes[string(h.CommandID)]
		if ok {
			delete(c.flushes, string(h.CommandID))
		}
		c.mu.Unlock()
		if ok {
			if string(h.Status) == "success" {
				ch <- nil
			} else {
				ch <- &ServerError{Command: "flush", Status: string(h.Status), Reason: string(h.Reason)}
			}
			return
		}
	}
	if string(h.Status) == "failure" && c.cfg.errorHandler != nil {
		c.cfg.errorHandler(&ServerError{Command: "publish", Status: "failure", Reason: string(h.Reason)})
	}
}
