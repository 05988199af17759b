package ampstest

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/fastpub/fastpub/frame"
)

// malformed lists headers a strict server must refuse by closing the connection.
var malformed = []struct {
	name, header string
}{
	{"space after comma", `{"c":"p", "t":"orders"}`},
	{"space after colon", `{"c": "p","t":"orders"}`},
	{"space before brace", `{"c":"p","t":"orders" }`},
	{"newline in number", "{\"c\":\"p\",\"t\":\"orders\",\"s\":43\n}"},
	{"byte before brace", ` {"c":"p","t":"orders"}`},
	{"missing brace", `{"c":"p","t":"orders"`},
	{"garbage after value", `{"c":"p","t":"orders"abc`},
	{"unterminated string", `{"c":"p","t":"ord`},
	{"empty header", `{}`},
	{"empty frame", ``},
	{"not an object", `hello`},
	{"control character", "{\"c\":\"p\",\"t\":\"or\x01ders\"}"},
	{"unicode escape", `{"c":"p","t":"or\u0041ders"}`},
	{"newline escape", `{"c":"p","t":"or\nders"}`},
	{"trailing comma", `{"c":"p","t":"orders",}`},
	{"nested object", `{"c":"p","t":{"x":1}}`},
	{"bad sequence", `{"c":"p","t":"orders","s":-1}`},
	{"sequence overflow", `{"c":"p","t":"orders","s":18446744073709551616}`},
	{"no command", `{"t":"orders"}`},
	{"unknown ack type", `{"c":"p","t":"orders","cid":"1","a":"processed,bogus"}`},
	{"bare word value", `{"c":p,"t":"orders"}`},
}

func TestMalformedHeaderCloses(t *testing.T) {
	checkNoLeak(t)
	for _, tt := range malformed {
		for _, when := range []string{"before logon", "after logon"} {
			t.Run(tt.name+"/"+when, func(t *testing.T) {
				s := startServer(t, Config{})
				c := dial(t, s, "tcp")
				if when == "after logon" {
					c.logon("pub")
				}
				c.send(rawFrame(tt.header, `{"id":1}`),
					pubFrame(t, frame.Publish{Topic: "orders", CommandID: "after", Ack: frame.AckProcessed}, "x"))
				if gs := c.expectClosed(); len(gs) != 0 {
					t.Fatalf("frames after a malformed header: %v", gs)
				}
				waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseMalformedHeader] == 1 })
				if st := s.Stats(); st.Publishes != 0 {
					t.Fatalf("a publish was accepted: %+v", st)
				}
			})
		}
	}
}

// TestFastPathLookalikes checks that headers that begin like the discard path's shape but are
// not exactly it are still judged by the strict parser.
func TestFastPathLookalikes(t *testing.T) {
	checkNoLeak(t)
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"plain p", `{"c":"p","t":"orders"}`, true},
		{"plain publish", `{"c":"publish","t":"orders"}`, true},
		{"escaped quote in topic", `{"c":"p","t":"or\"ders"}`, true},
		{"utf8 topic", `{"c":"p","t":"ördérs"}`, true},
		{"extra key", `{"c":"p","t":"orders","x":"1"}`, true},
		{"space before brace", `{"c":"p","t":"orders" }`, false},
		{"tab in topic", "{\"c\":\"p\",\"t\":\"or\tders\"}", false},
		{"DEL in topic", "{\"c\":\"p\",\"t\":\"or\x7fders\"}", false},
		{"bad escape", `{"c":"p","t":"or\u0041"}`, false},
		{"unterminated", `{"c":"p","t":"orders`, false},
		{"quote then garbage", `{"c":"p","t":"orders"x}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{})
			c := dial(t, s, "tcp")
			c.logon("pub")
			c.send(rawFrame(tt.header, "payload"))
			if tt.ok {
				c.sync()
				if st := s.Stats(); st.Publishes != 1 {
					t.Fatalf("publish not accepted: %+v", st)
				}
				return
			}
			c.send(flushFrame(t, "f", frame.AckProcessed))
			if gs := c.expectClosed(); len(gs) != 0 {
				t.Fatalf("frames: %v", gs)
			}
		})
	}
}

func TestOversizeFrameCloses(t *testing.T) {
	checkNoLeak(t)
	const max = 1024
	s := startServer(t, Config{MaxFrame: max})
	c := dial(t, s, "tcp")
	c.logon("pub")
	hdr := `{"c":"p","t":"big","cid":"ok","a":"processed"}`
	c.send(rawFrame(hdr, strings.Repeat("x", max-len(hdr)))) // exactly the limit: fine
	c.nextAck("ok", "processed", "success", "")
	c.send(rawFrame(`{"c":"p","t":"big"}`, strings.Repeat("x", max))) // over by 19 bytes
	if gs := c.expectClosed(); len(gs) != 0 {
		t.Fatalf("frames: %v", gs)
	}
	waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseFrameTooLarge] == 1 })

	// A huge length prefix alone closes the connection; nothing is allocated for it.
	c2 := dial(t, s, "unix")
	c2.send(binary.BigEndian.AppendUint32(nil, 0xffffffff))
	c2.expectClosed()
	waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseFrameTooLarge] == 2 })
}

func TestTruncatedFrame(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	f := pubFrame(t, frame.Publish{Topic: "orders"}, "payload")
	c.send(f[:len(f)-3])
	if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseTruncated] == 1 })

	c2 := dial(t, s, "tcp")
	c2.logon("pub2")
	c2.nc.(*net.TCPConn).CloseWrite()
	c2.expectClosed()
	waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseEOF] == 1 })
}

func TestScanPlainPublish(t *testing.T) {
	tests := []struct {
		body, topic string
		n           int
	}{
		{`{"c":"p","t":"orders"}{"id":1}`, "orders", 22},
		{`{"c":"publish","t":"o"}`, "o", 23},
		{`{"c":"p","t":""}`, "", 0},
		{`{"c":"p","t":"a\"b"}`, "", 0},
		{`{"c":"p","t":"ab"`, "", 0},
		{`{"c":"p","t":"ab" }`, "", 0},
		{`{"c":"delta_publish","t":"ab"}`, "", 0},
		{`{"c":"p","t":"ab","s":1}`, "", 0},
		{`{"c":"p","t"`, "", 0},
		{``, "", 0},
	}
	for _, tt := range tests {
		topic, n := scanPlainPublish([]byte(tt.body))
		if string(topic) != tt.topic || n != tt.n {
			t.Errorf("scanPlainPublish(%q) = %q, %d; want %q, %d", tt.body, topic, n, tt.topic, tt.n)
		}
	}
}
