// Package subscriber is a minimal AMPS protocol subscriber for tests and for cmd/loadgen's
// verification mode: it connects (tcp or unix, through connstr and sockopt), logs on with a
// processed ack (user and password from the URI), subscribes to topics, returns deliveries
// one by one, and answers server heartbeats. It works against ampstest and against a real
// AMPS server. TLS (tcps) and logon challenges (status "retry") are not supported.
//
// # Concurrency and memory
//
// A background goroutine reads the connection: it answers {"c":"heartbeat"} with a beat,
// routes acks to the Subscribe/Unsubscribe call waiting for them, and copies deliveries into
// batches (up to 1024 messages or 1 MiB each, handed over whenever the socket has nothing
// more buffered) for Next. At most a few batches are in flight; when Next is not called, the
// reader stops reading and the server feels the backpressure (ampstest then slows every
// publisher to this subscriber). So call Next promptly, including while a Subscribe waits for
// its ack when messages are already flowing.
//
// Next is for one goroutine at a time; Subscribe, Unsubscribe, StartHeartbeat and Close may
// be called from any goroutine. Close waits for the reader goroutine.
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/frame"
)

// Version is the client version sent in the logon.
const Version = "0.1.0:go"

// Sentinel errors.
var (
	// ErrClosed: the Subscriber was closed by Close.
	ErrClosed = errors.New("subscriber: closed")
	// ErrConnection: the connection failed or the server closed it; the concrete error wraps
	// the cause (io.EOF, a net error, a frame error).
	ErrConnection = errors.New("subscriber: connection lost")
	// ErrUnsupported: the URI asks for something this subscriber cannot do (tcps).
	ErrUnsupported = errors.New("subscriber: unsupported")
	// ErrFailed: the server answered a command with a failure (or retry) status; the
	// concrete error is *ServerError.
	ErrFailed = errors.New("subscriber: command failed")
	// ErrAuthentication: a *ServerError with reason "auth failure" or
	// "authentication disabled", or a logon challenge (status "retry").
	ErrAuthentication = errors.New("subscriber: authentication failed")
	// ErrNotEntitled: a *ServerError with reason "not entitled".
	ErrNotEntitled = errors.New("subscriber: not entitled")
	// ErrNameInUse: a *ServerError with reason "name in use".
	ErrNameInUse = errors.New("subscriber: client name in use")
)

// ServerError is a failure ack. errors.Is matches ErrFailed, plus the sentinel of its reason
// (ErrAuthentication, ErrNotEntitled, ErrNameInUse) where there is one.
type ServerError struct {
	Command string // "logon", "subscribe", "unsubscribe"
	Status  string // "failure" or "retry"
	Reason  string // the server's reason text (amps-protocol.md §6)
}

func (e *ServerError) Error() string {
	return "subscriber: " + e.Command + " " + e.Status + ": " + strconv.Quote(e.Reason)
}

// Is reports whether target is ErrFailed or the sentinel of e's reason.
func (e *ServerError) Is(target error) bool {
	switch target {
	case ErrFailed:
		return true
	case ErrAuthentication:
		return e.Reason == "auth failure" || e.Reason == "authentication disabled" || e.Status == "retry"
	case ErrNotEntitled:
		return e.Reason == "not entitled"
	case ErrNameInUse:
		return e.Reason == "name in use"
	}
	return false
}

// connError wraps a read or write failure.
type connError struct{ err error }

func (e *connError) Error() string        { return "subscriber: connection lost: " + e.err.Error() }
func (e *connError) Unwrap() error        { return e.err }
func (e *connError) Is(target error) bool { return target == ErrConnection }

// Message is one delivery. Every slice is valid until the next call to Next; absent header
// fields are nil.
type Message struct {
	Topic         []byte
	SubID         []byte // "sub_id" (one matching subscription)
	SubIDs        []byte // "sids" (several subscriptions of this connection matched)
	Bookmark      []byte // "bm": "<publisher hash>|<sequence>|"
	CorrelationID []byte // "x"
	SowKey        []byte // "k"
	Timestamp     []byte // "ts"
	Seq           uint64 // "s", when HasSeq
	HasSeq        bool
	Payload       []byte
}

// Batching limits.
const (
	batchMsgs    = 1024
	batchBytes   = 1 << 20
	maxBatches   = 6
	beatTimeout  = 5 * time.Second
	readBufSize  = 256 << 10
	ackChanDepth = 1
)

type span struct{ off, n int } // n < 0: absent

type rec struct {
	topic, subID, subIDs, bm, x, k, ts, payload span
	seq                                         uint64
	hasSeq                                      bool
}

type batch struct {
	buf  []byte
	recs []rec
	next int
}

func (b *batch) add(v []byte) span {
	if v == nil {
		return span{n: -1}
	}
	off := len(b.buf)
	b.buf = append(b.buf, v...)
	return span{off: off, n: len(v)}
}

func (b *batch) get(s span) []byte {
	if s.n < 0 {
		return nil
	}
	return b.buf[s.off : s.off+s.n : s.off+s.n]
}

type ackResult struct{ status, reason string }

// Subscriber is one subscriber connection. Create it with Dial; always Close it.
type Subscriber struct {
	nc   net.Conn
	rd   *frame.Reader
	name string

	wmu  sync.Mutex
	wbuf []byte

	ids atomic.Uint64

	waitMu  sync.Mutex
	waiters map[string]chan ackResult

	full chan *batch // reader → Next; closed when the reader exits
	free chan *batch // Next → reader

	// Next's state (one goroutine at a time).
	cur *batch
	msg Message

	done      chan struct{} // closed by Close
	dead      chan struct{} // closed when the reader goroutine has exited
	readErr   error         // set before dead is closed
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Dial connects to uri (tcp:// or unix://, see package connstr; the URI's socket options are
// applied), logs on as clientName with a processed ack, the URI's user and password, and the
// URI's message type, and waits for the logon ack. ctx bounds the whole logon. A failure ack
// gives a *ServerError; a "retry" (challenge) is reported as one too, matching
// ErrAuthentication.
func Dial(ctx context.Context, uri string, clientName string) (*Subscriber, error) {
	u, err := connstr.Parse(uri)
	if err != nil {
		return nil, err
	}
	s, err := dial(ctx, u, clientName)
	if err != nil {
		return nil, redact(err, u.Password)
	}
	return s, nil
}

// redact hides password in err's text, which a dial error names when the
// password's text is part of the host or unix path (connstr's errors are
// redacted already; fastpub's ConnectionError does the same).
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &redactedError{msg: connstr.RedactString(err.Error(), password), err: err}
}

// redactedError is an error whose text had the password in it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Format prints the redacted text for every verb (%#v would otherwise print
// the cause's fields).
func (e *redactedError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.msg)
		return
	}
	io.WriteString(f, e.msg)
}

func dial(ctx context.Context, u *connstr.URI, clientName string) (*Subscriber, error) {
	if u.Transport != "tcp" && u.Transport != "unix" {
		return nil, fmt.Errorf("%w: transport %q", ErrUnsupported, u.Transport)
	}
	network, addr := u.Address()
	nc, err := u.Socket.Dialer().DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if sc, ok := nc.(syscall.Conn); ok && network != "unix" {
		if err := u.Socket.ApplyConnected(sc); err != nil {
			nc.Close()
			return nil, err
		}
	}
	s := &Subscriber{
		nc:      nc,
		rd:      frame.NewReader(nc, readBufSize, 0),
		name:    clientName,
		waiters: map[string]chan ackResult{},
		full:    make(chan *batch, maxBatches-2),
		free:    make(chan *batch, maxBatches),
		done:    make(chan struct{}),
		dead:    make(chan struct{}),
	}
	if err := s.logon(ctx, u); err != nil {
		nc.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.readLoop()
	return s, nil
}

var longAgo = time.Unix(1, 0)

func (s *Subscriber) logon(ctx context.Context, u *connstr.URI) error {
	// Only ctx interrupts I/O (no deadline copied from it), so an I/O timeout always comes with
	// ctx.Err() set.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		s.nc.SetDeadline(longAgo)
		close(fired)
	})
	err := s.logonLocked(u)
	if !stop() {
		<-fired
		if err == nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

func (s *Subscriber) logonLocked(u *connstr.URI) error {
	l := frame.Logon{CommandID: "logon", ClientName: s.name, UserID: u.User, Password: u.Password,
		MessageType: u.MessageType, Ack: frame.AckProcessed, Version: Version}
	if u.Pretty {
		l.Options = "pretty"
	}
	b, err := frame.AppendLogon(nil, &l)
	if err != nil {
		return err
	}
	if _, err := s.nc.Write(b); err != nil {
		return &connError{err}
	}
	var h frame.Header
	for {
		body, err := s.rd.Next()
		if err != nil {
			return &connError{err}
		}
		if _, err := h.Parse(body); err != nil {
			return &connError{err}
		}
		if h.Command != frame.CmdAck || string(h.CommandID) != "logon" {
			continue // a heartbeat or anything else before the logon ack
		}
		if st := string(h.Status); st != "success" {
			return &ServerError{Command: "logon", Status: st, Reason: string(h.Reason)}
		}
		return nil
	}
}

// Subscribe subscribes to topic (a literal topic name) with a new sub_id, waits for the
// processed ack, and returns the sub_id. A failure ack gives a *ServerError (e.g. matching
// ErrNotEntitled).
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (subID string, err error) {
	n := s.ids.Add(1)
	subID = "sub-" + strconv.FormatUint(n, 10)
	cid := "c" + strconv.FormatUint(n, 10)
	err = s.command(ctx, "subscribe", cid, &frame.Subscribe{Command: frame.CmdSubscribe,
		CommandID: cid, Topic: topic, SubID: subID, Ack: frame.AckProcessed})
	if err != nil {
		return "", err
	}
	return subID, nil
}

// Unsubscribe removes the subscription subID ("all" for every one) and waits for the ack.
func (s *Subscriber) Unsubscribe(ctx context.Context, subID string) error {
	cid := "c" + strconv.FormatUint(s.ids.Add(1), 10)
	return s.command(ctx, "unsubscribe", cid, &frame.Subscribe{Command: frame.CmdUnsubscribe,
		CommandID: cid, SubID: subID, Ack: frame.AckProcessed})
}

func (s *Subscriber) command(ctx context.Context, name, cid string, f *frame.Subscribe) error {
	ch := make(chan ackResult, ackChanDepth)
	s.waitMu.Lock()
	s.waiters[cid] = ch
	s.waitMu.Unlock()
	defer func() {
		s.waitMu.Lock()
		delete(s.waiters, cid)
		s.waitMu.Unlock()
	}()
	if err := s.write(ctx, func(b []byte) ([]byte, error) { return frame.AppendSubscribe(b, f) }); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.status != "success" {
			return &ServerError{Command: name, Status: r.status, Reason: r.reason}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.dead:
		return s.readErr
	}
}

// StartHeartbeat asks the server for heartbeats every seconds s ({"c":"heartbeat",
// "o":"start,N"}, no ack, as the C++ client does). The reader answers each server heartbeat
// with a beat, which keeps the connection alive while nothing else flows.
func (s *Subscriber) StartHeartbeat(ctx context.Context, seconds uint32) error {
	return s.write(ctx, func(b []byte) ([]byte, error) { return frame.AppendHeartbeatStart(b, seconds), nil })
}

// write encodes one frame and writes it, bounded by ctx. A failed write closes the
// Subscriber (the stream may hold half a frame).
func (s *Subscriber) write(ctx context.Context, enc func([]byte) ([]byte, error)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.done:
		return ErrClosed
	case <-s.dead:
		return s.readErr
	default:
	}
	b, err := enc(s.wbuf[:0])
	if err != nil {
		return err
	}
	s.wbuf = b
	s.nc.SetWriteDeadline(time.Time{}) // a previous cancellation may have left one
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		s.nc.SetWriteDeadline(longAgo)
		close(fired)
	})
	_, err = s.nc.Write(b)
	if !stop() {
		<-fired
	}
	if err != nil {
		s.nc.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &connError{err}
	}
	return nil
}

// Next returns the next delivery, waiting until one arrives, ctx is done, or the connection
// ends (then the error matches ErrConnection, or ErrClosed after Close; deliveries received
// before the end are returned first). The Message and its slices are valid until the next
// call to Next.
func (s *Subscriber) Next(ctx context.Context) (*Message, error) {
	for {
		if b := s.cur; b != nil {
			if b.next < len(b.recs) {
				r := &b.recs[b.next]
				b.next++
				s.msg = Message{
					Topic: b.get(r.topic), SubID: b.get(r.subID), SubIDs: b.get(r.subIDs),
					Bookmark: b.get(r.bm), CorrelationID: b.get(r.x), SowKey: b.get(r.k),
					Timestamp: b.get(r.ts), Seq: r.seq, HasSeq: r.hasSeq, Payload: b.get(r.payload),
				}
				if s.msg.Payload == nil {
					s.msg.Payload = b.buf[:0:0]
				}
				return &s.msg, nil
			}
			b.buf, b.recs, b.next = b.buf[:0], b.recs[:0], 0
			select {
			case s.free <- b:
			default:
			}
			s.cur = nil
		}
		select {
		case b, ok := <-s.full:
			if !ok {
				return nil, s.readErr
			}
			s.cur = b
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close closes the connection and waits for the reader goroutine. It is idempotent.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.nc.Close()
	})
	s.wg.Wait()
	return nil
}

func (s *Subscriber) readLoop() {
	defer s.wg.Done()
	var h frame.Header
	made := 1
	b := &batch{}
	var err error
	for {
		var body []byte
		if body, err = s.rd.Next(); err != nil {
			break
		}
		var payload []byte
		if payload, err = h.Parse(body); err != nil {
			break
		}
		switch h.Command {
		case frame.CmdPublish, frame.CmdDeltaPublish:
			b.recs = append(b.recs, rec{
				topic: b.add(h.Topic), subID: b.add(h.SubID), subIDs: b.add(h.SubIDs),
				bm: b.add(h.Bookmark), x: b.add(h.CorrelationID), k: b.add(h.SowKey),
				ts: b.add(h.Timestamp), payload: b.add(payload), seq: h.Seq, hasSeq: h.HasSeq,
			})
		case frame.CmdAck:
			s.waitMu.Lock()
			ch := s.waiters[string(h.CommandID)]
			s.waitMu.Unlock()
			if ch != nil {
				select {
				case ch <- ackResult{status: string(h.Status), reason: string(h.Reason)}:
				default:
				}
			}
		case frame.CmdHeartbeat:
			ctx, cancel := context.WithTimeout(context.Background(), beatTimeout)
			err = s.write(ctx, func(b []byte) ([]byte, error) { return frame.AppendHeartbeatBeat(b), nil })
			cancel()
		}
		if err != nil {
			break
		}
		if len(b.recs) > 0 && (s.rd.Buffered() == 0 || len(b.recs) >= batchMsgs || len(b.buf) >= batchBytes) {
			if !s.handOver(b) {
				break
			}
			b = nil
			select {
			case b = <-s.free:
			default:
				if made < maxBatches {
					made++
					b = &batch{}
				} else {
					select {
					case b = <-s.free:
					case <-s.done:
					}
				}
			}
			if b == nil {
				break
			}
		}
	}
	select {
	case <-s.done:
		s.readErr = ErrClosed
	default:
		if err == nil {
			err = ErrClosed
		}
		s.readErr = &connError{err}
	}
	if b != nil && len(b.recs) > 0 {
		s.handOver(b)
	}
	close(s.full)
	close(s.dead)
}

// handOver passes a batch to Next; false if the Subscriber is closed.
func (s *Subscriber) handOver(b *batch) bool {
	select {
	case s.full <- b:
		return true
	case <-s.done:
		return false
	}
}
