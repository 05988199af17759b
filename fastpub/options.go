package fastpub

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"github.com/fastpub/fastpub/store"
)

// Defaults. Each option below names the default it overrides.
const (
	// DefaultBufferSize is the send buffer: the ring's arena, and so the
	// most memory queued publishes can hold (4 MiB).
	DefaultBufferSize = 4 << 20
	// DefaultMaxMessageSize is the largest frame (header and payload) a
	// publish may produce (4 MiB).
	DefaultMaxMessageSize = 4 << 20
	// DefaultCloseTimeout bounds how long Close waits to write what is queued
	// before it drops the connection (10 s).
	DefaultCloseTimeout = 10 * time.Second
	// DefaultInlineWriteAfter is WithInlineWrite's default (1 µs): a
	// publish that finds the writer parked and the socket idle that long
	// writes its own frame.
	DefaultInlineWriteAfter = 1 * time.Microsecond
	// DefaultMaxInboundFrame is the largest frame the client accepts from
	// the server (1 MiB, length prefix excluded). A publisher receives only
	// acks and heartbeats, a few hundred bytes each.
	DefaultMaxInboundFrame = 1 << 20
	// MaxHeartbeat is the longest heartbeat interval WithHeartbeat takes
	// (24 h): the client waits twice the interval for inbound traffic.
	MaxHeartbeat = 24 * time.Hour
	// DefaultLogonRetries bounds the authenticator's challenge loop (16).
	// The official clients loop without a limit; a bound keeps a broken
	// authenticator from spinning forever.
	DefaultLogonRetries = 16
)

// Option configures a Client at NewClient.
type Option func(*config) error

type config struct {
	bufferSize     int
	maxMessageSize int
	heartbeat      time.Duration
	closeTimeout   time.Duration
	inlineAfter    time.Duration // 0: never write inline
	maxInbound     int
	tlsConfig      *tls.Config
	errorHandler   func(error)

	// The publish store and reconnect (persist.go, reconnect.go).
	store              store.Store
	reconnect          *ReconnectPolicy
	eventHandler       func(Event)
	failedWriteHandler func(FailedWrite)
	gapPolicy          GapPolicy
}

func defaultConfig() config {
	return config{
		bufferSize:     DefaultBufferSize,
		maxMessageSize: DefaultMaxMessageSize,
		closeTimeout:   DefaultCloseTimeout,
		inlineAfter:    DefaultInlineWriteAfter,
		maxInbound:     DefaultMaxInboundFrame,
	}
}

func (c *config) validate() error {
	if c.bufferSize < 4<<10 || c.bufferSize > 1<<30 || c.bufferSize&(c.bufferSize-1) != 0 {
		return &OptionError{Option: "WithBufferSize", Value: strconv.Itoa(c.bufferSize), Reason: "must be a power of two from 4 KiB to 1 GiB"}
	}
	if c.maxMessageSize < 64 || c.maxMessageSize > 1<<30 {
		return &OptionError{Option: "WithMaxMessageSize", Value: strconv.Itoa(c.maxMessageSize), Reason: "must be from 64 bytes to 1 GiB"}
	}
	if c.maxInbound < 4<<10 || c.maxInbound > 1<<30 {
		return &OptionError{Option: "WithMaxInboundFrame", Value: strconv.Itoa(c.maxInbound), Reason: "must be from 4 KiB to 1 GiB"}
	}
	if c.reconnect != nil && c.heartbeat == 0 {
		c.heartbeat = DefaultReconnectHeartbeat
	}
	if c.store != nil {
		l := c.store.Limits()
		if err := l.Validate(); err != nil {
			return &OptionError{Option: "WithStore", Value: fmt.Sprintf("%+v", l), Reason: err.Error()}
		}
	}
	return nil
}

// WithStore keeps every publish in st until the server has persisted it:
// each publish then carries a sequence number ("s") and asks for a
// persisted ack, a reconnect replays what the server has not persisted
// (nothing lost, nothing duplicated: the server drops a sequence it has),
// PublishFlush returns once everything published before it is persisted,
// and the send buffer is sized by st.Limits() instead of WithBufferSize
// (publishes block when it is full, however long the server is away).
// Default: none: the wire carries no "s" and no ack, and a nil from Publish
// means only that the frame is queued. See package store.
func WithStore(st store.Store) Option {
	return func(c *config) error {
		if st == nil {
			return &OptionError{Option: "WithStore", Value: "nil", Reason: "needs a store (store.NewMemory)"}
		}
		c.store = st
		return nil
	}
}

// WithReconnect makes the client reconnect by itself, as p says, after it
// loses its connection (see ReconnectPolicy). With it, heartbeats default to
// DefaultReconnectHeartbeat (10 s) so that a silent server is noticed.
// Default: none: after a disconnect the client stays disconnected until
// Connect and Logon are called again, which resume where it stopped.
func WithReconnect(p ReconnectPolicy) Option {
	return func(c *config) error {
		if p.MaxOutage < 0 || p.LogonTimeout < 0 {
			return &OptionError{Option: "WithReconnect", Value: fmt.Sprintf("MaxOutage %v, LogonTimeout %v", p.MaxOutage, p.LogonTimeout), Reason: "durations must not be negative"}
		}
		if p.LogonTimeout == 0 {
			p.LogonTimeout = DefaultLogonTimeout
		}
		if p.Delay == nil {
			p.Delay = ExponentialDelay{}
		}
		p.Servers = append([]string(nil), p.Servers...)
		c.reconnect = &p
		return nil
	}
}

// WithEventHandler receives every change of the connection (Event), in
// order, on a goroutine of the client's own (never the reader or writer), so
// that any client method, Close included, may be called from it. Close
// called elsewhere waits for the handlers queued before it to return, so a
// handler must not block on the goroutine that calls Close (say, a send on
// an unbuffered channel that goroutine has stopped reading): Close would
// never return. Default: none.
func WithEventHandler(f func(Event)) Option {
	return func(c *config) error { c.eventHandler = f; return nil }
}

// WithFailedWriteHandler receives each stored publish the server refused in
// a persisted ack (see FailedWrite), in order, on the same goroutine as the
// event handler. Default: none (the failures are still counted in
// Stats.FailedWrites).
func WithFailedWriteHandler(f func(FailedWrite)) Option {
	return func(c *config) error { c.failedWriteHandler = f; return nil }
}

// WithPublishGapPolicy says what to do when the server lost messages it had
// acknowledged as persisted (ErrPublishGap). Default GapFail.
func WithPublishGapPolicy(p GapPolicy) Option {
	return func(c *config) error {
		if p != GapFail && p != GapContinue {
			return &OptionError{Option: "WithPublishGapPolicy", Value: strconv.Itoa(int(p)), Reason: "must be GapFail or GapContinue"}
		}
		c.gapPolicy = p
		return nil
	}
}

// WithBufferSize sets the send buffer in bytes: a power of two from 4 KiB to
// 1 GiB. Default DefaultBufferSize (4 MiB). Publishes block (TryPublish fails
// with ErrBufferFull) while this many bytes are queued and not yet written to
// the socket. Messages larger than a sixteenth of it are held in pooled
// buffers outside the arena, which may hold as many bytes again (and always
// one message, however large, when nothing else is queued). With the ring's
// commit table (16 bytes per 64 bytes of arena) and wrap scratch, the
// client's send memory is about 2.3 times the buffer size plus one message,
// whatever the number of messages published.
func WithBufferSize(bytes int) Option {
	return func(c *config) error { c.bufferSize = bytes; return nil }
}

// WithMaxMessageSize sets the largest frame, header included, that a publish
// may produce, from 64 bytes to 1 GiB (the size past which the official
// client treats an inbound frame as stream corruption). Default
// DefaultMaxMessageSize (4 MiB). A larger message fails with a
// *MessageTooLargeError and nothing is sent. With a store the frame's
// sequence number counts at its longest (,"s": and 20 digits, 25 bytes),
// so no frame exceeds the limit whatever its number; before, with a store,
// frames up to 25 bytes over it went out (a review).
func WithMaxMessageSize(bytes int) Option {
	return func(c *config) error { c.maxMessageSize = bytes; return nil }
}

// WithMaxInboundFrame sets the largest frame (after its 4-byte length
// prefix) the client accepts from the server, from 4 KiB to 1 GiB. Default
// DefaultMaxInboundFrame (1 MiB): a publisher receives only acks and
// heartbeats. A larger frame ends the connection with a *ConnectionError
// matching ErrProtocol and ErrDisconnected (it wraps a
// *frame.FrameTooLargeError). The client reads with a 4 KiB buffer that
// grows for a larger frame and goes back to 4 KiB after it, so a stray large
// frame does not hold memory for the life of the connection.
func WithMaxInboundFrame(bytes int) Option {
	return func(c *config) error { c.maxInbound = bytes; return nil }
}

// WithHeartbeat asks the server for heartbeats every interval after logon:
// from 1 s to MaxHeartbeat (24 h), in whole seconds (a fraction is dropped).
// The client answers every server heartbeat with a beat, at most one per
// half interval: one that comes sooner after the last beat is answered
// then (a server that answers beats with heartbeats would otherwise
// ping-pong). Beats never wait for room in the buffer or the store. It
// drops the connection after 2 × interval without any inbound traffic: the
// error then is a *ConnectionError (ErrDisconnected) with Op "read", whose cause says
// "no traffic from the server for twice the heartbeat interval" and wraps
// the read's timeout (a net.Error with Timeout() true, os.ErrDeadlineExceeded).
// Default: off, as in the official clients, except with WithReconnect,
// where it is DefaultReconnectHeartbeat (10 s). An interval out of range is
// an *OptionError.
func WithHeartbeat(interval time.Duration) Option {
	return func(c *config) error {
		if interval < time.Second || interval > MaxHeartbeat {
			return &OptionError{Option: "WithHeartbeat", Value: interval.String(), Reason: "must be from 1s to " + MaxHeartbeat.String()}
		}
		c.heartbeat = interval.Truncate(time.Second)
		return nil
	}
}

// WithCloseTimeout bounds how long Close waits for queued publishes to be
// written; it must be positive. Default DefaultCloseTimeout (10 s). After
// it, Close drops the connection and what was still queued is lost (Close
// returns a *CloseTimeoutError that says how much).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return &OptionError{Option: "WithCloseTimeout", Value: d.String(), Reason: "must be positive"}
		}
		c.closeTimeout = d
		return nil
	}
}

// WithInlineWrite sets when a publish writes its own frame to the socket
// instead of waking the writer goroutine: when the writer is parked (it
// found nothing to send) and nothing has been written for at least idle,
// the publishing goroutine makes the one non-blocking writev itself, as a
// naive inline write() would, and saves the wake-up of another goroutine
// (tens of microseconds when the other core is busy, milliseconds at
// times). Each such write earns a credit (up to 256 are kept) that lets a
// later publish write inline even though the last write was less than idle
// ago: a paced publisher that catches up after a stall sends its backlog
// back to back, and stays on the inline path for as many frames as it has
// credits (besides those that find the socket idle again). Under load
// the writer never parks and batches as before; a publish that finds the
// socket full (EAGAIN, a partial write) hands what is left to the writer,
// so Publish still never waits for the socket. 0 turns it off: the
// writer goroutine sends everything. Default DefaultInlineWriteAfter
// (1 µs); negative is an *OptionError. TLS connections always use the
// writer.
func WithInlineWrite(idle time.Duration) Option {
	return func(c *config) error {
		if idle < 0 {
			return &OptionError{Option: "WithInlineWrite", Value: idle.String(), Reason: "must not be negative"}
		}
		c.inlineAfter = idle
		return nil
	}
}

// WithTLSConfig sets the TLS configuration for tcps connections. Default: a
// configuration with ServerName set to the URI's sni option, else its host,
// and TLS 1.2 at least.
// The Client clones it and fills ServerName when it is empty.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error { c.tlsConfig = cfg; return nil }
}

// WithErrorHandler receives failures that no call is waiting for: a failure
// ack for a publish, the connection error that ended the connection, a
// store that could not record an acknowledgement. It runs on the client's
// event goroutine (see WithEventHandler), never on the reader or writer, so
// it may call any client method, Close included. Default: none. Then a
// failure ack for a publish without a store is only counted
// (Stats().Rejected; with a store it goes to the failed-write handler and
// Stats().FailedWrites), a store's failure to record an ack is dropped
// too, and the connection error is returned by the next call (without a reconnect policy; with one, the
// client reconnects and the events say so).
func WithErrorHandler(f func(error)) Option {
	return func(c *config) error { c.errorHandler = f; return nil }
}

// LogonOption configures one Logon call.
type LogonOption func(*logonConfig)

type logonConfig struct {
	auth          Authenticator
	options       string
	correlationID string
	retries       int
}

// WithAuthenticator sets the Authenticator. Default: DefaultAuthenticator,
// which sends the URI's password.
func WithAuthenticator(a Authenticator) LogonOption {
	return func(c *logonConfig) { c.auth = a }
}

// WithLogonOptions sets the logon's options header ("o"), e.g.
// "ack_conflation=100ms". The URI's pretty=true adds "pretty". Default: none.
func WithLogonOptions(opts string) LogonOption {
	return func(c *logonConfig) { c.options = opts }
}

// WithLogonCorrelationID sets the logon correlation data ("x"). Default: none.
func WithLogonCorrelationID(x string) LogonOption {
	return func(c *logonConfig) { c.correlationID = x }
}

// WithLogonRetries bounds the authenticator's retry loop. Default
// DefaultLogonRetries.
func WithLogonRetries(n int) LogonOption {
	return func(c *logonConfig) { c.retries = n }
}
