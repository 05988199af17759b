package fastpub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/ring"
	"github.com/fastpub/fastpub/store"
)

// Version is this client's version; the logon sends it as "<Version>:go".
const Version = "0.1.0"

// The client's life:
//
//	new → connected → loggingOn → loggedOn ⇄ reconnecting (with WithReconnect)
//	                                  ↓ (a lost connection, without WithReconnect,
//	                                  ↓  or when reconnecting gives up)
//	                             disconnected → connected (Connect resumes)
//	any → closing → closed
//
// A failed logon closes the connection and returns to new (or to
// disconnected, once the client has been logged on), so Connect may be
// called again. The send ring lives from the first logon to Close: frames
// queued while disconnected or reconnecting wait in it, and a new
// connection sends them (with a store, everything not yet persisted) before
// any new frame.
const (
	stateNew int32 = iota
	stateConnected
	stateLoggingOn // the logon exchange runs without mu; Close may interrupt it
	stateLoggedOn
	stateClosing
	stateClosed
	stateDisconnected
	stateReconnecting // publishes queue into the ring; the reconnect loop runs
)

// Client is one named connection to an AMPS server, for publishing.
//
// Publish and its variants are safe for concurrent use by any number of
// goroutines; each encodes its frame straight into the client's send ring and
// returns once the frame is queued (not written). PublishFlush waits until the
// server has processed (with a store: persisted) everything queued before
// it (without a store: on the current connection; see PublishFlush).
// Connect, Logon and Close are meant to be called once each, in that order;
// after a disconnect, Connect and Logon resume (WithReconnect does it by
// itself).
type Client struct {
	name string
	cfg  config

	state atomic.Int32

	// Set at the first logon, then fixed until Close.
	ring    *ring.Ring
	seqBase uint64 // with a store: the AMPS sequence number of ring frame 0
	seqRoom int    // with a store: the most bytes a publish's ,"s":N adds (WithMaxMessageSize counts them)
	// seqDigits writes the sequence number of a stored publish (the
	// digits above its last eight are cached: publishers share them for
	// 10⁸ frames at a time).
	seqDigits frame.SeqDigits
	// The inline write (writer.go): the session whose writer may be
	// parked (nil: none, or inline writes off), when the socket last took
	// bytes (nanotime), the credit of inline writes closer together than
	// the threshold (wantInline), and wantInline bound once.
	inline       atomic.Pointer[session]
	lastWrite    atomic.Int64
	inlineCredit atomic.Int64
	inlineWant   func() bool
	// beginSeq: with a store, the sequence number of the first frame of
	// this process's stream (after what was recovered).
	beginSeq uint64
	// logonHeld: with a store, how many ring frames from the first the
	// server of this session said at its logon it holds (L - seqBase + 1,
	// or 0). With SentEver it bounds what an ack may free: frames
	// recovered from an earlier process and not yet sent again count only
	// as far as a logon said. Ring consumer only.
	logonHeld uint64

	store    store.Store // cfg.store, nil without one
	acks     ackState
	events   dispatcher
	counters counters
	wlog     wireLog

	cidSeq atomic.Uint64

	mu      sync.Mutex
	err     error                 // why the client stopped (ErrClosed, a *ConnectionError, ...)
	outage  error                 // the last disconnect's *ConnectionError under a reconnect policy
	flushes map[string]*flushWait // pending PublishFlush calls by command id

	uri      *connstr.URI // the current (or last) connection's URI
	pending  *session     // connected by Connect, not yet logged on
	sess     *session     // the logged-on connection, nil between connections
	last     *session     // the last logged-on connection, until its goroutines are gone
	logonCfg *logonConfig // the options of the last successful Logon, for reconnects
	chooser  ServerChooser
	closing  chan struct{} // closed by Close: stops the reconnect loop
	supDone  chan struct{} // non-nil while a reconnect loop runs; closed when it ends

	lastSeq       uint64 // the server's last sequence for this name, from the logon ack
	serverVersion string
}

// session is one connection: its socket, its frame reader, its writer and
// the channels its two goroutines close.
type session struct {
	uri        *connstr.URI
	conn       net.Conn
	in         *inbound // fr's source: the connection, with the reader's deadline
	fr         *frame.Reader
	w          *writer
	stop       chan struct{} // closed when the connection fails: the writer stops at once
	writerDone chan struct{}
	readerDone chan struct{}
	failed     bool        // under Client.mu
	beat       atomic.Bool // the reader asks the writer for a heartbeat beat (beat.go)
}

// wait returns once both goroutines of s have exited.
func (s *session) wait() {
	if s != nil && s.writerDone != nil {
		<-s.writerDone
		<-s.readerDone
	}
}

// NewClient returns a client that logs on as name. The name identifies the
// publisher to the server: AMPS uses it to detect duplicate messages and,
// with a transaction log, allows one connection per name. It must be non-empty.
func NewClient(name string, opts ...Option) (*Client, error) {
	if name == "" {
		return nil, &fieldError{sentinel: ErrInvalidValue, cause: errors.New("client name is empty")}
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{name: name, cfg: cfg, store: cfg.store, closing: make(chan struct{})}
	if c.store != nil {
		c.seqRoom = len(seqKey) + ring.MaxNumberLen
	}
	c.wlog.epoch = time.Now()
	if cfg.inlineAfter > 0 {
		c.inlineWant = c.wantInline
	}
	return c, nil
}

// Name returns the client name given to NewClient.
func (c *Client) Name() string { return c.name }

// ServerVersion returns the version the server reported at logon ("" before).
func (c *Client) ServerVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serverVersion
}

// LastSequence returns the last sequence number the server had recorded for
// this client name when it accepted the logon (0 when it had none).
func (c *Client) LastSequence() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq
}

// Connect parses uri (see package connstr for the grammar and every option)
// and opens the connection, applying every transport option to the socket.
// It does not log on. ctx bounds the connection attempt, TLS handshake
// included.
//
// A malformed URI returns an error matching ErrInvalidURI; a failed connection
// a *ConnectionError matching ErrConnect that unwraps to the operating
// system's error.
func (c *Client) Connect(ctx context.Context, uri string) error {
	u, err := connstr.Parse(uri)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state.Load() {
	case stateNew, stateDisconnected:
	case stateClosing, stateClosed:
		return ErrClosed
	default:
		return ErrAlreadyConnected
	}
	s, err := c.dial(ctx, u)
	if err != nil {
		return err
	}
	c.uri, c.pending = u, s
	if c.cfg.reconnect != nil && c.chooser == nil {
		c.chooser = c.cfg.reconnect.Chooser
		if c.chooser == nil {
			c.chooser = NewRoundRobin(append([]string{uri}, c.cfg.reconnect.Servers...)...)
		}
	}
	c.state.Store(stateConnected)
	return nil
}

// dial opens a session to u (not logged on).
func (c *Client) dial(ctx context.Context, u *connstr.URI) (*session, error) {
	conn, err := dial(ctx, u, &c.cfg)
	if err != nil {
		return nil, newConnErr("connect", u, err, ErrConnect)
	}
	in := &inbound{conn: conn}
	fr := frame.NewReader(in, inboundBuffer, c.cfg.maxInbound)
	fr.SetShrink(true)
	return &session{uri: u, conn: conn, in: in, fr: fr}, nil
}

// inbound is what the session's frame reader reads from: the connection,
// and, once the reader goroutine arms it with the heartbeat timeout, a read
// deadline pushed to that timeout from now before each read system call.
// So a silent server is detected exactly as with a deadline set before
// each frame, at a timer update per read (many acks) instead of per ack:
// under a flood of persisted acks the per-frame deadline was a tenth of the
// reader's time. Before arming (logon), the connection's deadlines are the
// logon's.
type inbound struct {
	conn    net.Conn
	timeout time.Duration // set by readLoop before its first read; 0: no deadline
}

func (in *inbound) Read(p []byte) (int, error) {
	if in.timeout > 0 {
		if err := in.conn.SetReadDeadline(time.Now().Add(in.timeout)); err != nil {
			return 0, err
		}
	}
	return in.conn.Read(p)
}

// inboundBuffer is the reader's buffer: room for many acks per read.
const inboundBuffer = 4 << 10

// dial opens the transport named by u: tcp (trying the preferred address
// family first), tcps (TLS over it) or unix.
func dial(ctx context.Context, u *connstr.URI, cfg *config) (net.Conn, error) {
	d := u.Socket.Dialer()
	if u.Transport == "unix" {
		return d.DialContext(ctx, "unix", u.Path)
	}
	ips, err := resolve(ctx, u.Host, u.IPPrefer)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	for _, ip := range ips {
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), u.Port))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if err := u.Socket.ApplyConnected(sc); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if u.Transport != "tcps" {
		return conn, nil
	}
	var tc *tls.Config
	if cfg.tlsConfig != nil {
		tc = cfg.tlsConfig.Clone()
	} else {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Host
		if u.SNI != "" {
			tc.ServerName = u.SNI
		}
	}
	tlsConn := tls.Client(conn, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tlsConn, nil
}

// resolve returns host's addresses, the preferred family ("ipv4" unless
// prefer is "ipv6") first, as the official client does.
func resolve(ctx context.Context, host, prefer string) ([]net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	wantV6 := prefer == "ipv6"
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	sort.SliceStable(ips, func(i, j int) bool {
		iv6, jv6 := ips[i].To4() == nil, ips[j].To4() == nil
		return iv6 == wantV6 && jv6 != wantV6
	})
	return ips, nil
}

// Logon sends the logon command and waits for the server's answer. The
// password comes from the Authenticator (default: DefaultAuthenticator, the
// URI's password); a server challenge ("retry") is answered through
// Authenticator.Retry, up to WithLogonRetries times. ctx bounds the whole
// exchange: past its deadline Logon returns a *TimedOutError. The options
// are kept: reconnects log on with them.
//
// On success the client starts its writer and reader goroutines and publishes
// may begin. On a client that was logged on before (Connect after a
// disconnect), the logon resumes: with a store, frames the server has
// persisted (its last sequence, from the logon ack) are discarded, and the
// rest is sent again before any new frame; a publish gap is a
// *PublishGapError under GapFail. A refused logon returns a *ServerError
// (ErrAuthentication, ErrNameInUse, ...), closes the connection, and leaves
// the client ready for another Connect.
func (c *Client) Logon(ctx context.Context, opts ...LogonOption) error {
	c.mu.Lock()
	switch c.state.Load() {
	case stateConnected:
	case stateNew:
		c.mu.Unlock()
		return ErrNotConnected
	case stateLoggingOn, stateLoggedOn, stateReconnecting:
		c.mu.Unlock()
		return &ServerError{Command: "logon", Status: "failure", Reason: "duplicate logon attempt"}
	case stateDisconnected:
		defer c.mu.Unlock()
		return c.err
	default:
		c.mu.Unlock()
		return ErrClosed
	}
	c.state.Store(stateLoggingOn)
	s := c.pending
	c.mu.Unlock()

	lc := &logonConfig{auth: DefaultAuthenticator{}, retries: DefaultLogonRetries}
	for _, o := range opts {
		o(lc)
	}
	ack, err := c.logonRecover(ctx, s, lc)
	if err == nil {
		c.last.wait() // the ring's consumer role must be free
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateLoggingOn {
		return ErrClosed // Close ran meanwhile and closed the connection
	}
	c.pending = nil
	back := stateNew
	if c.ring != nil {
		back = stateDisconnected
	}
	if err != nil {
		// The connection is in an unknown state: drop it. Connect may be
		// called again.
		s.conn.Close()
		c.state.Store(back)
		if ctx.Err() != nil && !errors.As(err, new(*ServerError)) {
			err = ctxError("logon", ctx.Err())
		}
		if back == stateDisconnected {
			c.err = err
		}
		return err
	}
	c.logonCfg = lc
	if err := c.activate(s, ack); err != nil {
		s.conn.Close()
		c.state.Store(back)
		if back == stateDisconnected {
			c.err = err
		}
		return err
	}
	return nil
}

// logonRecover runs the logon exchange and turns a panic in the
// Authenticator (the only foreign code it calls) into an error matching
// ErrAuthentication: Logon then drops the connection as for any failed
// logon, and the client can Connect again. The panic's value is kept in the
// error, with the password redacted.
func (c *Client) logonRecover(ctx context.Context, s *session, lc *logonConfig) (ack logonAck, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &fieldError{sentinel: ErrAuthentication, cause: errors.New("the Authenticator panicked: " + connstr.RedactString(fmt.Sprint(v), s.uri.Password))}
		}
	}()
	return c.logon(ctx, s, lc)
}

type logonAck struct {
	lastSeq uint64
	version string
}

// logon runs the logon exchange on the caller's goroutine, before the
// session's reader and writer exist.
func (c *Client) logon(ctx context.Context, s *session, lc *logonConfig) (logonAck, error) {
	// The context alone bounds the exchange: when it ends, the connection's
	// deadline moves to the past and the blocked read or write returns, with
	// ctx.Err() already set (a deadline copied from ctx could fire first).
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		s.conn.SetDeadline(time.Time{})
	}()

	user := s.uri.User
	pw, err := lc.auth.Authenticate(user, s.uri.Password)
	if err != nil {
		return logonAck{}, &fieldError{sentinel: ErrAuthentication, cause: err}
	}
	options := lc.options
	if s.uri.Pretty {
		if options != "" {
			options += ","
		}
		options += "pretty"
	}
	// As the official C client: the same command id on every retry.
	cid := "auto" + strconv.FormatUint(c.cidSeq.Add(1), 10)
	var h frame.Header
	for attempt := 0; ; attempt++ {
		msg, err := frame.AppendLogon(nil, &frame.Logon{
			CommandID:     cid,
			ClientName:    c.name,
			UserID:        user,
			MessageType:   s.uri.MessageType,
			Ack:           frame.AckProcessed,
			Version:       Version + ":go",
			CorrelationID: lc.correlationID,
			Password:      pw,
			Options:       options,
		})
		if err != nil {
			return logonAck{}, &fieldError{sentinel: ErrInvalidValue, cause: err}
		}
		if _, err := s.conn.Write(msg); err != nil {
			return logonAck{}, newConnErr("write", s.uri, err, ErrDisconnected)
		}
		if err := readAck(s, &h, cid); err != nil {
			return logonAck{}, err
		}
		status := string(h.Status)
		switch status {
		case "success":
			lc.auth.Completed(user, pw, string(h.Reason))
			return logonAck{lastSeq: lastSequence(&h), version: string(h.Version)}, nil
		case "retry":
			if attempt >= lc.retries {
				return logonAck{}, &ServerError{Command: "logon", Status: status, Reason: "too many authentication retries"}
			}
			if len(h.UserID) > 0 {
				user = string(h.UserID)
			}
			if pw, err = lc.auth.Retry(user, string(h.Password)); err != nil {
				return logonAck{}, &fieldError{sentinel: ErrAuthentication, cause: err}
			}
		default:
			lc.auth.Completed(user, pw, string(h.Reason))
			return logonAck{}, &ServerError{Command: "logon", Status: status, Reason: string(h.Reason)}
		}
	}
}

// maxStrayFrames bounds how many unrelated frames the logon reads before it
// gives up on the server.
const maxStrayFrames = 1024

// readAck reads frames of s until the ack for cid arrives.
func readAck(s *session, h *frame.Header, cid string) error {
	for i := 0; i < maxStrayFrames; i++ {
		body, err := s.fr.Next()
		if err != nil {
			return newConnErr("read", s.uri, readErr(err), ErrDisconnected)
		}
		h.Reset()
		if _, err := h.Parse(body); err != nil {
			return newConnErr("read", s.uri, protocolErr(err), ErrDisconnected)
		}
		if h.Command == frame.CmdAck && string(h.CommandID) == cid {
			return nil
		}
	}
	return newConnErr("read", s.uri, protocolErr(errors.New("no logon ack")), ErrDisconnected)
}

// lastSequence reads the server's last sequence for this client name from a
// logon ack: "s", else the second field of "bm" (<hash>|<seq>|), as the
// official clients between them do.
func lastSequence(h *frame.Header) uint64 {
	if h.HasSeq {
		return h.Seq
	}
	bm := h.Bookmark
	for i, b := range bm {
		if b == '|' {
			rest := bm[i+1:]
			var n uint64
			for _, d := range rest {
				if d < '0' || d > '9' {
					break
				}
				n = n*10 + uint64(d-'0')
			}
			return n
		}
	}
	return 0
}

// activate makes the logged-on session s current: at the first logon it
// creates the ring (and fixes the sequence base), afterwards it resumes
// (discard what the server has, detect a gap, rewind, reopen). Then it
// starts heartbeats and the session's writer and reader. Called with mu
// held, while no other goroutine is the ring's consumer.
func (c *Client) activate(s *session, ack logonAck) error {
	if c.ring == nil {
		if err := c.createRing(s, ack.lastSeq); err != nil {
			return err
		}
		c.flushes = make(map[string]*flushWait)
	} else if err := c.resume(s, ack.lastSeq); err != nil {
		return err
	}
	c.lastSeq, c.serverVersion = ack.lastSeq, ack.version
	if c.cfg.heartbeat > 0 {
		// Written before the writer starts, so it is never replayed.
		var buf [64]byte
		msg := frame.AppendHeartbeatStart(buf[:0], uint32(c.cfg.heartbeat/time.Second))
		if _, err := s.conn.Write(msg); err != nil {
			return newConnErr("write", s.uri, err, ErrDisconnected)
		}
	}
	s.w = newWriter(s.conn)
	s.stop = make(chan struct{})
	s.writerDone = make(chan struct{})
	s.readerDone = make(chan struct{})
	c.sess, c.last, c.uri = s, s, s.uri
	c.err = nil // c.outage stays: see stoppedErr
	c.ring.Reopen()
	c.state.Store(stateLoggedOn)
	go c.writeLoop(s)
	go c.readLoop(s)
	return nil
}

// createRing creates the send ring at the first logon. With a store it
// retains frames until they are persisted and it is sized by the store's
// limits; then it loads what the store recovered (see recoverStore) and
// fixes the sequence base. Without a store it is a plain send buffer.
func (c *Client) createRing(s *session, serverLast uint64) error {
	cfg := ring.Config{
		Size:        c.cfg.bufferSize,
		MaxExternal: c.cfg.bufferSize,
		MaxClaim:    c.cfg.maxMessageSize + 2*ring.MaxNumberLen,
	}
	if c.store != nil {
		l := c.store.Limits()
		cfg.Size, cfg.MaxExternal, cfg.MaxFrames, cfg.Retain = l.Bytes, l.Bytes, l.Messages, true
	}
	r, err := ring.New(cfg)
	if err != nil {
		return &fieldError{sentinel: ErrInvalidValue, cause: err}
	}
	if c.store != nil {
		if err := c.recoverStore(r, s, serverLast); err != nil {
			return err
		}
	}
	c.ring = r
	return nil
}

// recoverStore loads into the new ring r the frames an earlier process left
// in the store, and fixes the sequence base, at the first logon (the
// server's last sequence for this client name is L).
//
// Recovered publishes above L go into the ring as they are, in sequence
// order, at ring Seqs that keep s = seqBase + Seq: the first one's s is the
// base. Their control frames (flushes, beats) and the sequence numbers the
// store lost become heartbeat beats, harmless on the wire, so that the ring
// Seqs stay dense (a flush of the dead process must not answer a flush of
// this one). Everything at or below L is persisted already: it is freed.
// Sequence numbers the earlier process used above the last recovered frame
// (Recovery.Last: a torn tail) become beats too, never reused. Then the
// stream of this process starts (store.Begin) right after.
//
// With nothing to replay, the sequence numbers start after the highest one
// known (the server's, the store's), or, for a name neither knows, at epoch
// milliseconds × 10⁶, as the official clients do, so that a restarted
// publisher with a memory store stays above its previous run.
func (c *Client) recoverStore(r *ring.Ring, s *session, L uint64) error {
	var beat [32]byte
	filler := frame.AppendHeartbeatBeat(beat[:0])
	var h frame.Header
	var scratch []byte
	loaded := false
	load := func(b []byte) error {
		var cl ring.Claim
		if err := r.TryClaimInto(&cl, len(b)); err != nil {
			l := c.store.Limits()
			return storeErr(fmt.Errorf(
				"the store holds more unpersisted frames than its limits (%d bytes, %d messages) let the client load: %w", l.Bytes, l.Messages, err))
		}
		copy(cl.Buf, b)
		r.Commit(&cl)
		return nil
	}
	rec, err := c.store.Recover(func(seq uint64, b []byte) error {
		if seq <= L {
			return nil
		}
		if !loaded {
			c.seqBase, loaded = seq, true
		}
		for c.seqBase+r.ClaimedSeq() < seq { // a lost record, or a gap
			if err := load(filler); err != nil {
				return err
			}
		}
		if c.seqBase+r.ClaimedSeq() != seq {
			return storeErr(fmt.Errorf("recovered sequence %d is out of order", seq))
		}
		if len(b) < 4 {
			return load(filler)
		}
		// Parse a copy: Parse unescapes in place, and b is the store's.
		scratch = append(scratch[:0], b...)
		if _, err := h.Parse(scratch[4:]); err != nil || !h.HasSeq || h.Seq != seq {
			return load(filler) // a control frame of the earlier process
		}
		return load(b)
	})
	if err != nil {
		if errors.Is(err, ErrStore) {
			return err
		}
		return storeErr(err)
	}
	if len(rec.Lost) != 0 {
		c.reportError(&store.DamageError{Path: "publish store", Lost: rec.Lost})
		for _, lr := range rec.Lost {
			c.counters.storeLost.Add(lr.To - lr.From + 1)
		}
	}
	if rec.Persisted > L {
		gap := &PublishGapError{URI: s.uri.String(), From: L + 1, To: rec.Persisted}
		c.emit(Event{Kind: EventPublishGap, URI: gap.URI, Err: gap})
		if c.cfg.gapPolicy == GapFail {
			return gap
		}
	}
	if loaded {
		// Sequence numbers the earlier process used above the last frame
		// recovered (a torn tail the store reported lost) are not used
		// again: beats fill them, and new frames continue above.
		for c.seqBase+r.ClaimedSeq() <= max(L, rec.Last) {
			if err := load(filler); err != nil {
				return err
			}
		}
	} else {
		next := max(L, rec.Last, rec.Persisted)
		if next == 0 {
			next = uint64(time.Now().UnixMilli()) * 1_000_000
		}
		if next >= math.MaxUint64-MinSequenceRoom {
			return &SequenceAheadError{URI: s.uri.String(), Last: L, Start: max(next, next+1)}
		}
		c.seqBase = next + 1
	}
	if c.seqBase > math.MaxUint64-MinSequenceRoom {
		return &SequenceAheadError{URI: s.uri.String(), Last: L, Start: c.seqBase}
	}
	n := r.ClaimedSeq()
	// The fillers are beats: once sent at the head of the ring, the writer
	// frees them (freeSentBeats looks at each frame's bytes).
	c.acks.beats.Store(n)
	c.beginSeq = c.seqBase + n
	c.counters.recovered.Store(n)
	raiseTo(&c.counters.persisted, L)
	raiseTo(&c.counters.serverHas, L)
	if err := c.store.Begin(c.beginSeq, r.Claimed()); err != nil {
		return storeErr(err)
	}
	if L > 0 {
		if err := c.store.Persisted(L, 0, L); err != nil {
			c.reportError(err)
		}
	}
	return nil
}

// resume prepares the ring for a new session whose logon ack carried the
// server's last sequence L: with a store, it checks for a gap, discards what
// the server has and sends the rest again; without one, it sends again what
// was not written whole. Called with mu held, as the ring's consumer.
func (c *Client) resume(s *session, L uint64) error {
	if c.store != nil {
		// The server holds a sequence this client never sent whole (frames
		// recovered from an earlier process count as sent: it may have).
		if sent := c.seqBase + max(c.ring.SentEver(), c.beginSeq-c.seqBase); L >= sent {
			err := &SequenceAheadError{URI: s.uri.String(), Last: L, Sent: sent - 1}
			if sent == c.seqBase {
				err.Sent = 0
			}
			return err
		}
		// A gap: the server no longer has a sequence it said it had. Writes
		// it refused (failure acks) were reported and freed, but never were
		// the server's: a last sequence below them is no gap.
		if has := c.counters.serverHas.Load(); has != 0 && L < has {
			gap := &PublishGapError{URI: s.uri.String(), From: L + 1, To: has}
			c.emit(Event{Kind: EventPublishGap, URI: gap.URI, Err: gap})
			if c.cfg.gapPolicy == GapFail {
				return gap
			}
		}
		c.logonHeld = 0
		if L >= c.seqBase {
			c.logonHeld = L - c.seqBase + 1
			c.postAck(c.logonHeld)
		}
		raiseTo(&c.counters.persisted, L)
		raiseTo(&c.counters.serverHas, L)
		c.applyAcks(true)
	}
	replay := c.ring.SentUnreleased()
	c.ring.Rewind()
	c.counters.replayed.Add(replay)
	c.counters.lastReplay.Store(replay)
	return nil
}

// fail ends session s after a transport or protocol failure. With a
// reconnect policy the client starts reconnecting and publishes keep
// queueing; without one, publishes return the error from now on and
// blocked ones are woken with it. Pending flushes get the error, unless a
// store will replay their flush on the next connection. Only the first
// failure of a session counts.
func (c *Client) fail(s *session, op string, cause error) {
	c.mu.Lock()
	if s.failed {
		c.mu.Unlock()
		return
	}
	s.failed = true
	close(s.stop)
	s.conn.Close()
	if c.sess != s {
		c.mu.Unlock()
		return
	}
	c.sess = nil
	if st := c.state.Load(); st == stateClosing || st == stateClosed {
		c.mu.Unlock()
		return
	}
	err := newConnErr(op, s.uri, cause, ErrDisconnected)
	var failed []*flushWait
	reconnect := c.cfg.reconnect != nil
	if c.store == nil || !reconnect {
		for cid, f := range c.flushes {
			failed = append(failed, f)
			delete(c.flushes, cid)
		}
	}
	if reconnect {
		c.state.Store(stateReconnecting)
		c.outage = err
		c.supDone = make(chan struct{})
		go c.reconnectLoop(s, err, c.supDone)
	} else {
		c.err = err
		c.state.Store(stateDisconnected)
		c.ring.Close() // blocked producers return the error
	}
	c.mu.Unlock()

	for _, f := range failed {
		f.done <- err
	}
	c.counters.disconnects.Add(1)
	c.emit(Event{Kind: EventDisconnected, URI: s.uri.String(), Err: err})
	c.reportError(err)
}

// giveUp ends the reconnect loop for good: the client is disconnected with
// err, blocked producers and pending flushes get it.
func (c *Client) giveUp(uri string, err error) {
	c.mu.Lock()
	if c.state.Load() != stateReconnecting {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.state.Store(stateDisconnected)
	c.ring.Close()
	var failed []*flushWait
	for cid, f := range c.flushes {
		failed = append(failed, f)
		delete(c.flushes, cid)
	}
	c.mu.Unlock()
	for _, f := range failed {
		f.done <- err
	}
	c.emit(Event{Kind: EventGaveUp, URI: uri, Err: err})
	c.reportError(err)
}

// emit hands ev to the event handler's goroutine.
func (c *Client) emit(ev Event) {
	if h := c.cfg.eventHandler; h != nil {
		c.events.post(func() { h(ev) })
	}
}

// reportError hands err to the error handler's goroutine.
func (c *Client) reportError(err error) {
	if h := c.cfg.errorHandler; h != nil {
		c.events.post(func() { h(err) })
	}
}

// stoppedErr returns why publishes fail now.
func (c *Client) stoppedErr() error {
	switch c.state.Load() {
	case stateNew:
		return ErrNotConnected
	case stateConnected, stateLoggingOn:
		if c.ring == nil {
			return ErrNotLoggedOn
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	switch st := c.state.Load(); {
	case st == stateConnected || st == stateLoggingOn:
		return ErrNotLoggedOn
	case (st == stateReconnecting || st == stateLoggedOn) && c.outage != nil:
		// Open, and reconnecting: what failed is the disconnect, not a
		// Close (a review saw ErrClosed from PublishFlush here). Logged on
		// again already: the caller saw the outage a moment ago, and the
		// disconnect is still its answer, not ErrClosed (another review).
		return c.outage
	}
	return ErrClosed
}

// Close writes what is queued, then closes the connection (SO_LINGER, from
// tcp_linger, then governs what the kernel does with unsent bytes). With a
// store it first waits, within the same close timeout, until the server has
// persisted everything (PublishFlush), and then closes the store. It waits
// at most the close timeout (WithCloseTimeout) in all; past it the
// connection is dropped and Close returns a *CloseTimeoutError (ErrTimedOut)
// saying how many messages and bytes were not written (with a store: not
// persisted). Closing while disconnected or reconnecting returns an
// *UndeliveredError (unwrapping to why the client was disconnected) when
// anything was left unsent (unpersisted). Publishes blocked on a full
// buffer return ErrClosed. Close stops the reconnect loop, waits for the
// client's goroutines to exit (the event goroutine too, after the handlers
// queued before it, unless Close is called from a handler: a handler must
// not block on the goroutine that calls Close), and is idempotent: after
// Close every other call returns ErrClosed, and Close again returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	st := c.state.Load()
	switch st {
	case stateClosing, stateClosed:
		c.mu.Unlock()
		return nil
	case stateConnected, stateLoggingOn:
		// A logon in progress fails on the closed connection.
		if c.pending != nil {
			c.pending.conn.Close()
			c.pending = nil
		}
	}
	deadline := time.Now().Add(c.cfg.closeTimeout)
	if st == stateLoggedOn && c.store != nil {
		c.mu.Unlock()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		c.PublishFlush(ctx) // the count below says what it could not do
		cancel()
		c.mu.Lock()
		st = c.state.Load()
		if st == stateClosing || st == stateClosed {
			c.mu.Unlock()
			return nil
		}
	}
	c.state.Store(stateClosing)
	close(c.closing)
	sup := c.supDone
	sess := c.sess
	c.mu.Unlock()

	if sup != nil {
		<-sup // the reconnect loop sees closing and stops
	}
	var result error
	if c.ring != nil {
		// No new frames; the writer drains what is committed, then exits.
		c.ring.Close()
		if sess != nil {
			timer := time.NewTimer(time.Until(deadline))
			select {
			case <-sess.writerDone:
			case <-timer.C:
				c.fail(sess, "close", errors.New("close timeout"))
			}
			timer.Stop()
			c.fail(sess, "close", ErrClosed)
		}
		c.last.wait()
		if c.store != nil {
			c.applyAcks(false) // the last acks may have come after the writer's last look
		}
		// The ring is closed and its consumer gone: what is claimed and not
		// freed was not written whole (with a store: not persisted).
		if lost := c.ring.ClaimedSeq() - c.ring.ReleasedSeq(); lost != 0 {
			bytes := c.ring.Claimed() - c.ring.Released()
			if st == stateLoggedOn {
				result = &CloseTimeoutError{After: c.cfg.closeTimeout, Frames: lost, Bytes: bytes}
			} else {
				c.mu.Lock()
				cause := c.err
				if cause == nil {
					cause = c.outage // reconnecting: the disconnect's *ConnectionError
				}
				c.mu.Unlock()
				if cause == nil {
					cause = ErrDisconnected
				}
				result = &UndeliveredError{Frames: lost, Bytes: bytes, Err: cause}
			}
		}
	}
	if c.store != nil {
		if err := c.store.Close(); err != nil && result == nil {
			result = err
		}
	}

	c.mu.Lock()
	c.err = ErrClosed
	flushes := c.flushes
	c.flushes = nil
	c.state.Store(stateClosed)
	c.mu.Unlock()
	for _, f := range flushes {
		f.done <- ErrClosed
	}
	c.events.close()
	return result
}
