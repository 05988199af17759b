package ampstest

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// The two header shapes the discard path recognises without the full parser.
const (
	fastP       = `{"c":"p","t":"`       // 14 bytes
	fastPublish = `{"c":"publish","t":"` // 20 bytes
)

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
	var i int
	switch {
	case len(b) >= len(fastP)+2 &&
		binary.LittleEndian.Uint64(b) == fastP0 && binary.LittleEndian.Uint64(b[6:]) == fastP1:
		i = len(fastP)
	case len(b) >= len(fastPublish)+2 && string(b[:len(fastPublish)]) == fastPublish:
		i = len(fastPublish)
	default:
		return nil, 0
	}
	start := i
	i += specialIndex(b[i:])
	if i == start || i+1 >= len(b) || b[i] != '"' || b[i+1] != '}' {
		return nil, 0
	}
	return b[start:i], i + 2
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
