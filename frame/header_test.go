package frame

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseAcceptedSpellings(t *testing.T) {
	cases := []struct {
		in    string
		check func(h *Header) bool
	}{
		{`{"c":"p"}`, func(h *Header) bool { return h.Command == CmdPublish && string(h.CommandRaw) == "p" }},
		{`{"cmd":"publish"}`, func(h *Header) bool { return h.Command == CmdPublish && string(h.CommandRaw) == "publish" }},
		{`{"c":"delta_publish"}`, func(h *Header) bool { return h.Command == CmdDeltaPublish }},
		{`{"c":"sow_and_subscribe"}`, func(h *Header) bool { return h.Command == CmdSOWAndSubscribe }},
		{`{"c":"bogus"}`, func(h *Header) bool { return h.Command == CmdUnknown && string(h.CommandRaw) == "bogus" }},
		{`{"cid":"auto1"}`, func(h *Header) bool { return string(h.CommandID) == "auto1" }},
		{`{"cmd_id":"auto1"}`, func(h *Header) bool { return string(h.CommandID) == "auto1" }},
		{`{"cid":7}`, func(h *Header) bool { return string(h.CommandID) == "7" }},
		{`{"t":"orders"}`, func(h *Header) bool { return string(h.Topic) == "orders" }},
		{`{"topic":"orders"}`, func(h *Header) bool { return string(h.Topic) == "orders" }},
		{`{"a":"processed,persisted"}`, func(h *Header) bool { return h.Ack == AckProcessed|AckPersisted }},
		{`{"ack":"persisted"}`, func(h *Header) bool { return h.Ack == AckPersisted }},
		{`{"ack_type":"completed"}`, func(h *Header) bool { return h.Ack == AckCompleted }},
		{`{"a":"sync,processed"}`, func(h *Header) bool { return h.Ack == AckProcessed && string(h.AckRaw) == "sync,processed" }},
		{`{"a":""}`, func(h *Header) bool { return h.Ack == 0 && h.AckRaw != nil && len(h.AckRaw) == 0 }},
		{`{"s":43}`, func(h *Header) bool { return h.HasSeq && h.Seq == 43 }},
		{`{"s":"43"}`, func(h *Header) bool { return h.HasSeq && h.Seq == 43 }},
		{`{"seq":18446744073709551615}`, func(h *Header) bool { return h.HasSeq && h.Seq == 1<<64-1 }},
		{`{"s":0}`, func(h *Header) bool { return h.HasSeq && h.Seq == 0 }},
		{`{"s":007}`, func(h *Header) bool { return h.HasSeq && h.Seq == 7 }},
		{`{"e":30}`, func(h *Header) bool { return h.HasExpiration && h.Expiration == 30 }},
		{`{"e":"30"}`, func(h *Header) bool { return h.HasExpiration && h.Expiration == 30 }},
		{`{"expiration":"0"}`, func(h *Header) bool { return h.HasExpiration && h.Expiration == 0 }},
		{`{"l":12}`, func(h *Header) bool { return h.HasLength && h.Length == 12 }},
		{`{"l":"12"}`, func(h *Header) bool { return h.HasLength && h.Length == 12 }},
		{`{"x":"Y29y"}`, func(h *Header) bool { return string(h.CorrelationID) == "Y29y" }},
		{`{"k":"key"}`, func(h *Header) bool { return string(h.SowKey) == "key" }},
		{`{"o":"start,5"}`, func(h *Header) bool { return string(h.Options) == "start,5" }},
		{`{"opts":"beat"}`, func(h *Header) bool { return string(h.Options) == "beat" }},
		{`{"client_name":"pub-1"}`, func(h *Header) bool { return string(h.ClientName) == "pub-1" }},
		{`{"user_id":"alice"}`, func(h *Header) bool { return string(h.UserID) == "alice" }},
		{`{"pw":"secret"}`, func(h *Header) bool { return string(h.Password) == "secret" }},
		{`{"auth_key":"token"}`, func(h *Header) bool { return string(h.Password) == "token" }},
		{`{"version":"5.3.4.0"}`, func(h *Header) bool { return string(h.Version) == "5.3.4.0" }},
		{`{"mt":"json"}`, func(h *Header) bool { return string(h.MessageType) == "json" }},
		{`{"bm":"1|42|"}`, func(h *Header) bool { return string(h.Bookmark) == "1|42|" }},
		{`{"bookmark":"1|42|"}`, func(h *Header) bool { return string(h.Bookmark) == "1|42|" }},
		{`{"status":"failure","reason":"auth failure"}`, func(h *Header) bool {
			return string(h.Status) == "failure" && string(h.Reason) == "auth failure"
		}},
		{`{"ts":"20240101T000000"}`, func(h *Header) bool { return string(h.Timestamp) == "20240101T000000" }},
		{`{"sub_id":"s1"}`, func(h *Header) bool { return string(h.SubID) == "s1" }},
		{`{"sids":"s1,s2"}`, func(h *Header) bool { return string(h.SubIDs) == "s1,s2" }},
		{`{"sub_ids":"s1,s2"}`, func(h *Header) bool { return string(h.SubIDs) == "s1,s2" }},
		{`{"filter":"/a = 1"}`, func(h *Header) bool { return string(h.Filter) == "/a = 1" }},
		// Unknown keys are ignored, whatever their well-formed value.
		{`{"zzz":"x","c":"ack"}`, func(h *Header) bool { return h.Command == CmdAck }},
		{`{"zs":"x"}`, func(h *Header) bool { return h.Timestamp == nil }},
		{`{"password":"x"}`, func(h *Header) bool { return h.Password == nil && h.Bookmark == nil }},
		{`{"":"","n":null,"b":true,"f":false,"num":-1.5e+3}`, func(h *Header) bool { return h.Command == CmdUnknown }},
		// Duplicate key: last one wins.
		{`{"t":"a","topic":"b","t":"c"}`, func(h *Header) bool { return string(h.Topic) == "c" }},
		{`{"s":1,"seq":"2"}`, func(h *Header) bool { return h.Seq == 2 }},
		// Bare tokens in string fields keep their text.
		{`{"t":true}`, func(h *Header) bool { return string(h.Topic) == "true" }},
		// Empty strings are present (non-nil).
		{`{"t":""}`, func(h *Header) bool { return h.Topic != nil && len(h.Topic) == 0 && h.CommandID == nil }},
		// Escapes.
		{`{"t":"a\"b\\c\/d\qe"}`, func(h *Header) bool { return string(h.Topic) == `a"b\c/dqe` }},
		{`{"t":"\\"}`, func(h *Header) bool { return string(h.Topic) == `\` }},
		{`{"t":"\""}`, func(h *Header) bool { return string(h.Topic) == `"` }},
		{`{"\c":"ack"}`, func(h *Header) bool { return h.Command == CmdAck }},
		{`{"t":"é/ü"}`, func(h *Header) bool { return string(h.Topic) == "é/ü" }},
		{`{"t":"a b"}`, func(h *Header) bool { return string(h.Topic) == "a b" }},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			body := []byte(c.in + "PAYLOAD")
			var h Header
			payload, err := h.Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(payload) != "PAYLOAD" {
				t.Fatalf("payload %q", payload)
			}
			if !c.check(&h) {
				t.Fatalf("unexpected header %+v", h)
			}
		})
	}
}

func TestParseNoPayload(t *testing.T) {
	var h Header
	payload, err := h.Parse([]byte(`{"c":"heartbeat"}`))
	if err != nil || payload == nil || len(payload) != 0 || h.Command != CmdHeartbeat {
		t.Fatalf("payload %q (nil %v), err %v, h %+v", payload, payload == nil, err, h)
	}
	// The payload is everything after the first closing brace, whatever it holds.
	payload, err = h.Parse([]byte(`{"c":"p"}}{ "x" : 1 }` + "\x00\n"))
	if err != nil || string(payload) != `}{ "x" : 1 }`+"\x00\n" {
		t.Fatalf("payload %q err %v", payload, err)
	}
}

// Every case of amps-protocol.md §2.2.1 a strict parser must reject, and the other ways a
// header can be malformed.
func TestParseMalformed(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		offset int
	}{
		// §2.2.1
		{"space after comma", `{"c":"p", "t":"orders"}`, 9},
		{"space before closing brace", `{"c":"p","t":"orders" }`, 21},
		{"space after colon", `{"c": "p"}`, 5},
		{"space before colon", `{"c" :"p"}`, 4},
		{"space after opening brace", `{ "c":"p"}`, 1},
		{"tab after comma", "{\"c\":\"p\",\t\"t\":\"x\"}", 9},
		{"unicode escape", `{"t":"a\u0041"}`, 7},
		{"empty header", `{}`, 1},
		{"unterminated string value", `{"c":"p`, 7},
		{"quote inside value", `{"c":"p,"t":"x}`, 9},
		{"unterminated string with payload", `{"t":"x}payload`, 15},
		{"unterminated key", `{"c`, 3},
		{"unterminated after escape", `{"c":"p\`, 8},
		{"no closing brace", `{"c":"p"`, 8},
		{"no closing brace after number", `{"s":43`, 7},
		{"bytes before brace", ` {"c":"p"}`, 0},
		{"junk before brace", `xx{"c":"p"}`, 0},
		{"newline inside number", "{\"s\":43\n}", 7},
		{"newline in string", "{\"t\":\"a\nb\"}", 7},
		// Structure.
		{"empty body", ``, 0},
		{"only brace", `{`, 1},
		{"missing colon", `{"c""p"}`, 4},
		{"missing value", `{"c":}`, 5},
		{"missing value at end", `{"c":`, 5},
		{"missing comma", `{"c":"p""t":"x"}`, 8},
		{"trailing comma", `{"c":"p",}`, 9},
		{"leading comma", `{,"c":"p"}`, 1},
		{"double comma", `{"c":"p",,"t":"x"}`, 9},
		{"unquoted key", `{c:"p"}`, 1},
		{"single quotes", `{'c':'p'}`, 1},
		{"nested object", `{"c":{}}`, 5},
		{"array", `{"c":[1]}`, 5},
		{"end after key", `{"c"`, 4},
		{"end after comma", `{"c":"p",`, 9},
		// Control characters and escapes.
		{"NUL in value", "{\"t\":\"a\x00\"}", 7},
		{"DEL in value", "{\"t\":\"a\x7f\"}", 7},
		{"control in key", "{\"c\x01\":\"p\"}", 3},
		{"control after escape", "{\"t\":\"a\\\x01\"}", 8},
		{"control after an escape", "{\"t\":\"\\\\\x01\"}", 8},
		{"escaped newline", `{"t":"a\nb"}`, 7},
		{"escaped tab", `{"t":"\t"}`, 6},
		{"escaped b", `{"t":"\b"}`, 6},
		{"escaped f", `{"t":"\f"}`, 6},
		{"escaped r", `{"t":"\r"}`, 6},
		{"unicode escape after other escape", `{"t":"\"\u0041"}`, 8},
		// Bare values.
		{"bad bare word", `{"c":p}`, 5},
		{"bare word prefix", `{"c":tru}`, 5},
		{"bare TRUE", `{"c":TRUE}`, 5},
		{"bare then junk", `{"x":1a}`, 5},
		// Numbers.
		{"negative seq", `{"s":-1}`, 5},
		{"float seq", `{"s":4.5}`, 5},
		{"exponent seq", `{"s":1e3}`, 5},
		{"empty quoted seq", `{"s":""}`, 5},
		{"seq true", `{"s":true}`, 5},
		{"seq null", `{"seq":null}`, 7},
		{"seq overflow", `{"s":18446744073709551616}`, 5},
		{"seq too long", `{"s":000000000000000000001}`, 5},
		{"seq with sign", `{"s":"+1"}`, 5},
		{"seq with space", `{"s":"1 "}`, 5},
		{"expiration bad", `{"e":"30s"}`, 5},
		{"expiration negative", `{"expiration":-30}`, 14},
		{"length bad", `{"l":"x"}`, 5},
		{"bad number after good fields", `{"c":"p","t":"x","s":"4x"}`, 21},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(c.in)
			h := Header{Topic: []byte("stale")}
			payload, err := h.Parse(body)
			var he *HeaderError
			if !errors.Is(err, ErrMalformedHeader) || !errors.As(err, &he) {
				t.Fatalf("Parse(%q) = %q, %v; want *HeaderError", c.in, payload, err)
			}
			if he.Offset != c.offset {
				t.Errorf("offset %d, want %d (%v)", he.Offset, c.offset, err)
			}
			if payload != nil || h.Topic != nil || h.HasSeq {
				t.Errorf("header not reset on error: %+v", h)
			}
			if !strings.HasPrefix(err.Error(), "frame: malformed header at offset ") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

func TestParseUnescapesInPlace(t *testing.T) {
	body := []byte(`{"t":"a\"b","x":"\\\\"}rest`)
	var h Header
	payload, err := h.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if string(h.Topic) != `a"b` || string(h.CorrelationID) != `\\` || string(payload) != "rest" {
		t.Fatalf("%q %q %q", h.Topic, h.CorrelationID, payload)
	}
	// The values alias body.
	if &h.Topic[0] != &body[6] || &payload[0] != &body[len(body)-4] {
		t.Fatal("values do not alias the body")
	}
}

// roundTrip parses a frame produced by an encoder and checks the prefix and payload.
func roundTrip(t *testing.T, frame []byte, wantPayload []byte) *Header {
	t.Helper()
	if len(frame) < PrefixLen {
		t.Fatalf("short frame %q", frame)
	}
	body := frame[PrefixLen:]
	if n := int(uint32(frame[0])<<24 | uint32(frame[1])<<16 | uint32(frame[2])<<8 | uint32(frame[3])); n != len(body) {
		t.Fatalf("prefix %d, body %d", n, len(body))
	}
	h := new(Header)
	payload, err := h.Parse(body)
	if err != nil {
		t.Fatalf("Parse(%q): %v", body, err)
	}
	if !bytes.Equal(payload, wantPayload) {
		t.Fatalf("payload %q, want %q", payload, wantPayload)
	}
	return h
}

const nasty = `q"u\o"te\\` // every escapable byte, adjacent and doubled

func TestRoundTripPublish(t *testing.T) {
	for _, p := range []Publish{
		examplePublish,
		{Command: CmdDeltaPublish, Topic: nasty, CommandID: nasty, Ack: AckReceived | AckStats,
			Expiration: 0, HasExpiration: true, CorrelationID: nasty, SowKey: nasty, Seq: 1<<64 - 1},
		{Topic: "é", Expiration: 4294967295},
	} {
		payload := []byte(`{"a":"}"}`)
		frame, err := AppendPublish(nil, &p, payload)
		if err != nil {
			t.Fatal(err)
		}
		h := roundTrip(t, frame, payload)
		wantCmd := p.Command
		if wantCmd == CmdUnknown {
			wantCmd = CmdPublish
		}
		if h.Command != wantCmd || string(h.Topic) != p.Topic || string(h.CommandID) != p.CommandID ||
			h.Ack != p.Ack || h.HasExpiration != (p.HasExpiration || p.Expiration != 0) ||
			h.Expiration != uint64(p.Expiration) || string(h.CorrelationID) != p.CorrelationID ||
			string(h.SowKey) != p.SowKey || h.Seq != p.Seq || h.HasSeq != (p.Seq != 0) {
			t.Fatalf("publish %+v parsed as %+v", p, h)
		}
	}
}

func TestRoundTripLogonFlushHeartbeat(t *testing.T) {
	l := Logon{CommandID: nasty, ClientName: nasty, UserID: nasty, MessageType: "json",
		Ack: AckProcessed, Version: "0.1.0:go", CorrelationID: nasty, Password: nasty, Options: "pretty"}
	frame, err := AppendLogon(nil, &l)
	if err != nil {
		t.Fatal(err)
	}
	h := roundTrip(t, frame, nil)
	if h.Command != CmdLogon || string(h.CommandID) != nasty || string(h.ClientName) != nasty ||
		string(h.UserID) != nasty || string(h.MessageType) != "json" || h.Ack != AckProcessed ||
		string(h.Version) != "0.1.0:go" || string(h.CorrelationID) != nasty ||
		string(h.Password) != nasty || string(h.Options) != "pretty" {
		t.Fatalf("logon parsed as %+v", h)
	}
	empty, err := AppendLogon(nil, &Logon{})
	if err != nil || string(empty[4:]) != `{"c":"logon"}` {
		t.Fatalf("empty logon %q %v", empty, err)
	}

	frame, err = AppendFlush(nil, &Flush{CommandID: nasty, ClientName: "c", Ack: AckProcessed})
	if err != nil {
		t.Fatal(err)
	}
	h = roundTrip(t, frame, nil)
	if h.Command != CmdFlush || string(h.CommandID) != nasty || string(h.ClientName) != "c" || h.Ack != AckProcessed {
		t.Fatalf("flush parsed as %+v", h)
	}

	for _, sec := range []uint32{0, 5, 4294967295} {
		h = roundTrip(t, AppendHeartbeatStart(nil, sec), nil)
		if h.Command != CmdHeartbeat || !strings.HasPrefix(string(h.Options), "start,") {
			t.Fatalf("heartbeat parsed as %+v", h)
		}
	}
	h = roundTrip(t, AppendHeartbeatBeat(nil), nil)
	if h.Command != CmdHeartbeat || string(h.Options) != "beat" {
		t.Fatalf("beat parsed as %+v", h)
	}
	h = roundTrip(t, AppendServerHeartbeat(nil), nil)
	if h.Command != CmdHeartbeat || h.Options != nil {
		t.Fatalf("server heartbeat parsed as %+v", h)
	}
}

func TestRoundTripServerSide(t *testing.T) {
	for _, a := range []Ack{
		exampleLogonAck,
		{CommandID: nasty, Type: AckPersisted, Status: "failure", Reason: nasty, ClientName: nasty,
			UserID: nasty, Password: nasty, Seq: 9, HasSeq: true, Bookmark: nasty, Version: nasty},
		{Type: AckPersisted, Status: "success", Seq: 43, HasSeq: true},
		{Seq: 3, HasSeq: true},
		{},
	} {
		frame, err := AppendAck(nil, &a)
		if err != nil {
			t.Fatal(err)
		}
		h := roundTrip(t, frame, nil)
		if h.Command != CmdAck || string(h.CommandID) != a.CommandID || h.Ack != a.Type ||
			string(h.Status) != a.Status || string(h.Reason) != a.Reason ||
			string(h.ClientName) != a.ClientName || string(h.UserID) != a.UserID ||
			string(h.Password) != a.Password || h.HasSeq != a.HasSeq || h.Seq != a.Seq ||
			string(h.Bookmark) != a.Bookmark || string(h.Version) != a.Version {
			t.Fatalf("ack %+v parsed as %+v", a, h)
		}
		if a.HasSeq && !bytes.Contains(frame, []byte(`"s":`+string(strconvU(a.Seq))+`,`)) {
			t.Fatalf("s is last in %q", frame)
		}
	}

	d := Delivery{Topic: nasty, SubID: nasty, SubIDs: "a,b", Bookmark: "1|2|", Timestamp: "t",
		Seq: 5, HasSeq: true, CorrelationID: nasty, SowKey: nasty}
	frame, err := AppendDelivery(nil, &d, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	h := roundTrip(t, frame, []byte("data"))
	if h.Command != CmdPublish || string(h.Topic) != nasty || string(h.SubID) != nasty ||
		string(h.SubIDs) != "a,b" || string(h.Bookmark) != "1|2|" || string(h.Timestamp) != "t" ||
		h.Seq != 5 || string(h.CorrelationID) != nasty || string(h.SowKey) != nasty {
		t.Fatalf("delivery parsed as %+v", h)
	}

	s := Subscribe{Command: CmdSOWAndDeltaSubscribe, CommandID: nasty, Topic: nasty, SubID: nasty,
		Filter: nasty, Options: nasty, Ack: AckProcessed | AckCompleted}
	frame, err = AppendSubscribe(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	h = roundTrip(t, frame, nil)
	if h.Command != s.Command || string(h.CommandID) != nasty || string(h.Topic) != nasty ||
		string(h.SubID) != nasty || string(h.Filter) != nasty || string(h.Options) != nasty ||
		h.Ack != s.Ack {
		t.Fatalf("subscribe parsed as %+v", h)
	}
}

// strconvU formats x without strconv, to double-check the encoder's digits.
func strconvU(x uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + x%10)
		x /= 10
		if x == 0 {
			break
		}
	}
	return append([]byte(nil), b[i:]...)
}

func TestErrorsAndReset(t *testing.T) {
	cases := []struct {
		err      error
		sentinel error
		text     string
	}{
		{&InvalidValueError{Field: "pw", Reason: reasonControl}, ErrInvalidValue, `frame: invalid header value for "pw": control character`},
		{&HeaderError{Offset: 3, Reason: "expected ':'"}, ErrMalformedHeader, "frame: malformed header at offset 3: expected ':'"},
		{&FrameTooLargeError{Size: 10, Max: 5}, ErrFrameTooLarge, "frame: frame too large: 10 bytes, max 5"},
		{&AckTypeError{Word: "x\n"}, ErrUnknownAckType, `frame: unknown ack type "x\n"`},
	}
	for _, c := range cases {
		if c.err.Error() != c.text {
			t.Errorf("Error() = %q, want %q", c.err, c.text)
		}
		if errors.Unwrap(c.err) != c.sentinel || !errors.Is(c.err, c.sentinel) {
			t.Errorf("%v does not unwrap to %v", c.err, c.sentinel)
		}
		for _, other := range []error{ErrInvalidValue, ErrMalformedHeader, ErrFrameTooLarge, ErrUnknownAckType} {
			if other != c.sentinel && errors.Is(c.err, other) {
				t.Errorf("%v matches %v", c.err, other)
			}
		}
	}
	h := Header{Topic: []byte("t"), HasSeq: true, Seq: 3}
	h.Reset()
	if h.Topic != nil || h.HasSeq || h.Seq != 0 {
		t.Fatalf("Reset left %+v", h)
	}
}
