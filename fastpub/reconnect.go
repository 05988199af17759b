package fastpub

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fastpub/fastpub/connstr"
)

// Reconnect defaults. Each field of ReconnectPolicy names the one it uses.
const (
	// DefaultReconnectInitialDelay is the exponential delay's first cap
	// (200 ms), as the official HA client's.
	DefaultReconnectInitialDelay = 200 * time.Millisecond
	// DefaultReconnectMaxDelay is the exponential delay's largest cap (20 s).
	DefaultReconnectMaxDelay = 20 * time.Second
	// DefaultLogonTimeout bounds each reconnect attempt's dial and logon
	// (10 s), as the official HA client's logon timeout.
	DefaultLogonTimeout = 10 * time.Second
	// DefaultReconnectHeartbeat is the heartbeat interval a client with a
	// reconnect policy uses when WithHeartbeat is not given (10 s): a silent
	// server is noticed after 20 s instead of never.
	DefaultReconnectHeartbeat = 10 * time.Second
)

// ReconnectPolicy makes a client reconnect by itself after it loses its
// connection: it dials the servers the Chooser names, waiting as the Delay
// says, logs on under the same name with the same logon options, and replays
// what the server has not persisted (with a store) or not received (without
// one, the frames not yet handed to the kernel) before any new frame.
// Publishes keep succeeding into the send buffer (the store) meanwhile,
// until it is full. The zero value is a usable policy: round robin over
// Connect's URI, exponential delay with full jitter, retry for ever, stop on
// errors that retrying cannot fix.
type ReconnectPolicy struct {
	// Servers are more URIs to fail over to, after the one given to
	// Connect. Ignored when Chooser is set.
	Servers []string
	// Chooser picks the server of each attempt. Default: RoundRobin over
	// Connect's URI and Servers.
	Chooser ServerChooser
	// Delay says how long to wait before each attempt. Default:
	// ExponentialDelay{} (first attempt to each server at once, then full
	// jitter below a cap that starts at 200 ms and doubles up to 20 s).
	Delay DelayStrategy
	// MaxOutage, when positive, is how long the client keeps trying before
	// it gives up with an *OutageError (ErrOutage), counted from the
	// disconnect; an attempt in progress is cut short at it (its dial and
	// logon get what is left, if less than LogonTimeout). Default 0: for
	// ever.
	MaxOutage time.Duration
	// RetryAll retries errors that cannot succeed by retrying (bad
	// credentials, name in use, not entitled, invalid message type, invalid
	// options), which end the loop by default.
	RetryAll bool
	// LogonTimeout bounds each attempt's dial, TLS handshake and logon
	// (and MaxOutage, if sooner). Default DefaultLogonTimeout (10 s).
	LogonTimeout time.Duration
}

// ServerChooser picks the server for each connection attempt. Its methods
// are called from the client's reconnect goroutine only.
type ServerChooser interface {
	// Next returns the URI to try next.
	Next() string
	// Failed reports that an attempt to uri failed with err.
	Failed(uri string, err error)
	// Succeeded reports that the client logged on to uri.
	Succeeded(uri string)
}

// RoundRobin is the default ServerChooser: it tries the URIs in turn,
// moving to the next one after a failed attempt. After a disconnect the
// first attempt goes to the server that was lost (as the official client).
type RoundRobin struct {
	mu   sync.Mutex
	uris []string
	i    int
}

// NewRoundRobin returns a RoundRobin over uris, starting with the first.
func NewRoundRobin(uris ...string) *RoundRobin {
	return &RoundRobin{uris: append([]string(nil), uris...)}
}

// Next returns the current URI ("" when there is none).
func (r *RoundRobin) Next() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.uris) == 0 {
		return ""
	}
	return r.uris[r.i%len(r.uris)]
}

// Failed moves to the next URI.
func (r *RoundRobin) Failed(string, error) {
	r.mu.Lock()
	r.i++
	r.mu.Unlock()
}

// Succeeded keeps the current URI.
func (r *RoundRobin) Succeeded(string) {}

// DelayStrategy says how long to wait before an attempt to uri after
// failures failed attempts to it since the client was last logged on to it
// (0 for the first attempt to each server in an outage).
type DelayStrategy interface {
	Delay(uri string, failures int) time.Duration
}

// ExponentialDelay is the default DelayStrategy. The first attempt to each
// server is immediate; the k-th retry waits a uniformly random time in
// [0, min(Max, Initial·2^(k-1))) ("full jitter", on every retry), so that
// many clients losing one server do not come back in step.
type ExponentialDelay struct {
	Initial time.Duration // default DefaultReconnectInitialDelay (200 ms)
	Max     time.Duration // default DefaultReconnectMaxDelay (20 s)
}

// Delay implements DelayStrategy.
func (e ExponentialDelay) Delay(_ string, failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	initial, maxd := e.Initial, e.Max
	if initial <= 0 {
		initial = DefaultReconnectInitialDelay
	}
	if maxd <= 0 {
		maxd = DefaultReconnectMaxDelay
	}
	capd := initial
	for i := 1; i < failures && capd < maxd; i++ {
		capd *= 2
	}
	capd = min(capd, maxd)
	return rand.N(capd)
}

// FixedDelay waits D before every retry; the first attempt to each server is
// immediate.
type FixedDelay struct {
	D time.Duration
}

// Delay implements DelayStrategy.
func (f FixedDelay) Delay(_ string, failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	return f.D
}

// retryable reports whether retrying might cure err: transport failures and
// timeouts can; a server's refusal of the credentials, the name or the
// message type cannot.
func retryable(err error) bool {
	var se *ServerError
	if !errors.As(err, &se) {
		return true
	}
	switch {
	case errors.Is(err, ErrAuthentication), errors.Is(err, ErrNameInUse),
		errors.Is(err, ErrNotEntitled), errors.Is(err, ErrInvalidMessageType),
		errors.Is(err, ErrInvalidOptions):
		return false
	}
	return true
}

// reconnectLoop runs after session old failed with cause, under a reconnect
// policy: it waits for old's goroutines (the ring's consumer role passes to
// it), then tries servers until one logs on, gives up, or Close stops it.
// While it runs, the client is reconnecting: publishes queue into the ring.
func (c *Client) reconnectLoop(old *session, cause error, done chan struct{}) {
	defer close(done)
	old.wait()
	p := c.cfg.reconnect
	start := time.Now()
	failures := make(map[string]int) // per server, this outage
	var last error = cause
	for attempt := 1; ; attempt++ {
		// Close ends the loop here too: with no delay (FixedDelay{}) it
		// would otherwise never look, as a refused dial fails at once.
		if isClosing(c.closing) {
			return
		}
		uri := c.chooser.Next()
		delay := p.Delay.Delay(uri, failures[uri])
		if p.MaxOutage > 0 && time.Since(start)+delay > p.MaxOutage {
			c.giveUp(redactURI(uri), &OutageError{Outage: time.Since(start), Attempts: attempt - 1, Last: last})
			return
		}
		c.emit(Event{Kind: EventReconnecting, URI: redactURI(uri), Attempt: attempt, Delay: delay, Err: last})
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-c.closing:
				t.Stop()
				return
			}
		}
		// An attempt gets LogonTimeout, or what is left of MaxOutage if
		// less: a server that accepts and never answers must not stretch
		// the outage to LogonTimeout (a review: 5 s for a 300 ms
		// MaxOutage). Past it, the next turn gives up.
		timeout := p.LogonTimeout
		if p.MaxOutage > 0 {
			timeout = min(timeout, max(p.MaxOutage-time.Since(start), time.Millisecond))
		}
		err := c.attempt(uri, timeout)
		if err == nil {
			c.chooser.Succeeded(uri)
			return
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		last = err
		failures[uri]++
		c.chooser.Failed(uri, err)
		var gap *PublishGapError
		if errors.As(err, &gap) || errors.Is(err, ErrSequenceAhead) || (!p.RetryAll && !retryable(err)) {
			c.giveUp(redactURI(uri), err)
			return
		}
	}
}

// attempt dials uri, logs on with the last Logon's options and resumes.
func (c *Client) attempt(uri string, timeout time.Duration) error {
	u, err := connstr.Parse(uri)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	s, err := c.dial(ctx, u)
	if err != nil {
		return err
	}
	c.mu.Lock()
	lc := c.logonCfg
	c.mu.Unlock()
	ack, err := c.logonRecover(ctx, s, lc)
	if err != nil {
		s.conn.Close()
		if ctx.Err() != nil && !errors.As(err, new(*ServerError)) {
			if isClosing(c.closing) {
				return ErrClosed
			}
			return ctxError("logon", ctx.Err())
		}
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stateReconnecting {
		s.conn.Close()
		return ErrClosed
	}
	if err := c.activate(s, ack); err != nil {
		s.conn.Close()
		return err
	}
	c.counters.reconnects.Add(1)
	c.emit(Event{Kind: EventReconnected, URI: u.String(), Replayed: c.counters.lastReplay.Load()})
	return nil
}

func isClosing(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// redactURI returns uri with its password redacted, for events.
func redactURI(uri string) string {
	if u, err := connstr.Parse(uri); err == nil {
		return u.String()
	}
	return "(unparsable URI)"
}
