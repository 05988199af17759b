package subscriber

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/frame"
)

const waitTimeout = 5 * time.Second

func startServer(t *testing.T, cfg ampstest.Config) *ampstest.Server {
	t.Helper()
	s := ampstest.NewServer(cfg)
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("unix", filepath.Join(t.TempDir(), "s.sock")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func uriFor(s *ampstest.Server, network string) string {
	if network == "unix" {
		return s.UnixURI("json")
	}
	return s.URI("json")
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t *testing.T, uri, name string) *Subscriber {
	t.Helper()
	sub, err := Dial(ctxT(t), uri, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// publisher is a raw-frame publisher connection.
type publisher struct {
	t  *testing.T
	nc net.Conn
	rd *frame.Reader
}

func newPublisher(t *testing.T, s *ampstest.Server, name string) *publisher {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitTimeout))
	p := &publisher{t: t, nc: nc, rd: frame.NewReader(nc, 0, 0)}
	b, _ := frame.AppendLogon(nil, &frame.Logon{CommandID: "l", ClientName: name, Ack: frame.AckProcessed})
	p.write(b)
	p.ack()
	return p
}

func (p *publisher) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *publisher) ack() {
	p.t.Helper()
	body, err := p.rd.Next()
	if err != nil {
		p.t.Fatal(err)
	}
	var h frame.Header
	if _, err := h.Parse(body); err != nil || h.Command != frame.CmdAck || string(h.Status) != "success" {
		p.t.Fatalf("want a success ack, got %q (%v)", body, err)
	}
}

// publish sends the publishes and waits until the server has handled them.
func (p *publisher) publish(topic string, seq uint64, payloads ...string) {
	p.t.Helper()
	var b []byte
	for i, pl := range payloads {
		var s uint64
		if seq != 0 {
			s = seq + uint64(i)
		}
		var err error
		if b, err = frame.AppendPublishString(b, &frame.Publish{Topic: topic, Seq: s, CorrelationID: "corr"}, pl); err != nil {
			p.t.Fatal(err)
		}
	}
	b, _ = frame.AppendFlush(b, &frame.Flush{CommandID: "f", Ack: frame.AckProcessed})
	p.write(b)
	p.ack()
}

func TestSubscribeAndNext(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			s := startServer(t, ampstest.Config{})
			sub := dialT(t, uriFor(s, network), "sub")
			id, err := sub.Subscribe(ctxT(t), "orders")
			if err != nil {
				t.Fatal(err)
			}
			pub := newPublisher(t, s, "pub")
			pub.publish("orders", 100, `{"id":1}`, `{"id":2}`, "")
			pub.publish("other", 0, "not for us")
			for i, want := range []string{`{"id":1}`, `{"id":2}`, ""} {
				m, err := sub.Next(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				wantBM := fmt.Sprintf("%d|%d|", ampstest.NameHash("pub"), 100+i)
				if string(m.Payload) != want || m.Payload == nil || string(m.Topic) != "orders" ||
					string(m.SubID) != id || string(m.Bookmark) != wantBM || string(m.CorrelationID) != "corr" ||
					m.SowKey != nil || len(m.Timestamp) == 0 {
					t.Fatalf("message %d: %+v", i, m)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if m, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Next = %+v, %v; want a timeout", m, err)
			}
			// Still usable after a timed-out Next.
			pub.publish("orders", 0, "after")
			if m, err := sub.Next(ctxT(t)); err != nil || string(m.Payload) != "after" {
				t.Fatalf("Next = %+v, %v", m, err)
			}
		})
	}
}

func TestManyMessagesInOrder(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	sub := dialT(t, s.URI("json"), "sub")
	if _, err := sub.Subscribe(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	go func() {
		// Publish from a goroutine: the subscriber must keep reading for the server not to
		// block (backpressure), so the publisher must not wait on the test goroutine.
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			return
		}
		defer nc.Close()
		b, _ := frame.AppendLogon(nil, &frame.Logon{CommandID: "l", ClientName: "pub"})
		for i := 1; i <= n; i++ {
			b, _ = frame.AppendPublishString(b, &frame.Publish{Topic: "t", Seq: uint64(i)}, strings.Repeat("p", i%300))
			if len(b) > 64<<10 {
				if _, err := nc.Write(b); err != nil {
					return
				}
				b = b[:0]
			}
		}
		nc.Write(b)
		time.Sleep(waitTimeout) // keep the connection until the test has read everything
	}()
	ctx := ctxT(t)
	for i := 1; i <= n; i++ {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("%d|%d|", ampstest.NameHash("pub"), i); string(m.Bookmark) != want || len(m.Payload) != i%300 {
			t.Fatalf("message %d: bm %s, payload length %d", i, m.Bookmark, len(m.Payload))
		}
	}
}

func TestSubscribeErrors(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.RejectTopic("secret")
	sub := dialT(t, s.URI("json"), "sub")
	_, err := sub.Subscribe(ctxT(t), "secret")
	var se *ServerError
	if !errors.Is(err, ErrNotEntitled) || !errors.Is(err, ErrFailed) || !errors.As(err, &se) ||
		se.Reason != "not entitled" || se.Command != "subscribe" {
		t.Fatalf("Subscribe(secret) = %v", err)
	}
	if errors.Is(err, ErrAuthentication) {
		t.Fatal("not entitled matched ErrAuthentication")
	}
	// The subscriber is still usable.
	if _, err := sub.Subscribe(ctxT(t), "open"); err != nil {
		t.Fatal(err)
	}
}

func TestUnsubscribe(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	sub := dialT(t, s.URI("json"), "sub")
	a, err := sub.Subscribe(ctxT(t), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctxT(t), "b"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(t, s, "pub")
	pub.publish("a", 0, "gone")
	pub.publish("b", 0, "kept")
	if m, err := sub.Next(ctxT(t)); err != nil || string(m.Payload) != "kept" {
		t.Fatalf("Next = %+v, %v", m, err)
	}
	if err := sub.Unsubscribe(ctxT(t), "all"); err != nil {
		t.Fatal(err)
	}
	pub.publish("b", 0, "gone too")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m, err := sub.Next(ctx); err == nil {
		t.Fatalf("delivery after unsubscribe all: %+v", m)
	}
}

func TestDialAuth(t *testing.T) {
	tests := []struct {
		name    string
		auth    ampstest.Auth
		user    string
		wantErr error
	}{
		{"accept all", nil, "", nil},
		{"password ok", ampstest.Password{User: "alice", Password: "s3cret"}, "alice:s3cret@", nil},
		{"password wrong", ampstest.Password{User: "alice", Password: "s3cret"}, "alice:hunter2@", ErrAuthentication},
		{"challenge", ampstest.Challenge{User: "alice", Token: "t", Answer: "a"}, "alice:hunter2@", ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, ampstest.Config{Auth: tt.auth})
			uri := strings.Replace(s.URI("json"), "tcp://", "tcp://"+tt.user, 1)
			sub, err := Dial(ctxT(t), uri, "sub")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				sub.Close()
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Dial = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

func TestDialNameInUse(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	dialT(t, strings.Replace(s.URI("json"), "tcp://", "tcp://alice@", 1), "sub")
	_, err := Dial(ctxT(t), strings.Replace(s.URI("json"), "tcp://", "tcp://bob@", 1), "sub")
	if !errors.Is(err, ErrNameInUse) {
		t.Fatalf("Dial = %v, want ErrNameInUse", err)
	}
}

func TestDialErrors(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	if _, err := Dial(ctxT(t), "tcp://localhost/amps/json", "x"); !errors.Is(err, connstr.ErrInvalidURI) {
		t.Fatalf("bad URI: %v", err)
	}
	if _, err := Dial(ctxT(t), "tcps://127.0.0.1:1/amps/json", "x"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("tcps: %v", err)
	}
	// The logon is never answered while the server does not read: the context bounds Dial.
	s.PauseReading()
	defer s.ResumeReading()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Dial(ctx, s.URI("json"), "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial to a silent server: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Dial took %v", el)
	}
}

func TestHeartbeatKeepsAlive(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	sub := dialT(t, s.UnixURI("json"), "sub")
	if _, err := sub.Subscribe(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	if err := sub.StartHeartbeat(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	// 3 s of silence from the application: the server heartbeats, the reader beats back.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %v", err)
	}
	if n := s.Stats().Closes[ampstest.CloseHeartbeatTimeout]; n != 0 {
		t.Fatalf("server dropped the subscriber (%d heartbeat timeouts)", n)
	}
	newPublisher(t, s, "pub").publish("t", 0, "alive")
	if m, err := sub.Next(ctxT(t)); err != nil || string(m.Payload) != "alive" {
		t.Fatalf("Next = %+v, %v", m, err)
	}
}

func TestServerCloseEndsNext(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	sub := dialT(t, s.URI("json"), "sub")
	if _, err := sub.Subscribe(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	newPublisher(t, s, "pub").publish("t", 0, "last words")
	if !s.DropClient("sub") {
		t.Fatal("no live subscriber connection")
	}
	// Deliveries read before the close come first, then the error.
	var err error
	for i := 0; i < 2 && err == nil; i++ {
		var m *Message
		if m, err = sub.Next(ctxT(t)); err == nil && string(m.Payload) != "last words" {
			t.Fatalf("unexpected message %+v", m)
		}
	}
	if !errors.Is(err, ErrConnection) {
		t.Fatalf("Next after the server closed: %v", err)
	}
	if _, err := sub.Subscribe(ctxT(t), "u"); !errors.Is(err, ErrConnection) {
		t.Fatalf("Subscribe after the server closed: %v", err)
	}
}

func TestCloseNoLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	s := ampstest.NewServer(ampstest.Config{})
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	sub, err := Dial(ctxT(t), s.URI("json"), "sub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	sub.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Next did not return after Close")
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctxT(t), "t"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	s.Close()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A dial error that names a unix path holding the password's text does not
// show the password (fastpub's ConnectionError does the same). From a
// review.
func TestDialErrorHidesThePassword(t *testing.T) {
	const pw = "hunter2secret"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, "unix://u:"+pw+"@localhost:0/amps/json?path=/nonexistent/"+pw+"/amps.sock", "sub")
	if err == nil {
		t.Fatal("Dial to a path that does not exist succeeded")
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v %q", err, err, err, err)} {
		if strings.Contains(s, pw) {
			t.Fatalf("Dial's error shows the password: %s", s)
		}
	}
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Dial's error %v no longer unwraps to the system error (ENOENT)", err)
	}
}
