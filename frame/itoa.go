package frame

import (
	"encoding/binary"
	"strconv"
)

// digitPairs holds "00".."99" for two-digits-at-a-time formatting.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// appendUint appends the decimal form of x, like strconv.AppendUint(dst, x, 10) but about
// twice as fast for the 19-digit sequence numbers publishers use (sequence numbers start at
// epoch-ms × 10⁶): numbers of 8 digits or more are written as 8-digit chunks, each converted
// with SWAR arithmetic (enc8) and stored with one 8-byte write. Like append, it writes only to
// dst[len(dst):len(result)].
func appendUint(dst []byte, x uint64) []byte {
	if x < 100 {
		if x < 10 {
			return append(dst, byte('0'+x))
		}
		return append(dst, digitPairs[2*x], digitPairs[2*x+1])
	}
	n := decLen(x)
	l := len(dst)
	if cap(dst)-l < n || n < 8 {
		return strconv.AppendUint(dst, x, 10)
	}
	putDigits(dst[l:l+n], x)
	return dst[:l+n]
}

// AppendUint appends the decimal form of x to dst, exactly as
// strconv.AppendUint(dst, x, 10) does, in about half its time for the
// 19-digit sequence numbers of a publish store (8-digit SWAR chunks). It
// allocates only when dst must grow.
func AppendUint(dst []byte, x uint64) []byte { return appendUint(dst, x) }

// putDigits writes x, of 8 or more digits, into b, exactly as long as its decimal form.
func putDigits(b []byte, x uint64) {
	n := len(b)
	switch {
	case n == 8:
		binary.LittleEndian.PutUint64(b, enc8(uint32(x)))
	case n <= 16:
		// The leading chunk's 8-byte store reaches past its digits; the next chunk
		// overwrites that tail, and l+8 <= l+n keeps it inside b.
		hi := x / 1e8
		binary.LittleEndian.PutUint64(b, enc8(uint32(hi))>>(8*(16-n)))
		binary.LittleEndian.PutUint64(b[n-8:], enc8(uint32(x-hi*1e8)))
	default:
		hi := x / 1e8
		top := hi / 1e8
		binary.LittleEndian.PutUint64(b, enc8(uint32(top))>>(8*(24-n)))
		binary.LittleEndian.PutUint64(b[n-16:], enc8(uint32(hi-top*1e8)))
		binary.LittleEndian.PutUint64(b[n-8:], enc8(uint32(x-hi*1e8)))
	}
}

// enc8 returns the eight ASCII digits of v (< 1e8, leading zeros included) packed so that a
// little-endian store writes them in reading order. Each step splits every lane in two with a
// multiply-shift division that is exact for the lane's range:
// 32-bit lanes (v/10⁴, v%10⁴) → 16-bit lanes (/100, %100) → 8-bit lanes (/10, %10).
func enc8(v uint32) uint64 {
	x := uint64(v/10000) | uint64(v%10000)<<32
	q := (x * 10486 >> 20) & 0x0000007F0000007F // y/100 for y < 10⁴ per 32-bit lane
	x = q | (x-q*100)<<16
	q = (x * 103 >> 10) & 0x000F000F000F000F // z/10 for z < 100 per 16-bit lane
	x = q | (x-q*10)<<8
	return x + 0x3030303030303030
}

// PutUint writes x in decimal into b, which must be exactly as long as x's
// decimal form (ring.DecimalLen gives it), and panics otherwise. It does not
// allocate. A publisher writing consecutive sequence numbers uses SeqDigits,
// which falls back to PutUint when its cache does not hold x.
func PutUint(b []byte, x uint64) {
	if len(b) != decLen(x) {
		panic("frame: PutUint: the buffer is not the number's length")
	}
	if len(b) < 8 {
		appendUint(b[:0:len(b)], x)
		return
	}
	putDigits(b, x)
}
