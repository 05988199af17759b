package fastpub_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
)

// scripted is one connection to a scripted server: a real loopback socket
// whose other end the test drives frame by frame, for what the strict test
// server never does (failure acks, bookmark-only logon acks, endless
// challenges).
type scripted struct {
	conn net.Conn
}

// next reads one frame from the client and returns its command and command
// id (copied).
func (s *scripted) next() (frame.Command, string, error) {
	var p [4]byte
	if _, err := io.ReadFull(s.conn, p[:]); err != nil {
		return 0, "", err
	}
	b := make([]byte, binary.BigEndian.Uint32(p[:]))
	if _, err := io.ReadFull(s.conn, b); err != nil {
		return 0, "", err
	}
	var h frame.Header
	if _, err := h.Parse(b); err != nil {
		return 0, "", err
	}
	return h.Command, string(h.CommandID), nil
}

func (s *scripted) send(header string) { s.conn.Write(frameBytes(header)) }

// logonWithHeartbeat reads the logon, accepts it, and reads the heartbeat
// start that follows (within 5 s; then no read deadline), for a client
// with WithHeartbeat.
func (s *scripted) logonWithHeartbeat() error {
	if _, _, err := s.next(); err != nil {
		return err
	}
	s.send(logonAckOK + `}`)
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	cmd, _, err := s.next()
	s.conn.SetReadDeadline(time.Time{})
	if err == nil && cmd != frame.CmdHeartbeat {
		err = errors.New("the frame after the logon is not the heartbeat start")
	}
	return err
}

// startScripted runs script on the first connection to a fresh listener and
// returns the URI to connect to. The script's connection closes when it
// returns; the test waits for it.
func startScripted(t *testing.T, script func(*scripted)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second)) // a watchdog
		script(&scripted{conn: conn})
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "tcp://" + ln.Addr().String() + "/amps/json"
}

const logonAckOK = `{"c":"ack","cid":"auto1","a":"processed","status":"success","version":"5.3.4.0"`

// The last sequence comes from "s" when the ack has it, else from the
// bookmark's second field, and from the test server's record.
func TestLastSequence(t *testing.T) {
	for _, tc := range []struct {
		fields string
		want   uint64
	}{
		{`,"s":99,"bm":"17|4242|"`, 99},
		{`,"bm":"17|4242|"`, 4242},
		{`,"bm":"1234567890123|18446744073709551615|"`, 18446744073709551615},
		{`,"bm":"17|"`, 0},
		{``, 0},
	} {
		uri := startScripted(t, func(s *scripted) {
			if _, _, err := s.next(); err != nil {
				return
			}
			s.send(logonAckOK + tc.fields + `}`)
			io.Copy(io.Discard, s.conn)
		})
		c := connect(t, uri, "seq")
		if got := c.LastSequence(); got != tc.want {
			t.Errorf("logon ack %s: LastSequence %d, want %d", tc.fields, got, tc.want)
		}
		c.Close()
	}
	srv := startServer(t, ampstest.Config{})
	srv.SetLastSequence("seq-server", 777)
	if got := connect(t, srv.URI("json"), "seq-server").LastSequence(); got != 777 {
		t.Fatalf("LastSequence from the test server: %d, want 777", got)
	}
}

// A flush the server fails is an error (a *ServerError), not nil.
func TestFailedFlushAck(t *testing.T) {
	uri := startScripted(t, func(s *scripted) {
		if _, _, err := s.next(); err != nil {
			return
		}
		s.send(logonAckOK + `}`)
		for i := 0; i < 100; i++ {
			cmd, cid, err := s.next()
			if err != nil {
				return
			}
			if cmd == frame.CmdFlush {
				s.send(`{"c":"ack","cid":"` + cid + `","a":"processed","status":"failure","reason":"not entitled"}`)
			}
		}
	})
	c := connect(t, uri, "flush-fails")
	if err := c.PublishString("t", "x"); err != nil {
		t.Fatal(err)
	}
	err := c.PublishFlush(ctxT(t, 10*time.Second))
	var se *fastpub.ServerError
	if !errors.Is(err, fastpub.ErrNotEntitled) || !errors.As(err, &se) || se.Command != "flush" || se.Reason != "not entitled" {
		t.Fatalf("PublishFlush with a failure ack: %v, want a *ServerError (not entitled)", err)
	}
}

// A failure ack for a publish (no call waits for it) goes to the error
// handler as a *ServerError.
func TestFailedPublishAckReported(t *testing.T) {
	uri := startScripted(t, failFirstPublish)
	errc := make(chan error, 1)
	c := connect(t, uri, "publish-fails", fastpub.WithErrorHandler(func(err error) {
		select {
		case errc <- err:
		default:
		}
	}))
	if err := c.PublishString("bad", "x"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		var se *fastpub.ServerError
		if !errors.Is(err, fastpub.ErrInvalidTopic) || !errors.As(err, &se) || se.Command != "publish" {
			t.Fatalf("error handler: %v, want a *ServerError for the publish (invalid topic)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the failure ack was not reported")
	}
}

// failFirstPublish is a script that accepts the logon, answers the first
// publish with a processed failure ack (invalid topic), and then answers
// flushes with success (at most 100 frames).
func failFirstPublish(s *scripted) {
	if _, _, err := s.next(); err != nil {
		return
	}
	s.send(logonAckOK + `}`)
	if _, _, err := s.next(); err != nil { // the publish
		return
	}
	s.send(`{"c":"ack","a":"processed","status":"failure","reason":"invalid topic"}`)
	for i := 0; i < 100; i++ {
		cmd, cid, err := s.next()
		if err != nil {
			return
		}
		if cmd == frame.CmdFlush {
			s.send(`{"c":"ack","cid":"` + cid + `","a":"processed","status":"success"}`)
		}
	}
}

// A server that challenges forever: the logon gives up after
// WithLogonRetries retries, having sent one logon more than that.
func TestLogonRetryLimit(t *testing.T) {
	const retries = 3
	logons := make(chan int, 1)
	uri := startScripted(t, func(s *scripted) {
		n := 0
		defer func() { logons <- n }()
		for n < 100 {
			cmd, cid, err := s.next()
			if err != nil || cmd != frame.CmdLogon {
				return
			}
			n++
			s.send(`{"c":"ack","cid":"` + cid + `","a":"processed","status":"retry","user_id":"u","pw":"token"}`)
		}
	})
	c := newClient(t, "challenged-forever")
	ctx := ctxT(t, 10*time.Second)
	if err := c.Connect(ctx, uri); err != nil {
		t.Fatal(err)
	}
	err := c.Logon(ctx, fastpub.WithLogonRetries(retries))
	var se *fastpub.ServerError
	if !errors.As(err, &se) || se.Status != "retry" || !strings.Contains(se.Reason, "too many") {
		t.Fatalf("Logon against endless challenges: %v, want a *ServerError about too many retries", err)
	}
	select {
	case n := <-logons:
		if n != retries+1 {
			t.Fatalf("the client sent %d logons, want %d", n, retries+1)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the scripted server did not finish")
	}
}

// Connect honours its context: against a server that would accept the
// connection, a cancelled context fails it with context.Canceled, and an
// expiring one bounds the TLS handshake with a server that never answers.
func TestConnectHonoursContextAgainstALiveServer(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := newClient(t, "ctx-live")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Connect(ctx, s.URI("json"))
	if !errors.Is(err, fastpub.ErrConnect) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect with a cancelled context to a live server: %v, want ErrConnect and context.Canceled", err)
	}
	if err := c.Connect(ctxT(t, 10*time.Second), s.URI("json")); err != nil {
		t.Fatalf("the client connects afterwards: %v", err)
	}

	// A TCP listener that accepts and never speaks TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c2 := newClient(t, "ctx-tls")
	tctx, tcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer tcancel()
	errc := make(chan error, 1)
	go func() { errc <- c2.Connect(tctx, "tcps://"+ln.Addr().String()+"/amps/json") }()
	select {
	case err := <-errc:
		if !errors.Is(err, fastpub.ErrConnect) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("TLS handshake with a silent server: %v, want ErrConnect and context.DeadlineExceeded", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Connect ignored its context's deadline during the TLS handshake")
	}
}
