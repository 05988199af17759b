package sidebyside

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fastpub/fastpub/frame"
)

// SinkEnv is the environment variable that turns a binary into the sink: a
// binary whose main (or TestMain) calls RunSinkIfChild first runs the sink
// instead of itself when SinkEnv is set, with the variable's value as the
// sink's flags. StartSink re-executes the running binary that way, so the
// harness needs no second binary, also under go run and go test.
const SinkEnv = "FASTPUB_SIDEBYSIDE_SINK"

// Sink defaults.
const (
	// DefaultAckInterval is how often, at most, the sink sends a conflated
	// persisted ack while stored publishes arrive (1 ms).
	DefaultAckInterval = time.Millisecond
	// DefaultAckFrames: the sink also sends one at the end of any read that
	// brought the stored publishes since its last ack to this many.
	DefaultAckFrames = 16384
	// sinkReadBuffer is the sink's read buffer per connection: one read
	// takes whatever the socket holds, up to this.
	sinkReadBuffer = 1 << 20
	// sinkMaxFrame: a larger frame closes the connection.
	sinkMaxFrame = 64 << 20
	// Latency histogram bounds, nanoseconds: 1 ns to 100 s, 3 digits.
	histLowest  = 1
	histHighest = 100 * int64(time.Second)
	histDigits  = 3
	// sinkServerVersion is what the sink's logon ack reports.
	sinkServerVersion = "5.3.4.0"
)

// SinkReport is what the sink sends back for one measured run (between a
// begin and an end on its control channel).
type SinkReport struct {
	Publishes uint64 `json:"publishes"` // publish and delta_publish frames
	Frames    uint64 `json:"frames"`    // every frame, publishes included
	Bytes     uint64 `json:"bytes"`     // every byte read, length prefixes included
	Unstamped uint64 `json:"unstamped"` // latency mode: publishes under 8 payload bytes
	Acks      uint64 `json:"acks"`      // conflated persisted acks sent
	UserNs    int64  `json:"user_ns"`   // the sink's CPU (getrusage RUSAGE_SELF) during the run
	SysNs     int64  `json:"sys_ns"`
	Hist      []byte `json:"hist,omitempty"` // latency mode: HdrHistogram, V2 compressed encoding
}

// CPU is the sink's user + system CPU in nanoseconds.
func (r SinkReport) CPU() int64 { return r.UserNs + r.SysNs }

// Histogram decodes the latency histogram (nil when the run recorded none).
func (r SinkReport) Histogram() (*hdrhistogram.Histogram, error) {
	if len(r.Hist) == 0 {
		return nil, nil
	}
	return hdrhistogram.Decode(r.Hist)
}

// controlMsg is one line on the control channel, either way.
type controlMsg struct {
	Op      string      `json:"op"`                // ready, begin, end, final (sink → parent); begin, end (parent → sink)
	Latency bool        `json:"latency,omitempty"` // begin: parse stamps and record latency
	Unix    string      `json:"unix,omitempty"`    // ready: the unix socket
	TCP     string      `json:"tcp,omitempty"`     // ready: the TCP listener, when asked for
	Report  *SinkReport `json:"report,omitempty"`  // end, final
	Err     string      `json:"err,omitempty"`
}

// RunSinkIfChild runs the sink and exits when SinkEnv is set; otherwise it
// returns at once. Call it first thing in main (or TestMain).
func RunSinkIfChild() {
	v, ok := os.LookupEnv(SinkEnv)
	if !ok {
		return
	}
	args, err := splitArgs(v)
	if err == nil {
		err = SinkMain(args, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside sink:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// splitArgs splits a SinkEnv value at spaces; values are quoted with
// strconv.Quote when they hold a space or a quote.
func splitArgs(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		if s[i] == '"' {
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return nil, err
			}
			u, err := strconv.Unquote(q)
			if err != nil {
				return nil, err
			}
			out = append(out, u)
			i += len(q)
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out, nil
}

func joinArgs(args []string) string {
	b := make([]byte, 0, 128)
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		needQuote := a == ""
		for j := 0; j < len(a); j++ {
			if a[j] == ' ' || a[j] == '"' || a[j] < 0x20 {
				needQuote = true
			}
		}
		if needQuote {
			b = strconv.AppendQuote(b, a)
		} else {
			b = append(b, a...)
		}
	}
	return string(b)
}

type sinkConfig struct {
	unixPath    string
	tcpAddr     string
	ackInterval time.Duration
	ackFrames   int
}

// SinkMain is the sink process: it listens, answers the publishers, and
// takes its orders from control, one JSON object per line ({"op":"begin",
// "latency":true}, {"op":"end"}), answering each on out. Its first line on
// out says where it listens ({"op":"ready","unix":...,"tcp":...}). When
// control ends (the parent closed the pipe or died) it writes a final
// report, closes everything and returns.
//
// Flags: -unix PATH (required), -tcp ADDR (also listen on TCP, e.g.
// 127.0.0.1:0), -ack-interval D, -ack-frames N.
func SinkMain(args []string, control io.Reader, out io.Writer) error {
	var cfg sinkConfig
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.StringVar(&cfg.unixPath, "unix", "", "listen on this unix socket path")
	fs.StringVar(&cfg.tcpAddr, "tcp", "", "also listen on this TCP address (127.0.0.1:0)")
	fs.DurationVar(&cfg.ackInterval, "ack-interval", DefaultAckInterval, "conflated persisted acks at most this often")
	fs.IntVar(&cfg.ackFrames, "ack-frames", DefaultAckFrames, "and at the end of a read once this many stored publishes are unacknowledged")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.unixPath == "" {
		return errors.New("-unix is required")
	}
	if cfg.ackInterval <= 0 || cfg.ackFrames <= 0 {
		return errors.New("-ack-interval and -ack-frames must be positive")
	}
	srv, err := newSinkServer(cfg)
	if err != nil {
		return err
	}
	defer srv.close()
	enc := json.NewEncoder(out)
	ready := controlMsg{Op: "ready", Unix: cfg.unixPath}
	if srv.tcp != nil {
		ready.TCP = srv.tcp.Addr().String()
	}
	if err := enc.Encode(&ready); err != nil {
		return err
	}
	sc := bufio.NewScanner(control)
	for sc.Scan() {
		var m controlMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			_ = enc.Encode(&controlMsg{Op: "error", Err: err.Error()})
			continue
		}
		var reply controlMsg
		switch m.Op {
		case "begin":
			srv.begin(m.Latency)
			reply = controlMsg{Op: "begin"}
		case "end":
			rep := srv.end()
			reply = controlMsg{Op: "end", Report: &rep}
		default:
			reply = controlMsg{Op: "error", Err: "unknown op " + strconv.Quote(m.Op)}
		}
		if err := enc.Encode(&reply); err != nil {
			return err
		}
	}
	rep := srv.end()
	_ = enc.Encode(&controlMsg{Op: "final", Report: &rep})
	return nil
}

// sinkServer is the sink's state: counters shared by every connection, the
// latency histogram, and the last sequence seen per client name.
type sinkServer struct {
	cfg       sinkConfig
	unix, tcp net.Listener
	wg        sync.WaitGroup

	publishes, frames, bytes, unstamped, acks atomic.Uint64
	latency                                   atomic.Bool
	baseUser, baseSys                         int64 // set by begin, read by end (control goroutine only)

	histMu sync.Mutex
	hist   *hdrhistogram.Histogram

	mu    sync.Mutex
	names map[string]uint64 // client name → highest s seen
	conns map[net.Conn]struct{}
}

func newSinkServer(cfg sinkConfig) (*sinkServer, error) {
	_ = os.Remove(cfg.unixPath)
	s := &sinkServer{cfg: cfg, names: map[string]uint64{}, conns: map[net.Conn]struct{}{},
		hist: hdrhistogram.New(histLowest, histHighest, histDigits)}
	var err error
	if s.unix, err = net.Listen("unix", cfg.unixPath); err != nil {
		return nil, err
	}
	if cfg.tcpAddr != "" {
		if s.tcp, err = net.Listen("tcp", cfg.tcpAddr); err != nil {
			s.unix.Close()
			return nil, err
		}
	}
	for _, ln := range []net.Listener{s.unix, s.tcp} {
		if ln != nil {
			s.wg.Add(1)
			go s.accept(ln)
		}
	}
	s.baseUser, s.baseSys = cpuTime()
	return s, nil
}

func (s *sinkServer) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			newSinkConn(s, c).serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *sinkServer) close() {
	s.unix.Close()
	if s.tcp != nil {
		s.tcp.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
	_ = os.Remove(s.cfg.unixPath)
}

// begin starts a measured run: counters and histogram to zero, the CPU
// baseline taken.
func (s *sinkServer) begin(latency bool) {
	s.histMu.Lock()
	s.hist.Reset()
	s.histMu.Unlock()
	for _, c := range []*atomic.Uint64{&s.publishes, &s.frames, &s.bytes, &s.unstamped, &s.acks} {
		c.Store(0)
	}
	s.latency.Store(latency)
	s.baseUser, s.baseSys = cpuTime()
}

// end reports the run since begin. Every frame a connection has answered a
// flush after is counted (a connection adds its counts before it acks).
func (s *sinkServer) end() SinkReport {
	u, y := cpuTime()
	r := SinkReport{
		Publishes: s.publishes.Load(), Frames: s.frames.Load(), Bytes: s.bytes.Load(),
		Unstamped: s.unstamped.Load(), Acks: s.acks.Load(),
		UserNs: u - s.baseUser, SysNs: y - s.baseSys,
	}
	if s.latency.Swap(false) {
		s.histMu.Lock()
		if s.hist.TotalCount() > 0 {
			r.Hist, _ = s.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		}
		s.histMu.Unlock()
	}
	return r
}

// sinkConn is one publisher connection.
type sinkConn struct {
	srv *sinkServer
	c   net.Conn
	hdr frame.Header

	// Counts not yet added to the server's (the reader's own).
	pubs, frames, bytes, unstamped uint64
	stored                         uint64 // stored publishes since the last look at the ack state
	name                           string

	maxS    atomic.Uint64 // highest "s" of a publish asking for a persisted ack, as of the last addCounts
	readMax uint64        // the reader's own highest such "s", published to maxS by addCounts
	sHdr    []byte        // the last stored publish's header up to "s": and the head of its digits (storedCache), empty if none
	sHead   uint64        // the value of the digits sHdr ends with (0: it ends with "s":)
	ticker  chan struct{} // closed to stop the ack ticker; nil until the first stored publish

	wmu     sync.Mutex // guards writes to c and the fields below
	out     []byte
	ackedS  uint64
	lastAck int64
	unacked int // stored publishes since the last persisted ack
}

func newSinkConn(s *sinkServer, c net.Conn) *sinkConn {
	return &sinkConn{srv: s, c: c, out: make([]byte, 0, 512)}
}

const publishPrefix = `{"c":"p","t":"`

func (sc *sinkConn) serve() {
	defer sc.c.Close()
	defer func() {
		if sc.ticker != nil {
			close(sc.ticker)
		}
		sc.addCounts()
		if sc.name != "" {
			sc.srv.mu.Lock()
			if m := sc.maxS.Load(); m > sc.srv.names[sc.name] {
				sc.srv.names[sc.name] = m
			}
			sc.srv.mu.Unlock()
		}
	}()
	buf := make([]byte, sinkReadBuffer)
	end := 0
	for {
		if end >= 4 {
			// A partial frame larger than the buffer: grow it.
			need := 4 + int(binary.BigEndian.Uint32(buf))
			if need > sinkMaxFrame+4 {
				return
			}
			if need > len(buf) {
				nb := make([]byte, need)
				copy(nb, buf[:end])
				buf = nb
			}
		}
		n, err := sc.c.Read(buf[end:])
		if n > 0 {
			now := nanotime()
			end += n
			lat := sc.srv.latency.Load()
			if lat {
				sc.srv.histMu.Lock()
			}
			off, ok := sc.frames0(buf[:end], now, lat)
			if lat {
				sc.srv.histMu.Unlock()
			}
			if !ok {
				return
			}
			end = copy(buf, buf[off:end])
			sc.addCounts()
			if sc.stored > 0 {
				sc.persistedAck(now, false)
			}
		}
		if err != nil {
			return
		}
	}
}

// frames0 handles every whole frame in b and returns how many bytes they
// took; false means the connection must close.
func (sc *sinkConn) frames0(b []byte, now int64, lat bool) (int, bool) {
	off := 0
	for len(b)-off >= 4 {
		l := int(binary.BigEndian.Uint32(b[off:]))
		if l > sinkMaxFrame {
			return off, false
		}
		if len(b)-off-4 < l {
			break
		}
		body := b[off+4 : off+4+l]
		off += 4 + l
		sc.frames++
		sc.bytes += uint64(4 + l)
		if !sc.frame(body, now, lat) {
			return off, false
		}
	}
	return off, true
}

// frame handles one frame body. Publishes in the shapes fastpub and the
// harness send take the fast path (a scan of the header's few keys);
// everything else is parsed in full.
//
// A stored publish whose header ends with "s":<digits>} leaves that header
// in sc.sHdr, up to "s": and every digit but the last three (storedCache):
// the next frames that begin with exactly those bytes (a publisher's stream
// to one topic, whose consecutive sequence numbers share all but their last
// three digits for a thousand frames at a time) cost a comparison and three
// digits (cachedTail), not a scan of every key and nineteen digits.
func (sc *sinkConn) frame(body []byte, now int64, lat bool) bool {
	if h := sc.sHdr; len(h) != 0 && len(body) > len(h) && string(body[:len(h)]) == string(h) {
		if s, n := cachedTail(sc.sHead, body[len(h):]); n != 0 {
			sc.publish(body[len(h)+n:], s, true, now, lat)
			return true
		}
	}
	if len(body) > len(publishPrefix) && string(body[:len(publishPrefix)]) == publishPrefix {
		if payload, s, persisted, ok := scanPublish(body); ok {
			if persisted && s > 0 {
				if m, head := storedCache(body[:len(body)-len(payload)], s); m > 0 {
					sc.sHdr, sc.sHead = append(sc.sHdr[:0], body[:m]...), head
				}
			}
			sc.publish(payload, s, persisted, now, lat)
			return true
		}
	}
	h := &sc.hdr
	h.Reset()
	payload, err := h.Parse(body)
	if err != nil {
		return false
	}
	switch h.Command {
	case frame.CmdPublish, frame.CmdDeltaPublish:
		var s uint64
		if h.HasSeq {
			s = h.Seq
		}
		sc.publish(payload, s, h.Ack.Has(frame.AckPersisted), now, lat)
	case frame.CmdLogon:
		sc.logon(h)
	case frame.CmdFlush:
		sc.flush(h, now)
	case frame.CmdHeartbeat:
		// Inbound traffic; never answered.
	default:
		if len(h.CommandID) > 0 && h.Ack.Has(frame.AckProcessed) {
			sc.ack(&frame.Ack{CommandID: string(h.CommandID), Type: frame.AckProcessed, Status: "success"})
		}
	}
	return true
}

func (sc *sinkConn) publish(payload []byte, s uint64, persisted bool, now int64, lat bool) {
	sc.pubs++
	if persisted && s > 0 {
		sc.readMax = max(sc.readMax, s)
		sc.stored++
		if sc.ticker == nil {
			sc.startTicker()
		}
	}
	if lat {
		if len(payload) < 8 {
			sc.unstamped++
			return
		}
		d := now - int64(binary.LittleEndian.Uint64(payload))
		if d < 0 {
			d = 0
		}
		if d > histHighest {
			d = histHighest
		}
		_ = sc.srv.hist.RecordValue(d)
	}
}

// scanPublish reads a publish header of the shape {"c":"p","t":"<topic>"
// followed by ,"key":value pairs and '}'. It returns the payload, "s" and
// whether "a" asks for persisted; ok is false for anything else (escapes,
// nesting, junk), which then takes the full parser.
func scanPublish(b []byte) (payload []byte, s uint64, persisted, ok bool) {
	i := len(publishPrefix)
	for i < len(b) && b[i] != '"' {
		if b[i] == '\\' {
			return nil, 0, false, false
		}
		i++
	}
	i++ // the topic's closing quote
	for i < len(b) {
		switch b[i] {
		case '}':
			return b[i+1:], s, persisted, true
		case ',':
			i++
			if i >= len(b) || b[i] != '"' {
				return nil, 0, false, false
			}
			ks := i + 1
			i = ks
			for i < len(b) && b[i] != '"' && b[i] != '\\' {
				i++
			}
			if i+1 >= len(b) || b[i] != '"' || b[i+1] != ':' {
				return nil, 0, false, false
			}
			key := b[ks:i]
			i += 2
			var val []byte
			if i < len(b) && b[i] == '"' {
				vs := i + 1
				i = vs
				for i < len(b) && b[i] != '"' && b[i] != '\\' {
					i++
				}
				if i >= len(b) || b[i] != '"' {
					return nil, 0, false, false
				}
				val = b[vs:i]
				i++
			} else {
				vs := i
				for i < len(b) && b[i] != ',' && b[i] != '}' {
					i++
				}
				val = b[vs:i]
			}
			switch string(key) {
			case "s":
				if len(val) == 0 {
					return nil, 0, false, false
				}
				s = 0
				for _, d := range val {
					if d < '0' || d > '9' {
						return nil, 0, false, false
					}
					s = s*10 + uint64(d-'0')
				}
			case "a":
				persisted = containsWord(val, "persisted")
			}
		default:
			return nil, 0, false, false
		}
	}
	return nil, 0, false, false
}

// storedPrefix returns the length of header (a whole header that
// scanPublish accepted, '}' last) up to and including the "s": of a bare
// sequence number of 1 to 19 digits that ends it, or 0 if it does not end
// that way. Those bytes followed by such digits and '}' make a header
// scanPublish reads the same, with that "s" (FuzzSinkStoredCache).
func storedPrefix(header []byte) int {
	const key = `,"s":`
	end := len(header) - 1 // the '}'
	i := end
	for i > 0 && header[i-1] >= '0' && header[i-1] <= '9' {
		i--
	}
	if d := end - i; d < 1 || d > 19 || i < len(key) || string(header[i-len(key):i]) != key {
		return 0
	}
	return i
}

// storedCache returns how much of header (a whole header that scanPublish
// accepted as a stored publish with sequence s, '}' last) the stored-header
// cache keeps, and the value of the digits it ends with: with 4 to 19
// digits after "s": and a first digit that is not 0, all but the last
// three, and their value s/1000 (at least 1); otherwise up to "s": and 0.
// m is 0 when header does not end with a bare number (storedPrefix).
func storedCache(header []byte, s uint64) (m int, head uint64) {
	k := storedPrefix(header)
	if k == 0 {
		return 0, 0
	}
	if d := len(header) - 1 - k; d >= 4 && header[k] != '0' {
		return len(header) - 4, s / 1000
	}
	return k, 0
}

// cachedTail reads the end of a stored publish's header after a cached
// prefix (storedCache): with head 0, 1 to 19 digits and '}'
// (scanStoredTail); otherwise exactly three digits and '}', the number
// being head×1000 plus their value (frame.SeqTail). It returns the number
// and the bytes used, or n 0 for anything else.
func cachedTail(head uint64, b []byte) (s uint64, n int) {
	if head == 0 {
		return scanStoredTail(b)
	}
	return frame.SeqTail(head, b)
}

// scanStoredTail reads 1 to 19 digits and '}' at the start of b: the
// sequence number after a cached storedPrefix. It returns the number and the
// bytes used, or n 0 for anything else (which then takes scanPublish).
func scanStoredTail(b []byte) (s uint64, n int) {
	for n < len(b) && n < 20 {
		d := b[n]
		if d == '}' && n > 0 {
			return s, n + 1
		}
		if d < '0' || d > '9' {
			return 0, 0
		}
		s = s*10 + uint64(d-'0')
		n++
	}
	return 0, 0
}

// containsWord reports whether the comma-separated list v holds w.
func containsWord(v []byte, w string) bool {
	for len(v) > 0 {
		j := 0
		for j < len(v) && v[j] != ',' {
			j++
		}
		if string(v[:j]) == w {
			return true
		}
		if j == len(v) {
			break
		}
		v = v[j+1:]
	}
	return false
}

// addCounts adds the reader's counts to the server's.
func (sc *sinkConn) addCounts() {
	s := sc.srv
	if sc.readMax > sc.maxS.Load() {
		sc.maxS.Store(sc.readMax)
	}
	if sc.frames > 0 {
		s.frames.Add(sc.frames)
		s.bytes.Add(sc.bytes)
		sc.frames, sc.bytes = 0, 0
	}
	if sc.pubs > 0 {
		s.publishes.Add(sc.pubs)
		sc.pubs = 0
	}
	if sc.unstamped > 0 {
		s.unstamped.Add(sc.unstamped)
		sc.unstamped = 0
	}
}

func (sc *sinkConn) logon(h *frame.Header) {
	sc.name = string(h.ClientName)
	sc.srv.mu.Lock()
	last := sc.srv.names[sc.name]
	sc.srv.mu.Unlock()
	sc.readMax = max(sc.readMax, last)
	sc.addCounts()
	sc.wmu.Lock()
	sc.ackedS = last
	sc.wmu.Unlock()
	a := &frame.Ack{CommandID: string(h.CommandID), Type: frame.AckProcessed, Status: "success",
		ClientName: sc.name, Seq: last, HasSeq: true,
		Bookmark: strconv.FormatUint(nameHash(sc.name), 10) + "|" + strconv.FormatUint(last, 10) + "|",
		Version:  sinkServerVersion}
	if a.CommandID == "" {
		a.CommandID = "0"
	}
	sc.ack(a)
}

// nameHash is FNV-1a of the client name: a stable publisher hash for "bm".
func nameHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// flush acks a flush after every frame before it: the counts first (so that
// a report asked for after the ack has them), then, for a persisted flush,
// the conflated ack that covers every stored publish before it.
func (sc *sinkConn) flush(h *frame.Header, now int64) {
	sc.addCounts()
	cid := string(h.CommandID)
	for _, t := range [...]frame.AckType{frame.AckReceived, frame.AckProcessed, frame.AckCompleted} {
		if h.Ack.Has(t) {
			sc.ack(&frame.Ack{CommandID: cid, Type: t, Status: "success"})
		}
	}
	if h.Ack.Has(frame.AckPersisted) {
		sc.persistedAck(now, true)
		sc.ack(&frame.Ack{CommandID: cid, Type: frame.AckPersisted, Status: "success"})
	}
}

// ack writes one ack frame.
func (sc *sinkConn) ack(a *frame.Ack) {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	sc.writeAckLocked(a)
}

func (sc *sinkConn) writeAckLocked(a *frame.Ack) {
	out, err := frame.AppendAck(sc.out[:0], a)
	if err != nil {
		return
	}
	sc.out = out
	_, _ = sc.c.Write(out) // a failed write ends the connection's read too
}

// persistedAck sends the conflated persisted ack for the highest "s" seen
// when it is above the last one sent and either force is set, the interval
// has passed since the last one, or ackFrames stored publishes arrived
// since. Called by the reader after each read and by the ticker.
func (sc *sinkConn) persistedAck(now int64, force bool) {
	m := sc.maxS.Load()
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	sc.unacked += int(sc.stored) // the reader's own count, handed over here
	sc.stored = 0
	if m <= sc.ackedS {
		return
	}
	if !force && sc.unacked < sc.srv.cfg.ackFrames && now-sc.lastAck < int64(sc.srv.cfg.ackInterval) {
		return
	}
	sc.writeAckLocked(&frame.Ack{Type: frame.AckPersisted, Status: "success", Seq: m, HasSeq: true})
	sc.ackedS, sc.lastAck, sc.unacked = m, now, 0
	sc.srv.acks.Add(1)
}

// startTicker starts the goroutine that sends a due persisted ack when no
// read comes to send it (the publisher waits for acks to free its store).
func (sc *sinkConn) startTicker() {
	stop := make(chan struct{})
	sc.ticker = stop
	go func() {
		t := time.NewTicker(sc.srv.cfg.ackInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sc.tick()
			}
		}
	}()
}

// tick is persistedAck for the ticker, which must not touch the reader's
// stored count: it sends only when the interval has passed.
func (sc *sinkConn) tick() {
	m := sc.maxS.Load()
	now := nanotime()
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if m <= sc.ackedS || now-sc.lastAck < int64(sc.srv.cfg.ackInterval) {
		return
	}
	sc.writeAckLocked(&frame.Ack{Type: frame.AckPersisted, Status: "success", Seq: m, HasSeq: true})
	sc.ackedS, sc.lastAck, sc.unacked = m, now, 0
	sc.srv.acks.Add(1)
}
