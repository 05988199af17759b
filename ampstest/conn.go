package ampstest

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// conn is one client connection. The reader goroutine (readLoop) owns every field in the
// "reader" group; the writer goroutine (writeLoop, writer.go) and producers on other
// connections share the "mu" group.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	rd  *frame.Reader
	hdr frame.Header

	// Reader goroutine only.
	loggedOn    bool
	challenged  bool
	isPub       bool    // has handled a publish or delta_publish (KillPublishers)
	nSubs       int     // subscriptions it holds
	cl          *client // set at logon; read by the writer only after a mu hand-off
	name        string
	pFrames     uint64 // counters not yet published to the atomics
	pBytes      uint64
	pPubs       uint64
	curTopic    []byte         // last topic seen, for the counter cache
	curTC       *topicCounters // its counters
	curHdr      []byte         // the last plain-publish header scanned, for curTopic; empty if none
	curSHdr     []byte         // the last stored publish's header scanned, up to "s": and the digits seqCache keeps, for curTopic; empty if none
	curSHead    uint64         // the value of the digits curSHdr ends with, 0 if it ends at "s":
	nFastStored uint64         // stored publishes the discard path handled (Server.fastStored, for tests)
	sPend       bool           // the discard path accepted stored publishes whose conflated persisted ack is not yet requested
	sSeq        uint64         // the highest of them
	held        bool           // the discard path holds c.cl.order for a batch of stored publishes (holdName)
	heldLast    uint64         // the name's last accepted sequence within that batch, published by releaseName
	pTopicPubs  uint64
	pTopicBytes uint64
	tsBuf       [32]byte // timestamp scratch: a delivery's "ts"
	bmBuf       [48]byte // bookmark scratch: a delivery's "bm" (a stack array would escape)

	// Shared, guarded by mu.
	mu          sync.Mutex
	out         []byte        // frames waiting for the writer
	spare       []byte        // the writer's other buffer
	spaceCh     chan struct{} // closed by the writer when it frees space; nil if nobody waits
	ackBuf      []byte        // held/delayed acks (encoded), see writer.go
	ackEnts     []ackEnt
	ackHead     int
	ackStart    int
	pendPersist bool     // a conflated persisted ack is pending
	pendSeq     uint64   // its sequence
	persistDue  int64    // when it is due (Server.now)
	closing     bool     // graceful close: write what is queued, then close
	persistBm   [48]byte // bookmark scratch of appendPersistLocked (a stack array would escape)

	persistTmpl     *persistAck // the successful persisted ack's template (writer.go); nil: none
	persistTmplDone bool        // persistTmpl was derived (or found unusable)

	kick       chan struct{} // 1-slot writer wake-up
	done       chan struct{} // closed by abort
	dead       atomic.Bool
	abortOnce  sync.Once
	reasonOnce sync.Once
	reason     CloseReason
	running    atomic.Int32 // goroutines still running (2 → 0)
	hbNanos    atomic.Int64 // heartbeat interval; 0 = not armed
	lastIn     atomic.Int64 // Server.now of the last successful socket read
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	c := &conn{
		srv:  s,
		nc:   nc,
		id:   id,
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	c.running.Store(2)
	c.lastIn.Store(s.now())
	c.rd = frame.NewReader((*connReader)(c), s.cfg.ReadBufferSize, s.cfg.MaxFrame)
	return c
}

// connReader is the io.Reader under the frame.Reader: it publishes pending counters before a
// read may block, honours PauseReading, and stamps inbound activity for the heartbeat.
type connReader conn

func (r *connReader) Read(p []byte) (int, error) {
	c := (*conn)(r)
	c.flushCounters()
	if c.srv.flags.Load()&(flagPause|flagStall) != 0 && !c.waitResume() {
		return 0, net.ErrClosed
	}
	n, err := c.nc.Read(p)
	if n > 0 {
		c.lastIn.Store(c.srv.now())
	}
	return n, err
}

// waitResume blocks the reader while reading is paused or the server is stalled; it returns
// false if the connection was aborted meanwhile.
func (c *conn) waitResume() bool {
	for {
		ch := c.srv.pauseChan()
		if ch == nil {
			ch = c.srv.stallChan()
		}
		if ch == nil {
			return true
		}
		select {
		case <-ch:
		case <-c.done:
			return false
		}
	}
}

func (c *conn) kickWriter() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// setReason records the first close reason (and counts it).
func (c *conn) setReason(r CloseReason) {
	c.reasonOnce.Do(func() {
		c.reason = r
		c.srv.countClose(r)
	})
}

// abort closes the connection now: queued output is discarded, both goroutines return.
func (c *conn) abort(r CloseReason) {
	c.setReason(r)
	c.abortOnce.Do(func() {
		c.dead.Store(true)
		close(c.done)
		c.nc.Close()
	})
}

// graceful stops processing and lets the writer send what is queued (bounded by
// gracefulTimeout) before it closes the socket. Held or delayed acks are discarded.
func (c *conn) graceful(r CloseReason) {
	c.setReason(r)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.kickWriter()
}

// exit is the last call of each of the two goroutines.
func (c *conn) exit() {
	if c.running.Add(-1) == 0 {
		c.srv.removeConn(c)
		if c.srv.cfg.Logf != nil {
			c.srv.logf("ampstest: conn %d (%v) closed: %s", c.id, c.nc.RemoteAddr(), c.reason)
		}
	}
	c.srv.wg.Done()
}

func (c *conn) readLoop() {
	reason := c.serve()
	c.srv.fastStored.Add(c.nFastStored)
	c.flushCounters()
	c.srv.removeSub(c, "all")
	c.srv.unbind(c)
	c.graceful(reason)
	c.exit()
}

// serve reads and handles frames until the connection must close, and says why.
func (c *conn) serve() CloseReason {
	s := c.srv
	for {
		body, err := c.rd.Next()
		if err != nil {
			return c.readErrReason(err)
		}
		c.pFrames++
		c.pBytes += uint64(len(body)) + frame.PrefixLen
		// Discard path: a plain publish while no hook or subscription needs to see it.
		if s.flags.Load() == 0 && c.loggedOn && !c.dead.Load() && !s.strictOnly {
			// A header byte for byte equal to the last one the scanner
			// validated is valid too, and names the same topic: one
			// comparison instead of a scan, for a publisher's usual stream
			// of frames to one topic.
			if h := c.curHdr; len(h) != 0 && len(body) >= len(h) && string(body[:len(h)]) == string(h) {
				c.pTopicPubs++
				c.pTopicBytes += uint64(len(body) - len(h))
				c.pPubs++
				continue
			}
			// Stored publishes (persisted ack, a new "s" in every frame): the
			// same, with the cache holding the header up to "s": and the
			// head of the digits (seqCache), and the rest of the digits
			// parsed after it. While FailSequence has faults pending the
			// strict path decides, as it does for "s":0. A frame the caches
			// do not take goes to the scanners, which cache it anew.
			if h := c.curSHdr; len(h) != 0 && len(body) > len(h) && string(body[:len(h)]) == string(h) {
				var seq uint64
				var n int
				if c.curSHead != 0 {
					seq, n = frame.SeqTail(c.curSHead, body[len(h):])
				} else {
					seq, n = scanSeq(body[len(h):])
				}
				if n != 0 && seq != 0 && s.failN.Load() == 0 {
					c.storedPublish(seq, len(body)-len(h)-n)
					continue
				}
			}
			if topic, n := scanPlainPublish(body); n != 0 {
				if c.curTC == nil || string(topic) != string(c.curTopic) {
					c.switchTopic(topic)
				}
				c.curHdr = append(c.curHdr[:0], body[:n]...)
				c.pTopicPubs++
				c.pTopicBytes += uint64(len(body) - n)
				c.pPubs++
				continue
			}
			if topic, k, seq, n := scanStoredPublish(body); n != 0 && seq != 0 && s.failN.Load() == 0 {
				if c.curTC == nil || string(topic) != string(c.curTopic) {
					c.switchTopic(topic)
				}
				m, head := seqCache(body[:n], k, seq)
				c.curSHdr, c.curSHead = append(c.curSHdr[:0], body[:m]...), head
				c.storedPublish(seq, len(body)-n)
				continue
			}
		}
		if r := c.handle(body); r != "" {
			return r
		}
	}
}

func (c *conn) readErrReason(err error) CloseReason {
	switch {
	case c.dead.Load():
		return CloseReadError // abort already recorded the real reason
	case errors.Is(err, frame.ErrFrameTooLarge):
		c.srv.logf("ampstest: conn %d: %v", c.id, err)
		return CloseFrameTooLarge
	case err == io.EOF:
		return CloseEOF
	case err == io.ErrUnexpectedEOF:
		return CloseTruncated
	}
	return CloseReadError
}

// handle runs one frame through the strict parser and its command; it returns a close reason
// when the connection must close.
func (c *conn) handle(body []byte) CloseReason {
	s := c.srv
	if c.dead.Load() {
		return CloseReadError
	}
	c.releaseName() // before a pause or a stall: another connection's logon may need the name
	flags := s.flags.Load()
	if flags&(flagPause|flagStall) != 0 && !c.waitResume() {
		return CloseReadError
	}
	var raw []byte
	if flags&flagRecord != 0 {
		raw = append([]byte(nil), body...)
	}
	payload, err := c.hdr.Parse(body)
	if err != nil {
		s.logf("ampstest: conn %d: %v", c.id, err)
		return CloseMalformedHeader
	}
	h := &c.hdr
	if h.CommandRaw == nil {
		s.logf("ampstest: conn %d: header without \"c\"", c.id)
		return CloseMalformedHeader
	}
	if h.AckRaw != nil {
		if _, err := frame.ParseAckType(h.AckRaw); err != nil {
			s.logf("ampstest: conn %d: %v", c.id, err)
			return CloseMalformedHeader
		}
	}
	if raw != nil {
		hl := len(raw) - len(payload)
		s.record(ReceivedFrame{Conn: c.id, ClientName: c.name, Command: h.Command,
			Header: raw[:hl:hl], Payload: raw[hl:]})
	}
	c.flushCounters()
	if r := c.dispatch(h, payload); r != "" {
		return r
	}
	if flags&flagCloseAfter != 0 && s.closeAfterHit() {
		s.faults.closedAfter.Add(1)
		c.abort(CloseHook)
		return CloseHook
	}
	if flags&flagKill != 0 && c.isPub && c.nSubs == 0 && s.killHit() {
		c.abort(CloseKilled)
		return CloseKilled
	}
	return ""
}

func (c *conn) dispatch(h *frame.Header, payload []byte) CloseReason {
	if !c.loggedOn && h.Command != frame.CmdLogon {
		if h.Ack != frame.AckNone {
			c.sendAck(&frame.Ack{CommandID: b2s(h.CommandID), Type: failType(h.Ack),
				Status: statusFailure, Reason: reasonLogonRequired}, false)
		}
		return CloseLogonRequired
	}
	switch h.Command {
	case frame.CmdLogon:
		return c.logon(h)
	case frame.CmdPublish, frame.CmdDeltaPublish:
		c.publish(h, payload)
	case frame.CmdFlush:
		c.flush(h)
	case frame.CmdHeartbeat:
		c.heartbeat(h)
	case frame.CmdSubscribe:
		c.subscribe(h)
	case frame.CmdUnsubscribe:
		c.unsubscribe(h)
	default:
		if h.Ack != frame.AckNone {
			c.sendAck(&frame.Ack{CommandID: b2s(h.CommandID), Type: failType(h.Ack),
				Status: statusFailure, Reason: reasonNotSupported}, false)
		}
	}
	return ""
}

// failType picks the one ack type that reports a command's failure: processed when it was
// requested, else the lowest requested type.
func failType(a frame.AckType) frame.AckType {
	if a.Has(frame.AckProcessed) {
		return frame.AckProcessed
	}
	return a & -a
}

func (c *conn) logon(h *frame.Header) CloseReason {
	s := c.srv
	cid := b2s(h.CommandID)
	if h.Ack.Has(frame.AckReceived) {
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckReceived, Status: statusSuccess}, false)
	}
	wantAck := h.Ack.Has(frame.AckProcessed)
	fail := func(reason string, cr CloseReason) CloseReason {
		if wantAck {
			c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckProcessed,
				Status: statusFailure, Reason: reason}, false)
		}
		return cr
	}
	if c.loggedOn {
		fail(reasonDupLogon, "")
		return ""
	}
	switch a := s.cfg.Auth.(type) {
	case Password:
		if string(h.UserID) != a.User || string(h.Password) != a.Password {
			return fail(reasonAuthFailure, CloseAuthFailure)
		}
	case Challenge:
		if !c.challenged {
			c.challenged = true
			if !wantAck {
				return CloseAuthFailure // a challenge can only travel in an ack
			}
			c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckProcessed, Status: statusRetry,
				UserID: a.User, Password: a.Token}, false)
			return ""
		}
		if string(h.UserID) != a.User || string(h.Password) != a.Answer {
			return fail(reasonAuthFailure, CloseAuthFailure)
		}
	}
	if len(h.ClientName) == 0 {
		return fail(reasonNoClientName, CloseNoClientName)
	}
	name := string(h.ClientName)
	cl, reason := s.bind(c, name, string(h.UserID))
	if cl == nil {
		return fail(reason, CloseNameInUse)
	}
	c.cl, c.name, c.loggedOn = cl, name, true
	if wantAck {
		last := cl.settledLast(s.state)
		var bmb [48]byte
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckProcessed, Status: statusSuccess,
			ClientName: name, Seq: last, HasSeq: true,
			Bookmark: b2s(appendBookmark(bmb[:0], cl.hashStr, last)),
			Version:  s.cfg.Version}, false)
	}
	return ""
}

func appendBookmark(dst []byte, hash string, seq uint64) []byte {
	dst = append(dst, hash...)
	dst = append(dst, '|')
	dst = frame.AppendUint(dst, seq)
	return append(dst, '|')
}

func (c *conn) publish(h *frame.Header, payload []byte) {
	s := c.srv
	cl := c.cl
	c.isPub = true
	if h.Ack.Has(frame.AckReceived) {
		c.sendAck(&frame.Ack{CommandID: b2s(h.CommandID), Type: frame.AckReceived,
			Status: statusSuccess}, true)
	}
	if len(h.Topic) == 0 {
		s.rejected.Add(1)
		cl.rejected.Add(1)
		c.publishFailed(h, statusFailure, reasonInvalidTopic)
		return
	}
	tc := c.topicCounters(h.Topic)
	flags := s.flags.Load()
	if flags&flagReject != 0 && s.isRejected(h.Topic) {
		s.rejected.Add(1)
		cl.rejected.Add(1)
		tc.rejected.Add(1)
		s.faults.notEntitled.Add(1)
		c.publishFailed(h, statusFailure, reasonNotEntitled)
		return
	}
	// Two connections with one name (an old one still draining its socket
	// while the client's new one replays, on this server or another of the
	// group) must not deliver out of sequence order: with subscribers,
	// accepting a sequence and queueing its deliveries happen under the
	// name's lock. While the State is not shared, a batch of the discard
	// path may hold the name (holdName): the decision takes the lock to wait
	// for it. The lock is let go before any ack, which can block while acks
	// are withheld: a logon of the name must not wait for those.
	locked := false
	if h.HasSeq && h.Seq != 0 {
		if flags&flagSubs != 0 || !s.state.shared.Load() {
			cl.order.Lock()
			locked = true
		}
		reason, status := c.acceptSeq(h.Seq)
		if locked && (reason != "" || flags&flagSubs == 0) {
			cl.order.Unlock()
			locked = false
		}
		switch reason {
		case "":
		case reasonGone:
			return
		case reasonDuplicate:
			s.duplicates.Add(1)
			cl.duplicates.Add(1)
			tc.duplicates.Add(1)
			c.publishFailed(h, status, reason)
			return
		default:
			s.rejected.Add(1)
			cl.rejected.Add(1)
			tc.rejected.Add(1)
			c.publishFailed(h, status, reason)
			return
		}
	}
	ord := s.publishes.Add(1)
	cl.publishes.Add(1)
	tc.publishes.Add(1)
	tc.bytes.Add(uint64(len(payload)))
	if flags&flagDrop != 0 && s.takeDrop(ord) {
		s.dropped.Add(1)
	} else if flags&flagSubs != 0 {
		c.deliver(h, payload, ord, tc)
	}
	if locked {
		cl.order.Unlock()
	}
	if h.Ack.Has(frame.AckProcessed) {
		c.sendAck(&frame.Ack{CommandID: b2s(h.CommandID), Type: frame.AckProcessed,
			Status: statusSuccess}, true)
	}
	if h.Ack.Has(frame.AckPersisted) {
		seq := h.Seq
		if !h.HasSeq || seq == 0 {
			seq = cl.last.Load()
		}
		c.persistSuccess(seq)
	}
}

// acceptSeq decides, under the name's lock, what becomes of a publish with
// sequence seq on the strict path: accepted (reason ""), refused by a
// FailSequence fault or as a duplicate (the reason and the status of its
// failure ack), or dropped without an ack (reasonGone) because the
// connection was replaced while it waited for the lock: while the State is
// unshared, the replacement's logon ack takes the same lock after the
// replaced connection is marked dead, and may already have reported the
// name's sequence without this frame. In a shared State the logon ack does
// not take the name's lock (settledLast), and a frame that passes the
// check just before its connection is replaced can still be accepted after
// the ack was sent, as before batches existed: the client then sees a
// duplicate's failure ack for its resend, and loses nothing.
func (c *conn) acceptSeq(seq uint64) (reason, status string) {
	s, cl := c.srv, c.cl
	if c.dead.Load() {
		return reasonGone, ""
	}
	if s.failN.Load() != 0 && seq > cl.last.Load() {
		if reason, ok := s.takeFail(c.name, seq); ok {
			return reason, statusFailure
		}
	}
	if !cl.advance(seq) {
		return reasonDuplicate, s.cfg.DuplicateStatus
	}
	return "", ""
}

// reasonGone is acceptSeq's verdict for a connection replaced meanwhile;
// it is never sent.
const reasonGone = "\x00gone"

// storedPublish is publish for a stored publish recognised by the discard path: a publish of
// c.curTopic with "a":"persisted", "s":seq (not 0) and payloadLen bytes of payload, no other
// field, while no slow-path flag is set and no FailSequence fault is pending. It does what
// handle and publish do for such a frame (sequence accepted or refused as a duplicate,
// counters, persisted ack), without the parser, and with conflated acks (Config.Persisted is
// Conflated) a batch at a time: the counters go to the reader's pending ones, as a plain
// publish's do, and the persisted ack is requested once for the highest sequence of the
// frames handled in a row, where the pending counters are published (flushCounters: before
// the reader's next read, before any frame the strict path handles, at the end, and here
// before a duplicate's failure ack). A client sees the same acks and
// counters as frame by frame (the conflated ack covers the same sequences, the counters are
// published before the ack is requested); the server saves a lock, a clock read and a few
// shared atomics per frame. Immediate acks stay one per frame.
func (c *conn) storedPublish(seq uint64, payloadLen int) {
	s := c.srv
	c.nFastStored++
	c.isPub = true
	cl := c.cl
	if s.cfg.conflate != 0 && (c.held || !s.state.shared.Load()) {
		// A batch at a time: the name's lock is taken at the batch's first
		// stored publish and its last sequence kept here until the batch
		// ends (flushCounters), instead of a CAS per frame. A batch begins
		// only while no other server shares the State (a member of a group
		// with immediate acks advances the record with a CAS, without the
		// lock), and State.join waits for the batches in flight before it
		// shares it, so a batch that holds the name goes on to its end.
		if !c.held {
			switch c.holdName() {
			case holdGone:
				return
			case holdShared:
				goto cas
			}
		}
		if seq <= c.heldLast {
			c.flushCounters()
			c.duplicate(seq)
			return
		}
		c.heldLast = seq
		c.pPubs++
		c.pTopicPubs++
		c.pTopicBytes += uint64(payloadLen)
		c.sPend, c.sSeq = true, seq
		return
	}
cas:
	if !cl.advance(seq) {
		c.flushCounters()
		c.duplicate(seq)
		return
	}
	c.pPubs++
	c.pTopicPubs++
	c.pTopicBytes += uint64(payloadLen)
	c.flushCounters()
	c.persistSuccess(seq)
}

// holdName takes the client name's lock for a batch of stored publishes
// on the discard path, and the name's last sequence with it: until
// releaseName, the batch accepts or refuses sequences against its own copy,
// which no other connection can move meanwhile (while the State is
// unshared, every other writer of the name's sequence, and every logon ack,
// takes the same lock). Two connections with one name (an old one draining
// while the client's new one replays) so still never both accept a
// sequence, and a logon ack never reports a sequence below one already
// accepted; a batch lasts at most until the reader's next read or next
// strict frame, which release it first. With conflated acks and a
// State that no other server has joined only: immediate acks end a batch
// at every frame, and take the CAS path (record.advance) instead, as every
// member of a group does.
//
// It reports holdGone, holding nothing, when the connection was replaced
// while it waited for the lock (the replacement's logon ack may already
// have reported the name's sequence: the frame is dropped, as every later
// one is), and holdShared when another server has joined the State
// meanwhile (State.join): the frame takes the CAS path.
func (c *conn) holdName() int {
	cl, st := c.cl, c.srv.state
	cl.order.Lock()
	if c.dead.Load() {
		cl.order.Unlock()
		return holdGone
	}
	st.batchMu.RLock() // join waits for it (State.join)
	if st.shared.Load() {
		st.batchMu.RUnlock()
		cl.order.Unlock()
		return holdShared
	}
	c.held, c.heldLast = true, cl.last.Load()
	return holdOK
}

// holdName's results.
const (
	holdOK = iota
	holdGone
	holdShared
)

// releaseName publishes the batch's last sequence and lets go of the
// name's lock (see holdName); a no-op without a batch.
func (c *conn) releaseName() {
	if !c.held {
		return
	}
	c.held = false
	c.cl.last.Store(c.heldLast)
	c.srv.state.batchMu.RUnlock()
	c.cl.order.Unlock()
}

// duplicate refuses a stored publish of the discard path whose sequence
// the name has already accepted.
func (c *conn) duplicate(seq uint64) {
	s := c.srv
	s.duplicates.Add(1)
	c.cl.duplicates.Add(1)
	c.curTC.duplicates.Add(1)
	c.persistFailure(seq, true, s.cfg.DuplicateStatus, reasonDuplicate)
}

// flushStored requests the conflated persisted ack of the stored publishes storedPublish
// accepted since the last call; flushCounters calls it once their counters are published.
func (c *conn) flushStored() {
	if !c.sPend {
		return
	}
	c.sPend = false
	c.persistSuccess(c.sSeq)
}

// publishFailed sends the processed and persisted acks (when requested) of a publish that was
// not accepted.
func (c *conn) publishFailed(h *frame.Header, status, reason string) {
	if h.Ack.Has(frame.AckProcessed) {
		c.sendAck(&frame.Ack{CommandID: b2s(h.CommandID), Type: frame.AckProcessed,
			Status: status, Reason: reason}, true)
	}
	if h.Ack.Has(frame.AckPersisted) {
		c.persistFailure(h.Seq, h.HasSeq, status, reason)
	}
}

// deliver queues one delivery frame per subscribed connection.
func (c *conn) deliver(h *frame.Header, payload []byte, ord uint64, tc *topicCounters) {
	targets := (*c.srv.state.subTab.Load())[string(h.Topic)]
	if len(targets) == 0 {
		return
	}
	seq := ord
	if h.HasSeq && h.Seq != 0 {
		seq = h.Seq
	}
	// The bookmark and timestamp are formatted into the reader's scratch buffers: the
	// encoder keeps no reference to them, but escape analysis cannot see that, and a local
	// array would cost one heap allocation per delivered message.
	d := frame.Delivery{
		Bookmark:      b2s(appendBookmark(c.bmBuf[:0], c.cl.hashStr, seq)),
		Timestamp:     c.timestamp(),
		CorrelationID: b2s(h.CorrelationID),
		SowKey:        b2s(h.SowKey),
	}
	var n uint64
	for i := range targets {
		t := &targets[i]
		d.Topic, d.SubID, d.SubIDs = t.topic, t.subID, t.subIDs
		if t.c.queueDelivery(c, &d, payload) {
			n++
		}
	}
	c.srv.delivered.Add(n)
	tc.delivered.Add(n)
}

// timestamp formats the current UTC time as AMPS does (YYYYMMDDThhmmss.uuuuuuZ) into c.tsBuf;
// the result is valid until the next call.
func (c *conn) timestamp() string {
	t := time.Now().UTC()
	y, mo, d := t.Date()
	hh, mi, ss := t.Clock()
	b := c.tsBuf[:0]
	b = appendPadded(b, y, 4)
	b = appendPadded(b, int(mo), 2)
	b = appendPadded(b, d, 2)
	b = append(b, 'T')
	b = appendPadded(b, hh, 2)
	b = appendPadded(b, mi, 2)
	b = appendPadded(b, ss, 2)
	b = append(b, '.')
	b = appendPadded(b, t.Nanosecond()/1000, 6)
	b = append(b, 'Z')
	return b2s(b)
}

func appendPadded(b []byte, v, width int) []byte {
	var tmp [8]byte
	for i := width - 1; i >= 0; i-- {
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[:width]...)
}

func (c *conn) flush(h *frame.Header) {
	cid := b2s(h.CommandID)
	for _, t := range [...]frame.AckType{frame.AckReceived, frame.AckProcessed, frame.AckCompleted} {
		if h.Ack.Has(t) {
			c.sendAck(&frame.Ack{CommandID: cid, Type: t, Status: statusSuccess}, true)
		}
	}
	if h.Ack.Has(frame.AckPersisted) {
		// In-order processing: every earlier publish is handled; force out the conflated ack
		// that covers them, then the flush's own ack behind it.
		if !c.lockSpace(nil) {
			return
		}
		now := c.srv.now()
		if c.pendPersist {
			c.emitPendingLocked(now)
		}
		c.appendAckLocked(&frame.Ack{CommandID: cid, Type: frame.AckPersisted,
			Status: statusSuccess}, true, now)
		c.mu.Unlock()
		c.kickWriter()
	}
}

func (c *conn) heartbeat(h *frame.Header) {
	o := h.Options
	ok := true
	switch {
	case string(o) == "beat":
		// Inbound traffic, already stamped by the read; never answered.
	case string(o) == "stop":
		c.hbNanos.Store(0)
	case len(o) > 6 && string(o[:6]) == "start,":
		n, good := parseSeconds(o[6:])
		switch {
		case !good:
			ok = false
		case n == 0:
			c.hbNanos.Store(0)
		default:
			c.lastIn.Store(c.srv.now())
			c.hbNanos.Store(int64(n) * int64(time.Second))
			c.kickWriter()
		}
	default:
		ok = false
	}
	cid := b2s(h.CommandID)
	if h.Ack.Has(frame.AckReceived) {
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckReceived, Status: statusSuccess}, false)
	}
	if h.Ack.Has(frame.AckProcessed) {
		a := frame.Ack{CommandID: cid, Type: frame.AckProcessed, Status: statusSuccess}
		if !ok {
			a.Status, a.Reason = statusFailure, reasonInvalidOpts
		}
		c.sendAck(&a, false)
	}
}

// parseSeconds parses a heartbeat interval: 1 to 9 decimal digits.
func parseSeconds(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	var n uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + uint64(ch-'0')
	}
	return n, true
}

func (c *conn) subscribe(h *frame.Header) {
	s := c.srv
	cid := b2s(h.CommandID)
	if h.Ack.Has(frame.AckReceived) {
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckReceived, Status: statusSuccess}, false)
	}
	status, reason := statusSuccess, ""
	subID := h.SubID
	if len(subID) == 0 {
		subID = h.CommandID
	}
	switch {
	case len(h.Topic) == 0:
		status, reason = statusFailure, reasonNoTopic
	case len(subID) == 0:
		status, reason = statusFailure, reasonInvalidSubID
	case s.isRejected(h.Topic):
		status, reason = statusFailure, reasonNotEntitled
	case !s.addSub(c, string(subID), string(h.Topic)):
		status, reason = statusFailure, reasonSubIDInUse
	default:
		c.nSubs++
	}
	if h.Ack.Has(frame.AckProcessed) {
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckProcessed, Status: status,
			Reason: reason}, false)
	}
}

func (c *conn) unsubscribe(h *frame.Header) {
	cid := b2s(h.CommandID)
	if h.Ack.Has(frame.AckReceived) {
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckReceived, Status: statusSuccess}, false)
	}
	subID := h.SubID
	if subID == nil {
		subID = h.CommandID
	}
	if len(subID) == 0 {
		subID = []byte("all")
	}
	c.nSubs -= c.srv.removeSub(c, string(subID))
	if h.Ack.Has(frame.AckProcessed) {
		c.sendAck(&frame.Ack{CommandID: cid, Type: frame.AckProcessed, Status: statusSuccess}, false)
	}
}

// switchTopic publishes the pending counters of the cached topic and caches topic.
func (c *conn) switchTopic(topic []byte) {
	c.flushTopic()
	c.curTC = c.srv.topic(topic)
	c.curTopic = append(c.curTopic[:0], topic...)
	c.curHdr = c.curHdr[:0]
	c.curSHdr, c.curSHead = c.curSHdr[:0], 0
}

func (c *conn) topicCounters(topic []byte) *topicCounters {
	if c.curTC == nil || string(topic) != string(c.curTopic) {
		c.switchTopic(topic)
	}
	return c.curTC
}

func (c *conn) flushTopic() {
	if c.pTopicPubs != 0 {
		c.curTC.publishes.Add(c.pTopicPubs)
		c.curTC.bytes.Add(c.pTopicBytes)
		c.pTopicPubs, c.pTopicBytes = 0, 0
	}
}

// flushCounters publishes the reader's pending counters to the shared atomics, then requests
// the conflated persisted ack the discard path held back for the stored publishes counted
// (flushStored): whoever sees that ack sees them counted.
func (c *conn) flushCounters() {
	c.releaseName() // first: the counters and the conflated ack below come after the batch's sequence
	s := c.srv
	if c.pFrames != 0 {
		s.frames.Add(c.pFrames)
		s.bytes.Add(c.pBytes)
		if c.cl != nil {
			c.cl.frames.Add(c.pFrames)
			c.cl.bytes.Add(c.pBytes)
		}
		c.pFrames, c.pBytes = 0, 0
	}
	if c.pPubs != 0 {
		s.publishes.Add(c.pPubs)
		c.cl.publishes.Add(c.pPubs)
		c.pPubs = 0
	}
	c.flushTopic()
	c.flushStored()
}
