package fastpub

import (
	"context"
	"strconv"

	"github.com/fastpub/fastpub/frame"
)

// PublishFlush queues a flush command after everything published so far and
// waits for the server's processed ack: when it returns nil, every message
// queued before the call has been written to the socket and processed by the
// server. ctx is the timeout (the official publish_flush's timeout argument):
// when it ends first, PublishFlush returns a *TimedOutError; the messages stay
// queued. A server failure comes back as a *ServerError, a lost connection as
// its *ConnectionError.
func (c *Client) PublishFlush(ctx context.Context) error {
	if c.state.Load() != stateLoggedOn {
		return c.stoppedErr()
	}
	var idBuf [24]byte
	cid := string(strconv.AppendUint(append(idBuf[:0], 'f'), c.cidSeq.Add(1), 10))
	done := make(chan error, 1)
	c.mu.Lock()
	if c.err != nil || c.flushes == nil {
		c.mu.Unlock()
		return c.stoppedErr()
	}
	c.flushes[cid] = done
	c.mu.Unlock()

	var buf [64]byte
	msg, err := frame.AppendFlush(buf[:0], &frame.Flush{CommandID: cid, Ack: frame.AckProcessed})
	if err == nil {
		err = c.enqueue(ctx, "flush", msg, true)
	}
	if err != nil {
		c.forgetFlush(cid)
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.forgetFlush(cid)
		return ctxError("flush", ctx.Err())
	}
}

func (c *Client) forgetFlush(cid string) {
	c.mu.Lock()
	delete(c.flushes, cid)
	c.mu.Unlock()
}
