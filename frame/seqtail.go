package frame

// SeqTail parses the end of a stored publish's header after a cached head
// of digits: exactly three decimal digits and the header's closing '}'. It
// returns head×1000 plus their value and the bytes it used (4), or n 0 for
// anything else. A reader that has validated one header of a publisher's
// stream, {"c":"p",…,"s":<digits>}, can keep it up to all but the last
// three digits, with head the value of the digits it kept: consecutive
// sequence numbers share that head for a thousand frames at a time, and
// each of those frames then costs one comparison and SeqTail instead of a
// scan. head must be below 10¹⁶ (at most 16 digits of a 19-digit number),
// so the result cannot overflow and is exactly the number the whole digit
// run spells.
func SeqTail(head uint64, b []byte) (seq uint64, n int) {
	if len(b) < 4 || b[3] != '}' {
		return 0, 0
	}
	d0, d1, d2 := uint64(b[0])-'0', uint64(b[1])-'0', uint64(b[2])-'0'
	if d0 > 9 || d1 > 9 || d2 > 9 {
		return 0, 0
	}
	return head*1000 + d0*100 + d1*10 + d2, 4
}
