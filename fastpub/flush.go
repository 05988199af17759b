package fastpub

import (
	"context"
	"runtime"
	"strconv"
	"time"

	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/ring"
)

// flushCIDPrefix starts the command id of every flush ("f1", "f2", ...):
// the reader tells a late flush ack from others by it.
const flushCIDPrefix = 'f'

// flushWait is one pending PublishFlush.
type flushWait struct {
	done   chan error // 1 slot: the ack's verdict, or why the client stopped
	seq    uint64     // with a store: the flush frame's ring Seq, once claimed (under Client.mu)
	hasSeq bool
}

// PublishFlush queues a flush command after everything published so far and
// waits for the server's answer. ctx is the timeout (the official
// publish_flush's timeout argument): when it ends first, PublishFlush
// returns a *TimedOutError and the messages stay queued. A server failure
// comes back as a *ServerError, a lost connection as its *ConnectionError.
//
// Without a store the flush asks for a processed ack: a nil means every
// message queued before the call was written and processed by the server,
// on this connection. A disconnect fails it, since what the kernel held when
// the connection broke is lost; and a flush after a reconnect covers only
// what the client still held then: messages the kernel took on the broken
// connection are lost without a store, whatever a later flush says.
//
// With a store the flush asks for a persisted ack (the server answers once
// every earlier publish is persisted or reported failed): a nil means every
// message published before the call is persisted, or went to the failed-write
// handler. The flush is stored like a publish, so with WithReconnect it
// survives a reconnect: it is sent again, and PublishFlush keeps waiting.
// It may be called while the client is reconnecting.
//
// After a nil, Stats().BytesWritten counts the flush frame and WireTime
// knows every position queued before the call.
func (c *Client) PublishFlush(ctx context.Context) error {
	if st := c.state.Load(); st != stateLoggedOn && (st != stateReconnecting || c.store == nil) {
		return c.stoppedErr()
	}
	var idBuf [24]byte
	cid := string(strconv.AppendUint(append(idBuf[:0], flushCIDPrefix), c.cidSeq.Add(1), 10))
	f := &flushWait{done: make(chan error, 1)}
	c.mu.Lock()
	// The state again, under the lock fail takes: without a store, a
	// failure between the check above and here would leave this flush out
	// of fail's sweep, and a reconnect would answer it, nil, for messages
	// the broken connection lost (a review).
	if c.err != nil || c.flushes == nil || c.store == nil && c.state.Load() != stateLoggedOn {
		c.mu.Unlock()
		return c.stoppedErr()
	}
	c.flushes[cid] = f
	c.mu.Unlock()

	ack := frame.AckProcessed
	if c.store != nil {
		ack = frame.AckPersisted
	}
	var buf [64]byte
	msg, err := frame.AppendFlush(buf[:0], &frame.Flush{CommandID: cid, Ack: ack})
	var cl ring.Claim
	if err == nil {
		err = c.claim(ctx, "flush", true, &cl, len(msg))
	}
	if err != nil {
		c.forgetFlush(cid)
		return err
	}
	seq, end := cl.Seq, cl.End
	copy(cl.Buf, msg)
	if c.store != nil {
		c.store.Append(c.seqBase+seq, cl.End-uint64(len(cl.Buf)), cl.Buf)
		// Known before the frame can be sent: an ack beyond it may free it
		// the moment it is committed, and answerFreedFlushes must see this
		// flush then (set after the commit, a freed frame whose own ack was
		// lost with a connection left the flush waiting for a later ack).
		c.mu.Lock()
		f.seq, f.hasSeq = seq, true
		c.mu.Unlock()
		c.acks.flushes.Add(1)
		defer c.acks.flushes.Add(-1)
	}
	c.commit(&cl)
	select {
	case err := <-f.done:
		if err == nil && c.store != nil {
			// Everything before the flush is persisted: free it, the
			// flush frame included.
			c.postAck(seq + 1)
		}
		if err == nil {
			c.awaitWriteLogged(ctx, end)
		}
		return err
	case <-ctx.Done():
		c.forgetFlush(cid)
		return ctxError("flush", ctx.Err())
	}
}

// awaitWriteLogged waits, briefly, until the writing goroutine has logged
// the system call that carried the flush frame (its stream end is end). The
// server can answer the flush before that goroutine, back from writev, has
// advanced Stats().BytesWritten and the wire log: once PublishFlush returns
// nil, both cover the flush, and WireTime knows every position before it.
// The gap is a return from a system call; the wait gives up when ctx ends
// or the client stops, and after a second in any case.
func (c *Client) awaitWriteLogged(ctx context.Context, end uint64) {
	deadline := time.Now().Add(time.Second)
	for i := 0; c.wlog.reached() < end; i++ {
		if ctx.Err() != nil || c.state.Load() == stateClosed || time.Now().After(deadline) {
			return
		}
		if i < 64 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

func (c *Client) forgetFlush(cid string) {
	c.mu.Lock()
	delete(c.flushes, cid)
	c.mu.Unlock()
}
