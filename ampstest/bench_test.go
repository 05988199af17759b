package ampstest

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// memConn is an in-memory net.Conn for the handler benchmarks: it serves head once, then
// block (whole frames) over and over until left bytes have been served, then io.EOF. Writes
// are discarded.
type memConn struct {
	head  []byte
	block []byte
	left  int
	off   int
}

func (m *memConn) Read(p []byte) (int, error) {
	if len(m.head) > 0 {
		n := copy(p, m.head)
		m.head = m.head[n:]
		return n, nil
	}
	if m.left == 0 {
		return 0, io.EOF
	}
	src := m.block[m.off:]
	if len(src) > m.left {
		src = src[:m.left]
	}
	n := copy(p, src)
	m.off += n
	if m.off == len(m.block) {
		m.off = 0
	}
	m.left -= n
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

const benchPayload = 128

// benchFrame is a plain publish of a 128-byte payload, as a publisher without a store sends.
func benchFrame(tb testing.TB) []byte {
	return pubFrame(tb, frame.Publish{Topic: "bench.orders"}, strings.Repeat("x", benchPayload))
}

func reportFrames(b *testing.B, el time.Duration) {
	b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/frame")
	b.ReportMetric(float64(b.N)/el.Seconds(), "frames/s")
}

// BenchmarkDiscardHandler measures the connection handler alone (frame.Reader, discard-path
// scanner, counters) on an in-memory stream: one op = one 128-byte-payload publish frame.
// The memConn copy stands in for the kernel's copy of a socket read.
func BenchmarkDiscardHandler(b *testing.B) {
	f := benchFrame(b)
	s := NewServer(Config{})
	defer s.Close()
	mc := &memConn{head: logonFrame(b, "1", "bench", "", ""), block: bytes.Repeat(f, 4096), left: b.N * len(f)}
	c := newConn(s, mc, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	b.ResetTimer()
	start := time.Now()
	reason := c.serve()
	el := time.Since(start)
	b.StopTimer()
	c.flushCounters()
	if reason != CloseEOF || s.publishes.Load() != uint64(b.N) {
		b.Fatalf("serve ended with %q after %d publishes, want eof after %d", reason, s.publishes.Load(), b.N)
	}
	reportFrames(b, el)
}

// BenchmarkDiscardTCP pushes pre-encoded frames through a real loopback TCP socket; the
// server's reader goroutine and the benchmark's writer share the machine's cores. The clock
// stops when the ack of a final flush arrives, i.e. once the server has handled every frame.
func BenchmarkDiscardTCP(b *testing.B) { benchmarkDiscardSocket(b, "tcp") }

// BenchmarkDiscardUnix is BenchmarkDiscardTCP over a unix socket.
func BenchmarkDiscardUnix(b *testing.B) { benchmarkDiscardSocket(b, "unix") }

func benchmarkDiscardSocket(b *testing.B, network string) {
	s := NewServer(Config{})
	defer s.Close()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(b.TempDir(), "b.sock")
	}
	if err := s.Listen(network, addr); err != nil {
		b.Fatal(err)
	}
	if network == "tcp" {
		addr = s.Addr().String()
	}
	nc, err := net.Dial(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	rd := frame.NewReader(nc, 0, 0)
	nc.Write(logonFrame(b, "1", "bench", "", ""))
	if _, err := rd.Next(); err != nil {
		b.Fatal(err)
	}
	f := benchFrame(b)
	const perWrite = 2048 // 300 KB per write
	block := bytes.Repeat(f, perWrite)
	flush := flushFrame(b, "done", frame.AckProcessed)
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	b.ResetTimer()
	start := time.Now()
	for left := b.N; left > 0; {
		k := min(left, perWrite)
		if _, err := nc.Write(block[:k*len(f)]); err != nil {
			b.Fatal(err)
		}
		left -= k
	}
	if _, err := nc.Write(flush); err != nil {
		b.Fatal(err)
	}
	if _, err := rd.Next(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	if got := s.Stats().Publishes; got != uint64(b.N) {
		b.Fatalf("server accepted %d publishes, want %d", got, b.N)
	}
	reportFrames(b, el)
}

// BenchmarkScanPlainPublish measures the discard path's header scanner alone.
func BenchmarkScanPlainPublish(b *testing.B) {
	body := benchFrame(b)[frame.PrefixLen:]
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_, k := scanPlainPublish(body)
		n += k
	}
	if n == 0 {
		b.Fatal("not recognised")
	}
}

// BenchmarkParseHeader is the full strict parser on the same header, for comparison.
func BenchmarkParseHeader(b *testing.B) {
	body := benchFrame(b)[frame.PrefixLen:]
	var h frame.Header
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// storedSeqBase is the first sequence number of the stored-publish benchmarks: a
// nanosecond-clock value, as a publish store numbers its messages (19 digits).
const storedSeqBase = 1764680000000000123

// storedBlockFrames is the number of frames in a storedConn block: a power of ten, so that
// moving a block to its next sequence numbers is one decimal increment per frame.
const storedBlockFrames = 1000

// storedConn is a memConn whose block holds storedBlockFrames stored publishes (the frames a
// client with a publish store sends: {"c":"p","t":"…","a":"persisted","s":<seq>}) with
// consecutive sequence numbers; each time the block has been served, every frame's sequence
// is raised by storedBlockFrames, so the stream's sequences keep increasing. Writes (the
// server's acks) are counted and discarded.
type storedConn struct {
	memConn
	digits []int // offset of each frame's last significant digit to bump (the thousands)
	wrote  atomic.Int64
}

func newStoredConn(tb testing.TB, name string, frames int) *storedConn {
	var block []byte
	var digits []int
	payload := strings.Repeat("x", benchPayload)
	for i := range storedBlockFrames {
		f := pubFrame(tb, frame.Publish{Topic: "bench.orders", Ack: frame.AckPersisted, Seq: storedSeqBase + uint64(i)}, payload)
		end := bytes.LastIndexByte(f[:len(f)-benchPayload], '}')
		digits = append(digits, len(block)+end-4) // 10^3's digit
		block = append(block, f...)
	}
	return &storedConn{
		memConn: memConn{head: logonFrame(tb, "1", name, "", ""), block: block, left: frames * (len(block) / storedBlockFrames)},
		digits:  digits,
	}
}

func (m *storedConn) Read(p []byte) (int, error) {
	fromHead := len(m.head) > 0
	n, err := m.memConn.Read(p)
	if n > 0 && m.off == 0 && !fromHead {
		// The whole block was served: raise every frame's sequence by storedBlockFrames.
		for _, d := range m.digits {
			for i := d; ; i-- {
				if m.block[i] != '9' {
					m.block[i]++
					break
				}
				m.block[i] = '0'
			}
		}
	}
	return n, err
}

func (m *storedConn) Write(p []byte) (int, error) {
	m.wrote.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkDiscardStoredHandler is BenchmarkDiscardHandler for the frames of a publisher with
// a publish store (persisted ack requested, a new "s" in every frame): the connection's
// reader (frame.Reader, fast path or strict parser, duplicate check, counters, persisted ack
// queued) runs on the benchmark's goroutine, its writer on its own, discarding the acks. One
// op = one 128-byte-payload stored publish.
func BenchmarkDiscardStoredHandler(b *testing.B) {
	for _, mode := range []struct {
		name string
		p    PersistMode
	}{{"Immediate", Immediate{}}, {"Conflated", Conflated{Interval: time.Millisecond}}} {
		b.Run(mode.name, func(b *testing.B) {
			s := NewServer(Config{Persisted: mode.p})
			defer s.Close()
			mc := newStoredConn(b, "bench", b.N)
			frameLen := len(mc.block) / storedBlockFrames
			c := newConn(s, mc, 1)
			s.wg.Add(1)
			go c.writeLoop()
			b.ReportAllocs()
			b.SetBytes(int64(frameLen))
			b.ResetTimer()
			start := time.Now()
			reason := c.serve()
			el := time.Since(start)
			b.StopTimer()
			c.flushCounters()
			c.abort(reason)
			if reason != CloseEOF || s.publishes.Load() != uint64(b.N) || s.duplicates.Load() != 0 ||
				c.cl.last.Load() != storedSeqBase+uint64(b.N)-1 {
				b.Fatalf("serve ended with %q after %d publishes, %d duplicates, last %d; want eof after %d, last %d",
					reason, s.publishes.Load(), s.duplicates.Load(), c.cl.last.Load(), b.N, storedSeqBase+uint64(b.N)-1)
			}
			reportFrames(b, el)
		})
	}
}
