package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
)

// Seeds shared by f.Add and the checked-in corpus in testdata/fuzz.
var headerSeeds = []string{
	`{"c":"logon","cid":"1","client_name":"pub-1","user_id":"alice","mt":"json","a":"processed","version":"0.1.0:go","pw":"secret"}`,
	`{"c":"p","t":"orders","a":"persisted","s":43}{"id":1}`,
	`{"c":"ack","a":"persisted","status":"success","s":43}`,
	`{"c":"ack","cid":"1","a":"processed","status":"success","client_name":"pub-1","s":42,"bm":"5934099655320710513|42|","version":"5.3.4.0"}`,
	`{"c":"heartbeat","o":"start,5"}`,
	`{"cmd":"publish","topic":"a\"b\\c","seq":"7","expiration":30,"l":0}payload`,
	`{"c":"p", "t":"orders"}`,
	`{"c":"p","t":"a\u0041"}`,
	`{"c":"p`,
	`{}`,
	"{\"s\":43\n}",
	` {"c":"p"}`,
}

func FuzzHeaderParse(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := bytes.Clone(data)
		var h Header
		payload, err := h.Parse(buf)
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) || !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("error %v is not a *HeaderError", err)
			}
			if he.Offset < 0 || he.Offset > len(data) {
				t.Fatalf("offset %d outside [0, %d]", he.Offset, len(data))
			}
			if payload != nil || h.Topic != nil || h.Command != CmdUnknown {
				t.Fatal("header not reset on error")
			}
			return
		}
		// The payload is an unmodified suffix of the input, right after a '}'.
		hdrLen := len(data) - len(payload)
		if hdrLen < 3 || !bytes.Equal(payload, data[hdrLen:]) || data[hdrLen-1] != '}' || data[0] != '{' {
			t.Fatalf("payload %q is not the suffix after the header of %q", payload, data)
		}
		// Nothing in the header region is whitespace or a control byte outside strings; at least
		// no raw control byte at all (they are rejected inside strings too).
		for i, c := range data[:hdrLen] {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("accepted a control byte at %d in %q", i, data)
			}
		}
		// Every field aliases the header region of buf.
		for _, v := range [][]byte{h.CommandRaw, h.CommandID, h.Topic, h.AckRaw, h.CorrelationID,
			h.SowKey, h.Options, h.ClientName, h.UserID, h.Password, h.Version, h.MessageType,
			h.Bookmark, h.Status, h.Reason, h.Timestamp, h.SubID, h.SubIDs, h.Filter} {
			if v == nil {
				continue
			}
			if len(v) > hdrLen || (len(v) > 0 && !aliases(buf[:hdrLen], v)) {
				t.Fatalf("field %q does not alias the header", v)
			}
			for _, c := range v {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("field %q holds a control byte", v)
				}
			}
		}
		if h.Command != ParseCommand(h.CommandRaw) {
			t.Fatalf("Command %v for %q", h.Command, h.CommandRaw)
		}
	})
}

// aliases reports whether sub lies inside buf's memory.
func aliases(buf, sub []byte) bool {
	for i := 0; i+len(sub) <= len(buf); i++ {
		if &buf[i] == &sub[0] {
			return true
		}
	}
	return false
}

var readerSeeds = []struct {
	stream []byte
	seed   uint64
	max    uint16
}{
	{[]byte("\x00\x00\x00\x7e{\"c\""), 1, 0}, // truncated inside the body
	{[]byte("\x00\x00\x00\x35{\"c\":\"p\",\"t\":\"orders\",\"a\":\"persisted\",\"s\":43}{\"id\":1}"), 7, 100},
	{[]byte("\x00\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x00\x02yz"), 3, 1},
	{[]byte("\xff\xff\xff\xff"), 0, 0},
	{[]byte("\x00\x00"), 2, 5},
	{[]byte{}, 0, 0},
}

// fuzzChunks reads the stream in chunks of 1..64 bytes chosen by a seeded generator.
type fuzzChunks struct {
	data []byte
	rng  *rand.Rand
}

func (c *fuzzChunks) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(64))
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add(s.stream, s.seed, s.max)
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, max16 uint16) {
		maxFrame := int(max16) // 0 means DefaultMaxFrame
		effMax := maxFrame
		if effMax == 0 {
			effMax = DefaultMaxFrame
		}
		r := NewReader(&fuzzChunks{data: stream, rng: rand.New(rand.NewPCG(seed, seed>>1))}, int(seed%300), maxFrame)
		off := 0
		for range len(stream)/PrefixLen + 2 { // every frame takes at least 4 bytes
			body, err := r.Next()
			if err != nil {
				rest := stream[off:]
				switch {
				case err == io.EOF:
					if len(rest) != 0 {
						t.Fatalf("io.EOF with %d bytes unread", len(rest))
					}
				case err == io.ErrUnexpectedEOF:
					if len(rest) == 0 || (len(rest) >= 4 && uint64(binary.BigEndian.Uint32(rest)) <= uint64(len(rest)-4)) {
						t.Fatalf("io.ErrUnexpectedEOF with a complete frame left: %q", rest)
					}
				case errors.Is(err, ErrFrameTooLarge):
					if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) <= uint64(effMax) {
						t.Fatalf("%v, but the next frame is %q", err, rest)
					}
				default:
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(body) > effMax {
				t.Fatalf("frame of %d bytes over max %d", len(body), effMax)
			}
			if len(stream)-off < 4+len(body) || uint64(binary.BigEndian.Uint32(stream[off:])) != uint64(len(body)) ||
				!bytes.Equal(body, stream[off+4:off+4+len(body)]) {
				t.Fatalf("frame at %d does not match the stream", off)
			}
			off += 4 + len(body)
		}
		t.Fatal("Next did not stop")
	})
}

func FuzzPublishRoundTrip(f *testing.F) {
	f.Add("orders", []byte(`{"id":1}`), "", uint(AckPersisted), uint32(0), false, "", "", uint64(43), false)
	f.Add(`a"b\c`, []byte{}, "auto1", uint(AckProcessed|AckPersisted), uint32(30), true, "Y29y", "k", uint64(1<<64-1), true)
	f.Add("t\n", []byte("x"), "", uint(0), uint32(0), false, "", "", uint64(0), false)
	f.Add("", []byte("x"), "", uint(64), uint32(0), true, "\x7f", "", uint64(1), false)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, cid string, ack uint, exp uint32, hasExp bool, x, k string, seq uint64, delta bool) {
		p := Publish{Topic: topic, CommandID: cid, Ack: AckType(ack), Expiration: exp,
			HasExpiration: hasExp, CorrelationID: x, SowKey: k, Seq: seq}
		if delta {
			p.Command = CmdDeltaPublish
		}
		hasControl := func(s string) bool {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] == 0x7f {
					return true
				}
			}
			return false
		}
		wantErr := topic == "" || AckType(ack)&^ackAll != 0 ||
			hasControl(topic) || hasControl(cid) || hasControl(x) || hasControl(k)

		dst := []byte("pre")
		frame, err := AppendPublish(dst, &p, payload)
		n, lenErr := PublishLen(&p, len(payload))
		if wantErr {
			if err == nil || lenErr == nil || !errors.Is(err, ErrInvalidValue) || !errors.Is(lenErr, ErrInvalidValue) {
				t.Fatalf("%+v: errors %v, %v; want ErrInvalidValue", p, err, lenErr)
			}
			if string(frame) != "pre" {
				t.Fatalf("dst not restored: %q", frame)
			}
			return
		}
		if err != nil || lenErr != nil {
			t.Fatalf("%+v: errors %v, %v", p, err, lenErr)
		}
		if len(frame)-3 != n {
			t.Fatalf("PublishLen %d, frame %d", n, len(frame)-3)
		}
		sfr, err := AppendPublishString(nil, &p, string(payload))
		if err != nil || !bytes.Equal(sfr, frame[3:]) {
			t.Fatalf("AppendPublishString differs: %v", err)
		}
		h := roundTrip(t, frame[3:], payload)
		wantCmd := CmdPublish
		if delta {
			wantCmd = CmdDeltaPublish
		}
		if h.Command != wantCmd || string(h.Topic) != topic || string(h.CommandID) != cid ||
			(cid == "") != (h.CommandID == nil) || h.Ack != AckType(ack) ||
			h.HasExpiration != (hasExp || exp != 0) || h.Expiration != uint64(exp) ||
			string(h.CorrelationID) != x || string(h.SowKey) != k ||
			h.HasSeq != (seq != 0) || h.Seq != seq {
			t.Fatalf("%+v parsed as %+v", p, h)
		}
	})
}

// FuzzSeqTail checks SeqTail against strconv for every head the cache can hold (1 to
// 10¹⁶-1, the digits of a 4- to 19-digit sequence but its last three): it accepts exactly three
// digits and '}', with the value of the head's digits followed by those three.
func FuzzSeqTail(f *testing.F) {
	for _, s := range []struct {
		head uint64
		b    string
	}{{1, "000}"}, {1764680000000000, "123}x"}, {9999999999999999, "999}"}, {9, "99}"}, {9, "9999}"},
		{1, "12x}"}, {1, "1 2}"}, {1, "/9:}"}, {1, "123"}, {0, "001}"}, {1 << 63, "123}"}} {
		f.Add(s.head, []byte(s.b))
	}
	f.Fuzz(func(t *testing.T, head uint64, b []byte) {
		head = head%(1e16-1) + 1
		seq, n := SeqTail(head, b)
		want, wantN := uint64(0), 0
		if len(b) >= 4 && b[3] == '}' {
			if _, err := strconv.ParseUint(string(b[:3]), 10, 64); err == nil { // three digits, no sign
				v, err := strconv.ParseUint(strconv.FormatUint(head, 10)+string(b[:3]), 10, 64)
				if err != nil {
					t.Fatalf("head %d and %q: %v", head, b[:3], err)
				}
				want, wantN = v, 4
			}
		}
		if seq != want || n != wantN {
			t.Fatalf("SeqTail(%d, %q) = %d, %d; want %d, %d", head, b, seq, n, want, wantN)
		}
	})
}
