package ampstest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

const fuzzMaxFrame = 1 << 16

// fuzzSeeds are complete inbound streams: well-formed sessions and classic garbage.
func fuzzSeeds(t testing.TB) [][]byte {
	logon := logonFrame(t, "1", "fuzz", "u", "p")
	pub := pubFrame(t, frame.Publish{Topic: "orders"}, `{"id":1}`)
	pubAck := pubFrame(t, frame.Publish{Topic: "orders", CommandID: "2",
		Ack: frame.AckReceived | frame.AckProcessed | frame.AckPersisted, Seq: 43}, `{"id":2}`)
	join := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	return [][]byte{
		join(logon, pub, pubAck, flushFrame(t, "3", frame.AckPersisted)),
		join(logon, stored("orders", "44", "a"), stored("orders", "45", "b"), stored("orders", "45", "c"),
			stored("orders", "046", "d"), stored("orders", "47", "e"), flushFrame(t, "3", frame.AckPersisted)),
		join(logon, subFrame(t, frame.CmdSubscribe, "4", "orders", "s1"), pub,
			subFrame(t, frame.CmdUnsubscribe, "5", "", "s1")),
		join(logon, frame.AppendHeartbeatStart(nil, 1), frame.AppendHeartbeatBeat(nil)),
		join(logon, rawFrame(`{"c":"p", "t":"orders"}`, "x")),
		join(logon, rawFrame(`{"c":"sow","cid":"9","a":"processed"}`, "")),
		join(logon, logon),
		pub,
		rawFrame(`{}`, ""),
		rawFrame(`{"c":"logon","client_name":"x`, ""),
		binary.BigEndian.AppendUint32(nil, 0xffffffff),
		logon[:len(logon)-5],
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		nil,
	}
}

// mustClose reports whether the server must close the connection because of the first frame
// of data alone (oversize, malformed, not a logon, a logon it refuses).
func mustClose(data []byte) bool {
	if len(data) < frame.PrefixLen {
		return false
	}
	n := binary.BigEndian.Uint32(data)
	if n > fuzzMaxFrame {
		return true
	}
	if len(data) < frame.PrefixLen+int(n) {
		return false
	}
	body := append([]byte(nil), data[frame.PrefixLen:frame.PrefixLen+int(n)]...)
	var h frame.Header
	if _, err := h.Parse(body); err != nil || h.CommandRaw == nil {
		return true
	}
	if _, err := frame.ParseAckType(h.AckRaw); err != nil {
		return true
	}
	return h.Command != frame.CmdLogon || len(h.ClientName) == 0
}

// FuzzServerConn feeds arbitrary bytes as one connection's inbound stream. The server must
// never panic or hang, must close the connection when the first frame is garbage, and Close
// must always return promptly.
func FuzzServerConn(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewServer(Config{MaxFrame: fuzzMaxFrame, Persisted: Conflated{Interval: time.Millisecond}})
		a, b := net.Pipe()
		s.ServeConn(a)
		drained := make(chan struct{})
		go func() {
			io.Copy(io.Discard, b)
			close(drained)
		}()
		wrote := make(chan struct{})
		go func() {
			b.Write(data)
			close(wrote)
		}()
		if mustClose(data) {
			select {
			case <-drained:
			case <-time.After(waitTimeout):
				t.Fatal("server did not close the connection after a garbage first frame")
			}
		} else {
			select {
			case <-wrote:
			case <-drained:
			case <-time.After(waitTimeout):
				t.Fatal("server stopped reading")
			}
		}
		b.Close()
		<-wrote
		<-drained
		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(waitTimeout):
			t.Fatal("Close hung")
		}
	})
}

// FuzzScanPlainPublish checks the discard path's scanner against the strict parser: whatever
// the scanner accepts, Parse accepts with the same meaning and no other field.
func FuzzScanPlainPublish(f *testing.F) {
	for _, s := range []string{
		`{"c":"p","t":"orders"}{"id":1}`, `{"c":"publish","t":"o"}`, `{"c":"p","t":"a\"b"}`,
		`{"c":"p","t":"ö"}`, `{"c":"p","t":"x" }`, "{\"c\":\"p\",\"t\":\"\x7f\"}", `{"c":"p","t":""}`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range storedSeeds {
		f.Add([]byte(s)) // the plain scanner must refuse every one
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		topic, n := scanPlainPublish(body)
		var h frame.Header
		payload, err := h.Parse(append([]byte(nil), body...))
		if n == 0 {
			// Not recognised: fine whatever the parser says, unless the body really has the
			// plain shape (then the discard path would be missed).
			for _, pre := range []string{fastP, fastPublish} {
				rest, ok := bytes.CutPrefix(body, []byte(pre))
				i := bytes.IndexByte(rest, '"')
				if ok && i > 0 && i+1 < len(rest) && rest[i+1] == '}' &&
					!bytes.ContainsFunc(rest[:i], func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
					t.Fatalf("scanner missed the plain publish %q", body)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("scanner accepted %q, parser rejects it: %v", body, err)
		}
		want := frame.Header{Command: frame.CmdPublish, CommandRaw: h.CommandRaw, Topic: h.Topic}
		if !reflect.DeepEqual(h, want) || string(h.Topic) != string(topic) ||
			len(payload) != len(body)-n || !bytes.Equal(payload, body[n:]) {
			t.Fatalf("scanner (%q, %d) and parser (%+v, payload %q) disagree on %q", topic, n, h, payload, body)
		}
	})
}

// storedSeeds are stored-publish headers, well formed or nearly: the seeds of
// FuzzScanStoredPublish, and of FuzzScanPlainPublish, whose scanner must refuse them all.
var storedSeeds = []string{
	`{"c":"p","t":"orders","a":"persisted","s":1764680000000000123}{"id":1}`,
	`{"c":"publish","t":"o","a":"persisted","s":1}`,
	`{"c":"p","t":"o","a":"persisted","s":0}x`,
	`{"c":"p","t":"o","a":"persisted","s":007}`,
	`{"c":"p","t":"o","a":"persisted","s":18446744073709551615}`,
	`{"c":"p","t":"o","a":"persisted","s":18446744073709551616}`,
	`{"c":"p","t":"o","a":"persisted","s":99999999999999999999}`,
	`{"c":"p","t":"o","a":"persisted","s":100000000000000000000}`,
	`{"c":"p","t":"o","a":"persisted","s":12`,
	`{"c":"p","t":"o","a":"persisted","s":12,"x":"y"}`,
	`{"c":"p","t":"o","a":"persisted","s":"12"}`,
	`{"c":"p","t":"o","a":"persisted","s":12 }`,
	`{"c":"p","t":"o","a":"persisted","s":}`,
	`{"c":"p","t":"a\"b","a":"persisted","s":3}`,
	`{"c":"p","t":"","a":"persisted","s":3}`,
	`{"c":"p","t":"o","a":"processed,persisted","s":3}`,
}

// canonicalSeq is what scanSeq must accept: a canonical decimal and the header's end.
var canonicalSeq = regexp.MustCompile(`^(0|[1-9][0-9]{0,19})}`)

// FuzzScanStoredPublish checks the stored-publish scanner against the strict parser, as
// FuzzScanPlainPublish does for plain publishes: whatever the scanner accepts, Parse accepts
// with the same topic and sequence, a persisted ack and no other field; and the scanner
// accepts every header of that exact shape with a canonical sequence that fits 64 bits.
func FuzzScanStoredPublish(f *testing.F) {
	for _, s := range storedSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		topic, seqOff, seq, n := scanStoredPublish(body)
		var h frame.Header
		payload, err := h.Parse(append([]byte(nil), body...))
		if n == 0 {
			for _, pre := range []string{fastP, fastPublish} {
				rest, ok := bytes.CutPrefix(body, []byte(pre))
				i := bytes.IndexByte(rest, '"')
				if !ok || i <= 0 || bytes.ContainsFunc(rest[:i], func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
					continue
				}
				digits, ok := bytes.CutPrefix(rest[i:], []byte(storedMid))
				if !ok || !canonicalSeq.Match(digits) {
					continue
				}
				if _, err := strconv.ParseUint(string(digits[:bytes.IndexByte(digits, '}')]), 10, 64); err == nil {
					t.Fatalf("scanner missed the stored publish %q", body)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("scanner accepted %q, parser rejects it: %v", body, err)
		}
		want := frame.Header{Command: frame.CmdPublish, CommandRaw: h.CommandRaw, Topic: h.Topic,
			Ack: frame.AckPersisted, AckRaw: h.AckRaw, Seq: seq, HasSeq: true}
		if !reflect.DeepEqual(h, want) || string(h.AckRaw) != "persisted" || string(h.Topic) != string(topic) ||
			seqOff < len(storedMid) || string(body[seqOff-len(storedMid):seqOff]) != storedMid ||
			len(payload) != len(body)-n || !bytes.Equal(payload, body[n:]) {
			t.Fatalf("scanner (%q, %d, %d, %d) and parser (%+v, payload %q) disagree on %q", topic, seqOff, seq, n, h, payload, body)
		}
		// The cached prefix followed by the same digits is recognised by scanSeq alone.
		if s2, n2 := scanSeq(body[seqOff:]); s2 != seq || seqOff+n2 != n {
			t.Fatalf("scanSeq(%q) = %d, %d; the scanner said %d, %d", body[seqOff:], s2, n2, seq, n-seqOff)
		}
		// What the stored-header cache keeps, and the rest of the digits after it.
		m, head := seqCache(body[:n], seqOff, seq)
		digits := string(body[seqOff : n-1])
		switch {
		case len(digits) >= 4 && len(digits) <= 19:
			if m != n-4 || head == 0 || strconv.FormatUint(head, 10) != digits[:len(digits)-3] {
				t.Fatalf("seqCache(%q) = %d, %d: want the header up to the last three digits and their value", body[:n], m, head)
			}
			if s2, n2 := frame.SeqTail(head, body[m:]); s2 != seq || m+n2 != n {
				t.Fatalf("frame.SeqTail(%d, %q) = %d, %d; the scanner said %d, %d", head, body[m:], s2, n2, seq, n-m)
			}
		case m != seqOff || head != 0:
			t.Fatalf("seqCache(%q) = %d, %d: want %d, 0 for %d digits", body[:n], m, head, seqOff, len(digits))
		}
	})
}

// FuzzScanSeq checks scanSeq against strconv: it accepts exactly a canonical decimal that fits
// 64 bits followed by '}', with strconv's value.
func FuzzScanSeq(f *testing.F) {
	for _, s := range []string{"0}", "1}", "007}", "18446744073709551615}", "18446744073709551616}",
		"99999999999999999999}", "100000000000000000000}", "12", "12 }", "}", "+1}", "1234567890123456789}x",
		"12345678}", "12345678x}", "1234567812345678}", "12345678/2345678}", "1234567812345:78}",
		"0000000000000001}", "1764680000000000123}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, n := scanSeq(b)
		want, wantN := uint64(0), 0
		if canonicalSeq.Match(b) {
			k := bytes.IndexByte(b, '}')
			if v, err := strconv.ParseUint(string(b[:k]), 10, 64); err == nil {
				want, wantN = v, k+1
			}
		}
		if seq != want || n != wantN {
			t.Fatalf("scanSeq(%q) = %d, %d; want %d, %d", b, seq, n, want, wantN)
		}
	})
}
