package frame

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// fromHexDump decodes an xxd-style dump as printed in amps-protocol.md: an offset column, up
// to 16 hex byte columns, then an ASCII column.
func fromHexDump(t *testing.T, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		off, err := strconv.ParseUint(fields[0], 16, 32)
		if err != nil || int(off) != len(out) {
			t.Fatalf("hex dump line %q: offset %q, want %04x", line, fields[0], len(out))
		}
		for _, f := range fields[1:min(len(fields), 17)] {
			if len(f) != 2 {
				break
			}
			b, err := hex.DecodeString(f)
			if err != nil {
				break
			}
			out = append(out, b[0])
		}
	}
	return out
}

// withPrefix returns prefix (hex, as printed in the doc) followed by header.
func withPrefix(t *testing.T, prefixHex, header string) []byte {
	t.Helper()
	p, err := hex.DecodeString(strings.ReplaceAll(prefixHex, " ", ""))
	if err != nil || len(p) != PrefixLen {
		t.Fatalf("bad prefix %q", prefixHex)
	}
	return append(p, header...)
}

func mustEqualBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ\n got %d %q\nwant %d %q", len(got), got, len(want), want)
	}
}

// amps-protocol.md §2.3, verbatim.
const logonDump = `
0000  00 00 00 7e 7b 22 63 22 3a 22 6c 6f 67 6f 6e 22  ...~{"c":"logon"
0010  2c 22 63 69 64 22 3a 22 31 22 2c 22 63 6c 69 65  ,"cid":"1","clie
0020  6e 74 5f 6e 61 6d 65 22 3a 22 70 75 62 2d 31 22  nt_name":"pub-1"
0030  2c 22 75 73 65 72 5f 69 64 22 3a 22 61 6c 69 63  ,"user_id":"alic
0040  65 22 2c 22 6d 74 22 3a 22 6a 73 6f 6e 22 2c 22  e","mt":"json","
0050  61 22 3a 22 70 72 6f 63 65 73 73 65 64 22 2c 22  a":"processed","
0060  76 65 72 73 69 6f 6e 22 3a 22 30 2e 31 2e 30 3a  version":"0.1.0:
0070  67 6f 22 2c 22 70 77 22 3a 22 73 65 63 72 65 74  go","pw":"secret
0080  22 7d                                            "}
`

// amps-protocol.md §2.4, verbatim.
const publishDump = `
0000  00 00 00 35 7b 22 63 22 3a 22 70 22 2c 22 74 22  ...5{"c":"p","t"
0010  3a 22 6f 72 64 65 72 73 22 2c 22 61 22 3a 22 70  :"orders","a":"p
0020  65 72 73 69 73 74 65 64 22 2c 22 73 22 3a 34 33  ersisted","s":43
0030  7d 7b 22 69 64 22 3a 31 7d                       }{"id":1}
`

var (
	exampleLogon = Logon{
		CommandID: "1", ClientName: "pub-1", UserID: "alice", MessageType: "json",
		Ack: AckProcessed, Version: "0.1.0:go", Password: "secret",
	}
	exampleLogonAck = Ack{
		CommandID: "1", Type: AckProcessed, Status: "success", ClientName: "pub-1",
		Seq: 42, HasSeq: true, Bookmark: "5934099655320710513|42|", Version: "5.3.4.0",
	}
	examplePublish = Publish{Topic: "orders", Ack: AckPersisted, Seq: 43}
)

func TestGoldenLogon(t *testing.T) {
	want := fromHexDump(t, logonDump)
	if len(want) != 130 {
		t.Fatalf("dump decodes to %d bytes, want 130", len(want))
	}
	got, err := AppendLogon(nil, &exampleLogon)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, got, want)
}

func TestGoldenLogonAck(t *testing.T) {
	const header = `{"c":"ack","cid":"1","a":"processed","status":"success","client_name":"pub-1","s":42,"bm":"5934099655320710513|42|","version":"5.3.4.0"}`
	want := withPrefix(t, "00 00 00 88", header)
	got, err := AppendAck(nil, &exampleLogonAck)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, got, want)
	if len(got) != 4+136 {
		t.Fatalf("len %d", len(got))
	}
}

func TestGoldenPublish(t *testing.T) {
	want := fromHexDump(t, publishDump)
	if len(want) != 57 {
		t.Fatalf("dump decodes to %d bytes, want 57", len(want))
	}
	payload := []byte(`{"id":1}`)
	got, err := AppendPublish(nil, &examplePublish, payload)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, got, want)
	got, err = AppendPublishString(nil, &examplePublish, string(payload))
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, got, want)
	n, err := PublishLen(&examplePublish, len(payload))
	if err != nil || n != 57 {
		t.Fatalf("PublishLen = %d, %v; want 57", n, err)
	}
}

// The doc's persisted ack (§2.4) puts "s" last, which the official JS client cannot read
// (§2.2: it needs `"s":<digits>,`). AppendAck moves "s" before the last key: same 53 bytes,
// same prefix, same fields.
func TestGoldenPersistedAck(t *testing.T) {
	const docHeader = `{"c":"ack","a":"persisted","status":"success","s":43}`
	want := withPrefix(t, "00 00 00 35", `{"c":"ack","a":"persisted","s":43,"status":"success"}`)
	got, err := AppendAck(nil, &Ack{Type: AckPersisted, Status: "success", Seq: 43, HasSeq: true})
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, got, want)
	if len(got) != 53+4 || len(docHeader) != 53 {
		t.Fatalf("lengths %d %d", len(got), len(docHeader))
	}
	var fromDoc, fromUs Header
	if _, err := fromDoc.Parse([]byte(docHeader)); err != nil {
		t.Fatal(err)
	}
	if _, err := fromUs.Parse(got[PrefixLen:]); err != nil {
		t.Fatal(err)
	}
	if !equalHeaders(&fromDoc, &fromUs) {
		t.Fatalf("doc header parses to %+v, ours to %+v", fromDoc, fromUs)
	}
	if fromUs.Seq != 43 || fromUs.Ack != AckPersisted || string(fromUs.Status) != "success" {
		t.Fatalf("parsed %+v", fromUs)
	}
}

func TestGoldenOthers(t *testing.T) {
	flush := func() []byte {
		b, err := AppendFlush(nil, &Flush{CommandID: "2", ClientName: "pub-1", Ack: AckPersisted})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		got    []byte
		prefix string
		header string
	}{
		{"flush", flush(), "00 00 00 3d", `{"c":"flush","cid":"2","client_name":"pub-1","a":"persisted"}`},
		{"heartbeat start", AppendHeartbeatStart(nil, 5), "00 00 00 1f", `{"c":"heartbeat","o":"start,5"}`},
		{"beat", AppendHeartbeatBeat(nil), "00 00 00 1c", `{"c":"heartbeat","o":"beat"}`},
		{"server heartbeat", AppendServerHeartbeat(nil), "00 00 00 11", `{"c":"heartbeat"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustEqualBytes(t, c.got, withPrefix(t, c.prefix, c.header))
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	dst := []byte("keep")
	got, err := AppendPublish(dst, &examplePublish, []byte(`{"id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, got, append([]byte("keep"), fromHexDump(t, publishDump)...))
	got = AppendHeartbeatStart(got[:4], 1234567890)
	mustEqualBytes(t, got, append([]byte("keep\x00\x00\x00\x28"), `{"c":"heartbeat","o":"start,1234567890"}`...))
}

func TestPublishEncoding(t *testing.T) {
	cases := []struct {
		name string
		h    Publish
		want string // header
	}{
		{"minimal", Publish{Topic: "orders"}, `{"c":"p","t":"orders"}`},
		{"explicit publish", Publish{Command: CmdPublish, Topic: "t"}, `{"c":"p","t":"t"}`},
		{"delta", Publish{Command: CmdDeltaPublish, Topic: "orders", Seq: 1}, `{"c":"delta_publish","t":"orders","s":1}`},
		{"all fields", Publish{Topic: "a/b", CommandID: "auto1", Ack: AckProcessed | AckPersisted,
			Expiration: 30, CorrelationID: "Y29y", SowKey: "k1", Seq: math.MaxUint64},
			`{"c":"p","t":"a/b","cid":"auto1","a":"processed,persisted","e":"30","x":"Y29y","k":"k1","s":18446744073709551615}`},
		{"expiration zero present", Publish{Topic: "t", HasExpiration: true}, `{"c":"p","t":"t","e":"0"}`},
		{"expiration max", Publish{Topic: "t", Expiration: math.MaxUint32}, `{"c":"p","t":"t","e":"4294967295"}`},
		{"escapes", Publish{Topic: `a"b\c`, CommandID: `\`, CorrelationID: `"`, SowKey: `\"`},
			`{"c":"p","t":"a\"b\\c","cid":"\\","x":"\"","k":"\\\""}`},
		{"utf8 verbatim", Publish{Topic: "ordres/é"}, `{"c":"p","t":"ordres/é"}`},
		{"all acks", Publish{Topic: "t", Ack: ackAll}, `{"c":"p","t":"t","a":"received,parsed,processed,persisted,completed,stats"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, payload := range []string{"", "x", `{"id":1}`} {
				want := binary.BigEndian.AppendUint32(nil, uint32(len(c.want)+len(payload)))
				want = append(append(want, c.want...), payload...)
				got, err := AppendPublish(nil, &c.h, []byte(payload))
				if err != nil {
					t.Fatal(err)
				}
				mustEqualBytes(t, got, want)
				n, err := PublishLen(&c.h, len(payload))
				if err != nil || n != len(want) {
					t.Fatalf("PublishLen = %d, %v; want %d", n, err, len(want))
				}
			}
		})
	}
}

func TestEncoderErrors(t *testing.T) {
	type enc func(dst []byte) ([]byte, error)
	pub := func(h Publish) enc {
		return func(dst []byte) ([]byte, error) { return AppendPublish(dst, &h, []byte("p")) }
	}
	cases := []struct {
		name   string
		enc    enc
		field  string
		reason string
	}{
		{"empty topic", pub(Publish{}), "t", reasonEmpty},
		{"bad command", pub(Publish{Command: CmdLogon, Topic: "t"}), "c", reasonCommand},
		{"topic newline", pub(Publish{Topic: "a\nb"}), "t", reasonControl},
		{"topic NUL", pub(Publish{Topic: "\x00"}), "t", reasonControl},
		{"topic DEL", pub(Publish{Topic: "a\x7f"}), "t", reasonControl},
		{"topic escape then control", pub(Publish{Topic: `a"` + "\t"}), "t", reasonControl},
		{"cid control", pub(Publish{Topic: "t", CommandID: "\r"}), "cid", reasonControl},
		{"x control", pub(Publish{Topic: "t", CorrelationID: "\x1f"}), "x", reasonControl},
		{"k control", pub(Publish{Topic: "t", SowKey: "\x01"}), "k", reasonControl},
		{"ack bits", pub(Publish{Topic: "t", Ack: 64}), "a", reasonAckBits},
		{"logon password", func(dst []byte) ([]byte, error) {
			return AppendLogon(dst, &Logon{ClientName: "c", Password: "sec\nret"})
		}, "pw", reasonControl},
		{"logon ack bits", func(dst []byte) ([]byte, error) {
			return AppendLogon(dst, &Logon{Ack: 128})
		}, "a", reasonAckBits},
		{"flush client name", func(dst []byte) ([]byte, error) {
			return AppendFlush(dst, &Flush{ClientName: "\x00"})
		}, "client_name", reasonControl},
		{"ack reason", func(dst []byte) ([]byte, error) {
			return AppendAck(dst, &Ack{Reason: "a\nb", HasSeq: true, Seq: 1})
		}, "reason", reasonControl},
		{"ack version", func(dst []byte) ([]byte, error) {
			return AppendAck(dst, &Ack{Status: "x", HasSeq: true, Version: "\x7f"})
		}, "version", reasonControl},
		{"delivery no topic", func(dst []byte) ([]byte, error) {
			return AppendDelivery(dst, &Delivery{}, nil)
		}, "t", reasonEmpty},
		{"delivery k", func(dst []byte) ([]byte, error) {
			return AppendDelivery(dst, &Delivery{Topic: "t", SowKey: "\n"}, nil)
		}, "k", reasonControl},
		{"subscribe no topic", func(dst []byte) ([]byte, error) {
			return AppendSubscribe(dst, &Subscribe{})
		}, "t", reasonEmpty},
		{"subscribe bad command", func(dst []byte) ([]byte, error) {
			return AppendSubscribe(dst, &Subscribe{Command: CmdPublish, Topic: "t"})
		}, "c", reasonCommand},
		{"subscribe filter", func(dst []byte) ([]byte, error) {
			return AppendSubscribe(dst, &Subscribe{Topic: "t", Filter: "\t"})
		}, "filter", reasonControl},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := make([]byte, 3, 512)
			copy(dst, "abc")
			got, err := c.enc(dst)
			var ive *InvalidValueError
			if !errors.Is(err, ErrInvalidValue) || !errors.As(err, &ive) {
				t.Fatalf("err = %v, want *InvalidValueError", err)
			}
			if ive.Field != c.field || ive.Reason != c.reason {
				t.Fatalf("err = %+v, want field %q reason %q", ive, c.field, c.reason)
			}
			if string(got) != "abc" {
				t.Fatalf("dst not restored: %q", got)
			}
			if strings.Contains(err.Error(), "sec") {
				t.Fatalf("error leaks a value: %v", err)
			}
		})
	}
}

func TestPublishLenErrors(t *testing.T) {
	cases := []struct {
		h   Publish
		n   int
		err error
	}{
		{Publish{}, 0, ErrInvalidValue},
		{Publish{Topic: "t", Command: CmdAck}, 0, ErrInvalidValue},
		{Publish{Topic: "t\n"}, 0, ErrInvalidValue},
		{Publish{Topic: "t", CommandID: "\n"}, 0, ErrInvalidValue},
		{Publish{Topic: "t", CorrelationID: "\n"}, 0, ErrInvalidValue},
		{Publish{Topic: "t", SowKey: "\n"}, 0, ErrInvalidValue},
		{Publish{Topic: "t", Ack: 255}, 0, ErrInvalidValue},
		{Publish{Topic: "t"}, -1, ErrInvalidValue},
	}
	for i, c := range cases {
		if _, err := PublishLen(&c.h, c.n); !errors.Is(err, c.err) {
			t.Errorf("case %d: err = %v, want %v", i, err, c.err)
		}
	}
	if strconv.IntSize < 64 {
		t.Skip("the 4 GiB limit needs a 64-bit int")
	}
	var maxU32 uint64 = math.MaxUint32 // a variable, so that this compiles where int is 32 bits
	hdr := len(`{"c":"p","t":"t"}`)
	var fe *FrameTooLargeError
	_, err := PublishLen(&Publish{Topic: "t"}, int(maxU32)-hdr+1)
	if !errors.As(err, &fe) || !errors.Is(err, ErrFrameTooLarge) || fe.Max != math.MaxUint32 || fe.Size != maxU32+1 {
		t.Fatalf("err = %v", err)
	}
	// The largest body that fits.
	if n, err := PublishLen(&Publish{Topic: "t"}, int(maxU32)-hdr); err != nil || n != int(maxU32)+4 {
		t.Fatalf("n = %d, err = %v", n, err)
	}
}

func TestDecLen(t *testing.T) {
	check := func(x uint64) {
		if got, want := decLen(x), len(strconv.FormatUint(x, 10)); got != want {
			t.Fatalf("decLen(%d) = %d, want %d", x, got, want)
		}
	}
	check(0)
	check(math.MaxUint64)
	for _, p := range pow10 {
		check(p - 1)
		check(p)
		check(p + 1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		check(r.Uint64() >> r.UintN(64))
	}
}

func TestAckType(t *testing.T) {
	for a := AckType(0); a <= ackAll; a++ {
		s := a.String()
		if got := string(AppendAckType(nil, a)); got != s {
			t.Fatalf("AppendAckType(%d) = %q, String %q", a, got, s)
		}
		back, err := ParseAckType([]byte(s))
		if err != nil || back != a {
			t.Fatalf("ParseAckType(%q) = %v, %v; want %d", s, back, err, a)
		}
	}
	if got := (AckProcessed | AckPersisted).String(); got != "processed,persisted" {
		t.Fatalf("String = %q", got)
	}
	if got := AckNone.String(); got != "none" {
		t.Fatalf("String = %q", got)
	}
	if got := AckType(0x44).String(); got != "AckType(0x44)" {
		t.Fatalf("String = %q", got)
	}
	if !(AckProcessed | AckPersisted).Has(AckPersisted) || AckProcessed.Has(AckPersisted) {
		t.Fatal("Has")
	}
	good := map[string]AckType{
		"":                    AckNone,
		"none":                AckNone,
		"persisted,processed": AckProcessed | AckPersisted,
		"stats,none,received": AckStats | AckReceived,
		"completed,completed": AckCompleted,
	}
	for in, want := range good {
		if got, err := ParseAckType([]byte(in)); err != nil || got != want {
			t.Errorf("ParseAckType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "processed,", ",processed", "processed,,persisted", "Processed", "processed persisted", "sync"} {
		_, err := ParseAckType([]byte(in))
		var ae *AckTypeError
		if !errors.Is(err, ErrUnknownAckType) || !errors.As(err, &ae) {
			t.Errorf("ParseAckType(%q): err = %v", in, err)
		}
	}
}

func TestCommand(t *testing.T) {
	for c := CmdUnknown + 1; c < numCommands; c++ {
		if got := ParseCommand([]byte(c.String())); got != c {
			t.Errorf("ParseCommand(%q) = %v", c.String(), got)
		}
	}
	if ParseCommand([]byte("p")) != CmdPublish || CmdPublish.wire() != "p" || CmdDeltaPublish.wire() != "delta_publish" {
		t.Fatal("publish spellings")
	}
	for _, s := range []string{"", "P", "pub", "unknown", "publish "} {
		if got := ParseCommand([]byte(s)); got != CmdUnknown {
			t.Errorf("ParseCommand(%q) = %v", s, got)
		}
	}
	if got := Command(200).String(); got != "Command(200)" {
		t.Fatalf("String = %q", got)
	}
}

func TestAckSeqNeverLast(t *testing.T) {
	cases := []struct {
		a    Ack
		want string
	}{
		{Ack{Type: AckPersisted, Status: "success", Seq: 43, HasSeq: true}, `{"c":"ack","a":"persisted","s":43,"status":"success"}`},
		{Ack{Type: AckPersisted, Status: "failure", Reason: "duplicate", Seq: 7, HasSeq: true}, `{"c":"ack","a":"persisted","status":"failure","s":7,"reason":"duplicate"}`},
		{Ack{Seq: 0, HasSeq: true}, `{"s":0,"c":"ack"}`},
		{Ack{CommandID: "9", Seq: 1, HasSeq: true}, `{"c":"ack","s":1,"cid":"9"}`},
		{Ack{Type: AckPersisted, Seq: 5, HasSeq: true, Bookmark: "1|5|"}, `{"c":"ack","a":"persisted","s":5,"bm":"1|5|"}`},
		{Ack{Type: AckProcessed, Status: "success", Seq: 5}, `{"c":"ack","a":"processed","status":"success"}`},
		{Ack{Type: AckProcessed, Status: "retry", UserID: "bob", Password: "challenge-1"}, `{"c":"ack","a":"processed","status":"retry","user_id":"bob","pw":"challenge-1"}`},
	}
	for _, c := range cases {
		got, err := AppendAck(nil, &c.a)
		if err != nil {
			t.Fatal(err)
		}
		if string(got[PrefixLen:]) != c.want {
			t.Errorf("AppendAck(%+v)\n got %s\nwant %s", c.a, got[PrefixLen:], c.want)
		}
		if int(binary.BigEndian.Uint32(got)) != len(c.want) {
			t.Errorf("prefix %x", got[:4])
		}
	}
}

func TestDeliveryAndSubscribeEncoding(t *testing.T) {
	d, err := AppendDelivery(nil, &Delivery{Topic: "orders", SubID: "s1", Bookmark: "1|2|", Timestamp: "20240101T000000", Seq: 2, HasSeq: true, CorrelationID: "x", SowKey: "k"}, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	const wantD = `{"c":"p","t":"orders","sub_id":"s1","bm":"1|2|","ts":"20240101T000000","s":2,"x":"x","k":"k"}{}`
	if string(d[4:]) != wantD || int(binary.BigEndian.Uint32(d)) != len(wantD) {
		t.Fatalf("delivery %q", d)
	}
	s, err := AppendSubscribe(nil, &Subscribe{CommandID: "c1", Topic: "orders", Filter: `/id = "1"`, Ack: AckProcessed, SubID: "s1", Options: "oof"})
	if err != nil {
		t.Fatal(err)
	}
	const wantS = `{"c":"subscribe","cid":"c1","t":"orders","filter":"/id = \"1\"","a":"processed","sub_id":"s1","o":"oof"}`
	if string(s[4:]) != wantS || int(binary.BigEndian.Uint32(s)) != len(wantS) {
		t.Fatalf("subscribe %q", s)
	}
	u, err := AppendSubscribe(nil, &Subscribe{Command: CmdUnsubscribe, SubID: "all"})
	if err != nil || string(u[4:]) != `{"c":"unsubscribe","sub_id":"all"}` {
		t.Fatalf("unsubscribe %q %v", u, err)
	}
}

// equalHeaders compares every field of two parsed headers (nil and empty are different).
func equalHeaders(a, b *Header) bool {
	eq := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	return a.Command == b.Command && eq(a.CommandRaw, b.CommandRaw) && eq(a.CommandID, b.CommandID) &&
		eq(a.Topic, b.Topic) && a.Ack == b.Ack && eq(a.AckRaw, b.AckRaw) &&
		a.Seq == b.Seq && a.HasSeq == b.HasSeq && a.Expiration == b.Expiration &&
		a.HasExpiration == b.HasExpiration && eq(a.CorrelationID, b.CorrelationID) &&
		eq(a.SowKey, b.SowKey) && eq(a.Options, b.Options) && eq(a.ClientName, b.ClientName) &&
		eq(a.UserID, b.UserID) && eq(a.Password, b.Password) && eq(a.Version, b.Version) &&
		eq(a.MessageType, b.MessageType) && eq(a.Bookmark, b.Bookmark) && eq(a.Status, b.Status) &&
		eq(a.Reason, b.Reason) && eq(a.Timestamp, b.Timestamp) && eq(a.SubID, b.SubID) &&
		eq(a.SubIDs, b.SubIDs) && eq(a.Filter, b.Filter) && a.Length == b.Length && a.HasLength == b.HasLength
}

// TestAppendUint: AppendUint (appendUint) appends exactly what strconv does,
// after existing bytes, whether dst has room or must grow.
func TestAppendUint(t *testing.T) {
	check := func(x uint64) {
		t.Helper()
		want := strconv.AppendUint([]byte("ab"), x, 10)
		if got := AppendUint([]byte("ab"), x); !bytes.Equal(got, want) {
			t.Fatalf("AppendUint(%d) = %q, want %q", x, got, want)
		}
		if got := AppendUint(append(make([]byte, 0, 32), "ab"...), x); !bytes.Equal(got, want) {
			t.Fatalf("AppendUint(%d) with room = %q, want %q", x, got, want)
		}
	}
	for x := range uint64(20000) {
		check(x)
	}
	check(math.MaxUint64)
	for _, p := range pow10 {
		check(p - 1)
		check(p)
		check(p + 1)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		check(r.Uint64() >> r.UintN(64))
	}
}

// Encoders write only to dst[len(dst):len(result)] and, given exactly enough capacity (as a
// ring claim sized by PublishLen would), write in place.
func TestEncodersStayInTheirFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("p"), 3)
	encoders := []struct {
		name string
		enc  func(dst []byte) ([]byte, error)
	}{
		{"publish", func(dst []byte) ([]byte, error) {
			return AppendPublish(dst, &Publish{Topic: `o"rders`, Ack: AckPersisted, Seq: 1795626088478000001, Expiration: 12345678}, payload)
		}},
		{"publish 16 digits", func(dst []byte) ([]byte, error) {
			return AppendPublish(dst, &Publish{Topic: "t", Seq: 1234567890123456}, nil)
		}},
		{"publish string", func(dst []byte) ([]byte, error) {
			return AppendPublishString(dst, &Publish{Topic: "t", Seq: 12345678}, "")
		}},
		{"logon", func(dst []byte) ([]byte, error) { return AppendLogon(dst, &exampleLogon) }},
		{"ack", func(dst []byte) ([]byte, error) { return AppendAck(dst, &exampleLogonAck) }},
		{"heartbeat", func(dst []byte) ([]byte, error) { return AppendHeartbeatStart(dst, 4294967295), nil }},
		{"delivery", func(dst []byte) ([]byte, error) {
			return AppendDelivery(dst, &Delivery{Topic: "t", Seq: 1<<64 - 1, HasSeq: true}, payload)
		}},
	}
	for _, e := range encoders {
		t.Run(e.name, func(t *testing.T) {
			want, err := e.enc(nil)
			if err != nil {
				t.Fatal(err)
			}
			arena := bytes.Repeat([]byte{0xAA}, 3+len(want)+64)
			dst := arena[3 : 3 : 3+len(want)] // exactly enough capacity
			got, err := e.enc(dst)
			if err != nil {
				t.Fatal(err)
			}
			mustEqualBytes(t, got, want)
			if &got[0] != &arena[3] {
				t.Fatal("reallocated although the capacity was exact")
			}
			for i, c := range arena {
				if (i < 3 || i >= 3+len(want)) && c != 0xAA {
					t.Fatalf("byte %d outside the frame overwritten", i)
				}
			}
			// With spare capacity, nothing past the frame changes either.
			arena = bytes.Repeat([]byte{0xAA}, 3+len(want)+64)
			got, _ = e.enc(arena[3:3])
			for i, c := range arena[3+len(got):] {
				if c != 0xAA {
					t.Fatalf("byte %d past the frame overwritten", 3+len(got)+i)
				}
			}
		})
	}
}
