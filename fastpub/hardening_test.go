package fastpub_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
)

// An expiration the wire cannot carry (negative, over 2³²−1 seconds) is
// refused with ErrInvalidValue and nothing is sent; the largest one and a
// fraction of a second go out as they should.
func TestExpirationBounds(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.Record(100)
	c := connect(t, s.URI("json"), "expiry")
	ctx := ctxT(t, 10*time.Second)
	for _, d := range []time.Duration{
		-time.Nanosecond,
		-time.Hour,
		fastpub.MaxExpiration + time.Nanosecond,
		200 * 365 * 24 * time.Hour, // went out as "e":"2012232704"
		(1 << 32) * time.Second,    // went out as "e":"0"
		math.MaxInt64,              // went out as "e":"3661529853"
		math.MinInt64,
	} {
		m := fastpub.Message{Topic: "exp", DataString: "bad", Expiration: d}
		if err := c.PublishMessage(ctx, &m); !errors.Is(err, fastpub.ErrInvalidValue) {
			t.Errorf("PublishMessage with expiration %v: %v, want ErrInvalidValue", d, err)
		}
		if err := c.TryPublishMessage(&m); !errors.Is(err, fastpub.ErrInvalidValue) {
			t.Errorf("TryPublishMessage with expiration %v: %v, want ErrInvalidValue", d, err)
		}
	}
	for _, d := range []time.Duration{fastpub.MaxExpiration, time.Nanosecond, 0} {
		m := fastpub.Message{Topic: "exp", DataString: "ok", Expiration: d}
		if err := c.PublishMessage(ctx, &m); err != nil {
			t.Fatalf("PublishMessage with expiration %v: %v", d, err)
		}
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range s.Received() {
		if strings.Contains(string(f.Header), `"t":"exp"`) {
			got = append(got, string(f.Header)+string(f.Payload))
		}
	}
	want := []string{
		`{"c":"p","t":"exp","e":"4294967295"}ok`,
		`{"c":"p","t":"exp","e":"1"}ok`,
		`{"c":"p","t":"exp"}ok`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("server received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A nil *Message is an error, not a panic.
func TestPublishNilMessage(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "nil-message")
	if err := c.PublishMessage(context.Background(), nil); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Fatalf("PublishMessage(nil): %v, want ErrInvalidValue", err)
	}
	if err := c.TryPublishMessage(nil); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Fatalf("TryPublishMessage(nil): %v, want ErrInvalidValue", err)
	}
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("the client is fine afterwards: %v", err)
	}
}

// After Close, every call says ErrClosed, also on a client whose connection
// had failed before.
func TestClosedAfterDisconnectSaysClosed(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	disconnected := make(chan error, 1)
	c := connect(t, s.URI("json"), "dropped", fastpub.WithErrorHandler(func(err error) {
		select {
		case disconnected <- err:
		default:
		}
	}))
	if !s.DropClient("dropped") {
		t.Fatal("the server does not know the client")
	}
	select {
	case err := <-disconnected:
		if !errors.Is(err, fastpub.ErrDisconnected) {
			t.Fatalf("error handler: %v, want ErrDisconnected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no disconnect reported")
	}
	if err := c.Publish("t", nil); !errors.Is(err, fastpub.ErrDisconnected) {
		t.Fatalf("Publish after the disconnect: %v, want ErrDisconnected", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after a disconnect: %v", err)
	}
	ctx := ctxT(t, 5*time.Second)
	m := fastpub.Message{Topic: "t"}
	for name, err := range map[string]error{
		"Publish":            c.Publish("t", nil),
		"TryPublish":         c.TryPublish("t", nil),
		"PublishMessage":     c.PublishMessage(ctx, &m),
		"PublishFlush":       c.PublishFlush(ctx),
		"Connect":            c.Connect(ctx, s.URI("json")),
		"Logon":              c.Logon(ctx),
		"DeltaPublishString": c.DeltaPublishString("t", "x"),
	} {
		if !errors.Is(err, fastpub.ErrClosed) || errors.Is(err, fastpub.ErrDisconnected) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Stats().Buffered is every byte queued and not written: with a stalled
// server and a full buffer it is about the buffer's size (it said 4,191 of
// 65,536 while 65,430 bytes were queued).
func TestStatsBufferedCountsEverythingQueued(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "buffered", fastpub.WithBufferSize(64<<10), fastpub.WithCloseTimeout(100*time.Millisecond))
	s.PauseReading()
	defer s.ResumeReading()
	waitStalled(t, c)
	st := c.Stats()
	if want := int(c.Queued() - st.BytesWritten); st.Buffered != want {
		t.Fatalf("Buffered %d, want %d (queued %d − written %d)", st.Buffered, want, c.Queued(), st.BytesWritten)
	}
	if st.Buffered < st.BufferSize-2048 || st.Buffered > st.BufferSize {
		t.Fatalf("Buffered %d with a full %d-byte buffer", st.Buffered, st.BufferSize)
	}
}

// panicAuth panics in the method named by where.
type panicAuth struct{ where string }

func (a panicAuth) Authenticate(user, password string) (string, error) {
	if a.where == "Authenticate" {
		panic("authenticator bug, password " + password)
	}
	return password, nil
}

func (a panicAuth) Retry(user, token string) (string, error) {
	if a.where == "Retry" {
		panic("retry bug")
	}
	return "response-1", nil
}

func (a panicAuth) Completed(user, password, reason string) {
	if a.where == "Completed" {
		panic("completed bug")
	}
}

// An Authenticator that panics fails the logon with ErrAuthentication (the
// password redacted from the panic's text) and drops the connection; the
// client can connect and log on again.
func TestAuthenticatorPanicLeavesClientUsable(t *testing.T) {
	for _, where := range []string{"Authenticate", "Retry", "Completed"} {
		t.Run(where, func(t *testing.T) {
			s := startServer(t, ampstest.Config{Auth: ampstest.Challenge{User: "bob", Token: "challenge-1", Answer: "response-1"}})
			uri := "tcp://bob:pw-s3cret@" + s.Addr().String() + "/amps/json"
			c := newClient(t, "panicky")
			ctx := ctxT(t, 10*time.Second)
			if err := c.Connect(ctx, uri); err != nil {
				t.Fatal(err)
			}
			err := c.Logon(ctx, fastpub.WithAuthenticator(panicAuth{where}))
			if !errors.Is(err, fastpub.ErrAuthentication) || !strings.Contains(err.Error(), "panicked") {
				t.Fatalf("Logon with an Authenticator that panics in %s: %v, want ErrAuthentication", where, err)
			}
			if strings.Contains(err.Error(), "pw-s3cret") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if err := c.Publish("t", nil); !errors.Is(err, fastpub.ErrNotConnected) {
				t.Fatalf("Publish after the failed logon: %v, want ErrNotConnected", err)
			}
			if err := c.Connect(ctx, uri); err != nil {
				t.Fatalf("Connect after the panic: %v", err)
			}
			if err := c.Logon(ctx, fastpub.WithAuthenticator(panicAuth{})); err != nil {
				t.Fatalf("Logon after the panic: %v", err)
			}
			if err := c.PublishFlush(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkRedacted fails if err shows secret in any form a user may print or
// log it in, or does not show the redacted URI where it should.
func checkRedacted(t *testing.T, what string, err error, secret string) {
	t.Helper()
	var sb strings.Builder
	for _, h := range []slog.Handler{slog.NewTextHandler(&sb, nil), slog.NewJSONHandler(&sb, nil)} {
		slog.New(h).Error("failed", "err", err)
		slog.New(h).Error("failed", slog.Any("err", err))
	}
	forms := map[string]string{
		"%v": fmt.Sprintf("%v", err), "%+v": fmt.Sprintf("%+v", err), "%#v": fmt.Sprintf("%#v", err),
		"%s": fmt.Sprintf("%s", err), "%q": fmt.Sprintf("%q", err), "Error()": err.Error(), "slog": sb.String(),
	}
	var ce *fastpub.ConnectionError
	if errors.As(err, &ce) {
		forms["ConnectionError.URI"] = ce.URI
		forms["ConnectionError.Err %v"] = fmt.Sprintf("%v", ce.Err)
		forms["ConnectionError.Err %#v"] = fmt.Sprintf("%#v", ce.Err)
		if !strings.Contains(err.Error(), "xxxxx@") {
			t.Errorf("%s: %v does not show the redacted URI", what, err)
		}
	}
	for form, text := range forms {
		if strings.Contains(text, secret) {
			t.Errorf("%s: %s shows the password: %s", what, form, text)
		}
	}
}

// The password is redacted from connect, read and write errors, also where
// its text is part of the unix path the operating system's error names.
func TestPasswordRedactedFromConnectionErrors(t *testing.T) {
	const pw = "s3cretPW"
	// Connect: dial unix /nonexistent/s3cretPW/amps.sock.
	c := newClient(t, "redact-connect")
	err := c.Connect(ctxT(t, 5*time.Second), "unix://u:"+pw+"@localhost:0/amps/json?path=/nonexistent/"+pw+"/amps.sock")
	if !errors.Is(err, fastpub.ErrConnect) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Connect to a missing socket: %v, want ErrConnect reaching ENOENT", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("Connect error %v does not reach *net.OpError", err)
	}
	checkRedacted(t, "connect", err, pw)

	// Read and write: a server on a unix socket whose path holds the password.
	dir := filepath.Join(t.TempDir(), pw)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := ampstest.StartUnix(ampstest.Config{}, filepath.Join(dir, "amps.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	uri := strings.Replace(s.UnixURI("json"), "unix://", "unix://u:"+pw+"@", 1)
	handled := make(chan error, 1)
	c = connect(t, uri, "redact-io", fastpub.WithBufferSize(4<<10), fastpub.WithErrorHandler(func(err error) {
		select {
		case handled <- err:
		default:
		}
	}))
	if !s.DropClient("redact-io") {
		t.Fatal("the server does not know the client")
	}
	payload := make([]byte, 1000)
	for i := 0; i < 10_000_000; i++ {
		if err = c.Publish("t", payload); err != nil {
			break
		}
	}
	if !errors.Is(err, fastpub.ErrDisconnected) {
		t.Fatalf("Publish after the server dropped the client: %v", err)
	}
	checkRedacted(t, "publish after a disconnect", err, pw)
	select {
	case err := <-handled:
		checkRedacted(t, "error handler", err, pw)
	case <-time.After(10 * time.Second):
		t.Fatal("no error handed to the error handler")
	}
	checkRedacted(t, "flush", c.PublishFlush(ctxT(t, 5*time.Second)), pw)
}

// An inbound frame over the limit (WithMaxInboundFrame, 1 MiB by default)
// ends the connection with ErrProtocol; under a raised limit the same frame
// is read and ignored.
func TestInboundFrameLimit(t *testing.T) {
	const stray = 2 << 20
	for _, tc := range []struct {
		name     string
		opts     []fastpub.Option
		protocol bool
	}{
		{"default limit", nil, true},
		{"raised limit", []fastpub.Option{fastpub.WithMaxInboundFrame(4 << 20)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go fakeServer(ln, func(conn net.Conn) {
				conn.Write(frameBytes(`{"c":"ack","cid":"auto1","a":"processed","status":"success","s":0,"bm":"1|0|","version":"5.3.4.0"}`))
				hdr := `{"c":"p","t":"stray"}`
				f := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)+stray))
				f = append(append(f, hdr...), make([]byte, stray)...)
				conn.Write(f)
				// Then close: the client sees EOF, unless it gave up first.
			})
			errc := make(chan error, 1)
			opts := append(tc.opts, fastpub.WithErrorHandler(func(err error) { errc <- err }))
			connect(t, "tcp://"+ln.Addr().String()+"/amps/json", "stray", opts...)
			select {
			case err := <-errc:
				var tl *frame.FrameTooLargeError
				if !errors.Is(err, fastpub.ErrDisconnected) || errors.Is(err, fastpub.ErrProtocol) != tc.protocol ||
					errors.As(err, &tl) != tc.protocol {
					t.Fatalf("error handler: %v; want ErrDisconnected, ErrProtocol %v", err, tc.protocol)
				}
				if !tc.protocol && !errors.Is(err, io.EOF) {
					t.Fatalf("under a raised limit the connection ended with %v, want EOF after the stray frame", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the connection did not end")
			}
		})
	}
}
