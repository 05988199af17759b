package fastpub

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/ring"
)

// Message is one publish with the optional headers the official clients
// offer per message. Pass it by pointer to PublishMessage; nothing in it is
// retained after the call returns, and a Message on the stack costs no
// allocation.
type Message struct {
	// Topic is the literal topic name. Required.
	Topic string
	// Data is the payload, sent verbatim. When Data is nil, DataString is
	// sent instead (without copying it to a []byte first).
	Data       []byte
	DataString string
	// Delta sends delta_publish instead of publish: the server merges the
	// payload into the SOW record with the same key.
	Delta bool
	// Expiration is the message's lifetime ("e"), sent in whole seconds,
	// rounded up, at most MaxExpiration (the wire carries an unsigned 32-bit
	// count of seconds). 0 leaves the topic's default. A negative value or
	// one over MaxExpiration is refused with ErrInvalidValue; nothing is sent.
	Expiration time.Duration
	// CorrelationID ("x") is opaque data passed to subscribers.
	CorrelationID string
	// SowKey ("k") is the explicit SOW key for topics that need one.
	SowKey string
}

// Publish queues data for topic and returns once the frame is in the send
// buffer; it does not wait for the server. When the buffer is full it blocks
// until the writer has made room (see PublishContext and TryPublish for the
// other two flavours of backpressure). data is copied: the caller may reuse it
// at once. Safe for concurrent use; frames from one goroutine reach the
// server in the order that goroutine queued them.
//
// Errors: ErrInvalidTopic, *MessageTooLargeError, ErrNotLoggedOn, and once the
// connection is gone the *ConnectionError (ErrDisconnected) that ended it, or
// ErrClosed. Nothing is queued when an error is returned.
func (c *Client) Publish(topic string, data []byte) error {
	h := frame.Publish{Command: frame.CmdPublish, Topic: topic}
	return c.publish(context.Background(), true, &h, data)
}

// PublishString is Publish for a string payload, which it does not copy into
// an intermediate []byte.
func (c *Client) PublishString(topic, data string) error {
	h := frame.Publish{Command: frame.CmdPublish, Topic: topic}
	return c.publish(context.Background(), true, &h, stringBytes(data))
}

// DeltaPublish is Publish with the delta_publish command.
func (c *Client) DeltaPublish(topic string, data []byte) error {
	h := frame.Publish{Command: frame.CmdDeltaPublish, Topic: topic}
	return c.publish(context.Background(), true, &h, data)
}

// DeltaPublishString is DeltaPublish for a string payload.
func (c *Client) DeltaPublishString(topic, data string) error {
	h := frame.Publish{Command: frame.CmdDeltaPublish, Topic: topic}
	return c.publish(context.Background(), true, &h, stringBytes(data))
}

// PublishContext is Publish that stops waiting for room in the send buffer
// when ctx ends, returning a *TimedOutError (ErrTimedOut, and ctx.Err()).
func (c *Client) PublishContext(ctx context.Context, topic string, data []byte) error {
	h := frame.Publish{Command: frame.CmdPublish, Topic: topic}
	return c.publish(ctx, true, &h, data)
}

// TryPublish is Publish that never blocks: when the send buffer is full it
// returns ErrBufferFull at once and queues nothing.
func (c *Client) TryPublish(topic string, data []byte) error {
	h := frame.Publish{Command: frame.CmdPublish, Topic: topic}
	return c.publish(context.Background(), false, &h, data)
}

// MaxExpiration is the longest Message.Expiration: 2³²−1 seconds, about
// 136 years, the most the expiration header carries.
const MaxExpiration = math.MaxUint32 * time.Second

// PublishMessage queues m, waiting for room while ctx lasts, as
// PublishContext. A nil m is refused with ErrInvalidValue.
func (c *Client) PublishMessage(ctx context.Context, m *Message) error {
	if m == nil {
		return errNilMessage
	}
	h, data, err := m.header()
	if err != nil {
		return err
	}
	return c.publish(ctx, true, &h, data)
}

// TryPublishMessage queues m, or returns ErrBufferFull at once, as TryPublish.
// A nil m is refused with ErrInvalidValue.
func (c *Client) TryPublishMessage(m *Message) error {
	if m == nil {
		return errNilMessage
	}
	h, data, err := m.header()
	if err != nil {
		return err
	}
	return c.publish(context.Background(), false, &h, data)
}

var errNilMessage = &fieldError{sentinel: ErrInvalidValue, cause: errors.New("nil *Message")}

func (m *Message) header() (frame.Publish, []byte, error) {
	h := frame.Publish{
		Command:       frame.CmdPublish,
		Topic:         m.Topic,
		CorrelationID: m.CorrelationID,
		SowKey:        m.SowKey,
	}
	if m.Delta {
		h.Command = frame.CmdDeltaPublish
	}
	if m.Expiration != 0 {
		if m.Expiration < 0 || m.Expiration > MaxExpiration {
			return h, nil, expirationError(m.Expiration)
		}
		secs := m.Expiration / time.Second // round up after dividing: no overflow
		if m.Expiration%time.Second != 0 {
			secs++
		}
		h.HasExpiration = true
		h.Expiration = uint32(secs)
	}
	if m.Data != nil {
		return h, m.Data, nil
	}
	return h, stringBytes(m.DataString), nil
}

// expirationError is the error for an expiration the wire cannot carry.
func expirationError(d time.Duration) error {
	return &fieldError{sentinel: ErrInvalidValue, cause: fmt.Errorf("expiration %v is outside 0 to %v", d, MaxExpiration)}
}

// publish is the hot path: encode the header on the stack (which validates it
// and gives the frame's size), claim that many bytes of the ring, copy header
// and payload into them, commit. The writer goroutine takes it from there.
//
// With a store the header also asks for a persisted ack and ends with the
// frame's sequence number, whose length depends on the ring Seq the claim
// gets: the ring claims header + digits + payload in one CAS (a numbered
// claim), the digits are written after it, the store's Append sees the
// finished frame, then the commit. The frame stays in the ring until the
// server persists it.
func (c *Client) publish(ctx context.Context, block bool, h *frame.Publish, data []byte) error {
	if st := c.state.Load(); st != stateLoggedOn && st != stateReconnecting {
		return c.stoppedErr()
	}
	if c.store != nil {
		h.Ack = frame.AckPersisted
	}
	// Headers of ordinary size are encoded once, on the stack, and copied:
	// one pass over the fields gives both the bytes and the frame's size.
	// Longer ones are sized first and encoded in place.
	if len(h.Topic)+len(h.CorrelationID)+len(h.SowKey) > maxStackHeader {
		return c.publishLong(ctx, block, h, data)
	}
	var scratch [maxStackHeader + 96]byte
	hdr, err := frame.AppendPublishHeader(scratch[:0], h)
	if err != nil {
		return encodeErr(err)
	}
	n := len(hdr) + len(data)
	if n+c.seqRoom > c.cfg.maxMessageSize {
		return &MessageTooLargeError{Size: n + c.seqRoom, Max: c.cfg.maxMessageSize}
	}
	var cl ring.Claim
	if c.store == nil {
		if err := c.claim(ctx, "publish", block, &cl, n); err != nil {
			return err
		}
		copy(cl.Buf[copy(cl.Buf, hdr):], data)
		frame.SetLength(cl.Buf)
		c.commit(&cl)
		return nil
	}
	// hdr ends with '}': it becomes ,"s": here, and the digits and the '}'
	// follow in the ring, once the claim has fixed the sequence number.
	hdr = append(hdr[:len(hdr)-1], seqKey...)
	if err := c.claimNumbered(ctx, block, &cl, n+len(seqKey)); err != nil {
		return err
	}
	b := cl.Buf
	k := copy(b, hdr)
	seq := c.seqBase + cl.Seq
	d := len(b) - n - len(seqKey) // the claim's digits
	c.seqDigits.Put(b[k:k+d], seq)
	k += d
	b[k] = '}'
	copy(b[k+1:], data)
	frame.SetLength(b)
	c.store.Append(seq, cl.End-uint64(len(b)), b)
	c.commit(&cl)
	return nil
}

// seqKey opens the sequence number at the end of a stored publish's header.
const seqKey = `,"s":`

// maxStackHeader bounds the variable header fields (topic, correlation id,
// SOW key, before escaping) that publish encodes on the stack. The scratch
// buffer adds room for the fixed fields; escaping can at most double a
// field, and a header that still does not fit makes append move it to the
// heap, which only costs an allocation.
const maxStackHeader = 160

// publishLong is publish for headers too long for the stack scratch.
func (c *Client) publishLong(ctx context.Context, block bool, h *frame.Publish, data []byte) error {
	n, err := frame.PublishLen(h, len(data))
	if err != nil {
		return encodeErr(err)
	}
	if n+c.seqRoom > c.cfg.maxMessageSize {
		return &MessageTooLargeError{Size: n + c.seqRoom, Max: c.cfg.maxMessageSize}
	}
	var cl ring.Claim
	if c.store == nil {
		if err := c.claim(ctx, "publish", block, &cl, n); err != nil {
			return err
		}
		// PublishLen validated the header: AppendPublish cannot fail here,
		// and a claimed range must be committed whatever happens.
		frame.AppendPublish(cl.Buf[:0], h, data)
		c.commit(&cl)
		return nil
	}
	if err := c.claimNumbered(ctx, block, &cl, n+len(seqKey)); err != nil {
		return err
	}
	h.Seq = c.seqBase + cl.Seq // exactly the digits the claim counted
	frame.AppendPublish(cl.Buf[:0], h, data)
	c.store.Append(h.Seq, cl.End-uint64(len(cl.Buf)), cl.Buf)
	c.commit(&cl)
	return nil
}

// claimNumbered is claim for a frame that ends with its sequence number:
// n bytes plus the number's digits.
func (c *Client) claimNumbered(ctx context.Context, block bool, cl *ring.Claim, n int) error {
	var err error
	if block {
		err = c.ring.ClaimNumberedInto(ctx, cl, n, c.seqBase)
	} else {
		err = c.ring.TryClaimNumberedInto(cl, n, c.seqBase)
	}
	if err != nil {
		return c.claimErr(ctx, "publish", err)
	}
	return nil
}

// claim reserves n bytes of the ring, waiting while ctx lasts when block; op
// names the operation in a timeout error.
func (c *Client) claim(ctx context.Context, op string, block bool, cl *ring.Claim, n int) error {
	var err error
	if block {
		err = c.ring.ClaimInto(ctx, cl, n)
	} else {
		err = c.ring.TryClaimInto(cl, n)
	}
	if err != nil {
		return c.claimErr(ctx, op, err)
	}
	return nil
}

// claimErr turns a ring error into the client's.
func (c *Client) claimErr(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, ring.ErrFull):
		return ErrBufferFull
	case errors.Is(err, ring.ErrClosed):
		return c.stoppedErr()
	case isCtxErr(err):
		return ctxError(op, ctx.Err())
	}
	var se *ring.SizeError
	if errors.As(err, &se) {
		return &MessageTooLargeError{Size: se.N, Max: se.Max}
	}
	return &fieldError{sentinel: ErrInvalidValue, cause: err}
}

// encodeErr classifies an encoder error: the topic's are ErrInvalidTopic, a
// frame beyond what the length prefix can carry is ErrMessageTooLarge.
func encodeErr(err error) error {
	var tl *frame.FrameTooLargeError
	if errors.As(err, &tl) {
		return &MessageTooLargeError{Size: int(min(tl.Size, math.MaxInt)), Max: int(min(tl.Max, math.MaxInt))}
	}
	var ive *frame.InvalidValueError
	if errors.As(err, &ive) && (ive.Field == "t" || ive.Field == "topic") {
		return &fieldError{sentinel: ErrInvalidTopic, cause: err}
	}
	return &fieldError{sentinel: ErrInvalidValue, cause: err}
}

// stringBytes views s as a []byte without copying. The bytes are only read.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
