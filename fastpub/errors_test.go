package fastpub_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/fastpub"
)

func newClient(t *testing.T, name string, opts ...fastpub.Option) *fastpub.Client {
	t.Helper()
	c, err := fastpub.NewClient(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConnectInvalidURI(t *testing.T) {
	const pw = "s3cr3t-pw"
	cases := []struct {
		uri  string
		want error
	}{
		{"", fastpub.ErrInvalidURI},
		{"http://host:9007/amps/json", fastpub.ErrInvalidURI},
		{"tcp://host/amps/json", fastpub.ErrInvalidURI},
		{"tcp://u:" + pw + "@host:9007/fix", connstr.ErrUnsupportedProtocol},
		{"tcp://u:" + pw + "@host:9007/amps/json?tcp_nodelay=maybe", fastpub.ErrInvalidURI},
		{"tcp://u:" + pw + "@host:9007/amps/json?tcp_frobnicate=1", connstr.ErrUnknownOption},
		{"unix://localhost:0/amps/json", fastpub.ErrInvalidURI}, // no path
	}
	for _, tc := range cases {
		c := newClient(t, "uri")
		err := c.Connect(context.Background(), tc.uri)
		if !errors.Is(err, tc.want) || !errors.Is(err, fastpub.ErrInvalidURI) {
			t.Errorf("Connect(%q) = %v, want %v", tc.uri, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Connect(%q): the error shows the password: %v", tc.uri, err)
		}
	}
	// An unknown option names its key.
	err := newClient(t, "uri").Connect(context.Background(), "tcp://h:1/amps/json?tcp_frobnicate=1")
	var ue *connstr.Error
	if !errors.As(err, &ue) || ue.Key != "tcp_frobnicate" {
		t.Fatalf("unknown option error %v does not name the key", err)
	}
}

func TestConnectRefusedWrapsOSError(t *testing.T) {
	// A port that was just free: listen, note it, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "refused")
	err = c.Connect(ctxT(t, 5*time.Second), "tcp://user:hunter2@"+addr+"/amps/json")
	var opErr *net.OpError
	var ce *fastpub.ConnectionError
	switch {
	case !errors.Is(err, fastpub.ErrConnect):
		t.Fatalf("Connect to a closed port: %v, want ErrConnect", err)
	case !errors.As(err, &ce) || !errors.As(err, &opErr):
		t.Fatalf("Connect error %v does not reach *net.OpError", err)
	case !errors.Is(err, syscall.ECONNREFUSED):
		t.Fatalf("Connect error %v does not reach ECONNREFUSED", err)
	case strings.Contains(err.Error(), "hunter2"):
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestLogonFailures(t *testing.T) {
	t.Run("auth failure", func(t *testing.T) {
		s := startServer(t, ampstest.Config{Auth: ampstest.Password{User: "alice", Password: "right"}})
		c := newClient(t, "pub")
		ctx := ctxT(t, 5*time.Second)
		if err := c.Connect(ctx, "tcp://alice:wrong-pw@"+s.Addr().String()+"/amps/json"); err != nil {
			t.Fatal(err)
		}
		err := c.Logon(ctx)
		var se *fastpub.ServerError
		if !errors.Is(err, fastpub.ErrAuthentication) || !errors.As(err, &se) || se.Reason != "auth failure" {
			t.Fatalf("Logon with a wrong password: %v", err)
		}
		if strings.Contains(err.Error(), "wrong-pw") {
			t.Fatalf("error shows the password: %v", err)
		}
		// The client may connect again, and the right password works.
		if err := c.Connect(ctx, "tcp://alice:right@"+s.Addr().String()+"/amps/json"); err != nil {
			t.Fatal(err)
		}
		if err := c.Logon(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("name in use", func(t *testing.T) {
		s := startServer(t, ampstest.Config{})
		addr := s.Addr().String()
		connect(t, "tcp://alice@"+addr+"/amps/json", "same-name")
		c := newClient(t, "same-name")
		ctx := ctxT(t, 5*time.Second)
		if err := c.Connect(ctx, "tcp://bob@"+addr+"/amps/json"); err != nil {
			t.Fatal(err)
		}
		if err := c.Logon(ctx); !errors.Is(err, fastpub.ErrNameInUse) {
			t.Fatalf("second logon with the same name and another user: %v, want ErrNameInUse", err)
		}
	})
	t.Run("logon timeout", func(t *testing.T) {
		s := startServer(t, ampstest.Config{})
		c := newClient(t, "slow")
		if err := c.Connect(ctxT(t, 5*time.Second), s.URI("json")); err != nil {
			t.Fatal(err)
		}
		s.PauseReading()
		defer s.ResumeReading()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := c.Logon(ctx)
		var te *fastpub.TimedOutError
		if !errors.Is(err, fastpub.ErrTimedOut) || !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("Logon against a stalled server: %v, want a timeout", err)
		}
	})
	t.Run("close interrupts a logon", func(t *testing.T) {
		s := startServer(t, ampstest.Config{})
		c := newClient(t, "interrupted")
		if err := c.Connect(ctxT(t, 5*time.Second), s.URI("json")); err != nil {
			t.Fatal(err)
		}
		s.PauseReading()
		defer s.ResumeReading()
		errc := make(chan error, 1)
		// The Authenticator runs inside the logon: once it has been
		// called, the logon is in progress (and then waits for an ack the
		// stalled server never sends).
		started := make(chan struct{})
		auth := &signalAuth{called: started}
		go func() { errc <- c.Logon(context.Background(), fastpub.WithAuthenticator(auth)) }()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the logon did not start")
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, fastpub.ErrClosed) {
				t.Fatalf("Logon interrupted by Close: %v, want ErrClosed", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Close did not interrupt a logon waiting on a stalled server")
		}
	})
	t.Run("publish before logon", func(t *testing.T) {
		s := startServer(t, ampstest.Config{})
		c := newClient(t, "early")
		if err := c.Publish("t", nil); !errors.Is(err, fastpub.ErrNotConnected) {
			t.Fatalf("Publish before Connect: %v", err)
		}
		if err := c.Connect(ctxT(t, 5*time.Second), s.URI("json")); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish("t", nil); !errors.Is(err, fastpub.ErrNotLoggedOn) {
			t.Fatalf("Publish before Logon: %v", err)
		}
		if err := c.PublishFlush(context.Background()); !errors.Is(err, fastpub.ErrNotLoggedOn) {
			t.Fatalf("PublishFlush before Logon: %v", err)
		}
	})
}

// signalAuth is DefaultAuthenticator that closes called on its first
// Authenticate.
type signalAuth struct {
	fastpub.DefaultAuthenticator
	called chan struct{}
}

func (a *signalAuth) Authenticate(user, password string) (string, error) {
	close(a.called)
	return password, nil
}

// challengeAuth answers the server's challenge token with a fixed answer and
// records what it was asked.
type challengeAuth struct {
	answer    string
	retried   []string
	completed string
}

func (a *challengeAuth) Authenticate(user, password string) (string, error) { return password, nil }
func (a *challengeAuth) Retry(user, token string) (string, error) {
	a.retried = append(a.retried, user+"/"+token)
	return a.answer, nil
}
func (a *challengeAuth) Completed(user, password, reason string) { a.completed = user + ":" + reason }

func TestLogonChallenge(t *testing.T) {
	s := startServer(t, ampstest.Config{Auth: ampstest.Challenge{User: "bob", Token: "challenge-1", Answer: "response-1"}})
	c := newClient(t, "challenged")
	ctx := ctxT(t, 5*time.Second)
	if err := c.Connect(ctx, "tcp://bob:first@"+s.Addr().String()+"/amps/json"); err != nil {
		t.Fatal(err)
	}
	auth := &challengeAuth{answer: "response-1"}
	if err := c.Logon(ctx, fastpub.WithAuthenticator(auth)); err != nil {
		t.Fatalf("Logon: %v", err)
	}
	if len(auth.retried) != 1 || auth.retried[0] != "bob/challenge-1" || auth.completed != "bob:" {
		t.Fatalf("authenticator saw retries %q, completed %q", auth.retried, auth.completed)
	}
	if err := c.PublishString("t", "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "bad-input", fastpub.WithMaxMessageSize(1024))
	for _, topic := range []string{"", "new\nline", "tab\there", "nul\x00"} {
		if err := c.Publish(topic, []byte("x")); !errors.Is(err, fastpub.ErrInvalidTopic) {
			t.Errorf("Publish(topic %q) = %v, want ErrInvalidTopic", topic, err)
		}
	}
	m := fastpub.Message{Topic: "ok", DataString: "x", CorrelationID: "bad\x01"}
	if err := c.PublishMessage(context.Background(), &m); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Errorf("control character in a correlation id: %v, want ErrInvalidValue", err)
	}
	err := c.Publish("ok", make([]byte, 2000))
	var tl *fastpub.MessageTooLargeError
	if !errors.Is(err, fastpub.ErrMessageTooLarge) || !errors.As(err, &tl) || tl.Max != 1024 || tl.Size <= 2000 {
		t.Fatalf("oversize publish: %v", err)
	}
	// Nothing was lost or sent: the connection is fine and only good
	// messages arrived.
	if err := c.PublishString(`quote"and\backslash`, "fine"); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Publishes != 1 || st.PerTopic[`quote"and\backslash`].Publishes != 1 {
		t.Fatalf("server stats after bad input: publishes %d, topics %v", st.Publishes, st.PerTopic)
	}
}

func TestPublishFlush(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "flusher")
	for i := 0; i < 1000; i++ {
		if err := c.PublishString("f", "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Publishes; got != 1000 {
		t.Fatalf("after PublishFlush the server has processed %d of 1000", got)
	}
	// A server that withholds the ack: the context is the timeout.
	s.WithholdAcks(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.PublishFlush(ctx)
	if !errors.Is(err, fastpub.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PublishFlush without an ack: %v, want a timeout", err)
	}
	s.WithholdAcks(false)
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("PublishFlush once acks flow again: %v", err)
	}
}

// A server that sends garbage: the client reports a protocol error and stops.
func TestServerSendsGarbage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go fakeServer(ln, func(conn net.Conn) {
		conn.Write(frameBytes(`{"c":"ack","cid":"auto1","a":"processed","status":"success","s":0,"bm":"1|0|","version":"5.3.4.0"}`))
		conn.Write(frameBytes(`{"c": "ack"}`)) // a space: not compact
		io.Copy(io.Discard, conn)              // until the client gives up on the connection
	})
	errc := make(chan error, 1)
	c := connect(t, "tcp://"+ln.Addr().String()+"/amps/json", "garbage",
		fastpub.WithErrorHandler(func(err error) { errc <- err }))
	select {
	case err := <-errc:
		if !errors.Is(err, fastpub.ErrProtocol) || !errors.Is(err, fastpub.ErrDisconnected) {
			t.Fatalf("error handler got %v, want ErrProtocol and ErrDisconnected", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no error after the server sent garbage")
	}
	if err := c.PublishString("t", "x"); !errors.Is(err, fastpub.ErrDisconnected) {
		t.Fatalf("Publish after garbage: %v", err)
	}
}

// The client notices a server that goes silent for twice the heartbeat
// interval.
func TestHeartbeatTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 4)
	go fakeServer(ln, func(conn net.Conn) {
		conn.Write(frameBytes(`{"c":"ack","cid":"auto1","a":"processed","status":"success","s":0,"bm":"1|0|","version":"5.3.4.0"}`))
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := conn.Read(buf)
		got <- append([]byte(nil), buf[:n]...)
		conn.SetReadDeadline(time.Time{})
		io.Copy(io.Discard, conn) // silent, until the client gives up on it
	})
	errc := make(chan error, 1)
	start := time.Now()
	connect(t, "tcp://"+ln.Addr().String()+"/amps/json", "hb", fastpub.WithHeartbeat(time.Second),
		fastpub.WithErrorHandler(func(err error) { errc <- err }))
	select {
	case err := <-errc:
		// As WithHeartbeat documents: a *ConnectionError with Op "read"
		// whose cause names the heartbeat and is the read's timeout.
		var ce *fastpub.ConnectionError
		var ne net.Error
		if !errors.Is(err, fastpub.ErrDisconnected) || !errors.As(err, &ce) || ce.Op != "read" ||
			!errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() ||
			!strings.Contains(err.Error(), "no traffic from the server for twice the heartbeat interval") {
			t.Fatalf("heartbeat timeout: %v, want the documented *ConnectionError", err)
		}
		if d := time.Since(start); d < 1900*time.Millisecond {
			t.Fatalf("disconnected after %v, want 2s at least", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no disconnect from a silent server")
	}
	if b := <-got; !bytes.Contains(b, []byte(`{"c":"heartbeat","o":"start,1"}`)) {
		t.Fatalf("client sent %q after logon, want a heartbeat start", b)
	}
}

// Heartbeats keep an idle connection alive: the server would drop a client
// that sends nothing for 2 × the interval.
func TestHeartbeatKeepsIdleConnectionAlive(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "idle", fastpub.WithHeartbeat(time.Second))
	time.Sleep(3500 * time.Millisecond)
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("after 3.5 idle seconds: %v", err)
	}
	if st := s.Stats(); st.Closes[ampstest.CloseHeartbeatTimeout] != 0 {
		t.Fatalf("server dropped the client for silence: %v", st.Closes)
	}
}

// fakeServer accepts one connection, reads the logon and runs script.
func fakeServer(ln net.Listener, script func(net.Conn)) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	var hdr [4]byte
	if _, err := conn.Read(hdr[:]); err != nil {
		return
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, body); err != nil {
		return
	}
	conn.SetReadDeadline(time.Time{})
	script(conn)
}

func frameBytes(header string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(header)))
	return append(b, header...)
}
