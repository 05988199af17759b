package ampstest

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// The two header openings the discard path recognises without the full parser.
const (
	fastP       = `{"c":"p","t":"`       // 14 bytes
	fastPublish = `{"c":"publish","t":"` // 20 bytes
)

// storedMid follows the topic of a stored publish, as a client with a publish store writes it
// (fastpub's publish: `,"a":"persisted"`, then `,"s":` and the digits and '}'); it starts with
// the topic's closing quote.
const storedMid = `","a":"persisted","s":`

var (
	fastP0 = binary.LittleEndian.Uint64([]byte(fastP[0:8]))
	fastP1 = binary.LittleEndian.Uint64([]byte(fastP[6:14]))
)

// topicByte marks the bytes a fast-path topic may contain: everything frame.Header.Parse
// copies verbatim inside a string (not a control character, not '"', not '\').
var topicByte = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != 0x7f && c != '"' && c != '\\'
	}
	return t
}()

// scanPlainPublish recognises a header that is exactly {"c":"p","t":"<topic>"} or
// {"c":"publish","t":"<topic>"} with a non-empty topic free of escapes and control
// characters. It returns the topic (a sub-slice of b) and the header length, or hdrLen 0 when
// b has any other shape; the caller then uses the full parser. Whatever it accepts,
// frame.Header.Parse accepts too, with Command CmdPublish, the same Topic, no other field, and
// payload b[hdrLen:] (FuzzScanPlainPublish checks this).
func scanPlainPublish(b []byte) (topic []byte, hdrLen int) {
	start, i := scanTopic(b)
	if i == 0 || i+1 >= len(b) || b[i+1] != '}' {
		return nil, 0
	}
	return b[start:i], i + 2
}

// scanTopic recognises the opening {"c":"p","t":" or {"c":"publish","t":" and a non-empty
// topic free of escapes and control characters after it: it returns the topic's bounds, end
// being the index of its closing quote, or end 0 when b does not start that way.
func scanTopic(b []byte) (start, end int) {
	switch {
	case len(b) >= len(fastP)+2 &&
		binary.LittleEndian.Uint64(b) == fastP0 && binary.LittleEndian.Uint64(b[6:]) == fastP1:
		start = len(fastP)
	case len(b) >= len(fastPublish)+2 && string(b[:len(fastPublish)]) == fastPublish:
		start = len(fastPublish)
	default:
		return 0, 0
	}
	end = start + specialIndex(b[start:])
	if end == start || end >= len(b) || b[end] != '"' {
		return 0, 0
	}
	return start, end
}

// scanStoredPublish recognises a stored publish's header: exactly
// {"c":"p","t":"<topic>","a":"persisted","s":<seq>} or the same with "c":"publish", the
// topic as scanPlainPublish wants it and seq as scanSeq wants it. It returns the topic (a
// sub-slice of b), seqOff (the length of the header's prefix up to and including "s":, the
// part the connection caches), the sequence and the header length, or hdrLen 0 when b has
// any other shape. Whatever it accepts, frame.Header.Parse accepts too, with Command
// CmdPublish, the same Topic, Ack AckPersisted (AckRaw "persisted"), Seq seq (HasSeq), no
// other field, and payload b[hdrLen:] (FuzzScanStoredPublish checks this).
func scanStoredPublish(b []byte) (topic []byte, seqOff int, seq uint64, hdrLen int) {
	start, i := scanTopic(b)
	if i == 0 || len(b)-i < len(storedMid) || string(b[i:i+len(storedMid)]) != storedMid {
		return nil, 0, 0, 0
	}
	seqOff = i + len(storedMid)
	seq, n := scanSeq(b[seqOff:])
	if n == 0 {
		return nil, 0, 0, 0
	}
	return b[start:i], seqOff, seq, seqOff + n
}

// scanSeq parses the bare sequence number that ends a stored publish's header: 1 to 20
// decimal digits, no leading zero unless the number is 0, at most 1<<64-1, then the header's
// closing '}'. It returns the number and the bytes it used ('}' included), or n 0 for
// anything else (which the strict parser may still accept: "007", a quoted number, a space,
// another key after "s"; the caller then takes the strict path).
func scanSeq(b []byte) (seq uint64, n int) {
	i := 0
	// Eight digits at a time while eight bytes are there (a client's
	// epoch-based sequence has 19), at most 16 this way: 10^16-1 cannot
	// overflow, and the loop below adds at most 3 more without overflow.
	for ; i < 16 && i+8 <= len(b); i += 8 {
		v, ok := digits8(binary.LittleEndian.Uint64(b[i:]))
		if !ok {
			break
		}
		seq = seq*1e8 + v
	}
	// Up to 19 digits cannot overflow (10^19-1 < 1<<64).
	for ; i < len(b) && i < 19; i++ {
		d := uint64(b[i]) - '0'
		if d > 9 {
			break
		}
		seq = seq*10 + d
	}
	if i == 19 && i < len(b) {
		if d := uint64(b[i]) - '0'; d <= 9 {
			hi, lo := bits.Mul64(seq, 10)
			lo, carry := bits.Add64(lo, d, 0)
			if hi != 0 || carry != 0 {
				return 0, 0 // above 1<<64-1
			}
			seq = lo
			i++
		}
	}
	if i == 0 || i >= len(b) || b[i] != '}' || (b[0] == '0' && i > 1) {
		return 0, 0 // no digit, a 21st digit or another byte, no '}', a leading zero
	}
	return seq, i + 1
}

// The stored-header cache (conn.curSHdr) holds a stored publish's header up to "s": and,
// when its sequence has 4 to 19 digits, every digit but the last three: a publisher's
// consecutive sequence numbers share that head for a thousand frames at a time, so each of
// those frames costs one comparison and three digits (frame.SeqTail) instead of scanSeq.

// seqCache returns how much of a stored publish's header the cache keeps and the value of
// the digits it ends with: header is the header, seqOff where its digits start (after
// "s":), seq their value. With 4 to 19 digits the cache ends 3 digits (and the '}') before
// the header's end, and head is seq/1000 (at least 1: no leading zero); otherwise it ends
// at "s": and head is 0, and the digits are left to scanSeq.
func seqCache(header []byte, seqOff int, seq uint64) (cacheLen int, head uint64) {
	if d := len(header) - 1 - seqOff; d >= 4 && d <= 19 {
		return len(header) - 4, seq / 1000
	}
	return seqOff, 0
}

// digits8 returns the value of the eight decimal digits x holds (loaded little-endian, so
// the first digit is the low byte), or false if any byte of x is not '0'…'9'.
func digits8(x uint64) (uint64, bool) {
	// A digit is 0x30…0x39: its high nibble is 3, and adding 6 leaves it 3 (no carry out
	// of the low nibble, which a carry never crosses into the next byte).
	if x&0xF0F0F0F0F0F0F0F0 != 0x3030303030303030 ||
		(x+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 != 0x3030303030303030 {
		return 0, false
	}
	x &= 0x0F0F0F0F0F0F0F0F
	x = (x*10 + x>>8) & 0x00FF00FF00FF00FF      // pairs: d0d1, d2d3, … per 16-bit lane
	x = (x*100 + x>>16) & 0x0000FFFF0000FFFF    // quads per 32-bit lane
	return (x*10000 + x>>32) & 0xFFFFFFFF, true // all eight
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// specialIndex returns the index of the first byte of b that a header string cannot hold
// verbatim ('"', '\', a control character < 0x20, or 0x7f), or len(b) if there is none. It
// tests 8 bytes per step: each term below flags, exactly at the lowest flagged byte, a byte
// that is zero after the XOR (equal to the constant) or below 0x20; borrows can only raise
// false flags above a true one, so the lowest flag is always exact.
func specialIndex(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ ('"' * swarOnes)
		bs := x ^ ('\\' * swarOnes)
		del := x ^ (0x7f * swarOnes)
		m := (x-0x20*swarOnes) & ^x |
			(q-swarOnes) & ^q |
			(bs-swarOnes) & ^bs |
			(del-swarOnes) & ^del
		if m &= swarHighs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if !topicByte[b[i]] {
			return i
		}
	}
	return i
}

// b2s views b as a string without copying; the string must not outlive b's contents. Used to
// pass header values to frame encoders, which copy them immediately.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
