package ampstest

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// Slow-path flags: while any is set server-wide, every frame goes through the full parser and
// the hook checks; while none is set, plain publishes take the discard path.
const (
	flagSubs       uint32 = 1 << iota // at least one subscription exists
	flagReject                        // at least one topic is rejected
	flagPause                         // reading is paused
	flagCloseAfter                    // CloseAfterFrames is armed
	flagDrop                          // DropDelivery has pending ordinals
	flagRecord                        // Record is on
	flagKill                          // KillPublishers is armed
	flagStall                         // the server is stalled
)

// Server is an in-process AMPS-compatible server. Create it with NewServer (then Listen) or
// with StartTCP / StartUnix, and always Close it. All methods are safe for concurrent use.
type Server struct {
	cfg   settings
	epoch time.Time // monotonic base of now()

	lifeMu sync.Mutex // serialises Stop, Start and Restart

	mu         sync.Mutex
	closed     bool
	stopped    bool         // between Stop and Start
	specs      []listenSpec // every Listen, for Start
	listeners  []net.Listener
	tcpAddr    net.Addr
	unixPath   string
	conns      map[*conn]struct{}
	clients    map[string]*client
	closes     map[CloseReason]uint64
	nextConnID uint64
	wg         sync.WaitGroup

	flags atomic.Uint32

	state *State // shared with the other members of a group (Config.State), or private

	topicMu sync.Mutex
	topics  atomic.Pointer[map[string]*topicCounters]

	hookMu   sync.Mutex
	rejects  atomic.Pointer[map[string]struct{}]
	resume   chan struct{} // non-nil while paused; closed by ResumeReading (guarded by hookMu)
	drops    map[uint64]struct{}
	recLeft  int
	recorded []ReceivedFrame

	closeAfter atomic.Int64
	withhold   atomic.Bool
	delay      atomic.Int64 // ns

	hooks    faultHooks   // faults.go
	ackFault atomic.Bool  // DropPersistedAcks or DropPersistedAcksRandomly armed
	failN    atomic.Int64 // FailSequence faults pending

	frames, bytes, publishes, duplicates, rejected atomic.Uint64
	delivered, dropped, connsTotal                 atomic.Uint64

	faults faultCounters

	// strictOnly turns the discard path off: every frame goes through the strict parser
	// (tests compare the two). Set before the server has connections.
	strictOnly bool
	fastStored atomic.Uint64 // stored publishes the discard path handled, on connections that ended (tests)
}

// listenSpec is one listener's network and actual address (a TCP port chosen by the kernel is
// kept, so that Start listens on the same one).
type listenSpec struct{ network, address string }

// NewServer returns a server with no listener; call Listen, or ServeConn. It joins
// cfg.State when set (see State), else it gets a State of its own.
func NewServer(cfg Config) *Server {
	s := &Server{
		cfg:     normalize(cfg),
		epoch:   time.Now(),
		conns:   map[*conn]struct{}{},
		clients: map[string]*client{},
		closes:  map[CloseReason]uint64{},
		drops:   map[uint64]struct{}{},
	}
	s.state = s.cfg.State
	if s.state == nil {
		s.state = NewState()
	}
	emptyTopics := map[string]*topicCounters{}
	s.topics.Store(&emptyTopics)
	emptyRejects := map[string]struct{}{}
	s.rejects.Store(&emptyRejects)
	s.state.join(s)
	return s
}

// StartTCP returns a server listening on 127.0.0.1 on a free port.
func StartTCP(cfg Config) (*Server, error) {
	s := NewServer(cfg)
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// StartUnix returns a server listening on the unix socket path (which must not exist; at most
// 107 bytes). The socket file is removed by Close.
func StartUnix(cfg Config, path string) (*Server, error) {
	s := NewServer(cfg)
	if err := s.Listen("unix", path); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// now is a monotonic clock in nanoseconds since the server started.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// Listen starts accepting connections on network ("tcp", "tcp4", "tcp6" or "unix") and
// address, e.g. "127.0.0.1:0" or a socket path. It may be called several times (a TCP and a
// unix listener, say). Addr and UnixPath report the first of each kind. It returns
// ErrServerClosed after Close and ErrServerStopped between Stop and Start.
func (s *Server) Listen(network, address string) error {
	l, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("ampstest: listen %s %s: %w", network, address, err)
	}
	s.mu.Lock()
	if s.closed || s.stopped {
		err := ErrServerClosed
		if !s.closed {
			err = ErrServerStopped
		}
		s.mu.Unlock()
		l.Close()
		return err
	}
	s.listeners = append(s.listeners, l)
	s.specs = append(s.specs, listenSpec{network, l.Addr().String()})
	switch a := l.Addr().(type) {
	case *net.UnixAddr:
		if s.unixPath == "" {
			s.unixPath = a.Name
		}
	default:
		if s.tcpAddr == nil {
			s.tcpAddr = a
		}
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.acceptLoop(l)
	return nil
}

func (s *Server) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed || s.stopped
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (EMFILE, ECONNABORTED...): back off, bounded.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("ampstest: accept: %v; retrying in %v", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.ServeConn(nc)
	}
}

// ServeConn serves an already established connection (one end of a net.Pipe, say) exactly
// as if a listener had accepted it. It returns at once; the server owns nc from then on and
// closes it. After Close, and between Stop and Start, it just closes nc.
func (s *Server) ServeConn(nc net.Conn) {
	s.mu.Lock()
	if s.closed || s.stopped {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.nextConnID++
	c := newConn(s, nc, s.nextConnID)
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	s.connsTotal.Add(1)
	go c.readLoop()
	go c.writeLoop()
}

// Addr returns the address of the first TCP listener, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddr
}

// UnixPath returns the socket path of the first unix listener, or "".
func (s *Server) UnixPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unixPath
}

// URI returns a connection string for the first TCP listener, e.g.
// "tcp://127.0.0.1:40123/amps/json" for messageType "json" ("/amps" when messageType is
// empty), or "" without a TCP listener.
func (s *Server) URI(messageType string) string {
	a := s.Addr()
	if a == nil {
		return ""
	}
	return "tcp://" + a.String() + ampsPath(messageType)
}

// UnixURI returns a connection string for the first unix listener, e.g.
// "unix://localhost:0/amps/json?path=/tmp/x/amps.sock", or "" without a unix listener.
func (s *Server) UnixURI(messageType string) string {
	p := s.UnixPath()
	if p == "" {
		return ""
	}
	return "unix://localhost:0" + ampsPath(messageType) + "?path=" + p
}

func ampsPath(mt string) string {
	if mt == "" {
		return "/amps"
	}
	return "/amps/" + mt
}

// Close stops every listener, closes every connection (queued output is discarded) and
// waits until every goroutine of the server has returned. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	ls := s.listeners
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var err error
	for _, l := range ls {
		if e := l.Close(); e != nil && err == nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	for _, c := range conns {
		c.abort(CloseServerClosed)
	}
	s.wg.Wait()
	s.state.leave(s)
	return err
}

// Stop makes the server unreachable, as a crashed server process: it closes every listener
// (new dials are refused; a unix socket file is removed) and every connection abruptly
// (queued output, held and pending acks are discarded; close reason CloseServerStopped), and
// waits until their goroutines have returned. Their subscriptions go away. What a server
// keeps across a crash stays: the State (last sequences), fault hooks, counters. Start
// listens again on the same addresses. Stop on a stopped server does nothing; after Close it
// returns ErrServerClosed.
func (s *Server) Stop() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	ls := s.listeners
	s.listeners = nil
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.faults.stops.Add(1)
	var err error
	for _, l := range ls {
		if e := l.Close(); e != nil && err == nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	for _, c := range conns {
		c.abort(CloseServerStopped)
	}
	// No goroutine can be added meanwhile: Listen, ServeConn and the accept loops refuse while
	// stopped, and Start waits for lifeMu.
	s.wg.Wait()
	return err
}

// Start undoes Stop: it listens again on the address of every listener the server had (the
// same TCP port, the same unix socket path) and accepts connections again. If one of them
// cannot be listened on (another socket took the port meanwhile), it returns the error and the
// server stays stopped. Start on a running server does nothing; after Close it returns
// ErrServerClosed.
func (s *Server) Start() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.startLocked()
}

func (s *Server) startLocked() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if !s.stopped {
		s.mu.Unlock()
		return nil
	}
	specs := slices.Clone(s.specs)
	s.mu.Unlock()
	ls := make([]net.Listener, 0, len(specs))
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, sp := range specs {
		l, err := net.Listen(sp.network, sp.address)
		if err != nil {
			closeAll()
			return fmt.Errorf("ampstest: listen again %s %s: %w", sp.network, sp.address, err)
		}
		ls = append(ls, l)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		closeAll()
		return ErrServerClosed
	}
	s.stopped = false
	s.listeners = ls
	s.wg.Add(len(ls))
	s.mu.Unlock()
	for _, l := range ls {
		go s.acceptLoop(l)
	}
	return nil
}

// Restart is Stop then Start, as a server that crashed and came back on the same addresses.
// With keepState the State survives: logon acks report each name's last sequence and
// duplicates are still dropped. Without it the State's records are forgotten (State.Forget),
// as a server that lost its transaction log: a logon ack reports s=0, lower than what the
// client had persisted (a gap), and every sequence is accepted again. With a State shared by a
// group, forgetting applies to the whole group (the group lost its log; a single member that
// lost its log would re-sync from its peers, which keepState models); connections to the
// other members are never affected.
func (s *Server) Restart(keepState bool) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.stopLocked(); err != nil {
		return err
	}
	if !keepState {
		s.state.Forget()
		s.faults.stateResets.Add(1)
	}
	return s.startLocked()
}

// Stopped reports whether the server is between Stop and Start.
func (s *Server) Stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// countClose records a connection close reason.
func (s *Server) countClose(r CloseReason) {
	s.mu.Lock()
	s.closes[r]++
	s.mu.Unlock()
}

// removeConn forgets a connection whose goroutines have both returned.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// bind makes c the live connection of name, closing an older connection of the same name and
// user. It returns the failure reason "name in use" when another user holds the name.
func (s *Server) bind(c *conn, name, user string) (*client, string) {
	r := s.state.record(name)
	s.mu.Lock()
	cl := s.clients[name]
	if cl == nil {
		cl = newClient(r)
		s.clients[name] = cl
	}
	var old *conn
	if cl.live != nil && cl.live != c && !cl.live.dead.Load() {
		if cl.user != user {
			s.mu.Unlock()
			return nil, reasonNameInUse
		}
		old = cl.live
	}
	cl.live, cl.user = c, user
	cl.logons++
	s.mu.Unlock()
	if old != nil {
		old.abort(CloseReplaced)
	}
	return cl, ""
}

func (s *Server) unbind(c *conn) {
	if c.cl == nil {
		return
	}
	s.mu.Lock()
	if c.cl.live == c {
		c.cl.live = nil
	}
	s.mu.Unlock()
}

func (s *Server) clientRecord(name string) *client {
	r := s.state.record(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clients[name]
	if cl == nil {
		cl = newClient(r)
		s.clients[name] = cl
	}
	return cl
}

// State returns the state this server uses: Config.State, or its own.
func (s *Server) State() *State { return s.state }

// LastSequence returns the highest accepted sequence number of a client name (0 if none):
// the value a logon ack for that name reports as "s" and in "bm". With a shared State it is
// the group's value, whichever member accepted the publish.
func (s *Server) LastSequence(clientName string) uint64 {
	return s.state.LastSequence(clientName)
}

// SetLastSequence sets the last sequence of a client name, as if a transaction log held its
// history: the next logon ack reports seq, and publishes with s ≤ seq are duplicates. A value
// below the current one lowers it: the next logon ack reports the lower L (a server that lost
// part of its log), and sequences above it are accepted again. With a shared State it applies
// to every member.
func (s *Server) SetLastSequence(clientName string, seq uint64) {
	s.faults.lastSeqSets.Add(1)
	s.clientRecord(clientName).setLast(s.state, seq)
}

// DropClient closes the live connection of clientName abruptly (queued output is discarded),
// as a network failure would. It reports whether there was one.
func (s *Server) DropClient(clientName string) bool {
	s.mu.Lock()
	var c *conn
	if cl := s.clients[clientName]; cl != nil && cl.live != nil && !cl.live.dead.Load() {
		c = cl.live
	}
	s.mu.Unlock()
	if c == nil {
		return false
	}
	s.faults.droppedClients.Add(1)
	c.abort(CloseDropped)
	return true
}

// CloseAfterFrames arms a one-shot fault: counting from this call, the k-th inbound frame
// handled server-wide (on any connection, every command counts) is processed completely (state
// updated, deliveries queued) and then its connection is closed abruptly, discarding its
// queued output (acks included), as a network failure right after the server processed it.
// The hook then disarms. k ≤ 0 disarms it.
func (s *Server) CloseAfterFrames(k int) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if k <= 0 {
		s.flags.And(^flagCloseAfter)
		s.closeAfter.Store(0)
		return
	}
	s.closeAfter.Store(int64(k))
	s.flags.Or(flagCloseAfter)
}

// closeAfterHit counts one handled frame against CloseAfterFrames and reports whether it is
// the one that must close its connection.
func (s *Server) closeAfterHit() bool {
	n := s.closeAfter.Add(-1)
	if n != 0 {
		return false
	}
	s.hookMu.Lock()
	if s.closeAfter.Load() <= 0 {
		s.flags.And(^flagCloseAfter)
	}
	s.hookMu.Unlock()
	return true
}

// PauseReading stops every connection from reading and processing frames (frames already
// buffered wait too) until ResumeReading, so that clients' socket buffers fill and their
// writes block. Writers keep running (acks already queued, heartbeats, deliveries from
// nowhere). A connection with heartbeat armed is still dropped after 2N s without reads.
func (s *Server) PauseReading() {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if s.resume == nil {
		s.resume = make(chan struct{})
		s.flags.Or(flagPause)
		s.faults.pauses.Add(1)
	}
}

// ResumeReading undoes PauseReading.
func (s *Server) ResumeReading() {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if s.resume != nil {
		close(s.resume)
		s.resume = nil
		s.flags.And(^flagPause)
	}
}

func (s *Server) pauseChan() chan struct{} {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	return s.resume
}

// WithholdAcks(true) holds back every ack of publish, delta_publish and flush commands (all
// ack types, conflated persisted acks included) on every connection; they are kept in order
// and sent when WithholdAcks(false) is called, unless their connection closes first. Acks of
// logon, subscribe, unsubscribe, heartbeat and unknown commands are never held. While held
// acks reach Config.MaxOutbound bytes on a connection, that connection stops being read.
func (s *Server) WithholdAcks(on bool) {
	s.withhold.Store(on)
	if !on {
		s.kickAll()
	}
}

// DelayAcks makes every ack that WithholdAcks would hold leave no earlier than d after the
// command that caused it was processed (order is kept). d ≤ 0 removes the delay for acks
// produced from then on.
func (s *Server) DelayAcks(d time.Duration) {
	s.delay.Store(int64(max(d, 0)))
	s.kickAll()
}

func (s *Server) kickAll() {
	s.mu.Lock()
	for c := range s.conns {
		c.kickWriter()
	}
	s.mu.Unlock()
}

// RejectTopic makes topic not entitled: publishes to it are not accepted or delivered (a
// processed ack says failure "not entitled"; a persisted ack is split as amps-protocol.md §4.2
// describes), and subscribing to it fails with "not entitled".
func (s *Server) RejectTopic(topic string) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	old := *s.rejects.Load()
	m := make(map[string]struct{}, len(old)+1)
	for k := range old {
		m[k] = struct{}{}
	}
	m[topic] = struct{}{}
	s.rejects.Store(&m)
	s.flags.Or(flagReject)
}

// AllowTopic undoes RejectTopic.
func (s *Server) AllowTopic(topic string) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	old := *s.rejects.Load()
	m := make(map[string]struct{}, len(old))
	for k := range old {
		if k != topic {
			m[k] = struct{}{}
		}
	}
	s.rejects.Store(&m)
	if len(m) == 0 {
		s.flags.And(^flagReject)
	}
}

func (s *Server) isRejected(topic []byte) bool {
	_, ok := (*s.rejects.Load())[string(topic)]
	return ok
}

// DropDelivery makes the n-th accepted publish (1-based, counted server-wide in the order the
// server accepts them, since the server started; Stats.Publishes is the count so far) not
// delivered to any subscriber, as if lost, so that a verifier can be shown to detect a gap. It
// is still accepted, counted and acked, and its bookmark ordinal is used up. Calls accumulate;
// an ordinal already passed has no effect. With one publishing connection the numbering is
// exact; with several publishing at once, their interleaving is the server's processing order
// (publishes handled on the discard path before the call are numbered when that connection
// next handles a frame on the full path).
func (s *Server) DropDelivery(n uint64) {
	if n == 0 {
		return
	}
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.drops[n] = struct{}{}
	s.flags.Or(flagDrop)
}

// takeDrop reports whether ordinal n must not be delivered, consuming it.
func (s *Server) takeDrop(n uint64) bool {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	_, ok := s.drops[n]
	if ok {
		delete(s.drops, n)
	}
	for k := range s.drops {
		if k <= n {
			delete(s.drops, k) // passed (numbered while the flag was off, or raced)
		}
	}
	if len(s.drops) == 0 {
		s.flags.And(^flagDrop)
	}
	return ok
}

// ReceivedFrame is one frame kept by Record.
type ReceivedFrame struct {
	Conn       uint64        // connection number, from 1 in accept order
	ClientName string        // "" before the connection's logon
	Command    frame.Command // parsed "c"
	Header     []byte        // the header as received (escapes intact; a logon's pw included)
	Payload    []byte
}

// Record starts keeping copies of the next max well-formed inbound frames (server-wide, in
// processing order); max ≤ 0 stops recording. Recording costs memory and disables the discard
// path, so it is off by default. Previously recorded frames are kept.
func (s *Server) Record(max int) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.recLeft = max
	if max > 0 {
		s.flags.Or(flagRecord)
	} else {
		s.flags.And(^flagRecord)
	}
}

// Received returns a copy of the recorded frames.
func (s *Server) Received() []ReceivedFrame {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	return append([]ReceivedFrame(nil), s.recorded...)
}

func (s *Server) record(f ReceivedFrame) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if s.recLeft <= 0 {
		return
	}
	s.recorded = append(s.recorded, f)
	s.recLeft--
	if s.recLeft == 0 {
		s.flags.And(^flagRecord)
	}
}

// addSub registers a subscription in the server's State.
func (s *Server) addSub(c *conn, subID, topic string) bool { return s.state.addSub(c, subID, topic) }

// removeSub removes subscriptions of c from the server's State (see State.removeSub).
func (s *Server) removeSub(c *conn, subID string) int { return s.state.removeSub(c, subID) }
