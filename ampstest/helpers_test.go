package ampstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// waitTimeout bounds every wait in these tests; generous because -race on 2 cores is slow.
const waitTimeout = 5 * time.Second

// startServer starts a server with a TCP and a unix listener and closes it at cleanup.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := NewServer(cfg)
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("unix", filepath.Join(t.TempDir(), "amps.sock")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// got is one received frame, copied out of the reader's buffer.
type got struct {
	Header  string // raw header text
	Payload string
	Cmd     frame.Command
	Cid, A, Status, Reason, ClientName, UserID, PW, Bookmark, Version,
	Topic, SubID, SubIDs, X, K, TS string
	Seq    uint64
	HasSeq bool
}

func (g got) String() string { return g.Header + g.Payload }

// rawConn is a test client speaking raw frames. A pump goroutine reads frames into a
// channel, so a test can wait for "nothing" without breaking the stream.
type rawConn struct {
	t      testing.TB
	nc     net.Conn
	frames chan got
	errc   chan error // the pump's final error, after frames is closed
	wg     sync.WaitGroup
}

// sFollowed: "s" is a bare number followed by another key (never last, §2.2).
var sFollowed = regexp.MustCompile(`"s":[0-9]+,`)

// dial connects to s over network ("tcp" or "unix").
func dial(t testing.TB, s *Server, network string) *rawConn {
	t.Helper()
	addr := s.UnixPath()
	if network == "tcp" {
		addr = s.Addr().String()
	}
	nc, err := net.DialTimeout(network, addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return newRawConn(t, nc)
}

func newRawConn(t testing.TB, nc net.Conn) *rawConn {
	r := &rawConn{t: t, nc: nc, frames: make(chan got, 8192), errc: make(chan error, 1)}
	r.wg.Add(1)
	go r.pump()
	t.Cleanup(r.close)
	return r
}

func (r *rawConn) close() {
	r.nc.Close()
	r.wg.Wait()
}

func (r *rawConn) pump() {
	defer r.wg.Done()
	defer close(r.frames)
	rd := frame.NewReader(r.nc, 0, 0)
	var h frame.Header
	for {
		body, err := rd.Next()
		if err != nil {
			r.errc <- err
			return
		}
		raw := string(body)
		payload, err := h.Parse(body)
		if err != nil {
			r.errc <- fmt.Errorf("server sent a malformed header %q: %w", raw, err)
			return
		}
		hl := len(raw) - len(payload)
		g := got{
			Header: raw[:hl], Payload: string(payload), Cmd: h.Command,
			Cid: string(h.CommandID), A: string(h.AckRaw), Status: string(h.Status),
			Reason: string(h.Reason), ClientName: string(h.ClientName),
			UserID: string(h.UserID), PW: string(h.Password), Bookmark: string(h.Bookmark),
			Version: string(h.Version), Topic: string(h.Topic), SubID: string(h.SubID),
			SubIDs: string(h.SubIDs), X: string(h.CorrelationID), K: string(h.SowKey),
			TS: string(h.Timestamp), Seq: h.Seq, HasSeq: h.HasSeq,
		}
		// Server-side rule of amps-protocol.md §2.2 / §7.2 (compactness is already enforced
		// by the strict parser above): s is never the last key.
		if g.HasSeq && !sFollowed.MatchString(g.Header) {
			r.errc <- fmt.Errorf("server sent s last or quoted: %q", g.Header)
			return
		}
		r.frames <- g
	}
}

// send writes frames (each already framed) in one write.
func (r *rawConn) send(frames ...[]byte) {
	r.t.Helper()
	if _, err := r.nc.Write(bytes.Join(frames, nil)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame or fails the test.
func (r *rawConn) next() got {
	r.t.Helper()
	select {
	case g, ok := <-r.frames:
		if !ok {
			r.t.Fatalf("connection ended while a frame was expected: %v", <-r.errc)
		}
		return g
	case <-time.After(waitTimeout):
		r.t.Fatalf("no frame within %v", waitTimeout)
	}
	return got{}
}

// nextAck returns the next frame and checks that it is an ack with the given fields
// (empty strings are not checked, except where want fields say "-" meaning absent).
func (r *rawConn) nextAck(cid, a, status, reason string) got {
	r.t.Helper()
	g := r.next()
	if g.Cmd != frame.CmdAck || g.Cid != cid || g.A != a || g.Status != status || g.Reason != reason {
		r.t.Fatalf("got %s\nwant ack cid=%q a=%q status=%q reason=%q", g, cid, a, status, reason)
	}
	return g
}

// expectNone checks that no frame arrives within d.
func (r *rawConn) expectNone(d time.Duration) {
	r.t.Helper()
	select {
	case g, ok := <-r.frames:
		if ok {
			r.t.Fatalf("unexpected frame %s", g)
		}
		r.t.Fatalf("unexpected close: %v", <-r.errc)
	case <-time.After(d):
	}
}

// expectClosed waits until the server closes the connection and returns the frames that
// arrived before the close.
func (r *rawConn) expectClosed() []got {
	r.t.Helper()
	var gs []got
	deadline := time.After(waitTimeout)
	for {
		select {
		case g, ok := <-r.frames:
			if !ok {
				err := <-r.errc
				var ne net.Error
				if err == nil || errors.As(err, &ne) && ne.Timeout() {
					r.t.Fatalf("pump ended with %v", err)
				}
				return gs
			}
			gs = append(gs, g)
		case <-deadline:
			r.t.Fatalf("connection not closed within %v (frames %v)", waitTimeout, gs)
		}
	}
}

// logon sends a logon (processed ack) and checks for success; it returns the ack.
func (r *rawConn) logon(name string) got {
	r.t.Helper()
	r.send(logonFrame(r.t, "L1", name, "", ""))
	return r.nextAck("L1", "processed", "success", "")
}

// sync sends a flush with a processed ack and waits for it: every earlier frame of this
// connection has been handled once it returns.
func (r *rawConn) sync() {
	r.t.Helper()
	r.send(flushFrame(r.t, "sync", frame.AckProcessed))
	r.nextAck("sync", "processed", "success", "")
}

func logonFrame(t testing.TB, cid, name, user, pw string) []byte {
	t.Helper()
	b, err := frame.AppendLogon(nil, &frame.Logon{CommandID: cid, ClientName: name, UserID: user,
		Password: pw, MessageType: "json", Ack: frame.AckProcessed, Version: "0.1.0:go"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pubFrame(t testing.TB, p frame.Publish, payload string) []byte {
	t.Helper()
	b, err := frame.AppendPublishString(nil, &p, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flushFrame(t testing.TB, cid string, a frame.AckType) []byte {
	t.Helper()
	b, err := frame.AppendFlush(nil, &frame.Flush{CommandID: cid, Ack: a})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func subFrame(t testing.TB, cmd frame.Command, cid, topic, subID string) []byte {
	t.Helper()
	b, err := frame.AppendSubscribe(nil, &frame.Subscribe{Command: cmd, CommandID: cid,
		Topic: topic, SubID: subID, Ack: frame.AckProcessed})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawFrame frames a hand-written header and payload.
func rawFrame(header, payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(header)+len(payload)))
	return append(append(b, header...), payload...)
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkNoLeak records the goroutine count and, at cleanup (registered first, so it runs
// last), waits a bounded time for it to come back. Only for tests that do not run in
// parallel.
func checkNoLeak(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitTimeout)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d, baseline %d\n%s", n, base, buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func bm(name string, seq uint64) string { return fmt.Sprintf("%d|%d|", NameHash(name), seq) }
