package sidebyside

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fastpub/fastpub/frame"
)

// TestMain lets the test binary be the sink child (StartSink re-executes
// it with SinkEnv set).
func TestMain(m *testing.M) {
	RunSinkIfChild()
	os.Exit(m.Run())
}

func startSink(t *testing.T, o SinkOptions) *Sink {
	t.Helper()
	s, err := StartSink(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestEndToEnd runs a tiny harness: the sink child, every throughput row at
// two sizes, both latency rows, two rounds; the counts are checked by the
// harness itself (it fails on any mismatch).
func TestEndToEnd(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rounds = 2
	cfg.Messages = 4000
	cfg.Sizes = []int{32, 1024}
	cfg.Rates = []int{20_000}
	cfg.LatDur = Duration(100 * time.Millisecond)
	cfg.MaxTime = Duration(30 * time.Second)
	cfg.RunTimeout = Duration(10 * time.Second)
	if raceEnabled {
		cfg.Messages = 1000
		cfg.Rounds = 1
		cfg.LatDur = Duration(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("harness took %v", time.Since(start))
	if res.CutShort != "" {
		t.Fatalf("cut short: %s", res.CutShort)
	}
	if want := cfg.Rounds * len(cfg.Sizes) * len(cfg.Rows); len(res.Throughput) != want {
		t.Fatalf("%d throughput runs, want %d", len(res.Throughput), want)
	}
	for _, r := range res.Throughput {
		if r.Messages != cfg.Messages || r.MsgsPerSec <= 0 || r.PubCPU <= 0 || r.Bytes == 0 {
			t.Errorf("run %+v", r)
		}
		if r.Row == RowStore && r.Acks == 0 {
			t.Errorf("store run without a persisted ack: %+v", r)
		}
	}
	if want := cfg.Rounds * len(cfg.Rates) * len(cfg.LatRows); len(res.Latency) != want {
		t.Fatalf("%d latency runs, want %d", len(res.Latency), want)
	}
	for _, r := range res.Latency {
		if r.Messages != r.Planned || r.P50 <= 0 || r.Max < r.P99 || r.P99 < r.P50 {
			t.Errorf("latency run %+v", r)
		}
	}
	if len(res.Summary.Throughput) != len(cfg.Sizes)*len(cfg.Rows) || len(res.Summary.Ratios) != len(cfg.Sizes) ||
		len(res.Summary.Latency) != len(cfg.Rates)*len(cfg.LatRows) {
		t.Fatalf("summary %+v", res.Summary)
	}
	var md bytes.Buffer
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| payload | row | msgs/s | × ceiling | publisher CPU/msg | × ceiling | sink CPU/msg |",
		"| 32 B | ceiling: pre-encoded frames, contiguous writes |",
		"| 1024 B | fastpub, store on (persisted acks) |",
		"| 32 B | fastpub, 4 producers |",
		"| 20,000/s | inline write() floor |",
		"| 20,000/s | fastpub / inline floor |",
		"store on / off",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Throughput) != len(res.Throughput) || back.Config.LatDur != cfg.LatDur {
		t.Fatalf("JSON round trip: %+v", back.Config)
	}
	t.Logf("\n%s", md.String())
}

// sinkClient is a raw connection for protocol tests.
type sinkClient struct {
	t  *testing.T
	rc *rawConn
}

func (c *sinkClient) send(b []byte) {
	c.t.Helper()
	if _, err := c.rc.c.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one frame's header (with a deadline).
func (c *sinkClient) next() *frame.Header {
	c.t.Helper()
	_ = c.rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var l [4]byte
	if _, err := readFull(c.rc, l[:]); err != nil {
		c.t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(l[:]))
	if _, err := readFull(c.rc, body); err != nil {
		c.t.Fatal(err)
	}
	h := &frame.Header{}
	if _, err := h.Parse(body); err != nil {
		c.t.Fatalf("%q: %v", body, err)
	}
	return h
}

func readFull(rc *rawConn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := rc.c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func storedPublish(t *testing.T, s uint64, payload []byte) []byte {
	t.Helper()
	b, err := frame.AppendPublish(nil, &frame.Publish{Topic: Topic, Ack: frame.AckPersisted, Seq: s}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSinkProtocol: the logon ack, conflated persisted acks (by the ticker
// when the publisher stops), a persisted flush behind the ack that covers
// it, a processed flush, the last sequence per name across connections,
// and the counts and stamps of a run.
func TestSinkProtocol(t *testing.T) {
	s := startSink(t, SinkOptions{AckInterval: time.Millisecond, AckFrames: 1 << 20})
	if err := s.Begin(true); err != nil {
		t.Fatal(err)
	}
	rc, err := dialRaw(s, "unix", "proto")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	c := &sinkClient{t: t, rc: rc}
	stamp := make([]byte, 16)
	binary.LittleEndian.PutUint64(stamp, uint64(nanotime()-int64(2*time.Millisecond)))
	var three []byte
	for seq := uint64(5); seq <= 7; seq++ {
		three = append(three, storedPublish(t, seq, stamp)...)
	}
	c.send(three)
	// No flush: the ticker sends the ack within about a millisecond. The
	// three may arrive in more than one read, so an ack for 5 or 6 may come
	// first; acks only ever rise.
	var last uint64
	for last != 7 {
		h := c.next()
		if h.Command != frame.CmdAck || !h.Ack.Has(frame.AckPersisted) || !h.HasSeq || h.Seq <= last || h.Seq > 7 || string(h.Status) != "success" {
			t.Fatalf("want persisted acks rising to s=7 (last %d), got %+v", last, h)
		}
		last = h.Seq
	}
	var h *frame.Header
	c.send(storedPublish(t, 8, stamp))
	f, _ := frame.AppendFlush(nil, &frame.Flush{CommandID: "f1", Ack: frame.AckPersisted})
	c.send(f)
	for {
		h = c.next()
		if len(h.CommandID) == 0 && h.HasSeq && h.Seq == 8 {
			break // the flush forced out the ack covering s=8 ...
		}
		if h.HasSeq && h.Seq < 8 {
			t.Fatalf("a stale persisted ack: %+v", h)
		}
		if string(h.CommandID) == "f1" {
			t.Fatal("the flush's ack came before the persisted ack covering everything before it")
		}
	}
	if h = c.next(); string(h.CommandID) != "f1" || !h.Ack.Has(frame.AckPersisted) || string(h.Status) != "success" {
		t.Fatalf("want the flush's persisted ack, got %+v", h)
	}
	// A short payload in latency mode is counted as unstamped.
	short, _ := frame.AppendPublish(nil, &frame.Publish{Topic: "other"}, []byte("x"))
	c.send(short)
	if err := rc.flush("f2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	rep, err := s.End()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Publishes != 5 || rep.Frames != 8 || rep.Unstamped != 1 || rep.Acks < 2 {
		t.Fatalf("report %+v", rep)
	}
	hist, err := rep.Histogram()
	if err != nil || hist == nil {
		t.Fatalf("histogram %v, %v", hist, err)
	}
	if hist.TotalCount() != 4 || hist.Min() < int64(2*time.Millisecond)*999/1000 {
		t.Fatalf("histogram: %d values, min %d ns (want 4 values ≥ 2 ms)", hist.TotalCount(), hist.Min())
	}
	rc.Close()

	// The same name again: the logon ack carries the last sequence seen.
	// The sink updates it when the old connection's reader ends.
	deadline := time.Now().Add(5 * time.Second)
	for {
		rc2, err := dialRaw(s, "unix", "proto")
		if err != nil {
			t.Fatal(err)
		}
		if rc2.hdr.Seq == 8 && string(rc2.hdr.Version) == sinkServerVersion && string(rc2.hdr.ClientName) == "proto" {
			rc2.Close()
			break
		}
		rc2.Close()
		if time.Now().After(deadline) {
			t.Fatalf("logon ack %+v: want s=8", rc2.hdr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Without latency mode nothing is stamped and no histogram comes back.
	if err := s.Begin(false); err != nil {
		t.Fatal(err)
	}
	rep, err = s.End()
	if err != nil || rep.Hist != nil || rep.Publishes != 0 {
		t.Fatalf("an empty run: %+v, %v", rep, err)
	}
}

// TestSinkTCPAndFinal: the TCP listener, and the final report when the
// control channel closes.
func TestSinkTCPAndFinal(t *testing.T) {
	s := startSink(t, SinkOptions{TCP: true})
	if !strings.HasPrefix(s.TCPAddr(), "127.0.0.1:") {
		t.Fatalf("tcp address %q", s.TCPAddr())
	}
	if err := s.Begin(false); err != nil {
		t.Fatal(err)
	}
	rc, err := dialRaw(s, "tcp", "tcp")
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := preEncoded(100, 50)
	if _, err := rc.c.Write(frames); err != nil {
		t.Fatal(err)
	}
	if err := rc.flush("f", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f := s.Final()
	if f == nil || f.Publishes != 50 || f.Frames != 52 {
		t.Fatalf("final report %+v", f)
	}
	if _, err := os.Stat(s.UnixPath()); !os.IsNotExist(err) {
		t.Fatalf("the socket is still there: %v", err)
	}
}

func TestScanPublish(t *testing.T) {
	for _, tc := range []struct {
		hdr       string
		ok        bool
		s         uint64
		persisted bool
	}{
		{`{"c":"p","t":"x"}`, true, 0, false},
		{`{"c":"p","t":"orders","a":"persisted","s":43}`, true, 43, true},
		{`{"c":"p","t":"orders","s":"43","a":"processed,persisted"}`, true, 43, true},
		{`{"c":"p","t":"orders","a":"processed","e":"30","x":"id"}`, true, 0, false},
		{`{"c":"p","t":"a\"b"}`, false, 0, false},
		{`{"c":"p","t":"x","s":4x}`, false, 0, false},
		{`{"c":"p","t":"x","s":}`, false, 0, false},
		{`{"c":"p","t":"x",}`, false, 0, false},
		{`{"c":"p","t":"x"`, false, 0, false},
		{`{"c":"p","t":"x" }`, false, 0, false},
		{`{"c":"p","t":"x","k":"a\"}`, false, 0, false},
	} {
		body := []byte(tc.hdr + "PAYLOAD")
		p, s, persisted, ok := scanPublish(body)
		if ok != tc.ok {
			t.Errorf("%s: ok %v", tc.hdr, ok)
			continue
		}
		if !ok {
			continue
		}
		if string(p) != "PAYLOAD" || s != tc.s || persisted != tc.persisted {
			t.Errorf("%s: payload %q, s %d, persisted %v", tc.hdr, p, s, persisted)
		}
	}
}

// TestNanotimeIsClockMonotonic: the stamps are CLOCK_MONOTONIC, comparable
// across processes.
func TestNanotimeIsClockMonotonic(t *testing.T) {
	for i := 0; i < 5; i++ {
		var ts unix.Timespec
		a := nanotime()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		b := nanotime()
		if m := ts.Nano(); m >= a && m <= b {
			return
		}
	}
	t.Fatal("runtime nanotime is not CLOCK_MONOTONIC")
}

func TestArgs(t *testing.T) {
	in := []string{"-unix", "/tmp/a b/\"c\"", "-x", ""}
	out, err := splitArgs(joinArgs(in))
	if err != nil || len(out) != len(in) {
		t.Fatalf("%q, %v", out, err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("%q != %q", out, in)
		}
	}
}

func TestSpreadAndFormats(t *testing.T) {
	s := spreadOf([]float64{3, 1, 2, 10})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 10 || s.N != 4 {
		t.Fatalf("%+v", s)
	}
	if got := fmtSpread(s, fmtRatio); got != "2.50 [1.00–10.00]" {
		t.Fatal(got)
	}
	for v, want := range map[float64]string{56: "56 ns", 30500: "30.5 µs", 179000: "179 µs", 3.2e6: "3.20 ms", 2.5e9: "2.50 s"} {
		if got := fmtNs(v); got != want {
			t.Errorf("fmtNs(%v) = %q, want %q", v, got, want)
		}
	}
	if fmtRate(10.98e6) != "10.98 M" || fmtCount(200000) != "200,000" || fmtCount(20) != "20" {
		t.Fatal(fmtRate(10.98e6), fmtCount(200000))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Rounds = 0 },
		func(c *Config) { c.Rows = []string{"nope"} },
		func(c *Config) { c.LatRows = []string{"nope"} },
		func(c *Config) { c.Network = "udp" },
		func(c *Config) { c.Rates = []int{0} },
		func(c *Config) { c.Sizes = []int{0} },
	} {
		c := QuickConfig()
		mod(&c)
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestMeasuredRenders: the README's measurement (testdata/measured.json,
// the -json output of the full run) still loads, its summary is what the
// raw runs give, and it renders.
func TestMeasuredRenders(t *testing.T) {
	b, err := os.ReadFile("testdata/measured.json")
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	again := summarize(&res)
	x, _ := json.Marshal(again)
	y, _ := json.Marshal(res.Summary)
	if !bytes.Equal(x, y) {
		t.Fatalf("the summary of the stored runs differs from the stored summary:\n%s\n%s", x, y)
	}
	var md bytes.Buffer
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "\n| "); n != 3+12+3+15 { // 3 header rows, 12 throughput, 3 ratio, 15 latency (3 rates: floor, fastpub, ratio, inline off, ratio)
		t.Fatalf("%d table rows:\n%s", n, md.String())
	}
}
