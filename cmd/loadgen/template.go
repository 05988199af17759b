package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Payload templates.
//
// A template is the payload with fields in double braces, filled for every
// message by render into a buffer the producer reuses (no allocation per
// message):
//
//	{{seq}}       the producer's sequence number, from 1
//	{{ts}}        the message's time in Unix nanoseconds: when it was due at a
//	              fixed --rate, when its send began otherwise
//	{{symbol}}    a symbol drawn at random from --symbols
//	{{producer}}  the producer's number, from 0, unique across connections
//	{{stamp}}     the verification stamp: a 53-character token of letters and
//	              digits carrying the run, producer, sequence and time, which
//	              --verify reads back from each delivery
//
// Everything else is sent verbatim, except one trailing newline (editors add
// it). Without --template the payload is generated at --size bytes. With
// --verify it is a JSON object {"lg":"<stamp>","pad":"xxx…"} from 71 bytes,
// the bare stamp padded with x from 53 (below that --verify is refused).
// Without --verify nothing in it changes from message to message, so it is
// {"pad":"xxx…"} from 10 bytes, x alone below, rendered once for the run:
// a producer renders per message only a template with per-message fields
// (perMessage).

// fieldKind is one kind of template segment.
type fieldKind uint8

const (
	segLiteral fieldKind = iota
	segSeq
	segTS
	segSymbol
	segProducer
	segStamp
)

var fieldNames = map[string]fieldKind{
	"seq":      segSeq,
	"ts":       segTS,
	"symbol":   segSymbol,
	"producer": segProducer,
	"stamp":    segStamp,
}

type segment struct {
	kind fieldKind
	lit  []byte // segLiteral only
}

// template is a parsed payload template. It is read-only after parsing and
// shared by every producer.
type template struct {
	segs     []segment
	hasStamp bool
	source   string // "--size 128" or the file name, for the report
}

// fields are the values of one message. The producer owns it and updates it
// in place.
type fields struct {
	seq      uint64
	ts       int64
	producer int
	symbol   string
	run      uint32 // the run's id, in every stamp
}

// The stamp: "LG" + run (8 hex digits) + kind ('P' for a message, 'E' for an
// end marker) + producer (8 hex digits; the connection for a marker) + "S" +
// sequence (16 hex digits; 0 for a marker) + "T" + Unix nanoseconds (16 hex
// digits). Fixed-width hexadecimal, eight digits at a time with a few shifts
// (hex8), so rendering it costs the measured loop next to nothing.
const (
	stampLen     = 2 + 8 + 1 + 8 + 1 + 16 + 1 + 16
	stampPrefix  = 2 + 8 // "LG" + run: what the verifier searches for
	stampKindOff = stampPrefix
	stampProdOff = stampKindOff + 1
	stampSeqOff  = stampProdOff + 8 + 1
	stampTSOff   = stampSeqOff + 16 + 1
)

// jsonOverhead is what the generated JSON payload adds around the stamp.
const jsonOverhead = len(`{"lg":"`) + len(`","pad":"`) + len(`"}`)

// parseTemplate parses a template file's contents.
func parseTemplate(src []byte) (*template, error) {
	src = bytes.TrimSuffix(src, []byte("\n"))
	src = bytes.TrimSuffix(src, []byte("\r"))
	t := &template{}
	line := 1
	for len(src) > 0 {
		i := bytes.Index(src, []byte("{{"))
		if i < 0 {
			t.segs = append(t.segs, segment{kind: segLiteral, lit: src})
			break
		}
		if i > 0 {
			t.segs = append(t.segs, segment{kind: segLiteral, lit: src[:i]})
			line += bytes.Count(src[:i], []byte("\n"))
		}
		rest := src[i+2:]
		j := bytes.Index(rest, []byte("}}"))
		if j < 0 {
			return nil, fmt.Errorf("line %d: {{ without }}", line)
		}
		name := strings.TrimSpace(string(rest[:j]))
		k, ok := fieldNames[name]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown field {{%s}} (want seq, ts, symbol, producer or stamp)", line, name)
		}
		if k == segStamp {
			t.hasStamp = true
		}
		t.segs = append(t.segs, segment{kind: k})
		src = rest[j+2:]
	}
	if len(t.segs) == 0 {
		return nil, fmt.Errorf("empty template")
	}
	return t, nil
}

// plainTemplate returns the generated payload of exactly size bytes
// without a stamp: literal bytes only, rendered once.
func plainTemplate(size int) *template {
	t := &template{source: "generated, " + strconv.Itoa(size) + " B"}
	if size >= len(`{"pad":""}`) {
		pad := bytes.Repeat([]byte("x"), size-len(`{"pad":""}`))
		t.segs = []segment{{kind: segLiteral, lit: append(append([]byte(`{"pad":"`), pad...), `"}`...)}}
	} else {
		t.segs = []segment{{kind: segLiteral, lit: bytes.Repeat([]byte("x"), size)}}
	}
	return t
}

// perMessage reports whether the template has a field that changes from
// message to message; without one, a producer renders it once.
func (t *template) perMessage() bool {
	for _, s := range t.segs {
		if s.kind != segLiteral {
			return true
		}
	}
	return false
}

// sizedTemplate returns the generated payload of exactly size bytes, with
// the verification stamp (--verify).
func sizedTemplate(size int) *template {
	t := &template{source: "generated, " + strconv.Itoa(size) + " B"}
	switch {
	case size >= stampLen+jsonOverhead:
		pad := bytes.Repeat([]byte("x"), size-stampLen-jsonOverhead)
		t.segs = []segment{
			{kind: segLiteral, lit: []byte(`{"lg":"`)},
			{kind: segStamp},
			{kind: segLiteral, lit: append(append([]byte(`","pad":"`), pad...), `"}`...)},
		}
		t.hasStamp = true
	case size >= stampLen:
		t.segs = []segment{{kind: segStamp}}
		if size > stampLen {
			t.segs = append(t.segs, segment{kind: segLiteral, lit: bytes.Repeat([]byte("x"), size-stampLen)})
		}
		t.hasStamp = true
	default:
		t.segs = []segment{{kind: segLiteral, lit: bytes.Repeat([]byte("x"), size)}}
	}
	return t
}

// maxLen bounds the rendered length, for sizing buffers and the limit check.
func (t *template) maxLen(symbols []string) int {
	longest := 0
	for _, s := range symbols {
		longest = max(longest, len(s))
	}
	n := 0
	for _, s := range t.segs {
		switch s.kind {
		case segLiteral:
			n += len(s.lit)
		case segSeq, segTS:
			n += 20
		case segSymbol:
			n += longest
		case segProducer:
			n += 10
		case segStamp:
			n += stampLen
		}
	}
	return n
}

// minLen bounds the rendered length from below: every number one digit,
// the shortest symbol. It sizes the publish-to-wire sampler (wire.go).
func (t *template) minLen(symbols []string) int {
	shortest := 0
	for i, s := range symbols {
		if i == 0 || len(s) < shortest {
			shortest = len(s)
		}
	}
	n := 0
	for _, s := range t.segs {
		switch s.kind {
		case segLiteral:
			n += len(s.lit)
		case segSeq, segTS, segProducer:
			n++
		case segSymbol:
			n += shortest
		case segStamp:
			n += stampLen
		}
	}
	return n
}

// render appends the payload for f to dst and returns it. It does not
// allocate when dst has room for maxLen bytes.
func (t *template) render(dst []byte, f *fields) []byte {
	for i := range t.segs {
		s := &t.segs[i]
		switch s.kind {
		case segLiteral:
			dst = append(dst, s.lit...)
		case segSeq:
			dst = strconv.AppendUint(dst, f.seq, 10)
		case segTS:
			dst = strconv.AppendInt(dst, f.ts, 10)
		case segSymbol:
			dst = append(dst, f.symbol...)
		case segProducer:
			dst = strconv.AppendInt(dst, int64(f.producer), 10)
		case segStamp:
			dst = appendStamp(dst, f.run, 'P', uint64(f.producer), f.seq, f.ts)
		}
	}
	return dst
}

// appendStamp appends a stamp (see stampLen).
func appendStamp(dst []byte, run uint32, kind byte, who, seq uint64, ts int64) []byte {
	dst = append(dst, 'L', 'G')
	dst = appendHex8(dst, run)
	dst = append(dst, kind)
	dst = appendHex8(dst, uint32(who))
	dst = append(dst, 'S')
	dst = appendHex8(dst, uint32(seq>>32))
	dst = appendHex8(dst, uint32(seq))
	dst = append(dst, 'T')
	dst = appendHex8(dst, uint32(uint64(ts)>>32))
	return appendHex8(dst, uint32(ts))
}

// appendHex8 appends x as 8 lowercase hex digits.
func appendHex8(dst []byte, x uint32) []byte {
	n := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint64(dst[n:], hex8(x))
	return dst
}

// hex8 returns the 8 ASCII hex digits of x packed big-endian in a uint64:
// spread each nibble into its own byte, then add '0', and 'a'-'0'-10 more
// where the nibble is 10 or above (no byte carries into the next).
func hex8(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
	letters := ((v + 0x0606060606060606) >> 4) & 0x0101010101010101
	return v + 0x3030303030303030 + letters*('a'-'0'-10)
}

// runPrefix returns "LG" + the run's hex id: the bytes that open every stamp
// of this run.
func runPrefix(run uint32) []byte {
	return appendStamp(nil, run, 'P', 0, 0, 0)[:stampPrefix]
}

// stamp is a decoded stamp.
type stamp struct {
	marker bool   // an end marker ('E')
	who    uint64 // producer, or connection for a marker
	seq    uint64
	ts     int64
}

// parseStamp decodes the stamp at the start of b (which begins with the
// run's prefix).
func parseStamp(b []byte) (stamp, bool) {
	if len(b) < stampLen || b[stampSeqOff-1] != 'S' || b[stampTSOff-1] != 'T' {
		return stamp{}, false
	}
	var st stamp
	switch b[stampKindOff] {
	case 'P':
	case 'E':
		st.marker = true
	default:
		return stamp{}, false
	}
	var ok1, ok2, ok3 bool
	st.who, ok1 = unhex(b[stampProdOff : stampProdOff+8])
	st.seq, ok2 = unhex(b[stampSeqOff : stampSeqOff+16])
	var ts uint64
	ts, ok3 = unhex(b[stampTSOff : stampTSOff+16])
	st.ts = int64(ts)
	return st, ok1 && ok2 && ok3
}

// unhex decodes lowercase hex digits.
func unhex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
