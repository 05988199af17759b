package filestore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"sort"

	"github.com/fastpub/fastpub/store"
)

// The on-disk format; DESIGN.md ("The file store") has the tables.
const (
	// Version is the format version this package writes and reads.
	Version = 1

	metaMagic    = 0x54535046 // "FPST"
	segMagic     = 0x47535046 // "FPSG"
	stateMagic   = 0x32545346 // "FST2": a slot with acked (stateUsed bytes)
	stateMagicV1 = 0x41545346 // "FSTA": an older slot without it (stateUsedV1 bytes), read only
	lostMagic    = 0x534C5046 // "FPLS"
	maxLost      = 1<<31 - 1  // ranges a lost file holds at most (more are joined: see encodeLost)
	recMagic     = 0xB1C7E5A3 // bytes A3 E5 C7 B1: rare in text, never zero
	byteOrder    = 0x01020304 // written little-endian: 04 03 02 01

	recHdr      = 20   // magic u32, crc u32, seq u64, len u32
	segHdr      = 4096 // a segment file's header; the data follows
	segHdrUsed  = 28
	metaFixed   = 28 // the meta file's fixed part before the name
	maxName     = 1024
	stateSlot   = 512 // slot i is at i*stateSlot
	stateUsed   = 40
	stateUsedV1 = 32
	stateSize   = 2 * stateSlot

	// maxRecord bounds a record's len field at recovery (a frame of the
	// largest message fastpub allows, 1 GiB, and its prefix).
	maxRecord = 1<<30 + 4096

	metaName  = "meta"
	stateName = "state"
	lostName  = "lost"
	lockName  = "lock"
	segPrefix = "seg-"
)

var (
	le        = binary.LittleEndian
	castagoli = crc32.MakeTable(crc32.Castagnoli)
	recMagicB = [4]byte{0xA3, 0xE5, 0xC7, 0xB1}
)

func segFile(idx uint64) string { return fmt.Sprintf("%s%016x", segPrefix, idx) }

func parseSegFile(name string) (uint64, bool) {
	if len(name) != len(segPrefix)+16 || name[:len(segPrefix)] != segPrefix {
		return 0, false
	}
	var v uint64
	for _, c := range name[len(segPrefix):] {
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

// recCRC is the CRC32C of a record: over its logical offset, seq and len
// (as the 20 bytes off u64 ‖ seq u64 ‖ len u32), then the frame bytes the
// caller adds. The offset is not stored: it binds the record to its place.
func recCRC(off, seq uint64, n uint32) uint32 {
	// Slicing-by-8 from the integers: a stack array handed to
	// crc32.Update would escape (it dispatches through a function value),
	// and Append must not allocate.
	t := &slicing
	crc := ^uint32(0) ^ uint32(off)
	hi := uint32(off >> 32)
	crc = t[7][byte(crc)] ^ t[6][byte(crc>>8)] ^ t[5][byte(crc>>16)] ^ t[4][crc>>24] ^
		t[3][byte(hi)] ^ t[2][byte(hi>>8)] ^ t[1][byte(hi>>16)] ^ t[0][hi>>24]
	crc ^= uint32(seq)
	hi = uint32(seq >> 32)
	crc = t[7][byte(crc)] ^ t[6][byte(crc>>8)] ^ t[5][byte(crc>>16)] ^ t[4][crc>>24] ^
		t[3][byte(hi)] ^ t[2][byte(hi>>8)] ^ t[1][byte(hi>>16)] ^ t[0][hi>>24]
	crc ^= n
	crc = t[3][byte(crc)] ^ t[2][byte(crc>>8)] ^ t[1][byte(crc>>16)] ^ t[0][crc>>24]
	return ^crc
}

// slicing holds the CRC32C tables of slicing-by-8: slicing[0] is the
// byte-at-a-time table, slicing[k][b] the CRC of b followed by k zero bytes.
var slicing = func() (t [8][256]uint32) {
	t[0] = *castagoli
	for k := 1; k < 8; k++ {
		for i := range 256 {
			v := t[k-1][i]
			t[k][i] = v>>8 ^ t[0][byte(v)]
		}
	}
	return t
}()

// encodeMeta returns the meta file's bytes.
func encodeMeta(name string, segBytes uint64) []byte {
	b := make([]byte, metaFixed+len(name)+4)
	le.PutUint32(b[0:], metaMagic)
	le.PutUint32(b[4:], Version)
	le.PutUint32(b[8:], byteOrder)
	le.PutUint32(b[12:], segHdr)
	le.PutUint64(b[16:], segBytes)
	le.PutUint32(b[24:], uint32(len(name)))
	copy(b[metaFixed:], name)
	le.PutUint32(b[metaFixed+len(name):], crc32.Checksum(b[:metaFixed+len(name)], castagoli))
	return b
}

// decodeMeta parses a meta file: the error is errFormat, errVersion (with
// the version found) or nil.
func decodeMeta(b []byte) (name string, segBytes uint64, version uint32, err error) {
	if len(b) < metaFixed+4 || le.Uint32(b[0:]) != metaMagic {
		return "", 0, 0, errFormat("no meta magic")
	}
	if v := le.Uint32(b[4:]); v != Version {
		return "", 0, v, errVersion
	}
	if le.Uint32(b[8:]) != byteOrder {
		return "", 0, 0, errFormat("byte order mark")
	}
	n := le.Uint32(b[24:])
	if n > maxName || int(n)+metaFixed+4 != len(b) {
		return "", 0, 0, errFormat("name length")
	}
	if crc32.Checksum(b[:metaFixed+n], castagoli) != le.Uint32(b[metaFixed+n:]) {
		return "", 0, 0, errFormat("meta checksum")
	}
	if le.Uint32(b[12:]) != segHdr {
		return "", 0, 0, errFormat("segment header size")
	}
	segBytes = le.Uint64(b[16:])
	if segBytes < minSegment || segBytes > maxSegment || segBytes&(segBytes-1) != 0 {
		return "", 0, 0, errFormat("segment size")
	}
	return string(b[metaFixed : metaFixed+n]), segBytes, Version, nil
}

type formatErr string

func (e formatErr) Error() string { return string(e) }

func errFormat(s string) error { return formatErr(s) }

var errVersion = formatErr("version")

func encodeSegHdr(b []byte, idx, segBytes uint64) {
	le.PutUint32(b[0:], segMagic)
	le.PutUint32(b[4:], Version)
	le.PutUint64(b[8:], idx)
	le.PutUint64(b[16:], segBytes)
	le.PutUint32(b[24:], crc32.Checksum(b[:24], castagoli))
}

func segHdrOK(b []byte, idx, segBytes uint64) bool {
	return len(b) >= segHdrUsed && le.Uint32(b[0:]) == segMagic && le.Uint32(b[4:]) == Version &&
		le.Uint64(b[8:]) == idx && le.Uint64(b[16:]) == segBytes &&
		crc32.Checksum(b[:24], castagoli) == le.Uint32(b[24:])
}

// encodeLost encodes the lost file: the ranges of sequence numbers an Open
// found damaged and that no Begin has followed yet (magic u32, count u32,
// count × (from u64, to u64), CRC32C u32 of everything before it).
func encodeLost(r []store.Range) []byte {
	if len(r) > maxLost {
		// Not reachable with stores of today's limits (a range takes a
		// damaged record of at least 20 bytes, and a good one after it);
		// kept so that what is written always decodes. The last ranges
		// become one: it may name recovered numbers lost too.
		r = append(r[:maxLost-1:maxLost-1], store.Range{From: r[maxLost-1].From, To: r[len(r)-1].To})
	}
	b := make([]byte, 8, 12+16*len(r))
	le.PutUint32(b[0:], lostMagic)
	le.PutUint32(b[4:], uint32(len(r)))
	for _, x := range r {
		b = le.AppendUint64(b, x.From)
		b = le.AppendUint64(b, x.To)
	}
	return le.AppendUint32(b, crc32.Checksum(b, castagoli))
}

// decodeLost decodes a lost file: ranges in order, not overlapping, each
// From ≤ To.
func decodeLost(b []byte) ([]store.Range, error) {
	if len(b) < 12 || le.Uint32(b[0:]) != lostMagic {
		return nil, errFormat("not a lost file")
	}
	n := uint64(le.Uint32(b[4:]))
	if n > maxLost {
		return nil, errFormat("lost file with " + itoa(n) + " ranges, more than " + itoa(maxLost))
	}
	if uint64(len(b)) != 12+16*n {
		return nil, errFormat("lost file of " + itoa(uint64(len(b))) + " bytes for " + itoa(n) + " ranges")
	}
	if crc32.Checksum(b[:len(b)-4], castagoli) != le.Uint32(b[len(b)-4:]) {
		return nil, errFormat("lost file CRC mismatch")
	}
	r := make([]store.Range, n)
	for i := range r {
		r[i] = store.Range{From: le.Uint64(b[8+16*i:]), To: le.Uint64(b[16+16*i:])}
		if r[i].From > r[i].To || i > 0 && r[i].From <= r[i-1].To {
			return nil, errFormat("lost file ranges out of order")
		}
	}
	return r, nil
}

// mergeRanges returns the union of two ordered lists of ranges, ordered,
// adjacent and overlapping ranges joined.
func mergeRanges(a, b []store.Range) []store.Range {
	all := append(append([]store.Range(nil), a...), b...)
	sort.Slice(all, func(i, j int) bool { return all[i].From < all[j].From })
	var out []store.Range
	for _, x := range all {
		if n := len(out); n > 0 && (out[n-1].To == math.MaxUint64 || x.From <= out[n-1].To+1) {
			out[n-1].To = max(out[n-1].To, x.To)
			continue
		}
		out = append(out, x)
	}
	return out
}

// persistState is one slot of the state file.
type persistState struct {
	gen       uint64 // slot generation: the valid slot with the highest wins
	persisted uint64 // the highest seq the client let the store free (Persisted's seq)
	last      uint64 // the highest seq the store knows was used
	acked     uint64 // the highest seq the server said it holds (Persisted's acked)
}

func encodeState(b []byte, s persistState) {
	le.PutUint32(b[0:], stateMagic)
	le.PutUint64(b[4:], s.gen)
	le.PutUint64(b[12:], s.persisted)
	le.PutUint64(b[20:], s.last)
	le.PutUint64(b[28:], s.acked)
	le.PutUint32(b[36:], crc32.Checksum(b[:36], castagoli))
}

// decodeState decodes a slot. A slot of the first layout (magic "FSTA", no
// acked) reads with acked = 0, unknown: its persisted value counted the
// control frames the client freed (the flush at every Close), so taken for
// acked it made the first logon after an upgrade a false publish gap (found
// by a review). The first restart of an upgraded store has no gap check.
func decodeState(b []byte) (persistState, bool) {
	if len(b) < stateUsedV1 {
		return persistState{}, false
	}
	s := persistState{gen: le.Uint64(b[4:]), persisted: le.Uint64(b[12:]), last: le.Uint64(b[20:])}
	switch le.Uint32(b[0:]) {
	case stateMagicV1:
		if crc32.Checksum(b[:28], castagoli) != le.Uint32(b[28:]) {
			return persistState{}, false
		}
	case stateMagic:
		if len(b) < stateUsed || crc32.Checksum(b[:36], castagoli) != le.Uint32(b[36:]) {
			return persistState{}, false
		}
		s.acked = le.Uint64(b[28:])
	default:
		return persistState{}, false
	}
	return s, true
}

// bestState picks the valid slot with the highest generation of a state
// file's bytes.
func bestState(b []byte) (persistState, bool) {
	var best persistState
	found := false
	for i := 0; i < 2 && len(b) >= i*stateSlot+stateUsedV1; i++ {
		if s, ok := decodeState(b[i*stateSlot:]); ok && (!found || s.gen > best.gen) {
			best, found = s, true
		}
	}
	return best, found
}
