package fastpub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
)

// Version is this client's version; the logon sends it as "<Version>:go".
const Version = "0.1.0"

// The client's life: new → connected → loggingOn → loggedOn → (closing → closed) or
// disconnected. A failed logon closes the connection and returns to new, so
// Connect may be called again. A client whose connection was lost stays
// disconnected: reconnection arrives with the publish store.
const (
	stateNew int32 = iota
	stateConnected
	stateLoggingOn // the logon exchange runs without mu; Close may interrupt it
	stateLoggedOn
	stateClosing
	stateClosed
	stateDisconnected
)

// Client is one named connection to an AMPS server, for publishing.
//
// Publish and its variants are safe for concurrent use by any number of
// goroutines; each encodes its frame straight into the client's send ring and
// returns once the frame is queued (not written). PublishFlush waits until the
// server has processed everything queued before it. Connect, Logon and Close
// are meant to be called once each, in that order.
type Client struct {
	name string
	cfg  config

	state atomic.Int32

	// Set by Connect/Logon under mu, read-only while logged on.
	uri  *connstr.URI
	conn net.Conn
	fr   *frame.Reader
	ring *ring.Ring
	w    *writer

	cidSeq atomic.Uint64

	mu      sync.Mutex
	err     error                 // why the client stopped (ErrClosed or a *ConnectionError)
	flushes map[string]chan error // pending PublishFlush calls by command id

	lastSeq       uint64 // the server's last sequence for this name, from the logon ack
	serverVersion string

	stop       chan struct{} // closed when the connection fails: the writer stops at once
	writerDone chan struct{}
	readerDone chan struct{}
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
	return &Client{name: name, cfg: cfg}, nil
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
	case stateNew:
	case stateClosing, stateClosed:
		return ErrClosed
	case stateDisconnected:
		return c.err
	default:
		return ErrAlreadyConnected
	}
	conn, err := dial(ctx, u, &c.cfg)
	if err != nil {
		return newConnErr("connect", u, err, ErrConnect)
	}
	c.uri = u
	c.conn = conn
	c.fr = frame.NewReader(conn, inboundBuffer, c.cfg.maxInbound)
	c.fr.SetShrink(true)
	c.state.Store(stateConnected)
	return nil
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
// exchange: past its deadline Logon returns a *TimedOutError.
//
// On success the client starts its writer and reader goroutines and publishes
// may begin. A refused logon returns a *ServerError (ErrAuthentication,
// ErrNameInUse, ...), closes the connection, and leaves the client ready for
// another Connect.
func (c *Client) Logon(ctx context.Context, opts ...LogonOption) error {
	c.mu.Lock()
	switch c.state.Load() {
	case stateConnected:
	case stateNew:
		c.mu.Unlock()
		return ErrNotConnected
	case stateLoggingOn, stateLoggedOn:
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
	c.mu.Unlock()

	lc := logonConfig{auth: DefaultAuthenticator{}, retries: DefaultLogonRetries}
	for _, o := range opts {
		o(&lc)
	}
	ack, err := c.logonRecover(ctx, &lc)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateLoggingOn {
		return ErrClosed // Close ran meanwhile and closed the connection
	}
	if err != nil {
		// The connection is in an unknown state: drop it. Connect may be
		// called again.
		c.conn.Close()
		c.conn, c.fr = nil, nil
		c.state.Store(stateNew)
		if ctx.Err() != nil && !errors.As(err, new(*ServerError)) {
			return ctxError("logon", ctx.Err())
		}
		return err
	}
	c.lastSeq, c.serverVersion = ack.lastSeq, ack.version
	if err := c.start(); err != nil {
		// Only a ring the options did not allow gets here: NewClient
		// validated them, so this is a bug, reported rather than hidden.
		c.conn.Close()
		c.conn, c.fr = nil, nil
		c.state.Store(stateNew)
		return err
	}
	return nil
}

// logonRecover runs the logon exchange and turns a panic in the
// Authenticator (the only foreign code it calls) into an error matching
// ErrAuthentication: Logon then drops the connection as for any failed
// logon, and the client can Connect again. The panic's value is kept in the
// error, with the password redacted.
func (c *Client) logonRecover(ctx context.Context, lc *logonConfig) (ack logonAck, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &fieldError{sentinel: ErrAuthentication, cause: errors.New("the Authenticator panicked: " + connstr.RedactString(fmt.Sprint(v), c.uri.Password))}
		}
	}()
	return c.logon(ctx, lc)
}

type logonAck struct {
	lastSeq uint64
	version string
}

// logon runs the logon exchange on the caller's goroutine, before the reader
// and writer exist.
func (c *Client) logon(ctx context.Context, lc *logonConfig) (logonAck, error) {
	// The context alone bounds the exchange: when it ends, the connection's
	// deadline moves to the past and the blocked read or write returns, with
	// ctx.Err() already set (a deadline copied from ctx could fire first).
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		c.conn.SetDeadline(time.Time{})
	}()

	user := c.uri.User
	pw, err := lc.auth.Authenticate(user, c.uri.Password)
	if err != nil {
		return logonAck{}, &fieldError{sentinel: ErrAuthentication, cause: err}
	}
	options := lc.options
	if c.uri.Pretty {
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
			MessageType:   c.uri.MessageType,
			Ack:           frame.AckProcessed,
			Version:       Version + ":go",
			CorrelationID: lc.correlationID,
			Password:      pw,
			Options:       options,
		})
		if err != nil {
			return logonAck{}, &fieldError{sentinel: ErrInvalidValue, cause: err}
		}
		if _, err := c.conn.Write(msg); err != nil {
			return logonAck{}, c.connErr("write", err)
		}
		if err := c.readAck(&h, cid); err != nil {
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

// readAck reads frames until the ack for cid arrives.
func (c *Client) readAck(h *frame.Header, cid string) error {
	for i := 0; i < maxStrayFrames; i++ {
		body, err := c.fr.Next()
		if err != nil {
			return c.connErr("read", readErr(err))
		}
		h.Reset()
		if _, err := h.Parse(body); err != nil {
			return c.connErr("read", protocolErr(err))
		}
		if h.Command == frame.CmdAck && string(h.CommandID) == cid {
			return nil
		}
	}
	return c.connErr("read", protocolErr(errors.New("no logon ack")))
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

// connErr wraps a transport error with the connection's (redacted) URI.
func (c *Client) connErr(op string, err error) error {
	return newConnErr(op, c.uri, err, ErrDisconnected)
}

// start creates the ring and starts the writer and reader. Called with mu held.
func (c *Client) start() error {
	r, err := ring.New(ring.Config{
		Size:        c.cfg.bufferSize,
		MaxExternal: c.cfg.bufferSize,
		MaxClaim:    c.cfg.maxMessageSize,
	})
	if err != nil {
		return &fieldError{sentinel: ErrInvalidValue, cause: err}
	}
	c.ring = r
	c.w = newWriter(c.conn)
	c.flushes = make(map[string]chan error)
	c.stop = make(chan struct{})
	c.writerDone = make(chan struct{})
	c.readerDone = make(chan struct{})
	if c.cfg.heartbeat > 0 {
		// The first frame on the fresh ring: it cannot be full.
		var buf [64]byte
		msg := frame.AppendHeartbeatStart(buf[:0], uint32(c.cfg.heartbeat/time.Second))
		if err := c.enqueue(context.Background(), "heartbeat", msg, false); err != nil {
			return err
		}
	}
	c.state.Store(stateLoggedOn)
	go c.writeLoop()
	go c.readLoop()
	return nil
}

// fail ends the connection after a transport or protocol failure: publishes
// return the error from now on, pending flushes get it, the writer stops at
// once. Only the first failure counts.
func (c *Client) fail(op string, cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	var err error
	if c.state.Load() == stateClosing {
		err = ErrClosed
	} else {
		err = c.connErr(op, cause)
		c.state.Store(stateDisconnected)
	}
	c.err = err
	flushes := c.flushes
	c.flushes = nil
	c.mu.Unlock()

	close(c.stop)
	c.ring.Close()
	c.conn.Close()
	for _, ch := range flushes {
		ch <- err
	}
	if err != ErrClosed && c.cfg.errorHandler != nil {
		c.cfg.errorHandler(err)
	}
}

// stoppedErr returns why publishes fail now.
func (c *Client) stoppedErr() error {
	switch c.state.Load() {
	case stateNew:
		return ErrNotConnected
	case stateConnected, stateLoggingOn:
		return ErrNotLoggedOn
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

// Close writes what is queued, then closes the connection (SO_LINGER, from
// tcp_linger, then governs what the kernel does with unsent bytes). It waits
// at most the close timeout (WithCloseTimeout) for the queue to drain; past
// it the connection is dropped and Close returns a *CloseTimeoutError
// (ErrTimedOut) saying how many messages and bytes were lost. Publishes blocked on a full buffer return ErrClosed. Close
// waits for the client's goroutines to exit. It is idempotent; after a
// disconnect it releases what is left and returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	st := c.state.Load()
	switch st {
	case stateClosing, stateClosed:
		c.mu.Unlock()
		return nil
	case stateNew:
		c.state.Store(stateClosed)
		c.err = ErrClosed
		c.mu.Unlock()
		return nil
	case stateConnected, stateLoggingOn:
		// A logon in progress fails on the closed connection.
		c.state.Store(stateClosed)
		c.err = ErrClosed
		c.mu.Unlock()
		c.conn.Close()
		return nil
	}
	c.state.Store(stateClosing)
	c.mu.Unlock()

	var result error
	// No new frames; the writer drains what is committed, then exits.
	c.ring.Close()
	timer := time.NewTimer(c.cfg.closeTimeout)
	select {
	case <-c.writerDone:
	case <-timer.C:
		c.fail("close", errors.New("close timeout"))
		<-c.writerDone
		// The ring is closed and its consumer gone: what is claimed and not
		// freed was not written (a frame cut by a partial write is not
		// freed, and counts as lost).
		result = &CloseTimeoutError{
			After:  c.cfg.closeTimeout,
			Frames: c.ring.ClaimedSeq() - c.ring.ReleasedSeq(),
			Bytes:  c.ring.Claimed() - c.ring.Released(),
		}
	}
	timer.Stop()
	c.conn.Close()
	<-c.readerDone

	c.mu.Lock()
	// After Close every call says ErrClosed, also when the connection had
	// failed before (its error was returned meanwhile, and went to the
	// error handler).
	c.err = ErrClosed
	flushes := c.flushes
	c.flushes = nil
	if c.state.Load() == stateClosing {
		c.state.Store(stateClosed)
	}
	c.mu.Unlock()
	for _, ch := range flushes {
		ch <- ErrClosed
	}
	return result
}
